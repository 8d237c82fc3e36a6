"""A real Git remote on 127.0.0.1 for tests: smart HTTP(S) with basic auth, and SSH.

Why a real server and not a ``file://`` remote: the state-store writers must be tested with the
transports and failure modes users meet (401s, TLS verification, SSH host keys, rejected
pushes). Everything runs from a private temporary directory and stops with :meth:`GitServer.stop`.

* HTTP: ``git http-backend`` (CGI) behind a threaded ``http.server``; every request needs HTTP
  basic auth with the configured username/password (401 + ``WWW-Authenticate`` otherwise).
* HTTPS (optional): the same handler behind TLS, with a throw-away CA and a server certificate
  for ``127.0.0.1``/``localhost`` made at start; :attr:`GitServer.ca_cert_pem` is the CA.
* SSH (optional): an ``sshd`` on a random port with its own config, host key and authorized
  key; the account is the current user's (sshd can only log in real accounts), and a forced
  command lets only git's transport commands run, only on this server's repositories.

Assertions read the bare repositories directly (:meth:`GitServer.read_tree`,
:meth:`GitServer.commits`), and :meth:`GitServer.push_as_someone_else` moves a branch the way a
concurrent writer would, to test push conflicts.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import getpass
import hmac
import ipaddress
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["GitServer", "GitServerError"]

_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_SSH_USER_OK = re.compile(r"^[A-Za-z0-9._-]+$")
# Temp dirs come from mkdtemp, but the forced-command script embeds the path in shell
# patterns, so refuse anything a shell could read as a glob or quote.
_SHELL_SAFE_PATH = re.compile(r"^[A-Za-z0-9/._-]+$")
_ZERO_SHA = "0" * 40


class GitServerError(RuntimeError):
    """The test Git server could not start or a repository operation on it failed."""


class GitServer:
    """Bare repositories served over HTTP basic auth, optional HTTPS and optional SSH.

    Use as a context manager (or call :meth:`start` / :meth:`stop`). Repository names may
    contain ``/`` (``team/store``); the ``.git`` suffix is added on disk and in URLs.
    """

    def __init__(
        self,
        username: str = "kratix",
        password: str | None = None,
        *,
        https: bool = True,
        ssh: bool = True,
        host: str = "127.0.0.1",
        read_only_users: Mapping[str, str] | None = None,
        http_port: int = 0,
        parent_dir: Path | None = None,
    ) -> None:
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(12)
        # {username: password} of HTTP users who may fetch but not push (403 on receive-pack),
        # to test permission checks that must ask the remote.
        self.read_only_users = dict(read_only_users or {})
        # (username, password) pairs that may also push: tokens handed out by a test's API server.
        self._extra_writers: set[tuple[str, str]] = set()
        self._want_https = https
        self._want_ssh = ssh
        self.host = host
        # 0 picks a free port; a fixed one gives people a clone URL that survives restarts.
        self._http_port = http_port
        # Where the private directory is made (default: the system's temporary directory), so a
        # caller can keep everything it starts under one directory of its own.
        self._parent_dir = parent_dir
        self._tmp: Path | None = None
        self._http: _GitHTTPServer | None = None
        self._https: _GitHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._sshd: subprocess.Popen[bytes] | None = None
        self._ssh_port: int | None = None
        self._ca_pem: str | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Create the temp dir and start the HTTP (and HTTPS / SSH) listeners."""
        if self._tmp is not None:
            raise GitServerError("GitServer already started")
        self._tmp = Path(tempfile.mkdtemp(prefix="kratix-gitserver-", dir=self._parent_dir))
        self.repos_dir.mkdir()
        try:
            self._http = self._serve(tls=None, port=self._http_port)
            if self._want_https:
                self._https = self._serve(tls=self._make_tls_context(), port=0)
            if self._want_ssh:
                self._start_sshd()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every listener and the sshd this server started, then delete the temp dir."""
        for server in (self._http, self._https):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._http = self._https = None
        self._threads = []
        if self._sshd is not None:
            self._sshd.terminate()
            try:
                self._sshd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._sshd.kill()
                self._sshd.wait()
            self._sshd = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- locations
    @property
    def tmp_dir(self) -> Path:
        if self._tmp is None:
            raise GitServerError("GitServer is not started")
        return self._tmp

    @property
    def repos_dir(self) -> Path:
        """Directory holding the bare repositories (``<name>.git``)."""
        return self.tmp_dir / "repos"

    def rotate_password(self, password: str) -> None:
        """Accept only ``password`` for the writing user from now on (a credential rotation)."""
        self.password = password
        self._apply_users()

    def allow_password(self, username: str, password: str) -> None:
        """Also let ``username``/``password`` fetch and push (e.g. an installation token)."""
        self._extra_writers.add((username, password))
        self._apply_users()

    def revoke_password(self, username: str, password: str) -> None:
        """Stop accepting a pair given to :meth:`allow_password` (the token expired)."""
        self._extra_writers.discard((username, password))
        self._apply_users()

    def _apply_users(self, *servers: _GitHTTPServer | None) -> None:
        writers = {_basic_auth_value(self.username, self.password)} | {
            _basic_auth_value(u, p) for u, p in self._extra_writers
        }
        readers = writers | {_basic_auth_value(u, p) for u, p in self.read_only_users.items()}
        for server in servers or (self._http, self._https):
            if server is not None:
                # Replaced whole, so a request being checked sees the old or the new set.
                server.writers, server.readers = writers, readers

    def repo_path(self, name: str) -> Path:
        """Path of the bare repository ``name`` on disk."""
        return self.repos_dir / f"{_check_name(name)}.git"

    @property
    def http_port(self) -> int:
        if self._http is None:
            raise GitServerError("GitServer is not started")
        return int(self._http.server_address[1])

    @property
    def https_port(self) -> int:
        if self._https is None:
            raise GitServerError("HTTPS is not enabled on this GitServer")
        return int(self._https.server_address[1])

    @property
    def ssh_port(self) -> int:
        if self._ssh_port is None:
            raise GitServerError("SSH is not enabled on this GitServer")
        return self._ssh_port

    @property
    def ssh_user(self) -> str:
        """The account SSH clients log in as: the user running the server."""
        return getpass.getuser()

    def http_url(self, name: str) -> str:
        return f"http://{self.host}:{self.http_port}/{_check_name(name)}.git"

    def https_url(self, name: str) -> str:
        return f"https://{self.host}:{self.https_port}/{_check_name(name)}.git"

    def ssh_url(self, name: str) -> str:
        """``ssh://<user>@127.0.0.1:<port>/<absolute path>.git``; clones like the HTTP URL."""
        return f"ssh://{self.ssh_user}@{self.host}:{self.ssh_port}{self.repo_path(name)}"

    # ----------------------------------------------------------------- credentials
    @property
    def ca_cert_pem(self) -> str:
        """PEM of the CA that signed the HTTPS certificate (trust it to verify TLS)."""
        if self._ca_pem is None:
            raise GitServerError("HTTPS is not enabled on this GitServer")
        return self._ca_pem

    @property
    def ca_cert_path(self) -> Path:
        self.ca_cert_pem  # noqa: B018 - raises when HTTPS is off
        return self.tmp_dir / "tls" / "ca.pem"

    @property
    def ssh_private_key(self) -> str:
        """The client's private key (OpenSSH format) that the server accepts."""
        return self.ssh_private_key_path.read_text()

    @property
    def ssh_private_key_path(self) -> Path:
        self.ssh_port  # noqa: B018 - raises when SSH is off
        return self.tmp_dir / "ssh" / "client_key"

    @property
    def known_hosts(self) -> str:
        """One ``known_hosts`` line for ``[127.0.0.1]:<port>`` with the server's host key."""
        return self.known_hosts_path.read_text()

    @property
    def known_hosts_path(self) -> Path:
        self.ssh_port  # noqa: B018 - raises when SSH is off
        return self.tmp_dir / "ssh" / "known_hosts"

    def ssh_command(self) -> str:
        """A ``GIT_SSH_COMMAND`` that uses this server's client key and strict host checking."""
        return (
            f"ssh -F /dev/null -i {self.ssh_private_key_path} -o IdentitiesOnly=yes"
            f" -o UserKnownHostsFile={self.known_hosts_path} -o StrictHostKeyChecking=yes"
            " -o BatchMode=yes"
        )

    # ----------------------------------------------------------------- repositories
    def create_repo(
        self, name: str, branch: str = "main", initial_files: Mapping[str, bytes | str] | None = None
    ) -> None:
        """Create an empty bare repo whose HEAD is ``branch``; optionally commit files to it."""
        path = self.repo_path(name)
        if path.exists():
            raise GitServerError(f"repository {name!r} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        _git(None, "init", "--quiet", "--bare", "--initial-branch", branch, str(path))
        # Pushing over smart HTTP needs this when REMOTE_USER handling is not relied upon.
        _git(path, "config", "http.receivepack", "true")
        if initial_files:
            self._commit_files(path, branch, initial_files, "Initial commit", "GitServer", "gitserver@test")

    def read_tree(self, name: str, branch: str = "main") -> dict[str, bytes]:
        """Every file on ``branch`` as ``{path: content}``, read from the bare repo."""
        path = self.repo_path(name)
        if not _ref_exists(path, f"refs/heads/{branch}"):
            return {}
        listing = _git(path, "ls-tree", "-r", "-z", "--full-tree", f"refs/heads/{branch}")
        entries: list[tuple[str, str]] = []
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, raw_path = record.split(b"\t", 1)
            _mode, kind, sha = meta.decode().split()
            if kind == "blob":
                entries.append((raw_path.decode(), sha))
        if not entries:
            return {}
        batch = _git(path, "cat-file", "--batch", stdin="".join(f"{sha}\n" for _, sha in entries).encode())
        files: dict[str, bytes] = {}
        pos = 0
        for name_in_tree, _sha in entries:
            header_end = batch.index(b"\n", pos)
            size = int(batch[pos:header_end].split()[2])
            files[name_in_tree] = batch[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1  # content is followed by a newline
        return files

    def commits(self, name: str, branch: str = "main") -> list[str]:
        """Commit messages on ``branch``, newest first (each stripped of trailing blank lines)."""
        path = self.repo_path(name)
        if not _ref_exists(path, f"refs/heads/{branch}"):
            return []
        out = _git(path, "log", "-z", "--format=%B", f"refs/heads/{branch}")
        return [m.decode().strip() for m in out.split(b"\0") if m.strip()]

    def head(self, name: str, branch: str = "main") -> str | None:
        """The commit sha of ``branch``, or ``None`` if the branch does not exist."""
        path = self.repo_path(name)
        if not _ref_exists(path, f"refs/heads/{branch}"):
            return None
        return _git(path, "rev-parse", f"refs/heads/{branch}").decode().strip()

    def push_as_someone_else(
        self,
        name: str,
        files: Mapping[str, bytes | str | None],
        message: str,
        branch: str = "main",
    ) -> str:
        """Commit ``files`` (``None`` deletes a path) on top of ``branch`` as another author.

        Moves the branch directly in the bare repo (compare-and-swap on the old tip), which is
        what the remote looks like after someone else's push.
        """
        return self._commit_files(
            self.repo_path(name), branch, files, message, "someone-else", "someone-else@test"
        )

    # ----------------------------------------------------------------- internals
    def _commit_files(
        self,
        repo: Path,
        branch: str,
        files: Mapping[str, bytes | str | None],
        message: str,
        author: str,
        email: str,
    ) -> str:
        ref = f"refs/heads/{branch}"
        parent = _git(repo, "rev-parse", ref).decode().strip() if _ref_exists(repo, ref) else None
        with tempfile.TemporaryDirectory(prefix="idx-", dir=self.tmp_dir) as idx_dir:
            env = {"GIT_INDEX_FILE": str(Path(idx_dir) / "index")}
            if parent:
                _git(repo, "read-tree", parent, env=env)
            else:
                _git(repo, "read-tree", "--empty", env=env)
            lines: list[bytes] = []
            for file_path, content in files.items():
                if content is None:
                    lines.append(f"0 {_ZERO_SHA}\t{file_path}".encode() + b"\0")
                    continue
                data = content.encode() if isinstance(content, str) else content
                sha = _git(repo, "hash-object", "-w", "--stdin", stdin=data).decode().strip()
                lines.append(f"100644 {sha}\t{file_path}".encode() + b"\0")
            _git(
                repo,
                "update-index",
                "-z",
                "--add",
                "--replace",
                "--index-info",
                stdin=b"".join(lines),
                env=env,
            )
            tree = _git(repo, "write-tree", env=env).decode().strip()
        ident = {
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": email,
        }
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", parent]
        commit = _git(repo, *args, env=ident).decode().strip()
        _git(repo, "update-ref", ref, commit, parent or _ZERO_SHA)
        return commit

    def _serve(self, tls: ssl.SSLContext | None, port: int) -> _GitHTTPServer:
        server = _GitHTTPServer((self.host, port), _GitHTTPHandler)
        server.repos_dir = self.repos_dir
        self._apply_users(server)
        server.tls = tls
        server.git_home = self.tmp_dir
        # A short poll interval makes stop() quick (shutdown waits for the next poll).
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="gitserver-http", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        return server

    def _make_tls_context(self) -> ssl.SSLContext:
        tls_dir = self.tmp_dir / "tls"
        tls_dir.mkdir(mode=0o700)
        ca_pem, cert_pem, key_pem = _make_certificates(self.host)
        (tls_dir / "ca.pem").write_bytes(ca_pem)
        (tls_dir / "server.pem").write_bytes(cert_pem + ca_pem)
        (tls_dir / "server.key").write_bytes(key_pem)
        os.chmod(tls_dir / "server.key", 0o600)
        self._ca_pem = ca_pem.decode()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_dir / "server.pem", tls_dir / "server.key")
        return context

    def _start_sshd(self) -> None:
        sshd = shutil.which("sshd") or next(
            (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None
        )
        if sshd is None:
            raise GitServerError("sshd not found; install openssh-server (or start GitServer(ssh=False))")
        if not _SSH_USER_OK.match(self.ssh_user):
            raise GitServerError(f"cannot serve SSH for user name {self.ssh_user!r}")
        repos = str(self.repos_dir)
        if not _SHELL_SAFE_PATH.match(repos):
            raise GitServerError(f"temp dir {repos!r} is not safe to embed in the sshd forced command")
        if os.geteuid() == 0:
            # sshd running as root insists on its privilege-separation directory; the Debian
            # package creates it only when the service is started by the init system.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        ssh_dir = self.tmp_dir / "ssh"
        ssh_dir.mkdir(mode=0o700)
        host_key = ssh_dir / "host_key"
        client_key = ssh_dir / "client_key"
        for key, comment in ((host_key, "gitserver-host"), (client_key, "gitserver-client")):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
                check=True,
                capture_output=True,
            )
        guard = ssh_dir / "git-only"
        guard.write_text(_GUARD_SCRIPT.format(root=repos))
        guard.chmod(0o755)
        (ssh_dir / "authorized_keys").write_text(f"restrict {(ssh_dir / 'client_key.pub').read_text()}")
        port = _free_port(self.host)
        config = ssh_dir / "sshd_config"
        config.write_text(
            _SSHD_CONFIG.format(
                port=port,
                host=self.host,
                host_key=host_key,
                pid_file=ssh_dir / "sshd.pid",
                authorized_keys=ssh_dir / "authorized_keys",
                user=self.ssh_user,
                guard=guard,
            )
        )
        log = (ssh_dir / "sshd.log").open("wb")
        # -D: stay in the foreground so the Popen handle is the daemon; -e: log to stderr.
        self._sshd = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        # sshd writes its pid file only after it is listening, so this avoids probing the port.
        while not (ssh_dir / "sshd.pid").exists():
            if self._sshd.poll() is not None:
                raise GitServerError(f"sshd exited at start: {(ssh_dir / 'sshd.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise GitServerError("sshd did not start within 10 s")
            time.sleep(0.005)
        host_pub = (ssh_dir / "host_key.pub").read_text().split()
        (ssh_dir / "known_hosts").write_text(f"[{self.host}]:{port} {host_pub[0]} {host_pub[1]}\n")
        self._ssh_port = port


# --------------------------------------------------------------------- SSH config
_SSHD_CONFIG = """\
Port {port}
ListenAddress {host}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PermitTTY no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PrintMotd no
AcceptEnv GIT_PROTOCOL
ForceCommand {guard}
LogLevel ERROR
"""

# Runs as sshd's ForceCommand: git sends "git-upload-pack '<path>'" and friends; anything else
# (a shell, a path outside the repositories, "..") is refused.
_GUARD_SCRIPT = """\
#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *..*) ;;
  "git-upload-pack '{root}/"*"'" | "git-receive-pack '{root}/"*"'" | "git-upload-archive '{root}/"*"'")
    exec git-shell -c "$SSH_ORIGINAL_COMMAND" ;;
esac
echo "GitServer: only git transport commands on this server's repositories are allowed" >&2
exit 1
"""


# --------------------------------------------------------------------- HTTP
class _GitHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Set by GitServer._serve before serving.
    repos_dir: Path
    writers: set[str]  # accepted Authorization header values
    readers: set[str]
    tls: ssl.SSLContext | None
    git_home: Path

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            # Defer the handshake to the handler thread so a slow client cannot block accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that reject our certificate or hang up are part of the tests; stay quiet.
        return


class _GitHTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _GitHTTPServer
    timeout = 30
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's
    # delayed ACK stalls every response by ~40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve_git()

    def do_POST(self) -> None:
        self._serve_git()

    def _serve_git(self) -> None:
        body = self._read_body()
        supplied = self.headers.get("Authorization", "")
        if not _matches_any(supplied, self.server.readers):
            self._send(
                401, {"WWW-Authenticate": 'Basic realm="kratix-py GitServer"'}, b"authentication required\n"
            )
            return
        parsed = urllib.parse.urlsplit(self.path)
        pushing = parsed.path.endswith("/git-receive-pack") or "service=git-receive-pack" in parsed.query
        if pushing and not _matches_any(supplied, self.server.writers):
            self._send(403, {}, b"this user may not push\n")
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.server.git_home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": str(self.server.repos_dir),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(parsed.path),
            "QUERY_STRING": parsed.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": supplied and _user_of(supplied),
            "REMOTE_ADDR": str(self.client_address[0]),
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, sep, payload = proc.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = proc.stdout.partition(b"\n\n")
        if not sep:
            self._send(500, {}, b"git http-backend failed: " + proc.stderr[-2000:])
            return
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        self._send(status, headers, payload)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            # git streams large pushes chunked; http-backend wants a plain body.
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _basic_auth_value(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _matches_any(supplied: str, accepted: set[str]) -> bool:
    # Compare against every accepted value without short-circuiting (constant time).
    results = [hmac.compare_digest(supplied.encode(), value.encode()) for value in accepted]
    return any(results)


def _user_of(authorization: str) -> str:
    with contextlib.suppress(ValueError):
        return base64.b64decode(authorization.split(" ", 1)[1]).decode().split(":", 1)[0]
    return ""


# --------------------------------------------------------------------- helpers
def _check_name(name: str) -> str:
    name = name.removesuffix(".git")
    if not _REPO_NAME.match(name):
        raise GitServerError(f"invalid repository name {name!r}: use letters, digits, '.', '_', '-' and '/'")
    return name


def _git(
    repo: Path | None, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> bytes:
    command = ["git"] + (["--git-dir", str(repo)] if repo is not None else []) + list(args)
    # The server's own git ignores the user's config so repositories look the same everywhere.
    full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, **(env or {})}
    proc = subprocess.run(command, input=stdin, env=full_env, capture_output=True, check=False)
    if proc.returncode != 0:
        raise GitServerError(
            f"{' '.join(command[:4])}... failed: {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout


def _ref_exists(repo: Path, ref: str) -> bool:
    command = ["git", "--git-dir", str(repo), "show-ref", "--verify", "--quiet", ref]
    return subprocess.run(command, check=False).returncode == 0


def _free_port(host: str) -> int:
    # sshd takes a port number in its config, so pick a free one (a tiny race is acceptable
    # for tests; sshd fails loudly if someone grabbed it).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _make_certificates(host: str) -> tuple[bytes, bytes, bytes]:
    """A throw-away CA and a server certificate for ``host`` and ``localhost`` (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kratix-py GitServer test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca_cert.public_bytes(pem), cert.public_bytes(pem), key_pem
