"""RSA key transport of the content-encryption key (RFC 5652 KeyTransRecipientInfo).

RSAES-PKCS1-v1_5 (RFC 3370) and RSAES-OAEP (RFC 3560, RFC 8017).  When we
encrypt with OAEP we use SHA-256 with MGF1-SHA-256 and write the parameters
explicitly; when decrypting, any SHA-1/SHA-2 hash, MGF1 hash and label is accepted.

No oracle (RFC 3218): a failed unwrap yields a random key of the expected
length plus a flag; the caller decrypts the content with it anyway and only
then reports failure, so every failure looks like a wrong content key.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from asn1crypto import algos, cms
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from smimecore.algorithms.digests import digest_by_name, read_hash_and_mgf1
from smimecore.errors import UnsupportedAlgorithmError
from smimecore.pki.der import TAG_OCTET_STRING, TAG_SEQUENCE, AlgorithmIdentifier, Cursor

__all__ = [
    "PKCS1V15_ALGORITHM_DER",
    "KeyTransport",
    "key_transport",
    "rsa_unwrap",
    "rsa_wrap",
]

_PKCS1V15_OID = "1.2.840.113549.1.1.1"
_OAEP_OID = "1.2.840.113549.1.1.7"
_P_SPECIFIED = "1.2.840.113549.1.1.9"
_OAEP_HASHES = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})

PKCS1V15_ALGORITHM_DER = bytes.fromhex("300d06092a864886f70d0101010500")
"""The DER AlgorithmIdentifier of rsaEncryption (PKCS#1 v1.5) with NULL parameters."""


@dataclass(frozen=True)
class KeyTransport:
    """What a KeyTransRecipientInfo's keyEncryptionAlgorithm says: a name and the padding."""

    name: str
    """``rsaes-pkcs1-v1_5`` or ``rsaes-oaep-<hash>``."""
    padding: padding.AsymmetricPadding


def rsa_wrap(
    public_key: rsa.RSAPublicKey, key: bytes, *, oaep_hash: str | None = None
) -> tuple[bytes, bytes]:
    """Encrypt ``key`` for ``public_key``: PKCS#1 v1.5, or OAEP with ``oaep_hash``.

    Returns the DER keyEncryptionAlgorithm to write and the encrypted key.
    """
    if oaep_hash is None:
        return PKCS1V15_ALGORITHM_DER, public_key.encrypt(key, padding.PKCS1v15())
    digest = digest_by_name(oaep_hash)
    if digest.weak:
        raise UnsupportedAlgorithmError(oaep_hash, "is not used for OAEP when encrypting")
    hash_algorithm = digest.hash_algorithm()
    oaep = padding.OAEP(mgf=padding.MGF1(hash_algorithm), algorithm=hash_algorithm, label=None)
    return _oaep_algorithm_der(digest.name), public_key.encrypt(key, oaep)


@functools.lru_cache(maxsize=8)
def _oaep_algorithm_der(hash_name: str) -> bytes:
    hash_identifier = {"algorithm": hash_name, "parameters": None}
    parameters = algos.RSAESOAEPParams(
        {
            "hash_algorithm": hash_identifier,
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": hash_identifier},
        }
    )
    algorithm = {"algorithm": "rsaes_oaep", "parameters": parameters}
    return bytes(cms.KeyEncryptionAlgorithm(algorithm).dump())


@functools.lru_cache(maxsize=64)
def key_transport(algorithm: AlgorithmIdentifier) -> KeyTransport | None:
    """The RSA key transport ``algorithm`` names, or ``None`` when it is not RSA.

    Raises :class:`UnsupportedAlgorithmError` or
    :class:`~smimecore.errors.MalformedCMSError` for RSA with parameters we
    cannot use; a few distinct values, so cached.
    """
    if algorithm.oid == _PKCS1V15_OID:
        return KeyTransport("rsaes-pkcs1-v1_5", padding.PKCS1v15())
    if algorithm.oid != _OAEP_OID:
        return None
    what = "RSAES-OAEP-params"
    cursor = Cursor(algorithm.parameters or b"\x30\x00")
    cursor.enter(TAG_SEQUENCE, what)
    digest, mask_digest = read_hash_and_mgf1(cursor, what)
    label = b""
    if cursor.peek() == 0xA2:
        cursor.enter(0xA2, f"{what}.pSourceAlgorithm")
        source = cursor.algorithm(f"{what}.pSourceAlgorithm")
        cursor.leave(f"{what}.pSourceAlgorithm")
        if source.oid != _P_SPECIFIED:
            raise UnsupportedAlgorithmError(source.oid, "is not a supported OAEP label source")
        label_cursor = Cursor(source.parameters or b"\x04\x00")
        label = label_cursor.octets(f"{what}.pSourceAlgorithm.parameters", TAG_OCTET_STRING)
        label_cursor.finish(f"{what}.pSourceAlgorithm.parameters")
    cursor.leave(what)
    cursor.finish(what)
    for name in (digest.name, mask_digest.name):
        if name not in _OAEP_HASHES:
            raise UnsupportedAlgorithmError(f"RSAES-OAEP with {name}", "is not supported")
    chosen = padding.OAEP(
        mgf=padding.MGF1(mask_digest.hash_algorithm()),
        algorithm=digest.hash_algorithm(),
        label=label or None,
    )
    return KeyTransport(f"rsaes-oaep-{digest.hash_algorithm().name}", chosen)


def rsa_unwrap(
    private_key: rsa.RSAPrivateKey,
    transport: KeyTransport,
    encrypted_key: bytes,
    expected_length: int,
) -> tuple[bytes, bool]:
    """Recover the content key; returns (key, ok).

    On any failure (or a key of another length than ``expected_length``)
    the key is random and ``ok`` is false; nothing is raised, so the caller
    can fail at the same place a wrong content key would (RFC 3218).
    """
    fallback = os.urandom(expected_length)
    try:
        key = private_key.decrypt(encrypted_key, transport.padding)
    except ValueError:
        return fallback, False
    except UnsupportedAlgorithm:  # refused before the key is used: it reveals nothing of it
        raise UnsupportedAlgorithmError(transport.name, "is not supported here") from None
    if len(key) != expected_length:
        return fallback, False
    return key, True
