"""PKCS#12 files (RFC 7292) whose key ``cryptography`` cannot read: ML-DSA and ML-KEM keys.

``cryptography`` 50 reads PKCS#12 files only when it knows the key type;
OpenSSL 3.5 writes ML-DSA and ML-KEM keys into them.  This reader takes the
files apart itself, as OpenSSL 3 and ``cryptography`` write them:

* the MAC (HMAC-SHA-1/2 with the PKCS#12 key derivation of RFC 7292
  appendix B) is checked first: a wrong passphrase fails there;
* ``data`` and PBES2-``encryptedData`` safe contents (PBKDF2, AES-CBC);
* keyBag and pkcs8ShroudedKeyBag keys, loaded by
  :func:`smimecore.pki.keys.load_private_key` (every ML-DSA and ML-KEM form
  it reads), and X.509 certBags.

The legacy PKCS#12 encryptions (RC2, 3DES) are refused by name; files using
them hold keys ``cryptography`` reads itself.  Errors are
:class:`KeyLoadError` (damaged or unsupported structure) and
:class:`PassphraseError` (missing or wrong passphrase), as for PEM keys.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from smimecore.errors import KeyLoadError, MalformedCMSError, PassphraseError
from smimecore.pki.certificate import load_der_certificate
from smimecore.pki.der import TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, Cursor, encode_tlv
from smimecore.pki.keys import load_private_key, pbes2_decrypt

__all__ = ["Pkcs12Contents", "read_pkcs12"]

_DATA = "1.2.840.113549.1.7.1"
_PBES2 = "1.2.840.113549.1.5.13"
_KEY_BAG = "1.2.840.113549.1.12.10.1.1"
_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
_X509_CERTIFICATE = "1.2.840.113549.1.9.22.1"
_DATA_OID_DER = encode_tlv(TAG_OID, bytes.fromhex("2a864886f70d010701"))
_ENCRYPTED_DATA_OID_DER = encode_tlv(TAG_OID, bytes.fromhex("2a864886f70d010706"))
_MAC_HASHES = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_MAX_ITERATIONS = 1_000_000  # a bound on the work a file can ask for (OpenSSL writes 2048)
_WRONG = "the passphrase does not open the PKCS#12 file (or it is damaged)"


@dataclass(frozen=True)
class Pkcs12Contents:
    """What a PKCS#12 file holds: its private key (if any) and its certificates, in order."""

    private_key: Any = field(repr=False)
    certificates: tuple[x509.Certificate, ...]


def read_pkcs12(data: bytes, passphrase: str | None, *, source: str) -> Pkcs12Contents:
    """The key and certificates of the PKCS#12 file ``data``, opened with ``passphrase``.

    Without a passphrase, the empty one is tried in both of its PKCS#12
    spellings (absent and empty), as OpenSSL does.
    """
    try:
        auth_safe, mac = _read_pfx(data)
    except MalformedCMSError as exc:
        raise KeyLoadError(source, f"not a PKCS#12 file: {exc}") from None
    secret = _mac_secret(auth_safe, mac, passphrase, source)
    try:
        return _read_auth_safe(auth_safe, secret, source)
    except MalformedCMSError as exc:
        raise KeyLoadError(source, f"the PKCS#12 file is damaged: {exc}") from None


@dataclass(frozen=True)
class _Mac:
    hash_name: str
    digest: bytes
    salt: bytes
    iterations: int


def _read_pfx(data: bytes) -> tuple[bytes, _Mac | None]:
    """PFX ::= SEQUENCE { version 3, authSafe ContentInfo (data), macData MacData OPTIONAL }."""
    cursor = Cursor(data)
    cursor.enter(TAG_SEQUENCE, "PFX")
    cursor.version("PFX.version", frozenset({3}))
    auth_safe = _data_content(cursor, "PFX.authSafe")
    mac = None
    if cursor.more():
        mac = _read_mac_data(cursor)
    cursor.leave("PFX")
    cursor.finish("PFX")
    return auth_safe, mac


