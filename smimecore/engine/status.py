"""Status records: RT's ``{Operation, Status, Message, ...}`` hashes, and operation results.

Field names and the exact ``Message`` strings are RT's (RT::Crypt::SMIME);
values are strings, as RT's ``ParseStatus`` returns them, except
``EncryptedTo``, a list of ``{"EmailAddress": ...}`` tables.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509

from smimecore.lazy import cached_property

__all__ = [
    "MAX_LINE_OCTETS",
    "SOURCE_POLICY",
    "Result",
    "SourcePolicy",
    "StatusRecord",
    "format_status",
    "parse_status",
    "status_header_lines",
]

DONE, BAD, ERROR, MISSING = "DONE", "BAD", "ERROR", "MISSING"


class StatusRecord(Mapping[str, Any]):
    """One status record; reads like a read-only dict keyed by RT's field names."""

    __slots__ = ("_fields",)

    def __init__(self, operation: str, status: str, message: str, **fields: Any) -> None:
        self._fields: dict[str, Any] = {
            "Operation": operation,
            "Status": status,
            "Message": message,
            **{name: value for name, value in fields.items() if value is not None},
        }

    @property
    def operation(self) -> str:
        """RT's ``Operation``: ``Sign``, ``Verify``, ``KeyCheck``..."""
        return str(self._fields["Operation"])

    @property
    def status(self) -> str:
        """RT's ``Status``: ``DONE``, ``BAD``, ``ERROR`` or ``MISSING``."""
        return str(self._fields["Status"])

    @property
    def message(self) -> str:
        """RT's human-readable ``Message``."""
        return str(self._fields["Message"])

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"StatusRecord({self._fields!r})"

    def with_fields(self, **fields: Any) -> StatusRecord:
        """A copy with ``fields`` added (or replaced)."""
        copy = object.__new__(StatusRecord)
        merged = {**self._fields, **fields}  # a field given as None is dropped
        copy._fields = {name: value for name, value in merged.items() if value is not None}
        return copy

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, ready for JSON."""
        return dict(self._fields)


@dataclass(frozen=True)
class Result:
    """What an operation gives back: the resulting message and its status records.

    ``data`` is the resulting message as bytes (for a failed verification,
    the message as it came in); ``message`` is the same parsed as an
    ``email.message.EmailMessage``.  ``ok`` holds when every record is
    ``DONE`` and, unless ``accepts_partial_protection``, no protection covers
    only part of the message.
    """

    data: bytes
    statuses: tuple[StatusRecord, ...]
    certificates: tuple[x509.Certificate, ...] = ()
    accepts_partial_protection: bool = False

    @property
    def ok(self) -> bool:
        """Whether there is a record, every record is ``DONE`` and each covers the whole message."""
        return (
            bool(self.statuses)
            and all(record.status == DONE for record in self.statuses)
            and (self.accepts_partial_protection or not self.partial_parts)
        )

    @property
    def partial_parts(self) -> tuple[str, ...]:
        """The MIME paths of the parts whose protection covers only them (``Coverage: part``)."""
        return tuple(
            str(record.get("Part", ""))
            for record in self.statuses
            if record.get("Coverage") == "part"
        )

    @cached_property
    def message(self) -> email.message.EmailMessage:
        """The resulting message, parsed so that it serialises back to :attr:`data`.

        Its policy is ``email.policy.SMTP`` (CR LF line endings) that writes
        each header field it read exactly as it was and keeps 8-bit bodies
        8-bit, so that ``as_bytes()`` and ``smtplib``'s ``send_message`` give
        back :attr:`data` byte for byte for what :meth:`SMIME.sign` prepared
        for transport; ``as_string()`` too, unless :attr:`data` holds 8-bit
        octets (docs/transport.md says when).
        """
        parser = email.parser.BytesParser(_class=email.message.EmailMessage, policy=SOURCE_POLICY)
        return parser.parsebytes(self.data)

    def as_bytes(self) -> bytes:
        """The resulting message's bytes."""
        return self.data


class _SourceValue(str):
    """A header field's value as it was read: everything after the colon, folding included."""

    __slots__ = ()


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


if TYPE_CHECKING:
    _EmailPolicy = email.policy.EmailPolicy[email.message.EmailMessage]
else:
    _EmailPolicy = email.policy.EmailPolicy


