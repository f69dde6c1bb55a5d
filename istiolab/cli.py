"""The `istiolab` command: a thin edge over the library.

Commands live in `istiolab.commands.<module>` and are imported lazily, so `istiolab --help`
stays fast. Project errors are caught here and printed as one line (exit 1); usage errors
exit 2 (click's convention); a traceback is shown only with --debug.
"""

from __future__ import annotations

import importlib
import sys

import click

from istiolab.errors import IstiolabError, ValidationError

# command name -> "module:attribute" under istiolab.commands
COMMANDS: dict[str, str] = {
    "render": "manifests:render",
    "validate": "manifests:validate",
    "analyze": "analyze:analyze",
    "graph": "telemetry:graph",
    "traces": "telemetry:traces",
    "dashboard": "telemetry:dashboard",
    "up": "lifecycle:up",
    "down": "lifecycle:down",
    "status": "lifecycle:status",
    "gateway-url": "lifecycle:gateway_url",
    "apply": "config:apply",
    "delete": "config:delete",
    "get": "config:get",
    "request": "request:request",
    "proxy-status": "proxy:proxy_status",
    "proxy-config": "proxy:proxy_config",
    "proxy-stats": "proxy:proxy_stats",
    "jwt": "jwt:jwt",
    "console": "console:console",
    "lab": "lab:lab",
    "load": "load:load",
    "kubeconfig": "kubeconfig:kubeconfig",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(f"istiolab.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"istiolab.commands.{module_name}":
                return None  # not built yet in this checkout
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="istiolab")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """istiolab: Istio labs on a real cluster (Pulumi) or on a local mesh of real Envoys."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the CLI, turning project errors into one line and exit 1."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # standalone_mode=False: click returns ctx.exit(n)'s code instead of raising it
        code = cli.main(args=args, prog_name="istiolab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except IstiolabError as exc:
        if debug:
            raise
        # a plain ValidationError (apply): every finding on its own line
        findings = exc.findings if type(exc) is ValidationError else None
        for line in [str(f) for f in findings] if findings else [str(exc)]:
            click.secho(f"error: {line}", fg="red", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


if __name__ == "__main__":
    sys.exit(main())
