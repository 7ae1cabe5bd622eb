"""Private keys from PEM or DER, in every form smimecore reads.

* PKCS#8 (``PRIVATE KEY``) and encrypted PKCS#8 (``ENCRYPTED PRIVATE KEY``)
  with a passphrase; traditional RSA and EC keys (``RSA PRIVATE KEY``,
  ``EC PRIVATE KEY``, also with a legacy ``Proc-Type`` encryption).
* ML-DSA (RFC 9881) and ML-KEM (RFC 9935) keys in PKCS#8.  Their
  privateKey is a CHOICE of ``seed [0]``, ``expandedKey OCTET STRING`` and
  ``both SEQUENCE {seed, expandedKey}``.  ``cryptography`` builds keys from
  a seed only, so the seed form loads, the "both" form loads through its
  seed (after checking that its expanded key belongs to that seed), and
  the expanded-only form is refused: a seed cannot be recovered from it.
* ML-KEM-512 is refused: the OpenSSL inside ``cryptography`` lacks it.

Errors are :class:`KeyLoadError` (damaged or unreadable),
:class:`PassphraseError` (encrypted, and the passphrase is missing or
wrong) and :class:`UnsupportedAlgorithmError` (a key algorithm smimecore
cannot use).  Their messages never contain key material or the passphrase.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import algos, core, keys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from smimecore.errors import KeyLoadError, PassphraseError, UnsupportedAlgorithmError
from smimecore.pki.pem import PemBlock, find_pem_blocks

__all__ = ["PQC_KEY_OIDS", "UNSUPPORTED_KEY_OIDS", "load_private_key", "pbes2_decrypt"]

_DAMAGED = "the private key is damaged or in an unknown format"
_NO_PASSPHRASE = "the private key is encrypted and no passphrase is configured"  # noqa: S105
_WRONG_PASSPHRASE = "the passphrase does not open the private key"  # noqa: S105
_PKCS8_LABELS = ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY")


_SeedKey = (
    mldsa.MLDSA44PrivateKey
    | mldsa.MLDSA65PrivateKey
    | mldsa.MLDSA87PrivateKey
    | mlkem.MLKEM768PrivateKey
    | mlkem.MLKEM1024PrivateKey
)


@dataclass(frozen=True)
class _PqcKeyType:
    """One ML-DSA or ML-KEM parameter set as a PKCS#8 key."""

    name: str
    from_seed: Callable[[bytes], _SeedKey]
    seed_length: int
    expanded_length: int
    check_expanded: Callable[[bytes, bytes, bytes], bool]  # (expanded, seed, public key)


def _ml_dsa_expanded_fits(expanded: bytes, seed: bytes, public: bytes) -> bool:
    # FIPS 204 skEncode starts rho || K || tr, with rho = pk[:32] and tr = H(pk, 64).
    del seed
    return expanded[:32] == public[:32] and expanded[64:128] == hashlib.shake_256(public).digest(64)


def _ml_kem_expanded_fits(expanded: bytes, seed: bytes, public: bytes) -> bool:
    # FIPS 203 dk = dk_PKE || ek || H(ek) || z, where the seed is d || z.
    start = len(expanded) - len(public) - 64
    return (
        expanded[start : start + len(public)] == public
        and expanded[-64:-32] == hashlib.sha3_256(public).digest()
        and expanded[-32:] == seed[32:]
    )


PQC_KEY_OIDS: dict[str, _PqcKeyType] = {
    "2.16.840.1.101.3.4.3.17": _PqcKeyType(
        "ML-DSA-44", mldsa.MLDSA44PrivateKey.from_seed_bytes, 32, 2560, _ml_dsa_expanded_fits
    ),
    "2.16.840.1.101.3.4.3.18": _PqcKeyType(
        "ML-DSA-65", mldsa.MLDSA65PrivateKey.from_seed_bytes, 32, 4032, _ml_dsa_expanded_fits
    ),
    "2.16.840.1.101.3.4.3.19": _PqcKeyType(
        "ML-DSA-87", mldsa.MLDSA87PrivateKey.from_seed_bytes, 32, 4896, _ml_dsa_expanded_fits
    ),
    "2.16.840.1.101.3.4.4.2": _PqcKeyType(
        "ML-KEM-768", mlkem.MLKEM768PrivateKey.from_seed_bytes, 64, 2400, _ml_kem_expanded_fits
    ),
    "2.16.840.1.101.3.4.4.3": _PqcKeyType(
        "ML-KEM-1024", mlkem.MLKEM1024PrivateKey.from_seed_bytes, 64, 3168, _ml_kem_expanded_fits
    ),
}
"""The ML-DSA and ML-KEM parameter sets whose PKCS#8 keys this module reads itself."""

UNSUPPORTED_KEY_OIDS: dict[str, tuple[str, str]] = {
    "2.16.840.1.101.3.4.4.1": (
        "ML-KEM-512",
        "is not supported: the OpenSSL inside the cryptography package offers only "
        "ML-KEM-768 and ML-KEM-1024",
    ),
}
"""Key algorithms refused by name: (name, why), by dotted OID."""


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _Attributes(core.SetOf):  # type: ignore[misc]
    _child_spec = core.Any


