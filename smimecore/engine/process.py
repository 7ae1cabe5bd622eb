"""Whole incoming messages: RT's ``VerifyDecrypt`` with recursion (RT sections 4.5, 7).

Each pass finds every protected part, unwraps it (decrypts, verifies,
decompresses) and puts the result back in place under the part's outer
fields; the next pass looks again, so sign-then-encrypt, encrypt-then-sign
and deeper nestings unwrap layer by layer.  A failure stops the recursion,
as in RT; a depth limit stops a message that nests without end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from cryptography import x509

from smimecore.cms.compressed import decompress
from smimecore.cms.signed import parse_signed_data
from smimecore.engine import records
from smimecore.engine.status import DONE, Result, StatusRecord, status_header_lines
from smimecore.errors import (
    MalformedCMSError,
    MalformedMessageError,
    ResourceLimitError,
    SmimeError,
)
from smimecore.mime.entity import split_entity
from smimecore.mime.fields import with_field, without_field
from smimecore.mime.protected import decode_body, reinsert
from smimecore.mime.walk import MimeLimits, ProtectedPart, find_protected_parts, splice
from smimecore.pki.der import ReaderLimits

__all__ = ["Unwrapper", "with_status_header"]

_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_ENVELOPED_DATA = bytes.fromhex("06092a864886f70d010703")
_AUTH_ENVELOPED_DATA = bytes.fromhex("060b2a864886f70d0109100117")
_COMPRESSED_DATA = bytes.fromhex("060b2a864886f70d0109100109")

Operation = Callable[[bytes], Result]


@dataclass(frozen=True)
class _Outcome:
    replacement: bytes | None
    statuses: tuple[StatusRecord, ...]
    failed: bool
    certificates: tuple[x509.Certificate, ...] = ()


@dataclass
class Unwrapper:
    """Unwraps one message with the engine's ``verify`` and ``decrypt`` operations."""

    verify: Operation
    decrypt: Operation
    store_certificates: Callable[[Sequence[x509.Certificate]], None]
    max_depth: int
    decompressed_limit: int
    """Decompressed bytes allowed for the whole message (``max_decompressed_size``)."""
    output_limit: int
    """Bytes the result may grow to (``max_output_size``)."""
    mime_limits: MimeLimits
    reader_limits: ReaderLimits
    statuses: list[StatusRecord] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)
    _settled: set[bytes] = field(default_factory=set)

    accepts_partial_protection: bool = False

    def run(self, raw: bytes) -> Result:
        """Unwrap every layer of ``raw``; the result holds every record in order.

        Raises :class:`ResourceLimitError` (with the records so far and an
        ``ERROR`` one) as soon as the message would cost more than a limit.
        """
        try:
            return self._run(raw)
        except ResourceLimitError as exc:
            raise exc.with_statuses([*self.statuses, records.limit_exceeded(exc)]) from None

    def _run(self, raw: bytes) -> Result:
        for _ in range(self.max_depth):
            parts = [p for p in self._parts(raw) if self._digest(raw, p) not in self._settled]
            if not parts:
                return self._result(raw)
            raw, failed, changed = self._pass(raw, parts)
            if len(raw) > self.output_limit:
                raise ResourceLimitError(
                    f"the result would exceed {self.output_limit} bytes", option="max_output_size"
                )
            if failed or not changed:
                return self._result(raw)
        if self._parts(raw):
            self.statuses.append(records.nested_too_deeply(self.max_depth))
        return self._result(raw)

    def _parts(self, raw: bytes) -> list[ProtectedPart]:
        """:func:`find_protected_parts`; a message it cannot read fails with a record."""
        try:
            return find_protected_parts(raw, self.mime_limits)
        except MalformedMessageError as exc:
            raise exc.with_statuses([*self.statuses, records.unwrap_failed(str(exc))]) from None

    def _result(self, raw: bytes) -> Result:
        return Result(
            raw,
            tuple(self.statuses),
            certificates=tuple(self.certificates),
            accepts_partial_protection=self.accepts_partial_protection,
        )

    @staticmethod
    def _digest(raw: bytes, part: ProtectedPart) -> bytes:
        return sha256(raw[part.start : part.end]).digest()

    def _pass(self, raw: bytes, parts: list[ProtectedPart]) -> tuple[bytes, bool, bool]:
        outcomes = [(part, self._unwrap(raw[part.start : part.end], part)) for part in parts]
        failed = changed = False
        for part, outcome in reversed(outcomes):  # from the end, so earlier spans stay valid
            if outcome.replacement is not None:
                raw = splice(raw, part, outcome.replacement)
                changed = True
            else:
                self._settled.add(self._digest(raw, part))
            failed = failed or outcome.failed
        for _, outcome in outcomes:
            self.statuses.extend(outcome.statuses)
            self.certificates.extend(outcome.certificates)
        return raw, failed, changed

    def _unwrap(self, data: bytes, part: ProtectedPart) -> _Outcome:
        kind = part.kind
        try:
            if kind == "encrypted-or-signed":
                kind = _kind_from_cms(decode_body(split_entity(data), "the .p7m part"))
            if kind == "signed":
                return _from_result(self.verify, data, part.path)
            if kind == "encrypted":
                return _from_result(self.decrypt, data, part.path)
            if kind == "compressed":
                return self._decompress(data)
            if kind == "certificates":
                return self._certificates_only(data)
        except ResourceLimitError:
            raise
        except SmimeError as exc:
            return _Outcome(None, exc.statuses or (records.unwrap_failed(str(exc)),), True)
        return _Outcome(None, (records.unknown_smime_type(part.smime_type),), True)

    def _decompress(self, data: bytes) -> _Outcome:
        entity = split_entity(data)
        try:
            content = decompress(
                decode_body(entity, "the compressed part"),
                limit=self.decompressed_limit,
                limits=self.reader_limits,
            )
        except ResourceLimitError as exc:
            raise exc.for_option("max_decompressed_size") from None
        self.decompressed_limit -= len(content)  # one budget for every part of the message
        return _Outcome(reinsert(entity, content), (records.decompressed(len(content)),), False)

    def _certificates_only(self, data: bytes) -> _Outcome:
        signed = parse_signed_data(
            decode_body(split_entity(data), "the certificates part"), self.reader_limits
        )
        if not signed.certificates:
            raise MalformedCMSError("the certificates-only part holds no certificate")
        self.store_certificates(signed.certificates)
        record = records.certificates_only(len(signed.certificates))
        return _Outcome(None, (record,), False, signed.certificates)


