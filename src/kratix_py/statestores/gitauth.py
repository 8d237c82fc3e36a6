"""How the Git writer reaches its remote without leaking credentials.

* Credentials come from the GitStateStore Secret's key names (kratix-behaviour §1.3):
  basicAuth ``username`` (default ``x-access-token``) and ``password``; ssh ``sshPrivateKey``
  and ``knownHosts``; githubApp ``appID``, ``installationID`` and ``privateKey``, turned into an
  installation token that is the basic-auth password (:mod:`.githubapp`), fetched again as each
  token nears its expiry.
* Nothing secret is ever put in a URL, in ``.git/config`` or on a command line. HTTP(S)
  credentials travel as an ``Authorization`` header scoped to the remote's URL, handed to git
  through ``GIT_CONFIG_*`` environment variables; SSH uses a private key file (0600) in a
  private directory and a known_hosts file with strict host-key checking.
* TLS is verified by default (Kratix turns it off; §7.2); ``insecure_skip_tls_verify`` opts out
  and a CA bundle adds trust: the Secret's ``ca.crt`` (or ``caFile``), the keys Flux's
  GitRepository reads. An inherited ``GIT_SSL_NO_VERIFY`` is dropped, so verification cannot be
  switched off by accident. What is still unsafe (basic-auth credentials over plain ``http://``,
  verification switched off) is returned by :func:`transport_warnings` for the store's status.
* git runs with ``LC_ALL=C`` and without the user's or system's git config, so it behaves as in
  the operator's pod and its messages can be classified into typed errors; every message we
  raise goes through :meth:`GitAccess.scrub` first.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shlex
import shutil
import tempfile
import urllib.parse
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import (
    AuthenticationError,
    ConfigurationError,
    HostKeyVerificationError,
    NotFoundError,
    PermissionDeniedError,
    StateStoreError,
    TLSVerificationError,
    UnreachableError,
)
from .githubapp import GitHubApp, InstallationTokens, github_app_from_secret

__all__ = [
    "CA_BUNDLE_KEYS",
    "DEFAULT_USERNAME",
    "GitAccess",
    "GitCredentials",
    "RemoteURL",
    "TransportWarning",
    "ca_bundle_from_secret",
    "classify_git_failure",
    "credentials_from_secret",
    "parse_remote_url",
    "transport_warnings",
]

DEFAULT_USERNAME = "x-access-token"
CA_BUNDLE_KEYS = ("ca.crt", "caFile")
"""Secret keys holding the CA bundle to trust for https remotes, as Flux's GitRepository reads
them: ``ca.crt``, and ``caFile``, which older Flux versions used and still accept. The same
Secret can then serve a store and the Flux source that syncs from it."""
AuthMethod = Literal["basicAuth", "ssh", "githubApp"]

# Inherited variables that would change what git does behind our back.
# GIT_SSL_CAINFO/CAPATH are kept: a CA bundle the pod's environment points at only adds trust.
_DROPPED_ENV = (
    "GIT_SSL_NO_VERIFY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_TRACE",
    "GIT_TRACE_CURL",
    "GIT_CURL_VERBOSE",
    "GIT_TRACE_PACKET",
    "LANGUAGE",
)


@dataclass(frozen=True)
class RemoteURL:
    """A remote URL split into what may be stored and shown, and what may not."""

    url: str  # without any user:password@ part for http(s); safe to show and store
    scheme: str  # "http", "https", "ssh" (also scp-like user@host:path), "file"
    username: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class GitCredentials:
    """Credentials resolved from the Secret (and, as a fallback, from the URL)."""

    method: Literal["none", "basicAuth", "ssh", "githubApp"]
    username: str = ""
    password: str = field(default="", repr=False)
    ssh_private_key: str = field(default="", repr=False)
    known_hosts: str = ""
    github_app: GitHubApp | None = None
    """For githubApp: the app installation whose tokens are the password of ``username``."""


_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!//)")


def parse_remote_url(url: str) -> RemoteURL:
    """Split ``url``; credentials in an http(s) URL are taken out of the stored form."""
    if not url or not isinstance(url, str):
        raise ConfigurationError("the state store's url is empty")
    if _SCP_LIKE.match(url) and "://" not in url:
        return RemoteURL(url=url, scheme="ssh")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ConfigurationError(f"url {_redact(url)!r} has no host")
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            netloc += f":{parts.port}"
        safe = urllib.parse.urlunsplit((scheme, netloc, parts.path, parts.query, ""))
        return RemoteURL(
            url=safe,
            scheme=scheme,
            username=urllib.parse.unquote(parts.username or ""),
            password=urllib.parse.unquote(parts.password or ""),
        )
    if scheme in ("ssh", "git+ssh", "ssh+git"):
        if parts.password:
            raise ConfigurationError("ssh urls may not contain a password; use sshPrivateKey in the Secret")
        return RemoteURL(url=url, scheme="ssh")
    if scheme == "file":
        return RemoteURL(url=url, scheme="file")
    raise ConfigurationError(
        f"url {_redact(url)!r} is not an http(s), ssh or file url; Git state stores need one of those"
    )


@dataclass(frozen=True)
class TransportWarning:
    """Something about how the store is reached that a person should fix, for its status."""

    reason: str
    """CamelCase, for a condition reason: ``CredentialsOverPlainHTTP``, ``TLSVerificationDisabled``."""
    message: str


def transport_warnings(
    remote: RemoteURL, credentials: GitCredentials, *, insecure_skip_tls_verify: bool = False
) -> list[TransportWarning]:
    """What is unsafe about reaching ``remote`` this way (never quoting a credential)."""
    warnings: list[TransportWarning] = []
    if remote.scheme == "http" and credentials.method in ("basicAuth", "githubApp"):
        warnings.append(
            TransportWarning(
                "CredentialsOverPlainHTTP",
                f"the basic-auth credentials for {remote.url} are sent in clear text over http://, "
                "readable by anyone on the network path; use an https:// url",
            )
        )
    app = credentials.github_app
    if app is not None and app.api_url.startswith("http://"):
        warnings.append(
            TransportWarning(
                "CredentialsOverPlainHTTP",
                f"the GitHub App's signed token requests to {app.api_url} are sent in clear text over "
                "http://, and the installation tokens come back the same way; use an https:// apiURL",
            )
        )
    if insecure_skip_tls_verify and remote.scheme == "https":
        warnings.append(
            TransportWarning(
                "TLSVerificationDisabled",
                f"insecureSkipTLSVerify is set, so the identity of {remote.url} is not checked; put the "
                f"server's CA certificate in the state store Secret under {CA_BUNDLE_KEYS[0]} instead",
            )
        )
    return warnings


def ca_bundle_from_secret(secret: Mapping[str, str | bytes] | None) -> bytes | None:
    """The PEM CA bundle in the store's Secret (``ca.crt``, else ``caFile``), or ``None``."""
    for key in CA_BUNDLE_KEYS:
        value = (secret or {}).get(key)
        if value:
            data = value.encode() if isinstance(value, str) else bytes(value)
            if b"-----BEGIN CERTIFICATE-----" not in data:
                raise ConfigurationError(
                    f"the state store Secret's {key} is not a PEM certificate bundle "
                    "(it must contain -----BEGIN CERTIFICATE-----)"
                )
            return data
    return None