class SourcePolicy(_EmailPolicy):
    """An ``email`` policy under which a parsed message serialises back to its own bytes.

    Header fields read from the source are written back as they were
    (white space after the colon, folding and quoting kept), where
    ``email.policy.default`` re-folds long ones and re-quotes parameters;
    fields set afterwards are folded as usual.  A field holding 8-bit octets
    is kept only where the output may be 8-bit (``as_bytes`` with
    ``cte_type="8bit"``); ``as_string`` encodes it by RFC 2047.
    """

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        """Keep the value exactly (the default strips the white space after the colon)."""
        name, value = sourcelines[0].split(":", 1)
        return name, _SourceValue((value + "".join(sourcelines[1:])).rstrip("\r\n"))

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """The parsed header object, as under ``email.policy.default``."""
        if isinstance(value, _SourceValue):
            value = str(value).lstrip(" \t\r\n")
        return super().header_fetch_parse(name, value)

    def fold(self, name: str, value: str) -> str:
        """A field read from the source as it was; others as ``email.policy.default`` folds them."""
        exact = self._as_read(name, value, binary=False)
        return exact if exact is not None else super().fold(name, _unread(value))

    def fold_binary(self, name: str, value: str) -> bytes:
        """:meth:`fold`, as bytes (8-bit octets kept when ``cte_type`` is ``8bit``)."""
        exact = self._as_read(name, value, binary=True)
        if exact is None:
            return super().fold_binary(name, _unread(value))
        return exact.encode("utf-8" if self.utf8 else "ascii", "surrogateescape")

    def _as_read(self, name: str, value: str, *, binary: bool) -> str | None:
        if not isinstance(value, _SourceValue):
            return None
        if not value.isascii() and not (binary and self.cte_type == "8bit"):
            return None
        return name + ":" + self.linesep.join(_LINE_BREAK.split(value)) + self.linesep


def _unread(value: str) -> str:
    """A value read from the source as ``email.policy.default`` would have read it."""
    return str(value).lstrip(" \t") if isinstance(value, _SourceValue) else value


SOURCE_POLICY = SourcePolicy(linesep="\r\n", cte_type="8bit")
"""The policy :attr:`Result.message` is parsed with (see :class:`SourcePolicy`)."""


def all_done(statuses: Sequence[StatusRecord]) -> bool:
    """Whether every record is ``DONE``."""
    return all(record.status == DONE for record in statuses)


_MARKER = "[SMIME:]"
_RECORD_BOUNDARY = re.compile(r"\[SMIME:\]\s*\[SMIME:\]")
_FIELD_SPLIT = re.compile(r"\s*\[SMIME:\]")
_FOLDING = re.compile(r"\r?\n(?=[ \t])")

MAX_LINE_OCTETS = 998
"""RFC 5322's limit on a header line, its line ending excluded."""

# What a key or value may not hold as itself: the escape character, the marker, the start of
# an RFC 2047 encoded word (a reader that decodes one would see its text), and control,
# surrogate, line and paragraph separator characters.  A key may not hold a colon either.
_SPECIAL_IN_VALUE = r"\\|\[SMIME:\]|=\?|[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]"
_SPECIAL = {
    "value": re.compile(_SPECIAL_IN_VALUE),
    "key": re.compile(_SPECIAL_IN_VALUE + "|:"),
}
_EDGE_SPACE = re.compile(r"^\s+|\s+$")
_ESCAPE = re.compile(r"\\(?:(?P<backslash>\\)|x\{(?P<code>[0-9a-fA-F]{0,6})\}|(?P<soft>[ \t]))")
_EMPTY_KEY = "\\x{}"
_ATOM = re.compile(r"\\x\{[0-9a-f]*\}|\\\\|.", re.DOTALL)
"""An escaped text's unbreakable pieces: an escape sequence or one character."""


def _code(character: str) -> str:
    return f"\\x{{{ord(character):x}}}"


def _escape_special(found: re.Match[str]) -> str:
    text = found.group()
    if text == "\\":
        return "\\\\"
    if text == _MARKER:
        return "[SMIME" + _code(":") + "]"
    if text == "=?":
        return "=" + _code("?")
    return _code(text)


def _escape(text: str, kind: str) -> str:
    """``text`` with nothing left that RT's grammar, a mail header or trimming would change."""
    escaped = _SPECIAL[kind].sub(_escape_special, text)
    escaped = _EDGE_SPACE.sub(lambda found: "".join(map(_code, found.group())), escaped)
    return escaped or (_EMPTY_KEY if kind == "key" else "")


def _unescape_sequence(found: re.Match[str]) -> str:
    if found["backslash"]:
        return "\\"
    code = found["code"]
    if not code:  # a soft break, or the empty key
        return ""
    number = int(code, 16)
    return chr(number) if number <= 0x10FFFF else found.group()


def _unescape(text: str) -> str:
    return _ESCAPE.sub(_unescape_sequence, text)


