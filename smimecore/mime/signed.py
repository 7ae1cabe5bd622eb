"""S/MIME signed messages (RFC 8551 section 3.5): taking them apart and putting them together.

Two forms exist: ``multipart/signed`` with a detached signature, and
``application/pkcs7-mime; smime-type=signed-data`` with the content inside
the CMS object.  Types and parameters are matched in any letter case, and
the ``x-`` types of older clients are accepted.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from smimecore.errors import MalformedMessageError, NotProtectedError
from smimecore.mime.entity import RawEntity, split_entity
from smimecore.mime.transfer import canonical_crlf, decode_base64, encode_base64_lines

__all__ = [
    "SignedMessage",
    "build_detached",
    "build_opaque",
    "parse_signed",
    "reinsert",
    "split_for_signing",
]

CRLF = b"\r\n"
SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
PKCS7_MIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


@dataclass(frozen=True)
class SignedMessage:
    """A signed message taken apart.

    ``content`` is the exact bytes of the signed MIME part as received
    (``None`` for the opaque form, whose content is inside ``signature``).
    """

    outer: RawEntity
    signature: bytes
    content: bytes | None
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
    if content_type in PKCS7_MIME_TYPES or _is_p7m_octet_stream(entity):
        smime_type = (entity.parameter("smime-type") or "").lower()
        if smime_type and smime_type != "signed-data":
            raise NotProtectedError(f"the message is S/MIME {smime_type}, not signed-data")
        return SignedMessage(entity, _decode_body(entity, "the signed-data body"), None, None)
    raise NotProtectedError(f"the message is not S/MIME signed (Content-Type {content_type})")


def _is_p7m_octet_stream(entity: RawEntity) -> bool:
    if entity.content_type != "application/octet-stream":
        return False
    name = entity.parameter("name") or entity.parameter("filename", "content-disposition")
    return name is not None and name.lower().endswith(".p7m")


def _parse_multipart_signed(entity: RawEntity) -> SignedMessage:
    protocol = (entity.parameter("protocol") or "").lower()
    if protocol not in SIGNATURE_TYPES:
        raise NotProtectedError(
            f"multipart/signed with protocol {protocol or '(none)'!r} is not an S/MIME signature"
        )
    boundary = entity.parameter("boundary")
    if not boundary:
        raise MalformedMessageError("multipart/signed has no boundary parameter")
    parts = split_multipart(entity.body, boundary.encode("utf-8", "surrogateescape"))
    if len(parts) != 2:
        raise MalformedMessageError(
            f"multipart/signed must have exactly 2 parts, this one has {len(parts)}"
        )
    signature_part = split_entity(parts[1])
    if signature_part.content_type not in SIGNATURE_TYPES:
        raise MalformedMessageError(
            f"the second part of multipart/signed is {signature_part.content_type}, "
            "not application/pkcs7-signature"
        )
    signature = _decode_body(signature_part, "the signature part")
    return SignedMessage(entity, signature, parts[0], entity.parameter("micalg"))


def _decode_body(entity: RawEntity, what: str) -> bytes:
    encoding = (entity.field("content-transfer-encoding") or "").strip().lower()
    if encoding == "base64":
        return decode_base64(entity.body, what)
    if encoding in ("", "binary", "8bit", "7bit"):
        if not entity.body:
            raise MalformedMessageError(f"{what} is empty")
        return entity.body
    raise MalformedMessageError(f"{what} uses an unsupported transfer encoding {encoding!r}")


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts of a multipart body, each exactly as received.

    A part ends before the line break that precedes the next delimiter
    (RFC 2046 section 5.1.1: that line break belongs to the delimiter).
    """
    delimiter = b"--" + boundary
    parts: list[bytes] = []
    part_start: int | None = None
    position = 0
    while True:
        found = body.find(delimiter, position)
        if found < 0:
            raise MalformedMessageError("the multipart body has no closing boundary")
        position = found + len(delimiter)
        at_line_start = found == 0 or body[found - 1 : found] == b"\n"
        rest = body[position : position + 2]
        is_close = rest == b"--"
        if not at_line_start or not (is_close or rest[:1] in (b"\r", b"\n", b" ", b"\t", b"")):
            continue
        if part_start is not None:
            end = found - 1
            if end > part_start and body[end - 1 : end] == b"\r":
                end -= 1
            parts.append(body[part_start : max(end, part_start)])
        if is_close:
            return parts
        line_end = body.find(b"\n", position)
        if line_end < 0:
            raise MalformedMessageError("the multipart body ends inside a boundary line")
        part_start = position = line_end + 1


