"""One message's crash or timeout never stops the scan: worker processes, deadlines, kills."""

from __future__ import annotations

import gc
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from smimecore import Config
from smimecore.errors import ScanError
from smimecore.scan import pool as pool_module
from smimecore.scan.deadline import MessageTimeout, TimeLimit, deadline
from smimecore.scan.pool import FIRST_BATCH, LocalPool
from smimecore.scan.result import INTERNAL, ScanResult, failure
from smimecore.scan.run import ScanOptions, run_scan
from smimecore.scan.sources import Location, MessageReader, find_messages
from smimecore.scan.store import ResultStore
from smimecore.scan.summary import Tally, tally
from smimecore.scan.worker import Batch, ScanSpec, scan_location, scan_locations
from tests.scan_corpus import plain


def slow_message(parts: int = 200_000) -> bytes:
    """A plain message whose MIME walk takes seconds: an attacker's many empty parts."""
    body = b"--b\nContent-Type: text/plain\n\nx\n" * parts
    return (
        b"From: Mallory <m@example.net>\nContent-Type: multipart/mixed; boundary=b\n\n"
        + body
        + b"--b--\n"
    )


def _folder(tmp_path: Path, special: dict[str, bytes]) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    for number in range(6):
        (folder / f"plain-{number}.eml").write_bytes(plain(number, 2020))
    for name, data in special.items():
        (folder / name).write_bytes(data)
    return folder


def _results(db: Path) -> dict[str, dict[str, object]]:
    store = ResultStore(db)
    try:
        return {str(r["source"]).rsplit("/", 1)[-1]: r for r in store.results()}
    finally:
        store.close()


def test_slow_message_times_out_and_the_rest_is_scanned(tmp_path: Path) -> None:
    """The in-process deadline stops a message stuck in Python code; its headers are kept."""
    folder = _folder(tmp_path, {"slow.eml": slow_message()})
    db = tmp_path / "scan.db"
    options = ScanOptions(paths=(str(folder),), results=str(db), jobs=2, timeout=0.3, quiet=True)
    # max_mime_parts would refuse the message at once: allow its parts, so that it is slow.
    summary = run_scan(Config(max_mime_parts=1_000_000), options)
    results = _results(db)
    slow = results.pop("slow.eml")
    assert slow["outcome"] == "error" and slow["reason"] == "timeout"
    assert slow["errors"] == ["timeout: no result within 0.3 s"]
    assert slow["from"] == "Mallory <m@example.net>"
    assert {r["outcome"] for r in results.values()} == {"plain"}
    assert summary.counts["messages"] == 7 and summary.reasons == {"timeout": 1}


# Functions the worker processes run instead of scan_location (picklable: module level).


def stuck_in_c(location: Location, spec: ScanSpec, reader: MessageReader) -> ScanResult:
    """Blocks in a C call for the marked message (no deadline can interrupt it)."""
    if location.file.endswith("stuck.eml"):
        time.sleep(120)
    return scan_location(location, spec, reader)


def segfaults(location: Location, spec: ScanSpec, reader: MessageReader) -> ScanResult:
    """The worker dies of SIGSEGV on the marked message."""
    if location.file.endswith("crash.eml"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return scan_location(location, spec, reader)


class ArrivesBadly:
    """A message function that, unpickled in a worker, ends it (``exit``) or holds it up
    (``sleep``, for ``seconds``) before it can say it is ready."""

    def __init__(self, how: str, seconds: float = 30.0) -> None:
        self.how = how
        self.seconds = seconds
        self.parent = os.getpid()

    def __reduce__(self) -> tuple[object, tuple[str, float, int]]:
        return _arrive, (self.how, self.seconds, self.parent)

    def __call__(self, location: Location, spec: ScanSpec, reader: MessageReader) -> ScanResult:
        return scan_location(location, spec, reader)


def _arrive(how: str, seconds: float, parent: int) -> ArrivesBadly:
    if os.getpid() != parent:  # in the worker
        if how == "exit":
            os._exit(3)
        time.sleep(seconds)
    return ArrivesBadly(how, seconds)


def _run_pool(folder: Path, function: object, timeout: float) -> dict[str, dict[str, object]]:
    locations = list(find_messages([folder]))
    results: dict[int, dict[str, object]] = {}
    tallies: Counter[Tally] = Counter()

    def keep(seqs: Sequence[int], batch: Batch) -> None:
        assert all(seq not in results for seq in seqs)
        results.update(zip(seqs, map(json.loads, batch.texts), strict=True))
        tallies.update(batch.tallies)

    pool = LocalPool(ScanSpec(Config(), timeout), 2, function, grace=0.5)  # type: ignore[arg-type]
    pool.run(iter(enumerate(locations)), keep)
    assert sorted(results) == list(range(len(locations)))  # every message, once
    assert tallies == Counter(map(tally, results.values()))  # the summary counts each once
    return {str(r["source"]).rsplit("/", 1)[-1]: r for r in results.values()}


def test_worker_stuck_in_c_is_killed_and_replaced(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"stuck.eml": plain(7, 2020), "zz-after.eml": plain(8, 2020)})
    started = time.monotonic()
    results = _run_pool(folder, stuck_in_c, timeout=0.5)
    assert time.monotonic() - started < 60
    stuck = results.pop("stuck.eml")
    assert stuck["outcome"] == "error" and stuck["reason"] == "timeout"
    assert "killed" in stuck["errors"][0]  # type: ignore[index]
    assert {r["outcome"] for r in results.values()} == {"plain"} and len(results) == 7


