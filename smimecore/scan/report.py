"""Reports of a scan, chosen by the file's extension: JSON Lines, CSV or a self-contained HTML page.

Each is written from the results in index order, streaming (a report of a
million messages is never held in memory), and holds nothing that changes
between runs (no clock), so the same results always give the same bytes.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from smimecore.errors import ScanError
from smimecore.scan.html import write_html
from smimecore.scan.result import encode
from smimecore.scan.summary import Summary

__all__ = ["CSV_COLUMNS", "REPORT_FORMATS", "check_report_path", "write_report"]

Results = Callable[[], Iterator[Mapping[str, Any]]]

CSV_COLUMNS = (
    "source",
    "file",
    "index",
    "key",
    "message_id",
    "date",
    "from",
    "outcome",
    "ok",
    "signed",
    "verified",
    "trusted",
    "encrypted",
    "decrypted",
    "signer",
    "trust",
    "coverage",
    "part",
    "authenticated",
    "signing_time",
    "algorithms",
    "weak_algorithms",
    "reason",
    "errors",
    "statuses",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _jsonl(stream: TextIO, results: Results, summary: Summary, inputs: Sequence[str]) -> None:
    for result in results():
        stream.write(encode(result) + "\n")


def _csv(stream: TextIO, results: Results, summary: Summary, inputs: Sequence[str]) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for result in results():
        writer.writerow([_cell(value) for value in csv_row(result)])


def csv_row(result: Mapping[str, Any]) -> list[Any]:
    """The CSV columns of one result (lists joined with ``; ``, records as JSON)."""
    location = result.get("location") or {}
    values = {**result, **{name: location.get(name) for name in ("file", "index", "key")}}
    values["algorithms"] = "; ".join(result.get("algorithms") or ())
    values["weak_algorithms"] = "; ".join(result.get("weak_algorithms") or ())
    values["errors"] = " | ".join(result.get("errors") or ())
    values["statuses"] = json.dumps(result.get("statuses") or [], ensure_ascii=False)
    return [values.get(column) for column in CSV_COLUMNS]


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with ``'`` (the mail's
    header fields are written by the sender)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


REPORT_FORMATS: dict[str, Callable[[TextIO, Results, Summary, Sequence[str]], None]] = {
    ".jsonl": _jsonl,
    ".csv": _csv,
    ".html": write_html,
}


def check_report_path(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ScanError` unless ``path`` names a known format (checked before scanning)."""
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise ScanError(
            f"{path}: the report's extension must be one of {', '.join(REPORT_FORMATS)}"
        )


def write_report(
    path: str | os.PathLike[str],
    results: Results,
    summary: Summary,
    inputs: Iterable[str] = (),
) -> None:
    """Write the report of ``results`` (a function giving a fresh iterator) to ``path``."""
    check_report_path(path)
    writer = REPORT_FORMATS[Path(path).suffix.lower()]
    newline = "" if writer is _csv else None
    try:
        with open(path, "w", encoding="utf-8", newline=newline) as stream:
            writer(stream, results, summary, list(inputs))
    except OSError as exc:
        raise ScanError(f"cannot write {path}: {exc.strerror}") from None
