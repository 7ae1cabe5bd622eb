"""A tiny DER/BER TLV reader and writer, for the parts of CMS that can be large.

asn1crypto copies every nested value it parses (each level slices its
parent's bytes), which is what costs time on a 10 MiB encryptedContent.
This module walks the outer structure over a :class:`memoryview` instead,
so the ciphertext is never copied while parsing, and writes the outer
headers by hand so the ciphertext is copied exactly once when building.

Both definite and BER indefinite lengths are read (Thunderbird sends
indefinite-length EnvelopedData with a chunked, constructed OCTET STRING).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from smimecore.errors import MalformedCMSError

__all__ = [
    "CONTEXT",
    "TAG_INTEGER",
    "TAG_OCTET_STRING",
    "TAG_OID",
    "TAG_SEQUENCE",
    "TAG_SET",
    "Reader",
    "Tlv",
    "UnusualEncodingError",
    "decode_oid",
    "encode_header",
    "encode_tlv",
    "read_head",
    "require_usual",
]

TAG_INTEGER = 0x02
TAG_OCTET_STRING = 0x04
TAG_OID = 0x06
TAG_SEQUENCE = 0x30
TAG_SET = 0x31
CONTEXT = 2
"""The context-specific tag class (``[n]``)."""

_MAX_DEPTH = 48
_MAX_LENGTH_OCTETS = 8


class Tlv(NamedTuple):
    """One element: its tag, and where its header, contents and end are in the buffer.

    ``content_end`` is the offset of the end-of-contents octets when the
    length is indefinite; ``end`` is always just past the whole element.
    """

    cls: int
    constructed: bool
    number: int
    start: int
    content_start: int
    content_end: int
    end: int
    indefinite: bool

    def is_tag(self, cls: int, number: int) -> bool:
        """Whether this element has tag class ``cls`` and number ``number``."""
        return self.cls == cls and self.number == number

    @property
    def is_universal_octet_string(self) -> bool:
        """An OCTET STRING (primitive or BER-constructed)."""
        return self.cls == 0 and self.number == 4


_new_tlv = tuple.__new__
"""Builds a :class:`Tlv` without the generated ``__new__`` (the reader makes thousands)."""


def encode_header(tag: int, length: int) -> bytes:
    """The DER identifier and length octets for a single-byte ``tag`` and ``length``."""
    if length < 0x80:
        return bytes((tag, length))
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big")


def encode_tlv(tag: int, *parts: bytes | bytearray | memoryview) -> bytes:
    """A complete DER element with ``tag`` whose contents are ``parts`` joined."""
    length = sum(len(part) for part in parts)
    return b"".join((encode_header(tag, length), *parts))


class Reader:
    """Reads TLVs from one buffer without copying contents.

    Ends of indefinite-length elements are found by walking their children
    once; the children found on the way are remembered, so iterating them
    afterwards does not walk them again.
    """

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.view = memoryview(data)
        self.data: bytes | bytearray | memoryview = data if isinstance(data, bytes) else self.view
        self._children: dict[int, list[Tlv]] = {}

    def read(self, offset: int, limit: int | None = None, depth: int = 0) -> Tlv:
        """The element that starts at ``offset`` (and must end by ``limit``)."""
        view = self.view
        limit = len(view) if limit is None else limit
        if depth > _MAX_DEPTH:
            raise MalformedCMSError("CMS structure is nested too deeply")
        if offset >= limit:
            raise MalformedCMSError("CMS data is truncated (element expected)")
        first = view[offset]
        pos = offset + 1
        number = first & 0x1F
        if number == 0x1F:
            number, pos = self._high_tag_number(pos, limit)
        if pos >= limit:
            raise MalformedCMSError("CMS data is truncated (length expected)")
        constructed = bool(first & 0x20)
        length_octet = view[pos]
        pos += 1
        if length_octet == 0x80:
            if not constructed:
                raise MalformedCMSError("indefinite length on a primitive element")
            return self._indefinite(first >> 6, number, offset, pos, limit, depth)
        if length_octet < 0x80:
            length = length_octet
        else:
            size = length_octet & 0x7F
            if size > _MAX_LENGTH_OCTETS or pos + size > limit:
                raise MalformedCMSError("CMS element has an unreadable length")
            length = int.from_bytes(view[pos : pos + size], "big")
            pos += size
        end = pos + length
        if end > limit:
            raise MalformedCMSError("CMS data is truncated (element longer than its container)")
        return _new_tlv(Tlv, (first >> 6, constructed, number, offset, pos, end, end, False))

    def _high_tag_number(self, pos: int, limit: int) -> tuple[int, int]:
        number = 0
        for _ in range(4):
            if pos >= limit:
                break
            octet = self.view[pos]
            pos += 1
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                return number, pos
        raise MalformedCMSError("CMS element has an unreadable tag")

    def _indefinite(
        self, cls: int, number: int, start: int, content_start: int, limit: int, depth: int
    ) -> Tlv:
        view = self.view
        children: list[Tlv] = []
        pos = content_start
        while True:
            if pos + 2 > limit:
                raise MalformedCMSError("CMS data is truncated (end-of-contents missing)")
            if view[pos] == 0 and view[pos + 1] == 0:
                break
            child = self.read(pos, limit, depth + 1)
            children.append(child)
            pos = child.end
        self._children[start] = children
        return Tlv(cls, True, number, start, content_start, pos, pos + 2, True)

    def children(self, parent: Tlv) -> list[Tlv]:
        """The elements inside the constructed element ``parent``, in order."""
        if not parent.constructed:
            raise MalformedCMSError("a constructed CMS element was expected")
        known = self._children.get(parent.start)
        if known is not None:
            return known
        return self._definite_children(parent.content_start, parent.content_end)

    def _definite_children(self, pos: int, limit: int) -> list[Tlv]:
        # The common short forms (one-octet tag, length under 128 or in one or two
        # octets) are read inline: a SignedData has dozens of elements per message.
        data = self.data
        found: list[Tlv] = []
        while pos < limit:
            if pos + 2 <= limit:
                first, octet = data[pos], data[pos + 1]
                if first & 0x1F != 0x1F and octet != 0x80 and octet <= 0x82:
                    if octet < 0x80:
                        start = pos + 2
                        end = start + octet
                    elif octet == 0x81:
                        start = pos + 3
                        end = start + data[pos + 2] if start <= limit else limit + 1
                    else:
                        start = pos + 4
                        end = (
                            start + (data[pos + 2] << 8 | data[pos + 3])
                            if start <= limit
                            else limit + 1
                        )
                    if end <= limit:
                        found.append(
                            _new_tlv(
                                Tlv,
                                (
                                    first >> 6,
                                    bool(first & 0x20),
                                    first & 0x1F,
                                    pos,
                                    start,
                                    end,
                                    end,
                                    False,
                                ),
                            )
                        )
                        pos = end
                        continue
            child = self.read(pos, limit, 1)
            found.append(child)
            pos = child.end
        return found

    def element(self, tlv: Tlv) -> memoryview:
        """The whole encoding of ``tlv`` (header, contents and end-of-contents)."""
        return self.view[tlv.start : tlv.end]

    def contents(self, tlv: Tlv) -> memoryview:
        """The contents octets of ``tlv`` (for a primitive element: its value)."""
        return self.view[tlv.content_start : tlv.content_end]

    def octets(self, tlv: Tlv, depth: int = 0) -> bytes | memoryview:
        """The value of an OCTET STRING, implicitly tagged or not.

        A primitive string is returned as a view (no copy); a BER
        constructed one is the concatenation of its segments.
        """
        if not tlv.constructed:
            return self.contents(tlv)
        if depth > _MAX_DEPTH:
            raise MalformedCMSError("CMS OCTET STRING is nested too deeply")
        segments: list[bytes | memoryview] = []
        for child in self.children(tlv):
            if not child.is_universal_octet_string:
                raise MalformedCMSError("constructed OCTET STRING holds a non-OCTET STRING")
            segments.append(self.octets(child, depth + 1))
        if len(segments) == 1:
            return segments[0]
        return b"".join(segments)

    def oid(self, tlv: Tlv) -> str:
        """The dotted form of an OBJECT IDENTIFIER element."""
        if tlv.cls != 0 or tlv.number != 6 or tlv.constructed:
            raise MalformedCMSError("an OBJECT IDENTIFIER was expected")
        return _decode_oid(bytes(self.contents(tlv)))

    def small_integer(self, tlv: Tlv) -> int:
        """The value of a short INTEGER element (a version number)."""
        if tlv.cls != 0 or tlv.number != 2 or tlv.constructed:
            raise MalformedCMSError("an INTEGER was expected")
        raw = self.contents(tlv)
        if not 0 < len(raw) <= 4:
            raise MalformedCMSError("CMS version number is out of range")
        return int.from_bytes(raw, "big", signed=True)


class UnusualEncodingError(Exception):
    """Not in the plain DER shape :func:`read_head` handles: read it with :class:`Reader`."""


def read_head(data: bytes | bytearray | memoryview, pos: int, limit: int) -> tuple[int, int, int]:
    """Identifier octet, contents start and end of the definite-length element at ``pos``.

    The one-pass readers of the usual DER call this once per element; a
    high tag number, an indefinite or very long length, or an element
    running past ``limit`` raises :class:`UnusualEncodingError` (as does
    input cut short), and the caller falls back to :class:`Reader`.
    """
    try:
        tag = data[pos]
        octet = data[pos + 1]
        if octet < 0x80:
            start = pos + 2
            end = start + octet
        elif octet == 0x81:
            start = pos + 3
            end = start + data[pos + 2]
        elif octet == 0x82:
            start = pos + 4
            end = start + (data[pos + 2] << 8 | data[pos + 3])
        elif octet == 0x83:
            start = pos + 5
            end = start + (data[pos + 2] << 16 | data[pos + 3] << 8 | data[pos + 4])
        else:
            raise UnusualEncodingError()
    except IndexError:
        raise UnusualEncodingError() from None
    if end > limit or tag & 0x1F == 0x1F:
        raise UnusualEncodingError()
    return tag, start, end


def require_usual(condition: bool) -> None:
    """Raise :class:`UnusualEncodingError` unless ``condition`` (a one-pass reader's check)."""
    if not condition:
        raise UnusualEncodingError()


def decode_oid(contents: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's contents octets (cached)."""
    return _decode_oid(contents)


@functools.lru_cache(maxsize=512)
def _decode_oid(raw: bytes) -> str:
    if not raw or raw[-1] & 0x80:
        raise MalformedCMSError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for octet in raw:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))
