"""The scan's database (SQLite, standard library): the message index and one result per message.

A scan first indexes every message (its :class:`Location`, in the order
found), then stores each result under the message's number as it comes
in, committing every half second.  A scan that was killed keeps what was
committed; ``--resume`` scans only the messages without a result, and
reports are written from the database, in index order, so they do not
depend on how (or in how many runs) the results were made.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from smimecore.errors import ScanError
from smimecore.scan.sources import Location

__all__ = ["Indexing", "ResultStore"]

SCHEMA = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, file TEXT NOT NULL, idx INTEGER, key TEXT,
    offset INTEGER NOT NULL, length INTEGER NOT NULL, compressed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS results (seq INTEGER PRIMARY KEY, result TEXT NOT NULL);
"""
_PAGE = 1000
_WANTED_PAGE = 100  # indexed when a message is wanted (at the start): soon, and a little
_FLUSH_SECONDS = 0.5
_FLUSH_ROWS = 2000
_PAGE_BYTES = 16384
_FRESH_LIMIT = 20_000  # messages an Indexing keeps for the scan; past them, the database


class ResultStore:
    """One scan's database file; not shared between threads.

    A ``durable`` database (the ``--results`` file) survives a kill of the
    scan and a crash of the machine; a scratch one, deleted when the scan
    ends, is written without waiting for the disk, and its index leaves out
    the messages its scan takes from memory (:attr:`Indexing.fresh`), which
    no later run reads.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self._indexed_apart = 0  # messages of a scratch index kept in memory only
        try:
            self._db = sqlite3.connect(self.path, isolation_level="DEFERRED")
            # Before the first table (and WAL) exists, else it has no effect: results of a few
            # KiB cost less to append in larger pages.
            self._db.execute(f"PRAGMA page_size = {_PAGE_BYTES}")
            if durable:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            else:
                self._db.execute("PRAGMA journal_mode=MEMORY")
                self._db.execute("PRAGMA synchronous=OFF")
            self._check_schema()
        except sqlite3.Error as exc:
            raise ScanError(f"{path} is not a usable scan database: {exc}") from None
        self._pending: list[tuple[int, str | bytes]] = []
        self._flushed = time.monotonic()

    def _check_schema(self) -> None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if tables and "meta" not in tables:
            raise ScanError(f"{self.path} is a database of something else than a scan")
        self._db.executescript(_SCHEMA)
        schema = self._meta("schema")
        if schema is None:
            self._set_meta("schema", SCHEMA)
        elif schema != SCHEMA:
            raise ScanError(f"{self.path} was written by another version (schema {schema})")
        self._db.commit()

    # -- metadata ------------------------------------------------------------------

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    @property
    def paths(self) -> list[str] | None:
        """The scanned paths (absolute), or ``None`` before a scan was started."""
        text = self._meta("paths")
        return None if text is None else [str(path) for path in json.loads(text)]

    @property
    def indexed(self) -> bool:
        """Whether the index is complete (a scan killed while indexing starts it again)."""
        return self._meta("indexed") == "1"

    @property
    def empty(self) -> bool:
        """Whether no scan was ever started in this database."""
        return self.paths is None

    # -- the index -----------------------------------------------------------------

    def index(self, paths: Sequence[str], locations: Iterable[Location]) -> int:
        """Replace the index with ``locations`` (found under ``paths``); returns their number."""
        indexing = self.start_index(paths, locations)
        while indexing.step():
            pass
        return indexing.count

    def start_index(self, paths: Sequence[str], locations: Iterable[Location]) -> Indexing:
        """Replace the index with ``locations`` (found under ``paths``), a page at a time:
        the :class:`Indexing` says when, and :meth:`pending` with it waits for it."""
        self._indexed_apart = 0
        with self._db:
            for table in ("messages", "files", "results"):
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - names from the code
            self._set_meta("paths", json.dumps(list(paths)))
            self._set_meta("indexed", "0")
        return Indexing(self, locations)

    def _add_to_index(
        self, rows: Sequence[tuple[Any, ...]], files: Iterable[str], apart: int = 0
    ) -> None:
        """Index ``rows``, and count ``apart`` more that a scratch index keeps in memory only."""
        self._db.executemany("INSERT INTO files VALUES (?, ?, ?)", map(_file_row, files))
        self._db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?)", rows)
        self._indexed_apart += apart

    def _index_complete(self) -> None:
        with self._db:
            self._set_meta("indexed", "1")

    def _index_failed(self) -> None:
        with self._db:  # an input that does not exist: as if nothing had been started
            self._db.execute("DELETE FROM meta WHERE name IN ('paths', 'indexed')")

    def check_unchanged(self) -> None:
        """Raise :class:`ScanError` when an indexed mbox changed since (its offsets would lie)."""
        for path, size, mtime_ns in self._db.execute("SELECT path, size, mtime_ns FROM files"):
            if _file_row(path)[1:] != (size, mtime_ns):
                raise ScanError(
                    f"{path} changed since the scan began: start a new scan, without --resume"
                )

    @property
    def total(self) -> int:
        """How many messages the index holds."""
        stored = int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        return stored + self._indexed_apart

    @property
    def done(self) -> int:
        """How many messages have a result (flushed)."""
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def pending(self, indexing: Indexing | None = None) -> Iterator[tuple[int, Location]]:
        """The messages without a result, in index order; with the ``indexing`` under way,
        those it has indexed and, when they are all given, those it indexes next.

        What the indexing has just indexed comes from it (:attr:`Indexing.fresh`), not read
        back from the database; the rest, from the database.  A scratch database is not given
        what the indexing keeps (see :class:`ResultStore`): its scan must pass the indexing,
        even once it is done.
        """
        last = 0
        while True:
            fresh = indexing.fresh if indexing is not None else None
            if fresh and fresh[0][0] == last + 1:
                row = fresh.popleft()
                last = row[0]
                yield last, _location_of(row)
                continue
            rows = self._db.execute(
                "SELECT m.* FROM messages m LEFT JOIN results r ON r.seq = m.seq "
                "WHERE m.seq > ? AND r.seq IS NULL ORDER BY m.seq LIMIT ?",
                (last, _PAGE),
            ).fetchall()
            if not rows:
                if indexing is not None and indexing.step(_WANTED_PAGE):
                    continue
                return
            for row in rows:
                yield int(row[0]), _location_of(row)
            last = int(rows[-1][0])

    # -- results ---------------------------------------------------------------------

    def add(self, seq: int, result: str | bytes) -> None:
        """Keep the JSON ``result`` of message ``seq`` (committed within half a second)."""
        self.add_many(((seq, result),))

    def add_many(self, results: Iterable[tuple[int, str | bytes]]) -> None:
        """Keep JSON results, each with its message's number (committed within half a second).

        A text may come as ``str`` or as its UTF-8 (:func:`~smimecore.scan.result.encode_bytes`,
        what workers send): SQLite keeps each as it comes, and both read back the same.
        """
        self._pending.extend(results)
        if len(self._pending) >= _FLUSH_ROWS or time.monotonic() - self._flushed > _FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit the results added so far."""
        if self._pending:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?)", self._pending)
            self._pending.clear()
        self._flushed = time.monotonic()

    def results(self) -> Iterator[dict[str, Any]]:
        """Every stored result, in index order."""
        self.flush()
        last = 0
        while True:
            rows = self._db.execute(
                "SELECT seq, result FROM results WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, _PAGE),
            ).fetchall()
            if not rows:
                return
            for _, text in rows:
                yield json.loads(text)
            last = int(rows[-1][0])

    def close(self) -> None:
        """Commit and close."""
        try:
            self.flush()
        finally:
            self._db.close()