class _OneAsymmetricKey(core.Sequence):  # type: ignore[misc]
    """PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958), without asn1crypto's key parsing."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("algorithm", _AlgorithmIdentifier),
        ("private_key", core.OctetString),
        ("attributes", _Attributes, {"implicit": 0, "optional": True}),
        ("public_key", core.OctetBitString, {"implicit": 1, "optional": True}),
    ]


class _SeedAndExpanded(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("seed", core.OctetString),
        ("expanded_key", core.OctetString),
    ]


def load_private_key(
    data: bytes, passphrase: str | bytes | None = None, *, source: str
) -> PrivateKeyTypes:
    """The private key in ``data`` (PEM, the first private-key block, or DER).

    ``passphrase`` opens an encrypted key and is ignored for a plain one.
    ``source`` names where the data came from (a file path) in errors.
    """
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if b"-----BEGIN " in data:
        return _load_pem(data, password or None, source)
    return _load_der(data, password or None, source)


def _load_pem(data: bytes, password: bytes | None, source: str) -> PrivateKeyTypes:
    block = next((block for block in find_pem_blocks(data) if block.is_private_key), None)
    if block is None:
        raise KeyLoadError(source, "holds no private key")
    if block.is_encrypted and password is None:
        raise PassphraseError(source, _NO_PASSPHRASE)
    if block.label in _PKCS8_LABELS:
        return _load_der(_block_der(block, source), password, source)
    # Traditional RSA / EC / DSA keys, possibly with legacy Proc-Type encryption.
    return _call_cryptography(
        lambda: serialization.load_pem_private_key(
            block.text, password if block.is_encrypted else None
        ),
        source,
        encrypted=block.is_encrypted,
    )


def _block_der(block: PemBlock, source: str) -> bytes:
    try:
        return block.der()
    except ValueError:  # MalformedCMSError: broken base64
        raise KeyLoadError(source, _DAMAGED) from None


def _load_der(der: bytes, password: bytes | None, source: str) -> PrivateKeyTypes:
    info = _parse(_OneAsymmetricKey, der)
    if info is not None:
        return _load_pkcs8(info, der, source)
    if _parse(keys.EncryptedPrivateKeyInfo, der) is not None:
        if password is None:
            raise PassphraseError(source, _NO_PASSPHRASE)
        return _load_encrypted_pkcs8(der, password, source)
    # Traditional RSAPrivateKey / ECPrivateKey / DSA in DER.
    return _call_cryptography(
        lambda: serialization.load_der_private_key(der, None), source, encrypted=False
    )


def _parse(spec: type[core.Sequence], der: bytes) -> core.Sequence | None:
    """``der`` parsed as ``spec`` (every field, strictly), or ``None`` if it is not one."""
    try:
        value = spec.load(der, strict=True)
        for name, *_ in spec._fields:
            value[name].contents  # noqa: B018 - parse each field now
        return value
    except (ValueError, TypeError, KeyError):
        return None


def _load_pkcs8(info: core.Sequence, der: bytes, source: str) -> PrivateKeyTypes:
    oid = str(info["algorithm"]["algorithm"].dotted)
    if oid in UNSUPPORTED_KEY_OIDS:
        raise UnsupportedAlgorithmError(*UNSUPPORTED_KEY_OIDS[oid])
    key_type = PQC_KEY_OIDS.get(oid)
    if key_type is None:
        return _call_cryptography(
            lambda: serialization.load_der_private_key(der, None),
            source,
            encrypted=False,
            algorithm=oid,
        )
    if not isinstance(info["algorithm"]["parameters"], core.Void):
        raise KeyLoadError(source, f"the {key_type.name} key has algorithm parameters")
    key = _pqc_key(key_type, bytes(info["private_key"].native), source)
    public_key = info["public_key"]
    if not isinstance(public_key, core.Void) and (
        bytes(public_key.native) != key.public_key().public_bytes_raw()
    ):
        raise KeyLoadError(source, f"the {key_type.name} public key does not match its private key")
    return key


def _pqc_key(key_type: _PqcKeyType, choice: bytes, source: str) -> _SeedKey:
    """The key from the privateKey CHOICE: ``[0]`` seed, expandedKey, or both."""
    tag = choice[:1]
    if tag == b"\x80":
        seed = _octets(choice, source, implicit=0)
        return _from_seed(key_type, seed, source)
    if tag == b"\x04":
        _octets(choice, source)
        raise KeyLoadError(
            source,
            f"the {key_type.name} private key holds only the expanded key, from which no seed "
            "can be recovered, and cryptography builds keys from a seed only: export it in "
            "the seed form (or with both seed and expanded key)",
        )
    both = _parse(_SeedAndExpanded, choice) if tag == b"\x30" else None
    if both is None:
        raise KeyLoadError(source, _DAMAGED)
    seed = bytes(both["seed"].native)
    key = _from_seed(key_type, seed, source)
    expanded = bytes(both["expanded_key"].native)
    public = key.public_key().public_bytes_raw()
    if len(expanded) != key_type.expanded_length or not key_type.check_expanded(
        expanded, seed, public
    ):
        raise KeyLoadError(
            source, f"the seed and the expanded key of the {key_type.name} key do not match"
        )
    return key


def _octets(encoded: bytes, source: str, *, implicit: int | None = None) -> bytes:
    try:
        if implicit is None:
            value = core.OctetString.load(encoded, strict=True)
        else:
            value = core.OctetString.load(encoded, strict=True, implicit=implicit)
        return bytes(value.native)
    except (ValueError, TypeError):
        raise KeyLoadError(source, _DAMAGED) from None


def _from_seed(key_type: _PqcKeyType, seed: bytes, source: str) -> _SeedKey:
    if len(seed) != key_type.seed_length:
        raise KeyLoadError(source, f"the {key_type.name} seed is not {key_type.seed_length} octets")
    try:
        return key_type.from_seed(seed)
    except UnsupportedAlgorithm:
        raise UnsupportedAlgorithmError(
            key_type.name, "is not supported by this cryptography build"
        ) from None
    except ValueError:
        raise KeyLoadError(source, _DAMAGED) from None


def _load_encrypted_pkcs8(der: bytes, password: bytes, source: str) -> PrivateKeyTypes:
    """cryptography decrypts and loads; when it cannot read what it decrypted, we read it."""
    try:
        return serialization.load_der_private_key(der, password)
    except ValueError as exc:
        if str(exc).startswith("Incorrect password"):
            raise PassphraseError(source, _WRONG_PASSPHRASE) from None
    except UnsupportedAlgorithm:
        pass
    except TypeError:
        raise KeyLoadError(source, _DAMAGED) from None
    # Decrypted but unreadable to cryptography (the ML-KEM/ML-DSA "both" and
    # expanded forms, ML-KEM-512), or not decryptable by it at all.
    plain = _pbes2_decrypt(der, password)
    info = _parse(_OneAsymmetricKey, plain) if plain is not None else None
    if info is None or plain is None:
        raise PassphraseError(source, _WRONG_PASSPHRASE)
    return _load_pkcs8(info, plain, source)


_PBKDF2_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _pbes2_decrypt(der: bytes, password: bytes) -> bytes | None:
    """The PKCS#8 inside a PBES2 (PBKDF2, AES-CBC) EncryptedPrivateKeyInfo, or ``None``."""
    try:
        encrypted = keys.EncryptedPrivateKeyInfo.load(der)
        algorithm = encrypted["encryption_algorithm"]
        ciphertext = bytes(encrypted["encrypted_data"].native)
    except (ValueError, TypeError, KeyError):
        return None
    return pbes2_decrypt(algorithm.dump(), ciphertext, password)


