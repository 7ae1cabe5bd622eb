"""Raw MIME entities: headers and body as byte spans of the message received.

Signatures cover exact bytes, so the message is never re-serialised: an
entity is split into its header block and body by offsets, and header
values are parsed (with the ``email`` package, which handles folding and
RFC 2231 parameters) only to read types and parameters.
"""

from __future__ import annotations

import copy
import dataclasses
import email.message
import email.parser
import email.policy
import email.utils
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from smimecore.errors import MalformedMessageError
from smimecore.lazy import cached_property

__all__ = [
    "FIELD_NAME",
    "MessageInput",
    "RawEntity",
    "check_header_section",
    "message_bytes",
    "split_entity",
]

MessageInput = bytes | bytearray | memoryview | str | email.message.Message
"""What the API accepts as a message: raw bytes (preferred), text, or an ``email`` message."""

_HEADER_PARSER = email.parser.BytesParser(policy=email.policy.compat32)


def message_bytes(message: MessageInput) -> bytes:
    """The bytes of ``message``; an ``email`` message is serialised from a copy, never changed."""
    if isinstance(message, bytes):
        return message
    if isinstance(message, bytearray | memoryview):
        return bytes(message)
    if isinstance(message, str):
        try:
            return message.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise MalformedMessageError(f"message text cannot be encoded: {exc}") from None
    if isinstance(message, email.message.Message):
        duplicate = copy.deepcopy(message)
        policy = duplicate.policy.clone(max_line_length=0)
        return duplicate.as_bytes(policy=policy)
    raise TypeError(
        f"message must be bytes, str or email.message.Message, not {type(message).__name__}"
    )


