"""ML-KEM recipients: the primitives under a KEMRecipientInfo.

* RFC 9629: KEMRecipientInfo, an ``ori`` RecipientInfo of type
  :data:`ID_ORI_KEM`.  The KEM gives a shared secret; a KDF turns it into
  the key-encryption key (KEK) with the DER of CMSORIforKEMOtherInfo
  (wrap AlgorithmIdentifier, kekLength, optional ukm) as its ``info``;
  the KEK wraps the content-encryption key.
* RFC 9936: ML-KEM-512/768/1024 in that structure.  HKDF with SHA-256
  (id-alg-hkdf-with-sha256, RFC 8619) must be supported; SHA-384 and
  SHA-512 are accepted too.  The HKDF salt is the empty string.  The
  default key wrap is AES-256 for ML-KEM-768 and ML-KEM-1024.

ML-KEM-512 is refused: the OpenSSL inside the ``cryptography`` package does
not offer it.

No oracle: from decapsulation on, every failure (a wrong key, a tampered
``kemct``, a wrong ``ukm``, a failed unwrap) is the same
:class:`DecryptionError`.  Checks on public values only (unknown
algorithms, a ``kekLength`` that does not fit the key wrap) come before
and raise typed errors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from smimecore.algorithms.keywrap import unwrap_key, wrap_key, wrap_key_length
from smimecore.errors import (
    DecryptionError,
    MalformedCMSError,
    SmimeError,
    UnsupportedAlgorithmError,
)
from smimecore.pki.der import TAG_OCTET_STRING, TAG_SEQUENCE, encode_tlv

__all__ = [
    "HKDF_SHA256_OID",
    "ID_ORI_KEM",
    "KemAlgorithm",
    "KemPrivateKey",
    "KemPublicKey",
    "KemWrapped",
    "check_kem_parameters",
    "derive_kek",
    "kem_by_oid",
    "kem_decapsulate",
    "kem_description",
    "kem_encapsulate",
    "kem_fits_key",
    "kem_for_certificate",
    "kem_for_key",
    "kem_other_info",
    "kem_unwrap",
    "kem_wrap",
]

ID_ORI_KEM = "1.2.840.113549.1.9.16.13.3"
"""oriType of a KEMRecipientInfo (RFC 9629 section 3)."""

HKDF_SHA256_OID = "1.2.840.113549.1.9.16.3.28"
"""id-alg-hkdf-with-sha256 (RFC 8619), the KDF every RFC 9936 implementation supports."""

KemPrivateKey = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
"""ML-KEM private keys smimecore decrypts with."""

KemPublicKey = mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey
"""ML-KEM public keys smimecore encrypts to."""


@dataclass(frozen=True)
class KemAlgorithm:
    """An ML-KEM parameter set: its name, OID, ciphertext size and default key wrap."""

    name: str
    oid: str
    ciphertext_length: int
    default_wrap_oid: str


_AES256_WRAP = "2.16.840.1.101.3.4.1.45"
_KEMS: dict[str, KemAlgorithm] = {
    kem.oid: kem
    for kem in (
        KemAlgorithm("ML-KEM-768", "2.16.840.1.101.3.4.4.2", 1088, _AES256_WRAP),
        KemAlgorithm("ML-KEM-1024", "2.16.840.1.101.3.4.4.3", 1568, _AES256_WRAP),
    )
}
_ML_KEM_512_OID = "2.16.840.1.101.3.4.4.1"
_ML_KEM_512 = KemAlgorithm("ML-KEM-512", _ML_KEM_512_OID, 768, "2.16.840.1.101.3.4.1.5")
_KEY_TYPES: dict[str, tuple[type, type]] = {  # OID: (private key type, public key type)
    "2.16.840.1.101.3.4.4.2": (mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey),
    "2.16.840.1.101.3.4.4.3": (mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey),
}

# RFC 8619 HKDF identifiers; their parameters are absent, so there is no salt.
_HKDF_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    HKDF_SHA256_OID: hashes.SHA256,
    "1.2.840.113549.1.9.16.3.29": hashes.SHA384,
    "1.2.840.113549.1.9.16.3.30": hashes.SHA512,
}


def kem_by_oid(oid: str) -> KemAlgorithm:
    """The ML-KEM parameter set ``oid`` names; ML-KEM-512 and others are unsupported."""
    kem = _KEMS.get(oid)
    if kem is not None:
        return kem
    if oid == _ML_KEM_512_OID:
        raise UnsupportedAlgorithmError(
            "ML-KEM-512",
            "is not supported: the OpenSSL inside the cryptography package offers only "
            "ML-KEM-768 and ML-KEM-1024",
        )
    raise UnsupportedAlgorithmError(oid, "is not a supported KEM algorithm")


def kem_for_key(key: KemPrivateKey | KemPublicKey) -> KemAlgorithm:
    """The parameter set of an ML-KEM key."""
    for oid, key_types in _KEY_TYPES.items():
        if isinstance(key, key_types):
            return _KEMS[oid]
    raise UnsupportedAlgorithmError(type(key).__name__.lstrip("_"), "keys are not ML-KEM keys")


def kem_for_certificate(certificate: x509.Certificate) -> KemAlgorithm | None:
    """The ML-KEM parameter set (768 or 1024) of a certificate's key, ``None`` for other keys.

    Read from the algorithm identifier alone, without loading the key.
    """
    return _KEMS.get(certificate.public_key_algorithm_oid.dotted_string)


def kem_fits_key(private_key: object, kem_oid: str) -> bool:
    """Whether ``private_key`` is an ML-KEM key of the parameter set ``kem_oid`` names."""
    key_types = _KEY_TYPES.get(kem_oid)
    return key_types is not None and isinstance(private_key, key_types[0])


def kem_encapsulate(public_key: KemPublicKey) -> tuple[bytes, bytes]:
    """A fresh ``(kemct, shared_secret)`` for ``public_key`` (ML-KEM Encaps)."""
    kem_for_key(public_key)
    shared_secret, kemct = public_key.encapsulate()
    return kemct, shared_secret


def kem_decapsulate(private_key: KemPrivateKey, kem_oid: str, kemct: bytes) -> bytes:
    """The shared secret in ``kemct`` (ML-KEM Decaps).

    An unknown ``kem_oid`` is an :class:`UnsupportedAlgorithmError`; a key
    of another parameter set or a ciphertext of the wrong size is a
    :class:`DecryptionError` (ML-KEM itself answers a tampered ciphertext
    with a pseudo-random secret, which fails later, at the unwrap).
    """
    kem_by_oid(kem_oid)
    if not kem_fits_key(private_key, kem_oid):
        raise DecryptionError()
    try:
        return private_key.decapsulate(kemct)
    except (ValueError, TypeError):
        raise DecryptionError() from None


def kem_other_info(wrap_oid: str, kek_length: int, ukm: bytes | None = None) -> bytes:
    """The DER CMSORIforKEMOtherInfo (RFC 9629 section 5): the KDF's ``info``.

    SEQUENCE { wrap AlgorithmIdentifier (parameters absent, as AES key wrap
    requires, RFC 3565), kekLength INTEGER, ukm [0] EXPLICIT OCTET STRING
    OPTIONAL }.  ``ukm=None`` leaves the field out; ``b""`` writes an empty one.
    """
    fields = [_wrap_identifier(wrap_oid), _integer(kek_length)]
    if ukm is not None:
        fields.append(encode_tlv(0xA0, encode_tlv(TAG_OCTET_STRING, ukm)))
    return encode_tlv(TAG_SEQUENCE, *fields)


@functools.lru_cache(maxsize=16)
def _wrap_identifier(wrap_oid: str) -> bytes:
    return encode_tlv(TAG_SEQUENCE, bytes(core.ObjectIdentifier(wrap_oid).dump()))


@functools.lru_cache(maxsize=16)
def _integer(value: int) -> bytes:
    return bytes(core.Integer(value).dump())


def check_kem_parameters(kem_oid: str, kdf_oid: str, wrap_oid: str, kek_length: int) -> None:
    """Refuse, before any secret is used, what a KEMRecipientInfo cannot be decrypted with.

    Raises :class:`UnsupportedAlgorithmError` for an unknown KEM, KDF or
    key wrap, and :class:`MalformedCMSError` when ``kek_length`` is not the
    key wrap's key size (RFC 9629 section 3 requires this check).
    """
    kem_by_oid(kem_oid)
    _hkdf_hash(kdf_oid)
    expected = wrap_key_length(wrap_oid)
    if kek_length != expected:
        raise MalformedCMSError(
            f"KEMRecipientInfo kekLength {kek_length} does not fit its key wrap ({expected} octets)"
        )


_HKDF_NAMES = {oid: f"hkdf-{algorithm.name}" for oid, algorithm in _HKDF_HASHES.items()}
_WRAP_NAMES = {
    "2.16.840.1.101.3.4.1.5": "aes128-wrap",
    "2.16.840.1.101.3.4.1.25": "aes192-wrap",
    "2.16.840.1.101.3.4.1.45": "aes256-wrap",
}


def kem_description(kem_oid: str, kdf_oid: str, wrap_oid: str) -> str:
    """A KEMRecipientInfo's algorithms as one name: ``ml-kem-768+hkdf-sha256+aes256-wrap``.

    Unknown algorithms appear as their dotted OIDs.
    """
    kem = _KEMS.get(kem_oid) or (_ML_KEM_512 if kem_oid == _ML_KEM_512_OID else None)
    return "+".join(
        (
            kem.name.lower() if kem is not None else kem_oid,
            _HKDF_NAMES.get(kdf_oid, kdf_oid),
            _WRAP_NAMES.get(wrap_oid, wrap_oid),
        )
    )


def _hkdf_hash(kdf_oid: str) -> type[hashes.HashAlgorithm]:
    try:
        return _HKDF_HASHES[kdf_oid]
    except KeyError:
        raise UnsupportedAlgorithmError(
            kdf_oid, "is not a supported KEMRecipientInfo KDF (HKDF with SHA-256/384/512 is)"
        ) from None


def derive_kek(
    kdf_oid: str,
    shared_secret: bytes,
    wrap_oid: str,
    kek_length: int,
    ukm: bytes | None = None,
) -> bytes:
    """The KEK: HKDF(salt="", IKM=shared_secret, info=CMSORIforKEMOtherInfo, L=kek_length)."""
    algorithm = _hkdf_hash(kdf_oid)()
    info = kem_other_info(wrap_oid, kek_length, ukm)
    return HKDF(algorithm=algorithm, length=kek_length, salt=b"", info=info).derive(shared_secret)


def kem_unwrap(
    private_key: KemPrivateKey,
    *,
    kem_oid: str,
    kemct: bytes,
    kdf_oid: str,
    kek_length: int,
    ukm: bytes | None,
    wrap_oid: str,
    encrypted_key: bytes,
) -> bytes:
    """The content-encryption key of one KEMRecipientInfo, its fields given as plain values.

    Raises the typed errors of :func:`check_kem_parameters`; after that
    every failure is :class:`DecryptionError`.
    """
    check_kem_parameters(kem_oid, kdf_oid, wrap_oid, kek_length)
    shared_secret = kem_decapsulate(private_key, kem_oid, kemct)
    # The parameters are checked, so the derivation cannot fail: the unwrap is
    # the only place a wrong key, kemct or ukm shows, as a DecryptionError.
    kek = derive_kek(kdf_oid, shared_secret, wrap_oid, kek_length, ukm)
    return unwrap_key(kek, encrypted_key)


@dataclass(frozen=True)
class KemWrapped:
    """The fields of a KEMRecipientInfo for one recipient, as plain values (none secret).

    ``kem_parameters``, ``kdf_parameters`` and ``wrap_parameters`` are the
    encodings of the AlgorithmIdentifiers' parameters as received (``None``:
    absent, as RFC 9936, RFC 8619 and RFC 3565 require).
    """

    kem_oid: str
    kemct: bytes
    kdf_oid: str
    kek_length: int
    ukm: bytes | None
    wrap_oid: str
    encrypted_key: bytes
    kem_parameters: bytes | None = None
    kdf_parameters: bytes | None = None
    wrap_parameters: bytes | None = None

    @property
    def name(self) -> str:
        """The algorithms as one name (:func:`kem_description`)."""
        return kem_description(self.kem_oid, self.kdf_oid, self.wrap_oid)

    def unwrap(self, private_key: KemPrivateKey) -> bytes:
        """The content-encryption key these fields wrap for ``private_key`` (:func:`kem_unwrap`)."""
        return kem_unwrap(
            private_key,
            kem_oid=self.kem_oid,
            kemct=self.kemct,
            kdf_oid=self.kdf_oid,
            kek_length=self.kek_length,
            ukm=self.ukm,
            wrap_oid=self.wrap_oid,
            encrypted_key=self.encrypted_key,
        )

    def problem(self) -> SmimeError | None:
        """Why these fields cannot be decrypted with any key, from their public values alone:
        :func:`check_kem_parameters`, then parameters where none are allowed."""
        try:
            check_kem_parameters(self.kem_oid, self.kdf_oid, self.wrap_oid, self.kek_length)
        except (UnsupportedAlgorithmError, MalformedCMSError) as exc:
            return exc
        for role, parameters in (
            ("kem", self.kem_parameters),
            ("kdf", self.kdf_parameters),
            ("wrap", self.wrap_parameters),
        ):
            if parameters is not None:
                return MalformedCMSError(
                    f"KEMRecipientInfo.{role}: parameters are present (they must be absent)"
                )
        return None


def kem_wrap(
    public_key: KemPublicKey,
    content_key: bytes,
    *,
    kdf_oid: str = HKDF_SHA256_OID,
    wrap_oid: str | None = None,
    ukm: bytes | None = None,
) -> KemWrapped:
    """Wrap ``content_key`` for ``public_key`` with a fresh encapsulation.

    Defaults follow RFC 9936: HKDF-SHA256 and AES-256 key wrap.
    """
    kem = kem_for_key(public_key)
    wrap = wrap_oid or kem.default_wrap_oid
    kek_length = wrap_key_length(wrap)
    _hkdf_hash(kdf_oid)
    kemct, shared_secret = kem_encapsulate(public_key)
    kek = derive_kek(kdf_oid, shared_secret, wrap, kek_length, ukm)
    return KemWrapped(
        kem_oid=kem.oid,
        kemct=kemct,
        kdf_oid=kdf_oid,
        kek_length=kek_length,
        ukm=ukm,
        wrap_oid=wrap,
        encrypted_key=wrap_key(kek, content_key),
    )
