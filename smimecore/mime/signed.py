"""S/MIME signed messages (RFC 8551 section 3.5): taking them apart and putting them together.

Two forms exist: ``multipart/signed`` with a detached signature, and
``application/pkcs7-mime; smime-type=signed-data`` with the content inside
the CMS object.  Types and parameters are matched in any letter case, and
the ``x-`` types of older clients are accepted.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from smimecore.errors import MalformedMessageError, NotProtectedError
from smimecore.mime.entity import RawEntity, split_entity
from smimecore.mime.protected import CRLF, decode_body, is_pkcs7_mime, outer_header_section
from smimecore.mime.transfer import encode_base64_lines

__all__ = [
    "SignedMessage",
    "build_detached",
    "multipart_spans",
    "parse_signed",
]

SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})


@dataclass(frozen=True)
class SignedMessage:
    """A signed message taken apart.

    ``content`` is the exact bytes of the signed MIME part as received, a
    view into the message rather than a copy (``None`` for the opaque
    form, whose content is inside ``signature``).
    """

    outer: RawEntity
    signature: bytes
    content: bytes | memoryview | None
    micalg: str | None

    @property
    def is_detached(self) -> bool:
        """Whether the message is ``multipart/signed``."""
        return self.content is not None


def parse_signed(raw: bytes) -> SignedMessage:
    """Take apart a signed message; raises :class:`NotProtectedError` if it is not one."""
    entity = split_entity(raw)
    content_type = entity.content_type
    if content_type == "multipart/signed":
        return _parse_multipart_signed(entity)
    if is_pkcs7_mime(entity):
        smime_type = (entity.parameter("smime-type") or "").lower()
        if smime_type and smime_type != "signed-data":
            raise NotProtectedError(f"the message is S/MIME {smime_type}, not signed-data")
        return SignedMessage(entity, decode_body(entity, "the signed-data body"), None, None)
    raise NotProtectedError(f"the message is not S/MIME signed (Content-Type {content_type})")


def _parse_multipart_signed(entity: RawEntity) -> SignedMessage:
    protocol = (entity.parameter("protocol") or "").lower()
    if protocol not in SIGNATURE_TYPES:
        raise NotProtectedError(
            f"multipart/signed with protocol {protocol or '(none)'!r} is not an S/MIME signature"
        )
    boundary = entity.parameter("boundary")
    if not boundary:
        raise MalformedMessageError("multipart/signed has no boundary parameter")
    source = entity.source
    if not isinstance(source, bytes):
        source = bytes(source)
    spans = multipart_spans(source, boundary.encode("utf-8", "surrogateescape"), entity.body_start)
    if len(spans) != 2:
        raise MalformedMessageError(
            f"multipart/signed must have exactly 2 parts, this one has {len(spans)}"
        )
    signature_part = split_entity(source[spans[1][0] : spans[1][1]])
    if signature_part.content_type not in SIGNATURE_TYPES:
        raise MalformedMessageError(
            f"the second part of multipart/signed is {signature_part.content_type}, "
            "not application/pkcs7-signature"
        )
    signature = decode_body(signature_part, "the signature part")
    content = memoryview(source)[spans[0][0] : spans[0][1]]
    return SignedMessage(entity, signature, content, entity.parameter("micalg"))


def multipart_spans(
    data: bytes, boundary: bytes, start: int = 0, end: int | None = None
) -> list[tuple[int, int]]:
    """Where each part of the multipart body ``data[start:end]`` starts and ends (in ``data``).

    A part ends before the line break that precedes the next delimiter
    (RFC 2046 section 5.1.1: that line break belongs to the delimiter).
    The body is scanned in place, never copied.
    """
    end = len(data) if end is None else end
    delimiter = b"--" + boundary
    spans: list[tuple[int, int]] = []
    part_start: int | None = None
    position = start
    while True:
        found = data.find(delimiter, position, end)
        if found < 0:
            raise MalformedMessageError("the multipart body has no closing boundary")
        position = found + len(delimiter)
        at_line_start = found == start or data[found - 1 : found] == b"\n"
        rest = data[position : min(position + 2, end)]
        is_close = rest == b"--"
        if not at_line_start or not (is_close or rest[:1] in (b"\r", b"\n", b" ", b"\t", b"")):
            continue
        if part_start is not None:
            part_end = found - 1
            if part_end > part_start and data[part_end - 1 : part_end] == b"\r":
                part_end -= 1
            spans.append((part_start, max(part_end, part_start)))
        if is_close:
            return spans
        line_end = data.find(b"\n", position, end)
        if line_end < 0:
            raise MalformedMessageError("the multipart body ends inside a boundary line")
        part_start = position = line_end + 1


def _new_boundary(pieces: Sequence[bytes | bytearray | memoryview]) -> bytes:
    while True:
        boundary = b"----smimecore-" + secrets.token_hex(16).encode("ascii")
        if not _occurs_in(boundary, pieces):
            return boundary


def _occurs_in(needle: bytes, pieces: Sequence[bytes | bytearray | memoryview]) -> bool:
    """Whether ``needle`` occurs in the concatenation of ``pieces`` (also across two pieces)."""
    overlap = len(needle) - 1
    tail = b""
    for piece in pieces:
        whole = piece if isinstance(piece, bytes | bytearray) else piece.tobytes()
        # find(), not ``in``: on Python 3.11 ``bytes in bytes`` first tries its operand as an
        # int (making and dropping a TypeError); ``int in bytes`` is one memchr.
        if (tail + whole[:overlap]).find(needle) >= 0:
            return True
        # A scan for one octet runs at memory speed; most pieces (base64) fail it.
        if needle[0] in whole and whole.find(needle) >= 0:
            return True
        tail = (tail + whole[-overlap:])[-overlap:]
    return False


def build_detached(
    outer_headers: list[bytes],
    signed_entity: bytes | Sequence[bytes | bytearray | memoryview],
    signature: bytes,
    micalg: str,
) -> bytes:
    """A ``multipart/signed`` message: the signed entity byte for byte, then ``smime.p7s``.

    The entity may be given as pieces (a header section, then the body);
    they are written one after the other.
    """
    pieces = (signed_entity,) if isinstance(signed_entity, bytes) else tuple(signed_entity)
    boundary = _new_boundary(pieces)
    content_type = (
        b'multipart/signed; protocol="application/pkcs7-signature"; micalg='
        + micalg.encode("ascii")
        + b'; boundary="'
        + boundary
        + b'"'
    )
    delimiter = b"--" + boundary
    return b"".join(
        (
            outer_header_section(outer_headers, content_type, []),
            b"This is an S/MIME signed message" + CRLF + CRLF,
            delimiter + CRLF,
            *pieces,
            CRLF + delimiter + CRLF,
            b"Content-Type: application/pkcs7-signature; name=smime.p7s" + CRLF,
            b"Content-Transfer-Encoding: base64" + CRLF,
            b"Content-Disposition: attachment; filename=smime.p7s" + CRLF + CRLF,
            encode_base64_lines(signature),
            CRLF + delimiter + b"--" + CRLF,
        )
    )
