"""Ephemeral-static ECDH key agreement (RFC 5652 KeyAgreeRecipientInfo).

* RFC 5753: P-256 / P-384 / P-521 with the X9.63 KDF
  (``dhSinglePass-stdDH-sha{1,224,256,384,512}kdf-scheme``; the cofactor
  variants are the same computation on these curves, cofactor 1).
  OpenSSL 3.0 uses the SHA-1 form by default; we accept it when decrypting.
* RFC 8418: X25519 and X448 with HKDF-SHA-256/384/512, and with the X9.63
  KDF OIDs (as in the RFC 9216 examples).

The key-encryption key is derived from the shared secret and the DER
ECC-CMS-SharedInfo (key-wrap AlgorithmIdentifier, ukm, KEK length), then
unwraps the content key with AES key wrap (RFC 3394) or, when decrypting
what OpenSSL 1.1.1 made for 3DES content, the RFC 3217 Triple-DES key wrap.  For HKDF the
SharedInfo is the ``info`` and no salt is used (RFC 8418 section 2).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal, cast

from asn1crypto import core
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from smimecore.algorithms.digests import digest_by_name
from smimecore.errors import DecryptionError, MalformedCMSError, UnsupportedAlgorithmError
from smimecore.lazy import kind_of_class
from smimecore.pki.der import (
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_SEQUENCE,
    AlgorithmIdentifier,
    Cursor,
    encode_tlv,
)

__all__ = [
    "AgreementPrivateKey",
    "AgreementPublicKey",
    "Kdf",
    "KeyAgreement",
    "KeyAgreementScheme",
    "OriginatorKey",
    "agree_and_wrap",
    "key_agreement",
    "originator_fits",
    "unwrap_agreed",
]

AgreementPrivateKey = ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey | x448.X448PrivateKey
AgreementPublicKey = ec.EllipticCurvePublicKey | x25519.X25519PublicKey | x448.X448PublicKey
AgreementKind = Literal["ec", "x25519", "x448"]
Kdf = Literal["x963", "hkdf"]
OriginatorKey = tuple[str, bytes]
"""A kari's ephemeral originatorKey: its algorithm OID and its public key (the BIT STRING)."""


@dataclass(frozen=True)
class KeyAgreementScheme:
    """A KeyAgreeRecipientInfo keyEncryptionAlgorithm: its KDF and hash."""

    oid: str
    kdf: Kdf
    hash_name: str

    @property
    def name(self) -> str:
        """``ecdh-x963-sha256``, ``ecdh-hkdf-sha512``..."""
        return f"ecdh-{self.kdf}-{self.hash_name}"


_SCHEMES: dict[str, KeyAgreementScheme] = {
    scheme.oid: scheme
    for scheme in (
        KeyAgreementScheme("1.3.133.16.840.63.0.2", "x963", "sha1"),
        KeyAgreementScheme("1.3.132.1.11.0", "x963", "sha224"),
        KeyAgreementScheme("1.3.132.1.11.1", "x963", "sha256"),
        KeyAgreementScheme("1.3.132.1.11.2", "x963", "sha384"),
        KeyAgreementScheme("1.3.132.1.11.3", "x963", "sha512"),
        # cofactorDH: identical to stdDH on the NIST prime curves (cofactor 1).
        KeyAgreementScheme("1.3.133.16.840.63.0.3", "x963", "sha1"),
        KeyAgreementScheme("1.3.132.1.14.0", "x963", "sha224"),
        KeyAgreementScheme("1.3.132.1.14.1", "x963", "sha256"),
        KeyAgreementScheme("1.3.132.1.14.2", "x963", "sha384"),
        KeyAgreementScheme("1.3.132.1.14.3", "x963", "sha512"),
        KeyAgreementScheme("1.2.840.113549.1.9.16.3.19", "hkdf", "sha256"),
        KeyAgreementScheme("1.2.840.113549.1.9.16.3.20", "hkdf", "sha384"),
        KeyAgreementScheme("1.2.840.113549.1.9.16.3.21", "hkdf", "sha512"),
    )
}
_COFACTOR_OIDS = frozenset(
    {
        "1.3.133.16.840.63.0.3",
        "1.3.132.1.14.0",
        "1.3.132.1.14.1",
        "1.3.132.1.14.2",
        "1.3.132.1.14.3",
    }
)
_WRAP_OIDS = {
    "2.16.840.1.101.3.4.1.5": 16,
    "2.16.840.1.101.3.4.1.25": 24,
    "2.16.840.1.101.3.4.1.45": 32,
}
_WRAP_BY_SIZE = {size: oid for oid, size in _WRAP_OIDS.items()}
_DES3_WRAP_OID = "1.2.840.113549.1.9.16.3.6"  # RFC 3217, decryption only (OpenSSL 1.1.1 with 3DES)
_DES3_WRAP_IV = bytes.fromhex("4adda22c79e82105")
_EC_OID = "1.2.840.10045.2.1"
_X25519_OID = "1.3.101.110"
_X448_OID = "1.3.101.111"
# The originator key's algorithm for each kind of recipient key: EC for any other key.
_ORIGINATOR_OID: dict[AgreementKind | None, str] = {"x25519": _X25519_OID, "x448": _X448_OID}
_DEFAULT_HASH = {"secp256r1": "sha256", "secp384r1": "sha384", "secp521r1": "sha512"}


