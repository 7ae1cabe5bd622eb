"""Finding and reading messages: mbox (gzip too), Maildir, .eml folders; never changing them."""

from __future__ import annotations

import gzip
import mailbox
import os
import pickle
import random
import tracemalloc
from pathlib import Path

import pytest

from smimecore.errors import ScanError
from smimecore.scan.sources import Location, MessageReader, find_messages
from tests.scan_corpus import plain

SEPARATOR = b"From someone@example.org Mon Jun  3 10:00:00 2024\n"


def _read_all(locations: list[Location]) -> list[bytes]:
    reader = MessageReader()
    try:
        return [reader.read(location) for location in locations]
    finally:
        reader.close()


def _mbox(path: Path, bodies: list[bytes], *, separator: bytes = SEPARATOR) -> None:
    path.write_bytes(b"".join(separator + body + b"\n" for body in bodies))


def test_mbox_messages_match_the_standard_library(tmp_path: Path) -> None:
    """Same bytes as mailbox.mbox: no From_ line, no separating blank line, >From kept."""
    bodies = [
        plain(1, 2020),
        b"Subject: empty body\n\n",
        b"Subject: quoted\n\n>From here the MTA quoted the line.\nFrom-address: not a separator\n",
        b"Subject: last\n\nends with a blank line, as appended mail does\n",
    ]
    path = tmp_path / "box"
    _mbox(path, bodies)
    locations = list(find_messages([path]))
    assert [loc.index for loc in locations] == [0, 1, 2, 3]
    assert {loc.kind for loc in locations} == {"mbox"}
    box = mailbox.mbox(path, create=False)
    assert _read_all(locations) == [box.get_bytes(key) for key in box.keys()]
    assert locations[1].source == f"{path}#1"


def test_mbox_without_blank_lines_and_with_crlf(tmp_path: Path) -> None:
    """A separator right after a line is still a separator; CRLF mboxes keep their line ends."""
    path = tmp_path / "crlf.mbox"
    path.write_bytes(
        b"From a\r\nSubject: one\r\n\r\nbody one\r\n\r\nFrom b\r\nSubject: two\r\n\r\nbody two\r\n"
        b"From c\r\nSubject: three\r\n\r\nbody three\r\n"
    )
    messages = _read_all(list(find_messages([path])))
    assert messages == [
        b"Subject: one\r\n\r\nbody one\r\n",
        b"Subject: two\r\n\r\nbody two\r\n",
        b"Subject: three\r\n\r\nbody three\r\n",
    ]


def test_long_lines_are_not_separators(tmp_path: Path) -> None:
    """'From ' inside a line longer than the read size is not at a line start."""
    long_line = b"x" * (64 * 1024) + b"From inside a long line\n"  # read in two pieces
    path = tmp_path / "long.mbox"
    _mbox(path, [b"Subject: long\n\n" + long_line, b"Subject: next\n\nbody\n"])
    messages = _read_all(list(find_messages([path])))
    assert len(messages) == 2 and messages[0].endswith(b"From inside a long line\n")


def test_gzip_mbox(tmp_path: Path) -> None:
    bodies = [plain(n, 2020) for n in range(5)]
    raw = tmp_path / "raw"
    _mbox(raw, bodies)
    packed = tmp_path / "archive.mbox.gz"
    packed.write_bytes(gzip.compress(raw.read_bytes()))
    locations = list(find_messages([packed]))
    assert all(loc.compressed for loc in locations)
    reader = MessageReader()
    try:  # out of order too: the reader seeks back in the compressed stream
        assert [reader.read(locations[i]) for i in (4, 0, 2)] == [
            _read_all(list(find_messages([raw])))[i] for i in (4, 0, 2)
        ]
    finally:
        reader.close()


