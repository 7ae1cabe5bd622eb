"""A throwaway PKI for the demo and the tests: a root CA and e-mail identities.

Everything is made with ``cryptography`` in memory; :meth:`DemoPKI.write_keyring`
lays it out as an RT keyring (``<address>.pem`` = certificate + key).

Post-quantum identities: ML-DSA-44/65/87 signing certificates (RFC 9881, key
usage digitalSignature and nonRepudiation) and ML-KEM-768/1024 encryption
certificates (RFC 9935, key usage keyEncipherment only), issued by the root
whatever its kind; the root itself may be an ML-DSA key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DemoIdentity", "DemoPKI", "KeyKind"]

KeyKind = str
"""``rsa2048``, ``rsa3072``, ``p256``, ``p384``, ``p521``, ``ed25519``,
``mldsa44``, ``mldsa65``, ``mldsa87``, ``mlkem768`` or ``mlkem1024``."""

SigningPrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | mldsa.MLDSA44PrivateKey
    | mldsa.MLDSA65PrivateKey
    | mldsa.MLDSA87PrivateKey
)
PrivateKey = SigningPrivateKey | mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey

_POST_QUANTUM_KEYS: dict[str, Callable[[], PrivateKey]] = {
    "mldsa44": mldsa.MLDSA44PrivateKey.generate,
    "mldsa65": mldsa.MLDSA65PrivateKey.generate,
    "mldsa87": mldsa.MLDSA87PrivateKey.generate,
    "mlkem768": mlkem.MLKEM768PrivateKey.generate,
    "mlkem1024": mlkem.MLKEM1024PrivateKey.generate,
}
_ML_DSA_KEYS = (mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey)
_ML_KEM_KEYS = (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)


def _new_key(kind: KeyKind) -> PrivateKey:
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    curves: dict[str, ec.EllipticCurve] = {
        "p256": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
        "p521": ec.SECP521R1(),
    }
    if kind in curves:
        return ec.generate_private_key(curves[kind])
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind in _POST_QUANTUM_KEYS:
        return _POST_QUANTUM_KEYS[kind]()
    raise ValueError(f"unknown key kind {kind!r}")


def _signing_hash(key: SigningPrivateKey) -> hashes.SHA256 | None:
    """SHA-256 for RSA and ECDSA; EdDSA and ML-DSA sign the certificate itself."""
    return None if isinstance(key, (ed25519.Ed25519PrivateKey, *_ML_DSA_KEYS)) else hashes.SHA256()


def _key_usage(key: PrivateKey) -> x509.KeyUsage:
    """An end entity's key usage: ML-KEM only enciphers keys (RFC 9935 section 5)."""
    kem = isinstance(key, _ML_KEM_KEYS)
    return x509.KeyUsage(
        digital_signature=not kem,
        content_commitment=not kem,
        key_encipherment=kem or isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=isinstance(key, ec.EllipticCurvePrivateKey),
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class DemoIdentity:
    """An identity of the demo PKI: its address, key and certificate."""

    address: str
    key: PrivateKey = field(repr=False)
    certificate: x509.Certificate

    def certificate_pem(self) -> bytes:
        """The certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, passphrase: str | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted when ``passphrase`` is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )


class DemoPKI:
    """A root CA that issues S/MIME identities on demand."""

    def __init__(self, name: str = "smimecore Demo Root CA", kind: KeyKind = "rsa2048") -> None:
        root_key = _new_key(kind)
        if isinstance(root_key, _ML_KEM_KEYS):
            raise ValueError(f"a {kind} key cannot sign certificates")
        self.root_key: SigningPrivateKey = root_key
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.root = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key()),
                critical=False,
            )
            .sign(self.root_key, _signing_hash(self.root_key))
        )

    def root_pem(self) -> bytes:
        """The root certificate in PEM (a ``ca_path`` file)."""
        return self.root.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        address: str,
        kind: KeyKind = "rsa2048",
        *,
        common_name: str | None = None,
        valid_days: int = 365,
        not_before: datetime | None = None,
    ) -> DemoIdentity:
        """Issue an S/MIME certificate for ``address`` (SAN rfc822Name, emailProtection EKU).

        ``kind`` may be a post-quantum one: ``mldsa44/65/87`` for signing,
        ``mlkem768/1024`` for encryption only.
        """
        key = _new_key(kind)
        start = not_before or datetime.now(UTC) - timedelta(days=1)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name or address.split("@")[0]),
                x509.NameAttribute(NameOID.EMAIL_ADDRESS, address),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
            .add_extension(_key_usage(key), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                critical=False,
            )
            .sign(self.root_key, _signing_hash(self.root_key))
        )
        return DemoIdentity(address, key, certificate)

    def write_keyring(
        self, directory: Path, identities: list[DemoIdentity], *, passphrase: str | None = None
    ) -> None:
        """Write each identity as ``<address>.pem`` (certificate then key) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for identity in identities:
            (directory / f"{identity.address}.pem").write_bytes(
                identity.certificate_pem() + identity.key_pem(passphrase)
            )
