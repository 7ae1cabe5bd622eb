"""Where messages are: mbox files (gzip-compressed too), Maildir folders and ``.eml`` files.

:func:`find_messages` walks the paths it is given, recursively, and yields
one :class:`Location` per message, in a stable order (names sorted).  An
mbox is indexed by streaming it once (the byte offset and length of each
message), never loaded whole; :class:`MessageReader` later reads one
message from its location.  Locations are small and picklable: they are
what travels to worker processes and cluster nodes, not message bytes.

Nothing here writes to a mailbox: files are opened read-only and Maildir
messages are never moved from ``new/`` to ``cur/``.

mbox messages are kept exactly as stored: the ``From `` separator line is
not part of the message, the blank line before the next separator is
dropped, and ``>From `` escapes are left alone (mboxo and mboxrd cannot be
told apart, and S/MIME clients quote such lines anyway).
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

from smimecore.errors import ScanError

__all__ = ["Location", "MessageReader", "find_messages"]

MBOX_SEPARATOR = b"From "
GZIP_MAGIC = b"\x1f\x8b"
MESSAGE_SUFFIX = ".eml"
MAILDIR_SUBDIRECTORIES = ("cur", "new")
_LINE_LIMIT = 64 * 1024  # a chunk is completed to its line end when the line is no longer
_OPEN_FILES = 4
_HAS_PREAD = hasattr(os, "pread")  # POSIX: one system call per message, or for several
_READ_AHEAD = 256 * 1024
"""Bytes read past a plain mbox message smaller than this when it follows the one read before
(within this much): the next messages usually come with it, one system call for them all."""


class Location(NamedTuple):
    """Where one message is.

    ``kind`` is ``eml`` (a file holding one message), ``maildir`` (a
    message file of a Maildir; ``key`` is its unique name, without the
    ``:2,`` flags) or ``mbox`` (``index`` counts from 0; ``offset`` and
    ``length`` are the message's bytes in the file, decompressed when
    ``compressed``; a ``length`` of -1 reads to the end).

    A named tuple: the indexer, the database and the workers make one per
    message, and a tuple is made (and pickled) in a fraction of a frozen
    dataclass's time.
    """

    kind: str
    file: str
    index: int | None = None  # type: ignore[assignment]  # (shadows tuple.index: the name is kept)
    key: str | None = None
    offset: int = 0
    length: int = -1
    compressed: bool = False

    @property
    def source(self) -> str:
        """The message's name, unique in a scan: the file, ``mbox#index`` or ``maildir#key``."""
        if self.kind == "mbox":
            return f"{self.file}#{self.index}"
        if self.kind == "maildir":
            return f"{_maildir_of(self.file)}#{self.key}"
        return self.file

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form (see :meth:`from_dict`)."""
        return self._asdict()

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Location:
        """The location :meth:`to_dict` described."""
        index, key = data.get("index"), data.get("key")
        return cls(
            kind=str(data["kind"]),
            file=str(data["file"]),
            index=int(index) if isinstance(index, int) else None,
            key=str(key) if key is not None else None,
            offset=int(data.get("offset", 0)),  # type: ignore[call-overload]
            length=int(data.get("length", -1)),  # type: ignore[call-overload]
            compressed=bool(data.get("compressed", False)),
        )


def _maildir_of(message_file: str) -> str:
    return os.path.dirname(os.path.dirname(message_file))


def find_messages(paths: Sequence[str | os.PathLike[str]]) -> Iterator[Location]:
    """Every message under ``paths``, in order; a missing path raises :class:`ScanError`
    at once (before any message is looked for).

    A file given directly is an mbox when it starts with ``From `` (after
    gzip decompression when it is compressed), else one message.  Inside
    directories, ``.eml`` files and mbox files (recognised by their first
    bytes) are taken and anything else skipped; a directory with ``cur/``
    and ``new/`` is a Maildir (its ``tmp/`` is never read).  Symbolic links
    to directories are not followed.
    """
    absolute = [Path(os.path.abspath(path)) for path in paths]
    for given, path in zip(paths, absolute, strict=True):
        if not path.exists():
            raise ScanError(f"{given}: no such file or directory")
    return _messages_under(absolute)


def _messages_under(paths: list[Path]) -> Iterator[Location]:
    for path in paths:
        yield from _walk(path, explicit=True)


def _walk(path: Path, *, explicit: bool) -> Iterator[Location]:
    if path.is_dir():
        if not explicit and path.is_symlink():
            return
        yield from _directory(path)
    elif path.is_file():
        yield from _file(path, explicit=explicit)


def _directory(path: Path) -> Iterator[Location]:
    maildir = all((path / name).is_dir() for name in MAILDIR_SUBDIRECTORIES)
    if maildir:
        yield from _maildir(path)
    try:
        children = sorted(path.iterdir())
    except OSError:
        return  # an unreadable subdirectory holds nothing we can report on
    for child in children:
        if maildir and child.name in (*MAILDIR_SUBDIRECTORIES, "tmp"):
            continue
        yield from _walk(child, explicit=False)


def _maildir(path: Path) -> Iterator[Location]:
    for name in MAILDIR_SUBDIRECTORIES:
        try:
            entries = sorted(entry for entry in (path / name).iterdir() if entry.is_file())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            key = entry.name.split(":", 1)[0]
            yield Location("maildir", str(entry), key=key)


def _file(path: Path, *, explicit: bool) -> Iterator[Location]:
    try:
        kind = _file_kind(path)
    except OSError:
        kind = "unreadable"  # reported as the message's result when it was asked for
    if kind in ("mbox", "mbox.gz"):
        yield from _MboxIndexer(path, compressed=kind == "mbox.gz").locations()
    elif kind == "gzip":
        if explicit:
            raise ScanError(f"{path}: a gzip file that does not hold an mbox")
    elif explicit or path.name.lower().endswith(MESSAGE_SUFFIX):
        yield Location("eml", str(path))


def _file_kind(path: Path) -> str:
    with open(path, "rb") as stream:
        head = stream.read(len(MBOX_SEPARATOR))
    if head.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as stream:
                inner = stream.read(len(MBOX_SEPARATOR))
        except (OSError, EOFError, zlib.error):
            return "gzip"
        return "mbox.gz" if inner == MBOX_SEPARATOR else "gzip"
    return "mbox" if head == MBOX_SEPARATOR else "file"


def _open(path: str, compressed: bool) -> BinaryIO:
    if compressed:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


class _MboxIndexer:
    """Finds the messages of an mbox by streaming it in chunks; memory does not grow with it.

    A separator is a line starting ``From `` (as for Python's ``mailbox``);
    the blank line before it belongs to neither message.
    """

    def __init__(self, path: Path, compressed: bool) -> None:
        self.path = str(path)
        self.compressed = compressed
        self.offset = 0  # of the chunk being looked at
        self.start: int | None = None  # of the current message
        self.index = 0
        self.tail = b""  # the last bytes before the chunk, for the blank line
        self.in_separator = False  # a separator line goes on into the next chunk

    def locations(self) -> Iterator[Location]:
        try:
            with _open(self.path, self.compressed) as stream:
                yield from self._scan(stream)
        except (OSError, EOFError, zlib.error):
            # Damaged (or truncated) compressed data: what is left reads to the end and fails
            # there, so the damage is reported as that message's result.
            yield self._location(self.start or 0, -1)
            return
        if self.in_separator:
            self.start = self.offset  # a last separator without a line end: an empty message
        if self.start is not None:
            yield self._location(self.start, self.offset - _blank(self.tail) - self.start)

    def _scan(self, stream: BinaryIO) -> Iterator[Location]:
        at_line_start = True
        while chunk := _read_chunk(stream):
            position = 0
            if self.in_separator:
                newline = chunk.find(b"\n")
                if newline >= 0:
                    self.start, self.in_separator = self.offset + newline + 1, False
                    position = newline + 1
            if not self.in_separator:
                yield from self._messages_ended_in(chunk, position, at_line_start)
            at_line_start = chunk.endswith(b"\n")
            self.tail = (self.tail + chunk[-3:])[-3:]
            self.offset += len(chunk)

    def _messages_ended_in(
        self, chunk: bytes, position: int, at_line_start: bool
    ) -> list[Location]:
        """The messages that separator lines in ``chunk`` (from ``position``, a line start) end.

        One loop per chunk, not a generator per message: an archive has millions of them.
        """
        found: list[Location] = []
        if position == 0 and at_line_start and chunk.startswith(MBOX_SEPARATOR):
            if not self._separator(chunk, 0, chunk.find(b"\n"), found):
                return found
        size = len(chunk)
        for line in _SEPARATOR_LINE.finditer(chunk, max(0, position - 1)):
            end = line.end()  # at a line end, or at the end of the chunk
            if not self._separator(chunk, line.start() + 1, end if end < size else -1, found):
                break
        return found

    def _separator(self, chunk: bytes, at: int, newline: int, found: list[Location]) -> bool:
        """The separator line at ``at``, ending at ``newline`` (-1: not in this chunk), ends a
        message (into ``found``) and starts the next; returns whether the line ended."""
        start = self.start
        if start is not None:
            before = chunk[at - 3 : at] if at >= 3 else (self.tail + chunk[:at])[-3:]
            end = self.offset + at - _blank(before)
            found.append(self._location(start, max(0, end - start)))
            self.index += 1
        if newline < 0:
            self.start, self.in_separator = None, True
            return False
        self.start = self.offset + newline + 1
        return True

    def _location(self, start: int, length: int) -> Location:
        return Location("mbox", self.path, self.index, None, start, length, self.compressed)


_CHUNK = 256 * 1024
# A separator line after a line end, up to its own line end (not taken: it may be where the
# next separator line starts).  One regular expression finds them faster than bytes.find.
_SEPARATOR_LINE = re.compile(rb"\n" + MBOX_SEPARATOR + rb"[^\n]*")


def _read_chunk(stream: BinaryIO) -> bytes:
    """About 256 KiB, ending at a line end unless a line is longer than 64 KiB."""
    chunk = stream.read(_CHUNK)
    if chunk and not chunk.endswith(b"\n"):
        chunk += stream.readline(_LINE_LIMIT)
    return chunk


def _blank(before: bytes) -> int:
    """The length of the blank line that ``before`` (a message's last bytes) ends with."""
    if before.endswith(b"\n\r\n"):
        return 2
    return 1 if before.endswith(b"\n\n") else 0


class MessageReader:
    """Reads messages from their locations, keeping a few mbox files open between calls.

    Not shared between threads: each worker (or task) has its own.
    """

    def __init__(self) -> None:
        self._open: OrderedDict[tuple[str, bool], BinaryIO] = OrderedDict()
        self._last: _Window | None = None  # the plain mbox read last

    def read(self, location: Location) -> bytes:
        """The message's bytes; ``OSError`` (or a decompression error) when it cannot be read."""
        if location.kind == "mbox":
            last = self._last
            if last is not None and last.file == location.file and _plainly_read(location):
                return self._read_again(location, last)  # the usual case: the same file
            return self._read_mbox(location)
        try:
            return Path(location.file).read_bytes()
        except FileNotFoundError:
            moved = _renamed_maildir_file(location) if location.kind == "maildir" else None
            if moved is None:
                raise
            return moved.read_bytes()

    def _read_mbox(self, location: Location) -> bytes:
        stream = self._stream(location.file, location.compressed)
        if _plainly_read(location):
            self._last = _Window(location.file, stream.fileno())
            return self._read_again(location, self._last)
        try:
            stream.seek(location.offset)
            data = stream.read() if location.length < 0 else stream.read(location.length)
        except BaseException:
            self._forget(location.file, location.compressed)
            raise
        return _checked(location, data)

    def _read_again(self, location: Location, window: _Window) -> bytes:
        """Read a plain mbox message from a file kept open: from the bytes read ahead when it
        comes after the message read last, else with one system call."""
        offset, length = location.offset, location.length
        start = offset - window.at
        if offset >= window.end and 0 <= start <= len(window.data) - length:
            window.end = offset + length
            return window.data[start : start + length]  # of the length asked for
        follows = 0 <= offset - window.end < _READ_AHEAD and length < _READ_AHEAD
        ahead = _READ_AHEAD if follows else 0  # a large message is read alone, and not kept
        try:
            data = os.pread(window.descriptor, length + ahead, offset)
        except BaseException:
            self._forget(location.file, location.compressed)
            raise
        if ahead:
            window.data, window.at = data, offset
            data = data[:length]
        window.end = offset + length
        return _checked(location, data)

    def _stream(self, path: str, compressed: bool) -> BinaryIO:
        key = (path, compressed)
        stream = self._open.get(key)
        if stream is not None:
            self._open.move_to_end(key)
            return stream
        stream = _open(path, compressed)
        self._open[key] = stream
        if len(self._open) > _OPEN_FILES:
            _, oldest = self._open.popitem(last=False)
            self._last = None  # never a descriptor closed (and maybe given to another file)
            oldest.close()
        return stream

    def _forget(self, path: str, compressed: bool) -> None:
        self._last = None
        stream = self._open.pop((path, compressed), None)
        if stream is not None:
            stream.close()

    def close(self) -> None:
        """Close every file kept open."""
        self._last = None
        while self._open:
            _, stream = self._open.popitem()
            stream.close()


class _Window:
    """The plain mbox read last: its descriptor, and what was read ahead in it (never read
    again: only messages after the one read last are taken from it)."""

    __slots__ = ("at", "data", "descriptor", "end", "file")

    def __init__(self, file: str, descriptor: int) -> None:
        self.file = file
        self.descriptor = descriptor
        self.data = b""  # read ahead, from offset ``at``
        self.at = 0
        self.end = -_READ_AHEAD  # where the message read last ends


def _plainly_read(location: Location) -> bool:
    """Whether the message is read with one ``pread`` (uncompressed, of known length)."""
    return location.length >= 0 and not location.compressed and _HAS_PREAD


def _checked(location: Location, data: bytes) -> bytes:
    if location.length >= 0 and len(data) != location.length:
        raise OSError(f"{location.file} is shorter than when it was indexed")
    return data


def _renamed_maildir_file(location: Location) -> Path | None:
    """A Maildir message renamed since it was found (flags changed, or moved from new/ to cur/)."""
    folder = Path(_maildir_of(location.file))
    for name in MAILDIR_SUBDIRECTORIES:
        for candidate in sorted((folder / name).glob(glob.escape(location.key or "") + "*")):
            if candidate.name.split(":", 1)[0] == location.key:
                return candidate
    return None
