"""Recipients for the enveloped-data tests: every key kind the CMS layer handles.

The conftest ``identities`` give RSA-2048 and P-256/384/521; X25519 and X448
certificates (which the demo PKI does not issue) are made here, signed by
the same test root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import x448, x25519
from cryptography.x509.oid import NameOID

from smimecore.cms.enveloped import DecryptionKey
from smimecore.demo.pki import DemoIdentity, DemoPKI

CONTENT = b"Content-Type: text/plain\r\n\r\nHello, world!\r\n"
"""A small MIME entity to encrypt."""

KINDS = ("rsa2048", "rsa-oaep", "p256", "p384", "p521", "x25519", "x448")
"""Recipient kinds; ``rsa-oaep`` is the RSA identity with OAEP key transport."""


@dataclass(frozen=True)
class Recipient:
    """A private key and its certificate."""

    key: DecryptionKey = field(repr=False)
    certificate: x509.Certificate

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        """Write ``<name>.crt`` and ``<name>.key`` (PEM) for the openssl peer."""
        cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
        cert_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path


def issue_xdh(pki: DemoPKI, kind: str) -> Recipient:
    """An X25519 or X448 recipient certificate issued by the test root."""
    key: x25519.X25519PrivateKey | x448.X448PrivateKey = (
        x25519.X25519PrivateKey.generate() if kind == "x25519" else x448.X448PrivateKey.generate()
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Test {kind}")]))
        .issuer_name(pki.root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(pki.root_key, hashes.SHA256())
    )
    return Recipient(key, certificate)


def recipients(pki: DemoPKI, identities: dict[str, DemoIdentity]) -> dict[str, Recipient]:
    """One recipient per kind of :data:`KINDS`."""
    made = {
        kind: Recipient(identities[kind].key, identities[kind].certificate)  # type: ignore[arg-type]
        for kind in ("rsa2048", "p256", "p384", "p521")
    }
    made["rsa-oaep"] = made["rsa2048"]
    made["x25519"] = issue_xdh(pki, "x25519")
    made["x448"] = issue_xdh(pki, "x448")
    return made
