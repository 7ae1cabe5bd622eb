"""The per-message function, the same on every runner: :func:`scan_location`.

The local process pool, a Dask cluster, or a Spark or Ray job all call it
(or :func:`scan_partition` for a batch) with a :class:`Location` and a
:class:`ScanSpec`: it reads the message from shared storage, runs
``verify_decrypt`` under the time limit and gives a :class:`ScanResult`.
Each process builds its engine once per spec (keys and trust loaded once,
not per message).  Any failure of one message becomes that message's
result.

Each message is judged on its own: the scan engine reads the configured
certificate store but never writes to it, so no result depends on which
messages came before it on the same worker.
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cryptography import x509

from smimecore.config import Config
from smimecore.engine.smime import SMIME
from smimecore.engine.status import StatusRecord
from smimecore.errors import SmimeError, first_line
from smimecore.keyring.store import (
    CertificateStore,
    DirectoryCertificateStore,
    StoredCertificate,
)
from smimecore.scan.deadline import MessageTimeout, TimeLimit
from smimecore.scan.result import (
    INTERNAL,
    TIMEOUT,
    UNREADABLE,
    ScanResult,
    encode_bytes,
    error_dict,
    failure,
    header_section,
    message_headers,
    records_dict,
)
from smimecore.scan.sources import Location, MessageReader
from smimecore.scan.summary import Tally, tally

__all__ = [
    "Batch",
    "ScanSpec",
    "Verified",
    "finish",
    "finish_dict",
    "finish_dicts",
    "prepare",
    "scan_batch",
    "scan_dicts",
    "scan_location",
    "scan_locations",
    "scan_partition",
    "verify_locations",
]

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class ScanSpec:
    """What every worker needs: the configuration and the per-message time limit.

    ``token`` names the engine a process builds for this spec; two specs
    with the same token share it.  The spec is pickled to each worker, so
    the configuration's passphrase must be a string or a table (not a
    function) for process and cluster runners.
    """

    config: Config
    timeout: float | None = DEFAULT_TIMEOUT
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


class _ReadOnlyStore:
    """The configured certificate store, read but never written (see the module docstring)."""

    def __init__(self, inner: CertificateStore | None) -> None:
        self._inner = inner

    def get(self, address: str) -> Sequence[StoredCertificate]:
        return self._inner.get(address) if self._inner is not None else ()

    def put(self, address: str, certificate: x509.Certificate, trusted: bool) -> bool:
        return False


_ENGINES: dict[str, SMIME] = {}
_ENGINES_LOCK = threading.Lock()
_ENGINES_KEPT = 4


def engine_for(spec: ScanSpec) -> SMIME:
    """This process's engine for ``spec``, built on first use."""
    engine = _ENGINES.get(spec.token)  # the usual case, without the lock
    if engine is not None:
        return engine
    with _ENGINES_LOCK:
        engine = _ENGINES.get(spec.token)
        if engine is None:
            store = spec.config.certificate_store
            engine = SMIME(
                spec.config,
                certificate_store=_ReadOnlyStore(
                    DirectoryCertificateStore(store) if store is not None else None
                ),
            )
            while len(_ENGINES) >= _ENGINES_KEPT:
                del _ENGINES[next(iter(_ENGINES))]
            _ENGINES[spec.token] = engine
        return engine


def prepare(spec: ScanSpec) -> None:
    """Build this process's engine for ``spec`` now, before its first message.

    A failure is left for :func:`scan_location` to report, message by message.
    """
    try:
        engine_for(spec)
    except Exception:  # noqa: S110 - reported by scan_location, with the message
        pass


def _forget_engine(spec: ScanSpec) -> None:
    """Drop the engine a timeout interrupted (its caches may be half updated)."""
    with _ENGINES_LOCK:
        _ENGINES.pop(spec.token, None)


def scan_location(
    location: Location, spec: ScanSpec, reader: MessageReader | None = None
) -> ScanResult:
    """Read the message at ``location`` and scan it; never raises for a message's sake.

    ``reader`` keeps mbox files open between calls (give each thread its
    own); without one the file is opened for this message only.
    """
    return scan_locations([location], spec, reader)[0]


def scan_locations(
    locations: Sequence[Location],
    spec: ScanSpec,
    reader: MessageReader | None = None,
    mark: Callable[[int, float], None] | None = None,
) -> list[ScanResult]:
    """:func:`scan_location` of each location, in two rounds: ``verify_decrypt`` of every
    message (:func:`verify_locations`), then the header fields and the classification of
    every message (:func:`finish`).

    The results are those of one message at a time, but each round's code stays in the
    processor's caches (scanning a message at a time, the classification ran with its code
    pushed out by the cryptography's, and so slower).  ``mark(index, since)`` is told, in
    each round, which message is being worked on and since when it has been.
    """
    return [
        ScanResult.from_dict(data, location)
        for data, location in zip(scan_dicts(locations, spec, reader, mark), locations, strict=True)
    ]


