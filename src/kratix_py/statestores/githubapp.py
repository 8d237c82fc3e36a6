"""``authMethod: githubApp``: a GitHub App's installation token as the Git password.

As Kratix does (kratix-behaviour §1.3): the store's Secret holds ``appID``, ``installationID``
and ``privateKey`` (the app's PEM RSA key). The writer signs a short JWT with the key (RS256,
``iss`` = the app ID), POSTs it to ``<api>/app/installations/<installationID>/access_tokens``
and uses the answer's ``token`` as the HTTPS basic-auth password of user ``x-access-token``.

Unlike Kratix, which fetches one token when the writer is made, the token is cached and fetched
again :data:`REFRESH_MARGIN` before its ``expires_at``, so a writer that lives longer than the
token's hour keeps working.

The API is ``https://api.github.com`` for github.com remotes and ``https://<host>/api/v3`` for
any other host (GitHub Enterprise Server); the Secret's ``apiURL`` key overrides it (a proxy,
another path). The request trusts the system's CA store plus the Secret's CA bundle, the one
git uses, and follows the store's ``insecureSkipTLSVerify``, so the API and the remote of one
store are trusted alike.

The private key, the JWT and the tokens never appear in an error message: the messages name the
Secret key or the HTTP status to fix instead.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    StateStoreError,
    TLSVerificationError,
    UnreachableError,
)

__all__ = [
    "API_URL_KEY",
    "GITHUB_APP_KEYS",
    "JWT_LIFETIME",
    "REFRESH_MARGIN",
    "GitHubApp",
    "InstallationToken",
    "InstallationTokens",
    "api_base_for",
    "app_jwt",
    "github_app_from_secret",
]

GITHUB_APP_KEYS = ("appID", "installationID", "privateKey")
API_URL_KEY = "apiURL"
"""Optional Secret key: the GitHub API base URL, when it is not derived from the remote's host."""
JWT_LIFETIME = 9 * 60
"""Seconds a JWT is valid after now. GitHub refuses ``exp`` more than 10 minutes after ``iat``;
``iat`` is backdated a minute for clock drift, so 9 minutes keep the span at 10."""
JWT_BACKDATE = 60
REFRESH_MARGIN = 5 * 60.0
"""A cached token is replaced this many seconds before it expires, so no git command starts with
a token that runs out while it runs."""
DEFAULT_TOKEN_LIFETIME = 3600.0
"""GitHub's installation tokens last an hour; assumed when an answer has no ``expires_at``."""

_INSTALLATION_ID = re.compile(r"^[0-9]+$")
_APP_ID = re.compile(r"^[A-Za-z0-9._-]+$")  # a numeric app ID or an app's client ID (Iv1...)
_MAX_ERROR_DETAIL = 200


@dataclass(frozen=True)
class GitHubApp:
    """A GitHub App installation, as read from the store's Secret."""

    app_id: str
    installation_id: str
    private_key: Any = field(repr=False)
    """The loaded RSA private key (a ``cryptography`` key object, never its text)."""
    api_url: str

    @property
    def token_url(self) -> str:
        return f"{self.api_url}/app/installations/{self.installation_id}/access_tokens"


@dataclass(frozen=True)
class InstallationToken:
    token: str = field(repr=False)
    expires_at: float
    """Unix time."""


