"""Canonical line endings and base64 transfer encoding, without per-line Python loops."""

from __future__ import annotations

import binascii
import operator
import struct

from smimecore.errors import MalformedMessageError

__all__ = ["canonical_crlf", "decode_base64", "encode_base64_lines"]

_LINE = struct.Struct("64s")


def canonical_crlf(data: bytes) -> bytes:
    """``data`` with every line ending (LF, CR or CRLF) made CRLF, as S/MIME signs and encrypts."""
    if b"\r" not in data:
        return data.replace(b"\n", b"\r\n")
    # Already canonical (the usual case for mail received): counting is much cheaper than
    # three replacements, and the caller gets the same object back.
    crlf = data.count(b"\r\n")
    if crlf == data.count(b"\r") and crlf == data.count(b"\n"):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


_CHUNK = 48 * 4096  # input bytes per chunk: a whole number of 64-column lines


def encode_base64_lines(data: bytes | memoryview) -> bytes:
    """Base64 in 64-column CRLF lines, ending with CRLF.

    Large inputs are encoded a chunk at a time, so only one chunk's lines
    exist as separate objects at once (a 10 MiB message would otherwise
    need some 200,000 of them, about twice its size in memory).
    """
    view = memoryview(data)
    return b"".join(
        _encode_chunk(view[start : start + _CHUNK]) for start in range(0, len(view), _CHUNK)
    )


def _encode_chunk(chunk: memoryview) -> bytes:
    encoded = binascii.b2a_base64(chunk, newline=False)
    whole = len(encoded) - len(encoded) % 64
    lines = list(map(operator.itemgetter(0), _LINE.iter_unpack(memoryview(encoded)[:whole])))
    if whole < len(encoded):
        lines.append(encoded[whole:])
    lines.append(b"")
    return b"\r\n".join(lines)


def decode_base64(data: bytes, what: str) -> bytes:
    """Decode a base64 body, skipping line breaks; ``what`` names it in errors."""
    try:
        decoded = binascii.a2b_base64(data)
    except binascii.Error as exc:
        raise MalformedMessageError(f"{what} is not valid base64: {exc}") from None
    if not decoded:
        raise MalformedMessageError(f"{what} is empty")
    return decoded
