"""A whole scan: index the inputs, scan what has no result yet, write the reports.

:func:`run_scan` is what ``smimecore scan`` calls; it can be called from
Python as well.  Results always go through a database (the ``results``
file, or a temporary one), so memory stays bounded whatever the size of
the archive, and the reports come out in index order however the work was
spread.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from smimecore.config import Config
from smimecore.engine.smime import SMIME
from smimecore.errors import ScanError
from smimecore.scan.cluster import run_on_dask
from smimecore.scan.pool import LocalPool, default_jobs
from smimecore.scan.progress import Progress, make_progress
from smimecore.scan.report import check_report_path, write_report
from smimecore.scan.sources import Location, find_messages
from smimecore.scan.store import Indexing, ResultStore
from smimecore.scan.summary import Summary
from smimecore.scan.worker import DEFAULT_TIMEOUT, Batch, ScanSpec

__all__ = ["ScanOptions", "run_scan"]


@dataclass(frozen=True)
class ScanOptions:
    """How to scan (the options of ``smimecore scan``).

    ``paths`` may be empty when resuming: the database knows them.
    """

    paths: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    results: str | None = None
    resume: bool = False
    jobs: int = field(default_factory=default_jobs)
    dask: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    quiet: bool = False


def run_scan(config: Config, options: ScanOptions, *, stream: TextIO | None = None) -> Summary:
    """Scan, write the reports, and return the summary of every result in the database.

    Progress goes to ``stream`` (default stderr).  Raises :class:`ScanError`
    when the scan cannot start, and ``ConfigError`` for a bad configuration;
    a message that fails is a result, never an exception.
    """
    progress_stream = stream if stream is not None else sys.stderr
    for report in options.reports:
        check_report_path(report)
    if options.timeout is not None and not options.timeout > 0:
        raise ScanError(f"--timeout must be a positive number of seconds, not {options.timeout}")
    SMIME(config)  # a bad keyring or CA path is reported once, before any worker starts
    spec = ScanSpec(config, options.timeout)
    with _database(options.results) as store, _local_pool(spec, options) as pool:
        paths, unindexed = _prepare(store, options)
        indexing = None if unindexed is None else store.start_index(paths, unindexed)
        watch = _Watch(store, progress_stream, options.quiet)  # after a new index wiped results
        if indexing is None:
            watch.indexed(store.total)
        else:
            indexing.on_done = watch.indexed
        try:
            if pool is None:
                while indexing is not None and indexing.step():
                    pass  # the whole index first: partitions are sized from the number
                run_on_dask(
                    str(options.dask), spec, store.pending(indexing), watch.keep, watch.left
                )
            else:
                watch.on_total = pool.expect
                background = _indexing_step(indexing) if indexing is not None else None
                pool.run(store.pending(indexing), watch.keep, watch.left or None, background)
        finally:
            watch.close()
            store.flush()
        for report in options.reports:
            write_report(report, store.results, watch.summary, paths)
        return watch.summary


INDEX_STEP = 200
"""Messages indexed at a time while workers scan (about a millisecond's work), so that a worker
whose next batch is due waits no longer than that."""


def _indexing_step(indexing: Indexing) -> Callable[[], bool]:
    return lambda: indexing.step(INDEX_STEP)


class _Watch:
    """What a scan keeps of each batch of results (the database, the summary) and shows of
    them: the progress, once the number of messages is known (a new scan's workers scan
    what is indexed while the rest is indexed)."""

    def __init__(self, store: ResultStore, stream: TextIO, quiet: bool) -> None:
        self.store = store
        self.stream = stream
        self.quiet = quiet
        self.before = store.done  # results of the runs before this one
        self.summary = Summary.of(store.results()) if self.before else Summary()
        self.left = 0  # messages without a result, once known
        self.on_total: Callable[[int], None] | None = None  # told the same, once known
        self._progress: Progress | None = None
        self._early = 0  # results of this run before the progress began

    def indexed(self, total: int) -> None:
        """Every message is indexed: there are ``total``."""
        if not self.quiet:
            self.stream.write(f"scan: {total:,} messages, {self.before:,} already scanned\n")
        done = self.before + self._early
        self._progress = make_progress(self.stream, total, done, quiet=self.quiet)
        self.left = total - self.before
        if self.on_total is not None:
            self.on_total(self.left)

    def keep(self, seqs: Sequence[int], batch: Batch) -> None:
        """Keep the results ``batch`` of messages ``seqs``."""
        self.store.add_many(zip(seqs, batch.texts, strict=True))
        self.summary.merge(batch.tallies)
        if self._progress is None:
            self._early += len(seqs)
        else:
            self._progress.advance(len(seqs))

    def close(self) -> None:
        """The scan is over, or stopped."""
        if self._progress is not None:
            self._progress.close()


@contextmanager
def _local_pool(spec: ScanSpec, options: ScanOptions) -> Iterator[LocalPool | None]:
    """The process pool (``None`` for Dask), started at once for a new scan: the workers
    load their engines while the inputs are indexed."""
    if options.dask:
        yield None
        return
    pool = LocalPool(spec, options.jobs)
    try:
        if not options.resume:
            pool.start()
        yield pool
    finally:
        pool.close()


@contextmanager
def _database(path: str | None) -> Iterator[ResultStore]:
    if path is not None:
        store = ResultStore(path)
        try:
            yield store
        finally:
            store.close()
        return
    with tempfile.TemporaryDirectory(prefix="smimecore-scan-") as scratch:
        store = ResultStore(Path(scratch) / "results.sqlite", durable=False)
        try:
            yield store
        finally:
            store.close()


def _prepare(
    store: ResultStore, options: ScanOptions
) -> tuple[list[str], Iterator[Location] | None]:
    """Check the inputs against the database: the paths, and their messages unless the
    database has their whole index (a scan being resumed)."""
    given = [os.path.abspath(path) for path in options.paths]
    stored = store.paths
    if stored is not None and options.resume:
        if given and given != stored:
            raise ScanError(
                f"{store.path} holds a scan of other paths ({', '.join(stored)}): "
                "resume it without PATH, or start a new one with another --results file"
            )
        if not store.indexed:
            return stored, find_messages(stored)  # the first run stopped while indexing
        store.check_unchanged()
        return stored, None
    if stored is not None:
        raise ScanError(
            f"{store.path} already holds a scan: add --resume to go on with it, "
            "or give another --results file"
        )
    if not given:
        raise ScanError("nothing to scan: give PATH..., or --results DB --resume")
    return given, find_messages(given)
