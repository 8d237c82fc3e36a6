"""githubApp credentials: the API base for a remote, the app's JWT, the Secret's keys checked."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kratix_py.statestores.errors import ConfigurationError
from kratix_py.statestores.gitauth import credentials_from_secret, parse_remote_url, transport_warnings
from kratix_py.statestores.githubapp import (
    JWT_LIFETIME,
    api_base_for,
    app_jwt,
    github_app_from_secret,
)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def secret(key_pem: str, **extra: str) -> dict[str, str]:
    return {"appID": "123", "installationID": "456", "privateKey": key_pem, **extra}


@pytest.mark.parametrize(
    ("host", "override", "expected"),
    [
        ("github.com", None, "https://api.github.com"),
        ("GitHub.com", None, "https://api.github.com"),
        ("www.github.com", None, "https://api.github.com"),
        ("github.example.com", None, "https://github.example.com/api/v3"),
        ("git.corp:8443", None, "https://git.corp:8443/api/v3"),
        ("github.com", "https://proxy.corp/github/", "https://proxy.corp/github"),
        ("github.example.com", "http://127.0.0.1:9999", "http://127.0.0.1:9999"),
    ],
)
def test_the_api_base_follows_the_remotes_host_unless_overridden(
    host: str, override: str | None, expected: str
) -> None:
    assert api_base_for(host, override) == expected


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("ftp://h/api", "must be an http"),
        ("api.github.com", "must be an http"),
        ("https://h/api?x=1", "must be an http.*no query"),
        ("https://me:pw@h/api", "may not contain credentials"),
    ],
)
def test_a_bad_api_url_is_named(override: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"apiURL {message}"):
        api_base_for("github.com", override)


def test_the_jwt_is_rs256_signed_by_the_app_and_short_lived(rsa_key: rsa.RSAPrivateKey) -> None:
    app = github_app_from_secret(secret(pem(rsa_key)), "github.com")
    now = time.time()
    token = app_jwt(app, now)
    header_b64, claims_b64, signature_b64 = token.split(".")

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    assert json.loads(unb64(header_b64)) == {"alg": "RS256", "typ": "JWT"}
    claims = json.loads(unb64(claims_b64))
    assert claims["iss"] == "123"
    assert claims["iat"] == int(now) - 60, "a minute in the past, for clock drift"
    assert claims["exp"] == int(now) + JWT_LIFETIME
    assert claims["exp"] - claims["iat"] <= 600, "GitHub refuses JWTs valid for more than 10 minutes"
    # Raises InvalidSignature unless it is PKCS#1 v1.5 / SHA-256 over header.claims with this key.
    rsa_key.public_key().verify(
        unb64(signature_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert "=" not in token, "base64url without padding"


def test_the_secrets_keys_are_read_and_trimmed(rsa_key: rsa.RSAPrivateKey) -> None:
    app = github_app_from_secret(
        {"appID": " 123\n", "installationID": "456\n", "privateKey": pem(rsa_key).replace("\n", "\r\n")},
        "github.example.com",
    )
    assert (app.app_id, app.installation_id) == ("123", "456")
    assert app.token_url == "https://github.example.com/api/v3/app/installations/456/access_tokens"
    assert "BEGIN" not in repr(app)


def test_missing_keys_are_listed() -> None:
    with pytest.raises(
        ConfigurationError, match=r"missing installationID, privateKey \(needed for authMethod githubApp"
    ):
        github_app_from_secret({"appID": "1"}, "github.com")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"installationID": "../../user"}, "installationID must be a number"),
        ({"appID": "12 34"}, "appID must be"),
    ],
)
def test_ids_are_checked(rsa_key: rsa.RSAPrivateKey, changes: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        github_app_from_secret({**secret(pem(rsa_key)), **changes}, "github.com")


def test_a_key_that_is_not_a_pem_rsa_key_is_named_without_quoting_it(rsa_key: rsa.RSAPrivateKey) -> None:
    text = pem(rsa_key)
    body_line = text.splitlines()[3]
    damaged = text.replace(body_line, body_line[::-1])
    for bad in ("not a key at all", damaged, pem(ec.generate_private_key(ec.SECP256R1()))):
        with pytest.raises(ConfigurationError, match="privateKey is not a PEM RSA private key") as caught:
            github_app_from_secret(secret(bad), "github.com")
        assert body_line not in str(caught.value) and body_line[::-1] not in str(caught.value)


def test_github_app_needs_an_https_url_and_warns_about_plain_http(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="githubApp needs an https url"):
        credentials_from_secret("githubApp", secret(pem(rsa_key)), parse_remote_url("git@github.com:o/r.git"))
    remote = parse_remote_url("https://github.com/o/r.git")
    creds = credentials_from_secret("githubApp", secret(pem(rsa_key)), remote)
    assert creds.method == "githubApp" and creds.username == "x-access-token"
    assert transport_warnings(remote, creds) == []
    plain = credentials_from_secret(
        "githubApp", secret(pem(rsa_key), apiURL="http://ghes.corp/api/v3"), remote
    )
    [warning] = transport_warnings(remote, plain)
    assert warning.reason == "CredentialsOverPlainHTTP" and "https:// apiURL" in warning.message
