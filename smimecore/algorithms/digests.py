"""Message-digest algorithms: names, S/MIME ``micalg`` values, and which are weak.

SHA-256/384/512 sign; SHA-1 is accepted when verifying and reported as weak
(RFC 8551 section 2.1); MD5 and older are refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from smimecore.errors import MalformedCMSError, UnsupportedAlgorithmError
from smimecore.pki.der import Cursor

__all__ = [
    "SIGNING_DIGESTS",
    "DigestAlgorithm",
    "digest_by_micalg",
    "digest_by_name",
    "read_hash_and_mgf1",
]


@dataclass(frozen=True)
class DigestAlgorithm:
    """A hash function by its CMS name (``name``, asn1crypto's) and MIME name (``micalg``)."""

    name: str
    micalg: str
    weak: bool = False

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        """The ``cryptography`` hash object, for signature primitives (stateless: shared)."""
        return _HASH_OBJECTS[self.name]

    def digest(self, data: bytes | memoryview) -> bytes:
        """The digest of ``data`` (hashlib: it releases the GIL on large inputs)."""
        return hashlib.new(self.name, data).digest()

    def digest_pieces(self, pieces: Iterable[bytes | bytearray | memoryview]) -> bytes:
        """The digest of the concatenation of ``pieces``, without concatenating them."""
        state = hashlib.new(self.name)
        for piece in pieces:
            state.update(piece)
        return state.digest()


_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}

_HASH_OBJECTS = {name: kind() for name, kind in _HASH_CLASSES.items()}

_DIGESTS: dict[str, DigestAlgorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        DigestAlgorithm("sha1", "sha-1", weak=True),
        DigestAlgorithm("sha224", "sha-224"),
        DigestAlgorithm("sha256", "sha-256"),
        DigestAlgorithm("sha384", "sha-384"),
        DigestAlgorithm("sha512", "sha-512"),
        DigestAlgorithm("sha3_256", "sha3-256"),
        DigestAlgorithm("sha3_384", "sha3-384"),
        DigestAlgorithm("sha3_512", "sha3-512"),
    )
}

_REFUSED = frozenset({"md2", "md4", "md5"})

# Dotted OIDs, for the digests asn1crypto has no name for (MD4) and for callers
# that pass an OID: refused ones must be refused by OID too, not called unknown.
_BY_OID = {
    "1.2.840.113549.2.2": "md2",
    "1.2.840.113549.2.4": "md4",
    "1.2.840.113549.2.5": "md5",
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.8": "sha3_256",
    "2.16.840.1.101.3.4.2.9": "sha3_384",
    "2.16.840.1.101.3.4.2.10": "sha3_512",
}

SIGNING_DIGESTS: tuple[str, ...] = ("sha256", "sha384", "sha512")
"""Digests smimecore signs with (SHA-1 and SHA-224 are verify-only)."""


_SHA3_SPELLINGS = {"sha3256": "sha3_256", "sha3384": "sha3_384", "sha3512": "sha3_512"}


def digest_by_name(name: str) -> DigestAlgorithm:
    """The digest called ``name`` (``sha256``, ``sha-256``, ``SHA256`` and its OID all work)."""
    key = _BY_OID.get(name.strip()) or name.lower().replace("-", "")
    key = _SHA3_SPELLINGS.get(key, key)
    if key in _REFUSED:
        raise UnsupportedAlgorithmError(key, "is refused as insecure")
    try:
        return _DIGESTS[key]
    except KeyError:
        raise UnsupportedAlgorithmError(name, "is not a supported digest algorithm") from None


def digest_by_micalg(micalg: str) -> DigestAlgorithm:
    """The digest named by a ``multipart/signed`` ``micalg`` parameter (``sha-256``...)."""
    return digest_by_name(micalg)


_MGF1 = "1.2.840.113549.1.1.8"


def read_hash_and_mgf1(cursor: Cursor, what: str) -> tuple[DigestAlgorithm, DigestAlgorithm]:
    """The ``[0]`` hashAlgorithm and ``[1]`` maskGenAlgorithm (MGF1) of RSASSA-PSS-params or
    RSAES-OAEP-params (RFC 8017), each SHA-1 when absent; the cursor is inside the SEQUENCE."""
    digest = mask_digest = _DIGESTS["sha1"]
    if cursor.peek() == 0xA0:
        cursor.enter(0xA0, f"{what}.hashAlgorithm")
        digest = digest_by_name(cursor.algorithm(f"{what}.hashAlgorithm").oid)
        cursor.leave(f"{what}.hashAlgorithm")
    if cursor.peek() == 0xA1:
        field = f"{what}.maskGenAlgorithm"
        cursor.enter(0xA1, field)
        mask = cursor.algorithm(field)
        cursor.leave(field)
        if mask.oid != _MGF1:
            raise UnsupportedAlgorithmError(mask.oid, "is not a supported mask generation function")
        if mask.parameters is None:
            raise MalformedCMSError(f"{field}: MGF1 without its hash algorithm")
        parameters = Cursor(mask.parameters)
        mask_digest = digest_by_name(parameters.algorithm(f"{field}.parameters").oid)
        parameters.finish(f"{field}.parameters")
    return digest, mask_digest