def _status_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ", ".join(
            str(item.get("EmailAddress", "")) if isinstance(item, Mapping) else str(item)
            for item in value
        )
    return str(value)


def _escaped_fields(records: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, str] | None]:
    """Each record's escaped ``(key, value)`` pairs, then ``None`` for its terminator."""
    for record in records:
        for key, value in record.items():
            yield _escape(str(key), "key"), _escape(_status_text(value), "value")
        yield None


def format_status(records: Iterable[Mapping[str, Any]]) -> str:
    """RT's ``FormatStatus``: ``[SMIME:]Key: Value`` lines, each record ended by ``[SMIME:]``.

    Text that RT's grammar or a mail header would change is escaped, so
    that :func:`parse_status` gives back exactly what was written and no
    value can pass for a field or a record (docs/status-records.md):
    ``\\`` becomes ``\\\\``; the marker's colon, ``=?``'s question mark,
    control characters, line separators, a key's colons and white space at
    either end of a key or value become ``\\x{hex}``.  Other values are
    written as RT writes them.  A boolean becomes ``1``/``0`` and a list
    (``EncryptedTo``) its addresses joined by ``", "``; strings of several
    calls concatenate.
    """
    return "".join(
        f"{_MARKER}\n" if field is None else f"{_MARKER}{field[0]}: {field[1]}\n"
        for field in _escaped_fields(records)
    )


def status_header_lines(
    records: Iterable[Mapping[str, Any]], *, first_line_octets: int = 0
) -> list[str]:
    """:func:`format_status`'s text as the lines of one mail header field.

    ``first_line_octets`` is what the first line already holds (the field
    name and ``": "``).  Each status field starts a line, as RT folds it;
    a field too long for :data:`MAX_LINE_OCTETS` is folded before a space
    inside it or, where there is none, by a soft break: a ``\\`` ending the
    line, dropped by :func:`parse_status` with the folding white space.
    Every line but the first starts with a space; none holds CR or LF.
    """
    if first_line_octets > MAX_LINE_OCTETS // 2:
        raise ValueError(f"a header field name of {first_line_octets} octets is too long")
    lines: list[str] = []
    for field in _escaped_fields(records):
        atoms = [_MARKER]
        breakable = [False]
        if field is not None:
            key, value = (_ATOM.findall(text) for text in field)
            atoms += [*key, ":", " ", *value]
            breakable += [True] * len(key) + [False, True] + [True] * len(value)
        lines += _wrapped(atoms, breakable, first_line_octets if not lines else None)
    return lines


def _octets(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _wrapped(atoms: list[str], breakable: list[bool], first_line_octets: int | None) -> list[str]:
    """One status field's ``atoms`` as lines of at most :data:`MAX_LINE_OCTETS` octets.

    ``breakable[i]`` says whether a line may end before ``atoms[i]``: a
    fold when that atom is a space, else a soft break.  ``None`` for
    ``first_line_octets`` means a continuation line.
    """
    lines: list[str] = []
    indent = "" if first_line_octets is not None else " "
    start, size = 0, first_line_octets if first_line_octets is not None else 1
    for index, atom in enumerate(atoms):
        octets = _octets(atom)
        if size + octets + 1 > MAX_LINE_OCTETS:  # one octet kept for a soft break's backslash
            cut = max(i for i in range(start + 1, index + 1) if breakable[i])
            folds = atoms[cut] == " "
            lines.append(indent + "".join(atoms[start:cut]) + ("" if folds else "\\"))
            indent = "" if folds else " "
            start = cut
            size = len(indent) + sum(map(_octets, atoms[cut:index]))
        size += octets
    lines.append(indent + "".join(atoms[start:]))
    return lines


def parse_status(text: str | None) -> list[dict[str, Any]]:
    """RT's ``ParseStatus``: the records of a status string (folded header text works too).

    Undoes :func:`format_status`'s escapes and a header's folding, so text
    it wrote comes back exactly; RT's own text (which escapes nothing)
    reads as RT reads it.  A record without fields is no record.
    ``EncryptedTo`` becomes a list of one ``{"EmailAddress": ...}`` table,
    as in RT.
    """
    if not text or not text.strip():
        return []
    records = []
    for chunk in _RECORD_BOUNDARY.split(_FOLDING.sub("", text)):
        record: dict[str, Any] = {}
        for piece in _FIELD_SPLIT.split(chunk):
            if ":" not in piece:
                continue
            key, value = piece.split(":", 1)
            if key.strip():
                record[_unescape(key.strip())] = _unescape(value.strip())
        if "EncryptedTo" in record:
            record["EncryptedTo"] = [{"EmailAddress": record["EncryptedTo"]}]
        if record:
            records.append(record)
    return records
