"""One message's scan result, read from its status records (never from the message text).

:func:`from_result` turns ``verify_decrypt``'s :class:`Result` into a
:class:`ScanResult`; :func:`from_error` does the same for an operation that
raised, and :func:`failure` for a message the scan could not get a result
for (unreadable, timed out, crashed).  Every classification (signed,
verified, trusted, encrypted, decrypted, the outcome, the reason of a
failure) is made here and only here.
"""

from __future__ import annotations

import dataclasses
import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from smimecore.engine.status import DONE, Result
from smimecore.errors import SmimeError, first_line
from smimecore.scan.sources import Location

__all__ = [
    "OUTCOMES",
    "ScanResult",
    "encode",
    "failure",
    "from_error",
    "from_result",
    "message_headers",
    "parse_date",
]

OUTCOMES = ("trusted", "verified", "decrypted", "unwrapped", "plain", "failed", "error")
"""Each message has one: ``trusted`` (every signature good and Trust FULL), ``verified`` (good,
trust not full), ``decrypted`` (decrypted, nothing signed), ``unwrapped`` (only decompressed or
certificates-only parts), ``plain`` (nothing protected), ``failed`` (a record that is not DONE, or
an operation that raised), ``error`` (no result: unreadable, timed out, crashed)."""

TIMEOUT, CRASH, UNREADABLE, INTERNAL = "timeout", "crash", "unreadable", "internal error"
"""Reasons of an ``error`` outcome."""

_HEADER_BYTES = 256 * 1024  # header fields beyond this are not looked at
_VALUE_LIMIT = 998  # RFC 5322's line limit: enough for any honest Message-ID, Date or From
_ALGORITHM_FIELDS = ("DigestAlgorithm", "SignatureAlgorithm", "Cipher", "KeyEncryption")
_COVERAGE_FIELDS = {
    "coverage": "Coverage",
    "part": "Part",
    "authenticated": "Authenticated",
    "signing_time": "SigningTime",
}
_KEY_OPERATIONS = ("Decrypt", "KeyCheck")  # verify_decrypt asks for a secret key only to decrypt


