"""DER/BER: one strict reading cursor for every CMS structure, and the writer helpers.

:class:`Cursor` walks one buffer without copying it: contents come back
as views (``octets_view``) or, for the small values, as ``bytes``.  It reads
definite and BER indefinite lengths (Thunderbird sends indefinite-length
CMS with chunked OCTET STRINGs); constructed strings are accepted with an
indefinite length, as BER encoders write them.  Everything else is refused
with a :class:`~smimecore.errors.MalformedCMSError` naming the field being
read: ``"SignerInfo.version: expected INTEGER, got OCTET STRING"``.

A cursor reads one constructed element at a time: :meth:`Cursor.enter`
steps into it, the fields are read in order, and :meth:`Cursor.leave`
checks that nothing is left over.  The writer side is :func:`encode_header`
and :func:`encode_tlv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from smimecore.errors import MalformedCMSError

__all__ = [
    "DEFAULT_LIMITS",
    "TAG_BIT_STRING",
    "TAG_INTEGER",
    "TAG_NULL",
    "TAG_OCTET_STRING",
    "TAG_OID",
    "TAG_SEQUENCE",
    "TAG_SET",
    "AlgorithmIdentifier",
    "Bytes",
    "Cursor",
    "ReaderLimits",
    "encode_header",
    "encode_tlv",
    "new_record",
    "tag_name",
]

Bytes = bytes | bytearray | memoryview

TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_OID = 0x06
TAG_SEQUENCE = 0x30
TAG_SET = 0x31
_CONSTRUCTED = 0x20


@dataclass(frozen=True)
class ReaderLimits:
    """Bounds on one CMS object whatever its size; passing one is a :class:`MalformedCMSError`.

    ``max_depth``: constructed elements nested in one another (CMS needs
    about ten).  ``max_recipient_infos``, ``max_signer_infos``: entries of
    one RecipientInfos / SignerInfos SET.  ``max_certificates``: entries of
    a SignedData's certificates SET (and, apart, of its CRLs SET).
    """

    max_depth: int = 32
    max_recipient_infos: int = 1024
    max_signer_infos: int = 64
    max_certificates: int = 512


DEFAULT_LIMITS = ReaderLimits()


class AlgorithmIdentifier(NamedTuple):
    """An AlgorithmIdentifier as read: its OID and the encoding of its parameters, if any."""

    oid: str
    parameters: bytes | None = None


new_record = tuple.__new__
"""Makes a NamedTuple from a tuple of its fields, without its generated ``__new__``
(``new_record(AlgorithmIdentifier, (oid, None))``): readers make many."""


def encode_header(tag: int, length: int) -> bytes:
    """The DER identifier and length octets for a single-byte ``tag`` and ``length``."""
    if length < 0x80:
        return bytes((tag, length))
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big")


def encode_tlv(tag: int, *parts: Bytes) -> bytes:
    """A complete DER element with ``tag`` whose contents are ``parts`` joined."""
    single = len(parts) == 1  # the usual case: a concatenation is cheaper than a join
    length = len(parts[0]) if single else sum(map(len, parts))
    # The short form in place: this runs for every element of every signature.
    header = bytes((tag, length)) if length < 0x80 else encode_header(tag, length)
    return header + parts[0] if single else b"".join((header, *parts))


_UNIVERSAL = {
    1: "BOOLEAN",
    2: "INTEGER",
    3: "BIT STRING",
    4: "OCTET STRING",
    5: "NULL",
    6: "OBJECT IDENTIFIER",
    9: "REAL",
    10: "ENUMERATED",
    12: "UTF8String",
    16: "SEQUENCE",
    17: "SET",
    19: "PrintableString",
    22: "IA5String",
    23: "UTCTime",
    24: "GeneralizedTime",
}
_CLASSES = ("UNIVERSAL ", "APPLICATION ", "", "PRIVATE ")


def tag_name(tag: int | None) -> str:
    """How an error names an identifier: ``INTEGER``, ``SEQUENCE``, ``[0] (constructed)``..."""
    if tag is None:
        return "the end of its container"
    first, number = (tag >> 24, tag & 0xFFFFFF) if tag > 0xFF else (tag, tag & 0x1F)
    constructed = bool(first & _CONSTRUCTED)
    if first >> 6 == 0 and number in _UNIVERSAL:
        name = _UNIVERSAL[number]
        if constructed != (number in (16, 17)):
            return ("constructed " if constructed else "primitive ") + name
        return name
    form = "constructed" if constructed else "primitive"
    return f"[{_CLASSES[first >> 6]}{number}] ({form})"


class Cursor:
    """Reads the elements of one buffer in order, one constructed level at a time.

    ``pos`` is where the next element starts, ``end`` where the contents of
    the current level end (for an indefinite length: where its
    end-of-contents octets are, found when the level is entered).  Methods
    that read an element take ``what``, the field's name for errors (some
    also a ``part`` appended to it, so that names are only built for errors).

    The short definite forms (one-octet tags, lengths below 65536) are read
    in place by the methods every element goes through; anything else (long
    or indefinite lengths, high tag numbers, and every error) by
    :meth:`_header`, which gives the same answers for the short forms.
    """

    __slots__ = ("_ends", "_eocs", "_max_depth", "_view", "data", "end", "limits", "pos")

    def __init__(self, data: Bytes, limits: ReaderLimits = DEFAULT_LIMITS) -> None:
        self.data: bytes | memoryview = data if type(data) is bytes else memoryview(data).cast("B")
        self._view: memoryview | None = None
        self.limits = limits
        self._max_depth = limits.max_depth
        self.pos = 0
        self.end = len(self.data)
        self._ends: list[int] = []
        """The ends of the enclosing levels (``~end`` when the level inside is indefinite)."""
        self._eocs: dict[int, int] | None = None
        """Where the end-of-contents octets of indefinite elements are, by contents start."""

    @property
    def view(self) -> memoryview:
        """A view on the whole buffer (contents are handed out as slices of it, not copied)."""
        if self._view is None:
            self._view = memoryview(self.data)
        return self._view

    # ------------------------------------------------------------------ headers

    def _header(self, what: str, depth: int = 0) -> tuple[int, int, int, int]:
        """(tag, contents start, contents end, element end) of the element at ``pos``.

        An indefinite length is resolved here: the contents end where the
        end-of-contents octets are, 2 bytes before the element's end.
        """
        data, pos, end = self.data, self.pos, self.end
        if pos + 2 > end:
            raise MalformedCMSError(
                f"{what}: the data is truncated" if pos < end else f"{what}: missing"
            )
        tag = data[pos]
        start = pos + 2
        if tag & 0x1F == 0x1F:
            tag, start = self._high_tag(tag, what)
        elif tag == 0:
            raise MalformedCMSError(f"{what}: missing (end-of-contents found)")
        length = data[start - 1]
        if length < 0x80:
            stop = start + length
        elif length == 0x80:
            if not _constructed(tag):
                raise MalformedCMSError(f"{what}: a primitive element has an indefinite length")
            stop = self._end_of_contents(start, what, depth or len(self._ends) + 1)
            return tag, start, stop, stop + 2
        else:
            size = length & 0x7F
            if start + size > end:
                raise MalformedCMSError(f"{what}: the data is truncated")
            stop = start + size + int.from_bytes(data[start : start + size], "big")
            start += size
        if stop > end:
            raise MalformedCMSError(f"{what}: the data is truncated (longer than its container)")
        return tag, start, stop, stop

    def _high_tag(self, first: int, what: str) -> tuple[int, int]:
        data, pos, end = self.data, self.pos + 1, self.end
        number = 0
        while pos < end:
            octet = data[pos]
            pos += 1
            if number == 0 and octet == 0x80:
                break
            number = number << 7 | octet & 0x7F
            if not octet & 0x80:
                if number < 0x1F or number > 0xFFFFFF or pos >= end:
                    break
                return first << 24 | number, pos + 1
        raise MalformedCMSError(f"{what}: unreadable tag")

    def _end_of_contents(self, start: int, what: str, depth: int) -> int:
        """Where the end-of-contents octets of the indefinite element whose contents start at
        ``start`` are; the contents are walked once (nested ends are remembered)."""
        if self._eocs is None:
            self._eocs = {}
        known = self._eocs.get(start)
        if known is not None:
            return known
        if depth > self._max_depth:
            raise MalformedCMSError(f"{what}: nested too deeply")
        data, saved = self.data, self.pos
        self.pos = start
        try:
            while True:
                pos = self.pos
                if pos + 2 > self.end:
                    raise MalformedCMSError(
                        f"{what}: the data is truncated (end-of-contents missing)"
                    )
                if data[pos] == 0 and data[pos + 1] == 0:
                    break
                self.pos = self._header(what, depth + 1)[3]
        finally:
            self.pos = saved
        self._eocs[start] = pos
        return pos

    # ------------------------------------------------------------------ levels

    def more(self) -> bool:
        """Whether the current level has another element."""
        return self.pos < self.end

    def peek(self) -> int | None:
        """The tag of the next element of this level, or ``None`` at its end."""
        if self.pos >= self.end:
            return None
        tag = self.data[self.pos]
        if tag & 0x1F == 0x1F:
            return self._high_tag(tag, "an element")[0]
        return tag

    def enter(self, tag: int, what: str) -> None:
        """Step into the next element, which must have ``tag``: its fields are read next."""
        end = self.end
        start, stop = _short_header(self.data, self.pos, end, tag)
        if start >= 0 and len(self._ends) < self._max_depth:
            self._ends.append(end)
            self.pos, self.end = start, stop
            return
        found, start, stop, after = self._header(what)
        if found != tag:
            raise MalformedCMSError(f"{what}: expected {tag_name(tag)}, got {tag_name(found)}")
        self._open(what, start, stop, after)

    def _open(self, what: str, start: int, stop: int, after: int) -> None:
        """Make the element whose contents are ``[start, stop)`` (and that ends at ``after``)
        the current level."""
        if len(self._ends) >= self._max_depth:
            raise MalformedCMSError(f"{what}: nested too deeply")
        self._ends.append(self.end if after == stop else ~self.end)
        self.pos, self.end = start, stop

    def leave(self, what: str) -> None:
        """Step out of the current element, which must have no field left."""
        if self.pos != self.end:
            raise MalformedCMSError(f"{what}: unexpected {tag_name(self.peek())} after its fields")
        outer = self._ends.pop()
        if outer < 0:
            self.pos += 2
            outer = ~outer
        self.end = outer

    def finish(self, what: str) -> None:
        """At the top level: nothing may follow the element read."""
        if self._ends or self.pos != len(self.data):
            raise MalformedCMSError(f"{what}: unexpected data after its end")

    def children(self, tag: int, what: str, limit: int | None = None) -> list[bytes]:
        """The encodings of the elements of the SET OF / SEQUENCE OF with ``tag`` (at most
        ``limit`` of them)."""
        self.enter(tag, what)
        data, end = self.data, self.end
        found = _short_elements(data, self.pos, end)
        if found is None:
            found = []
            while (first := self.pos) < end:
                self.head(what)
                found.append(bytes(data[first : self.pos]))
        self.pos = end
        if limit is not None and len(found) > limit:
            raise MalformedCMSError(f"{what}: more than {limit} elements")
        self.leave(what)
        return found

    # ------------------------------------------------------------------ elements

    def head(self, what: str, part: str = "") -> tuple[int, int, int]:
        """Read past the next element: its (tag, contents start, contents end)."""
        data, pos, end = self.data, self.pos, self.end
        if pos + 2 <= end:
            tag = data[pos]
            start, stop = _short_header(data, pos, end, tag)
            if start >= 0 and tag & 0x1F != 0x1F and tag:
                self.pos = stop
                return tag, start, stop
        tag, start, stop, self.pos = self._header(what + part)
        return tag, start, stop

    def expect(self, tag: int, what: str, part: str = "") -> tuple[int, int]:
        """Read past the next element, which must have ``tag``: its contents' (start, end)."""
        data, pos, end = self.data, self.pos, self.end
        if pos + 2 <= end and data[pos] == tag:
            stop = pos + 2 + data[pos + 1]
            if stop <= end and data[pos + 1] < 0x80:
                self.pos = stop
                return pos + 2, stop
        found, start, stop = self.head(what, part)
        if found != tag:
            raise MalformedCMSError(
                f"{what}{part}: expected {tag_name(tag)}, got {tag_name(found)}"
            )
        return start, stop

    def element(self, what: str, tag: int | None = None, part: str = "") -> bytes:
        """The whole encoding of the next element (which must have ``tag``, when given)."""
        first = self.pos
        found = self.head(what, part)[0]
        if tag is not None and found != tag:
            raise MalformedCMSError(
                f"{what}{part}: expected {tag_name(tag)}, got {tag_name(found)}"
            )
        return bytes(self.data[first : self.pos])

    def integer(self, what: str, part: str = "") -> int:
        """An INTEGER's value."""
        start, stop = self.expect(TAG_INTEGER, what, part)
        if start == stop:
            raise MalformedCMSError(f"{what}{part}: an INTEGER has no contents")
        return int.from_bytes(self.data[start:stop], "big", signed=True)

    def version(self, what: str, allowed: frozenset[int]) -> int:
        """A version number (a one-octet INTEGER), which must be one of ``allowed``."""
        data, pos = self.data, self.pos
        if pos + 3 <= self.end and data[pos] == TAG_INTEGER and data[pos + 1] == 1:
            if data[pos + 2] in allowed:
                self.pos = pos + 3
                return data[pos + 2]
        start, stop = self.expect(TAG_INTEGER, what)
        if start == stop:
            raise MalformedCMSError(f"{what}: an INTEGER has no contents")
        value = int.from_bytes(self.data[start:stop], "big", signed=True)
        found = f"{value}" if stop == start + 1 else f"{value} in {stop - start} octets"
        raise MalformedCMSError(
            f"{what}: expected {' or '.join(map(str, sorted(allowed)))}, got {found}"
        )

    def oid(self, what: str, part: str = "") -> str:
        """An OBJECT IDENTIFIER in dotted form."""
        data, pos = self.data, self.pos
        stop = pos + 2 + data[pos + 1] if pos + 2 <= self.end else self.end + 1
        if stop <= self.end and data[pos] == TAG_OID and data[pos + 1] < 0x80:
            self.pos, start = stop, pos + 2
        else:
            start, stop = self.expect(TAG_OID, what, part)
        raw = bytes(data[start:stop])
        return _OIDS.get(raw) or _decode_oid(raw, what + part)

    def octets_view(self, what: str, tag: int = TAG_OCTET_STRING) -> bytes | memoryview:
        """An OCTET STRING's value (tagged ``tag`` when implicitly tagged): a view, or the
        segments of a BER constructed (indefinite-length) string joined."""
        found, start, stop, after = self._header(what)
        if found == tag:
            self.pos = stop
            return self.view[start:stop]
        if found != tag | _CONSTRUCTED or after == stop:
            raise MalformedCMSError(f"{what}: expected {tag_name(tag)}, got {tag_name(found)}")
        self._open(what, start, stop, after)
        segments: list[bytes | memoryview] = []
        while self.pos < self.end:
            segments.append(self.octets_view(what))
        self.leave(what)
        return segments[0] if len(segments) == 1 else b"".join(segments)

    def octets(self, what: str, tag: int = TAG_OCTET_STRING) -> bytes:
        """:meth:`octets_view` as ``bytes`` (for the small values: keys, signatures, IVs)."""
        data = self.data
        start, stop = _short_header(data, self.pos, self.end, tag)
        if start >= 0:
            self.pos = stop
            return bytes(data[start:stop])
        return bytes(self.octets_view(what, tag))

    def attribute(self, what: str) -> tuple[str, tuple[bytes, ...]]:
        """An X.501 Attribute: SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }: the
        type and the encodings of the values."""
        data, first, end = self.data, self.pos, self.end
        # The usual short forms, read in place: a known OID, then a SET of short elements.
        start, stop = _short_header(data, first, end, TAG_SEQUENCE)
        if start >= 0 and start + 2 <= stop and data[start] == TAG_OID and data[start + 1] < 0x80:
            oid_end = start + 2 + data[start + 1]
            oid = _OIDS.get(bytes(data[start + 2 : oid_end])) if oid_end <= stop else None
            values_start, values_end = _short_header(data, oid_end, stop, TAG_SET)
            if oid is not None and values_end == stop:
                values = _short_elements(data, values_start, stop)
                if values is not None:
                    self.pos = stop
                    return oid, tuple(values)
        self.enter(TAG_SEQUENCE, what)
        oid = self.oid(what, ".attrType")
        values = self.children(TAG_SET, what + ".attrValues")
        self.leave(what)
        return oid, tuple(values)

    def algorithm(self, what: str) -> AlgorithmIdentifier:
        """An AlgorithmIdentifier: SEQUENCE { algorithm OID, parameters ANY OPTIONAL }."""
        data, first = self.data, self.pos
        start, stop = self.expect(TAG_SEQUENCE, what)
        # The usual short form, read in place: a known OID, then nothing or one short element.
        if start + 2 <= stop and data[start] == TAG_OID and data[start + 1] < 0x80:
            oid_end = start + 2 + data[start + 1]
            oid = _OIDS.get(bytes(data[start + 2 : oid_end])) if oid_end <= stop else None
            if oid is not None:
                if oid_end == stop:
                    return new_record(AlgorithmIdentifier, (oid, None))
                if oid_end + 2 <= stop and oid_end + 2 + data[oid_end + 1] == stop:
                    tag = data[oid_end]
                    if data[oid_end + 1] < 0x80 and tag and tag & 0x1F != 0x1F:
                        return new_record(AlgorithmIdentifier, (oid, bytes(data[oid_end:stop])))
        self.pos = first
        self.enter(TAG_SEQUENCE, what)
        oid = self.oid(what, ".algorithm")
        parameters = self.element(what, part=".parameters") if self.more() else None
        self.leave(what)
        return AlgorithmIdentifier(oid, parameters)


