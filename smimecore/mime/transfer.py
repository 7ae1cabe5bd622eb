"""Canonical line endings, base64 and quoted-printable transfer encoding, without per-line loops."""

from __future__ import annotations

import binascii
import io
import operator
import re
import struct
from collections.abc import Callable, Iterable

from smimecore.errors import MalformedMessageError

__all__ = [
    "base64_lines_length",
    "canonical_crlf",
    "decode_base64",
    "encode_base64_lines",
    "encode_quoted_printable",
    "join_base64_lines",
    "write_base64_lines",
]

Bytes = bytes | bytearray | memoryview

_LINE = struct.Struct("64s")
_LINES_PER_CHUNK = 1024
_CHUNK = 48 * _LINES_PER_CHUNK  # input bytes per chunk: a whole number of 64-column lines
_CHUNK_LINES = struct.Struct("64s" * _LINES_PER_CHUNK)


def canonical_crlf(data: bytes) -> bytes:
    """``data`` with every line ending (LF, CR or CRLF) made CRLF, as S/MIME signs and encrypts."""
    if data.find(b"\r") < 0:  # not ``in``, which tries b"\r" as an int first (3.11)
        return data.replace(b"\n", b"\r\n")
    # Already canonical (the usual case for mail received): counting is much cheaper than
    # three replacements, and the caller gets the same object back.
    crlf = data.count(b"\r\n")
    if crlf == data.count(b"\r") and crlf == data.count(b"\n"):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def encode_base64_lines(data: Bytes) -> bytes:
    """Base64 in 64-column CRLF lines, ending with CRLF."""
    return join_base64_lines(b"", [data], memoryview(data).nbytes)