@dataclass(frozen=True)
class RawEntity:
    """A MIME entity as received: the header block, and where the body starts in ``source``.

    The body is not copied out of the message until :attr:`body` is read;
    :attr:`body_view` and :attr:`body_start` let large bodies be hashed,
    scanned and written out without a copy.
    """

    header_block: bytes
    source: bytes | memoryview = dataclasses.field(repr=False)
    body_start: int = 0

    @cached_property
    def body(self) -> bytes:
        """The body's bytes (a copy of that part of the message, made once)."""
        if self.body_start == 0 and isinstance(self.source, bytes):
            return self.source
        return bytes(self.source[self.body_start :])

    @property
    def body_view(self) -> memoryview:
        """The body without copying it."""
        return memoryview(self.source)[self.body_start :]

    @property
    def body_length(self) -> int:
        """The body's length in bytes."""
        return len(self.source) - self.body_start

    @cached_property
    def headers(self) -> email.message.Message:
        """The parsed header block (values unfolded, parameters decoded)."""
        return _HEADER_PARSER.parsebytes(self.header_block + b"\n", headersonly=True)

    @cached_property
    def _simple_content_type(self) -> tuple[str, Mapping[str, str]] | None:
        """Content-Type parsed without the ``email`` package when it is plain (the usual case).

        ``None`` sends the caller to the full parser: RFC 2231 parameters,
        encoded words, escapes, repeated fields or anything irregular.
        """
        found = self._values(b"content-type")
        if len(found) != 1:
            return None if found else ("text/plain", _NO_PARAMETERS)
        return _parse_simple_content_type(found[0])

    @property
    def content_type(self) -> str:
        """The lowercased ``type/subtype`` (``text/plain`` when absent, as RFC 2045 says)."""
        simple = self._simple_content_type
        if simple is not None:
            return simple[0]
        return self.headers.get_content_type()

    def field(self, name: str) -> str | None:
        """A header field's unfolded value as text (``None`` when absent); the first if repeated."""
        found = self._values(name.lower().encode("ascii"))
        return _unfolded(found[0]) if found else None

    def fields(self, name: str) -> list[str]:
        """Every value of the header field ``name``, unfolded, as text (8-bit bytes as UTF-8).

        White space between the name and the colon is allowed (RFC 5322's
        obsolete syntax, which mail readers still honour).
        """
        return list(map(_unfolded, self._values(name.lower().encode("ascii"))))

    def _values(self, wanted: bytes) -> Sequence[bytes]:
        """The raw values (after the colon) of the fields named ``wanted`` (lowercase)."""
        return self._values_by_name.get(wanted, ())

    @cached_property
    def _values_by_name(self) -> dict[bytes, list[bytes]]:
        """Each field's raw values, in order, by its lowercased name.

        The one reading of a field's name: what comes before the first colon, less the white
        space before the colon (RFC 5322's obsolete syntax, which mail readers still honour),
        so ``Content-Type :`` is a Content-Type field for every question asked of an entity.
        """
        found: dict[bytes, list[bytes]] = {}
        for line in self._header_lines:
            name, colon, value = line.partition(b":")
            if colon:
                found.setdefault(name.rstrip(b" \t").lower(), []).append(value)
        return found

    def parameter(self, name: str, header: str = "content-type") -> str | None:
        """A parameter's value in ``header`` (Content-Type by default); names match in any case."""
        simple = self._simple_content_type if header == "content-type" else None
        if simple is not None:
            return simple[1].get(name.lower())
        value = self.headers.get_param(name, header=header)
        if value is None:
            return None
        if isinstance(value, tuple):
            return email.utils.collapse_rfc2231_value(value)
        return str(value)

    def header_lines(self) -> list[bytes]:
        """Each header field as its raw bytes, continuation lines included, line ending excluded."""
        return list(self._header_lines)

    @cached_property
    def _header_lines(self) -> tuple[bytes, ...]:
        fields: list[bytes] = []
        for line in self.header_block.splitlines():
            if line[:1] in (b" ", b"\t") and fields:
                fields[-1] += b"\r\n" + line
            elif line:
                fields.append(line)
        return tuple(fields)

    @property
    def content_header_lines(self) -> list[bytes]:
        """The ``Content-*`` header fields, raw."""
        return list(self._fields_by_kind[0])

    @property
    def outer_header_lines(self) -> list[bytes]:
        """Every header field that is not ``Content-*`` (From, To, Subject...), raw."""
        return list(self._fields_by_kind[1])

    @cached_property
    def _fields_by_kind(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        content: list[bytes] = []
        outer: list[bytes] = []
        for line in self._header_lines:
            (content if line[:8].lower() == b"content-" else outer).append(line)
        return tuple(content), tuple(outer)


_MIME_WORD = r"[!#$%&'+\-.0-9A-Z^_`a-z{|}~]+"
_CONTENT_TYPE = re.compile(
    rf"\s*(?P<type>{_MIME_WORD}/{_MIME_WORD})\s*(?P<parameters>(?:;\s*{_MIME_WORD}\s*=\s*"
    rf"(?:\"[^\"]*\"|{_MIME_WORD})\s*)*);?\s*"
)
_PARAMETER = re.compile(
    rf";\s*(?P<name>{_MIME_WORD})\s*=\s*(?:\"(?P<quoted>[^\"]*)\"|(?P<plain>{_MIME_WORD}))"
)


_NO_PARAMETERS: Mapping[str, str] = MappingProxyType({})


@functools.lru_cache(maxsize=256)
def _parse_simple_content_type(line: bytes) -> tuple[str, Mapping[str, str]] | None:
    """A ``Content-Type`` value read by the plain grammar (cached: the same fields recur)."""
    value = line.replace(b"\r\n", b"").decode("latin-1")
    if "*" in value or "=?" in value or "\\" in value or "(" in value:
        return None
    match = _CONTENT_TYPE.fullmatch(value)
    if match is None:
        return None
    parameters = {
        found["name"].lower(): found["quoted"] if found["quoted"] is not None else found["plain"]
        for found in _PARAMETER.finditer(match["parameters"])
    }
    return match["type"].lower(), MappingProxyType(parameters)


def _unfolded(value: bytes) -> str:
    """A raw field value (after the colon) as text: unfolded, trimmed, 8-bit bytes as UTF-8."""
    return value.replace(b"\r\n", b"").replace(b"\n", b"").strip().decode("utf-8", "replace")


def split_entity(raw: bytes | memoryview) -> RawEntity:
    """Split an entity at the first empty line; header-only input has an empty body.

    The body is not copied (see :class:`RawEntity`); a ``memoryview`` is
    accepted so that a part of a larger message need not be copied either.
    The last ``bytes`` split is remembered with its entity (one message, whatever its size):
    ``verify_decrypt`` splits a message twice, and a scan reads the same message's header
    fields, so each of them reads its header fields once.
    """
    last = _LAST_SPLIT.last
    if last is not None and last[0] is raw:
        return last[1]
    entity = _split(raw)
    if type(raw) is bytes:  # immutable, and kept alive here: nothing else can have its id
        _LAST_SPLIT.last = (raw, entity)  # one store: a thread reads a pair or the one before
    return entity


class _LastSplit:
    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[bytes, RawEntity] | None = None


_LAST_SPLIT = _LastSplit()


def _split(raw: bytes | memoryview) -> RawEntity:
    first = bytes(raw[:2])
    if first.startswith((b"\r\n", b"\n")):
        return RawEntity(b"", raw, 2 if first == b"\r\n" else 1)
    # One scan that stops at the first empty line (two ``find`` calls would each read a
    # large body to its end when its kind of line ending is absent).
    blank = _EMPTY_LINE.search(raw)
    if blank is None:
        header = bytes(raw)
        if b":" not in header.split(b"\n", 1)[0]:
            raise MalformedMessageError("the message has no header section")
        return RawEntity(header, b"")
    position = blank.start()
    return RawEntity(bytes(raw[: position + 1]), raw, blank.end())


_EMPTY_LINE = re.compile(rb"\n\r?\n")

FIELD_NAME = re.compile(rb"[!-9;-~]+[ \t]*:")
"""The start of a header field: an RFC 5322 field-name (printable ASCII but the colon), a colon.

Whitespace before the colon is RFC 5322's obsolete syntax, still read.
"""


_HEADER_SECTION = re.compile(
    rb"[\r\n]*(?:%s[^\r\n]*(?:[\r\n]+(?:%s|[ \t])[^\r\n]*)*)?[\r\n]*"
    % (FIELD_NAME.pattern, FIELD_NAME.pattern)
)
"""An RFC 5322 header section: fields (:data:`FIELD_NAME`, a value), each maybe followed by
continuation lines (starting with a space or a tab); empty lines are passed over."""


def check_header_section(entity: RawEntity) -> None:
    """Refuse a header section that is not RFC 5322 (for what we are asked to protect).

    Every line before the first empty one must be a field (``name: value``)
    or, after a field, a continuation line (:data:`_HEADER_SECTION`).
    Incoming mail is read leniently; a message to sign or encrypt must be a
    message, not arbitrary bytes whose lines would become fields.
    """
    if _fields_named(entity):
        return
    block = entity.header_block
    valid = _HEADER_SECTION.match(block)
    end = valid.end() if valid is not None else 0
    if end == len(block):
        return
    # The match ends at the start of the first line that is neither.
    number = len(block[:end].splitlines()) + 1
    line = block[end:].splitlines()[0]
    raise MalformedMessageError(
        "the message's header section is not RFC 5322: line "
        f"{number} ({_excerpt(line)}) is neither a 'Name: value' field "
        "nor a continuation line"
    )


def _fields_named(entity: RawEntity) -> bool:
    """Whether every field of ``entity`` (continuation lines folded in) starts with a field
    name: then :data:`_HEADER_SECTION` matches its header section whole.

    The usual case, answered from the fields the entity has split already, a name at a time,
    rather than by the regular expression reading every octet of every value.
    """
    for line in entity._header_lines:
        if FIELD_NAME.match(line) is None:
            return False
    return True


def _excerpt(line: bytes) -> str:
    """A short, printable picture of a line for an error message."""
    shown = repr(line[:32])
    return shown + ("..." if len(line) > 32 else "")
