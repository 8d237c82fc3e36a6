"""The Git writer against a real Git server over HTTP basic auth, HTTPS and SSH."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kratix_py.local_platform.gitserver import GitServer
from kratix_py.statestores import (
    AuthenticationError,
    DirChange,
    FileChange,
    HostKeyVerificationError,
    NotFoundError,
    PermissionDeniedError,
    StateStoreWriter,
    TLSVerificationError,
    UnsafePathError,
    WriteConflictError,
)
from kratix_py.statestores.git import GitStateStoreWriter


def basic_auth(server: GitServer) -> dict[str, str]:
    return {"username": server.username, "password": server.password}


@pytest.fixture
def make_writer(git_server: GitServer, tmp_path: Path) -> Iterator[Any]:
    """Build HTTP writers (or others via ``url=``) that are closed after the test."""
    writers: list[GitStateStoreWriter] = []

    def make(repo: str, **options: Any) -> GitStateStoreWriter:
        options.setdefault("secret", basic_auth(git_server))
        options.setdefault("cache_dir", tmp_path / "cache")
        options.setdefault("timeout", 20)
        url = options.pop("url", None) or git_server.http_url(repo)
        writer = GitStateStoreWriter(url, **options)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close()


def wp(name: str, files: dict[str, bytes] | None, directory: str | None = None) -> DirChange:
    return DirChange(
        directory or f"dest/resources/default/promise/{name}/instance-configure/5058f", files, name
    )


def test_writer_satisfies_the_protocol(make_writer: Any, repo: str) -> None:
    assert isinstance(make_writer(repo), StateStoreWriter)


def test_first_write_creates_the_branch_and_lands_under_the_prefix(
    git_server: GitServer, make_writer: Any, repo: str
) -> None:
    writer = make_writer(repo, path="/platform", author_name="kratix-bot", author_email="bot@example.com")
    result = writer.write(
        [wp("wp-a", {"deployment.yaml": b"kind: Deployment\n", "sub/cm.yaml": b"kind: ConfigMap\n"})]
    )

    assert result.changed
    assert result.version_id == git_server.head(repo)
    assert git_server.read_tree(repo) == {
        "platform/dest/resources/default/promise/wp-a/instance-configure/5058f/deployment.yaml": b"kind: Deployment\n",
        "platform/dest/resources/default/promise/wp-a/instance-configure/5058f/sub/cm.yaml": b"kind: ConfigMap\n",
    }
    assert git_server.commits(repo) == ["Update from: wp-a"]
    author = subprocess.run(
        ["git", "--git-dir", str(git_server.repo_path(repo)), "log", "-1", "--format=%an <%ae>|%cn"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert author == "kratix-bot <bot@example.com>|kratix-bot"


def test_an_identical_write_makes_no_commit(git_server: GitServer, make_writer: Any, repo: str) -> None:
    writer = make_writer(repo)
    batch = [wp("wp-a", {"a.yaml": b"a"}), FileChange("dest/aggregated.yaml", b"x", "wp-b")]
    first = writer.write(batch)
    second = writer.write(batch)
    # A fresh writer (fresh clone) agrees.
    third = make_writer(repo, cache_dir=None).write(batch)

    assert first.changed and not second.changed and not third.changed
    assert first.version_id == second.version_id == third.version_id == git_server.head(repo)
    assert len(git_server.commits(repo)) == 1


def test_a_batch_of_directories_is_one_commit(git_server: GitServer, make_writer: Any, repo: str) -> None:
    writer = make_writer(repo)
    writer.write([wp("wp-old", {"x.yaml": b"old"})])
    batch = [wp(f"wp-{i}", {"x.yaml": f"{i}".encode()}) for i in range(7)]
    batch.append(wp("wp-old", None))
    batch.append(wp("wp-unchanged", None))  # deleting what does not exist is not news

    result = writer.write(batch)

    assert result.changed
    messages = git_server.commits(repo)
    assert len(messages) == 2
    subject, _, *body = messages[0].split("\n")
    assert subject == "Update from: wp-0, wp-1, wp-2, wp-3, wp-4 and 2 more; Delete from: wp-old"
    assert body == [f"Update from: wp-{i}" for i in range(7)] + ["Delete from: wp-old"]
    tree = git_server.read_tree(repo)
    assert len(tree) == 7
    assert not any("wp-old" in path for path in tree)


def test_directory_replacement_and_deletion(git_server: GitServer, make_writer: Any, repo: str) -> None:
    writer = make_writer(repo)
    writer.write(
        [
            DirChange("dest/a", {"keep.yaml": b"1", "stale.yaml": b"2", "deep/stale.yaml": b"3"}, "wp-a"),
            DirChange("dest/a-sibling", {"x.yaml": b"4"}, "wp-sibling"),
        ]
    )
    writer.write([DirChange("dest/a", {"keep.yaml": b"1", "new.yaml": b"5"}, "wp-a")])
    assert git_server.read_tree(repo) == {
        "dest/a/keep.yaml": b"1",
        "dest/a/new.yaml": b"5",
        "dest/a-sibling/x.yaml": b"4",
    }

    result = writer.write([DirChange("dest/a", None, "wp-a")])

    assert result.changed
    assert git_server.read_tree(repo) == {"dest/a-sibling/x.yaml": b"4"}
    assert git_server.commits(repo)[0] == "Delete from: wp-a"


def test_a_damaged_cache_is_replaced_by_a_fresh_clone(
    git_server: GitServer, make_writer: Any, repo: str
) -> None:
    writer = make_writer(repo)
    writer.write([wp("wp-a", {"a": b"1"})])
    (writer.clone_dir / "config").write_bytes(b"\x00garbage after a crash")

    result = writer.write([wp("wp-a", {"a": b"2"})])

    assert result.changed
    assert list(git_server.read_tree(repo).values()) == [b"2"]


def test_writes_to_another_branch_leave_main_alone(git_server: GitServer, make_writer: Any) -> None:
    git_server.create_repo("branchy", initial_files={"main-only.txt": b"m"})
    writer = make_writer("branchy", branch="destinations")
    writer.write([FileChange("dest/x.yaml", b"x", "wp-x")])
    assert git_server.read_tree("branchy", "destinations") == {"dest/x.yaml": b"x"}
    assert git_server.read_tree("branchy", "main") == {"main-only.txt": b"m"}


def test_a_concurrent_push_is_reapplied_and_nothing_is_lost(
    git_server: GitServer, make_writer: Any, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer(repo)
    writer.write([wp("wp-base", {"base.yaml": b"base"})])
    real_push = writer._push
    interfered: list[str] = []

    def push_after_someone_else(commit: str) -> bool:
        if not interfered:  # between our fetch and our push, someone else pushes
            interfered.append(
                git_server.push_as_someone_else(repo, {"theirs/file.yaml": b"theirs"}, "their commit")
            )
        return real_push(commit)

    monkeypatch.setattr(writer, "_push", push_after_someone_else)
    result = writer.write([wp("wp-ours", {"ours.yaml": b"ours"})])

    tree = git_server.read_tree(repo)
    assert tree["theirs/file.yaml"] == b"theirs"
    assert any(path.endswith("wp-ours/instance-configure/5058f/ours.yaml") for path in tree)
    assert any(path.endswith("base.yaml") for path in tree)
    assert git_server.commits(repo) == ["Update from: wp-ours", "their commit", "Update from: wp-base"]
    assert result.version_id == git_server.head(repo)


def test_a_branch_that_keeps_moving_gives_a_conflict_error(
    git_server: GitServer, make_writer: Any, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer(repo, max_push_attempts=3, retry_backoff=0)
    real_push = writer._push
    pushes: list[int] = []

    def always_beaten(commit: str) -> bool:
        pushes.append(1)
        git_server.push_as_someone_else(repo, {f"theirs/{len(pushes)}": b"x"}, f"theirs {len(pushes)}")
        return real_push(commit)

    monkeypatch.setattr(writer, "_push", always_beaten)
    with pytest.raises(WriteConflictError, match="3 attempts"):
        writer.write([wp("wp-a", {"a": b"a"})])
    assert len(pushes) == 3
    assert git_server.commits(repo) == ["theirs 3", "theirs 2", "theirs 1"]


def _busy_remote(
    writer: GitStateStoreWriter, git_server: GitServer, repo: str, seconds: float, monkeypatch: Any
) -> list[float]:
    """For ``seconds``, someone else moves the branch right before each of the writer's pushes."""
    import time

    real_push = writer._push
    until = time.monotonic() + seconds
    pushes: list[float] = []

    def beaten_while_busy(commit: str) -> bool:
        pushes.append(time.monotonic())
        if pushes[-1] < until:
            git_server.push_as_someone_else(repo, {f"theirs/{len(pushes)}": b"x"}, f"theirs {len(pushes)}")
        return real_push(commit)

    monkeypatch.setattr(writer, "_push", beaten_while_busy)
    return pushes