def _data_content(cursor: Cursor, what: str) -> bytes:
    """A ContentInfo of type id-data: its OCTET STRING's value."""
    cursor.enter(TAG_SEQUENCE, what)
    content_type = cursor.oid(f"{what}.contentType")
    if content_type != _DATA:
        raise MalformedCMSError(
            f"{what}: content type {content_type} (signed PFX files are not read)"
        )
    cursor.enter(0xA0, f"{what}.content")
    content = cursor.octets(f"{what}.content")
    cursor.leave(f"{what}.content")
    cursor.leave(what)
    return content


def _read_mac_data(cursor: Cursor) -> _Mac:
    """MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations DEFAULT 1 }."""
    what = "MacData"
    cursor.enter(TAG_SEQUENCE, what)
    cursor.enter(TAG_SEQUENCE, f"{what}.mac")
    algorithm = cursor.algorithm(f"{what}.mac.digestAlgorithm")
    digest = cursor.octets(f"{what}.mac.digest")
    cursor.leave(f"{what}.mac")
    salt = cursor.octets(f"{what}.macSalt")
    iterations = cursor.integer(f"{what}.iterations") if cursor.more() else 1
    cursor.leave(what)
    hash_name = _MAC_HASHES.get(algorithm.oid)
    if hash_name is None:
        raise MalformedCMSError(f"{what}: MAC digest {algorithm.oid} is not supported")
    if not 1 <= iterations <= _MAX_ITERATIONS:
        raise MalformedCMSError(f"{what}.iterations: {iterations} is out of range")
    return _Mac(hash_name, digest, salt, iterations)


def _mac_secret(auth_safe: bytes, mac: _Mac | None, passphrase: str | None, source: str) -> bytes:
    """The passphrase (UTF-8, as PBES2 takes it) once the MAC accepts it."""
    if mac is None:
        raise KeyLoadError(source, "the PKCS#12 file has no MAC (its integrity cannot be checked)")
    spellings = [passphrase] if passphrase else [None, ""]
    for spelling in spellings:
        key = _pkcs12_kdf(mac.hash_name, _bmp_password(spelling), mac.salt, 3, mac.iterations)
        if hmac.compare_digest(hmac.new(key, auth_safe, mac.hash_name).digest(), mac.digest):
            return (spelling or "").encode("utf-8")
    raise PassphraseError(source, _WRONG)


def _bmp_password(passphrase: str | None) -> bytes:
    """RFC 7292 appendix B.1: a BMPString with two zero octets after it; absent: nothing."""
    return b"" if passphrase is None else passphrase.encode("utf-16-be") + b"\0\0"


def _pkcs12_kdf(hash_name: str, password: bytes, salt: bytes, purpose: int, rounds: int) -> bytes:
    """RFC 7292 appendix B.2 with output the size of one digest (``purpose`` 3: MAC key)."""
    digest_size, block = hashlib.new(hash_name).digest_size, hashlib.new(hash_name).block_size
    diversifier = bytes((purpose,)) * block
    salt_and_password = _fill(salt, block) + _fill(password, block)
    value = hashlib.new(hash_name, diversifier + salt_and_password).digest()
    for _ in range(rounds - 1):
        value = hashlib.new(hash_name, value).digest()
    return value[:digest_size]