def split_for_signing(raw: bytes) -> tuple[list[bytes], bytes]:
    """Split a message into its outer header fields and the canonical entity to protect.

    The entity is the message's ``Content-*`` fields and body, with CRLF
    line endings; From, To, Subject and the other fields stay outside.
    """
    entity = split_entity(raw)
    content_headers = entity.content_header_lines
    if not any(line[:13].lower() == b"content-type:" for line in content_headers):
        charset = b"us-ascii" if entity.body.isascii() else b"utf-8"
        content_headers = [b"Content-Type: text/plain; charset=" + charset, *content_headers]
    headers = CRLF.join(content_headers) + CRLF + CRLF
    return _without_mime_version(entity.outer_header_lines), headers + canonical_crlf(entity.body)


def _without_mime_version(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if not line[:13].lower() == b"mime-version:"]


def _outer_headers(lines: list[bytes], content_type: bytes, extra: list[bytes]) -> bytes:
    fields = [*lines, b"MIME-Version: 1.0", b"Content-Type: " + content_type, *extra]
    return CRLF.join(fields) + CRLF + CRLF


def _new_boundary(content: bytes) -> bytes:
    while True:
        boundary = b"----smimecore-" + secrets.token_hex(16).encode("ascii")
        if boundary not in content:
            return boundary


def build_detached(
    outer_headers: list[bytes], signed_entity: bytes, signature: bytes, micalg: str
) -> bytes:
    """A ``multipart/signed`` message: the signed entity byte for byte, then ``smime.p7s``."""
    boundary = _new_boundary(signed_entity)
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
            _outer_headers(outer_headers, content_type, []),
            b"This is an S/MIME signed message" + CRLF + CRLF,
            delimiter + CRLF,
            signed_entity,
            CRLF + delimiter + CRLF,
            b"Content-Type: application/pkcs7-signature; name=smime.p7s" + CRLF,
            b"Content-Transfer-Encoding: base64" + CRLF,
            b"Content-Disposition: attachment; filename=smime.p7s" + CRLF + CRLF,
            encode_base64_lines(signature),
            CRLF + delimiter + b"--" + CRLF,
        )
    )


def build_opaque(outer_headers: list[bytes], cms_der: bytes, smime_type: str) -> bytes:
    """An ``application/pkcs7-mime`` message carrying ``cms_der`` as ``smime.p7m``."""
    content_type = (
        b"application/pkcs7-mime; smime-type=" + smime_type.encode("ascii") + b"; name=smime.p7m"
    )
    extra = [
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: attachment; filename=smime.p7m",
    ]
    return _outer_headers(outer_headers, content_type, extra) + encode_base64_lines(cms_der)


def reinsert(outer: RawEntity, inner: bytes) -> bytes:
    """Put unwrapped content back in place of the protected entity, as RT does.

    The outer entity keeps its non-``Content-*`` fields; its ``Content-*``
    fields and body come from ``inner``, whose other fields are dropped.
    Content that is not a MIME entity (plain CMS data such as RFC 4134's
    examples) becomes the body as it is, typed by RFC 2045's default.
    """
    if _FIELD_LINE.match(inner) is None:
        return _header_section(outer.outer_header_lines) + inner
    inner_entity = split_entity(inner)
    fields = [*outer.outer_header_lines, *inner_entity.content_header_lines]
    return _header_section(fields) + inner_entity.body


def _header_section(fields: list[bytes]) -> bytes:
    """Header fields, each ending in CRLF, then the empty line (alone when there are none)."""
    return b"".join(field + CRLF for field in fields) + CRLF


# A MIME entity starts with a header field (RFC 5322 field-name, then a colon)
# or with the empty line that ends an empty header section.
_FIELD_LINE = re.compile(rb"[!-9;-~]+[ \t]*:|\r?\n")