def _short_header(data: bytes | memoryview, pos: int, end: int, tag: int) -> tuple[int, int]:
    """(contents start, contents end) of the element at ``pos`` when it has the one-octet
    ``tag`` and a definite length below 65536 within ``end``; else (-1, -1)."""
    if pos + 2 <= end and data[pos] == tag:
        length = data[pos + 1]
        if length < 0x80:
            start, stop = pos + 2, pos + 2 + length
        elif length == 0x82 and pos + 4 <= end:
            start = pos + 4
            stop = start + (data[pos + 2] << 8 | data[pos + 3])
        elif length == 0x81 and pos + 3 <= end:
            start = pos + 3
            stop = start + data[pos + 2]
        else:
            return -1, -1
        if stop <= end:
            return start, stop
    return -1, -1


def _short_elements(data: bytes | memoryview, pos: int, end: int) -> list[bytes] | None:
    """The encodings of the elements in ``[pos, end)`` when each has a one-octet tag and a
    definite length below 65536; else ``None`` (and the general reading decides)."""
    found = []
    while pos < end:
        if pos + 2 > end or data[pos] == 0 or data[pos] & 0x1F == 0x1F:
            return None
        stop = pos + 2 + data[pos + 1]
        if data[pos + 1] >= 0x80:
            stop = _short_header(data, pos, end, data[pos])[1]
            if stop < 0:
                return None
        if stop > end:
            return None
        found.append(bytes(data[pos:stop]))
        pos = stop
    return found


def _constructed(tag: int) -> bool:
    return bool((tag >> 24 if tag > 0xFF else tag) & _CONSTRUCTED)


_OIDS: dict[bytes, str] = {}
"""Dotted forms of the OIDs decoded so far (a bounded cache: few distinct OIDs occur)."""


def _decode_oid(raw: bytes, what: str) -> str:
    if not raw or raw[-1] & 0x80:
        raise MalformedCMSError(f"{what}: malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for octet in raw:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    dotted = ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))
    if len(_OIDS) >= 1024:
        _OIDS.clear()
    _OIDS[raw] = dotted
    return dotted
