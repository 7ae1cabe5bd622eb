"""Signature schemes: choosing one for a key, producing and checking signatures.

Supported: RSA PKCS#1 v1.5 and RSASSA-PSS, ECDSA (P-256/384/521), Ed25519
and Ed448 (RFC 8419, "pure" mode over the signed attributes), ML-DSA-44/65/87
(RFC 9882: pure ML-DSA with an empty context string, SHA-512 when signing),
and DSA for verification only (old messages and the PKITS suite use it).
HashML-DSA and SLH-DSA are refused by name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, mldsa, padding, rsa

from smimecore.algorithms.digests import DigestAlgorithm, digest_by_name, read_hash_and_mgf1
from smimecore.errors import MalformedCMSError, UnsupportedAlgorithmError
from smimecore.lazy import kind_of_class
from smimecore.pki.der import TAG_SEQUENCE, AlgorithmIdentifier, Cursor

__all__ = [
    "ML_DSA_OIDS",
    "SignatureScheme",
    "SigningKey",
    "post_quantum_scheme",
    "scheme_for_key",
    "scheme_from_algorithm_identifier",
    "signing_key_kind",
]

SigningKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | mldsa.MLDSA44PrivateKey
    | mldsa.MLDSA65PrivateKey
    | mldsa.MLDSA87PrivateKey
)
"""Private keys smimecore signs with."""

ML_DSA_OIDS: dict[str, str] = {
    "2.16.840.1.101.3.4.3.17": "ml_dsa_44",
    "2.16.840.1.101.3.4.3.18": "ml_dsa_65",
    "2.16.840.1.101.3.4.3.19": "ml_dsa_87",
}
"""Scheme names of id-ml-dsa-44/65/87 (RFC 9882 section 2), by dotted OID."""

_ML_DSA_OID_BY_NAME = {name: oid for oid, name in ML_DSA_OIDS.items()}

# RFC 9882 Table 1: the digests of the signed attributes that keep each
# parameter set's strength (of those smimecore computes; no SHAKE).
_ML_DSA_DIGESTS: dict[str, frozenset[str]] = {
    "ml_dsa_44": frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"}),
    "ml_dsa_65": frozenset({"sha384", "sha512", "sha3_384", "sha3_512"}),
    "ml_dsa_87": frozenset({"sha512", "sha3_512"}),
}

_EDDSA_DIGEST = {"ed25519": "sha512", "ed448": "shake256"}


@dataclass(frozen=True)
class SignatureScheme:
    """A signature algorithm bound to its digest: what a SignerInfo's signatureAlgorithm says.

    ``name`` is one of ``rsassa_pkcs1v15``, ``rsassa_pss``, ``ecdsa``,
    ``ed25519``, ``ed448``, ``ml_dsa_44``, ``ml_dsa_65``, ``ml_dsa_87`` or
    ``dsa``.  ``pss_salt_length`` and ``mgf_digest`` only matter for PSS.
    """

    name: str
    digest: DigestAlgorithm
    pss_salt_length: int = 0
    mgf_digest: DigestAlgorithm | None = None

    def algorithm_identifier(self) -> dict[str, Any]:
        """The AlgorithmIdentifier to write into a SignerInfo (asn1crypto's native form)."""
        if self.name == "rsassa_pkcs1v15":
            return {"algorithm": "rsassa_pkcs1v15", "parameters": None}
        if self.name == "rsassa_pss":
            mgf_digest = self.mgf_digest or self.digest
            return {
                "algorithm": "rsassa_pss",
                "parameters": {
                    "hash_algorithm": {"algorithm": self.digest.name},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": mgf_digest.name},
                    },
                    "salt_length": self.pss_salt_length,
                },
            }
        if self.name == "ecdsa":
            return {"algorithm": f"{self.digest.name}_ecdsa"}
        if self.name in _ML_DSA_OID_BY_NAME:
            return {"algorithm": _ML_DSA_OID_BY_NAME[self.name]}  # parameters absent
        return {"algorithm": self.name}

    def sign(self, key: SigningKey, data: bytes) -> bytes:
        """Sign ``data`` (the DER of the signed attributes, or the content) with ``key``."""
        kind = signing_key_kind(key)
        if kind == "rsa":
            rsa_key = cast(rsa.RSAPrivateKey, key)
            return rsa_key.sign(data, self._rsa_padding(), self.digest.hash_algorithm())
        if kind == "ec":
            ec_key = cast(ec.EllipticCurvePrivateKey, key)
            return ec_key.sign(data, ec.ECDSA(self.digest.hash_algorithm()))
        pure_key = cast(_PurePrivateKey, key)
        return pure_key.sign(data)  # EdDSA, and ML-DSA with the empty context string

    def verify(self, public_key: object, signature: bytes, data: bytes | memoryview) -> bool:
        """Whether ``signature`` over ``data`` verifies under ``public_key``.

        A key whose type does not fit the scheme is an unsupported
        combination, not a bad signature.
        """
        if isinstance(data, memoryview):
            data = bytes(data)  # only without signed attributes: the whole content is signed
        kind = _key_kind(type(public_key))
        try:
            if kind == "rsa" and self.name in ("rsassa_pkcs1v15", "rsassa_pss"):
                cast(rsa.RSAPublicKey, public_key).verify(
                    signature, data, self._rsa_padding(), self.digest.hash_algorithm()
                )
            elif kind == "ec" and self.name == "ecdsa":
                ecdsa = ec.ECDSA(self.digest.hash_algorithm())
                cast(ec.EllipticCurvePublicKey, public_key).verify(signature, data, ecdsa)
            elif kind == "dsa" and self.name == "dsa":
                dsa_key = cast(dsa.DSAPublicKey, public_key)
                dsa_key.verify(signature, data, self.digest.hash_algorithm())
            elif kind == self.name and kind in _PURE_KINDS:
                cast(_PurePublicKey, public_key).verify(signature, data)
            else:
                raise UnsupportedAlgorithmError(
                    self.name, f"does not fit a {type(public_key).__name__.lstrip('_')} key"
                )
        except InvalidSignature:
            return False
        return True

    def _rsa_padding(self) -> padding.AsymmetricPadding:
        if self.name == "rsassa_pss":
            mgf_digest = self.mgf_digest or self.digest
            return padding.PSS(padding.MGF1(mgf_digest.hash_algorithm()), self.pss_salt_length)
        return _PKCS1V15