class Indexing:
    """An index being made (:meth:`ResultStore.start_index`), a page at a time.

    A scan indexes while its workers scan what is indexed already, so that
    none waits for the index of the whole archive.
    """

    def __init__(
        self,
        store: ResultStore,
        locations: Iterable[Location],
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._locations = iter(locations)
        self.on_done = on_done
        """Called with the number of messages once they are all indexed."""
        self._files: set[str] = set()
        self.count = 0
        """How many messages are indexed so far."""
        self.fresh: deque[tuple[Any, ...]] = deque()
        """The ``messages`` rows indexed and not yet taken by :meth:`ResultStore.pending` (a new
        index has no results): at most 20,000, past which they are read back from the database,
        so that an index made far ahead of the scan does not fill the memory.  A durable
        database is given these rows too (a resumed scan reads them); a scratch one is not.

        Rows, not locations: a tuple of plain values drops out of the garbage collector's sight
        at its first collection, where a named tuple stays in it; thousands of those, waiting
        here, reached its oldest generation and set off full collections of the heap."""
        self._fresh_full = False
        self.done = False
        """Whether every message is indexed."""

    def step(self, limit: int = _PAGE) -> bool:
        """Index up to ``limit`` more messages; returns whether there were any."""
        if self.done:
            return False
        rows: list[tuple[Any, ...]] = []
        files: list[str] = []
        found = 0
        durable = self._store.durable
        try:
            for location in itertools.islice(self._locations, limit):
                found += 1
                row = _location_row(self.count + found, location)
                kept = self._keep_fresh(row)
                if durable or not kept:
                    rows.append(row)
                if location.kind == "mbox" and location.file not in self._files:
                    self._files.add(location.file)
                    files.append(location.file)
        except ScanError:
            self._store._index_failed()
            raise
        self._store._add_to_index(rows, files, found - len(rows))
        self.count += found
        if found < limit:
            self._store._index_complete()
            self.done = True
            if self.on_done is not None:
                self.on_done(self.count)
        return bool(found)

    def _keep_fresh(self, row: tuple[Any, ...]) -> bool:
        """Keep ``row`` for :meth:`ResultStore.pending`; returns whether it was kept."""
        if not self._fresh_full and len(self.fresh) < _FRESH_LIMIT:
            self.fresh.append(row)
            return True
        self._fresh_full = True  # from here on, what follows comes from the database
        return False


def _file_row(path: str) -> tuple[str, int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return path, -1, -1
    return path, stat.st_size, stat.st_mtime_ns


def _location_row(seq: int, location: Location) -> tuple[Any, ...]:
    """The ``messages`` row of ``location``: its number, then its fields in order."""
    return (seq, *location[:-1], int(location.compressed))


def _location_of(row: Sequence[Any]) -> Location:
    _, kind, file, index, key, offset, length, compressed = row
    return Location(kind, file, index, key, offset, length, bool(compressed))
