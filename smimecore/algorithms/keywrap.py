"""AES key wrap (RFC 3394) by its CMS object identifiers (RFC 3565).

The key-encryption algorithms of KEMRecipientInfo (RFC 9629) and, by the
same identifiers, of KeyAgreeRecipientInfo.  The parameters of these
AlgorithmIdentifiers are always absent (RFC 3565 section 2.3.2).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from smimecore.errors import DecryptionError, UnsupportedAlgorithmError

__all__ = [
    "AES_WRAP_KEY_LENGTHS",
    "unwrap_key",
    "wrap_key",
    "wrap_key_length",
    "wrap_oid_for_length",
]

AES_WRAP_KEY_LENGTHS: dict[str, int] = {
    "2.16.840.1.101.3.4.1.5": 16,  # id-aes128-wrap
    "2.16.840.1.101.3.4.1.25": 24,  # id-aes192-wrap
    "2.16.840.1.101.3.4.1.45": 32,  # id-aes256-wrap
}
"""Key-encryption key length in octets, by the dotted OID of the AES key wrap."""

_OID_BY_LENGTH = {length: oid for oid, length in AES_WRAP_KEY_LENGTHS.items()}


def wrap_key_length(wrap_oid: str) -> int:
    """The KEK length ``wrap_oid`` needs (an :class:`UnsupportedAlgorithmError` if unknown)."""
    try:
        return AES_WRAP_KEY_LENGTHS[wrap_oid]
    except KeyError:
        raise UnsupportedAlgorithmError(wrap_oid, "is not a supported key-wrap algorithm") from None


def wrap_oid_for_length(kek_length: int) -> str:
    """The AES key wrap whose key is ``kek_length`` octets (16, 24 or 32)."""
    try:
        return _OID_BY_LENGTH[kek_length]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"AES key wrap with a {kek_length}-octet key", "does not exist"
        ) from None


def wrap_key(kek: bytes, key: bytes) -> bytes:
    """``key`` wrapped under ``kek`` (RFC 3394; the wrap is chosen by the KEK's length)."""
    return aes_key_wrap(kek, key)


def unwrap_key(kek: bytes, wrapped: bytes) -> bytes:
    """The key inside ``wrapped``; any failure is a :class:`DecryptionError`."""
    try:
        return aes_key_unwrap(kek, wrapped)
    except (InvalidUnwrap, ValueError):
        raise DecryptionError() from None