_PKCS1V15 = padding.PKCS1v15()


_PurePublicKey = (
    ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
    | mldsa.MLDSA44PublicKey
    | mldsa.MLDSA65PublicKey
    | mldsa.MLDSA87PublicKey
)
_PurePrivateKey = (
    ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | mldsa.MLDSA44PrivateKey
    | mldsa.MLDSA65PrivateKey
    | mldsa.MLDSA87PrivateKey
)
_PURE_KINDS = frozenset({"ed25519", "ed448", *ML_DSA_OIDS.values()})


def _key_kind(key_type: type) -> str | None:
    """The scheme family of a public key class (``rsa``, ``ec``, ``ml_dsa_65``...) or ``None``."""
    return kind_of_class(key_type, _KEY_KINDS, _KIND_OF_TYPE)


def signing_key_kind(key: object) -> str | None:
    """The family of a private key smimecore signs with (``rsa``, ``ec``, ``ed25519``,
    ``ed448``, ``ml_dsa_65``...), or ``None`` for any other object."""
    return kind_of_class(type(key), _SIGNING_KEY_KINDS, _KIND_OF_SIGNING_TYPE)


_KIND_OF_TYPE: dict[type, str | None] = {}
_KIND_OF_SIGNING_TYPE: dict[type, str | None] = {}
_SIGNING_KEY_KINDS: tuple[tuple[str, type], ...] = (
    ("rsa", rsa.RSAPrivateKey),
    ("ec", ec.EllipticCurvePrivateKey),
    ("ed25519", ed25519.Ed25519PrivateKey),
    ("ed448", ed448.Ed448PrivateKey),
    ("ml_dsa_44", mldsa.MLDSA44PrivateKey),
    ("ml_dsa_65", mldsa.MLDSA65PrivateKey),
    ("ml_dsa_87", mldsa.MLDSA87PrivateKey),
)
_KEY_KINDS: tuple[tuple[str, type], ...] = (
    ("rsa", rsa.RSAPublicKey),
    ("ec", ec.EllipticCurvePublicKey),
    ("dsa", dsa.DSAPublicKey),
    ("ed25519", ed25519.Ed25519PublicKey),
    ("ed448", ed448.Ed448PublicKey),
    ("ml_dsa_44", mldsa.MLDSA44PublicKey),
    ("ml_dsa_65", mldsa.MLDSA65PublicKey),
    ("ml_dsa_87", mldsa.MLDSA87PublicKey),
)