@dataclass(frozen=True)
class KeyAgreement:
    """What a KeyAgreeRecipientInfo's keyEncryptionAlgorithm says: the scheme and the key wrap.

    ``wrap_der`` is the key-wrap AlgorithmIdentifier as received (the
    SharedInfo's keyInfo); ``size`` the key-encryption key's length.
    """

    scheme: KeyAgreementScheme
    wrap_der: bytes
    size: int
    des3_wrap: bool = False

    @property
    def name(self) -> str:
        """``ecdh-x963-sha256+aes128-wrap`` style name."""
        wrap = "des-ede3" if self.des3_wrap else f"aes{self.size * 8}"
        return f"{self.scheme.name}+{wrap}-wrap"


@functools.lru_cache(maxsize=64)
def key_agreement(algorithm: AlgorithmIdentifier) -> KeyAgreement:
    """The key agreement ``algorithm`` names (a few distinct values, so cached).

    Raises :class:`UnsupportedAlgorithmError` for schemes and key wraps we do
    not know, :class:`MalformedCMSError` when the key wrap is missing or unreadable.
    """
    scheme = _SCHEMES.get(algorithm.oid)
    if scheme is None:
        raise UnsupportedAlgorithmError(algorithm.oid, "is not a supported key agreement algorithm")
    if algorithm.parameters is None:
        raise MalformedCMSError("key agreement algorithm has no key-wrap algorithm")
    cursor = Cursor(algorithm.parameters)
    wrap_oid = cursor.algorithm("the key-wrap AlgorithmIdentifier").oid
    cursor.finish("the key-wrap AlgorithmIdentifier")
    if wrap_oid == _DES3_WRAP_OID:
        return KeyAgreement(scheme, algorithm.parameters, 24, des3_wrap=True)
    size = _WRAP_OIDS.get(wrap_oid)
    if size is None:
        raise UnsupportedAlgorithmError(wrap_oid, "is not a supported key-wrap algorithm")
    return KeyAgreement(scheme, algorithm.parameters, size)


def _des3_unwrap(kek: bytes, wrapped: bytes) -> bytes:
    """RFC 3217 section 3.2 (Triple-DES key unwrap)."""
    if len(wrapped) != 40:
        raise DecryptionError()
    outer = Cipher(TripleDES(kek), modes.CBC(_DES3_WRAP_IV)).decryptor()
    temp2 = (outer.update(wrapped) + outer.finalize())[::-1]
    inner = Cipher(TripleDES(kek), modes.CBC(temp2[:8])).decryptor()
    padded = inner.update(temp2[8:]) + inner.finalize()
    key, icv = padded[:24], padded[24:]
    if not hmac.compare_digest(hashlib.sha1(key).digest()[:8], icv):  # noqa: S324 - RFC 3217 checksum
        raise DecryptionError()
    return key


def _derive(
    scheme: KeyAgreementScheme, shared: bytes, wrap_der: bytes, size: int, ukm: bytes | None
) -> bytes:
    # ECC-CMS-SharedInfo in DER: keyInfo, [0] EXPLICIT ukm (if any), [2] EXPLICIT key bits.
    parts = [wrap_der]
    if ukm is not None:
        parts.append(encode_tlv(0xA0, encode_tlv(TAG_OCTET_STRING, ukm)))
    parts.append(_SUPP_PUB_INFO.get(size) or _supp_pub_info(size))
    shared_info = encode_tlv(TAG_SEQUENCE, *parts)
    if scheme.kdf == "hkdf":
        algorithm: hashes.HashAlgorithm = _HASHES[scheme.hash_name]
        return HKDF(algorithm=algorithm, length=size, salt=None, info=shared_info).derive(shared)
    return _x963_kdf(scheme.hash_name, shared, shared_info, size)