def credentials_from_secret(
    auth_method: str, secret: Mapping[str, str | bytes] | None, remote: RemoteURL
) -> GitCredentials:
    """Read the Secret's keys for ``auth_method`` (``basicAuth``, ``ssh`` or ``githubApp``)."""
    data = {key: _text(value) for key, value in (secret or {}).items()}
    if auth_method == "basicAuth":
        if remote.scheme == "ssh":
            raise ConfigurationError(
                "authMethod basicAuth needs an http(s) url; use authMethod ssh for ssh urls"
            )
        password = data.get("password") or remote.password
        if not password:
            # No Secret, or one with only a CA bundle (a public repository behind a private CA).
            if not remote.password and set(data) <= set(CA_BUNDLE_KEYS):
                return GitCredentials(method="none")
            raise ConfigurationError("the state store Secret has no 'password' key (needed for basicAuth)")
        username = data.get("username") or remote.username or DEFAULT_USERNAME
        return GitCredentials(method="basicAuth", username=username, password=password)
    if auth_method == "ssh":
        if remote.scheme != "ssh":
            raise ConfigurationError(
                "authMethod ssh needs an ssh url (ssh://user@host/path or user@host:path)"
            )
        missing = [key for key in ("sshPrivateKey", "knownHosts") if not data.get(key)]
        if missing:
            raise ConfigurationError(
                f"the state store Secret is missing {', '.join(missing)} (needed for ssh)"
            )
        return GitCredentials(
            method="ssh", ssh_private_key=data["sshPrivateKey"], known_hosts=data["knownHosts"]
        )
    if auth_method == "githubApp":
        if remote.scheme not in ("http", "https"):
            raise ConfigurationError(
                "authMethod githubApp needs an https url (https://github.com/org/repo.git): "
                "installation tokens are HTTPS passwords"
            )
        host = urllib.parse.urlsplit(remote.url).netloc
        return GitCredentials(
            method="githubApp", username=DEFAULT_USERNAME, github_app=github_app_from_secret(data, host)
        )
    raise ConfigurationError(f"unknown authMethod {auth_method!r}; use basicAuth, ssh or githubApp")


