"""Status records: RT's ``{Operation, Status, Message, ...}`` hashes, and operation results.

Field names and the exact ``Message`` strings are RT's (RT::Crypt::SMIME);
values are strings, as RT's ``ParseStatus`` returns them, except
``EncryptedTo``, a list of ``{"EmailAddress": ...}`` tables.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

__all__ = ["Result", "StatusRecord"]

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

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, ready for JSON."""
        return dict(self._fields)


@dataclass(frozen=True)
class Result:
    """What an operation gives back: the resulting message and its status records.

    ``data`` is the resulting message as bytes (for a failed verification,
    the message as it came in); ``message`` is the same parsed as an
    ``email.message.EmailMessage``.  ``ok`` holds when every record is ``DONE``.
    """

    data: bytes
    statuses: tuple[StatusRecord, ...]

    @property
    def ok(self) -> bool:
        """Whether there is at least one record and every record is ``DONE``."""
        return bool(self.statuses) and all(record.status == DONE for record in self.statuses)

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