def _fill(value: bytes, block: int) -> bytes:
    """``value`` repeated to a whole number of ``block``-octet blocks (nothing for nothing)."""
    if not value:
        return b""
    size = block * -(-len(value) // block)
    return (value * (size // len(value) + 1))[:size]


def _read_auth_safe(auth_safe: bytes, secret: bytes, source: str) -> Pkcs12Contents:
    """AuthenticatedSafe ::= SEQUENCE OF ContentInfo (data or encryptedData SafeContents)."""
    keys: list[Any] = []
    certificates: list[x509.Certificate] = []
    cursor = Cursor(auth_safe)
    cursor.enter(TAG_SEQUENCE, "AuthenticatedSafe")
    while cursor.more():
        for bag_id, value in _safe_bags(_safe_contents(cursor, secret, source)):
            if bag_id == _CERT_BAG:
                certificates.append(_certificate(value))
            elif bag_id == _KEY_BAG:
                keys.append(load_private_key(value, source=source))
            elif bag_id == _SHROUDED_KEY_BAG:
                keys.append(load_private_key(value, secret.decode("utf-8"), source=source))
    cursor.leave("AuthenticatedSafe")
    cursor.finish("AuthenticatedSafe")
    if len(keys) > 1:
        raise KeyLoadError(source, "the PKCS#12 file holds more than one private key")
    return Pkcs12Contents(keys[0] if keys else None, tuple(certificates))


def _safe_contents(cursor: Cursor, secret: bytes, source: str) -> bytes:
    """One ContentInfo of the AuthenticatedSafe: the SafeContents it holds, decrypted."""
    what = "AuthenticatedSafe ContentInfo"
    info = Cursor(cursor.element(what, TAG_SEQUENCE))
    content_type = Cursor(info.data).children(TAG_SEQUENCE, what, 2)[0]
    if content_type == _DATA_OID_DER:
        return _data_content(info, what)
    if content_type != _ENCRYPTED_DATA_OID_DER:
        raise MalformedCMSError(f"{what}: only data and encryptedData are read")
    info.enter(TAG_SEQUENCE, what)
    info.oid(f"{what}.contentType")
    info.enter(0xA0, f"{what}.content")
    algorithm_der, ciphertext = _read_encrypted_data(info)
    info.leave(f"{what}.content")
    info.leave(what)
    algorithm = Cursor(algorithm_der).algorithm("EncryptedData.contentEncryptionAlgorithm")
    if algorithm.oid != _PBES2:
        raise KeyLoadError(
            source,
            f"the PKCS#12 file is encrypted with {algorithm.oid}, a legacy PKCS#12 encryption "
            "(only PBES2 is read for keys cryptography cannot load itself)",
        )
    plain = pbes2_decrypt(algorithm_der, ciphertext, secret)
    if plain is None:
        raise KeyLoadError(source, "an encrypted part of the PKCS#12 file does not decrypt")
    return plain


def _read_encrypted_data(cursor: Cursor) -> tuple[bytes, bytes]:
    """EncryptedData ::= SEQUENCE { version, EncryptedContentInfo } (RFC 5652 section 8):
    the encoding of its contentEncryptionAlgorithm, and the ciphertext."""
    what = "EncryptedData"
    cursor.enter(TAG_SEQUENCE, what)
    cursor.version(f"{what}.version", frozenset({0, 2}))
    cursor.enter(TAG_SEQUENCE, f"{what}.encryptedContentInfo")
    cursor.oid(f"{what}.contentType")
    algorithm = cursor.element(f"{what}.contentEncryptionAlgorithm", TAG_SEQUENCE)
    ciphertext = cursor.octets(f"{what}.encryptedContent", 0x80)
    cursor.leave(f"{what}.encryptedContentInfo")
    if cursor.more():
        cursor.element(f"{what}.unprotectedAttrs")
    cursor.leave(what)
    return algorithm, ciphertext


def _safe_bags(contents: bytes) -> list[tuple[str, bytes]]:
    """SafeContents ::= SEQUENCE OF SafeBag { bagId, [0] EXPLICIT bagValue, bagAttributes }:
    each bag's type and the encoding of its value."""
    found = []
    cursor = Cursor(contents)
    cursor.enter(TAG_SEQUENCE, "SafeContents")
    while cursor.more():
        cursor.enter(TAG_SEQUENCE, "SafeBag")
        bag_id = cursor.oid("SafeBag.bagId")
        cursor.enter(0xA0, "SafeBag.bagValue")
        found.append((bag_id, cursor.element("SafeBag.bagValue")))
        cursor.leave("SafeBag.bagValue")
        if cursor.more():
            cursor.element("SafeBag.bagAttributes")
        cursor.leave("SafeBag")
    cursor.leave("SafeContents")
    cursor.finish("SafeContents")
    return found


def _certificate(bag: bytes) -> x509.Certificate:
    """CertBag ::= SEQUENCE { certId x509Certificate, [0] EXPLICIT OCTET STRING (DER) }."""
    cursor = Cursor(bag)
    cursor.enter(TAG_SEQUENCE, "CertBag")
    cert_id = cursor.oid("CertBag.certId")
    if cert_id != _X509_CERTIFICATE:
        raise MalformedCMSError(f"CertBag: certificate type {cert_id} is not X.509")
    cursor.enter(0xA0, "CertBag.certValue")
    der = cursor.octets("CertBag.certValue", TAG_OCTET_STRING)
    cursor.leave("CertBag.certValue")
    cursor.leave("CertBag")
    return load_der_certificate(der)