def _x963_kdf(hash_name: str, shared: bytes, shared_info: bytes, size: int) -> bytes:
    """ANSI X9.63 KDF (SEC 1 section 3.6.1): what cryptography's ``X963KDF`` derives."""
    new = _HASHLIB[hash_name]
    output = b""
    counter = 1
    while len(output) < size:
        output += new(shared + counter.to_bytes(4, "big") + shared_info).digest()
        counter += 1
    return output[:size]


def _supp_pub_info(size: int) -> bytes:
    return encode_tlv(0xA2, encode_tlv(TAG_OCTET_STRING, (size * 8).to_bytes(4, "big")))


_SUPP_PUB_INFO = {size: _supp_pub_info(size) for size in (16, 24, 32)}
_HASHLIB = {
    "sha1": hashlib.sha1,
    "sha224": hashlib.sha224,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_HASHES: dict[str, hashes.HashAlgorithm] = {
    name: digest_by_name(name).hash_algorithm()
    for name in {scheme.hash_name for scheme in _SCHEMES.values()}
}


def originator_fits(private_key: AgreementPrivateKey, originator: OriginatorKey | None) -> bool:
    """Whether the originator key is of the same kind (and curve) as ``private_key``."""
    if originator is None:
        return False
    return originator[0] == _ORIGINATOR_OID.get(_agreement_key_kind(private_key), _EC_OID)


def _agreement_key_kind(private_key: object) -> AgreementKind | None:
    """The kind of a key-agreement private key (``ec``, ``x25519``, ``x448``), or ``None``."""
    return kind_of_class(type(private_key), _AGREEMENT_KINDS, _AGREEMENT_KIND_OF_TYPE)


_AGREEMENT_KINDS: tuple[tuple[AgreementKind, type], ...] = (
    ("ec", ec.EllipticCurvePrivateKey),
    ("x25519", x25519.X25519PrivateKey),
    ("x448", x448.X448PrivateKey),
)
_AGREEMENT_KIND_OF_TYPE: dict[type, AgreementKind | None] = {}


def _exchange(
    private_key: AgreementPrivateKey, kind: AgreementKind | None, oid: str, point: bytes
) -> bytes:
    try:
        if kind == "x25519" and oid == _X25519_OID:
            x25519_key = cast(x25519.X25519PrivateKey, private_key)
            return x25519_key.exchange(x25519.X25519PublicKey.from_public_bytes(point))
        if kind == "x448" and oid == _X448_OID:
            x448_key = cast(x448.X448PrivateKey, private_key)
            return x448_key.exchange(x448.X448PublicKey.from_public_bytes(point))
        if kind == "ec" and oid == _EC_OID:
            ec_key = cast(ec.EllipticCurvePrivateKey, private_key)
            peer = ec.EllipticCurvePublicKey.from_encoded_point(ec_key.curve, point)
            return ec_key.exchange(ec.ECDH(), peer)
    except ValueError as exc:
        raise MalformedCMSError("originator public key is not a valid point") from exc
    raise UnsupportedAlgorithmError(oid, "does not match the recipient's key type")


def unwrap_agreed(
    private_key: AgreementPrivateKey,
    agreement: KeyAgreement,
    originator: OriginatorKey,
    ukm: bytes | None,
    encrypted_key: bytes,
) -> bytes:
    """Recover the content key of one RecipientEncryptedKey.

    Raises :class:`DecryptionError` when the key wrap's integrity check fails
    (a wrong key), and typed errors for unsupported or malformed parameters.
    """
    scheme = agreement.scheme
    kind = _agreement_key_kind(private_key)
    if scheme.oid in _COFACTOR_OIDS and kind != "ec":
        raise UnsupportedAlgorithmError(scheme.oid, "is only supported on NIST curves")
    shared = _exchange(private_key, kind, *originator)
    kek = _derive(scheme, shared, agreement.wrap_der, agreement.size, ukm)
    if agreement.des3_wrap:
        return _des3_unwrap(kek, encrypted_key)
    try:
        return aes_key_unwrap(kek, encrypted_key)
    except (InvalidUnwrap, ValueError):
        raise DecryptionError() from None


@functools.lru_cache(maxsize=64)
def _default_scheme(kind: str, kdf: Kdf | None, kdf_hash: str | None) -> str:
    if kind not in ("x25519", "x448"):
        hash_name = kdf_hash or _DEFAULT_HASH.get(kind, "sha512")
        kdf = kdf or "x963"
    else:
        hash_name = kdf_hash or ("sha256" if kind == "x25519" else "sha512")
        kdf = kdf or "hkdf"
    hash_name = digest_by_name(hash_name).name
    for oid, scheme in _SCHEMES.items():
        if scheme.kdf == kdf and scheme.hash_name == hash_name and oid not in _COFACTOR_OIDS:
            return oid
    raise UnsupportedAlgorithmError(f"{kdf}-{hash_name}", "is not a supported KDF")


def _ephemeral(public_key: AgreementPublicKey) -> tuple[bytes, bytes, str]:
    """A fresh key pair on the recipient's curve: (shared secret, public bytes, OID)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        e_key = ec.generate_private_key(public_key.curve)
        point = e_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return e_key.exchange(ec.ECDH(), public_key), point, _EC_OID
    if isinstance(public_key, x25519.X25519PublicKey):
        x_key = x25519.X25519PrivateKey.generate()
        raw = x_key.public_key().public_bytes_raw()
        return x_key.exchange(public_key), raw, _X25519_OID
    if isinstance(public_key, x448.X448PublicKey):
        y_key = x448.X448PrivateKey.generate()
        raw = y_key.public_key().public_bytes_raw()
        return y_key.exchange(public_key), raw, _X448_OID
    raise UnsupportedAlgorithmError(type(public_key).__name__, "keys cannot be used for ECDH")


def agree_and_wrap(
    public_key: AgreementPublicKey,
    key: bytes,
    *,
    kdf: Kdf | None = None,
    kdf_hash: str | None = None,
    ukm: bytes | None = None,
) -> tuple[bytes, bytes, bytes]:
    """Wrap ``key`` for ``public_key`` with a fresh ephemeral key.

    Defaults: X9.63 KDF with SHA-256/384/512 for P-256/384/521, HKDF with
    SHA-256 (X25519) or SHA-512 (X448); the AES key wrap matches the
    content key's size.  Returns the DER of the originator (the
    OriginatorIdentifierOrKey CHOICE, ``[1]`` originatorKey, not yet in the
    KeyAgreeRecipientInfo's ``[0]``) and of the keyEncryptionAlgorithm, and
    the encrypted key.
    """
    size = len(key) if len(key) in _WRAP_BY_SIZE else 32
    scheme = _SCHEMES[_default_scheme(_key_kind(public_key), kdf, kdf_hash)]
    shared, public_bytes, key_oid = _ephemeral(public_key)
    kek = _derive(scheme, shared, _WRAP_DER[size], size, ukm)
    # OriginatorPublicKey with the algorithm parameters absent (RFC 5753 3.1.1).
    originator = encode_tlv(
        0xA1, _ORIGINATOR_ALGORITHMS[key_oid], encode_tlv(0x03, b"\x00", public_bytes)
    )
    return originator, _algorithm_der(scheme.oid, size), aes_key_wrap(kek, key)


@functools.lru_cache(maxsize=64)
def _algorithm_der(scheme_oid: str, size: int) -> bytes:
    return encode_tlv(TAG_SEQUENCE, encode_tlv(TAG_OID, _oid_bytes(scheme_oid)), _WRAP_DER[size])


def _key_kind(public_key: AgreementPublicKey) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.curve.name
    return "x25519" if isinstance(public_key, x25519.X25519PublicKey) else "x448"


def _oid_bytes(oid: str) -> bytes:
    return bytes(core.ObjectIdentifier(oid).contents)


_WRAP_DER = {
    size: encode_tlv(TAG_SEQUENCE, encode_tlv(TAG_OID, _oid_bytes(oid)))
    for size, oid in _WRAP_BY_SIZE.items()
}
_ORIGINATOR_ALGORITHMS = {
    oid: encode_tlv(TAG_SEQUENCE, encode_tlv(TAG_OID, _oid_bytes(oid)))
    for oid in (_EC_OID, _X25519_OID, _X448_OID)
}