def test_worker_crash_is_that_messages_result(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"crash.eml": plain(7, 2020)})
    results = _run_pool(folder, segfaults, timeout=30)
    crash = results.pop("crash.eml")
    assert crash["outcome"] == "error" and crash["reason"] == "crash"
    assert crash["errors"] == ["crash: the worker died of SIGSEGV"]
    assert {r["outcome"] for r in results.values()} == {"plain"} and len(results) == 6


def frozen_objects(location: Location, spec: ScanSpec, reader: MessageReader) -> ScanResult:
    """How many objects the worker's garbage collector leaves alone, as the result's detail."""
    return failure(location, INTERNAL, str(gc.get_freeze_count()))


def test_a_worker_keeps_its_engine_out_of_the_collectors_way(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {})
    results = _run_pool(folder, frozen_objects, 30.0).values()
    frozen = [int(error.split()[-1]) for result in results for error in result["errors"]]
    # The modules and the engine, loaded before the first message: tens of thousands of objects.
    assert len(frozen) == 6 and min(frozen) > 10_000, frozen


def test_message_deleted_after_indexing_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "gone.eml"
    path.write_bytes(plain(1, 2020))
    (location,) = find_messages([path])
    path.unlink()
    result = scan_location(location, ScanSpec(Config()))
    assert result.outcome == "error" and result.reason == "unreadable"
    assert result.errors == ("unreadable: cannot read it: No such file or directory",)


def _sleepy(location: Location, spec: ScanSpec, reader: MessageReader) -> ScanResult:
    """scan_location, a twentieth of a second late."""
    time.sleep(0.05)
    return scan_location(location, spec, reader)


def _spin(seconds: float) -> int:
    end, turns = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        turns += 1
    return turns


def test_deadline_stops_python_code_in_any_thread() -> None:
    outcomes: list[str] = []

    def work() -> None:
        try:
            with deadline(0.05):
                _spin(5)
            outcomes.append("finished")
        except MessageTimeout:
            outcomes.append("timeout")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    work()
    assert outcomes == ["timeout"] * 4


def test_deadline_met_raises_nothing_later() -> None:
    """Blocks ending around their deadline either time out inside it or not at all."""
    finished = late = 0
    for _ in range(2000):
        try:
            with deadline(0.0002):
                _spin(0.0002)
            finished += 1
        except MessageTimeout:
            late += 1
    _spin(0.05)  # a stray exception would surface here, outside any block
    assert finished + late == 2000
    with deadline(None):
        _spin(0.01)


def test_time_limit_reused_times_out_only_the_late_block() -> None:
    """One TimeLimit for blocks one after another: each runs from its own start, and only the
    block that runs past its limit is interrupted (a fired limit is armed afresh)."""
    limit = TimeLimit(0.3)  # far above the quick blocks, which a busy machine may stall
    outcomes = []
    for seconds in (0.001, 5.0, 0.001, 5.0, 0.001):
        try:
            limit.start(time.monotonic())
            try:
                _spin(seconds)
            finally:
                limit.stop()
            outcomes.append("finished")
        except MessageTimeout:
            outcomes.append("timeout")
    _spin(0.1)  # a stray exception would surface here, outside any block
    assert outcomes == ["finished", "timeout", "finished", "timeout", "finished"]


def test_time_limit_runs_from_the_given_start() -> None:
    """A block started with an earlier moment has only what is left of its limit (a message's
    second round, whose limit runs from its first)."""
    limit = TimeLimit(0.2)
    started = time.monotonic()
    with pytest.raises(MessageTimeout):
        limit.start(started - 0.19)
        try:
            _spin(5)
        finally:
            limit.stop()
    assert time.monotonic() - started < 1.0
    unlimited = TimeLimit(None)
    unlimited.start(started - 100)
    _spin(0.01)
    unlimited.stop()


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_timeout_must_be_positive(tmp_path: Path, timeout: float) -> None:
    from smimecore.errors import ScanError

    with pytest.raises(ScanError, match="--timeout"):
        run_scan(Config(), ScanOptions(paths=(str(tmp_path),), timeout=timeout, quiet=True))


