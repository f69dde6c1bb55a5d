"""Errors as the Kubernetes API answers them: a ``Status`` object kubectl prints verbatim.

``kubectl`` shows ``Error from server (<reason>): <message>``; the messages follow the API
server's wording (``virtualservices.networking.istio.io "x" not found``, strict decoding
errors naming the field) with the project validator's hint appended.
"""

from __future__ import annotations

from typing import Any

from istiolab.errors import IstiolabError, NotFoundError, ValidationError
from istiolab.manifests.kinds import KindInfo


class ApiError(Exception):
    """An error reply: HTTP code, Kubernetes reason, message, optional details."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(
    code: int, reason: str, message: str, details: dict | None = None, success: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if success else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = details
    return out


def _resource(info: KindInfo) -> str:
    return f"{info.plural}.{info.group}" if info.group else info.plural


def not_found(info: KindInfo, name: str) -> ApiError:
    details = {"name": name, "group": info.group, "kind": info.plural}
    return ApiError(404, "NotFound", f'{_resource(info)} "{name}" not found', details)


def already_exists(info: KindInfo, name: str) -> ApiError:
    details = {"name": name, "group": info.group, "kind": info.plural}
    return ApiError(409, "AlreadyExists", f'{_resource(info)} "{name}" already exists', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(info: KindInfo, verb: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on {_resource(info)}: the local mesh derives them "
        "(create or change a Deployment instead; `kubectl delete pod` replaces a Deployment's "
        "pod)",
    )


def from_project_error(exc: IstiolabError, info: KindInfo, name: str) -> ApiError:
    """The store's refusal as the API server words it.

    Unknown fields are kubectl's strict decoding error (``unknown field "spec.x"``); other
    schema problems are ``Invalid`` with the field path; the hint follows in parentheses."""
    if isinstance(exc, NotFoundError):
        return ApiError(404, "NotFound", str(exc))
    if isinstance(exc, ValidationError) and exc.findings:
        unknown = [f for f in exc.findings if f.message.startswith("unknown field")]
        if unknown:
            parts = [
                f'unknown field "{f.path}"' + (f" ({f.hint})" if f.hint else "") for f in unknown
            ]
            message = (
                f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                f"strict decoding error: {', '.join(parts)}"
            )
            return ApiError(400, "BadRequest", message)
        causes = [
            {"field": f.path, "message": f.message + (f" ({f.hint})" if f.hint else "")}
            for f in exc.findings
        ]
        text = ", ".join(f"{c['field']}: Invalid value: {c['message']}" for c in causes)
        details = {"name": name, "group": info.group, "kind": info.kind, "causes": causes}
        message = f'{info.kind}.{info.group or "core"} "{name}" is invalid: {text}'
        return ApiError(422, "Invalid", message, details)
    return ApiError(422, "Invalid", f'{info.kind} "{name}" is invalid: {exc}')
