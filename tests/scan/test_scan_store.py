"""The scan's database: an index made a page at a time while the messages indexed already are
scanned, and a scan killed while indexing that starts again from nothing."""

from __future__ import annotations

import json
import sqlite3
from io import StringIO
from pathlib import Path

import pytest

from smimecore import Config
from smimecore.scan import store as store_module
from smimecore.scan.run import ScanOptions, run_scan
from smimecore.scan.sources import Location
from smimecore.scan.store import ResultStore
from tests.scan_corpus import plain


def _locations(count: int) -> list[Location]:
    return [
        Location("mbox", "/archive/box", index, None, 100 * index, 90) for index in range(count)
    ]


def test_pending_follows_the_index_as_it_is_made(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "scan.db")
    try:
        locations = _locations(2345)
        indexing = store.start_index(["/archive/box"], iter(locations))
        totals: list[int] = []
        indexing.on_done = totals.append
        assert indexing.step(300) and not store.indexed and store.total == 300
        pending = store.pending(indexing)
        first = [next(pending) for _ in range(500)]  # more than indexed: it indexes on
        store.add_many((seq, "{}") for seq, _ in first[:10])
        store.flush()
        rest = list(pending)
        assert [seq for seq, _ in first + rest] == list(range(1, 2346))
        assert [location for _, location in first + rest] == locations
        assert totals == [2345] and indexing.done and store.indexed and store.total == 2345
        assert not indexing.step() and totals == [2345]  # done once
        assert len(list(store.pending())) == 2335  # the ten with a result are not pending
    finally:
        store.close()


@pytest.mark.parametrize("durable", [True, False])
def test_pending_past_what_the_indexing_keeps_reads_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    """An index made far ahead of the scan keeps at most a few messages for it; the rest come
    from the database, the same messages in the same order.  A scratch database is given only
    the rest, a durable one every message (a resumed scan reads them all)."""
    monkeypatch.setattr(store_module, "_FRESH_LIMIT", 7)
    store = ResultStore(tmp_path / "scan.db", durable=durable)
    try:
        locations = _locations(40)
        indexing = store.start_index(["/archive/box"], iter(locations))
        assert indexing.step(25) and len(indexing.fresh) == 7  # far ahead: only 7 kept
        pending = store.pending(indexing)
        first = [next(pending) for _ in range(9)]  # the 7 kept, then the database
        assert not indexing.fresh
        assert indexing.step(25) and not indexing.fresh  # what follows is not kept either
        rest = list(pending)
        assert [seq for seq, _ in first + rest] == list(range(1, 41))
        assert [location for _, location in first + rest] == locations
        assert store.total == 40
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "scan.db") as connection:
        stored = [seq for (seq,) in connection.execute("SELECT seq FROM messages ORDER BY seq")]
    assert stored == list(range(1 if durable else 8, 41))


def test_empty_index_is_complete_at_once(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "scan.db", durable=False)
    try:
        indexing = store.start_index([str(tmp_path)], iter(()))
        assert list(store.pending(indexing)) == [] and indexing.done and store.indexed
    finally:
        store.close()


def test_scan_killed_while_indexing_starts_again(tmp_path: Path) -> None:
    """Results made while the index was incomplete are dropped: the resumed scan's reports are
    a whole scan's, and it counts nothing as already scanned."""
    folder = tmp_path / "mail"
    folder.mkdir()
    for number in range(30):
        (folder / f"{number:02}.eml").write_bytes(plain(number, 2020 + number % 3))
    db, first, again = tmp_path / "scan.db", tmp_path / "first.jsonl", tmp_path / "again.jsonl"
    options = ScanOptions(paths=(str(folder),), results=str(db), reports=(str(first),), jobs=1)
    run_scan(Config(), options, stream=StringIO())
    with sqlite3.connect(db) as connection:  # as if killed before the index was complete
        connection.execute("UPDATE meta SET value = '0' WHERE name = 'indexed'")
        connection.execute("DELETE FROM messages WHERE seq > 20")
    progress = StringIO()
    resumed = ScanOptions(results=str(db), resume=True, reports=(str(again),), jobs=2)
    summary = run_scan(Config(), resumed, stream=progress)
    assert progress.getvalue().startswith("scan: 30 messages, 0 already scanned\n")
    assert summary.counts["messages"] == 30 and summary.outcomes == {"plain": 30}
    assert again.read_bytes() == first.read_bytes()


@pytest.mark.parametrize("results", [False, True])
def test_a_scan_past_what_the_indexing_keeps_reports_every_message_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, results: bool
) -> None:
    """With a scratch database (no ``--results``) or a durable one, the messages the indexing
    keeps in memory and those the scan reads back from the database are all scanned once."""
    monkeypatch.setattr(store_module, "_FRESH_LIMIT", 5)
    folder = tmp_path / "mail"
    folder.mkdir()
    for number in range(30):
        (folder / f"{number:02}.eml").write_bytes(plain(number, 2020))
    report = tmp_path / "report.jsonl"
    options = ScanOptions(
        paths=(str(folder),),
        results=str(tmp_path / "scan.db") if results else None,
        reports=(str(report),),
        jobs=2,
    )
    summary = run_scan(Config(), options, stream=StringIO())
    sources = [json.loads(line)["source"] for line in report.read_text().splitlines()]
    assert sources == [str(folder / f"{number:02}.eml") for number in range(30)]
    assert summary.counts["messages"] == 30
