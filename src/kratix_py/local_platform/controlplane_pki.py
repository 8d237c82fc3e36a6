"""The certificates and keys a real control plane needs, generated fresh for each one.

One CA signs the API server's serving certificate and every client certificate (admin,
controller-manager); a separate key signs service-account tokens. ECDSA P-256 throughout: it is
accepted by every component and takes microseconds to generate, where RSA takes a noticeable
part of a second per key on a loaded 2-core machine.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The first address of the service range: where a cluster's ``kubernetes`` Service would be.
SERVICE_CIDR = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"
VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: KeyPair
    serving: KeyPair
    admin: KeyPair
    controller_manager: KeyPair
    kubelet_client: KeyPair
    """What the API server shows the kubelet stand-in when it proxies ``kubectl logs``."""
    service_account_key: Path
    service_account_pub: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(parts)


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def generate(directory: Path, *, hosts: tuple[str, ...] = ("127.0.0.1",)) -> Pki:
    """Write a CA, serving and client certificates and a service-account key into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("kratix-py-local-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip

    def leaf(
        stem: str, subject: x509.Name, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]
    ) -> KeyPair:
        key = _key()
        builder = _builder(subject, ca_name, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return KeyPair(
            _write(directory / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644),
            _write(directory / f"{stem}.key", _pem_key(key), 0o600),
        )

    names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"]  # fmt: skip
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    for host in (*hosts, KUBERNETES_SERVICE_IP):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    serving = leaf("apiserver", _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
    # system:masters is the group RBAC never restricts: the tests' and the platform's admin.
    admin = leaf("admin", _name("kratix-py-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, [])
    manager = leaf(
        "controller-manager", _name("system:kube-controller-manager"), ExtendedKeyUsageOID.CLIENT_AUTH, []
    )
    kubelet_client = leaf(
        "apiserver-kubelet-client",
        _name("kube-apiserver-kubelet-client"),
        ExtendedKeyUsageOID.CLIENT_AUTH,
        [],
    )
    sa_key = _key()
    sa_pub = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Pki(
        ca=KeyPair(
            _write(directory / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM), 0o644),
            _write(directory / "ca.key", _pem_key(ca_key), 0o600),
        ),
        serving=serving,
        admin=admin,
        controller_manager=manager,
        kubelet_client=kubelet_client,
        service_account_key=_write(directory / "sa.key", _pem_key(sa_key), 0o600),
        service_account_pub=_write(directory / "sa.pub", sa_pub, 0o644),
    )
