"""What every protected S/MIME entity shares: what is protected, its wrapping, re-insertion.

Signing and encrypting protect the message's ``Content-*`` fields and
body (canonical CRLF); From, To, Subject and the other fields stay outside.
Unwrapping puts the content back under those outer fields, as RT does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from smimecore.errors import MalformedMessageError
from smimecore.mime.entity import FIELD_NAME, RawEntity, check_header_section, split_entity
from smimecore.mime.transfer import canonical_crlf, decode_base64, join_base64_lines

__all__ = [
    "CRLF",
    "PKCS7_MIME_TYPES",
    "build_pkcs7_mime",
    "build_pkcs7_mime_pieces",
    "decode_body",
    "decode_body_view",
    "default_content_type",
    "header_section",
    "is_pkcs7_mime",
    "outer_header_section",
    "protected_entity_pieces",
    "reinsert",
    "split_for_protection",
    "split_header",
    "split_protected_parts",
]

CRLF = b"\r\n"
PKCS7_MIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})

Bytes = bytes | bytearray | memoryview


def is_pkcs7_mime(entity: RawEntity) -> bool:
    """``application/(x-)pkcs7-mime``, or ``application/octet-stream`` named ``*.p7m``."""
    return entity.content_type in PKCS7_MIME_TYPES or _is_p7m_octet_stream(entity)


def _is_p7m_octet_stream(entity: RawEntity) -> bool:
    if entity.content_type != "application/octet-stream":
        return False
    name = entity.parameter("name") or entity.parameter("filename", "content-disposition")
    return name is not None and name.lower().endswith(".p7m")


def decode_body(entity: RawEntity, what: str) -> bytes:
    """The decoded body of a pkcs7 part; ``what`` names it in errors."""
    return decode_body_view(entity, entity.body, what)


def decode_body_view(headers: RawEntity, body: Bytes, what: str) -> bytes:
    """:func:`decode_body` of ``body`` (a view on the message, not copied) under ``headers``."""
    encoding = (headers.field("content-transfer-encoding") or "").strip().lower()
    if encoding == "base64":
        return decode_base64(body, what)
    if encoding in ("", "binary", "8bit", "7bit"):
        if not body:
            raise MalformedMessageError(f"{what} is empty")
        return bytes(body)
    raise MalformedMessageError(f"{what} uses an unsupported transfer encoding {encoding!r}")


def default_content_type(body: bytes) -> bytes:
    """The Content-Type field given to protected text that has none: ``text/plain``, its charset
    ``us-ascii``, or ``utf-8`` when ``body`` holds 8-bit octets."""
    charset = b"us-ascii" if body.isascii() else b"utf-8"
    return b"Content-Type: text/plain; charset=" + charset


def split_for_protection(raw: bytes) -> tuple[list[bytes], bytes]:
    """Split a message into its outer header fields and the canonical entity to protect.

    The entity is the message's ``Content-*`` fields and body, with CRLF
    line endings; From, To, Subject and the other fields stay outside.
    The header section must be RFC 5322 (:func:`check_header_section`).
    """
    entity = split_entity(raw)
    check_header_section(entity)
    content_headers = entity.content_header_lines
    if not any(line[:13].lower() == b"content-type:" for line in content_headers):
        content_headers = [default_content_type(entity.body), *content_headers]
    headers = CRLF.join(content_headers) + CRLF + CRLF
    return _without_mime_version(entity.outer_header_lines), headers + canonical_crlf(entity.body)


def split_protected_parts(raw: bytes) -> tuple[list[bytes], int, Iterator[Bytes]]:
    """:func:`split_for_protection` with the entity as its length and an iterator of its pieces.

    The pieces (the header section, then the canonical body a step at a
    time) join to the same entity, but the body is neither copied out of
    ``raw`` nor canonicalised all at once: a CRLF body is passed on as views
    on ``raw``, an LF-only body is converted a piece at a time.
    """
    outer, headers, body_start = _entity_headers(raw)
    length, body = _canonical_body(raw, body_start)
    return outer, len(headers) + length, itertools.chain((headers,), body)


def protected_entity_pieces(raw: bytes) -> tuple[list[bytes], list[Bytes]]:
    """:func:`split_protected_parts` without the length (which costs a scan), pieces in a list."""
    outer, headers, body_start = _entity_headers(raw)
    converted = _lf_pieces(raw, body_start)
    if converted is not None:
        return outer, [headers, *converted]
    kind = _line_endings(raw, body_start)
    if kind == "mixed":
        return outer, [headers, canonical_crlf(raw[body_start:])]
    return outer, [headers, *_body_pieces(raw, body_start, kind)]


def _lf_pieces(raw: bytes, start: int) -> list[bytes] | None:
    """The canonical pieces of ``raw[start:]`` when it holds no CR (the usual LF file), else
    ``None``: each piece is looked at for a CR while it is in the cache, not the body first."""
    pieces = []
    for at in range(start, len(raw), _STEP):
        piece = raw[at : at + _STEP]
        if piece.find(b"\r") >= 0:  # not ``in``, which tries b"\r" as an int first (3.11)
            return None
        pieces.append(piece.replace(b"\n", b"\r\n"))
    return pieces


def _entity_headers(raw: bytes) -> tuple[list[bytes], bytes, int]:
    """The outer fields, the entity's header section, and where the body starts in ``raw``.

    The header section must be RFC 5322 (:func:`check_header_section`).
    """
    headers_entity, body_start = split_header(raw)
    check_header_section(headers_entity)
    content_headers = headers_entity.content_header_lines
    if not _names_content_type(content_headers):
        content_headers = [default_content_type(raw[body_start:]), *content_headers]
    headers = CRLF.join(content_headers) + CRLF + CRLF
    return _without_mime_version(headers_entity.outer_header_lines), headers, body_start


def _names_content_type(content_headers: list[bytes]) -> bool:
    # A loop, not any() over a generator: this runs for every message signed or encrypted.
    for line in content_headers:
        if line[:13].lower() == b"content-type:":
            return True
    return False


_STEP = 256 * 1024  # body bytes canonicalised per piece


def _line_endings(raw: bytes, start: int) -> str:
    """``lf`` (no CR at all), ``crlf`` (already canonical) or ``mixed``, for ``raw[start:]``."""
    if raw.find(b"\r", start) < 0:
        return "lf"
    crlf = raw.count(b"\r\n", start)
    if crlf == raw.count(b"\r", start) and crlf == raw.count(b"\n", start):
        return "crlf"
    return "mixed"


def _canonical_body(raw: bytes, start: int) -> tuple[int, Iterator[Bytes]]:
    """The length of ``canonical_crlf(raw[start:])`` and its pieces."""
    kind = _line_endings(raw, start)
    if kind == "mixed":
        canonical = canonical_crlf(raw[start:])
        return len(canonical), iter((canonical,))
    size = len(raw) - start
    length = size + raw.count(b"\n", start) if kind == "lf" else size
    return length, _body_pieces(raw, start, kind)


def _body_pieces(raw: bytes, start: int, kind: str) -> Iterator[Bytes]:
    """The canonical pieces of an ``lf`` or ``crlf`` body."""
    if kind == "lf":
        return _lf_to_crlf(raw, start)
    view = memoryview(raw)
    return (view[at : at + _STEP] for at in range(start, len(raw), _STEP))


def _lf_to_crlf(raw: bytes, start: int) -> Iterator[bytes]:
    # Without CR every LF becomes CRLF on its own, so the body converts piece by piece.
    for at in range(start, len(raw), _STEP):
        yield raw[at : at + _STEP].replace(b"\n", b"\r\n")


def _without_mime_version(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if not line[:13].lower() == b"mime-version:"]


def outer_header_section(lines: list[bytes], content_type: bytes, extra: list[bytes]) -> bytes:
    """The outer header section: the kept fields, MIME-Version and the new Content-* fields."""
    fields = [*lines, b"MIME-Version: 1.0", b"Content-Type: " + content_type, *extra]
    return CRLF.join(fields) + CRLF + CRLF


def build_pkcs7_mime(outer_headers: list[bytes], cms_der: bytes, smime_type: str) -> bytes:
    """An ``application/pkcs7-mime`` message carrying ``cms_der`` as ``smime.p7m``."""
    return build_pkcs7_mime_pieces(outer_headers, [cms_der], len(cms_der), smime_type)


def build_pkcs7_mime_pieces(
    outer_headers: list[bytes], der_pieces: Iterable[Bytes], der_length: int, smime_type: str
) -> bytes:
    """:func:`build_pkcs7_mime` of DER given in pieces (``der_length`` bytes in all).

    Each piece is encoded as it comes, straight into the result.
    """
    content_type = (
        b"application/pkcs7-mime; smime-type=" + smime_type.encode("ascii") + b"; name=smime.p7m"
    )
    extra = [
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: attachment; filename=smime.p7m",
    ]
    header = outer_header_section(outer_headers, content_type, extra)
    return join_base64_lines(header, der_pieces, der_length)


def reinsert(outer: RawEntity, inner: Bytes) -> bytes:
    """Put unwrapped content back in place of the protected entity, as RT does.

    The outer entity keeps its non-``Content-*`` fields; its ``Content-*``
    fields and body come from ``inner``, whose other fields are dropped.
    Content that is not a MIME entity (plain CMS data such as RFC 4134's
    examples) becomes the body as it is, typed by RFC 2045's default.
    The body of ``inner`` is copied once, into the result.
    """
    if _FIELD_LINE.match(inner) is None:
        return b"".join((header_section(outer.outer_header_lines), inner))
    inner_headers, body_start = split_header(inner)
    fields = [*outer.outer_header_lines, *inner_headers.content_header_lines]
    return b"".join((header_section(fields), memoryview(inner)[body_start:]))


def header_section(fields: list[bytes]) -> bytes:
    """Header fields, each ending in CRLF, then the empty line (alone when there are none)."""
    return CRLF.join([*fields, b"", b""])


def split_header(raw: Bytes) -> tuple[RawEntity, int]:
    """The header section of an entity and the offset of its body, without copying the body.

    The same split as :func:`~smimecore.mime.entity.split_entity` (whose
    ``body`` is ``raw[offset:]``); the entity returned has an empty body.
    """
    start = bytes(raw[:2])
    if start == b"\r\n" or start[:1] == b"\n":
        return RawEntity(b"", b""), 2 if start == b"\r\n" else 1
    blank = _EMPTY_LINE.search(raw)
    if blank is None:
        return split_entity(bytes(raw)), len(raw)
    return RawEntity(bytes(raw[: blank.start() + 1]), b""), blank.end()


# A MIME entity starts with a header field or with the empty line that ends an empty
# header section.
_FIELD_LINE = re.compile(FIELD_NAME.pattern + rb"|\r?\n")
# Where split_entity ends a header section: the first empty line.
_EMPTY_LINE = re.compile(rb"\n\r?\n")
