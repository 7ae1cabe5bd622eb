"""One message's scan result, read from its status records (never from the message text).

:func:`from_records` turns what ``verify_decrypt`` gave (its records and
``ok``) into a :class:`ScanResult`; :func:`from_error` does the same for an operation that
raised, and :func:`failure` for a message the scan could not get a result
for (unreadable, timed out, crashed).  :func:`records_dict` and :func:`error_dict` give the
first two as :meth:`ScanResult.to_dict` would, made directly (what a worker sends and the
database keeps, for every message).  Every classification (signed,
verified, trusted, encrypted, decrypted, the outcome, the reason of a
failure) is made here and only here.
"""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

try:
    import orjson as _orjson
except ImportError:  # an installation without it (README, "Dependencies"): the same text
    _orjson = None  # type: ignore[assignment]

from smimecore.engine.status import DONE, StatusRecord
from smimecore.errors import MalformedMessageError
from smimecore.mime.dates import parse_date as mime_date
from smimecore.mime.entity import split_entity
from smimecore.scan.sources import Location
from smimecore.scan.summary import Tally, tally

__all__ = [
    "HEADER_BYTES",
    "OUTCOMES",
    "ScanResult",
    "encode",
    "encode_bytes",
    "error_dict",
    "failure",
    "from_error",
    "from_records",
    "header_section",
    "message_headers",
    "parse_date",
    "records_dict",
]

OUTCOMES = ("trusted", "verified", "decrypted", "unwrapped", "plain", "failed", "error")
"""Each message has one: ``trusted`` (every signature good and Trust FULL), ``verified`` (good,
trust not full), ``decrypted`` (decrypted, nothing signed), ``unwrapped`` (only decompressed or
certificates-only parts), ``plain`` (nothing protected), ``failed`` (a record that is not DONE, or
an operation that raised), ``error`` (no result: unreadable, timed out, crashed)."""

TIMEOUT, CRASH, UNREADABLE, INTERNAL = "timeout", "crash", "unreadable", "internal error"
"""Reasons of an ``error`` outcome."""

HEADER_BYTES = 256 * 1024
"""How much of a message :func:`message_headers` looks at (header fields beyond are not)."""
_VALUE_LIMIT = 998  # RFC 5322's line limit: enough for any honest Message-ID, Date or From
_ALGORITHM_FIELDS = ("DigestAlgorithm", "SignatureAlgorithm", "Cipher", "KeyEncryption")
_COVERAGE_FIELDS = {
    "coverage": "Coverage",
    "part": "Part",
    "authenticated": "Authenticated",
    "signing_time": "SigningTime",
}
_HEADER_FIELDS = ("Message-ID", "Date", "From")
_KEY_OPERATIONS = ("Decrypt", "KeyCheck")  # verify_decrypt asks for a secret key only to decrypt
_FROM_VERIFY = (("signer", "UserString"), ("trust", "Trust"))  # read from Verify records only
_FROM_ANY = (*(("algorithms", key) for key in _ALGORITHM_FIELDS), *_COVERAGE_FIELDS.items())
_JOINED = ("signer", "trust", *_COVERAGE_FIELDS)  # the fields whose values are joined, in order


@dataclass(slots=True)
class ScanResult:
    """What the scan found out about one message (JSON-ready through :meth:`to_dict`).

    Read-only by convention (not frozen: it is made for every message of an archive).
    """

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
        # Spelt out, in the fields' order (this runs for every message of an archive).
        return {
            "source": self.source,
            "location": self.location.to_dict(),
            "message_id": self.message_id,
            "date": self.date,
            "year": self.year,
            "from": self.sender,
            "outcome": self.outcome,
            "ok": self.ok,
            "signed": self.signed,
            "verified": self.verified,
            "trusted": self.trusted,
            "encrypted": self.encrypted,
            "decrypted": self.decrypted,
            "signer": self.signer,
            "trust": self.trust,
            "coverage": self.coverage,
            "part": self.part,
            "authenticated": self.authenticated,
            "signing_time": self.signing_time,
            "algorithms": list(self.algorithms),
            "weak_algorithms": list(self.weak_algorithms),
            "reason": self.reason,
            "errors": list(self.errors),
            "statuses": [_plain(record) for record in self.statuses],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], location: Location | None = None) -> ScanResult:
        """The result whose :meth:`to_dict` is ``data`` (``location``: its location, if at hand)."""
        return cls(
            source=data["source"],
            location=Location.from_dict(data["location"]) if location is None else location,
            message_id=data["message_id"],
            date=data["date"],
            year=data["year"],
            sender=data["from"],
            outcome=data["outcome"],
            ok=data["ok"],
            signed=data["signed"],
            verified=data["verified"],
            trusted=data["trusted"],
            encrypted=data["encrypted"],
            decrypted=data["decrypted"],
            signer=data["signer"],
            trust=data["trust"],
            coverage=data["coverage"],
            part=data["part"],
            authenticated=data["authenticated"],
            signing_time=data["signing_time"],
            algorithms=tuple(data["algorithms"]),
            weak_algorithms=tuple(data["weak_algorithms"]),
            reason=data["reason"],
            errors=tuple(data["errors"]),
            statuses=tuple(data["statuses"]),
        )

    def to_json(self) -> str:
        """:func:`encode` of :meth:`to_dict`."""
        return encode(self.to_dict())

    def to_json_bytes(self) -> bytes:
        """:func:`encode_bytes` of :meth:`to_dict` (what a worker sends for each message, and
        the database keeps)."""
        return encode_bytes(self.to_dict())

    def tally(self) -> Tally:
        """What the summary counts of this result (:func:`~smimecore.scan.summary.tally`)."""
        return tally(self.to_dict())