def base64_lines_length(size: int) -> int:
    """How long :func:`encode_base64_lines` of ``size`` bytes is."""
    encoded = (size + 2) // 3 * 4
    return encoded + 2 * ((encoded + 63) // 64)


def join_base64_lines(prefix: bytes, pieces: Iterable[Bytes], size: int) -> bytes:
    """``prefix``, then the base64 lines of the concatenated ``pieces`` (``size`` bytes in all).

    The result is written into one buffer allocated at its final size up
    front (``size`` only sizes it: the result is right whatever it says), so
    it is neither grown step by step nor copied once more at the end.
    """
    if size < _CHUNK:
        # Small: one encoding call (each piece copied as it comes: it may be a reused view).
        return prefix + _encode_lines(b"".join([bytes(piece) for piece in pieces]))
    out = io.BytesIO()
    total = len(prefix) + base64_lines_length(size)
    if total:
        out.seek(total - 1)
        out.write(b"\0")
        out.seek(0)
    out.write(prefix)
    write_base64_lines(out.write, pieces)
    out.truncate()
    return out.getvalue()


def write_base64_lines(write: Callable[[bytes], object], pieces: Iterable[Bytes]) -> None:
    """Write the base64 of the concatenated ``pieces`` in 64-column CRLF lines, ending with CRLF.

    The pieces are encoded a chunk at a time as they come (each may be a
    view that changes once the next is taken), so neither the input joined
    nor more than one chunk's lines exist at once.  Only the bytes that
    straddle two pieces are copied.
    """
    staged = bytearray()
    for piece in pieces:
        view = memoryview(piece).cast("B")
        start = 0
        if staged:
            start = min(_CHUNK - len(staged), len(view))
            staged += view[:start]
            if len(staged) < _CHUNK:
                continue
            _write_chunk(write, staged)
            staged.clear()
        end = start + (len(view) - start) // _CHUNK * _CHUNK
        for offset in range(start, end, _CHUNK):
            _write_chunk(write, view[offset : offset + _CHUNK])
        staged += view[end:]
    if staged:
        write(_encode_lines(staged))


def _write_chunk(write: Callable[[bytes], object], chunk: Bytes) -> None:
    # One Struct call cuts a whole chunk into its lines: no Python loop per line.
    write(b"\r\n".join(_CHUNK_LINES.unpack(binascii.b2a_base64(chunk, newline=False))))
    write(b"\r\n")


def _encode_lines(data: Bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)
    whole = len(encoded) - len(encoded) % 64
    lines = list(map(operator.itemgetter(0), _LINE.iter_unpack(memoryview(encoded)[:whole])))
    if whole < len(encoded):
        lines.append(encoded[whole:])
    lines.append(b"")
    return b"\r\n".join(lines)


def decode_base64(data: Bytes, what: str) -> bytes:
    """Decode a base64 body, skipping line breaks; ``what`` names it in errors."""
    try:
        decoded = binascii.a2b_base64(data)
    except binascii.Error as exc:
        raise MalformedMessageError(f"{what} is not valid base64: {exc}") from None
    if not decoded:
        raise MalformedMessageError(f"{what} is empty")
    return decoded


QP_LINE_OCTETS = 76
"""RFC 2045's limit on a quoted-printable line (section 6.7 rule 5), soft break included."""

# Octets that quoted-printable writes as =XX: all but tab, space and printable ASCII other than
# "=" (line breaks are taken out before, as hard breaks).
_QP_UNSAFE = re.compile(rb"[^\t\x20-\x3c\x3e-\x7e\n]+")
_QP_TRAILING_SPACE = re.compile(rb"[ \t](?=\n|\Z)")
# Lines a transport changes: "From " (quoted as ">From " by mbox and by smtplib's
# send_message) and a lone "." (which a broken SMTP client would take as the end of the data).
_QP_RISKY_LINE = re.compile(rb"^(?:From |\.$)", re.MULTILINE)
_QP_LONG_LINE = re.compile(rb"^[^\n]{%d,}$" % (QP_LINE_OCTETS + 1), re.MULTILINE)


def _escape_run(found: re.Match[bytes]) -> bytes:
    return b"=" + found[0].hex("=").upper().encode("ascii")


def _escape_first(found: re.Match[bytes]) -> bytes:
    return b"=%02X" % found[0][0] + found[0][1:]


def encode_quoted_printable(text: Bytes) -> bytes:
    """Text as quoted-printable (RFC 2045 section 6.7) in CRLF lines of at most 76 octets.

    Each line break of ``text`` (CR LF, LF or a lone CR, as in
    :func:`canonical_crlf`) is a hard line break; white space ending a line
    is encoded, and longer lines get soft breaks that never split an
    ``=XX``.  A line that a transport would change is protected by encoding
    its first octet: one starting ``From `` or holding a lone ``.``, and a
    soft-broken continuation starting with ``-`` (which could otherwise look
    like a boundary).
    """
    lines = bytes(text).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    encoded = _QP_UNSAFE.sub(_escape_run, lines)
    encoded = _QP_TRAILING_SPACE.sub(lambda found: b"=%02X" % found[0][0], encoded)
    encoded = _QP_RISKY_LINE.sub(_escape_first, encoded)
    encoded = _QP_LONG_LINE.sub(lambda found: _soft_broken(found[0]), encoded)
    return encoded.replace(b"\n", b"\r\n")


def _soft_broken(line: bytes) -> bytes:
    """One encoded line cut into lines of at most :data:`QP_LINE_OCTETS`, joined by soft breaks."""
    pieces: list[bytes] = []
    start = 0
    while True:
        head = _continuation_head(line, start) if pieces else b""
        body_start = start + (1 if head else 0)
        if len(head) + len(line) - body_start <= QP_LINE_OCTETS:
            pieces.append(head + line[body_start:])
            return b"=\n".join(pieces)
        cut = start + QP_LINE_OCTETS - 1 - (len(head) - 1 if head else 0)
        # Every "=" of an encoded line starts an =XX: do not cut inside one.
        if line[cut - 1] == 0x3D:
            cut -= 1
        elif line[cut - 2] == 0x3D:
            cut -= 2
        pieces.append(head + line[body_start:cut])
        start = cut


def _continuation_head(line: bytes, start: int) -> bytes:
    """The encoded first octet of a continuation line starting at ``start``, if it needs one."""
    if line.startswith((b"From ", b"-"), start) or (start == len(line) - 1 and line[start] == 0x2E):
        return b"=%02X" % line[start]
    return b""