class GitAccess:
    """The environment (and files) git needs to talk to one remote.

    A private key, known_hosts or CA bundle is on disk only inside :meth:`session` (the length of
    one write or readiness check), in a fresh 0700 directory under ``temp_root``: a killed process
    leaves at most the files of the one write it was doing, and the operator's start-up sweep of
    its temp root removes those.
    """

    def __init__(
        self,
        remote: RemoteURL,
        credentials: GitCredentials,
        *,
        insecure_skip_tls_verify: bool = False,
        ca_bundle: str | bytes | None = None,
        timeout: float = 60.0,
        temp_root: str | Path | None = None,
    ) -> None:
        self.remote = remote
        self._temp_root = str(temp_root) if temp_root is not None else None
        self._timeout = timeout
        self._files: dict[str, bytes] = {}
        self._session_dir: Path | None = None
        self._depth = 0
        self._cleanup: weakref.finalize | None = None
        self._secrets: list[str] = []
        config: dict[str, str] = {
            "credential.helper": "",  # no stored or prompted credentials, only ours
            "http.lowSpeedLimit": "1",
            "http.lowSpeedTime": str(max(1, int(timeout))),
        }
        env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
        env.pop("GIT_CONFIG_COUNT", None)
        env.update(
            {
                "LC_ALL": "C",
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_LITERAL_PATHSPECS": "1",
            }
        )
        if insecure_skip_tls_verify:
            config["http.sslVerify"] = "false"
        if ca_bundle:
            self._files["ca.pem"] = ca_bundle.encode() if isinstance(ca_bundle, str) else ca_bundle
        self.method = credentials.method
        self._username = credentials.username
        self._tokens: InstallationTokens | None = None
        self._recent_tokens: list[str] = []
        if credentials.method == "basicAuth":
            # Scoped to the remote URL so the header is never sent to another host.
            config[self._header_key] = self._basic_auth_header(credentials.password)
            self._secrets += [
                credentials.password,
                urllib.parse.quote(credentials.password, safe=""),
                self._encoded(credentials.password),
            ]
        elif credentials.method == "githubApp" and credentials.github_app is not None:
            # The header is set per session (see session()), from a token fresh enough for it.
            self._tokens = InstallationTokens(
                credentials.github_app,
                ca_bundle=self._files.get("ca.pem"),
                insecure_skip_tls_verify=insecure_skip_tls_verify,
                timeout=min(timeout, 20.0),
            )
        elif credentials.method == "ssh":
            key_text = credentials.ssh_private_key.replace("\r\n", "\n")
            # OpenSSH rejects a key without its final newline ("invalid format").
            self._files["id"] = (key_text if key_text.endswith("\n") else key_text + "\n").encode()
            self._files["known_hosts"] = (credentials.known_hosts.rstrip("\n") + "\n").encode()
        if remote.password:
            self._secrets.append(remote.password)
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for index, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        self._base_env = env
        self.env: dict[str, str] = dict(env)
        """git's environment; inside a session it also points at the key, known_hosts and CA files
        (and, for githubApp, carries the current installation token)."""
        self._sort_secrets()

    @property
    def _header_key(self) -> str:
        return f"http.{self.remote.url}.extraHeader"

    def _basic_auth_header(self, password: str) -> str:
        return f"Authorization: Basic {self._encoded(password)}"

    def _encoded(self, password: str) -> str:
        return base64.b64encode(f"{self._username}:{password}".encode()).decode()

    def _remember_token(self, token: str) -> None:
        # A long-lived writer gets a token an hour: scrub the last two (git's message may be
        # about the one before), not every token it ever used.
        if token not in self._recent_tokens:
            self._recent_tokens = [*self._recent_tokens[-1:], token]
            self._sort_secrets()

    def _sort_secrets(self) -> None:
        tokens = [
            form
            for token in self._recent_tokens
            for form in (token, urllib.parse.quote(token, safe=""), self._encoded(token))
        ]
        # Longest first, so a secret that contains another is removed whole.
        self._scrubbed = sorted({s for s in [*self._secrets, *tokens] if s}, key=len, reverse=True)

    def authenticate(self) -> None:
        """Get what the credentials need from elsewhere now (a GitHub App's installation token),
        so a writer that cannot authenticate fails when it is made, as Kratix's does."""
        if self._tokens is not None:
            self._tokens.token()

    def credentials_rejected(self) -> None:
        """The remote refused the credentials: fetch a new installation token next time (it may
        have been revoked early, e.g. by re-installing the app)."""
        if self._tokens is not None:
            self._tokens.forget()

    @property
    def files_on_disk(self) -> Path | None:
        """The directory holding the credential files right now (None outside a session)."""
        return self._session_dir

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Write the credential files for the commands run inside; remove them at the end."""
        if self._depth == 0 and self._tokens is not None:
            # Before any file is written: a failed token request leaves nothing behind.
            token = self._tokens.token()
            self._remember_token(token)
            header = self._basic_auth_header(token)
            self.env = _with_git_config(self._base_env, self._header_key, header)
        if self._depth == 0 and self._files:
            directory = Path(tempfile.mkdtemp(prefix="kratix-git-auth-", dir=self._temp_root))  # 0700
            # Even if close() is forgotten or a command raises, the files go with the session.
            self._cleanup = weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True)
            self._session_dir = directory
            env = dict(self.env)
            for name, content in self._files.items():
                path = directory / name
                path.write_bytes(content)
                path.chmod(0o600)
            if "ca.pem" in self._files:
                # The env var, not http.sslCAInfo: git lets GIT_SSL_CAINFO override the config.
                env["GIT_SSL_CAINFO"] = str(directory / "ca.pem")
            if "id" in self._files:
                env["GIT_SSH_COMMAND"] = " ".join(
                    [
                        "ssh -F /dev/null",
                        f"-i {shlex.quote(str(directory / 'id'))}",
                        "-o IdentitiesOnly=yes",
                        f"-o UserKnownHostsFile={shlex.quote(str(directory / 'known_hosts'))}",
                        "-o GlobalKnownHostsFile=/dev/null",
                        "-o StrictHostKeyChecking=yes",
                        "-o BatchMode=yes",
                        f"-o ConnectTimeout={max(1, int(self._timeout))}",
                    ]
                )
            self.env = env
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._end_session()

    def _end_session(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None
        self._session_dir = None
        self.env = dict(self._base_env)

    def scrub(self, text: str) -> str:
        """``text`` without any credential and without user:password@ parts of URLs."""
        for secret in self._scrubbed:
            text = text.replace(secret, "***")
        text = re.sub(r"(?i)(authorization:\s*\S+\s+)\S+", r"\1***", text)
        return _redact(text)

    def close(self) -> None:
        """Delete the key, known_hosts and CA files if a session left them."""
        self._end_session()


def classify_git_failure(stderr: str) -> type[StateStoreError]:
    """Map git's (``LC_ALL=C``) error output to the typed error a person can act on."""
    text = stderr.lower()
    checks: list[tuple[type[StateStoreError], tuple[str, ...]]] = [
        (
            HostKeyVerificationError,
            ("host key verification failed", "remote host identification has changed", "host key is known"),
        ),
        (
            TLSVerificationError,
            (
                "certificate verification failed",
                "ssl certificate problem",
                "certificate verify failed",
                "self-signed certificate",
                "self signed certificate",
                "unable to get local issuer certificate",
                "issuer certificate",
            ),
        ),
        (
            AuthenticationError,
            (
                "authentication failed",
                "could not read username",
                "could not read password",
                "returned error: 401",
                "permission denied (publickey",
                "invalid username or password",
                "invalid credentials",
            ),
        ),
        (
            PermissionDeniedError,
            ("returned error: 403", "write access to repository not granted", "permission to", "not allowed"),
        ),
        (
            UnreachableError,
            (
                "could not resolve host",
                "could not resolve hostname",
                "couldn't connect to server",
                "failed to connect",
                "connection refused",
                "connection timed out",
                "operation timed out",
                "network is unreachable",
                "no route to host",
                "connection reset",
                "ssh: connect to host",
                "timed out",
            ),
        ),
        (
            NotFoundError,
            (
                "repository not found",
                "not found",
                "does not appear to be a git repository",
                "returned error: 404",
                "no such file or directory",
            ),
        ),
    ]
    for error_type, needles in checks:
        if any(needle in text for needle in needles):
            return error_type
    return StateStoreError


def _with_git_config(env: Mapping[str, str], key: str, value: str) -> dict[str, str]:
    """``env`` with one more ``GIT_CONFIG_*`` entry."""
    count = int(env.get("GIT_CONFIG_COUNT", "0"))
    return {
        **env,
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": key,
        f"GIT_CONFIG_VALUE_{count}": value,
    }


def _redact(text: str) -> str:
    return re.sub(r"(?i)\b(https?://)[^/\s@]+@", r"\1", text)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
