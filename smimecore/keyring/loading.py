"""Reading key material from bytes: PEM files with keys and certificates, PKCS#12 files.

Shared by every keyring.  ``source`` names where the bytes came from (a
file's path, or a label the application chose) in error messages; nothing
secret is ever put in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore.errors import KeyLoadError, MissingPassphraseError, PassphraseError
from smimecore.pki.certificate import PerCertificate, identity_of, load_der_certificate
from smimecore.pki.keys import load_private_key
from smimecore.pki.pem import PemBlock, find_pem_blocks
from smimecore.pki.pkcs12 import read_pkcs12

__all__ = [
    "KeyMaterial",
    "address_certificates",
    "certificate_holds_key",
    "is_ca",
    "load_pem_material",
    "load_pkcs12_material",
    "pick_certificate",
]

_CERTIFICATE_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")


@dataclass(frozen=True)
class KeyMaterial:
    """What one file holds: maybe a private key, its certificate, and other certificates."""

    private_key: Any = field(repr=False)
    certificate: x509.Certificate | None
    chain: tuple[x509.Certificate, ...] = ()


def load_pem_material(source: str, data: bytes, passphrase: str | None) -> KeyMaterial:
    """The key (opened with ``passphrase``) and certificates of PEM text.

    Raises :class:`KeyLoadError` when there is neither, or the key is damaged
    or matches none of the certificates, and :class:`PassphraseError` when an
    encrypted key has no passphrase or the wrong one.
    """
    blocks = find_pem_blocks(data)
    certificates = [
        load_der_certificate(block.der()) for block in blocks if block.label in _CERTIFICATE_LABELS
    ]
    key_blocks = [block for block in blocks if block.is_private_key]
    if not key_blocks:
        if not certificates:
            raise KeyLoadError(source, "holds neither a certificate nor a private key")
        return KeyMaterial(None, certificates[0], tuple(certificates[1:]))
    private_key = _load_pem_key(source, key_blocks[0], passphrase)
    return _pair_key_with_certificate(source, private_key, certificates)


def _load_pem_key(source: str, block: PemBlock, passphrase: str | None) -> Any:
    """The key of one PEM block, in every form :func:`smimecore.pki.keys.load_private_key`
    reads (ML-DSA and ML-KEM keys in the seed and "both" forms included)."""
    if block.is_encrypted and not passphrase:
        raise MissingPassphraseError(
            source, "the private key is encrypted and no passphrase is configured"
        )
    return load_private_key(block.text, passphrase if block.is_encrypted else None, source=source)


def load_pkcs12_material(source: str, data: bytes, passphrase: str | None) -> KeyMaterial:
    """The key and certificates of a PKCS#12 file (without a passphrase: none, then empty).

    ``cryptography`` reads the file; one whose key it cannot read (ML-DSA,
    ML-KEM: OpenSSL 3.5 writes them) is read by :mod:`smimecore.pki.pkcs12`.
    """
    attempts = [passphrase.encode("utf-8")] if passphrase else [None, b""]
    for password in attempts:
        try:
            key, certificate, additional = pkcs12.load_key_and_certificates(data, password)
        except ValueError:
            continue
        return _material(source, key, [c for c in (certificate, *additional) if c is not None])
    try:
        contents = read_pkcs12(data, passphrase, source=source)
    except PassphraseError:
        if not passphrase:
            raise MissingPassphraseError(
                source, "the PKCS#12 file is encrypted (or damaged) and no passphrase is configured"
            ) from None
        raise
    return _material(source, contents.private_key, list(contents.certificates))


def _material(source: str, key: Any, certificates: list[x509.Certificate]) -> KeyMaterial:
    if key is None:
        return KeyMaterial(None, certificates[0] if certificates else None, tuple(certificates[1:]))
    return _pair_key_with_certificate(source, key, certificates)


def _pair_key_with_certificate(
    source: str, private_key: Any, certificates: Sequence[x509.Certificate]
) -> KeyMaterial:
    public = _public_der(private_key.public_key())
    for index, certificate in enumerate(certificates):
        if certificate_holds_key(certificate, public):
            chain = (*certificates[:index], *certificates[index + 1 :])
            return KeyMaterial(private_key, certificate, chain)
    raise KeyLoadError(source, "no certificate in the file matches its private key")


def certificate_holds_key(certificate: x509.Certificate, public: Any) -> bool:
    """Whether ``certificate``'s public key is ``public`` (a key object, or its SPKI DER).

    A certificate whose key ``cryptography`` cannot load holds no key of ours.
    """
    try:
        certificate_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False
    wanted = public if isinstance(public, bytes) else _public_der(public)
    return _public_der(certificate_key) == wanted


def _public_der(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def pick_certificate(
    candidates: Sequence[x509.Certificate], address: str
) -> x509.Certificate | None:
    """Of several certificates, the one naming ``address``, else the first end-entity one."""
    found = address_certificates(candidates, address)
    return found[0] if found else None


def address_certificates(
    candidates: Sequence[x509.Certificate], address: str
) -> list[x509.Certificate]:
    """Of several certificates, those naming ``address`` (in order); when none does, the
    first end-entity one (or the first of all)."""
    wanted = address.casefold()
    naming = [c for c in candidates if wanted in identity_of(c).addresses]
    if naming:
        return naming
    end_entities = [c for c in candidates if not is_ca(c)]
    preferred = end_entities or list(candidates)
    return preferred[:1]


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


is_ca = PerCertificate(_is_ca)
"""Whether a certificate is a CA's (basicConstraints cA), worked out once per certificate."""