def test_background_work_is_done_while_the_workers_scan(tmp_path: Path) -> None:
    """The pool does the caller's background work (a scan's index) between results, to its end."""
    folder = _folder(tmp_path, {})
    locations = list(find_messages([folder]))
    steps: list[int] = []

    def work() -> bool:
        steps.append(len(steps))
        return len(steps) < 5

    batches: list[int] = []
    pool = LocalPool(ScanSpec(Config()), 1)
    pool.run(iter(enumerate(locations)), lambda seqs, _: batches.append(len(seqs)), None, work)
    assert steps == [0, 1, 2, 3, 4] and sum(batches) == len(locations)


def test_background_work_is_done_while_the_workers_start(tmp_path: Path) -> None:
    """Until a worker is ready, the parent does the background work instead of waiting."""
    folder = _folder(tmp_path, {})
    events: list[str] = []
    pool = LocalPool(ScanSpec(Config()), 2, ArrivesBadly("sleep", 0.5))

    def work() -> bool:
        events.append("work" if pool._workers else "work, no worker ready")
        return len(events) < 3

    pool.run(iter(enumerate(find_messages([folder]))), lambda *_: events.append("batch"), 6, work)
    assert events[:3] == ["work, no worker ready"] * 3 and "batch" in events


def test_a_worker_that_dies_starting_is_a_scan_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {})
    pool = LocalPool(ScanSpec(Config()), 2, ArrivesBadly("exit"))
    with pytest.raises(ScanError, match=r"did not start \(the worker exited \(status 3\)"):
        pool.run(iter(enumerate(find_messages([folder]))), lambda *_: None)


def test_a_worker_that_takes_too_long_to_start_is_a_scan_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module, "_START_SECONDS", 0.5)
    folder = _folder(tmp_path, {})
    pool = LocalPool(ScanSpec(Config()), 1, ArrivesBadly("sleep"))
    started = time.monotonic()
    with pytest.raises(ScanError, match="did not start"):
        pool.run(iter(enumerate(find_messages([folder]))), lambda *_: None)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(("expected", "largest"), [(None, FIRST_BATCH), (40, 5)])
def test_batches_shrink_near_the_end(tmp_path: Path, expected: int | None, largest: int) -> None:
    """With the number of messages known, no batch holds more than a quarter of a worker's
    share of what is left: the workers finish together."""
    folder = tmp_path / "mail"
    folder.mkdir()
    for number in range(40):
        (folder / f"{number:02}.eml").write_bytes(plain(number, 2020))
    tasks = list(enumerate(find_messages([folder])))
    sizes: list[int] = []
    LocalPool(ScanSpec(Config()), 2).run(iter(tasks), lambda s, _: sizes.append(len(s)), expected)
    assert sum(sizes) == 40 and max(sizes) == largest


def test_batches_are_sized_by_how_long_messages_take(tmp_path: Path) -> None:
    """Quick messages go by the hundred once the first batches have come back; messages of a
    twentieth of a second go one at a time (their results come back soon)."""
    folder = _folder(tmp_path, {})
    tasks = list(enumerate(list(find_messages([folder])) * 150))
    quick: list[int] = []
    LocalPool(ScanSpec(Config()), 1).run(iter(tasks), lambda s, _: quick.append(len(s)))
    assert quick[0] == FIRST_BATCH and max(quick) > 4 * FIRST_BATCH and sum(quick) == len(tasks)
    slow: list[int] = []
    pool = LocalPool(ScanSpec(Config()), 1, _sleepy)
    pool.run(iter(tasks[:36]), lambda s, _: slow.append(len(s)))
    assert slow[:2] == [FIRST_BATCH, FIRST_BATCH] and set(slow[2:]) == {1} and sum(slow) == 36


def test_a_batch_in_two_rounds_gives_each_message_its_own_result(tmp_path: Path) -> None:
    """A slow message times out (with its header fields), a deleted one is unreadable, the
    messages around them are scanned; each round shows which message it is on, since when."""
    folder = _folder(tmp_path, {"slow.eml": slow_message(), "zz-gone.eml": plain(9, 2020)})
    locations = list(find_messages([folder]))
    (folder / "zz-gone.eml").unlink()
    marks: list[tuple[int, float]] = []
    spec = ScanSpec(Config(max_mime_parts=1_000_000), 0.3)
    results = scan_locations(locations, spec, MessageReader(), lambda *mark: marks.append(mark))
    names = [Path(location.file).name for location in locations]
    outcomes = {name: (r.outcome, r.reason) for name, r in zip(names, results, strict=True)}
    assert outcomes.pop("slow.eml") == ("error", "timeout")
    assert outcomes.pop("zz-gone.eml") == ("error", "unreadable")
    assert set(outcomes.values()) == {("plain", None)} and len(outcomes) == 6
    assert results[names.index("slow.eml")].sender == "Mallory <m@example.net>"
    assert [index for index, _ in marks] == [*range(8), *range(8)]
    assert marks[:8] == marks[8:]  # the second round keeps each message's start