@dataclass(frozen=True)
class ScanResult:
    """What the scan found out about one message (JSON-ready through :meth:`to_dict`)."""

    source: str
    location: Location
    message_id: str | None = None
    date: str | None = None
    year: int | None = None
    sender: str | None = None
    outcome: str = "plain"
    ok: bool = False
    signed: bool = False
    verified: bool = False
    trusted: bool = False
    encrypted: bool = False
    decrypted: bool = False
    signer: str | None = None
    trust: str | None = None
    coverage: str | None = None
    part: str | None = None
    authenticated: str | None = None
    signing_time: str | None = None
    algorithms: tuple[str, ...] = ()
    weak_algorithms: tuple[str, ...] = ()
    reason: str | None = None
    errors: tuple[str, ...] = ()
    statuses: tuple[Mapping[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON types; ``from`` holds :attr:`sender`."""
        data = {
            ("from" if name == "sender" else name): value for name, value in asdict(self).items()
        }
        return {
            name: list(value) if isinstance(value, tuple) else value for name, value in data.items()
        }


def encode(result: Mapping[str, Any]) -> str:
    """The one JSON text of a result (the database, JSON Lines and every runner use it)."""
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


def from_result(location: Location, headers: Mapping[str, Any], result: Result) -> ScanResult:
    """The scan result of a message ``verify_decrypt`` gave ``result`` for."""
    records = [record.to_dict() for record in result.statuses]
    return _classified(location, headers, records, ok=result.ok, errors=())


def from_error(location: Location, headers: Mapping[str, Any], error: SmimeError) -> ScanResult:
    """The scan result of a message whose ``verify_decrypt`` raised ``error``."""
    records = [record.to_dict() for record in error.statuses]
    scanned = _classified(location, headers, records, ok=False, errors=(first_line(error),))
    reason = scanned.reason or type(error).__name__
    return dataclasses.replace(scanned, outcome="failed", reason=reason)


def failure(
    location: Location, reason: str, detail: str, headers: Mapping[str, Any] | None = None
) -> ScanResult:
    """A message with no result; ``reason`` is :data:`TIMEOUT`, :data:`CRASH`, etc."""
    return ScanResult(
        source=location.source,
        location=location,
        **(headers or {}),
        outcome="error",
        reason=reason,
        errors=(f"{reason}: {detail}",),
    )


def message_headers(data: bytes) -> dict[str, Any]:
    """``message_id``, ``date``, ``year`` and ``sender`` from the message's header fields.

    Values are decoded (RFC 2047), unfolded and cut at 998 characters; a
    field that cannot be decoded is given as it is.
    """
    head = data[:_HEADER_BYTES]
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    message_id, date, sender = (_field(parsed, name) for name in ("Message-ID", "Date", "From"))
    return {"message_id": message_id, "date": date, "year": _year(date), "sender": sender}


def _field(parsed: Any, name: str) -> str | None:
    raw = parsed.get(name)
    if raw is None:
        return None
    text = str(raw)
    try:
        text = str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        pass
    return " ".join(text.split())[:_VALUE_LIMIT]


def parse_date(date: str | None) -> datetime | None:
    """A Date field's moment, or ``None`` when it has none (or an implausible year)."""
    if not date:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if 1900 <= moment.year <= 2200 else None


def _year(date: str | None) -> int | None:
    moment = parse_date(date)
    return None if moment is None else moment.year


def _classified(
    location: Location,
    headers: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    ok: bool,
    errors: Sequence[str],
) -> ScanResult:
    verify = [record for record in records if record.get("Operation") == "Verify"]
    signed = bool(verify)
    verified = signed and all(record.get("Status") == DONE for record in verify)
    trusted = verified and all(record.get("Trust") == "FULL" for record in verify)
    decrypted = any(
        record.get("Operation") == "Decrypt" and record.get("Status") == DONE for record in records
    )
    failing = [record for record in records if record.get("Status") != DONE]
    coverage: dict[str, Any] = {
        name: _joined(record.get(key) for record in records)
        for name, key in _COVERAGE_FIELDS.items()
    }
    return ScanResult(
        source=location.source,
        location=location,
        **headers,
        outcome=_outcome(bool(records), ok, trusted, verified, decrypted),
        ok=ok,
        signed=signed,
        verified=verified,
        trusted=trusted,
        encrypted=any(record.get("Operation") in _KEY_OPERATIONS for record in records),
        decrypted=decrypted,
        signer=_joined(record.get("UserString") for record in verify),
        trust=_joined(record.get("Trust") for record in verify),
        **coverage,
        algorithms=_unique(record.get(key) for record in records for key in _ALGORITHM_FIELDS),
        weak_algorithms=_unique(
            name.strip()
            for record in records
            for name in str(record.get("WeakAlgorithms") or "").split(",")
        ),
        reason=_reason(failing[0]) if failing else None,
        errors=(*(_record_error(record) for record in failing), *errors),
        statuses=tuple(records),
    )


def _outcome(protected: bool, ok: bool, trusted: bool, verified: bool, decrypted: bool) -> str:
    if not protected:
        return "plain"
    if not ok:
        return "failed"
    if trusted:
        return "trusted"
    if verified:
        return "verified"
    return "decrypted" if decrypted else "unwrapped"


def _reason(record: Mapping[str, Any]) -> str:
    """A failure's label for grouping: operation, status, and the message up to its details."""
    head = str(record.get("Message", "")).split(":", 1)[0].strip()
    detail = record.get("TrustReason") or record.get("Reason")
    label = f"{record.get('Operation')} {record.get('Status')}: {head}"
    return f"{label} ({detail})" if detail else label


def _record_error(record: Mapping[str, Any]) -> str:
    return f"{record.get('Operation')} {record.get('Status')}: {record.get('Message')}"


def _unique(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(value) for value in values if value not in (None, "")))


def _joined(values: Iterable[Any]) -> str | None:
    return "; ".join(_unique(values)) or None
