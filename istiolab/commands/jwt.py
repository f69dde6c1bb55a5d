"""`istiolab jwt issue|jwks`: tokens for RequestAuthentication labs, signed with the state
directory's key (see :mod:`istiolab.local.tokens`)."""

from __future__ import annotations

import json

import click

from istiolab.commands.common import open_state, state_dir_option
from istiolab.errors import ParameterError
from istiolab.local import tokens


@click.group("jwt")
def jwt() -> None:
    """Issue JWTs and print the JWK set that verifies them."""


def _claims(pairs: tuple[str, ...], groups: str | None) -> dict:
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParameterError("--claim", pair, "KEY=VALUE (e.g. --claim role=admin)")
        try:
            out[key] = json.loads(value)  # numbers, booleans, lists; else the text itself
        except ValueError:
            out[key] = value
    if groups is not None:
        out["groups"] = [g for g in groups.split(",") if g]
    return out


@jwt.command("issue")
@click.option("--sub", "subject", default=tokens.DEFAULT_SUBJECT, show_default=True)
@click.option("--iss", "issuer", default=tokens.DEFAULT_ISSUER, show_default=True)
@click.option(
    "--exp",
    "expires_in",
    type=int,
    default=3600,
    show_default=True,
    help="Seconds until it expires (negative: already expired).",
)
@click.option("--claim", "claims", multiple=True, help="Extra claim KEY=VALUE (repeatable).")
@click.option("--groups", default=None, help="Comma-separated `groups` claim (a list).")
@state_dir_option
def issue(
    subject: str,
    issuer: str,
    expires_in: int,
    claims: tuple[str, ...],
    groups: str | None,
    state_dir: str | None,
) -> None:
    """Print an RS256 token signed with the state directory's key."""
    extra = _claims(claims, groups)
    key = tokens.load_key(open_state(state_dir).root)
    click.echo(
        tokens.issue(key, subject=subject, issuer=issuer, expires_in=expires_in, claims=extra)
    )


@jwt.command("jwks")
@state_dir_option
def jwks(state_dir: str | None) -> None:
    """Print the JWK set for a RequestAuthentication's `jwks` field."""
    key = tokens.load_key(open_state(state_dir).root)
    click.echo(json.dumps(tokens.jwks(key), separators=(",", ":")))
