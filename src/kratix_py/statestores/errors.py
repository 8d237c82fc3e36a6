"""Typed state-store errors.

Each class names one cause a person can act on; ``cause`` is a short CamelCase token for
condition reasons and metrics. Messages never contain credentials: writers scrub them before
raising, so a message may be copied into a status condition or an Event as it is.
"""

from __future__ import annotations

from typing import ClassVar

from kratix_py.contract import UnsafePathError

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "HostKeyVerificationError",
    "NotFoundError",
    "PermissionDeniedError",
    "StateStoreError",
    "TLSVerificationError",
    "UnreachableError",
    "UnsafePathError",
    "WriteConflictError",
]


class StateStoreError(Exception):
    """A state store could not be read, written or validated."""

    cause: ClassVar[str] = "StateStoreError"


class ConfigurationError(StateStoreError):
    """The store's spec or Secret is unusable (bad URL, missing key, unsupported auth method)."""

    cause = "InvalidConfiguration"


class AuthenticationError(StateStoreError):
    """The remote rejected the credentials (or none were accepted)."""

    cause = "AuthenticationFailed"


class PermissionDeniedError(StateStoreError):
    """The credentials are valid but may not write to this repository, branch or bucket."""

    cause = "PermissionDenied"


class NotFoundError(StateStoreError):
    """The repository or bucket does not exist (or is invisible to these credentials)."""

    cause = "NotFound"


class UnreachableError(StateStoreError):
    """The endpoint could not be reached: DNS, refused connection, timeout."""

    cause = "Unreachable"


class TLSVerificationError(StateStoreError):
    """The server's TLS certificate is not trusted."""

    cause = "TLSVerificationFailed"


class HostKeyVerificationError(StateStoreError):
    """The SSH server's host key is not in ``knownHosts`` (or does not match it)."""

    cause = "HostKeyVerificationFailed"


class WriteConflictError(StateStoreError):
    """Others kept moving the branch; the write was retried and still could not be pushed."""

    cause = "WriteConflict"
