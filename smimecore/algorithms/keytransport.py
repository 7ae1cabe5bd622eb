"""RSA key transport of the content-encryption key (RFC 5652 KeyTransRecipientInfo).

RSAES-PKCS1-v1_5 (RFC 3370) and RSAES-OAEP (RFC 3560, RFC 8017).  When we
encrypt with OAEP we use SHA-256 with MGF1-SHA-256 and write the parameters
explicitly; when decrypting, any hash / MGF1 hash / label is accepted.

No oracle (RFC 3218): a failed unwrap yields a random key of the expected
length plus a flag; the caller decrypts the content with it anyway and only
then reports failure, so every failure looks like a wrong content key.
"""

from __future__ import annotations

import os

from asn1crypto import algos, cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from smimecore.algorithms.digests import digest_by_name
from smimecore.errors import MalformedCMSError, UnsupportedAlgorithmError

__all__ = [
    "PKCS1V15_ALGORITHM_DER",
    "describe_rsa_algorithm",
    "describe_rsa_algorithm_der",
    "is_rsa_algorithm",
    "rsa_unwrap",
    "rsa_unwrap_der",
    "rsa_wrap",
]

_PKCS1V15_OID = "1.2.840.113549.1.1.1"
_OAEP_OID = "1.2.840.113549.1.1.7"

PKCS1V15_ALGORITHM_DER = bytes.fromhex("300d06092a864886f70d0101010500")
"""The DER AlgorithmIdentifier of rsaEncryption (PKCS#1 v1.5) with NULL parameters."""

# The two encodings of PKCS#1 v1.5 in the wild (NULL parameters, or none): read
# without asn1crypto; every other KeyEncryptionAlgorithm goes through it as before.
_PKCS1V15_PLAIN = frozenset({PKCS1V15_ALGORITHM_DER, bytes.fromhex("300b06092a864886f70d010101")})


def rsa_wrap(
    public_key: rsa.RSAPublicKey, key: bytes, *, oaep_hash: str | None = None
) -> tuple[cms.KeyEncryptionAlgorithm, bytes]:
    """Encrypt ``key`` for ``public_key``: PKCS#1 v1.5, or OAEP with ``oaep_hash``.

    Returns the KeyEncryptionAlgorithm to write and the encrypted key.
    """
    if oaep_hash is None:
        algorithm = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"})
        return algorithm, public_key.encrypt(key, padding.PKCS1v15())
    digest = digest_by_name(oaep_hash)
    if digest.weak:
        raise UnsupportedAlgorithmError(oaep_hash, "is not used for OAEP when encrypting")
    hash_identifier = {"algorithm": digest.name, "parameters": None}
    parameters = algos.RSAESOAEPParams(
        {
            "hash_algorithm": hash_identifier,
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": hash_identifier},
        }
    )
    algorithm = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_oaep", "parameters": parameters})
    hash_algorithm = digest.hash_algorithm()
    oaep = padding.OAEP(mgf=padding.MGF1(hash_algorithm), algorithm=hash_algorithm, label=None)
    return algorithm, public_key.encrypt(key, oaep)


def _oaep_padding(parameters: algos.RSAESOAEPParams) -> padding.OAEP:
    try:
        hash_name = parameters["hash_algorithm"]["algorithm"].native
        mask = parameters["mask_gen_algorithm"]
        if mask["algorithm"].native != "mgf1":
            raise UnsupportedAlgorithmError(str(mask["algorithm"].dotted), "is not a known MGF")
        mgf_hash_name = mask["parameters"]["algorithm"].native
        source = parameters["p_source_algorithm"]
        label = source["parameters"].native if source["algorithm"].native == "p_specified" else b""
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedCMSError("RSAES-OAEP parameters are malformed") from exc
    hash_algorithm: hashes.HashAlgorithm = digest_by_name(hash_name).hash_algorithm()
    mgf_hash: hashes.HashAlgorithm = digest_by_name(mgf_hash_name).hash_algorithm()
    return padding.OAEP(mgf=padding.MGF1(mgf_hash), algorithm=hash_algorithm, label=label or None)


