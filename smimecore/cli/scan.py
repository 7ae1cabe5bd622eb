"""``smimecore scan PATH...``: verify and decrypt every message of mail archives.

Its names are a contract::

    scan PATH... [--report FILE ...] [--results DB [--resume]] [--jobs N] [--dask ADDRESS]
                 [--timeout SECONDS] [--quiet] [trust options of verify]

with the global options (``--keyring``, ``--ca-path``, ``--passphrase``...).
Exit status: 0 when no message failed, 1 when any did (a record not
``DONE``, a timeout, a crash), 2 for usage and configuration errors, 130
when interrupted (``--resume`` goes on).
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import Any

from smimecore.cli.main import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    _add_global_options,
    _add_trust_options,
    _config_from,
)
from smimecore.cli.summary import one_line
from smimecore.errors import ScanError
from smimecore.scan.pool import default_jobs
from smimecore.scan.run import ScanOptions, run_scan
from smimecore.scan.worker import DEFAULT_TIMEOUT

__all__ = ["EXIT_INTERRUPTED", "add_scan_command", "run_scan_command"]

EXIT_INTERRUPTED = 130


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not at least 1")
    return value


def add_scan_command(commands: Any) -> None:
    """Add ``scan`` to the subcommands of ``smimecore`` (``commands``: the subparsers action)."""
    scan = commands.add_parser(
        "scan", help="verify and decrypt every message of mbox files, Maildirs and .eml folders"
    )
    _add_global_options(scan, in_subcommand=True)
    _add_trust_options(scan)
    scan.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="mbox files (gzip too), Maildir folders, directories of .eml files; recursive",
    )
    scan.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FILE",
        dest="reports",
        help="write a report: .jsonl, .csv or .html by the extension (repeatable)",
    )
    scan.add_argument(
        "--results", metavar="DB", help="keep the results in this SQLite file (for --resume)"
    )
    scan.add_argument(
        "--resume", action="store_true", help="go on with the interrupted scan in --results DB"
    )
    scan.add_argument(
        "--jobs",
        type=_positive_int,
        default=default_jobs(),
        metavar="N",
        help="worker processes (default: the number of CPUs)",
    )
    scan.add_argument(
        "--dask", metavar="ADDRESS", help="run on the Dask cluster whose scheduler is ADDRESS"
    )
    scan.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit per message (default {DEFAULT_TIMEOUT:g})",
    )
    scan.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_scan_command(arguments: argparse.Namespace) -> int:
    """Run ``smimecore scan``; returns the exit status (``ConfigError`` is left to the caller)."""
    if arguments.resume and not arguments.results:
        print("smimecore: --resume needs --results DB", file=sys.stderr)
        return EXIT_USAGE
    options = ScanOptions(
        paths=tuple(arguments.paths),
        reports=tuple(arguments.reports),
        results=arguments.results,
        resume=arguments.resume,
        jobs=arguments.jobs,
        dask=arguments.dask,
        timeout=arguments.timeout,
        quiet=arguments.quiet,
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run_scan(_config_from(arguments), options)
    except ScanError as exc:
        print(f"smimecore: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        then = (
            f"smimecore scan --results {arguments.results} --resume goes on"
            if arguments.results
            else "without --results DB nothing was kept"
        )
        print(f"smimecore: scan interrupted; {then}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("\n".join(summary.lines()))
    return EXIT_FAILED if summary.counts["failed"] else EXIT_OK
