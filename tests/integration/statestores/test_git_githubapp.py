"""authMethod githubApp against real servers: the project's Git server over HTTPS, and a GitHub API
that verifies the app's JWT with its public key and hands out installation tokens the Git server
then accepts as the password of x-access-token."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kratix_py.local_platform.githubapi import GitHubAppAPI
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.statestores import DirChange
from kratix_py.statestores.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    TLSVerificationError,
    UnreachableError,
)
from kratix_py.statestores.git import GitStateStoreWriter
from kratix_py.statestores.githubapp import REFRESH_MARGIN


@pytest.fixture
def github(git_server: GitServer) -> Iterator[GitHubAppAPI]:
    with GitHubAppAPI(git_server=git_server) as api:
        yield api


@pytest.fixture
def writers() -> Iterator[list[GitStateStoreWriter]]:
    made: list[GitStateStoreWriter] = []
    yield made
    for writer in made:
        writer.close()


def app_secret(git_server: GitServer, github: GitHubAppAPI, **changes: str) -> dict[str, Any]:
    """The app's keys, and one CA bundle trusted for both the Git server and the API."""
    data: dict[str, Any] = {**github.secret_data(), "ca.crt": git_server.ca_cert_pem + github.ca_cert_pem}
    data.update(changes)
    return {key: value.encode() for key, value in data.items()}


def make(
    writers: list[GitStateStoreWriter], git_server: GitServer, repo: str, secret: dict[str, Any]
) -> GitStateStoreWriter:
    spec = {"url": git_server.https_url(repo), "authMethod": "githubApp"}
    writer = GitStateStoreWriter.from_spec(spec, secret, timeout=20)
    writers.append(writer)
    return writer


def wp(name: str, files: dict[str, bytes]) -> DirChange:
    return DirChange(f"dest/resources/default/promise/{name}/instance-configure/5058f", files, name)


def test_a_github_app_store_is_ready_and_writes_with_one_cached_token(
    git_server: GitServer, repo: str, github: GitHubAppAPI, writers: list[GitStateStoreWriter]
) -> None:
    writer = make(writers, git_server, repo, app_secret(git_server, github))
    writer.check_ready()
    assert writer.write([wp("a", {"a.yaml": b"a: 1\n"})]).changed
    assert writer.write([wp("b", {"b.yaml": b"b: 1\n"})]).changed
    tree = git_server.read_tree(repo)
    assert tree["dest/resources/default/promise/a/instance-configure/5058f/a.yaml"] == b"a: 1\n"
    assert tree["dest/resources/default/promise/b/instance-configure/5058f/b.yaml"] == b"b: 1\n"
    assert len(github.issued) == 1, "a token that is still fresh is reused"
    assert github.refusals == []
    assert writer.warnings == ()


def test_a_token_near_its_expiry_is_replaced_before_the_next_write(
    git_server: GitServer, repo: str, github: GitHubAppAPI, writers: list[GitStateStoreWriter]
) -> None:
    github.token_lifetime = REFRESH_MARGIN + 2  # due for refresh two seconds after it is issued
    writer = make(writers, git_server, repo, app_secret(git_server, github))
    assert writer.write([wp("a", {"a.yaml": b"1"})]).changed
    assert len(github.issued) == 1, "still fresh: the token fetched when the writer was made"
    first = github.issued[0]
    time.sleep(max(0.0, first.expires_at - REFRESH_MARGIN - time.time()) + 0.5)
    github.expire(first.token)  # GitHub's clock says the hour is up: the old token is refused
    github.token_lifetime = 3600
    assert writer.write([wp("a", {"a.yaml": b"2"})]).changed
    assert len(github.issued) == 2
    assert (
        git_server.read_tree(repo)["dest/resources/default/promise/a/instance-configure/5058f/a.yaml"] == b"2"
    )


def test_a_token_revoked_early_is_replaced_on_the_next_try_and_never_shown(
    git_server: GitServer, repo: str, github: GitHubAppAPI, writers: list[GitStateStoreWriter]
) -> None:
    writer = make(writers, git_server, repo, app_secret(git_server, github))
    writer.write([wp("a", {"a.yaml": b"1"})])
    [revoked] = github.tokens
    github.expire(revoked)
    with pytest.raises(AuthenticationError) as caught:
        writer.write([wp("a", {"a.yaml": b"2"})])
    message = str(caught.value)
    assert "installation token was refused" in message and "Contents read and write" in message
    assert revoked not in message
    assert writer.write([wp("a", {"a.yaml": b"2"})]).changed
    assert len(github.issued) == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bad_app_credentials_fail_when_the_writer_is_made_naming_what_to_fix(
    git_server: GitServer, repo: str, github: GitHubAppAPI, writers: list[GitStateStoreWriter]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    cases: list[tuple[dict[str, str], type[Exception], str]] = [
        ({"privateKey": other_key}, AuthenticationError, r"HTTP 401 .*check that appID .* privateKey"),
        ({"appID": "999"}, AuthenticationError, r"HTTP 401 .*Issuer"),
        ({"installationID": "7"}, NotFoundError, r"HTTP 404.*check installationID"),
        ({"apiURL": f"https://127.0.0.1:{_closed_port()}"}, UnreachableError, r"set apiURL in the state"),
        ({"ca.crt": git_server.ca_cert_pem}, TLSVerificationError, r"not trusted.*under ca\.crt"),
        ({"privateKey": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"},
         ConfigurationError, r"privateKey is not a PEM RSA private key"),
    ]  # fmt: skip
    for change, error, message in cases:
        with pytest.raises(error, match=message) as caught:
            make(writers, git_server, repo, app_secret(git_server, github, **change))
        text = str(caught.value)
        for key in (github.private_key_pem, other_key):
            assert key.splitlines()[1] not in text
        assert not any(jwt in text for jwt in github.seen_jwts)
    assert github.issued == []
    without = {k: v for k, v in app_secret(git_server, github).items() if k != "installationID"}
    with pytest.raises(ConfigurationError, match="missing installationID"):
        make(writers, git_server, repo, without)


def test_a_redirect_is_not_followed_so_the_jwt_stays_with_the_api(
    git_server: GitServer, repo: str, github: GitHubAppAPI, writers: list[GitStateStoreWriter]
) -> None:
    with GitHubAppAPI(git_server=git_server) as elsewhere:
        secret = app_secret(git_server, github)
        secret["ca.crt"] += elsewhere.ca_cert_pem.encode()  # trusted, so only the redirect rule stops it
        github.redirect_to = elsewhere.url
        with pytest.raises(
            ConfigurationError, match=r"HTTP 302, a redirect to https://127\.0\.0\.1.*not followed"
        ):
            make(writers, git_server, repo, secret)
        assert elsewhere.seen_jwts == [] and elsewhere.refusals == [] and elsewhere.issued == []