def pbes2_decrypt(algorithm_der: bytes, ciphertext: bytes, password: bytes) -> bytes | None:
    """``ciphertext`` decrypted under a PBES2 AlgorithmIdentifier (PBKDF2 with HMAC-SHA-1/2,
    AES-CBC: what OpenSSL 3 and ``cryptography`` write), or ``None`` when it is not one or
    does not decrypt (a wrong password, in all likelihood)."""
    try:
        algorithm = algos.EncryptionAlgorithm.load(algorithm_der)
        if algorithm.kdf != "pbkdf2" or algorithm.encryption_cipher != "aes":
            return None
        kdf = PBKDF2HMAC(
            algorithm=_PBKDF2_HASHES[algorithm.kdf_hmac](),
            length=algorithm.key_length,
            salt=algorithm.kdf_salt,
            iterations=algorithm.kdf_iterations,
        )
        decryptor = Cipher(
            algorithms.AES(kdf.derive(password)), modes.CBC(algorithm.encryption_iv)
        ).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return bytes(unpadder.update(padded) + unpadder.finalize())
    except (ValueError, TypeError, KeyError):
        return None


def _call_cryptography(
    load: Callable[[], PrivateKeyTypes],
    source: str,
    *,
    encrypted: bool,
    algorithm: str = "private key",
) -> PrivateKeyTypes:
    """Run one of cryptography's loaders with its errors turned into ours.

    ``algorithm`` names the key's algorithm (its OID) when it is known.
    """
    try:
        return load()
    except ValueError:
        raise (
            PassphraseError(source, _WRONG_PASSPHRASE)
            if encrypted
            else KeyLoadError(source, _DAMAGED)
        ) from None
    except UnsupportedAlgorithm:
        raise UnsupportedAlgorithmError(
            algorithm, "is a kind of key the cryptography package cannot load"
        ) from None
    except TypeError as exc:
        problem = f"the private key cannot be used ({type(exc).__name__})"
        raise KeyLoadError(source, problem) from None
