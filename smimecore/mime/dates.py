"""The ``Date:`` header field as a moment."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

__all__ = ["parse_date"]


def parse_date(value: str | None) -> datetime | None:
    """A ``Date:`` field's moment, aware (no zone, or ``-0000``: UTC); ``None`` when unreadable.

    Whoever writes the mail writes this field: any text, numbers too large
    for a date included, gives a moment or ``None``, never an exception.
    """
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
