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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from smimecore.config import Config
from smimecore.engine.smime import SMIME
from smimecore.errors import ScanError
from smimecore.scan.cluster import run_on_dask
from smimecore.scan.pool import LocalPool, default_jobs
from smimecore.scan.progress import make_progress
from smimecore.scan.report import check_report_path, write_report
from smimecore.scan.result import encode
from smimecore.scan.sources import find_messages
from smimecore.scan.store import ResultStore
from smimecore.scan.summary import Summary
from smimecore.scan.worker import DEFAULT_TIMEOUT, ScanSpec

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
    with _database(options.results) as store:
        paths = _prepare(store, options)
        spec = ScanSpec(config, options.timeout)
        total, done = store.total, store.done
        if not options.quiet:
            progress_stream.write(f"scan: {total:,} messages, {done:,} already scanned\n")
        progress = make_progress(progress_stream, total, done, quiet=options.quiet)
        summary = Summary.of(store.results()) if done else Summary()

        def keep(seq: int, result: dict[str, Any]) -> None:
            store.add(seq, encode(result))
            summary.add(result)
            progress.advance()

        try:
            if options.dask:
                run_on_dask(options.dask, spec, store.pending(), keep, total - done)
            else:
                LocalPool(spec, options.jobs).run(store.pending(), keep)
        finally:
            progress.close()
            store.flush()
        for report in options.reports:
            write_report(report, store.results, summary, paths)
        return summary


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
        store = ResultStore(Path(scratch) / "results.sqlite")
        try:
            yield store
        finally:
            store.close()


def _prepare(store: ResultStore, options: ScanOptions) -> list[str]:
    """Index the inputs (or check the index of the scan being resumed); returns the paths."""
    given = [os.path.abspath(path) for path in options.paths]
    stored = store.paths
    if stored is not None and options.resume:
        if given and given != stored:
            raise ScanError(
                f"{store.path} holds a scan of other paths ({', '.join(stored)}): "
                "resume it without PATH, or start a new one with another --results file"
            )
        if store.indexed:
            store.check_unchanged()
        else:
            store.index(stored, find_messages(stored))  # the first run stopped while indexing
        return stored
    if stored is not None:
        raise ScanError(
            f"{store.path} already holds a scan: add --resume to go on with it, "
            "or give another --results file"
        )
    if not given:
        raise ScanError("nothing to scan: give PATH..., or --results DB --resume")
    store.index(given, find_messages(given))
    return given
