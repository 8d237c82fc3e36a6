"""TLS to Git (issue 13, item 8): a private CA from the store's Secret, and a warning for credentials
sent over plain http. Against the project's Git server, which serves HTTPS with a throw-away CA."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kratix_py.local_platform.gitserver import GitServer
from kratix_py.statestores import ConfigurationError, DirChange, TLSVerificationError
from kratix_py.statestores.git import GitStateStoreWriter
from kratix_py.statestores.gitauth import TransportWarning


def basic_auth(server: GitServer) -> dict[str, str]:
    return {"username": server.username, "password": server.password}


def wp(name: str, files: dict[str, bytes]) -> DirChange:
    return DirChange(f"dest/resources/default/promise/{name}/instance-configure/5058f", files, name)


@pytest.fixture
def writers() -> Iterator[list[GitStateStoreWriter]]:
    made: list[GitStateStoreWriter] = []
    yield made
    for writer in made:
        writer.close()


def _from_spec(writers: list[GitStateStoreWriter], spec: dict[str, Any], secret: Any) -> GitStateStoreWriter:
    writer = GitStateStoreWriter.from_spec(spec, secret, timeout=20)
    writers.append(writer)
    return writer


@pytest.mark.parametrize("key", ["ca.crt", "caFile"])
def test_a_private_ca_in_the_stores_secret_is_trusted_for_https(
    git_server: GitServer,
    repo: str,
    writers: list[GitStateStoreWriter],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
) -> None:
    monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)
    spec = {"url": git_server.https_url(repo)}
    untrusted = _from_spec(writers, spec, basic_auth(git_server))
    with pytest.raises(TLSVerificationError, match=r"in the state store Secret under ca\.crt"):
        untrusted.check_ready()

    # The same keys Flux's GitRepository reads, so one Secret can serve the store and the source.
    trusted = _from_spec(writers, spec, {**basic_auth(git_server), key: git_server.ca_cert_pem.encode()})
    trusted.check_ready()
    assert trusted.write([wp(f"wp-{key}", {"a.yaml": b"a"})]).changed
    assert trusted.warnings == ()


def test_a_ca_that_is_not_pem_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"ca\.crt is not a PEM certificate bundle"):
        GitStateStoreWriter.from_spec({"url": "https://git.example/repo.git"}, {"ca.crt": b"not a cert"})


def test_basic_auth_over_plain_http_is_a_warning_that_names_no_secret(
    git_server: GitServer, repo: str, writers: list[GitStateStoreWriter]
) -> None:
    secret = basic_auth(git_server)
    writer = _from_spec(writers, {"url": git_server.http_url(repo)}, secret)
    writer.check_ready()  # it works; it is just unsafe
    [warning] = writer.warnings
    assert warning.reason == "CredentialsOverPlainHTTP"
    assert "sent in clear text over http://" in warning.message and "use an https:// url" in warning.message
    assert secret["password"] not in warning.message and secret["username"] not in warning.message

    anonymous = _from_spec(writers, {"url": git_server.http_url(repo)}, None)
    assert anonymous.warnings == ()


def test_switching_tls_verification_off_is_a_warning(
    git_server: GitServer, repo: str, writers: list[GitStateStoreWriter]
) -> None:
    writer = _from_spec(
        writers, {"url": git_server.https_url(repo), "insecureSkipTLSVerify": True}, basic_auth(git_server)
    )
    writer.check_ready()
    assert [w.reason for w in writer.warnings] == ["TLSVerificationDisabled"]
    assert isinstance(writer.warnings[0], TransportWarning)
