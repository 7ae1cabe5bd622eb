"""Signature schemes: choosing one for a key, producing and checking signatures.

Supported: RSA PKCS#1 v1.5 and RSASSA-PSS, ECDSA (P-256/384/521), Ed25519
and Ed448 (RFC 8419, "pure" mode over the signed attributes), and DSA for
verification only (old messages and the PKITS suite use it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from smimecore.algorithms.digests import DigestAlgorithm, digest_by_name, read_hash_and_mgf1
from smimecore.errors import MalformedCMSError, UnsupportedAlgorithmError
from smimecore.pki.der import TAG_SEQUENCE, AlgorithmIdentifier, Cursor

__all__ = [
    "SignatureScheme",
    "SigningKey",
    "scheme_for_key",
    "scheme_from_algorithm_identifier",
]

SigningKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
"""Private keys smimecore signs with."""

_EDDSA_DIGEST = {"ed25519": "sha512", "ed448": "shake256"}


@dataclass(frozen=True)
class SignatureScheme:
    """A signature algorithm bound to its digest: what a SignerInfo's signatureAlgorithm says.

    ``name`` is one of ``rsassa_pkcs1v15``, ``rsassa_pss``, ``ecdsa``,
    ``ed25519``, ``ed448`` or ``dsa``.  ``pss_salt_length`` and
    ``mgf_digest`` only matter for PSS.
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
        return {"algorithm": self.name}

    def sign(self, key: SigningKey, data: bytes) -> bytes:
        """Sign ``data`` (the DER of the signed attributes, or the content) with ``key``."""
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, self._rsa_padding(), self.digest.hash_algorithm())
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(self.digest.hash_algorithm()))
        return key.sign(data)

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
            elif kind == self.name and kind in ("ed25519", "ed448"):
                cast(ed25519.Ed25519PublicKey | ed448.Ed448PublicKey, public_key).verify(
                    signature, data
                )
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


def _key_kind(key_type: type) -> str | None:
    """``rsa``, ``ec``, ``dsa``, ``ed25519``, ``ed448`` or ``None`` for a public key class.

    Remembered by class: ``isinstance`` against these ABCs costs more than
    the RSA verification itself.
    """
    if key_type in _KIND_OF_TYPE:
        return _KIND_OF_TYPE[key_type]
    kind = next((kind for kind, base in _KEY_KINDS if issubclass(key_type, base)), None)
    _KIND_OF_TYPE[key_type] = kind
    return kind


_KIND_OF_TYPE: dict[type, str | None] = {}
_KEY_KINDS: tuple[tuple[str, type], ...] = (
    ("rsa", rsa.RSAPublicKey),
    ("ec", ec.EllipticCurvePublicKey),
    ("dsa", dsa.DSAPublicKey),
    ("ed25519", ed25519.Ed25519PublicKey),
    ("ed448", ed448.Ed448PublicKey),
)


def scheme_for_key(
    key: SigningKey, digest: DigestAlgorithm, *, pss: bool = False
) -> SignatureScheme:
    """The scheme smimecore signs with for ``key``: EdDSA fixes its digest (RFC 8419)."""
    if isinstance(key, rsa.RSAPrivateKey):
        if pss:
            return SignatureScheme("rsassa_pss", digest, pss_salt_length=len(digest.digest(b"")))
        return SignatureScheme("rsassa_pkcs1v15", digest)
    if pss:
        raise UnsupportedAlgorithmError("rsassa_pss", "needs an RSA key")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SignatureScheme("ecdsa", digest)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return SignatureScheme("ed25519", digest_by_name("sha512"))
    if isinstance(key, ed448.Ed448PrivateKey):
        raise UnsupportedAlgorithmError("ed448", "signing is not supported (SHAKE256 digests)")
    raise UnsupportedAlgorithmError(type(key).__name__.lstrip("_"), "keys cannot sign S/MIME")


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