def test_damaged_gzip_mbox_is_a_result_not_a_crash(tmp_path: Path) -> None:
    """The messages before the damage are read; the damaged one fails to read (a result)."""
    raw = tmp_path / "raw"
    _mbox(raw, [plain(n, 2020) for n in range(4000)])  # read in chunks: more than one
    packed = gzip.compress(raw.read_bytes())
    damaged = tmp_path / "damaged.mbox.gz"
    damaged.write_bytes(packed[: len(packed) // 2])
    locations = list(find_messages([damaged]))
    assert 0 < len(locations) < 4000 and locations[-1].length == -1
    reader = MessageReader()
    assert reader.read(locations[0]).startswith(b"From: Carol")
    with pytest.raises((EOFError, OSError)):
        reader.read(locations[-1])
    reader.close()


def test_maildir_cur_and_new_not_tmp(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Mail", create=True)
    keys = [box.add(plain(n, 2021)) for n in range(3)]
    seen = box.get_message(keys[1])
    seen.set_subdir("cur")
    seen.add_flag("RS")
    box[keys[1]] = seen
    (tmp_path / "Mail" / "tmp" / "partial").write_bytes(b"Subject: delivering\n\n")
    locations = list(find_messages([tmp_path / "Mail"]))
    assert sorted(loc.key for loc in locations if loc.key) == sorted(keys)
    assert {loc.kind for loc in locations} == {"maildir"}
    assert sorted(_read_all(locations)) == sorted(box.get_bytes(key) for key in keys)
    assert locations[0].source == f"{tmp_path / 'Mail'}#{locations[0].key}"


def test_maildir_message_renamed_after_indexing_is_still_read(tmp_path: Path) -> None:
    """A mail reader marks the message seen (new/ -> cur/ with flags) while the scan runs."""
    box = mailbox.Maildir(tmp_path / "Mail", create=True)
    key = box.add(plain(1, 2021))
    (location,) = find_messages([tmp_path / "Mail"])
    moved = tmp_path / "Mail" / "cur" / f"{key}:2,S"
    os.rename(location.file, moved)
    assert _read_all([location]) == [moved.read_bytes()]


def test_mixed_tree_recursive_in_a_stable_order(tmp_path: Path) -> None:
    """Folders are searched recursively; .eml and mbox files (by content) are taken, others not."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.eml").write_bytes(plain(1, 2020))
    (tmp_path / "a" / "b" / "TWO.EML").write_bytes(plain(2, 2020))
    _mbox(tmp_path / "a" / "Inbox", [plain(3, 2020), plain(4, 2020)])  # Thunderbird: no extension
    (tmp_path / "a" / "Inbox.msf").write_bytes(b'// <!-- <mdb:mork:z v="1.4"/> -->')
    (tmp_path / "a" / "readme.txt").write_text("hello")
    (tmp_path / "a" / "junk.gz").write_bytes(gzip.compress(b"not an mbox"))
    mailbox.Maildir(tmp_path / "md", create=True).add(plain(5, 2020))
    (tmp_path / "link").symlink_to(tmp_path / "a", target_is_directory=True)
    first = [loc.source for loc in find_messages([tmp_path])]
    assert first == [loc.source for loc in find_messages([tmp_path])]
    assert len(first) == 5
    assert [Path(source.split("#")[0]).name for source in first] == [
        "Inbox", "Inbox", "TWO.EML", "one.eml", "md",
    ]  # fmt: skip


def test_a_file_given_directly_is_one_message(tmp_path: Path) -> None:
    path = tmp_path / "message.txt"
    path.write_bytes(plain(1, 2020))
    assert [loc.kind for loc in find_messages([path])] == ["eml"]


def test_missing_input_and_gzip_that_is_no_mbox(tmp_path: Path) -> None:
    (tmp_path / "first.eml").write_bytes(plain(1, 2020))
    with pytest.raises(ScanError, match="nothing: no such file"):
        find_messages([tmp_path / "first.eml", tmp_path / "nothing"])  # at once, not later
    junk = tmp_path / "junk.gz"
    junk.write_bytes(gzip.compress(b"Subject: x\n\n"))
    with pytest.raises(ScanError, match="gzip"):
        list(find_messages([junk]))


def test_indexing_a_large_mbox_takes_little_memory(tmp_path: Path) -> None:
    """40 MiB of mbox is indexed with a memory peak far below its size (streamed)."""
    message = plain(1, 2020) + b"x" * 10_000 + b"\n"
    path = tmp_path / "big.mbox"
    with open(path, "wb") as stream:
        for _ in range(4000):
            stream.write(SEPARATOR + message + b"\n")
    tracemalloc.start()
    try:
        count = sum(1 for _ in find_messages([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 4000
    assert peak < 2 * 1024 * 1024


def test_location_round_trips_through_a_dict_and_pickle() -> None:
    for location in (
        Location("mbox", "/x/y.mbox.gz", index=3, offset=10, length=20, compressed=True),
        Location("maildir", "/m/cur/1.a:2,S", key="1.a"),
        Location("eml", "/e/1.eml"),
    ):
        assert Location.from_dict(location.to_dict()) == location
        assert pickle.loads(pickle.dumps(location)) == location  # noqa: S301 - our own bytes


def test_large_mbox_read_in_chunks_matches_the_standard_library(tmp_path: Path) -> None:
    """Separators at every place relative to the chunks: each message is mailbox.mbox's."""
    generator = random.Random(7)  # noqa: S311 - message shapes, not a secret
    messages = []
    for number in range(400):
        lines = [b"Subject: %d" % number, b""]
        for _ in range(generator.randrange(0, 120)):
            width = generator.choice((0, 1, 5, 70, 76, 1000, 20_000))
            lines.append(b"a" * width if width % 2 else b"b" * width)
        if number % 50 == 7:
            lines.append(b">From quoted")
        messages.append(b"\n".join(lines) + b"\n")
    path = tmp_path / "large.mbox"
    long_separator = b"From " + b"x" * 300_000 + b"\n"
    with open(path, "wb") as stream:
        for number, body in enumerate(messages):
            stream.write(long_separator if number == 100 else SEPARATOR)
            stream.write(body + (b"\n" if number % 3 else b""))
    assert path.stat().st_size > 2 * 1024 * 1024
    box = mailbox.mbox(path, create=False)
    assert _read_all(list(find_messages([path]))) == [box.get_bytes(key) for key in box.keys()]


def test_reader_switching_between_more_mboxes_than_it_keeps_open(tmp_path: Path) -> None:
    """Messages read in turn from more mbox files than are kept open each come from their own
    file (a descriptor closed to make room is never read again), and a file cut short since it
    was indexed is an ``OSError``, read again or not."""
    boxes = []
    for number in range(6):
        path = tmp_path / f"box{number}"
        _mbox(path, [plain(number * 10 + index, 2020) for index in range(3)])
        boxes.append(list(find_messages([path])))
    order = [boxes[i % 6][i % 3] for i in range(40)] + [boxes[5][2]] * 3 + [boxes[0][0]]
    reader = MessageReader()
    try:
        for location in order:
            assert reader.read(location) == _read_all([location])[0]
        cut = boxes[1][2]
        reader.read(cut)
        with open(cut.file, "r+b") as stream:
            stream.truncate(cut.offset + 10)
        for _ in range(2):
            with pytest.raises(OSError, match="shorter than when it was indexed"):
                reader.read(cut)
    finally:
        reader.close()


def test_reader_reads_ahead_in_order_and_gives_each_message_as_read_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages read in order come from bytes read ahead, several with one system call; in any
    order each is what a reader of that message alone gives, however large."""
    path = tmp_path / "box"
    _mbox(path, [plain(n, 2020) * (3000 if n == 30 else 1) for n in range(60)])
    locations = list(find_messages([path]))
    assert locations[30].length > 2 * 256 * 1024  # larger than what is read ahead
    alone = [_read_all([location])[0] for location in locations]
    calls: list[int] = []
    real_pread = os.pread

    def counted(descriptor: int, length: int, offset: int) -> bytes:
        calls.append(length)
        return real_pread(descriptor, length, offset)

    monkeypatch.setattr(os, "pread", counted)
    shuffled = list(range(60))
    random.Random(3).shuffle(shuffled)  # noqa: S311 - an order, not a secret
    orders = [
        list(range(60)),
        shuffled,
        list(range(59, -1, -1)),
        [*range(0, 60, 2), *range(1, 60, 2)],
    ]
    for order in orders:
        calls.clear()
        assert _read_all([locations[i] for i in order]) == [alone[i] for i in order]
        if order == orders[0]:
            assert len(calls) < 10  # not one a message
            assert max(calls) == locations[30].length  # a large message is read alone
