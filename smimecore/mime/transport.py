"""Preparing a message for 7-bit transport before it is signed (RFC 8551 section 3.1.3).

A signature covers exact bytes, and mail transport changes some of them on
the way: a relay without 8BITMIME re-encodes 8-bit parts, lines longer
than 998 octets are broken and long ones re-wrapped, white space ending a
line is stripped, and a line starting ``From `` becomes ``>From `` (mbox
files, and Python's own ``smtplib.send_message``).  So, before signing,
every leaf part that a transport could change is re-encoded, as MimeKit
does before it signs (``Prepare(EncodingConstraint.SevenBit, 78)``): text
as quoted-printable, anything else (and text holding NUL octets) as base64.

A body is at risk when it holds an octet above 127 or a NUL, a line
longer than :data:`SAFE_LINE_OCTETS`, white space at the end of a line,
or a line starting ``From ``.  Text mostly of 8-bit octets (17% or more,
MimeKit's figure: Cyrillic, Greek, CJK) becomes base64, which is then
smaller than quoted-printable.  Bodies already in base64 or
quoted-printable are re-encoded (base64 as base64) only when at risk too.
A clean body labelled ``8bit`` or ``binary`` is relabelled ``7bit``.

Parts are found by byte span, as in :mod:`smimecore.mime.walk`; every
byte that needs no change keeps its place.  ``multipart/signed`` and
``multipart/encrypted`` subtrees are kept byte for byte (a signature
inside stays checkable), ``message/rfc822`` is prepared as a message, other
``message/*`` parts are kept.  Multipart framing is made what Python's
``email`` package writes back (so that ``Result.message`` re-serialises to
the same bytes): transport padding after a delimiter is removed, a close
delimiter always ends its line, and the preamble and epilogue, which
readers ignore (RFC 2046 section 5.1.1), are made safe text.

Header fields are kept as they are: 8-bit octets in them (a raw UTF-8
file name) need a path that carries them (SMTPUTF8), whatever is done here.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

from smimecore.errors import MalformedMessageError
from smimecore.mime.entity import RawEntity, split_entity
from smimecore.mime.protected import default_content_type, header_section
from smimecore.mime.signed import multipart_spans
from smimecore.mime.transfer import encode_base64_lines, encode_quoted_printable
from smimecore.mime.walk import MAX_MULTIPART_DEPTH

__all__ = ["MOSTLY_8BIT", "SAFE_LINE_OCTETS", "prepared_for_transport"]

SAFE_LINE_OCTETS = 78
"""The longest body line left as it is: RFC 5322's recommended limit (section 2.1.1).

