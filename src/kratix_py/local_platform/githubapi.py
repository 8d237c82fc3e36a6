"""The part of GitHub's REST API a GitHub App's Git client uses, on 127.0.0.1, for tests.

``POST /app/installations/<id>/access_tokens`` checks the request as GitHub does: a JWT signed
RS256 with the app's private key (verified with its public key), ``iss`` the app's ID, ``iat``
not in the future, ``exp`` in the future and at most 10 minutes after ``iat``. It answers with a
fresh installation token and its ``expires_at``, and tells a :class:`~.gitserver.GitServer` to
accept the token as the password of ``x-access-token``, as GitHub's Git server would.

The app's RSA key pair is made at start (:attr:`GitHubAppAPI.private_key_pem` goes in the
store's Secret); HTTPS uses a throw-away CA (:attr:`GitHubAppAPI.ca_cert_pem`). Tests can shorten
the tokens' lifetime and :meth:`GitHubAppAPI.expire` a token to see that writers fetch new ones.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import json
import re
import secrets
import shutil
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from kratix_py.local_platform.gitserver import GitServer, _make_certificates

__all__ = ["TOKEN_USERNAME", "GitHubAppAPI", "IssuedToken"]

TOKEN_USERNAME = "x-access-token"
MAX_JWT_SPAN = 600  # GitHub: exp at most 10 minutes after iat
_TOKEN_PATH = re.compile(r"^/app/installations/([0-9]+)/access_tokens$")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float
    """Unix time, as announced in the answer's ``expires_at``."""


