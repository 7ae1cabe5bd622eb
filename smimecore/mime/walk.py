"""Finding the protected parts of a message, by RT's rules (section 7.1), case-insensitively.

A part is protected when it is:

- ``application/pkcs7-mime`` or ``application/x-pkcs7-mime`` (or
  ``application/octet-stream``) with an ``smime-type`` parameter, or, without
  one, a file name ending ``.p7m`` (encrypted or signed), ``.p7s`` (signed),
  ``.p7c`` (certificates only) or ``.p7z`` (compressed);
- ``multipart/signed`` with exactly two parts and an
  ``application/(x-)pkcs7-signature`` protocol.

Other ``multipart/signed`` and ``multipart/encrypted`` parts (OpenPGP) are
skipped with everything inside them, as RT does; other multiparts are
searched.  Parts are located as byte spans of the message, so a result can
be put back in place without re-serialising anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from smimecore.errors import MalformedMessageError, ResourceLimitError
from smimecore.mime.entity import RawEntity, split_entity
from smimecore.mime.protected import PKCS7_MIME_TYPES
from smimecore.mime.signed import SIGNATURE_TYPES, multipart_spans

__all__ = ["MAX_MULTIPART_DEPTH", "MimeLimits", "ProtectedPart", "find_protected_parts", "splice"]

MAX_MULTIPART_DEPTH = 64
"""Multiparts nested deeper than this are refused as malformed (no legitimate mail does it)."""


@dataclass(frozen=True)
class MimeLimits:
    """What walking one message may cost: multipart nesting, parts, header section size."""

    max_depth: int = MAX_MULTIPART_DEPTH
    max_parts: int = 10_000
    max_header_size: int = 1024 * 1024


_SMIME_TYPES = {
    "enveloped-data": "encrypted",
    "authenveloped-data": "encrypted",
    "signed-data": "signed",
    "certs-only": "certificates",
    "compressed-data": "compressed",
}
_SUFFIX_KINDS = {
    ".p7m": "encrypted-or-signed",
    ".p7s": "signed",
    ".p7c": "certificates",
    ".p7z": "compressed",
}


@dataclass(frozen=True)
class ProtectedPart:
    """A protected part: its kind and where it is in the message.

    ``kind`` is ``signed``, ``encrypted``, ``encrypted-or-signed`` (a
    ``.p7m`` without ``smime-type``: the CMS decides), ``certificates``,
    ``compressed``, or ``unknown`` (``smime_type`` then holds the value).
    ``start``/``end`` delimit the part's bytes in the message; ``path`` is
    its MIME path (``""`` for the whole message, ``"2"`` for the second part
    of the top multipart, ``"1.2"``...).
    """

    kind: str
    start: int
    end: int
    smime_type: str | None = None
    path: str = ""


def find_protected_parts(raw: bytes, limits: MimeLimits | None = None) -> list[ProtectedPart]:
    """Every protected part of ``raw``, outermost first, in message order.

    Raises :class:`ResourceLimitError` when the message nests multiparts
    deeper, has more parts or a larger header section than ``limits`` allow.
    """
    walk = _Walk(raw, limits or MimeLimits())
    return list(walk.parts(0, len(raw), 0, ""))


class _Walk:
    """One walk over a message's parts, counting what it costs."""

    def __init__(self, raw: bytes, limits: MimeLimits) -> None:
        self.raw = raw
        self.limits = limits
        self.seen = 0

    def parts(self, start: int, end: int, depth: int, path: str) -> Iterator[ProtectedPart]:
        """The protected parts in ``raw[start:end]``, itself at ``depth`` and MIME path ``path``."""
        limits = self.limits
        self.seen += 1
        if depth > limits.max_depth:
            raise ResourceLimitError(f"multiparts are nested deeper than {limits.max_depth}")
        if self.seen > limits.max_parts:
            raise ResourceLimitError(f"the message has more than {limits.max_parts} MIME parts")
        try:
            entity = split_entity(memoryview(self.raw)[start:end])
        except MalformedMessageError:
            if depth == 0:
                raise
            return  # a headerless part is plain text, not a protected one
        if entity.body_start > limits.max_header_size:
            raise ResourceLimitError(
                f"a header section is larger than {limits.max_header_size} bytes"
            )
        yield from self._within(entity, start, end, depth, path)

    def _within(
        self, entity: RawEntity, start: int, end: int, depth: int, path: str
    ) -> Iterator[ProtectedPart]:
        raw = self.raw
        kind, smime_type = classify(entity)
        if kind is not None:
            yield ProtectedPart(kind, start, end, smime_type, path)
            return
        content_type = entity.content_type
        if not content_type.startswith("multipart/") or content_type in (
            "multipart/signed",
            "multipart/encrypted",
        ):
            return
        boundary = entity.parameter("boundary")
        if not boundary:
            return
        try:
            spans = multipart_spans(
                raw, boundary.encode("utf-8", "surrogateescape"), start + entity.body_start, end
            )
        except MalformedMessageError:
            return  # an unterminated multipart holds nothing we can safely rewrite
        for number, (part_start, part_end) in enumerate(spans, start=1):
            child = f"{path}.{number}" if path else str(number)
            yield from self.parts(part_start, part_end, depth + 1, child)


def classify(entity: RawEntity) -> tuple[str | None, str | None]:
    """The protected kind of one entity (``None`` when it is not protected) and its smime-type."""
    content_type = entity.content_type
    if content_type == "multipart/signed":
        protocol = (entity.parameter("protocol") or "").lower()
        return ("signed", None) if protocol in SIGNATURE_TYPES else (None, None)
    if content_type not in PKCS7_MIME_TYPES and content_type != "application/octet-stream":
        return None, None
    smime_type = (entity.parameter("smime-type") or "").strip().lower()
    if smime_type:
        return _SMIME_TYPES.get(smime_type, "unknown"), smime_type
    name = (
        entity.parameter("name") or entity.parameter("filename", "content-disposition") or ""
    ).lower()
    for suffix, kind in _SUFFIX_KINDS.items():
        if name.endswith(suffix):
            return kind, None
    return None, None


def splice(raw: bytes, part: ProtectedPart, replacement: bytes) -> bytes:
    """``raw`` with the bytes of ``part`` replaced."""
    return b"".join((raw[: part.start], replacement, raw[part.end :]))