def encode(result: Mapping[str, Any]) -> str:
    """The one JSON text of a result (the reports and every runner use it; the database holds
    the same in UTF-8, :func:`encode_bytes`).

    orjson writes it when installed: the same text as the standard library's encoder (compact,
    UTF-8 as itself) about ten times sooner, which is a few percent of a scan of small
    messages.  What orjson refuses (a lone surrogate, an integer past 64 bits) the standard
    library writes, as it does where orjson is not installed.  Only a float, which smimecore
    never puts in a result, may be spelt otherwise (``1e16`` for ``1e+16``).
    """
    text = _orjson_text(result)
    return _ENCODER.encode(result) if text is None else text.decode()


def encode_bytes(result: Mapping[str, Any]) -> bytes:
    """:func:`encode`'s text in UTF-8 (a lone surrogate kept, as ``json.loads`` reads it
    back), without making the ``str`` first: orjson writes UTF-8, and decoding it is as long
    again."""
    text = _orjson_text(result)
    return _ENCODER.encode(result).encode("utf-8", "surrogatepass") if text is None else text


def _orjson_text(result: Mapping[str, Any]) -> bytes | None:
    if _orjson is None:
        return None
    try:
        return _orjson.dumps(result)
    except TypeError:  # orjson.JSONEncodeError: what the standard library writes instead
        return None


# Made once: ``json.dumps`` with options builds an encoder per call.  A result holds no cycles.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a plain dict (a StatusRecord's own copy: ``dict()`` would read it key by key)."""
    return record.to_dict() if isinstance(record, StatusRecord) else dict(record)


def from_records(
    location: Location, headers: Mapping[str, Any], records: Sequence[Mapping[str, Any]], ok: bool
) -> ScanResult:
    """The scan result of a message ``verify_decrypt`` gave a result for: its status records
    (as dicts) and its ``ok``."""
    return ScanResult.from_dict(records_dict(location, headers, records, ok), location)


def records_dict(
    location: Location, headers: Mapping[str, Any], records: Sequence[Mapping[str, Any]], ok: bool
) -> dict[str, Any]:
    """:meth:`~ScanResult.to_dict` of :func:`from_records`, made without the result."""
    return _classified(location, headers, records, ok=ok, errors=())


def from_error(
    location: Location,
    headers: Mapping[str, Any],
    kind: str,
    message: str,
    records: Sequence[Mapping[str, Any]],
) -> ScanResult:
    """The scan result of a message whose ``verify_decrypt`` raised an error: its class name
    ``kind``, its first line ``message`` and the status records it carried (as dicts)."""
    return ScanResult.from_dict(error_dict(location, headers, kind, message, records), location)