def api_base_for(host: str, override: str | None = None) -> str:
    """The GitHub REST API base for a remote on ``host`` (``host[:port]``), without a final ``/``.

    github.com (and www.github.com) use ``https://api.github.com``; any other host is taken to be
    GitHub Enterprise Server, whose API lives under ``/api/v3`` on the same host.
    """
    if override:
        parts = urllib.parse.urlsplit(override.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ConfigurationError(
                f"the state store Secret's {API_URL_KEY} must be an http(s) URL such as "
                "https://github.example.com/api/v3 (no query or fragment)"
            )
        if parts.username or parts.password:
            raise ConfigurationError(
                f"the state store Secret's {API_URL_KEY} may not contain credentials; "
                "the app authenticates with its privateKey"
            )
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    name = host.lower()
    if name in ("github.com", "www.github.com"):
        return "https://api.github.com"
    return f"https://{name}/api/v3"


def github_app_from_secret(secret: Mapping[str, str], host: str) -> GitHubApp:
    """Validate the Secret's githubApp keys (``secret`` decoded to text) and load the key."""
    missing = [key for key in GITHUB_APP_KEYS if not (secret.get(key) or "").strip()]
    if missing:
        raise ConfigurationError(
            f"the state store Secret is missing {', '.join(missing)} (needed for authMethod githubApp: "
            "the app's ID, the installation's ID and the app's PEM private key)"
        )
    app_id = secret["appID"].strip()
    if not _APP_ID.match(app_id):
        raise ConfigurationError(
            "the state store Secret's appID must be the GitHub App's numeric ID (or its client ID), "
            "as shown on the app's settings page"
        )
    installation_id = secret["installationID"].strip()
    if not _INSTALLATION_ID.match(installation_id):
        raise ConfigurationError(
            "the state store Secret's installationID must be a number: the installation's ID, "
            "the last part of the URL of the app's installation settings"
        )
    return GitHubApp(
        app_id=app_id,
        installation_id=installation_id,
        private_key=_load_rsa_key(secret["privateKey"]),
        api_url=api_base_for(host, secret.get(API_URL_KEY)),
    )


def app_jwt(app: GitHubApp, now: float | None = None) -> str:
    """The app's JWT: RS256, ``iss`` = app ID, ``iat`` a minute ago, ``exp`` 9 minutes ahead."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    issued = int(time.time() if now is None else now)
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {"iat": issued - JWT_BACKDATE, "exp": issued + JWT_LIFETIME, "iss": app.app_id}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = app.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


class InstallationTokens:
    """Fetches the installation token and keeps it until :data:`REFRESH_MARGIN` before expiry.

    Thread-safe; one instance per writer.
    """

    def __init__(
        self,
        app: GitHubApp,
        *,
        ca_bundle: bytes | None = None,
        insecure_skip_tls_verify: bool = False,
        timeout: float = 20.0,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.refresh_margin = refresh_margin
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._current: InstallationToken | None = None
        self._tls = _tls_context(ca_bundle, insecure_skip_tls_verify)

    def token(self) -> str:
        """A token valid for at least ``refresh_margin`` more seconds (fetched if needed)."""
        with self._lock:
            current = self._current
            if current is None or self._clock() >= current.expires_at - self.refresh_margin:
                current = self._fetch()
                self._current = current
            return current.token

    def forget(self) -> None:
        """Drop the cached token (the remote refused it): the next :meth:`token` fetches one."""
        with self._lock:
            self._current = None

    def _fetch(self) -> InstallationToken:
        url = self.app.token_url
        jwt = app_jwt(self.app, self._clock())
        request = urllib.request.Request(
            url,
            data=b"",
            method="POST",
            headers={
                "Authorization": f"Bearer {jwt}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "kratix-py",
            },
        )
        what = f"cannot get an installation token from {url}"
        handlers: list[urllib.request.BaseHandler] = [_RefuseRedirects()]
        if url.startswith("https://"):
            handlers.append(urllib.request.HTTPSHandler(context=self._tls))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=self._timeout) as response:
                body = response.read(1 << 20)
        except urllib.error.HTTPError as error:
            raise _http_error(what, error, self.app, jwt) from None
        except urllib.error.URLError as error:
            raise _network_error(what, error.reason, self.app) from None
        except (TimeoutError, ssl.SSLError, OSError) as error:
            raise _network_error(what, error, self.app) from None
        try:
            answer = json.loads(body)
            token = answer["token"]
        except (ValueError, KeyError, TypeError):
            raise StateStoreError(
                f"{what}: the answer has no token (is {API_URL_KEY} the GitHub API? "
                "For GitHub Enterprise it ends in /api/v3)"
            ) from None
        if not isinstance(token, str) or not token:
            raise StateStoreError(f"{what}: the answer's token is empty")
        return InstallationToken(token, _expiry(answer.get("expires_at"), self._clock()))


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would send the Authorization header (the app's JWT) on to
    wherever it points. GitHub does not redirect this endpoint; a proxy or a wrong apiURL might."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _load_rsa_key(text: str) -> Any:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data = text.strip().replace("\r\n", "\n").encode()
    # Said before any parsing, so no message depends on (or quotes) the key's content.
    problem = (
        "the state store Secret's privateKey is not a PEM RSA private key; put the app's private key "
        "file (-----BEGIN RSA PRIVATE KEY-----, as GitHub generates it) there, unencrypted"
    )
    if b"-----BEGIN" not in data:
        raise ConfigurationError(problem)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigurationError(problem) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(problem + " (this is another kind of key; GitHub Apps sign with RSA)")
    return key


def _tls_context(ca_bundle: bytes | None, insecure: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()  # the system's CA store (and SSL_CERT_FILE)
    if ca_bundle:
        try:
            context.load_verify_locations(cadata=ca_bundle.decode("ascii", errors="replace"))
        except ssl.SSLError:
            raise ConfigurationError(
                "the state store Secret's CA bundle (ca.crt or caFile) holds no usable certificate"
            ) from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _http_error(what: str, error: urllib.error.HTTPError, app: GitHubApp, jwt: str) -> StateStoreError:
    detail = ""
    with contextlib.suppress(ValueError, AttributeError, OSError):
        detail = str(json.loads(error.read(1 << 16)).get("message") or "")
    # GitHub's message is about the request; should a server ever echo the JWT, it goes.
    detail = detail.replace(jwt, "***")[:_MAX_ERROR_DETAIL]
    said = f"{what}: HTTP {error.code}" + (f" ({detail})" if detail else "")
    if error.code == 401:
        return AuthenticationError(
            f"{said}; GitHub did not accept the app's JWT: check that appID is the app's ID and "
            "privateKey one of its current private keys, and that this machine's clock is right"
        )
    if error.code == 404:
        return NotFoundError(
            f"{said}; check installationID (installation {app.installation_id} of app {app.app_id} "
            f"was not found) and, for GitHub Enterprise, {API_URL_KEY}"
        )
    if 300 <= error.code < 400:
        return ConfigurationError(
            f"{what}: HTTP {error.code}, a redirect to {error.headers.get('Location', 'elsewhere')!s:.200}, "
            f"which is not followed (it would carry the app's JWT); set {API_URL_KEY} in the state store "
            "Secret to the GitHub API's own URL"
        )
    if error.code == 403:
        return PermissionDeniedError(
            f"{said}; the app may not create tokens for installation {app.installation_id} "
            "(suspended installation, or an IP allow list)"
        )
    return StateStoreError(f"{said}; will retry")


def _network_error(what: str, reason: object, app: GitHubApp) -> StateStoreError:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return TLSVerificationError(
            f"{what}: the server's TLS certificate is not trusted ({reason.verify_message}); put its CA "
            "certificate (PEM) in the state store Secret under ca.crt"
        )
    name = type(reason).__name__ if not isinstance(reason, str) else reason
    text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
    return UnreachableError(
        f"{what}: {text or name}; check the network to {app.api_url} and, if the API is elsewhere "
        f"(GitHub Enterprise, a proxy), set {API_URL_KEY} in the state store Secret"
    )


def _expiry(value: object, now: float) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return now + DEFAULT_TOKEN_LIFETIME


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
