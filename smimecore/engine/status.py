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
from functools import cached_property
from typing import Any

from cryptography import x509

__all__ = ["Result", "StatusRecord", "format_status", "parse_status"]

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
        extra = {
            k: v for k, v in self._fields.items() if k not in ("Operation", "Status", "Message")
        }
        return StatusRecord(self.operation, self.status, self.message, **{**extra, **fields})

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
        """The resulting message, parsed (use :attr:`data` to send it: it is exact)."""
        parser = email.parser.BytesParser(
            _class=email.message.EmailMessage, policy=email.policy.default
        )
        return parser.parsebytes(self.data)

    def as_bytes(self) -> bytes:
        """The resulting message's bytes."""
        return self.data


def all_done(statuses: Sequence[StatusRecord]) -> bool:
    """Whether every record is ``DONE``."""
    return all(record.status == DONE for record in statuses)


_MARKER = "[SMIME:]"
_RECORD_BOUNDARY = re.compile(r"\[SMIME:\]\s*\[SMIME:\]")
_FIELD_SPLIT = re.compile(r"\s*\[SMIME:\]")


def _status_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ", ".join(
            str(item.get("EmailAddress", "")) if isinstance(item, Mapping) else str(item)
            for item in value
        )
    return " ".join(str(value).split())


def format_status(records: Iterable[Mapping[str, Any]]) -> str:
    """RT's ``FormatStatus``: ``[SMIME:]Key: Value`` lines, each record ended by ``[SMIME:]``.

    Values are kept on one line (newlines become spaces), so the text can
    be folded into a mail header; strings of several calls concatenate.
    """
    lines: list[str] = []
    for record in records:
        lines.extend(f"{_MARKER}{key}: {_status_text(value)}\n" for key, value in record.items())
        lines.append(f"{_MARKER}\n")
    return "".join(lines)


def parse_status(text: str | None) -> list[dict[str, Any]]:
    """RT's ``ParseStatus``: the records of a status string (folded header text works too).

    ``EncryptedTo`` becomes a list of ``{"EmailAddress": ...}`` tables, as in RT.
    """
    if not text or not text.strip():
        return []
    records = []
    for chunk in _RECORD_BOUNDARY.split(text):
        record: dict[str, Any] = {}
        for piece in _FIELD_SPLIT.split(chunk):
            if ":" not in piece:
                continue
            key, value = piece.split(":", 1)
            if key.strip():
                record[key.strip()] = value.strip()
        if "EncryptedTo" in record:
            record["EncryptedTo"] = [{"EmailAddress": record["EncryptedTo"]}]
        if record:
            records.append(record)
    return records
