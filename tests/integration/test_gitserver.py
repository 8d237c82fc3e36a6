"""The test Git server speaks real Git over HTTP(S) and SSH, with real authentication."""

from __future__ import annotations

import os
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kratix_py.local_platform.gitserver import GitServer, GitServerError

PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def server() -> Iterator[GitServer]:
    with GitServer(username="kratix", password=PASSWORD, read_only_users={"reader": "r-pw"}) as git_server:
        yield git_server


def git(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="tester",
        GIT_AUTHOR_EMAIL="tester@test",
        GIT_COMMITTER_NAME="tester",
        GIT_COMMITTER_EMAIL="tester@test",
        LC_ALL="C",
    )
    base.update(env or {})
    return subprocess.run(["git", *args], cwd=cwd, env=base, capture_output=True, text=True, check=False)


def with_credentials(url: str, password: str = PASSWORD) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://kratix:{password}@{rest}"


def commit_and_push(clone: Path, name: str, content: str, env: dict[str, str] | None = None) -> None:
    (clone / name).write_text(content)
    assert git("add", name, cwd=clone).returncode == 0
    assert git("commit", "-q", "-m", f"add {name}", cwd=clone).returncode == 0
    pushed = git("push", "-q", "origin", "HEAD:main", cwd=clone, env=env)
    assert pushed.returncode == 0, pushed.stderr


def test_http_clone_and_push_with_good_credentials(server: GitServer, tmp_path: Path) -> None:
    server.create_repo("http-good", initial_files={"README.md": b"hello\n"})
    cloned = git("clone", "-q", with_credentials(server.http_url("http-good")), str(tmp_path / "c"))
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "c" / "README.md").read_text() == "hello\n"

    commit_and_push(tmp_path / "c", "pushed.txt", "over http")

    assert server.read_tree("http-good") == {"README.md": b"hello\n", "pushed.txt": b"over http"}
    assert server.commits("http-good") == ["add pushed.txt", "Initial commit"]


def test_http_bad_or_missing_credentials_are_refused(server: GitServer, tmp_path: Path) -> None:
    server.create_repo("http-bad")
    wrong = git("ls-remote", with_credentials(server.http_url("http-bad"), "wrong"))
    assert wrong.returncode != 0
    assert "Authentication failed" in wrong.stderr

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(server.http_url("http-bad") + "/info/refs?service=git-upload-pack", timeout=5)
    assert raised.value.code == 401
    assert raised.value.headers["WWW-Authenticate"].startswith("Basic ")


def test_read_only_users_can_fetch_but_not_push(server: GitServer, tmp_path: Path) -> None:
    server.create_repo("read-only", initial_files={"f": b"x"})
    url = server.http_url("read-only").replace("http://", "http://reader:r-pw@")
    cloned = git("clone", "-q", url, str(tmp_path / "c"))
    assert cloned.returncode == 0, cloned.stderr
    (tmp_path / "c" / "g").write_text("y")
    git("add", "g", cwd=tmp_path / "c")
    git("commit", "-q", "-m", "try", cwd=tmp_path / "c")
    pushed = git("push", "-q", "origin", "HEAD:main", cwd=tmp_path / "c")
    assert pushed.returncode != 0
    assert "403" in pushed.stderr
    assert server.commits("read-only") == ["Initial commit"]


def test_https_verifies_against_the_generated_ca(server: GitServer, tmp_path: Path) -> None:
    server.create_repo("tls", initial_files={"f": b"x"})
    url = with_credentials(server.https_url("tls"))

    untrusted = git("ls-remote", url, env={"GIT_SSL_CAINFO": str(server.ca_cert_path.with_name("none.pem"))})
    assert untrusted.returncode != 0
    assert "certificate" in untrusted.stderr.lower() or "ssl" in untrusted.stderr.lower()

    trusted = git("ls-remote", url, env={"GIT_SSL_CAINFO": str(server.ca_cert_path)})
    assert trusted.returncode == 0, trusted.stderr
    assert "refs/heads/main" in trusted.stdout

    unverified = git("-c", "http.sslVerify=false", "ls-remote", url)
    assert unverified.returncode == 0, unverified.stderr
    assert server.ca_cert_pem.startswith("-----BEGIN CERTIFICATE-----")