class GitHubAppAPI:
    """One GitHub App with one installation; use as a context manager."""

    def __init__(
        self,
        *,
        app_id: str = "424242",
        installation_id: str = "31337",
        git_server: GitServer | None = None,
        token_lifetime: float = 3600.0,
        https: bool = True,
        host: str = "127.0.0.1",
        parent_dir: Path | None = None,
    ) -> None:
        self.app_id = app_id
        self.installation_id = installation_id
        self.git_server = git_server
        self.token_lifetime = token_lifetime
        """Seconds each new token is valid (may be changed between requests)."""
        self.host = host
        self.issued: list[IssuedToken] = []
        self.refusals: list[str] = []
        """Why each refused request was refused, in order (for assertions)."""
        self.seen_jwts: list[str] = []
        self.redirect_to: str | None = None
        """When set, every request is answered with a 302 to this URL plus its path (a proxy or a
        misplaced apiURL); a client that follows it would re-send its Authorization header."""
        self._want_https = https
        self._parent_dir = parent_dir
        self._tmp: Path | None = None
        self._server: _APIServer | None = None
        self._thread: threading.Thread | None = None
        self._private_pem: str | None = None
        self._public_key: Any = None
        self._ca_pem: str | None = None
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # PKCS#1 ("BEGIN RSA PRIVATE KEY"), the format of the key files GitHub hands out.
        self._private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        self._public_key = key.public_key()
        self._tmp = Path(tempfile.mkdtemp(prefix="kratix-githubapi-", dir=self._parent_dir))
        server = _APIServer((self.host, 0), _APIHandler)
        server.api = self
        server.tls = self._make_tls_context() if self._want_https else None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="githubapi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
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

    # ----------------------------------------------------------------- what tests use
    @property
    def url(self) -> str:
        """The API base (what a store Secret's ``apiURL`` names)."""
        if self._server is None:
            raise RuntimeError("GitHubAppAPI is not started")
        scheme = "https" if self._server.tls is not None else "http"
        return f"{scheme}://{self.host}:{self._server.server_address[1]}"

    @property
    def private_key_pem(self) -> str:
        """The app's private key, as the ``privateKey`` of a store Secret."""
        if self._private_pem is None:
            raise RuntimeError("GitHubAppAPI is not started")
        return self._private_pem

    @property
    def ca_cert_pem(self) -> str:
        if self._ca_pem is None:
            raise RuntimeError("HTTPS is not enabled on this GitHubAppAPI")
        return self._ca_pem

    def secret_data(self) -> dict[str, str]:
        """A githubApp store Secret's keys for this app (``apiURL`` pointing here)."""
        data = {
            "appID": self.app_id,
            "installationID": self.installation_id,
            "privateKey": self.private_key_pem,
            "apiURL": self.url,
        }
        if self._ca_pem is not None:
            data["ca.crt"] = self._ca_pem
        return data

    @property
    def tokens(self) -> list[str]:
        with self._lock:
            return [issued.token for issued in self.issued]

    def expire(self, token: str) -> None:
        """The token's time is up: the Git server no longer accepts it."""
        if self.git_server is not None:
            self.git_server.revoke_password(TOKEN_USERNAME, token)

    # ----------------------------------------------------------------- the endpoint
    def _issue(self, path: str, headers: Any) -> tuple[int, dict[str, Any]]:
        if self.redirect_to is not None:
            return 302, {"location": self.redirect_to + path}
        found = _TOKEN_PATH.match(path)
        if found is None:
            return self._refuse(404, "no such endpoint", "Not Found")
        if "application/vnd.github+json" not in headers.get("Accept", ""):
            return self._refuse(415, "missing Accept: application/vnd.github+json", "Unsupported Media Type")
        scheme, _, jwt = headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not jwt:
            return self._refuse(401, "no bearer JWT", "A JSON web token could not be decoded")
        with self._lock:
            self.seen_jwts.append(jwt)
        problem = self._jwt_problem(jwt)
        if problem:
            return self._refuse(401, problem, problem)
        if found.group(1) != self.installation_id:
            return self._refuse(404, f"unknown installation {found.group(1)}", "Not Found")
        token = "ghs_" + secrets.token_urlsafe(27)
        expires_at = int(time.time() + self.token_lifetime)
        with self._lock:
            self.issued.append(IssuedToken(token, expires_at))
        if self.git_server is not None:
            self.git_server.allow_password(TOKEN_USERNAME, token)
        when = datetime.datetime.fromtimestamp(expires_at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {
            "token": token,
            "expires_at": when,
            "permissions": {"contents": "write", "metadata": "read"},
            "repository_selection": "all",
        }

    def _refuse(self, status: int, why: str, message: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.refusals.append(why)
        return status, {"message": message, "documentation_url": "https://docs.github.com/rest"}

    def _jwt_problem(self, jwt: str) -> str:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = jwt.split(".")
        if len(parts) != 3:
            return "A JSON web token could not be decoded"
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except (ValueError, binascii.Error):
            return "A JSON web token could not be decoded"
        if header.get("alg") != "RS256":
            return f"'alg' must be RS256, not {header.get('alg')!r}"
        try:
            self._public_key.verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return "A JSON web token could not be decoded (the signature does not match the app's key)"
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "'Issued at' and 'Expiration time' claims are required integers"
        if str(claims.get("iss")) != self.app_id:
            return f"'Issuer' claim ('iss') must be the app's ID {self.app_id}"
        if iat > now + 1:
            return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        if exp <= now:
            return "'Expiration time' claim ('exp') must be a numeric value representing the future time"
        if exp - iat > MAX_JWT_SPAN:
            return "'Expiration time' claim ('exp') is too far in the future"
        return ""

    def _make_tls_context(self) -> ssl.SSLContext:
        assert self._tmp is not None
        ca_pem, cert_pem, key_pem = _make_certificates(self.host)
        (self._tmp / "server.pem").write_bytes(cert_pem + ca_pem)
        (self._tmp / "server.key").write_bytes(key_pem)
        (self._tmp / "server.key").chmod(0o600)
        self._ca_pem = ca_pem.decode()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._tmp / "server.pem", self._tmp / "server.key")
        return context


class _APIServer(ThreadingHTTPServer):
    daemon_threads = True
    api: GitHubAppAPI
    tls: ssl.SSLContext | None

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # clients that distrust the certificate hang up; that is part of the tests


class _APIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _APIServer
    timeout = 30

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.do_POST()  # urllib turns a redirected POST into a GET: still record what it carries

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body = self.server.api._issue(self.path, self.headers)
        payload = json.dumps(body).encode()
        self.send_response(status)
        if "location" in body:
            self.send_header("Location", body["location"])
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(payload)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