def scheme_for_key(
    key: SigningKey, digest: DigestAlgorithm, *, pss: bool = False
) -> SignatureScheme:
    """The scheme smimecore signs with for ``key``.

    EdDSA fixes its digest (RFC 8419); ML-DSA signs with SHA-512, the digest
    RFC 9882 requires every implementation to support.
    """
    kind = signing_key_kind(key)
    if kind is None:
        raise UnsupportedAlgorithmError(type(key).__name__.lstrip("_"), "keys cannot sign S/MIME")
    return _scheme_for_kind(kind, digest, pss)


@functools.lru_cache(maxsize=64)
def _scheme_for_kind(kind: str, digest: DigestAlgorithm, pss: bool) -> SignatureScheme:
    """:func:`scheme_for_key` for a key of ``kind`` (schemes are immutable: one each)."""
    if kind == "rsa":
        if pss:
            return SignatureScheme("rsassa_pss", digest, pss_salt_length=len(digest.digest(b"")))
        return SignatureScheme("rsassa_pkcs1v15", digest)
    if pss:
        raise UnsupportedAlgorithmError("rsassa_pss", "needs an RSA key")
    if kind == "ec":
        return SignatureScheme("ecdsa", digest)
    if kind == "ed25519":
        return SignatureScheme("ed25519", digest_by_name("sha512"))
    if kind == "ed448":
        raise UnsupportedAlgorithmError("ed448", "signing is not supported (SHAKE256 digests)")
    return SignatureScheme(kind, digest_by_name("sha512"))  # ML-DSA


_SCHEMES_BY_NAME = ("rsassa_pkcs1v15", "rsassa_pss", "ecdsa", "dsa", "ed25519", "ed448")
_SCHEMES_BY_SUFFIX = {"_rsa": "rsassa_pkcs1v15", "_ecdsa": "ecdsa", "_dsa": "dsa"}

# Signature algorithm OIDs asn1crypto has no name for, seen in the wild.
_EXTRA_OIDS = {
    "1.2.840.10045.2.1": "ecdsa",  # id-ecPublicKey used as a signature algorithm
}


def _scheme_name(oid: str) -> str:
    """The scheme an OID names: asn1crypto's name (``sha256_rsa``...) without its digest."""
    name = str(algos.SignedDigestAlgorithmId.map(oid))
    if name in _SCHEMES_BY_NAME:
        return name
    suffix = name[name.rfind("_") :] if "_" in name else ""
    return _SCHEMES_BY_SUFFIX.get(suffix) or _EXTRA_OIDS.get(oid, "")


def scheme_from_algorithm_identifier(
    signature_algorithm: AlgorithmIdentifier, digest: DigestAlgorithm
) -> SignatureScheme:
    """The scheme a SignerInfo's ``signatureAlgorithm`` names.

    ``digest`` is the SignerInfo's digestAlgorithm, which hashes the
    content and the signed attributes.
    """
    post_quantum = post_quantum_scheme(
        signature_algorithm.oid, digest, has_parameters=signature_algorithm.parameters is not None
    )
    if post_quantum is not None:
        return post_quantum
    name = _scheme_name(signature_algorithm.oid)
    if not name:
        raise UnsupportedAlgorithmError(
            signature_algorithm.oid, "is not a supported signature algorithm"
        )
    if name == "rsassa_pss":
        return _pss_scheme(signature_algorithm.parameters)
    if signature_algorithm.parameters not in (None, _NULL):
        raise MalformedCMSError(f"signatureAlgorithm {name}: parameters must be absent or NULL")
    return SignatureScheme(name, digest)