def error_dict(
    location: Location,
    headers: Mapping[str, Any],
    kind: str,
    message: str,
    records: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """:meth:`~ScanResult.to_dict` of :func:`from_error`, made without the result."""
    scanned = _classified(location, headers, records, ok=False, errors=(message,))
    scanned["outcome"] = "failed"
    scanned["reason"] = scanned["reason"] or f"{kind}: {_head(message)}"
    return scanned


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


def header_section(data: bytes) -> bytes:
    """What :func:`message_headers` reads of a message: its header section (in the first
    :data:`HEADER_BYTES`) and the empty line that ends it; empty when it has none."""
    try:
        return split_entity(data[:HEADER_BYTES]).header_block + b"\n"
    except MalformedMessageError:
        return b""


def message_headers(data: bytes) -> dict[str, Any]:
    """``message_id``, ``date``, ``year`` and ``sender`` from the message's header fields
    (``data`` is the message, or its :func:`header_section`).

    Values are decoded (RFC 2047), unfolded and cut at 998 characters; a
    field that cannot be decoded is given as it is.
    """
    try:
        entity = split_entity(data[:HEADER_BYTES])
    except MalformedMessageError:
        return {"message_id": None, "date": None, "year": None, "sender": None}
    message_id, date, sender = map(_decoded, map(entity.field, _HEADER_FIELDS))
    return {"message_id": message_id, "date": date, "year": _year(date), "sender": sender}


def _decoded(text: str | None) -> str | None:
    if text is None:
        return None
    if "=?" in text:
        try:
            text = str(email.header.make_header(email.header.decode_header(text)))
        except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
            pass
    return " ".join(text.split())[:_VALUE_LIMIT]


def parse_date(date: str | None) -> datetime | None:
    """A Date field's moment, or ``None`` when it has none (or an implausible year)."""
    moment = mime_date(date)
    return moment if moment is not None and 1900 <= moment.year <= 2200 else None


def _year(date: str | None) -> int | None:
    parsed = email.utils.parsedate_tz(date) if date else None  # what parse_date reads, sooner
    return parsed[0] if parsed and 1900 <= parsed[0] <= 2200 else None


def _classified(
    location: Location,
    headers: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    ok: bool,
    errors: Sequence[str],
) -> dict[str, Any]:
    """The result's dict (:meth:`ScanResult.to_dict`), in one pass over the records (this runs
    for every message of an archive)."""
    found: dict[str, list[str]] = {}  # each result field's values, in order, each once
    signed = encrypted = decrypted = False
    verified = trusted = True
    failing: list[Mapping[str, Any]] = []
    for record in records:
        get = record.get
        operation, status = get("Operation"), get("Status")
        if status != DONE:
            failing.append(record)
        if operation == "Verify":
            signed = True
            verified = verified and status == DONE
            trusted = trusted and get("Trust") == "FULL"
            _collect(found, get, _FROM_VERIFY)
        elif operation in _KEY_OPERATIONS:
            encrypted = True
            decrypted = decrypted or (operation == "Decrypt" and status == DONE)
        _collect(found, get, _FROM_ANY)
        listed = get("WeakAlgorithms")
        if listed:
            weak = found.setdefault("weak_algorithms", [])
            for algorithm in (part.strip() for part in str(listed).split(",")):
                if algorithm and algorithm not in weak:
                    weak.append(algorithm)
    verified, trusted = signed and verified, signed and verified and trusted
    scanned: dict[str, Any] = {  # in ScanResult's order
        "source": location.source,
        "location": location.to_dict(),
        "message_id": headers.get("message_id"),
        "date": headers.get("date"),
        "year": headers.get("year"),
        "from": headers.get("sender"),
        "outcome": _outcome(bool(records), ok, trusted, verified, decrypted),
        "ok": ok,
        "signed": signed,
        "verified": verified,
        "trusted": trusted,
        "encrypted": encrypted,
        "decrypted": decrypted,
    }
    for name in _JOINED:  # the values of these fields, as one text
        values = found.get(name)
        scanned[name] = "; ".join(values) if values else None
    scanned["algorithms"] = found.get("algorithms", [])
    scanned["weak_algorithms"] = found.get("weak_algorithms", [])
    scanned["reason"] = _reason(failing[0]) if failing else None
    listed = [_record_error(record) for record in failing]
    scanned["errors"] = _errors(listed, errors) if errors else listed
    scanned["statuses"] = [_plain(record) for record in records]
    return scanned


def _collect(
    found: dict[str, list[str]], get: Callable[[str], Any], fields: Sequence[tuple[str, str]]
) -> None:
    """Add to ``found`` each of a record's ``fields`` (result field, record key) it has."""
    for name, key in fields:
        value = get(key)
        if value is not None and value != "":
            text = str(value)
            values = found.get(name)
            if values is None:
                found[name] = [text]
            elif text not in values:
                values.append(text)


def _errors(listed: list[str], more: Sequence[str]) -> list[str]:
    """The records' errors, then each of ``more`` that none of them already says (an operation
    that raised usually wrote its message into a record too)."""
    return listed + [text for text in more if not any(text in error for error in listed)]


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
    head = _head(str(record.get("Message", "")))
    detail = record.get("TrustReason") or record.get("Reason")
    label = f"{record.get('Operation')} {record.get('Status')}: {head}"
    return f"{label} ({detail})" if detail else label


def _head(message: str) -> str:
    """A message up to its details (what follows the first colon differs from mail to mail)."""
    return message.split(":", 1)[0].strip()


def _record_error(record: Mapping[str, Any]) -> str:
    return f"{record.get('Operation')} {record.get('Status')}: {record.get('Message')}"