def scan_dicts(
    locations: Sequence[Location],
    spec: ScanSpec,
    reader: MessageReader | None = None,
    mark: Callable[[int, float], None] | None = None,
) -> list[dict[str, Any]]:
    """:func:`scan_locations`, each result as its :meth:`~ScanResult.to_dict` (made directly:
    what every runner sends on)."""
    return list(_scanned_each(locations, spec, reader, mark))


def _scanned_each(
    locations: Sequence[Location],
    spec: ScanSpec,
    reader: MessageReader | None,
    mark: Callable[[int, float], None] | None,
) -> Iterator[dict[str, Any]]:
    """Both rounds of :func:`scan_dicts`, each result given as soon as its second round is
    done, and each first round let go of then: in a batch, what the first rounds hold is most
    of what the garbage collector walks until the batch is done."""
    verified = verify_locations(locations, spec, reader, mark, headers=True)
    limit = TimeLimit(spec.timeout)
    verified.reverse()
    index = 0
    while verified:
        found = verified.pop()
        if mark is not None:
            mark(index, found.since)
        yield _finished(found, spec, limit)
        index += 1


def verify_locations(
    locations: Sequence[Location],
    spec: ScanSpec,
    reader: MessageReader | None = None,
    mark: Callable[[int, float], None] | None = None,
    *,
    headers: bool = False,
) -> list[Verified]:
    """The first round of :func:`scan_locations`: read each message and ``verify_decrypt`` it.

    What it gives can be pickled, so :func:`finish` may run in another process (the local
    pool's parent, when it has a core to spare).  With ``headers`` it reads the header fields
    instead of keeping the header section, from the split ``verify_decrypt`` then makes use of
    (for a :func:`finish` in this process; another is sent the header section, which is smaller).
    """
    own_reader = reader is None
    active = reader if reader is not None else MessageReader()
    limit = TimeLimit(spec.timeout)
    try:
        verified = []
        for index, location in enumerate(locations):
            since = time.monotonic()
            if mark is not None:
                mark(index, since)
            verified.append(_verify(location, spec, active, since, headers, limit))
        return verified
    finally:
        if own_reader:
            active.close()


class Verified(NamedTuple):
    """What the first round found out about a message, for the second (:func:`finish`).

    Picklable, and quickly (a tuple: one travels to the parent for every message when the
    parent finishes them): a ``verify_decrypt`` that raised is kept as its records and the
    error's kind and first line, not as the exception.
    """

    location: Location
    since: float  # when the message's first round began: its time limit runs from there
    header: bytes | None = None  # its header section (None: not read; b"": its headers were read)
    records: list[dict[str, Any]] | None = None
    ok: bool = False
    error: tuple[str, str] | None = None  # the error's kind and first line
    failed: tuple[str, str] | None = None  # reason and detail: no result
    headers: dict[str, Any] | None = None  # message_headers of the header, when read already


def _verify(
    location: Location,
    spec: ScanSpec,
    reader: MessageReader,
    since: float,
    headers: bool,
    limit: TimeLimit,
) -> Verified:
    header = fields = None
    try:
        limit.start(since)
        try:
            try:
                data = reader.read(location)
            except (OSError, EOFError, ValueError, zlib.error) as exc:
                return Verified(location, since, failed=(UNREADABLE, _reading_error(exc)))
            # Either splits the message, and verify_decrypt starts from that split.
            if headers:
                fields = message_headers(data)
                header = b""  # read: the second round needs its fields, not its header
            else:
                header = header_section(data)
            engine = engine_for(spec)
            error: tuple[str, str] | None = None
            try:
                result = engine.verify_decrypt(data)
            except SmimeError as exc:
                records = list(map(StatusRecord.to_dict, exc.statuses))
                ok, error = False, _error_of(exc)
            else:
                records = list(map(StatusRecord.to_dict, result.statuses))
                ok = result.ok
            return Verified(location, since, header, records, ok, error, None, fields)
        finally:
            limit.stop()
    except MessageTimeout:
        _forget_engine(spec)
        reader.close()
        timeout = (TIMEOUT, _timeout_detail(spec))
        return Verified(location, since, header, failed=timeout, headers=fields)
    except Exception as exc:  # one message's bug must not end the scan
        bug = (INTERNAL, _bug_detail(exc))
        return Verified(location, since, header, failed=bug, headers=fields)


