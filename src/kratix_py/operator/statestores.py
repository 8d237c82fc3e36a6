"""State stores in the operator: one cached writer per store, one batcher per store, and the
GitStateStore/BucketStateStore reconciler.

**Writers** are built from the store's spec and its Secret and cached per store; a new
``metadata.generation`` or a new Secret ``resourceVersion`` builds a new one (the old one is
closed once no write uses it). The Secret is read on every lookup, so no write uses stale
credentials even before the Secret's watch event reaches the store's reconciler.

**Batching** (Kratix #454: one commit and push per WorkPlacement makes commit storms and
minutes-long queues). A reconciler never writes to a store itself. It computes its changes and a
digest of them, and ``submit``\\ s them to the store's batcher, then *returns* (no blocking):
the queue has only a few workers, so if each waited for its commit no batch could ever hold
more placements than there are workers. The batcher's thread waits ``batch_window`` after the first
submission, takes everything that arrived, and makes **one** ``writer.write()`` of all of it
(one commit for Git); meanwhile the next batch gathers. When the write is done it records an
:class:`Outcome` per submitter and puts each submitter's key back in the work queue. The
reconciler, run again, finds the outcome for its current digest and writes its status, so
status is only ever written by the object's own reconcile (never concurrently with it), and a
restart simply means every object submits once more (unchanged files make no commit).

A batch that fails because of one submission's content (a path clash) is retried one
submission at a time, so one bad placement cannot block the others; a failure of the store
itself (credentials, network) fails the whole batch, and each reconciler retries with backoff.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import BucketStateStore, GitStateStore, validation_message
from kratix_py.contract import UnsafePathError
from kratix_py.core import conditions as cond
from kratix_py.operator import resources as r
from kratix_py.operator.queue import NotLeading
from kratix_py.operator.reconciler import Reconciler
from kratix_py.operator.temproot import TempRoot
from kratix_py.statestores.base import Change, DirChange, StateStoreWriter, WriteResult
from kratix_py.statestores.errors import AuthenticationError, StateStoreError, WriteConflictError

log = logging.getLogger(__name__)

Key = tuple[Hashable, ...]
Enqueue = Callable[[Key, float], None]
"""Put a key in the work queue after a delay (seconds); safe to call from any thread."""
WriterFactory = Callable[[str, Mapping[str, Any], Mapping[str, bytes] | None], StateStoreWriter]
ChangeSource = Sequence[Change] | Callable[[], Sequence[Change]]
"""Changes, or a function computing them when the batch is written (for content that depends on
other objects at that moment, like an aggregatedYAML file)."""

GIT = "GitStateStore"
BUCKET = "BucketStateStore"
STATE_STORE_KINDS = (GIT, BUCKET)

READY_RECHECK = timedelta(minutes=10)
"""A Ready store is checked against its remote again this often (credentials get revoked)."""
CHECK_REUSE_SECONDS = 5.0
"""A check this recent is reused: our own status write triggers another reconcile at once."""
NOT_READY_BACKOFF = (5.0, 60.0)
"""(first, longest) wait before checking a store that is not ready again."""


def store_key(kind: str, name: str) -> Key:
    return ("statestore", kind, name)


def backoff(failures: int, first: float, longest: float) -> float:
    """``first`` doubled per consecutive failure, at most ``longest``."""
    return float(min(first * 2 ** max(failures - 1, 0), longest))


class StoreProblem(Exception):
    """The store's writer cannot be built; ``reason`` is the store's Ready condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class StoreHandle:
    """A store as one writer sees it: the fingerprint says which spec and Secret it was built from."""

    kind: str
    name: str
    fingerprint: str

    @property
    def ref(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def describe(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Outcome:
    """How the last write submitted under a key went."""

    digest: str
    ok: bool
    version_id: str = ""
    message: str = ""
    failures: int = 0
    """Consecutive failed writes for this key (0 after a success)."""
    finished_at: float = 0.0
    """time.monotonic() when the write ended."""


def changes_digest(fingerprint: str, changes: Sequence[Change], *extra: str) -> str:
    """A digest of what a submission wants the store to look like (and which writer writes it)."""
    hasher = hashlib.sha256()
    for part in (fingerprint, *extra):
        hasher.update(part.encode() + b"\0")
    for change in changes:
        if isinstance(change, DirChange):
            hasher.update(b"D\0" + change.directory.encode() + b"\0")
            if change.files is None:
                hasher.update(b"-\0")
            for path, content in sorted((change.files or {}).items()):
                hasher.update(path.encode() + b"\0" + hashlib.sha256(content).digest())
        else:
            hasher.update(b"F\0" + change.path.encode() + b"\0")
            hasher.update(b"-" if change.content is None else hashlib.sha256(change.content).digest())
    return hasher.hexdigest()


def decode_secret(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's keys and values (``data`` decoded; ``stringData`` too, for servers that keep it)."""
    values = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    values.update({key: str(value).encode() for key, value in (secret.get("stringData") or {}).items()})
    return values


def build_writer(
    kind: str,
    spec: Mapping[str, Any],
    secret: Mapping[str, bytes] | None,
    temp_root: TempRoot | None = None,
) -> StateStoreWriter:
    """The writer for a store spec; imports the client library only for the kind in use.

    Git clones and credential files go under the operator's ``temp_root`` (swept at start).
    """
    if kind == GIT:
        from kratix_py.statestores.git import GitStateStoreWriter

        if temp_root is None:
            return GitStateStoreWriter.from_spec(spec, secret)
        return GitStateStoreWriter.from_spec(
            spec, secret, cache_dir=temp_root.git_cache, temp_root=temp_root.path
        )
    from kratix_py.statestores.bucket import BucketStateStoreWriter

    return BucketStateStoreWriter.from_spec(spec, secret)


@dataclass
class _Entry:
    fingerprint: str
    writer: StateStoreWriter
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held for every write, check and close: a writer is never closed mid-write."""
    closed: bool = False
    checked_at: float | None = None
    check_error: StateStoreError | None = None


@dataclass
class _Submission:
    key: Key
    digest: str
    fingerprint: str
    changes: ChangeSource
    term: int = 0

    def resolve(self) -> Sequence[Change]:
        return self.changes() if callable(self.changes) else self.changes


class _Batcher:
    """Gathers submissions for one store and hands them to ``flush`` in batches, on its own thread."""

    def __init__(self, name: str, window: float, flush: Callable[[list[_Submission]], None]) -> None:
        self.name = name
        self.window = window
        self._flush = flush
        self._queue: dict[Key, _Submission] = {}
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def add(self, submission: _Submission) -> None:
        with self._cv:
            # A submitter's newer changes replace its older ones that were not sent yet.
            self._queue[submission.key] = submission
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"batcher-{self.name}", daemon=True)
                self._thread.start()
            self._cv.notify()

    def clear(self) -> None:
        with self._cv:
            self._queue.clear()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stopping:
                    self._cv.wait()
                if not self._queue:
                    return
            if not self._stopping:
                time.sleep(self.window)  # let the rest of a burst arrive
            with self._cv:
                batch = list(self._queue.values())
                self._queue.clear()
            try:
                self._flush(batch)
            except Exception:  # the flush reports per submission; this is a bug, keep serving
                log.exception("state store batcher %s failed", self.name)


class StateStores:
    """The writers and batchers of every state store this operator writes to."""

    def __init__(
        self,
        kube: k.Kube,
        *,
        enqueue: Enqueue,
        batch_window: float = 0.2,
        writer_factory: WriterFactory = build_writer,
        fence: Callable[[], None] | None = None,
    ) -> None:
        self.kube = kube
        self.enqueue = enqueue
        self.batch_window = batch_window
        self.writer_factory = writer_factory
        self.fence = fence
        """Asked right before each write reaches a store; raises when this replica must not write."""
        self.secret_version: Callable[[str, str], str | None] | None = None
        """The resourceVersion a Secret is at, as the operator's watch last saw it (None: unknown)."""
        self.term = 0
        """Submissions remember the term they were made in; a batch of an older term is dropped."""
        self._lock = threading.Lock()
        self._build_locks: dict[tuple[str, str], threading.Lock] = {}
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._batchers: dict[tuple[str, str], _Batcher] = {}
        self._outcomes: dict[Key, Outcome] = {}
        self._pending: dict[Key, str] = {}
        self._secret_users: dict[tuple[str, str], set[tuple[str, str]]] = {}

    # -- writers -------------------------------------------------------------------------------------
    def handle(self, kind: str, store: Mapping[str, Any]) -> StoreHandle:
        """The current writer's handle for ``store``, (re)building it if the spec or Secret changed.

        Raises :class:`StoreProblem` (``SecretNotFound``, ``ErrorInitialisingWriter``).
        """
        meta = store["metadata"]
        ref = (kind, str(meta["name"]))
        spec = store.get("spec") or {}
        secret_ref = spec.get("secretRef") or {}
        secret: dict[str, bytes] | None = None
        secret_version = "-"
        wants_secret = bool(secret_ref.get("name")) and not (
            kind == BUCKET and spec.get("authMethod") == "IAM"
        )
        if wants_secret:
            namespace = str(secret_ref.get("namespace") or "default")
            name = str(secret_ref["name"])
            with self._lock:  # remembered before reading, so creating a missing Secret wakes the store
                self._secret_users.setdefault((namespace, name), set()).add(ref)
            known = self.secret_version(namespace, name) if self.secret_version is not None else None
            if known:
                # The watch says which version the Secret is at: if the writer was built from that
                # version, it needs neither the values nor an API call.
                fingerprint = f"{meta.get('uid')}/{meta.get('generation')}/{known}"
                with self._lock:
                    entry = self._entries.get(ref)
                if entry is not None and entry.fingerprint == fingerprint:
                    return StoreHandle(kind, ref[1], fingerprint)
            secret_obj = self.kube.get(k.SECRETS, name, namespace)
            if secret_obj is None:
                raise StoreProblem(
                    "SecretNotFound",
                    f"Secret {name} {c.PHRASE_NOT_FOUND} in namespace {namespace}: create {namespace}/{name}, "
                    "or name an existing Secret in spec.secretRef",
                )
            secret = decode_secret(secret_obj)
            secret_version = str(secret_obj["metadata"].get("resourceVersion"))
        fingerprint = f"{meta.get('uid')}/{meta.get('generation')}/{secret_version}"
        handle = StoreHandle(kind, ref[1], fingerprint)
        with self._lock:
            build_lock = self._build_locks.setdefault(ref, threading.Lock())
        with build_lock:
            entry = self._entries.get(ref)
            if entry is not None and entry.fingerprint == fingerprint:
                return handle
            try:
                writer = self.writer_factory(kind, spec, secret)
            except StateStoreError as error:
                raise StoreProblem("ErrorInitialisingWriter", str(error)) from None
            except (KeyError, TypeError, ValueError) as error:
                # Not a typed writer error: say what kind of problem, never echo values (secrets).
                raise StoreProblem(
                    "ErrorInitialisingWriter",
                    f"cannot build the writer from the spec/Secret ({type(error).__name__})",
                ) from None
            with self._lock:
                old = self._entries.get(ref)
                self._entries[ref] = _Entry(fingerprint, writer)
            if old is not None:
                self._close(old)
        return handle

    def check(self, handle: StoreHandle) -> None:
        """``check_ready()`` against the remote (a result of the last few seconds is reused)."""
        entry = self._entry(handle)
        if entry is None:
            raise StoreProblem("ErrorInitialisingWriter", "the writer was replaced; checking again")
        with entry.lock:
            recent = (
                entry.checked_at is not None and time.monotonic() - entry.checked_at < CHECK_REUSE_SECONDS
            )
            if not recent:
                try:
                    entry.writer.check_ready()
                    entry.check_error = None
                except StateStoreError as error:
                    entry.check_error = error
                entry.checked_at = time.monotonic()
            if entry.check_error is not None:
                raise entry.check_error

    def warnings(self, handle: StoreHandle) -> tuple[tuple[str, str], ...]:
        """(reason, message) of what is unsafe about how the store is reached (Git writers know:
        credentials over plain http://, TLS verification off); empty for the others."""
        entry = self._entry(handle)
        found = getattr(entry.writer, "warnings", ()) if entry is not None else ()
        return tuple((str(warning.reason), str(warning.message)) for warning in found)

    def stores_using_secret(self, namespace: str, name: str) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._secret_users.get((namespace, name), ()))

    def drop(self, kind: str, name: str) -> None:
        """The store is gone: close its writer and stop its batcher (what it held is re-enqueued)."""
        ref = (kind, name)
        with self._lock:
            entry = self._entries.pop(ref, None)
            batcher = self._batchers.pop(ref, None)
            for users in self._secret_users.values():
                users.discard(ref)
        if batcher is not None:
            batcher.stop()
        if entry is not None:
            self._close(entry)

    def close(self) -> None:
        with self._lock:
            refs = list(self._entries) + [ref for ref in self._batchers if ref not in self._entries]
        for kind, name in refs:
            self.drop(kind, name)

    def pause(self) -> None:
        """Leadership is lost: forget what waits to be written (the next leader writes it).

        Batches already being written stop at the fence, right before their push."""
        with self._lock:
            self.term += 1
            self._pending.clear()
            batchers = list(self._batchers.values())
        for batcher in batchers:
            batcher.clear()

    def resume(self, term: int) -> None:
        """Leading again (``term`` is the operator's new term): submissions are taken again."""
        with self._lock:
            self.term = max(self.term + 1, term)

    # -- submissions ---------------------------------------------------------------------------------
    def submit(self, handle: StoreHandle, key: Key, digest: str, changes: ChangeSource) -> None:
        """Queue ``changes`` for the store's next batch; the key is enqueued when they are written."""
        with self._lock:
            if self._pending.get(key) == digest:
                return
            self._pending[key] = digest
            batcher = self._batchers.get(handle.ref)
            if batcher is None:
                batcher = _Batcher(
                    f"{handle.kind}/{handle.name}",
                    self.batch_window,
                    lambda batch, ref=handle.ref: self._flush(ref, batch),  # type: ignore[misc]
                )
                self._batchers[handle.ref] = batcher
        batcher.add(_Submission(key, digest, handle.fingerprint, changes, self.term))

    def outcome(self, key: Key) -> Outcome | None:
        with self._lock:
            return self._outcomes.get(key)

    def is_pending(self, key: Key, digest: str) -> bool:
        with self._lock:
            return self._pending.get(key) == digest

    def forget(self, key: Key) -> None:
        """The submitter is gone: drop its outcome (and ignore a write still in flight)."""
        with self._lock:
            self._outcomes.pop(key, None)
            self._pending.pop(key, None)

    # -- the batch -----------------------------------------------------------------------------------
    def _entry(self, handle: StoreHandle) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(handle.ref)
        return entry if entry is not None and entry.fingerprint == handle.fingerprint else None

    def _flush(self, ref: tuple[str, str], batch: list[_Submission]) -> None:
        with self._lock:
            entry = self._entries.get(ref)
            term = self.term
        stale_term = [s for s in batch if s.term != term]
        batch = [s for s in batch if s.term == term]
        for stale in stale_term:
            self._finish(stale, None)  # made under another leader's term: never written now
        current = [s for s in batch if entry is not None and s.fingerprint == entry.fingerprint]
        for stale in (s for s in batch if s not in current):
            self._finish(stale, None)  # built for another writer: the reconciler recomputes
        if entry is None or not current:
            return
        resolved: list[tuple[_Submission, Sequence[Change]]] = []
        # Sorted by submitter, not arrival: the same burst always gives the same commit (message
        # included), and where two submitters write one path the winner does not depend on timing.
        for submission in sorted(current, key=lambda s: tuple(str(part) for part in s.key)):
            try:
                resolved.append((submission, list(submission.resolve())))
            except (StateStoreError, ValueError) as error:
                self._finish(submission, error)
            except Exception as error:
                log.exception("computing the changes of %s failed", submission.key)
                self._finish(submission, error)
        if not resolved:
            return
        with entry.lock:
            if entry.closed:
                for submission, _ in resolved:
                    self._finish(submission, None)
                return
            try:
                result = self._write(entry, [change for _, changes in resolved for change in changes], term)
            except NotLeading:
                for submission, _ in resolved:
                    self._finish(submission, None)
                return
            except (UnsafePathError, TypeError, ValueError):
                # One submission's content spoils the batch (e.g. a file/directory clash between
                # two placements): write them one by one so only the culprit fails.
                for submission, changes in resolved:
                    try:
                        self._finish(submission, self._write(entry, changes, term))
                    except NotLeading:
                        self._finish(submission, None)
                    except Exception as error:
                        self._finish(submission, error)
                return
            except Exception as error:
                if not isinstance(error, StateStoreError):
                    log.exception("writing to %s/%s failed", *ref)
                if not isinstance(error, WriteConflictError):
                    # The store may have just stopped working (a rotated password, a bucket that
                    # went away): check it now, not at the next periodic check minutes later, so
                    # the store and its Destinations say so at once.
                    entry.checked_at = None
                    self.enqueue(store_key(*ref), 0.0)
                for submission, _ in resolved:
                    self._finish(submission, error)
                return
        for submission, _ in resolved:
            self._finish(submission, result)

    def _write(self, entry: _Entry, changes: Sequence[Change], term: int) -> WriteResult:
        def before_push() -> None:
            # Checked at the last moment: a push must not land after leadership moved on.
            if self.term != term:
                raise NotLeading("the batch belongs to an earlier term")
            if self.fence is not None:
                self.fence()

        before_push()
        return entry.writer.write(changes, before_push=before_push)

    def _finish(self, submission: _Submission, result: WriteResult | BaseException | None) -> None:
        key = submission.key
        with self._lock:
            known = key in self._pending
            if self._pending.get(key) == submission.digest:
                del self._pending[key]
            if known and result is not None:
                previous = self._outcomes.get(key)
                if isinstance(result, WriteResult):
                    outcome = Outcome(
                        submission.digest, True, result.version_id, finished_at=time.monotonic()
                    )
                else:
                    failures = previous.failures + 1 if previous is not None and not previous.ok else 1
                    outcome = Outcome(
                        submission.digest,
                        False,
                        message=error_message(result),
                        failures=failures,
                        finished_at=time.monotonic(),
                    )
                self._outcomes[key] = outcome
        self.enqueue(key, 0.0)

    def _close(self, entry: _Entry) -> None:
        with entry.lock:
            entry.closed = True
            try:
                entry.writer.close()
            except Exception:
                log.exception("closing a state store writer failed")


def error_message(error: BaseException) -> str:
    """A message for a condition or Event: typed store errors are already scrubbed of secrets;
    anything else is named by type only, since its text was never checked for credentials."""
    if isinstance(error, StateStoreError | ValueError):
        return str(error)
    return f"unexpected {type(error).__name__} while writing; see the operator log"


# -- the store reconciler ----------------------------------------------------------------------------


class StateStoreReconciler(Reconciler[dict[str, Any]]):
    """Checks one GitStateStore or BucketStateStore per call and reports it in ``Ready``.

    Key: ``("statestore", kind, name)``. A store that changed (spec or Secret) or whose readiness
    flipped puts its Destinations and their WorkPlacements back in the queue.
    """

    resource = r.GIT_STATE_STORES  # each key names its kind (see locate)

    def __init__(
        self,
        kube: k.Kube,
        stores: StateStores,
        *,
        enqueue: Enqueue,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(kube, clock=clock)
        self.stores = stores
        self.enqueue = enqueue
        self._failures: dict[Key, int] = {}
        self._seen: dict[Key, str] = {}

    def locate(self, key: Key) -> tuple[k.Resource, str | None, str]:
        return r.STATE_STORES[str(key[1])], None, str(key[2])

    def gone(self, key: Key) -> timedelta | None:
        kind, name = str(key[1]), str(key[2])
        self.stores.drop(kind, name)
        self._failures.pop(key, None)
        if self._seen.pop(key, None) is not None:
            self._enqueue_dependents(kind, name)  # they report StateStoreNotFound / let go
        return None

    def delete(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any] | None) -> timedelta | None:
        return self.reconcile(key, obj, obj)  # no finalizer: report until it is gone

    def reconcile(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any]) -> timedelta | None:
        kind, name = str(key[1]), str(key[2])
        resource = r.STATE_STORES[kind]
        condition, fingerprint = self._check(kind, obj)
        now = self.clock()
        old_status = copy.deepcopy(obj.get("status") or {})
        status = copy.deepcopy(old_status)
        generation = obj["metadata"].get("generation")
        status["conditions"] = cond.set_condition(status.get("conditions"), condition, now, generation)
        status["conditions"] = cond.set_warning(
            status["conditions"], c.CONDITION_TRANSPORT_SECURE, self._transport_warning(kind, obj), now
        )
        status["status"] = "Ready" if condition.status == cond.TRUE else "NotReady"
        status["observedGeneration"] = generation
        self.write_status(obj, old_status, status, resource=resource)
        was_ready = cond.is_true(old_status.get("conditions"), c.CONDITION_READY)
        before = cond.find(old_status.get("conditions"), c.CONDITION_READY) or {}
        if (before.get("reason"), before.get("message")) != (condition.reason, condition.message):
            # Once per change, not per retry. Messages are the writers' scrubbed ones (no secrets).
            if condition.status == cond.TRUE:
                log.info("%s %s is ready", kind, name)
            else:
                log.warning("%s %s is not ready: %s: %s", kind, name, condition.reason, condition.message)
        changed = self._seen.get(key) != fingerprint or was_ready != (condition.status == cond.TRUE)
        self._seen[key] = fingerprint
        if changed:
            self._enqueue_dependents(kind, name)
        if condition.status == cond.TRUE:
            self._failures.pop(key, None)
            return READY_RECHECK
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return timedelta(seconds=backoff(failures, *NOT_READY_BACKOFF))

    def _check(self, kind: str, obj: Mapping[str, Any]) -> tuple[cond.Condition, str]:
        model = GitStateStore if kind == GIT else BucketStateStore
        try:
            model.model_validate(obj)
        except ValidationError as error:
            message = f"the {kind} is invalid: {validation_message(error)}"
            return cond.Condition(
                c.CONDITION_READY, cond.FALSE, "ErrorInitialisingWriter", message
            ), "invalid"
        try:
            handle = self.stores.handle(kind, obj)
        except StoreProblem as problem:
            return cond.Condition(
                c.CONDITION_READY, cond.FALSE, problem.reason, problem.message
            ), problem.reason
        try:
            self.stores.check(handle)
        except StoreProblem as problem:
            return cond.Condition(
                c.CONDITION_READY, cond.FALSE, problem.reason, problem.message
            ), handle.fingerprint
        except StateStoreError as error:
            return cond.Condition(
                c.CONDITION_READY, cond.FALSE, "ErrorValidatingPermissions", validation_failure(error)
            ), handle.fingerprint
        ready = cond.Condition(c.CONDITION_READY, cond.TRUE, "StateStoreReady", "State store is ready")
        return ready, handle.fingerprint

    def _transport_warning(self, kind: str, obj: Mapping[str, Any]) -> cond.Condition | None:
        """``TransportSecure=False`` while the writer warns about how it reaches the store."""
        if kind != GIT:
            return None
        try:
            handle = self.stores.handle(kind, obj)  # built by _check just now: no rebuild, no API call
        except StoreProblem:
            return None
        found = self.stores.warnings(handle)
        if not found:
            return None
        reasons = sorted({reason for reason, _ in found})
        return cond.Condition(
            c.CONDITION_TRANSPORT_SECURE,
            cond.FALSE,
            reasons[0] if len(reasons) == 1 else "InsecureTransport",
            "; ".join(message for _, message in found),
        )

    def _enqueue_dependents(self, kind: str, name: str) -> None:
        destinations = destinations_of_store(self.kube, kind, name)
        for destination in destinations:
            self.enqueue(("destination", destination), 0.0)
        if not destinations:
            return
        selector = f"{c.LABEL_TARGET_DESTINATION_NAME} in ({','.join(destinations)})"
        for placement in self.kube.list(r.WORKPLACEMENTS, None, label_selector=selector):
            meta = placement["metadata"]
            self.enqueue(("workplacement", meta["namespace"], meta["name"]), 0.0)


def validation_failure(error: StateStoreError) -> str:
    """Why checking a store failed: Kratix's words first, then kratix-py's cause and detail."""
    said = c.PHRASE_VALIDATING_PERMISSIONS
    if isinstance(error, AuthenticationError):
        said += f": {c.PHRASE_AUTHENTICATION_FAILED}"
    return f"{said} ({error.cause}): {error}"


def store_not_found(kind: str, name: str) -> str:
    """A Destination's (or placement's) ``stateStoreRef`` names no store: Kratix's ``Kind/name: not found``."""
    return f"{kind}/{name}: {c.PHRASE_NOT_FOUND}: no {kind} named {name} exists; create it or correct spec.stateStoreRef"


def store_not_ready(kind: str, name: str, problem: str) -> str:
    """The store exists but cannot be written: Kratix's ``Kind/name: not ready``, and why."""
    return f"{kind}/{name}: {c.PHRASE_NOT_READY}: {problem}"


def destinations_of_store(kube: k.Kube, kind: str, name: str) -> list[str]:
    """Names of the Destinations whose ``stateStoreRef`` is this store, sorted."""
    names = []
    for destination in kube.list(r.DESTINATIONS):
        ref = (destination.get("spec") or {}).get("stateStoreRef") or {}
        if ref.get("kind") == kind and ref.get("name") == name:
            names.append(str(destination["metadata"]["name"]))
    return sorted(names)


def store_ready_problem(store: Mapping[str, Any]) -> str | None:
    """The store's own Ready=False message, or None when it is Ready or not checked yet."""
    ready = cond.find((store.get("status") or {}).get("conditions"), c.CONDITION_READY)
    if ready is None or ready.get("status") != cond.FALSE:
        return None
    return f"{ready.get('reason')}: {ready.get('message')}"
