"""State-store writers: where WorkPlacements' files land (Git repositories and S3 buckets).

One protocol (:class:`StateStoreWriter`), two implementations. Import the implementations from
their modules (``statestores.git``, ``statestores.bucket``) so that using one does not load the
other's client library.
"""

from kratix_py.contract import join_under, normalise_prefix, safe_relpath

from .base import Change, DirChange, FileChange, StateStoreWriter, WriteResult
from .errors import (
    AuthenticationError,
    ConfigurationError,
    HostKeyVerificationError,
    NotFoundError,
    PermissionDeniedError,
    StateStoreError,
    TLSVerificationError,
    UnreachableError,
    UnsafePathError,
    WriteConflictError,
)

__all__ = [
    "AuthenticationError",
    "Change",
    "ConfigurationError",
    "DirChange",
    "FileChange",
    "HostKeyVerificationError",
    "NotFoundError",
    "PermissionDeniedError",
    "StateStoreError",
    "StateStoreWriter",
    "TLSVerificationError",
    "UnreachableError",
    "UnsafePathError",
    "WriteConflictError",
    "WriteResult",
    "join_under",
    "normalise_prefix",
    "safe_relpath",
]
