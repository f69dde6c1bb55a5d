"""The project's errors: one shallow hierarchy, caught once at the top of the CLI.

Every error carries a message that already names the file, document, field and value
where it applies, plus the allowed values or the fix; the CLI prints it on one line.
"""

from __future__ import annotations

from dataclasses import dataclass


class IstiolabError(Exception):
    """Base of every error istiolab raises on purpose. Exit code 1 (a user error)."""

    exit_code = 1


class ParameterError(IstiolabError, ValueError):
    """A builder, preset or config parameter has a value outside what is allowed."""

    def __init__(self, parameter: str, value: object, allowed: str) -> None:
        self.parameter, self.value, self.allowed = parameter, value, allowed
        super().__init__(f"{parameter}={value!r} is not allowed: {allowed}")


@dataclass(frozen=True)
class Finding:
    """One problem in one document: where it is, what is wrong, and how to fix it."""

    source: str  # file path, '<stdin>' or '<builder name>'
    index: int  # document index in the source, 0-based
    kind: str
    name: str
    path: str  # dotted field path, e.g. spec.trafficPolicy.connectionPool.http
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: document {self.index} ({self.kind}/{self.name})"
        field = f" {self.path}:" if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}:{field} {self.message}{hint}"


class ValidationError(IstiolabError):
    """One or more objects failed schema validation; nothing was applied."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = list(findings)
        first = str(self.findings[0]) if self.findings else "invalid object"
        more = f" (+{len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
        super().__init__(first + more)


class ConfigError(IstiolabError):
    """A stack config, lab, scenario or settings file is wrong (names the file and key)."""


class MeshError(IstiolabError):
    """The local mesh cannot do what was asked (not running, port in use, Envoy missing...)."""


class NotFoundError(IstiolabError):
    """A named object, workload, lab or scenario does not exist."""


class CheckFailed(IstiolabError):
    """A lab check or load-test expectation did not hold."""