_NULL = b"\x05\x00"


def _pss_scheme(parameters: bytes | None) -> SignatureScheme:
    """RSASSA-PSS-params (RFC 8017 appendix A.2.3); absent parameters are all defaults."""
    what = "RSASSA-PSS-params"
    cursor = Cursor(parameters or b"\x30\x00")
    cursor.enter(TAG_SEQUENCE, what)
    digest, mask_digest = read_hash_and_mgf1(cursor, what)
    salt_length = 20
    if cursor.peek() == 0xA2:
        cursor.enter(0xA2, f"{what}.saltLength")
        salt_length = cursor.integer(f"{what}.saltLength")
        cursor.leave(f"{what}.saltLength")
    if cursor.peek() == 0xA3:
        cursor.enter(0xA3, f"{what}.trailerField")
        if cursor.integer(f"{what}.trailerField") != 1:
            raise UnsupportedAlgorithmError(
                "RSASSA-PSS trailerField", "other than 1 is not defined"
            )
        cursor.leave(f"{what}.trailerField")
    cursor.leave(what)
    cursor.finish(what)
    if not 0 <= salt_length <= 1024:
        raise UnsupportedAlgorithmError(f"RSASSA-PSS saltLength {salt_length}", "is not supported")
    return SignatureScheme(
        "rsassa_pss", digest, pss_salt_length=salt_length, mgf_digest=mask_digest
    )


def _post_quantum_refusals() -> dict[str, str]:
    """Dotted OID to name of the NIST signature algorithms RFC 9882 does not cover."""
    names = {
        f"2.16.840.1.101.3.4.3.{32 + i}": f"HashML-DSA-{n}" for i, n in enumerate((44, 65, 87))
    }
    sizes = ("128s", "128f", "192s", "192f", "256s", "256f")
    variants = [f"{family}-{size}" for family in ("SHA2", "SHAKE") for size in sizes]
    for first, prefix in ((20, ""), (35, "Hash")):  # SLH-DSA (RFC 9814), then HashSLH-DSA
        for offset, variant in enumerate(variants):
            names[f"2.16.840.1.101.3.4.3.{first + offset}"] = f"{prefix}SLH-DSA-{variant}"
    return names


_REFUSED_POST_QUANTUM = _post_quantum_refusals()


def post_quantum_scheme(
    dotted: str, digest: DigestAlgorithm, *, has_parameters: bool = False
) -> SignatureScheme | None:
    """The ML-DSA scheme a signatureAlgorithm OID names, or ``None`` for other algorithms.

    ``digest`` is the SignerInfo's digestAlgorithm.  Raises
    :class:`UnsupportedAlgorithmError` naming HashML-DSA and SLH-DSA (never
    a verdict on them) and a digest weaker than the parameter set (RFC 9882
    Table 1; without signed attributes the digestAlgorithm means nothing, so
    the caller passes SHA-512 then), and :class:`MalformedCMSError` when
    parameters are present (RFC 9882 requires them absent).
    """
    refused = _REFUSED_POST_QUANTUM.get(dotted)
    if refused is not None:
        reason = (
            "the cryptography package has no SLH-DSA"
            if "SLH" in refused
            else "CMS uses pure ML-DSA only (RFC 9882)"
        )
        raise UnsupportedAlgorithmError(f"{refused} ({dotted})", f"is not supported: {reason}")
    name = ML_DSA_OIDS.get(dotted)
    if name is None:
        return None
    label = name.upper().replace("_", "-")
    if has_parameters:
        raise MalformedCMSError(f"{label} signatureAlgorithm has parameters (RFC 9882: absent)")
    if digest.name not in _ML_DSA_DIGESTS[name]:
        raise UnsupportedAlgorithmError(
            f"{digest.name} with {label}", "is weaker than the parameter set (RFC 9882 Table 1)"
        )
    return SignatureScheme(name, digest)
