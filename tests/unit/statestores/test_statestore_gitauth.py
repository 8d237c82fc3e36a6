"""Git credentials: read from the Secret, handed to git without touching disk URLs, scrubbed."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from kratix_py.statestores.errors import (
    AuthenticationError,
    ConfigurationError,
    HostKeyVerificationError,
    NotFoundError,
    PermissionDeniedError,
    StateStoreError,
    TLSVerificationError,
    UnreachableError,
)
from kratix_py.statestores.gitauth import (
    DEFAULT_USERNAME,
    GitAccess,
    GitCredentials,
    classify_git_failure,
    credentials_from_secret,
    parse_remote_url,
)


def config_of(env: dict[str, str]) -> dict[str, str]:
    count = int(env["GIT_CONFIG_COUNT"])
    return {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)}


def test_http_url_credentials_are_taken_out_of_the_stored_url() -> None:
    remote = parse_remote_url("https://me:p%40ss@git.example.com:8443/org/repo.git")
    assert remote.url == "https://git.example.com:8443/org/repo.git"
    assert (remote.scheme, remote.username, remote.password) == ("https", "me", "p@ss")
    assert "p@ss" not in repr(remote)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("ssh://git@host:2222/org/repo.git", "ssh"),
        ("git@github.com:org/repo.git", "ssh"),
        ("file:///srv/repo.git", "file"),
        ("http://127.0.0.1:8080/repo.git", "http"),
    ],
)
def test_parse_remote_url_schemes(url: str, scheme: str) -> None:
    parsed = parse_remote_url(url)
    assert parsed.scheme == scheme
    assert parsed.url == url


@pytest.mark.parametrize("url", ["", "ftp://host/repo", "/just/a/path", "ssh://u:pw@host/repo"])
def test_parse_remote_url_refuses(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_remote_url(url)


def test_basic_auth_username_defaults_like_kratix() -> None:
    remote = parse_remote_url("https://github.com/org/repo.git")
    creds = credentials_from_secret("basicAuth", {"password": b"tok"}, remote)
    assert creds == GitCredentials(method="basicAuth", username=DEFAULT_USERNAME, password="tok")
    assert DEFAULT_USERNAME == "x-access-token"
    named = credentials_from_secret("basicAuth", {"username": "bob", "password": "pw"}, remote)
    assert named.username == "bob"


@pytest.mark.parametrize(
    ("method", "url", "secret", "message"),
    [
        ("basicAuth", "https://h/r.git", {"username": "u"}, "'password'"),
        ("basicAuth", "ssh://git@h/r.git", {"password": "p"}, "needs an http"),
        ("ssh", "https://h/r.git", {"sshPrivateKey": "k", "knownHosts": "h"}, "ssh url"),
        ("ssh", "ssh://git@h/r.git", {"sshPrivateKey": "k"}, "knownHosts"),
        ("githubApp", "https://github.com/o/r.git", {}, "missing appID, installationID, privateKey"),
        ("token", "https://h/r.git", {}, "unknown authMethod"),
    ],
)
def test_credentials_from_secret_explains_what_is_missing(
    method: str, url: str, secret: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        credentials_from_secret(method, secret, parse_remote_url(url))


def test_no_secret_means_anonymous() -> None:
    creds = credentials_from_secret("basicAuth", None, parse_remote_url("file:///srv/r.git"))
    assert creds.method == "none"


def test_basic_auth_becomes_a_url_scoped_header_and_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_SSL_NO_VERIFY", "1")
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'http.sslverify'='false'")
    remote = parse_remote_url("https://git.example.com/org/repo.git")
    access = GitAccess(remote, GitCredentials("basicAuth", "bob", "hunter2!"))
    try:
        config = config_of(access.env)
        token = base64.b64encode(b"bob:hunter2!").decode()
        assert (
            config["http.https://git.example.com/org/repo.git.extraHeader"] == f"Authorization: Basic {token}"
        )
        assert config["credential.helper"] == ""
        assert "http.sslVerify" not in config
        # Inherited switches that would disable verification are gone.
        assert "GIT_SSL_NO_VERIFY" not in access.env
        assert "GIT_CONFIG_PARAMETERS" not in access.env
        assert access.env["GIT_TERMINAL_PROMPT"] == "0"
        assert access.env["LC_ALL"] == "C"
        leaked = f"fatal: https://bob:hunter2!@git.example.com failed; header Authorization: Basic {token}; pw=hunter2%21"
        scrubbed = access.scrub(leaked)
        assert "hunter2" not in scrubbed
        assert token not in scrubbed
        assert "https://git.example.com" in scrubbed
    finally:
        access.close()


def test_tls_options() -> None:
    remote = parse_remote_url("https://h/r.git")
    insecure = GitAccess(remote, GitCredentials("none"), insecure_skip_tls_verify=True)
    with_ca = GitAccess(remote, GitCredentials("none"), ca_bundle="-----BEGIN CERTIFICATE-----\n")
    try:
        assert config_of(insecure.env)["http.sslVerify"] == "false"
        assert with_ca.files_on_disk is None, "the CA file exists only inside a session"
        with with_ca.session():
            ca_file = Path(with_ca.env["GIT_SSL_CAINFO"])
            assert ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
            assert "http.sslVerify" not in config_of(with_ca.env)
        assert not ca_file.exists(), "and goes when the session ends"
    finally:
        insecure.close()
        with_ca.close()
    assert not ca_file.exists()


def test_ssh_key_file_is_private_and_host_keys_are_strict() -> None:
    remote = parse_remote_url("ssh://git@h:2222/r.git")
    creds = GitCredentials("ssh", ssh_private_key="KEY-TEXT", known_hosts="[h]:2222 ssh-ed25519 AAAA")
    access = GitAccess(remote, creds)
    try:
        assert "GIT_SSH_COMMAND" not in access.env, "no key on disk outside a session"
        with access.session():
            command = access.env["GIT_SSH_COMMAND"]
            assert "StrictHostKeyChecking=yes" in command
            assert "BatchMode=yes" in command
            key_file = Path(command.split("-i ", 1)[1].split()[0])
            assert key_file.read_text() == "KEY-TEXT\n"  # OpenSSH needs the final newline
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert not key_file.exists() and not key_file.parent.exists()
    finally:
        access.close()


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("fatal: Authentication failed for 'https://h/r.git/'", AuthenticationError),
        ("fatal: could not read Username for 'http://h': terminal prompts disabled", AuthenticationError),
        ("git@h: Permission denied (publickey).", AuthenticationError),
        (
            "remote: Write access to repository not granted.\nfatal: ... returned error: 403",
            PermissionDeniedError,
        ),
        ("Host key verification failed.", HostKeyVerificationError),
        (
            "fatal: unable to access 'https://h/': server certificate verification failed. CAfile: none",
            TLSVerificationError,
        ),
        ("SSL certificate problem: self-signed certificate", TLSVerificationError),
        (
            "fatal: unable to access 'http://h:1/': Failed to connect to h port 1: Couldn't connect to server",
            UnreachableError,
        ),
        ("ssh: connect to host h port 22: Connection refused", UnreachableError),
        ("fatal: unable to access 'https://nope/': Could not resolve host: nope", UnreachableError),
        ("fatal: repository 'http://h/x.git/' not found", NotFoundError),
        ("fatal: '/srv/x.git' does not appear to be a git repository", NotFoundError),
        ("error: something else entirely", StateStoreError),
    ],
)
def test_classify_git_failure(stderr: str, expected: type[StateStoreError]) -> None:
    assert classify_git_failure(stderr) is expected


def test_a_secret_with_only_a_ca_bundle_means_no_credentials() -> None:
    from kratix_py.statestores.gitauth import ca_bundle_from_secret

    remote = parse_remote_url("https://git.example/repo.git")
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert credentials_from_secret("basicAuth", {"ca.crt": pem}, remote).method == "none"
    assert ca_bundle_from_secret({"caFile": pem.decode()}) == pem
    assert ca_bundle_from_secret({"password": "x"}) is None
    with pytest.raises(ConfigurationError, match="no 'password' key"):
        credentials_from_secret("basicAuth", {"ca.crt": pem, "pasword": b"typo"}, remote)


def test_transport_warnings_say_what_is_unsafe() -> None:
    from kratix_py.statestores.gitauth import GitCredentials, transport_warnings

    basic = GitCredentials(method="basicAuth", username="u", password="p")
    http, https = parse_remote_url("http://git.example/r.git"), parse_remote_url("https://git.example/r.git")
    assert [w.reason for w in transport_warnings(http, basic)] == ["CredentialsOverPlainHTTP"]
    assert transport_warnings(http, GitCredentials(method="none")) == []
    assert transport_warnings(https, basic) == []
    assert [w.reason for w in transport_warnings(https, basic, insecure_skip_tls_verify=True)] == [
        "TLSVerificationDisabled"
    ]
