"""Keys and certificates as the expert functions take them: objects, or the bytes of a file.

A private key is a ``cryptography`` private key object, or the bytes of a
key file: PEM (the key, and possibly its certificate and chain, read as
:class:`~smimecore.keyring.MemoryKeyring` reads PEM), PKCS#12 (opened with
the passphrase, as the keyring opens ``.p12`` files) or a DER PKCS#8 key
(the ML-DSA and ML-KEM seed forms included).  A certificate is a
``cryptography`` certificate, or PEM or DER bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from smimecore.errors import CertificateNotFoundError, KeyLoadError, MalformedCMSError
from smimecore.keyring.loading import (
    KeyMaterial,
    certificate_holds_key,
    load_pem_material,
    load_pkcs12_material,
)
from smimecore.pki.certificate import load_certificates
from smimecore.pki.der import TAG_SEQUENCE, Cursor
from smimecore.pki.keys import load_private_key

__all__ = ["CertificateInput", "KeyInput", "as_certificates", "load_key"]

KeyInput = Any
"""A ``cryptography`` private key, or the bytes of a PEM, PKCS#12 or DER PKCS#8 key file."""

CertificateInput = x509.Certificate | bytes
"""A ``cryptography`` certificate, or PEM (one or more certificates) or DER bytes."""

_PFX_VERSION = 3  # PKCS#12 (RFC 7292): PFX ::= SEQUENCE { version INTEGER {v3(3)}, ... }


def load_key(
    key: KeyInput,
    certificate: CertificateInput | None = None,
    *,
    passphrase: str | None = None,
    source: str = "private key",
) -> KeyMaterial:
    """The private key of ``key``, with its certificate and chain when known.

    ``certificate`` (PEM with more than one certificate: the first) is the
    key's certificate, the others its chain; without it, the certificate
    is the one a PEM or PKCS#12 file holds for the key, if any.  A given
    certificate must belong to the key.  ``source`` names the key in errors
    (:class:`~smimecore.errors.KeyLoadError`,
    :class:`~smimecore.errors.PassphraseError`,
    :class:`~smimecore.errors.UnsupportedAlgorithmError`).
    """
    given = as_certificates(certificate, source) if certificate is not None else []
    material = _material(key, passphrase, source)
    if not given:
        return material
    own, *chain = given
    _check_pair(material.private_key, own, source)
    others = [c for c in (material.certificate, *material.chain) if c is not None and c != own]
    return KeyMaterial(material.private_key, own, tuple(_distinct([*chain, *others])))


def as_certificates(value: CertificateInput, what: str = "certificate") -> list[x509.Certificate]:
    """The certificates ``value`` gives (at least one), in order.

    Raises :class:`~smimecore.errors.MalformedCMSError` for one that cannot
    be read, :class:`~smimecore.errors.CertificateNotFoundError` for PEM
    without any.
    """
    if isinstance(value, x509.Certificate):
        return [value]
    found = load_certificates(bytes(value))
    if not found:
        raise CertificateNotFoundError(f"the {what} holds no certificate")
    return found


def _material(key: KeyInput, passphrase: str | None, source: str) -> KeyMaterial:
    if not isinstance(key, bytes | bytearray | memoryview):
        if key is None:
            raise KeyLoadError(source, "no private key given")
        return KeyMaterial(key, None)
    data = bytes(key)
    if b"-----BEGIN " in data:
        if b"CERTIFICATE-----" in data:
            return load_pem_material(source, data, passphrase)
        return KeyMaterial(load_private_key(data, passphrase, source=source), None)
    if _is_pkcs12(data):
        material = load_pkcs12_material(source, data, passphrase)
        if material.private_key is None:
            raise KeyLoadError(source, "the PKCS#12 file holds no private key")
        return material
    return KeyMaterial(load_private_key(data, passphrase, source=source), None)


def _is_pkcs12(data: bytes) -> bool:
    """Whether DER ``data`` starts as a PKCS#12 PFX does (a SEQUENCE whose version is 3)."""
    try:
        cursor = Cursor(data)
        cursor.enter(TAG_SEQUENCE, "PFX")
        return cursor.integer("PFX.version") == _PFX_VERSION
    except MalformedCMSError:
        return False


def _check_pair(private_key: Any, certificate: x509.Certificate, source: str) -> None:
    try:
        ours = private_key.public_key()
    except (AttributeError, TypeError, ValueError, UnsupportedAlgorithm):
        raise KeyLoadError(source, "the key or its certificate cannot be used") from None
    if not certificate_holds_key(certificate, ours):
        raise KeyLoadError(source, "the certificate given is not the private key's")


def _distinct(certificates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    found: list[x509.Certificate] = []
    for certificate in certificates:
        if certificate not in found:
            found.append(certificate)
    return found