def _from_result(operation: Operation, data: bytes, path: str) -> _Outcome:
    result = operation(data)
    statuses = tuple(records.with_coverage(record, path) for record in result.statuses)
    if all(record.status == DONE for record in result.statuses) and result.statuses:
        return _Outcome(result.data, statuses, False)
    return _Outcome(None, statuses, True)


def _kind_from_cms(der: bytes) -> str:
    """Which operation a ``.p7m`` without ``smime-type`` needs, from its ContentInfo's type."""
    head = der[:32]
    for oid, kind in (
        (_SIGNED_DATA, "signed"),
        (_ENVELOPED_DATA, "encrypted"),
        (_AUTH_ENVELOPED_DATA, "encrypted"),
        (_COMPRESSED_DATA, "compressed"),
    ):
        if oid in head:
            return kind
    raise MalformedCMSError("the .p7m part is not signed, encrypted or compressed CMS data")


def with_status_header(raw: bytes, name: str, statuses: Sequence[Mapping[str, Any]]) -> bytes:
    """``raw`` with every ``name`` field removed, then one added holding RT's status text.

    Removing first keeps a sender from forging the field (RT's
    CVE-2012-4735 and CVE-2023-41259 fixes): any letter case, white space
    before the colon, continuation lines, in the message's header and in
    every part's (see :mod:`smimecore.mime.fields`).  With no records only
    the removal happens.  The field is folded by
    :func:`~smimecore.engine.status.status_header_lines`, so no value can
    end it or start another.
    """
    cleaned = without_field(raw, name)
    if not statuses:
        return cleaned
    lines = status_header_lines(statuses, first_line_octets=len(name) + 2)
    return with_field(cleaned, name, lines)