def _error_of(exc: SmimeError) -> tuple[str, str]:
    return type(exc).__name__, first_line(exc)


def finish(found: Verified, spec: ScanSpec) -> ScanResult:
    """The second round of :func:`scan_locations`: the result of a message the first found."""
    return ScanResult.from_dict(finish_dict(found, spec), found.location)


def finish_dict(found: Verified, spec: ScanSpec) -> dict[str, Any]:
    """:func:`finish`'s result as its :meth:`~ScanResult.to_dict`, made directly."""
    return _finished(found, spec, TimeLimit(spec.timeout))


def finish_dicts(verified: Iterable[Verified], spec: ScanSpec) -> Iterator[dict[str, Any]]:
    """:func:`finish_dict` of each of ``verified``, one after another."""
    limit = TimeLimit(spec.timeout)
    return (_finished(found, spec, limit) for found in verified)


def _finished(found: Verified, spec: ScanSpec, limit: TimeLimit) -> dict[str, Any]:
    location = found.location
    if found.header is None:  # not read: no header fields
        reason, detail = found.failed or (INTERNAL, "no result")
        return failure(location, reason, detail).to_dict()
    headers: dict[str, Any] = {}
    try:
        limit.start(found.since)  # what is left of the message's time
        try:
            headers = message_headers(found.header) if found.headers is None else found.headers
            if found.failed is not None:
                return failure(location, *found.failed, headers).to_dict()
            if found.error is not None:
                return error_dict(location, headers, *found.error, found.records or [])
            return records_dict(location, headers, found.records or [], found.ok)
        finally:
            limit.stop()
    except MessageTimeout:
        return failure(location, TIMEOUT, _timeout_detail(spec), headers).to_dict()
    except Exception as exc:  # one message's bug must not end the scan
        return failure(location, INTERNAL, _bug_detail(exc), headers).to_dict()


def _timeout_detail(spec: ScanSpec) -> str:
    return f"no result within {spec.timeout:g} s"


def _bug_detail(exc: Exception) -> str:
    return f"{type(exc).__name__}: {first_line(exc)}"


def _reading_error(exc: Exception) -> str:
    return f"cannot read it: {getattr(exc, 'strerror', None) or first_line(exc)}"


@dataclass
class Batch:
    """Results of some messages, as they travel from a worker to whoever keeps them.

    Each result is already its JSON text in UTF-8 (:func:`~smimecore.scan.result.encode_bytes`,
    what the database holds) and the summary's :func:`tally` of them all,
    so the one process that keeps the results of every worker decodes and counts nothing.
    """

    texts: list[bytes] = field(default_factory=list)
    tallies: Counter[Tally] = field(default_factory=Counter)

    @classmethod
    def of(cls, results: Iterable[ScanResult]) -> Batch:
        """The batch of ``results``."""
        return cls.of_dicts(result.to_dict() for result in results)

    @classmethod
    def of_dicts(cls, results: Iterable[dict[str, Any]]) -> Batch:
        """The batch of ``results``, each a :meth:`~ScanResult.to_dict`."""
        batch = cls()
        for result in results:
            batch.add_dict(result)
        return batch

    def add(self, result: ScanResult) -> None:
        """Add one result, after those added before."""
        self.add_dict(result.to_dict())

    def add_dict(self, result: dict[str, Any]) -> None:
        """Add one result's :meth:`~ScanResult.to_dict`, after those added before."""
        self.texts.append(encode_bytes(result))
        self.tallies[tally(result)] += 1


def scan_batch(
    locations: Iterable[Location],
    spec: ScanSpec,
    reader: MessageReader | None = None,
    mark: Callable[[int, float], None] | None = None,
) -> Batch:
    """:func:`scan_dicts` over a batch, with one reader: the results as a :class:`Batch`.

    Each result is made into its text as soon as it is made, so the batch holds texts only.
    """
    return Batch.of_dicts(_scanned_each(list(locations), spec, reader, mark))


def scan_partition(locations: Iterable[Location], spec: ScanSpec) -> list[dict[str, Any]]:
    """:func:`scan_location` over a batch, with one reader: the results as JSON-ready dicts.

    This is what a map-over-partitions runner calls (Dask ``client.map``,
    Spark ``mapPartitions``, Ray ``map_batches``).
    """
    reader = MessageReader()
    try:
        return scan_dicts(list(locations), spec, reader)
    finally:
        reader.close()
