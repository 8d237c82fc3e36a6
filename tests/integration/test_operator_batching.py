"""The per-store batcher with a recording writer: one write per burst, failures kept to their cause.

No cluster and no server: the batcher only needs a Secret lookup (a stub) and a writer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from kratix_py.operator.statestores import StateStores, StoreProblem, changes_digest
from kratix_py.statestores import DirChange, FileChange, WriteResult
from kratix_py.statestores.errors import AuthenticationError, UnsafePathError
from kratix_py.testing.fixtures import wait_for


class RecordingWriter:
    """Applies nothing; records each batch, can refuse clashing paths or fail like a bad remote."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list[Any]] = []
        self.fail = fail
        self.closed = False

    def write(self, changes: Sequence[Any], *, before_push: Any = None) -> WriteResult:
        if self.fail is not None:
            raise self.fail
        if any(getattr(ch, "path", None) == "clash" for ch in changes):
            # What plan.py raises for content it refuses (e.g. a path both file and directory).
            raise UnsafePathError("'clash' would be both a file and a directory")
        self.batches.append(list(changes))
        return WriteResult(version_id=f"v{len(self.batches)}", changed=True)

    def check_ready(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


class SecretStub:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, resource: Any, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.secrets.get((namespace or "", name))


def store(generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": "git", "uid": "u1", "generation": generation},
        "spec": {
            "url": "https://example.invalid/x.git",
            "secretRef": {"name": "creds", "namespace": "default"},
        },
    }


@pytest.fixture
def harness():
    kube = SecretStub()
    kube.secrets[("default", "creds")] = {"metadata": {"resourceVersion": "1"}, "data": {"password": "cHc="}}
    writers: list[RecordingWriter] = []
    woken: list[Any] = []
    lock = threading.Lock()

    def factory(kind: str, spec: Mapping[str, Any], secret: Mapping[str, bytes] | None) -> RecordingWriter:
        assert secret == {"password": b"pw"}
        writers.append(RecordingWriter())
        return writers[-1]

    def enqueue(key: Any, delay: float) -> None:
        with lock:
            woken.append(key)

    stores = StateStores(kube, enqueue=enqueue, batch_window=0.05, writer_factory=factory)  # type: ignore[arg-type]
    yield stores, kube, writers, woken
    stores.close()


def submit(stores: StateStores, handle: Any, name: str, change: Any) -> tuple[Any, str]:
    key = ("workplacement", "ns", name)
    digest = changes_digest(handle.fingerprint, [change])
    stores.submit(handle, key, digest, [change])
    return key, digest


def test_a_burst_is_one_write_and_everyone_gets_its_outcome(harness):
    stores, _, writers, woken = harness
    handle = stores.handle("GitStateStore", store())
    keys = [submit(stores, handle, f"wp{i}", DirChange(f"d{i}", {"f": b"x"}, f"wp{i}")) for i in range(20)]
    wait_for(lambda: len(woken) == 20, what="every submitter woken")
    assert len(writers) == 1 and len(writers[0].batches) == 1 and len(writers[0].batches[0]) == 20
    for key, digest in keys:
        outcome = stores.outcome(key)
        assert outcome is not None and outcome.ok and outcome.digest == digest and outcome.version_id == "v1"
        assert not stores.is_pending(key, digest)
    # Same handle again: the cached writer is reused.
    assert stores.handle("GitStateStore", store()) == handle and len(writers) == 1


def test_content_the_writer_refuses_fails_only_its_own_submission(harness):
    stores, _, writers, woken = harness
    handle = stores.handle("GitStateStore", store())
    bad, _ = submit(stores, handle, "a-bad", FileChange("clash", b"x", "a"))
    good, _ = submit(stores, handle, "b-good", DirChange("clash-free", {"f": b"y"}, "b"))
    other, _ = submit(stores, handle, "c-other", DirChange("elsewhere", {"f": b"z"}, "c"))
    wait_for(lambda: len(woken) == 3, what="all three woken")
    assert [stores.outcome(k).ok for k in (bad, good, other)] == [False, True, True]
    assert "both a file and a directory" in stores.outcome(bad).message
    assert len(writers[0].batches) == 2, "after the combined write failed, each was written alone"


def test_a_store_failure_fails_the_batch_and_counts_consecutive_failures(harness):
    stores, _, writers, woken = harness
    handle = stores.handle("GitStateStore", store())
    writers[0].fail = AuthenticationError("cannot fetch: the server rejected the credentials (HTTP 401)")

    def submitters() -> list[Any]:
        return [key for key in list(woken) if key[0] != "statestore"]

    key, digest = submit(stores, handle, "wp", DirChange("d", {"f": b"x"}, "wp"))
    wait_for(lambda: len(submitters()) == 1, what="the submitter woken")
    first = stores.outcome(key)
    assert not first.ok and first.failures == 1 and "HTTP 401" in first.message
    assert ("statestore", "GitStateStore", "git") in woken, "a failed write has the store checked at once"
    stores.submit(handle, key, digest, [DirChange("d", {"f": b"x"}, "wp")])
    wait_for(lambda: len(submitters()) == 2, what="woken again")
    assert stores.outcome(key).failures == 2
    writers[0].fail = None
    stores.submit(handle, key, digest, [DirChange("d", {"f": b"x"}, "wp")])
    wait_for(lambda: len(submitters()) == 3, what="woken a third time")
    assert stores.outcome(key).ok and stores.outcome(key).failures == 0


def test_a_new_secret_version_builds_a_new_writer_and_stale_submissions_are_recomputed(harness):
    stores, kube, writers, woken = harness
    old = stores.handle("GitStateStore", store())
    kube.secrets[("default", "creds")]["metadata"]["resourceVersion"] = "2"
    new = stores.handle("GitStateStore", store())
    assert new.fingerprint != old.fingerprint and len(writers) == 2 and writers[0].closed
    key, _ = submit(stores, old, "wp", DirChange("d", {"f": b"x"}, "wp"))
    wait_for(lambda: len(woken) == 1, what="the stale submitter woken to recompute")
    assert stores.outcome(key) is None and writers[1].batches == []
    assert stores.stores_using_secret("default", "creds") == [("GitStateStore", "git")]


def test_a_missing_secret_is_a_named_problem(harness):
    stores, kube, _, _ = harness
    kube.secrets.clear()
    with pytest.raises(StoreProblem) as problem:
        stores.handle("GitStateStore", store())
    assert problem.value.reason == "SecretNotFound" and "default/creds" in problem.value.message
    assert stores.stores_using_secret("default", "creds") == [("GitStateStore", "git")], (
        "creating it wakes the store"
    )


class BlockingWriter(RecordingWriter):
    """Holds each write until released, then asks ``before_push`` as a real writer does."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.pushed: list[list[Any]] = []
        self.refused = 0

    def write(self, changes: Sequence[Any], *, before_push: Any = None) -> WriteResult:
        self.entered.set()
        self.release.wait(10)
        if before_push is not None:
            try:
                before_push()
            except Exception:
                self.refused += 1
                raise
        self.pushed.append(list(changes))
        return WriteResult(version_id=f"v{len(self.pushed)}", changed=True)


def test_a_batch_in_flight_when_leadership_is_lost_never_reaches_the_store():
    """The fence is asked at the last moment: a push prepared under the old term does not land."""
    kube = SecretStub()
    kube.secrets[("default", "creds")] = {"metadata": {"resourceVersion": "1"}, "data": {"password": "cHc="}}
    writer = BlockingWriter()
    leading = [True]
    woken: list[Any] = []

    def fence() -> None:
        if not leading[0]:
            from kratix_py.operator.queue import NotLeading

            raise NotLeading("lost the Lease")

    stores = StateStores(
        kube,  # type: ignore[arg-type]
        enqueue=lambda key, delay: woken.append(key),
        batch_window=0.01,
        writer_factory=lambda *_: writer,  # type: ignore[arg-type,return-value]
        fence=fence,
    )
    try:
        stores.resume(1)
        handle = stores.handle("GitStateStore", store())
        key, digest = submit(stores, handle, "wp0", DirChange("d0", {"f": b"x"}, "wp0"))
        assert writer.entered.wait(5), "the batch started writing"
        leading[0] = False
        stores.pause()  # what the operator does first when it loses the Lease
        writer.release.set()
        wait_for(lambda: woken, what="the submitter to be told")
        assert writer.pushed == [] and writer.refused == 1, "nothing was pushed after the loss"
        assert stores.outcome(key) is None, "no outcome: the next leader writes it, not a failure"

        # Leading again, a new term: the same change is submitted anew and written.
        leading[0] = True
        stores.resume(2)
        writer.entered.clear()
        stores.submit(handle, key, digest, [DirChange("d0", {"f": b"x"}, "wp0")])
        wait_for(lambda: (stores.outcome(key) or None) is not None, what="the write in the new term")
        assert stores.outcome(key).ok and len(writer.pushed) == 1  # type: ignore[union-attr]
    finally:
        writer.release.set()
        stores.close()
