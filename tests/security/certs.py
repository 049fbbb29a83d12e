"""A throwaway certificate authority and server certificates, made at test time.

Nothing is checked in: each test session makes its own CA (``cryptography``, an Airflow
dependency), so no private key lives in the repository and no certificate expires under CI.

::

    ca = TestCA.create(tmp_path / "ca")
    cert = ca.issue(tmp_path / "srv", hosts=("127.0.0.1", "localhost"))
    cert.certfile, cert.keyfile   # PEM files for the server
    ca.bundle                     # PEM file a client names as its CA bundle
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ServerCert", "TestCA"]

_VALID = dt.timedelta(days=2)
_SKEW = dt.timedelta(minutes=5)  # clocks of client and server may differ a little


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "siapp-siasn tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


@dataclass(frozen=True)
class ServerCert:
    """A server certificate (``certfile``: the leaf only, as most servers send no root) and
    its key, as PEM files."""

    certfile: Path
    keyfile: Path
    hosts: tuple[str, ...]

    @property
    def tls(self) -> tuple[str, str]:
        """``(certfile, keyfile)`` as ``run_sandbox(tls=...)`` takes them."""
        return str(self.certfile), str(self.keyfile)


@dataclass(frozen=True)
class TestCA:
    """A self-signed root CA whose certificate is written to :attr:`bundle`."""

    __test__ = False  # not a pytest test class despite the name

    name: str
    bundle: Path
    _key: ec.EllipticCurvePrivateKey
    _cert: x509.Certificate

    @classmethod
    def create(cls, folder: Path, name: str = "siapp-siasn test CA") -> TestCA:
        """A new CA (fresh key) with its certificate in ``folder/ca.pem``."""
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = _name(name)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        bundle = folder / "ca.pem"
        bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(name, bundle, key, cert)

    def issue(
        self, folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    ) -> ServerCert:
        """A server certificate for ``hosts`` (IP addresses or DNS names) signed by this CA."""
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(hosts[0]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_san(hosts), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False
            )
            .sign(self._key, hashes.SHA256())
        )
        certfile = folder / "server.pem"
        keyfile = folder / "server-key.pem"
        certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, keyfile)
        return ServerCert(certfile, keyfile, hosts)