def test_a_remote_busy_for_seconds_does_not_fail_the_write(
    git_server: GitServer, make_writer: Any, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 11, item 11: five attempts from 0.05 s gave up after about a second.
    writer = make_writer(repo)
    pushes = _busy_remote(writer, git_server, repo, 3.0, monkeypatch)
    result = writer.write([wp("wp-a", {"a": b"a"})])
    assert result.changed and result.version_id == git_server.head(repo)
    assert pushes[-1] - pushes[0] >= 3.0 and len(pushes) >= 3
    commits = git_server.commits(repo)
    assert commits[0] == "Update from: wp-a" and commits.count("Update from: wp-a") == 1
    assert len(commits) == len(pushes)  # theirs, one per rejected push, then ours once


def test_a_remote_busy_past_the_horizon_gives_a_conflict_error_in_time(
    git_server: GitServer, make_writer: Any, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    writer = make_writer(repo, retry_horizon=1.5)
    pushes = _busy_remote(writer, git_server, repo, 60.0, monkeypatch)
    started = time.monotonic()
    with pytest.raises(WriteConflictError, match=r"over 1\.5s"):
        writer.write([wp("wp-a", {"a": b"a"})])
    assert 1.5 <= time.monotonic() - started < 6
    assert "Update from: wp-a" not in git_server.commits(repo) and len(pushes) >= 2


def test_two_writers_racing_on_one_store_both_land(
    git_server: GitServer, make_writer: Any, repo: str, tmp_path: Path
) -> None:
    # Separate caches = separate clones, as two operator replicas would have.
    writers = [make_writer(repo, cache_dir=tmp_path / f"cache-{i}", max_push_attempts=20) for i in range(2)]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            for round_ in range(4):
                writers[index].write([wp(f"wp-{index}-{round_}", {"x.yaml": b"x"})])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    tree = git_server.read_tree(repo)
    assert len(tree) == 8
    assert len(git_server.commits(repo)) == 8


def test_unsafe_paths_are_rejected_and_nothing_is_written(
    git_server: GitServer, make_writer: Any, repo: str
) -> None:
    writer = make_writer(repo)
    writer.write([wp("wp-a", {"a": b"a"})])
    before = git_server.head(repo)
    for bad in (
        [wp("wp-good", {"ok.yaml": b"ok"}), wp("wp-bad", {"../../../escape.yaml": b"x"})],
        [wp("wp-good", {"ok.yaml": b"ok"}), DirChange("/etc", {"passwd": b"x"}, "wp-bad")],
        [FileChange(".git/config", b"x", "wp-bad")],
        [FileChange("dest/a\0b", b"x", "wp-bad")],
        [DirChange("dest/..", None, "wp-bad")],
        [DirChange("", None, "wp-bad")],
    ):
        with pytest.raises(UnsafePathError, match="wp-bad"):
            writer.write(bad)
    assert git_server.head(repo) == before
    assert len(git_server.read_tree(repo)) == 1


def test_wrong_credentials_give_a_clear_error_without_the_password(
    git_server: GitServer, make_writer: Any, repo: str, tmp_path: Path
) -> None:
    password = "wrong-but-very-secret-pw"
    writer = make_writer(repo, secret={"username": "kratix", "password": password})

    with pytest.raises(AuthenticationError) as on_ready:
        writer.check_ready()
    with pytest.raises(AuthenticationError) as on_write:
        writer.write([wp("wp-a", {"a": b"a"})])

    for raised in (on_ready, on_write):
        message = str(raised.value)
        assert password not in message
        assert git_server.http_url(repo) in message
        assert "rejected the credentials" in message
        assert "Secret" in message
    # Nor is it anywhere in the cached clone (config, logs, refs...).
    for file in (tmp_path / "cache").rglob("*"):
        if file.is_file():
            assert password.encode() not in file.read_bytes(), file
    assert git_server.commits(repo) == []


def test_credentials_in_the_url_never_reach_disk(
    git_server: GitServer, make_writer: Any, repo: str, tmp_path: Path
) -> None:
    url = git_server.http_url(repo).replace("http://", f"http://kratix:{git_server.password}@")
    writer = make_writer(repo, url=url, secret=None)
    writer.write([wp("wp-a", {"a": b"a"})])
    config = (writer.clone_dir / "config").read_text()
    assert git_server.password not in config
    assert git_server.http_url(repo) in config


def test_check_ready_asks_the_remote_not_the_clone(
    git_server: GitServer, make_writer: Any, repo: str
) -> None:
    writer = make_writer(repo)
    writer.check_ready()  # an empty repository (no branch yet) is ready: the first write creates it
    writer.write([wp("wp-a", {"a": b"a"})])
    writer.check_ready()
    assert len(git_server.commits(repo)) == 1  # the check pushed nothing

    # The clone is still cached locally; the remote repository is gone.
    subprocess.run(["rm", "-rf", str(git_server.repo_path(repo))], check=True)
    with pytest.raises(NotFoundError, match="not found"):
        writer.check_ready()


def test_check_ready_needs_write_permission_not_just_read(
    git_server: GitServer, make_writer: Any, repo: str
) -> None:
    make_writer(repo).write([wp("wp-a", {"a": b"a"})])
    reader = make_writer(repo, secret={"username": "reader", "password": "reader-pw"}, cache_dir=None)
    with pytest.raises(PermissionDeniedError, match="cannot push to branch 'main'"):
        reader.check_ready()
    with pytest.raises(PermissionDeniedError):
        reader.write([wp("wp-b", {"b": b"b"})])
    assert len(git_server.commits(repo)) == 1


def test_tls_is_verified_by_default(
    git_server: GitServer, make_writer: Any, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = git_server.https_url(repo)
    # Even an inherited switch must not turn verification off.
    monkeypatch.setenv("GIT_SSL_NO_VERIFY", "1")
    monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)
    with pytest.raises(TLSVerificationError, match="certificate"):
        make_writer(repo, url=url).check_ready()

    trusted = make_writer(repo, url=url, ca_bundle=git_server.ca_cert_pem)
    trusted.check_ready()
    assert trusted.write([wp("wp-tls", {"a": b"a"})]).changed

    skipping = make_writer(repo, url=url, insecure_skip_tls_verify=True)
    skipping.check_ready()
    assert not skipping.write([wp("wp-tls", {"a": b"a"})]).changed

    from_spec = GitStateStoreWriter.from_spec(
        {"url": url, "insecureSkipTLSVerify": True}, basic_auth(git_server)
    )
    try:
        from_spec.check_ready()
    finally:
        from_spec.close()


def test_from_spec_uses_kratix_fields_and_defaults(
    git_server: GitServer, make_writer: Any, repo: str
) -> None:
    spec = {"url": git_server.http_url(repo), "path": "/store", "gitAuthor": {"email": "k@example.com"}}
    writer = GitStateStoreWriter.from_spec(spec, basic_auth(git_server), timeout=20)
    try:
        assert (writer.branch, writer.prefix, writer.author_name, writer.author_email) == (
            "main", "store", "kratix", "k@example.com"
        )  # fmt: skip
        writer.write([FileChange("dest/x", b"x", "wp-x")])
        assert git_server.read_tree(repo) == {"store/dest/x": b"x"}
    finally:
        writer.close()


def test_ssh_writes_with_the_secret_key(git_server: GitServer, make_writer: Any, repo: str) -> None:
    secret = {"sshPrivateKey": git_server.ssh_private_key, "knownHosts": git_server.known_hosts}
    writer = make_writer(repo, url=git_server.ssh_url(repo), auth_method="ssh", secret=secret)
    writer.check_ready()
    assert writer.write([wp("wp-ssh", {"a.yaml": b"over ssh"})]).changed
    assert not writer.write([wp("wp-ssh", {"a.yaml": b"over ssh"})]).changed
    assert list(git_server.read_tree(repo).values()) == [b"over ssh"]
    assert git_server.commits(repo) == ["Update from: wp-ssh"]


def test_ssh_refuses_an_unknown_host_key(
    git_server: GitServer, make_writer: Any, repo: str, tmp_path: Path
) -> None:
    key = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    wrong_known_hosts = f"[127.0.0.1]:{git_server.ssh_port} " + " ".join(
        key.with_suffix(".pub").read_text().split()[:2]
    )
    secret = {"sshPrivateKey": git_server.ssh_private_key, "knownHosts": wrong_known_hosts}
    writer = make_writer(repo, url=git_server.ssh_url(repo), auth_method="ssh", secret=secret)
    with pytest.raises(HostKeyVerificationError, match="knownHosts"):
        writer.check_ready()


def test_the_ssh_key_is_on_disk_only_while_a_write_runs(
    git_server: GitServer, make_writer: Any, repo: str, tmp_path: Path
) -> None:
    # Issue 11, item 12: the key used to stay in $TMPDIR for the writer's whole life.
    root = tmp_path / "operator-root"
    root.mkdir()
    secret = {"sshPrivateKey": git_server.ssh_private_key, "knownHosts": git_server.known_hosts}
    writer = make_writer(repo, url=git_server.ssh_url(repo), auth_method="ssh", secret=secret, temp_root=root)
    assert not list(root.glob("kratix-git-auth-*")), "no key on disk before the first write"
    during: list[bytes] = []

    def look() -> None:
        folder = writer._access.files_on_disk
        assert folder is not None and folder.parent == root
        during.append((folder / "id").read_bytes())

    assert writer.write([wp("wp-ssh", {"a.yaml": b"over ssh"})], before_push=look).changed
    assert during and during[0].strip() == git_server.ssh_private_key.strip().encode()
    assert not list(root.glob("kratix-git-auth-*")), "the key went when the write ended"
    writer.check_ready()
    assert not list(root.glob("kratix-git-auth-*")), "and when the readiness check ended"
