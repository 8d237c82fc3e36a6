"""The GitStateStore writer: batches of directory replacements become one commit and one push.

How a batch is written (and why it differs from Kratix's checkout-based writer):

1. ``fetch --depth=1`` the branch into a *bare* clone kept in a cache directory (one per store
   URL + branch, reused across writes).
2. List what the fetched tree holds under the directories the batch touches (``ls-tree``),
   plan the per-path operations (:mod:`.plan`) and drop those that change nothing (same blob
   id, deletion of an absent path). Nothing left: no commit (no empty commits).
3. Else one ``git fast-import`` writes the new blobs, the trees and one commit for the whole
   batch into a single pack, on top of the fetched tip; push that commit.
4. If the push is rejected because someone else moved the branch, start again from 1: the
   batch is a *desired state*, so re-applying it on the new tip is a correct rebase. Retries
   back off with full jitter (capped) for up to ``retry_horizon`` seconds (30 s by default: a
   busy remote is normal, not a failure), then :class:`~.errors.WriteConflictError`.

There is no working tree and no index, so no ``reset --hard``/``clean`` is needed between
batches and no file is ever written to disk from a batch: a path that slipped past
:mod:`.paths` still could not escape the repository, and symlinks committed by others cannot
redirect a write.

GitPython manages the cached repository (init, config, reading refs in-process); git itself
runs as a subprocess with an environment built by :mod:`.gitauth`.

Readiness (:meth:`GitStateStoreWriter.check_ready`) asks the remote, not the clone (Kratix
#850): a fetch proves read access, a ``push --dry-run`` to the branch proves write access.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import git

from kratix_py.contract import is_within, normalise_prefix

from .base import Change, WriteResult
from .errors import (
    AuthenticationError,
    ConfigurationError,
    StateStoreError,
    UnreachableError,
    WriteConflictError,
)
from .gitauth import (
    GitAccess,
    TransportWarning,
    ca_bundle_from_secret,
    classify_git_failure,
    credentials_from_secret,
    parse_remote_url,
    transport_warnings,
)
from .plan import commit_message, plan_ops, touched_roots

__all__ = ["GitStateStoreWriter"]

_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# fast-import builds each batch's commit on this private ref; pushes name the commit by id.
_BATCH_REF = "refs/kratix/batch"
_REJECTED_MARKERS = (
    "[rejected]",
    "cannot lock ref",
    "failed to update ref",
    "incorrect old value",
    "stale info",
)

# Writers for the same clone (same URL, branch and cache dir) share one lock.
_CLONE_LOCKS: dict[Path, threading.Lock] = {}
_CLONE_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _CLONE_LOCKS_GUARD:
        return _CLONE_LOCKS.setdefault(path, threading.Lock())


class GitStateStoreWriter:
    """Writes batches to one branch of one Git repository, under an optional path prefix."""

    def __init__(
        self,
        url: str,
        *,
        branch: str = "main",
        path: str = "",
        auth_method: str = "basicAuth",
        secret: Mapping[str, str | bytes] | None = None,
        author_name: str = "kratix",
        author_email: str = "",
        insecure_skip_tls_verify: bool = False,
        ca_bundle: str | bytes | None = None,
        cache_dir: str | Path | None = None,
        temp_root: str | Path | None = None,
        max_push_attempts: int | None = None,
        retry_backoff: float = 0.05,
        retry_horizon: float = 30.0,
        max_retry_delay: float = 2.0,
        timeout: float = 60.0,
    ) -> None:
        if not branch or branch.startswith("-") or any(c in branch for c in " ~^:?*[\\"):
            raise ConfigurationError(f"invalid branch name {branch!r}")
        self.remote = parse_remote_url(url)
        self.branch = branch
        self.prefix = normalise_prefix(path, what="state store path")
        self.author_name = author_name or "kratix"
        self.author_email = author_email
        self.max_push_attempts = None if max_push_attempts is None else max(1, max_push_attempts)
        self.retry_backoff = retry_backoff
        self.retry_horizon = retry_horizon
        self.max_retry_delay = max_retry_delay
        self.timeout = timeout
        credentials = credentials_from_secret(auth_method, secret, self.remote)
        if ca_bundle is None:
            ca_bundle = ca_bundle_from_secret(secret)
        self.warnings: tuple[TransportWarning, ...] = tuple(
            transport_warnings(self.remote, credentials, insecure_skip_tls_verify=insecure_skip_tls_verify)
        )
        """What a person should fix about how this store is reached, for the store's status (the
        basic-auth credentials going over plain http://, TLS verification switched off)."""
        self._access = GitAccess(
            self.remote,
            credentials,
            insecure_skip_tls_verify=insecure_skip_tls_verify,
            ca_bundle=ca_bundle,
            timeout=timeout,
            temp_root=temp_root,
        )
        cache = (
            Path(tempfile.mkdtemp(prefix="kratix-git-cache-", dir=temp_root))
            if cache_dir is None
            else Path(cache_dir)
        )
        # A private cache goes with the writer (on close() or when collected); a given one stays.
        self._remove_own_cache = weakref.finalize(self, shutil.rmtree, cache, ignore_errors=True)
        if cache_dir is not None:
            self._remove_own_cache.detach()
        key = hashlib.sha256(f"{self.remote.url}\0{branch}".encode()).hexdigest()[:20]
        self.clone_dir = cache / key
        self._lock = _lock_for(self.clone_dir.resolve())
        self._repo: git.Repo | None = None
        self._remote_ref = f"refs/remotes/origin/{branch}"
        self._access.authenticate()  # a GitHub App's first token, so bad credentials fail here

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Any], secret: Mapping[str, str | bytes] | None = None, **options: Any
    ) -> GitStateStoreWriter:
        """Build from a GitStateStore ``spec`` (camelCase keys, Kratix defaults, plus kratix-py's
        ``insecureSkipTLSVerify``); ``options`` are passed to the constructor."""
        author = spec.get("gitAuthor") or {}
        options.setdefault("insecure_skip_tls_verify", bool(spec.get("insecureSkipTLSVerify", False)))
        return cls(
            spec["url"],
            branch=spec.get("branch") or "main",
            path=spec.get("path") or "",
            auth_method=spec.get("authMethod") or "basicAuth",
            secret=secret,
            author_name=author.get("name") or "kratix",
            author_email=author.get("email") or "",
            **options,
        )

    # ------------------------------------------------------------------ public API
    def write(
        self, changes: Sequence[Change], *, before_push: Callable[[], None] | None = None
    ) -> WriteResult:
        """Apply the batch as one commit (none if nothing changes) and push it.

        ``before_push`` is called right before each push and may raise to stop it (a replica
        that lost its Lease must not push a batch it prepared under the old term).
        """
        touched_roots(changes, self.prefix)  # validates every path before any I/O
        plan_ops(changes, self.prefix, ())  # and the contents' types
        with self._lock, self._access.session(), self._noting_rejected_credentials():
            try:
                return self._write_locked(changes, before_push)
            except StateStoreError as exc:
                if type(exc) is not StateStoreError:
                    raise  # a named cause (credentials, TLS, conflict...): a new clone won't help
                # An unexplained failure may be a damaged cache: start from a fresh clone once.
                self._discard_clone()
                return self._write_locked(changes, before_push)

    def _write_locked(
        self, changes: Sequence[Change], before_push: Callable[[], None] | None = None
    ) -> WriteResult:
        self._open()
        deadline = time.monotonic() + self.retry_horizon
        attempt = 0
        while True:
            attempt += 1
            parent = self._fetch()
            commit = self._commit(changes, parent)
            if commit is None:
                return WriteResult(version_id=parent or "", changed=False)
            if before_push is not None:
                before_push()
            if self._push(commit):
                return WriteResult(version_id=commit, changed=True)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.max_push_attempts is not None and attempt >= self.max_push_attempts):
                break
            # Someone else pushed in between: wait a random share of a growing, capped delay
            # (full jitter, so writers that collided once spread out) and re-apply the batch on
            # their tip. Never sleep past the horizon.
            ceiling = min(self.max_retry_delay, self.retry_backoff * (2 ** (attempt - 1)))
            time.sleep(min(random.uniform(0, ceiling), remaining))
        raise WriteConflictError(
            f"could not push to branch {self.branch!r} of {self.remote.url}: the branch moved"
            f" on each of {attempt} attempts over {self.retry_horizon:g}s; will retry later"
        )

    def check_ready(self) -> None:
        """Fetch the branch and dry-run a push to it with the configured credentials."""
        with self._lock, self._access.session(), self._noting_rejected_credentials():
            self._open()
            parent = self._fetch()
            # An absent branch is fine (the first write creates it); dry-run pushing a commit
            # with an empty tree still makes the remote check our write permission.
            commit = parent or self._git(
                "commit-tree", _EMPTY_TREE, "-m", "kratix permission check", ident=True
            )
            self._git(
                "push",
                "--dry-run",
                "--porcelain",
                "origin",
                f"{commit}:refs/heads/{self.branch}",
                network=f"cannot push to branch {self.branch!r}",
            )

    @contextlib.contextmanager
    def _noting_rejected_credentials(self) -> Iterator[None]:
        """A refused GitHub App token is dropped, so the next try fetches a new one."""
        try:
            yield
        except AuthenticationError:
            self._access.credentials_rejected()
            raise

    def close(self) -> None:
        """Stop GitPython's helper processes and delete credential files (and an own cache)."""
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None
            self._access.close()
            self._remove_own_cache()  # no-op for a cache_dir given by the caller

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ steps
    def _open(self) -> None:
        """Open the cached bare clone, (re)creating it if missing, broken or for another URL."""
        if self._repo is not None:
            return
        if self.clone_dir.exists():
            try:
                repo = git.Repo(self.clone_dir)
                with repo.config_reader() as config:
                    url = config.get_value('remote "origin"', "url", "")
                if url == self.remote.url:
                    self._repo = repo
                    return
                repo.close()
            except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, OSError):
                pass
            shutil.rmtree(self.clone_dir, ignore_errors=True)
        self.clone_dir.parent.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(self.clone_dir, bare=True, mkdir=True)
        with repo.config_writer() as config:
            config.set_value('remote "origin"', "url", self.remote.url)
            config.set_value('remote "origin"', "fetch", f"+refs/heads/{self.branch}:{self._remote_ref}")
            # Batches add packs or loose objects; git's automatic maintenance (run by fetch)
            # consolidates them, in the foreground, so no stray process outlives a write.
            config.set_value("gc", "autoDetach", "false")
            config.set_value("maintenance", "autoDetach", "false")
            # A cache that can be re-fetched at any time: skip git's fsyncs of packs and refs
            # (tens of ms per batch on slow disks). If a crash damages it, write() starts
            # over from a fresh clone.
            config.set_value("core", "fsync", "none")
        self._repo = repo

    def _discard_clone(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None
        shutil.rmtree(self.clone_dir, ignore_errors=True)

    def _fetch(self) -> str | None:
        """Fetch the branch tip; ``None`` if the branch does not exist on the remote yet."""
        proc = self._run(
            "fetch", "--depth=1", "--force", "--prune", "--no-tags", "--quiet", "origin",
            f"+refs/heads/{self.branch}:{self._remote_ref}",
        )  # fmt: skip
        if proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace")
            if "couldn't find remote ref" in stderr.lower():
                self._run("update-ref", "-d", self._remote_ref)
                return None
            raise self._error(f"cannot fetch branch {self.branch!r}", stderr)
        assert self._repo is not None
        # Read in-process (loose or packed ref) rather than spawning `git rev-parse`.
        return git.SymbolicReference.dereference_recursive(self._repo, self._remote_ref)

    def _commit(self, changes: Sequence[Change], parent: str | None) -> str | None:
        """Build the batch's commit on ``parent``; ``None`` when nothing would change."""
        roots = touched_roots(changes, self.prefix)
        existing = self._list_tree(parent, roots)
        ops = plan_ops(changes, self.prefix, existing.keys())
        commands: list[bytes] = []
        effective_labels: set[str] = set()
        for op in ops:
            if op.content is None:
                if op.path in existing:
                    commands.append(b"D %s\n" % _fast_import_path(op.path))
                    effective_labels.add(op.label)
            elif existing.get(op.path) != _blob_sha(op.content):
                commands.append(
                    b"M 100644 inline %s\ndata %d\n%s\n"
                    % (_fast_import_path(op.path), len(op.content), op.content)
                )
                effective_labels.add(op.label)
        # Every command differs from the fetched tree (new content, or removal of a present
        # path): none means no change, and any means a different tree.
        if not commands:
            return None
        message = commit_message(changes, effective_labels).encode()
        ident = b"%s <%s> %d +0000" % (
            _ident_part(self.author_name),
            _ident_part(self.author_email),
            int(time.time()),
        )
        header = [
            b"reset " + _BATCH_REF.encode(),
            b"commit " + _BATCH_REF.encode(),
            b"author " + ident,
            b"committer " + ident,
            b"data %d" % len(message),
            message,
        ]
        if parent:
            header.append(b"from " + parent.encode())
        stream = b"\n".join(header) + b"\n" + b"".join(commands) + b"\ndone\n"
        # One process writes blobs, trees and the commit into a single pack: no object files
        # per path (each costs ~0.5 ms on slow disks), no index, no working tree.
        self._git("fast-import", "--quiet", "--done", "--force", stdin=stream)
        assert self._repo is not None
        return git.SymbolicReference.dereference_recursive(self._repo, _BATCH_REF)

    def _list_tree(self, commit: str | None, roots: Sequence[str]) -> dict[str, str]:
        """``{path: blob id}`` of files at or under ``roots`` in ``commit``."""
        if commit is None or not roots:
            return {}
        listing = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *roots)
        found: dict[str, str] = {}
        for record in filter(None, listing.split("\0")):
            meta, path = record.split("\t", 1)
            if any(is_within(path, root) for root in roots):
                found[path] = meta.split()[2]
        return found

    def _push(self, commit: str) -> bool:
        """Push ``commit`` to the branch; False if rejected because the branch moved."""
        proc = self._run("push", "--porcelain", "origin", f"{commit}:refs/heads/{self.branch}")
        if proc.returncode == 0:
            return True
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        if any(marker in output for marker in _REJECTED_MARKERS):
            return False
        raise self._error(f"cannot push to branch {self.branch!r}", output)

    # ------------------------------------------------------------------ running git
    def _run(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ident: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        # subprocess rather than GitPython's runner: it can only add to os.environ, and we must
        # also *remove* inherited variables (GIT_SSL_NO_VERIFY and friends; see gitauth).
        full_env = dict(self._access.env)
        if env:
            full_env.update(env)
        if ident:
            full_env.update(
                GIT_AUTHOR_NAME=self.author_name,
                GIT_AUTHOR_EMAIL=self.author_email,
                GIT_COMMITTER_NAME=self.author_name,
                GIT_COMMITTER_EMAIL=self.author_email,
            )
        command = ["git", "--git-dir", str(self.clone_dir), *args]
        try:
            return subprocess.run(
                command, input=stdin, env=full_env, capture_output=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise UnreachableError(
                f"git {args[0]} against {self.remote.url} timed out after {self.timeout:g}s"
            ) from exc

    def _git(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ident: bool = False,
        network: str | None = None,
    ) -> str:
        """Run git and return its stripped stdout; raise a typed, scrubbed error on failure."""
        proc = self._run(*args, stdin=stdin, env=env, ident=ident)
        if proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace")
            raise self._error(network or f"git {args[0]} failed", stderr)
        return proc.stdout.decode(errors="replace").strip()

    def _error(self, what: str, output: str) -> StateStoreError:
        error_type = classify_git_failure(output)
        details = " ".join(line.strip() for line in output.strip().splitlines()[-3:] if line.strip())
        if error_type.cause == "AuthenticationFailed" and "terminal prompts disabled" in output:
            # git's own wording ("could not read Username") blames a prompt we disabled on purpose.
            details = "the server rejected the credentials (HTTP 401)"
        hint = _HINTS.get(error_type.cause, "")
        if error_type.cause == "AuthenticationFailed" and self._access.method == "githubApp":
            hint = _GITHUB_APP_REFUSED
        message = f"{what} of {self.remote.url}: {details}" + (f" ({hint})" if hint else "")
        return error_type(self._access.scrub(message))


def _fast_import_path(path: str) -> bytes:
    # fast-import reads a path to the end of the line; only a leading quote needs C-quoting
    # (control characters and backslashes never get past paths.py).
    if path.startswith('"'):
        return b'"' + path.replace('"', '\\"').encode() + b'"'
    return path.encode()


def _ident_part(text: str) -> bytes:
    # Author names/emails come from the store spec; "<", ">" and newlines would break the
    # commit header.
    return re.sub(r"[<>\x00-\x1f]", "", text).strip().encode()


def _blob_sha(content: bytes) -> str:
    """Git's object id for a blob, so unchanged files are recognised without storing them."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


_HINTS = {
    "AuthenticationFailed": "check the username/password or sshPrivateKey in the state store Secret",
    "PermissionDenied": "the credentials are valid but may not push to this branch",
    "NotFound": "check the url; the repository may not exist or be invisible to these credentials",
    "Unreachable": "check the url's host and port, and the network between kratix and the server",
    "TLSVerificationFailed": "put the server's CA certificate (PEM) in the state store Secret under ca.crt, "
    "or, for a test server only, set insecureSkipTLSVerify",
    "HostKeyVerificationFailed": "add the server's host key to knownHosts in the state store Secret",
}
_GITHUB_APP_REFUSED = (
    "the GitHub App's installation token was refused; a new one is fetched on the next try. If this "
    "persists, check that the app is installed on this repository with Contents read and write permission"
)
