"""What every protected S/MIME entity shares: what is protected, its wrapping, re-insertion.

Signing and encrypting protect the message's ``Content-*`` fields and
body (canonical CRLF); From, To, Subject and the other fields stay outside.
Unwrapping puts the content back under those outer fields, as RT does.
"""

from __future__ import annotations

import re

from smimecore.errors import MalformedMessageError
from smimecore.mime.entity import RawEntity, split_entity
from smimecore.mime.transfer import canonical_crlf, decode_base64, encode_base64_lines

__all__ = [
    "CRLF",
    "PKCS7_MIME_TYPES",
    "build_pkcs7_mime",
    "decode_body",
    "header_section",
    "is_pkcs7_mime",
    "outer_header_section",
    "reinsert",
    "split_for_protection",
]

CRLF = b"\r\n"
PKCS7_MIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


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
    encoding = (entity.field("content-transfer-encoding") or "").strip().lower()
    if encoding == "base64":
        return decode_base64(entity.body, what)
    if encoding in ("", "binary", "8bit", "7bit"):
        if not entity.body:
            raise MalformedMessageError(f"{what} is empty")
        return entity.body
    raise MalformedMessageError(f"{what} uses an unsupported transfer encoding {encoding!r}")


def split_for_protection(raw: bytes) -> tuple[list[bytes], bytes]:
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


def outer_header_section(lines: list[bytes], content_type: bytes, extra: list[bytes]) -> bytes:
    """The outer header section: the kept fields, MIME-Version and the new Content-* fields."""
    fields = [*lines, b"MIME-Version: 1.0", b"Content-Type: " + content_type, *extra]
    return CRLF.join(fields) + CRLF + CRLF


def build_pkcs7_mime(outer_headers: list[bytes], cms_der: bytes, smime_type: str) -> bytes:
    """An ``application/pkcs7-mime`` message carrying ``cms_der`` as ``smime.p7m``."""
    content_type = (
        b"application/pkcs7-mime; smime-type=" + smime_type.encode("ascii") + b"; name=smime.p7m"
    )
    extra = [
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: attachment; filename=smime.p7m",
    ]
    return outer_header_section(outer_headers, content_type, extra) + encode_base64_lines(cms_der)


def reinsert(outer: RawEntity, inner: bytes | memoryview) -> bytes:
    """Put unwrapped content back in place of the protected entity, as RT does.

    The outer entity keeps its non-``Content-*`` fields; its ``Content-*``
    fields and body come from ``inner``, whose other fields are dropped.
    Content that is not a MIME entity (plain CMS data such as RFC 4134's
    examples) becomes the body as it is, typed by RFC 2045's default.
    """
    if _FIELD_LINE.match(inner) is None:
        return b"".join((header_section(outer.outer_header_lines), inner))
    inner_entity = split_entity(inner)
    fields = [*outer.outer_header_lines, *inner_entity.content_header_lines]
    return b"".join((header_section(fields), inner_entity.body_view))


def header_section(fields: list[bytes]) -> bytes:
    """Header fields, each ending in CRLF, then the empty line (alone when there are none)."""
    return b"".join(field + CRLF for field in fields) + CRLF


# A MIME entity starts with a header field (RFC 5322 field-name, then a colon)
# or with the empty line that ends an empty header section.
_FIELD_LINE = re.compile(rb"[!-9;-~]+[ \t]*:|\r?\n")