def test_ssh_clone_and_push_with_the_client_key(server: GitServer, tmp_path: Path) -> None:
    server.create_repo("over-ssh", initial_files={"a.txt": b"a"})
    env = {"GIT_SSH_COMMAND": server.ssh_command()}
    cloned = git("clone", "-q", server.ssh_url("over-ssh"), str(tmp_path / "c"), env=env)
    assert cloned.returncode == 0, cloned.stderr

    commit_and_push(tmp_path / "c", "b.txt", "over ssh", env=env)

    assert server.read_tree("over-ssh") == {"a.txt": b"a", "b.txt": b"over ssh"}
    # The same repository is reachable over HTTP: one store, several transports.
    via_http = git("ls-remote", with_credentials(server.http_url("over-ssh")))
    assert server.head("over-ssh") in via_http.stdout


def test_ssh_is_restricted_to_git_and_to_the_known_key(server: GitServer, tmp_path: Path) -> None:
    ssh = [
        "ssh", "-F", "/dev/null", "-i", str(server.ssh_private_key_path), "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={server.known_hosts_path}", "-o", "StrictHostKeyChecking=yes",
        "-p", str(server.ssh_port), f"{server.ssh_user}@127.0.0.1",
    ]  # fmt: skip
    shell = subprocess.run([*ssh, "cat /etc/hostname"], capture_output=True, text=True, check=False)
    assert shell.returncode != 0
    assert "only git transport commands" in shell.stderr
    outside = subprocess.run([*ssh, "git-upload-pack '/etc'"], capture_output=True, text=True, check=False)
    assert outside.returncode != 0

    other_key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    server.create_repo("locked")
    command = server.ssh_command().replace(str(server.ssh_private_key_path), str(other_key))
    denied = git("ls-remote", server.ssh_url("locked"), env={"GIT_SSH_COMMAND": command})
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    assert server.known_hosts.startswith(f"[127.0.0.1]:{server.ssh_port} ssh-ed25519 ")
    assert "PRIVATE KEY" in server.ssh_private_key


def test_push_as_someone_else_moves_the_branch(server: GitServer) -> None:
    server.create_repo("shared", branch="trunk", initial_files={"keep": b"1", "drop": b"2"})
    before = server.head("shared", "trunk")
    after = server.push_as_someone_else(
        "shared", {"theirs/x": b"3", "drop": None}, "their change", branch="trunk"
    )
    assert after != before
    assert server.head("shared", "trunk") == after
    assert server.read_tree("shared", "trunk") == {"keep": b"1", "theirs/x": b"3"}
    assert server.commits("shared", "trunk") == ["their change", "Initial commit"]
    assert server.commits("shared", "main") == []
    assert server.read_tree("shared", "main") == {}


def test_repo_names_are_validated(server: GitServer) -> None:
    for bad in ("../escape", "/abs", "a/../b", ""):
        with pytest.raises(GitServerError):
            server.create_repo(bad)
    server.create_repo("team/nested.git")
    assert server.repo_path("team/nested").is_dir()
    assert server.http_url("team/nested").endswith("/team/nested.git")


def test_stop_releases_everything() -> None:
    git_server = GitServer(password="x").start()
    ports = [git_server.http_port, git_server.https_port, git_server.ssh_port]
    sshd = git_server._sshd
    tmp = git_server.tmp_dir
    git_server.stop()
    assert sshd is not None and sshd.poll() is not None
    assert not tmp.exists()
    for port in ports:
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(1)
            sock.connect(("127.0.0.1", port))


def test_http_only_server_starts_fast() -> None:
    import time

    started = time.monotonic()
    with GitServer(https=False, ssh=False) as git_server:
        elapsed = time.monotonic() - started
        with pytest.raises(GitServerError):
            _ = git_server.ssh_port
        with pytest.raises(GitServerError):
            _ = git_server.ca_cert_pem
    assert elapsed < 1.0
