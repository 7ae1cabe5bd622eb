"""RC2-CBC decryption (RFC 2268) with any effective key length, for legacy mail only.

``cryptography`` offers RC2 with 128-bit keys and 128 effective bits only;
RFC 4134's example 5.2 (and old clients' "RC2/40") use a 5-byte key with
40 effective bits.  This is a plain implementation of RFC 2268 section 2-4,
one Python loop iteration per 8-byte block: fine for the small legacy
messages it exists for, slow for large ones.
"""

from __future__ import annotations

import struct

__all__ = ["rc2_cbc_decrypt"]

_PITABLE = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)
_MASK = 0xFFFF


def _expand_key(key: bytes, effective_bits: int) -> list[int]:
    """The 64 16-bit subkeys K[0..63] (RFC 2268 section 2)."""
    if not 1 <= len(key) <= 128 or not 1 <= effective_bits <= 1024:
        raise ValueError("RC2 key or effective key length out of range")
    expanded = bytearray(128)
    expanded[: len(key)] = key
    for i in range(len(key), 128):
        expanded[i] = _PITABLE[(expanded[i - 1] + expanded[i - len(key)]) & 0xFF]
    t8 = (effective_bits + 7) // 8
    tm = 0xFF % (1 << (8 + effective_bits - 8 * t8))
    expanded[128 - t8] = _PITABLE[expanded[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        expanded[i] = _PITABLE[expanded[i + 1] ^ expanded[i + t8]]
    return [expanded[2 * i] | expanded[2 * i + 1] << 8 for i in range(64)]


def _ror(word: int, shift: int) -> int:
    return ((word >> shift) | (word << (16 - shift))) & _MASK


def _decrypt_block(k: list[int], r0: int, r1: int, r2: int, r3: int) -> tuple[int, ...]:
    j = 63
    for round_ in range(15, -1, -1):
        r3 = (_ror(r3, 5) - k[j] - (r2 & r1) - (~r2 & r0)) & _MASK
        r2 = (_ror(r2, 3) - k[j - 1] - (r1 & r0) - (~r1 & r3)) & _MASK
        r1 = (_ror(r1, 2) - k[j - 2] - (r0 & r3) - (~r0 & r2)) & _MASK
        r0 = (_ror(r0, 1) - k[j - 3] - (r3 & r2) - (~r3 & r1)) & _MASK
        j -= 4
        if round_ in (5, 11):  # undo the mashing rounds that followed rounds 4 and 10
            r3 = (r3 - k[r2 & 63]) & _MASK
            r2 = (r2 - k[r1 & 63]) & _MASK
            r1 = (r1 - k[r0 & 63]) & _MASK
            r0 = (r0 - k[r3 & 63]) & _MASK
    return r0, r1, r2, r3


def rc2_cbc_decrypt(key: bytes, effective_bits: int, iv: bytes, ciphertext: bytes) -> bytes:
    """Decrypt whole 8-byte blocks of RC2-CBC (no padding removed)."""
    subkeys = _expand_key(key, effective_bits)
    words = struct.unpack(f"<{len(ciphertext) // 2}H", ciphertext)
    previous = struct.unpack("<4H", iv)
    out: list[int] = []
    for i in range(0, len(words), 4):
        block = words[i : i + 4]
        plain = _decrypt_block(subkeys, *block)
        out.extend(p ^ c for p, c in zip(plain, previous, strict=True))
        previous = block
    return struct.pack(f"<{len(out)}H", *out)
