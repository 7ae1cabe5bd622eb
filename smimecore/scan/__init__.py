"""Scanning mail archives: every message of mbox files, Maildirs and ``.eml`` directories.

:func:`run_scan` does a whole scan (what ``smimecore scan`` runs).  The
per-message function, the same on every runner, is :func:`scan_location`
(:func:`scan_partition` for a batch), given a :class:`Location` from
:func:`find_messages` and a :class:`ScanSpec`; see docs/scan.md for using
it from Spark or Ray.
"""

from smimecore.scan.result import OUTCOMES, ScanResult
from smimecore.scan.run import ScanOptions, run_scan
from smimecore.scan.sources import Location, MessageReader, find_messages
from smimecore.scan.summary import Summary
from smimecore.scan.worker import ScanSpec, scan_location, scan_partition

__all__ = [
    "OUTCOMES",
    "Location",
    "MessageReader",
    "ScanOptions",
    "ScanResult",
    "ScanSpec",
    "Summary",
    "find_messages",
    "run_scan",
    "scan_location",
    "scan_partition",
]