998 octets is the hard limit; a line past 78 is one that gateways and
mail readers re-wrap (MimeKit prepares with the same figure).
"""

MOSTLY_8BIT = 0.17
"""The share of 8-bit octets from which text is sent as base64 rather than quoted-printable."""

_IDENTITY = frozenset({"", "7bit", "8bit", "binary"})
_KEPT_WHOLE = frozenset({"multipart/signed", "multipart/encrypted"})
_TRANSFER_ENCODING = re.compile(rb"content-transfer-encoding[ \t]*:", re.IGNORECASE)
_CONTENT_TYPE = re.compile(rb"content-type[ \t]*:", re.IGNORECASE)
_CRLF = b"\r\n"
# Octets as ints: on Python 3.11 ``bytes in bytes`` first tries its operand as an int, making
# and dropping a TypeError each time; ``int in bytes`` is one memchr.
_NUL, _TAB, _CR, _SPACE = 0x00, 0x09, 0x0D, 0x20


def prepared_for_transport(raw: bytes) -> bytes:
    """``raw`` with every part a 7-bit transport could change re-encoded (see the module).

    ``raw`` itself comes back when nothing needs a change.  A part that
    cannot be read as MIME (no header section, a multipart without its
    close delimiter, base64 that does not decode) is kept as it is.
    """
    if _nothing_to_prepare(raw):
        return raw
    preparation = _Preparation(raw)
    preparation.entity(0, len(raw), 0)
    if not preparation.edits:
        return raw
    pieces: list[bytes] = []
    position = 0
    for start, end, replacement in preparation.edits:
        pieces += [raw[position:start], replacement]
        position = end
    pieces.append(raw[position:])
    return b"".join(pieces)


_WALK_LABELS = (b"multipart/", b"message/", b"8bit", b"binary")
"""What in a (lowercased) top-level header section makes the walk necessary even when no
octet is at risk: parts to look at, or an 8-bit label to change."""


def _names_walk_label(lowered_header: bytes) -> bool:
    # Substring searches run at memory speed; a regular expression with no literal prefix
    # would try its alternatives at every octet.
    for label in _WALK_LABELS:
        if lowered_header.find(label) >= 0:  # not ``in``: see _NUL
            return True
    return False


def _nothing_to_prepare(raw: bytes) -> bool:
    """Whether a single-part message is clean, in one look at its body (the usual case).

    A message whose header section names no parts and no ``8bit``/``binary``
    label, and whose body has no octet at risk (:func:`_at_risk`), gets no
    edit from the walk, so it is skipped.  Anything else is left to the
    walk, which looks at each part apart.
    """
    entity = split_entity(raw)
    if _names_walk_label(entity.header_block.lower()):
        return False
    # A header section without the empty line after it has no body (body_start 0).
    return not entity.body_start or not _at_risk(raw, entity.body_start, len(raw))


@dataclass
class _Preparation:
    """One walk over a message: the edits (start, end, replacement), in message order."""

    data: bytes
    edits: list[tuple[int, int, bytes]] = field(default_factory=list)

    def entity(self, start: int, end: int, depth: int) -> None:
        """Prepare the entity ``data[start:end]``, at multipart ``depth``."""
        if depth > MAX_MULTIPART_DEPTH:
            raise MalformedMessageError(f"parts are nested deeper than {MAX_MULTIPART_DEPTH}")
        try:
            entity = split_entity(memoryview(self.data)[start:end])
        except MalformedMessageError:
            if depth == 0:
                raise
            return  # not a MIME part: nothing to re-encode
        content_type = entity.content_type
        # A header section without the empty line after it has no body (body_start 0).
        body_start = start + entity.body_start if entity.body_start else end
        if content_type in _KEPT_WHOLE:
            return
        if content_type.startswith("multipart/"):
            self._multipart(entity, body_start, end, depth)
        elif content_type == "message/rfc822" and _transfer_encoding(entity) in _IDENTITY:
            self.entity(body_start, end, depth + 1)
        elif not content_type.startswith("message/"):
            self._leaf(entity, start, body_start, end)

    def _leaf(self, entity: RawEntity, start: int, body_start: int, end: int) -> None:
        encoding = _transfer_encoding(entity)
        if encoding not in _IDENTITY and encoding not in ("base64", "quoted-printable"):
            return  # x-uuencode and the like: not ours to rewrite
        if not _at_risk(self.data, body_start, end):
            if encoding in ("8bit", "binary"):
                self.edits.append((start, body_start, _header(entity, b"7bit", None)))
            return
        content = _decoded(memoryview(self.data)[body_start:end], encoding)
        if content is None:
            return
        text = entity.content_type.startswith("text/")
        if text and encoding != "base64" and b"\0" not in content and not _mostly_8bit(content):
            encoded, name = encode_quoted_printable(content), b"quoted-printable"
        else:
            encoded, name = encode_base64_lines(content), b"base64"
        header = _header(entity, name, content if text else None)
        self.edits.append((start, end, header + encoded))

    def _multipart(self, entity: RawEntity, body_start: int, end: int, depth: int) -> None:
        boundary = entity.parameter("boundary")
        if not boundary:
            return
        delimiter = b"--" + boundary.encode("utf-8", "surrogateescape")
        try:
            spans = multipart_spans(self.data, delimiter[2:], body_start, end)
        except MalformedMessageError:
            return  # without its close delimiter, where the parts end is a guess
        if not spans:
            return
        first = self.data.rfind(delimiter, body_start, spans[0][0])
        if first > body_start:
            self._ignored_text(body_start, first - _break_before(self.data, first))
        previous_end = None
        for part_start, part_end in spans:
            line = first if previous_end is None else self.data.find(delimiter, previous_end)
            self._padding(line + len(delimiter), _line_break_start(self.data, part_start))
            self.entity(part_start, part_end, depth + 1)
            previous_end = part_end
        self._close(delimiter + b"--", spans[-1][1], end)

    def _close(self, close: bytes, after: int, end: int) -> None:
        """The close delimiter after the last part: no padding, a line break, safe epilogue."""
        token_end = self.data.find(close, after, end) + len(close)
        newline = self.data.find(b"\n", token_end, end)
        if newline < 0:
            self._padding(token_end, end, _CRLF)
            return
        self._padding(token_end, newline - (1 if self.data[newline - 1] == 0x0D else 0))
        self._ignored_text(newline + 1, end)

    def _padding(self, start: int, end: int, replacement: bytes = b"") -> None:
        if end > start or replacement:
            self.edits.append((start, end, replacement))

    def _ignored_text(self, start: int, end: int) -> None:
        text = self.data[start:end]
        safe = _safe_ignored_text(text)
        if safe != text:
            self.edits.append((start, end, safe))


_NOT_PRINTABLE = re.compile(rb"[^\t\r\n\x20-\x7e]")
_LONG_LINE = re.compile(rb"[^\r\n]{%d}(?=[^\r\n])" % (SAFE_LINE_OCTETS - 2))
_TRAILING_SPACE = re.compile(rb"[ \t]+(?=[\r\n]|\Z)")
_FROM_LINE = re.compile(rb"(\A|[\r\n])From ")


def _safe_ignored_text(text: bytes) -> bytes:
    """A preamble or epilogue as safe text: no 8-bit, long lines, trailing spaces or ``From ``.

    Readers ignore this text, so it may change: octets that are not
    printable ASCII become ``?``, long lines are broken, trailing white
    space is dropped and ``From `` is quoted as ``>From `` (as mbox would).
    """
    text = _NOT_PRINTABLE.sub(b"?", text)
    text = _LONG_LINE.sub(lambda found: found[0] + _CRLF, text)
    text = _TRAILING_SPACE.sub(b"", text)
    return _FROM_LINE.sub(rb"\1>From ", text)


_SCAN_STEP = 256 * 1024
"""Body octets checked per step: each step is copied once and then looked at in the cache."""
_EIGHT_BIT = bytes(range(0x80, 0x100))
_RISKY_LINE_EDGE = {
    line_break: re.compile(rb"%s(?:(?<=[ \t]%s)|From )" % (line_break, line_break))
    for line_break in (b"\n", _CRLF)
}
"""A line break after white space, or before ``From ``: the search stops only at line breaks."""


def _at_risk(data: bytes, start: int, end: int) -> bool:
    """Whether a transport may change the body ``data[start:end]`` (see the module).

    The body is looked at a step of whole lines at a time.
    """
    at = start
    while at < end:
        stop = data.find(b"\n", min(at + _SCAN_STEP, end), end)
        stop = end if stop < 0 else stop + 1
        if _text_at_risk(data[at:stop]):
            return True
        at = stop
    return False


def _text_at_risk(text: bytes) -> bool:
    """Whether a transport may change ``text``, whole lines of a body (see the module).

    Made of scans at memory speed, a look at the line lengths and, when
    there is white space at all, one search over the line breaks.
    """
    if not text.isascii() or _NUL in text:
        return True
    line_break = _uniform_line_break(text)
    if line_break is None:
        return _text_at_risk(text.replace(_CRLF, b"\n").replace(b"\r", b"\n"))
    first = text.find(line_break)
    if (first if first >= 0 else len(text)) > SAFE_LINE_OCTETS:
        return True
    if text.startswith(b"From ") or text.endswith((b" ", b"\t")):
        return True
    if not _one_width(text, line_break, first) and (
        max(map(len, text.split(line_break))) > SAFE_LINE_OCTETS
    ):
        return True
    return (_SPACE in text or _TAB in text) and (
        _RISKY_LINE_EDGE[line_break].search(text) is not None
    )


def _uniform_line_break(text: bytes) -> bytes | None:
    """``LF`` or ``CR LF`` when every line break of ``text`` is that one, else ``None``."""
    if _CR not in text:
        return b"\n"
    crlf = text.count(_CRLF)
    return _CRLF if crlf == text.count(b"\r") == text.count(b"\n") else None


def _one_width(text: bytes, line_break: bytes, first: int) -> bool:
    """Whether the lines of ``text`` are all as long as the first one, but a shorter last one.

    Only the places where their line breaks must be are looked at (base64,
    the usual attachment, has lines of one width).
    """
    if first < 0:
        return True
    period = first + len(line_break)
    last_line = len(text) - text.rfind(line_break) - len(line_break)
    return (
        text.startswith(line_break, first + period)
        and last_line <= first
        and all(
            _all_equal(text[first + offset :: period], octet)
            for offset, octet in enumerate(line_break)
        )
    )


def _all_equal(octets: bytes, value: int) -> bool:
    return octets.count(value) == len(octets)


def _mostly_8bit(content: bytes) -> bool:
    eight_bit = len(content) - len(content.translate(None, _EIGHT_BIT))
    return eight_bit >= MOSTLY_8BIT * len(content)


def _transfer_encoding(entity: RawEntity) -> str:
    return (entity.field("content-transfer-encoding") or "").strip().lower()


def _decoded(body: memoryview, encoding: str) -> bytes | None:
    """The content of a body in ``encoding``; ``None`` when it does not decode."""
    if encoding == "base64":
        try:
            return binascii.a2b_base64(body)
        except binascii.Error:
            return None
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    return bytes(body)


def _header(entity: RawEntity, encoding: bytes, text: bytes | None) -> bytes:
    """The part's header section with its Content-Transfer-Encoding field set to ``encoding``.

    The field takes the place of the first one there was (any others go),
    else it comes last.  Re-encoded ``text`` without a Content-Type field is
    given the one the protected entity would be (so that the charset
    still says what the octets were).
    """
    fields: list[bytes] = []
    placed = False
    for line in entity.header_lines():
        if _TRANSFER_ENCODING.match(line) is None:
            fields.append(line)
        elif not placed:
            fields.append(b"Content-Transfer-Encoding: " + encoding)
            placed = True
    if not placed:
        fields.append(b"Content-Transfer-Encoding: " + encoding)
    if text is not None and not any(_CONTENT_TYPE.match(line) for line in fields):
        fields.append(default_content_type(text))
    return header_section(fields)


def _break_before(data: bytes, position: int) -> int:
    """The length of the line break that ends just before ``position`` (CR LF or LF)."""
    return 2 if data[position - 2 : position] == _CRLF else 1


def _line_break_start(data: bytes, line_end: int) -> int:
    """Where the line break ends a line that ends (with its break) at ``line_end``."""
    return line_end - _break_before(data, line_end)