def _padding_for(algorithm: cms.KeyEncryptionAlgorithm) -> padding.AsymmetricPadding:
    oid = algorithm["algorithm"].dotted
    if oid == _PKCS1V15_OID:
        return padding.PKCS1v15()
    if oid == _OAEP_OID:
        parameters = algorithm["parameters"]
        if not isinstance(parameters, algos.RSAESOAEPParams):
            parameters = algos.RSAESOAEPParams({})
        return _oaep_padding(parameters)
    raise UnsupportedAlgorithmError(oid, "is not a supported key transport algorithm")


def is_rsa_algorithm(algorithm: cms.KeyEncryptionAlgorithm) -> bool:
    """Whether ``algorithm`` is RSA key transport (PKCS#1 v1.5 or OAEP)."""
    return bool(algorithm["algorithm"].dotted in (_PKCS1V15_OID, _OAEP_OID))


def describe_rsa_algorithm(algorithm: cms.KeyEncryptionAlgorithm) -> str:
    """A short name: ``rsaes-pkcs1-v1_5`` or ``rsaes-oaep-<hash>``."""
    chosen = _padding_for(algorithm)
    if isinstance(chosen, padding.OAEP):
        return f"rsaes-oaep-{chosen.algorithm.name}"
    return "rsaes-pkcs1-v1_5"


def rsa_unwrap(
    private_key: rsa.RSAPrivateKey,
    algorithm: cms.KeyEncryptionAlgorithm,
    encrypted_key: bytes,
    expected_length: int,
) -> tuple[bytes, bool]:
    """Recover the content key; returns (key, ok).

    On any failure (or a key of another length than ``expected_length``)
    the key is random and ``ok`` is false; nothing is raised, so the caller
    can fail at the same place a wrong content key would (RFC 3218).
    Unsupported or malformed *parameters* still raise, before the private
    key is used.
    """
    return _unwrap(private_key, _padding_for(algorithm), encrypted_key, expected_length)


def _unwrap(
    private_key: rsa.RSAPrivateKey,
    chosen: padding.AsymmetricPadding,
    encrypted_key: bytes,
    expected_length: int,
) -> tuple[bytes, bool]:
    fallback = os.urandom(expected_length)
    try:
        key = private_key.decrypt(encrypted_key, chosen)
    except ValueError:
        return fallback, False
    if len(key) != expected_length:
        return fallback, False
    return key, True


def _algorithm(algorithm_der: bytes) -> cms.KeyEncryptionAlgorithm:
    try:
        return cms.KeyEncryptionAlgorithm.load(algorithm_der)
    except ValueError as exc:
        raise MalformedCMSError("KeyEncryptionAlgorithm is malformed") from exc


def describe_rsa_algorithm_der(algorithm_der: bytes) -> tuple[str, bool] | None:
    """(short name, supported) of a DER KeyEncryptionAlgorithm, or ``None`` if it is not RSA.

    The same answers as :func:`is_rsa_algorithm` and :func:`describe_rsa_algorithm`.
    """
    if algorithm_der in _PKCS1V15_PLAIN:
        return "rsaes-pkcs1-v1_5", True
    algorithm = _algorithm(algorithm_der)
    if not is_rsa_algorithm(algorithm):
        return None
    try:
        return describe_rsa_algorithm(algorithm), True
    except (UnsupportedAlgorithmError, MalformedCMSError):
        return str(algorithm["algorithm"].dotted), False


def rsa_unwrap_der(
    private_key: rsa.RSAPrivateKey, algorithm_der: bytes, encrypted_key: bytes, expected_length: int
) -> tuple[bytes, bool]:
    """:func:`rsa_unwrap` with the KeyEncryptionAlgorithm given as DER."""
    if algorithm_der in _PKCS1V15_PLAIN:
        return _unwrap(private_key, padding.PKCS1v15(), encrypted_key, expected_length)
    return rsa_unwrap(private_key, _algorithm(algorithm_der), encrypted_key, expected_length)
