"""API errors and the `Status` bodies a real API server answers with.

Every client-visible failure goes through :class:`ApiError`, so a client (kopf, the `kubernetes`
package, kubectl) always receives a well-formed ``kind: Status`` with the reason and code it would
get from a real cluster, never a bare 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The `reason` a real API server uses for each HTTP status code, used when a fault is injected
#: with just a code, and for errors without a more specific reason.
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True)
class Cause:
    """One entry of ``Status.details.causes``: which field is wrong, and why."""

    reason: str  # e.g. FieldValueRequired, FieldValueNotSupported
    message: str  # without the field path, e.g. 'Required value'
    field: str  # e.g. 'spec.size'

    def text(self) -> str:
        """The cause as a real API server prints it inside the Status message."""
        return f"{self.field}: {self.message}" if self.field else self.message

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    """A failure answered to the client as a ``Status`` body with ``code`` as the HTTP status."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # e.g. an etcd failure: a real server sends no reason at all
            del body["reason"]
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details.update(extra)
    return details


def qualified(plural: str, group: str) -> str:
    """`configmaps` for the core group, `jobs.batch` elsewhere, as in real error messages."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(name, group, plural)
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        _details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}',
        _details(name, group, plural),
    )


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid, with the message format of apimachinery's ``NewInvalid``."""
    summary = causes[0].text() if len(causes) == 1 else "[" + ", ".join(c.text() for c in causes) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind}{"." + group if group else ""} "{name}" is invalid: {summary}',
        _details(name, group, kind, causes=[c.as_dict() for c in causes]),
    )


MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
"""kube-apiserver's limit on a write's body (``--max-request-bytes`` is etcd's, this is its own)."""


def request_too_large() -> ApiError:
    return ApiError(
        413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}"
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{qualified(plural, group)} "{name}" is forbidden: {why}',
        _details(name, group, plural),
    )


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
    )


def expired(requested: int, oldest: int) -> ApiError:
    """410 for a watch or list continuation from a resourceVersion the event log no longer has."""
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def expired_continue() -> ApiError:
    """410 for a list continuation whose snapshot is older than the history kept (API server text)."""
    return ApiError(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can "
        "start a new list without the continue parameter.",
    )


def unprocessable(message: str) -> ApiError:
    """422 for a patch that cannot be applied (a failed JSON-patch ``test``, a missing path)."""
    return ApiError(422, "Invalid", message)


def resource_not_served() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def from_code(code: int, message: str = "") -> ApiError:
    """An error with just a status code, as fault injection produces."""
    reason = REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
    return ApiError(code, reason, message or f"injected fault: {reason}")
