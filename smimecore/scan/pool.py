"""Every core of this machine: worker processes, each with its own engine.

The parent sends each worker batches of locations (never message bytes)
and gets the batch's results back in one piece, in order (the parent
writes them down).  Passing results a batch at a time matters: a pipe
round trip costs more than scanning a small message where system calls
are slow.  With fewer jobs than cores the parent has a core of its own,
so it also does the second round of each message (the header fields, the
classification and the JSON text), which with a job per core the workers
do, so that the parent does not slow them down.

Each worker publishes in shared memory which message it is on and since
when, so the parent knows, without asking, which message a worker that
crashed (its connection closes) or that stays on one message past the
time limit plus a grace period (stuck in C code, where the in-process
deadline cannot reach) was working on.  That worker is killed and
replaced; its message gets a ``crash`` or ``timeout`` result and the rest
of its batches go to the next worker.  Workers come from a fork server
that has the engine imported, so starting (or replacing) one is cheap.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import selectors
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any, NamedTuple

from smimecore.errors import ScanError
from smimecore.scan.result import CRASH, TIMEOUT, ScanResult, failure
from smimecore.scan.sources import Location, MessageReader
from smimecore.scan.worker import (
    Batch,
    ScanSpec,
    Verified,
    finish_dicts,
    prepare,
    scan_batch,
    scan_location,
    verify_locations,
)

__all__ = ["GRACE_SECONDS", "LocalPool", "MessageFunction", "OnBatch", "default_jobs"]

GRACE_SECONDS = 5.0
"""How long past the time limit a worker on one message is given before it is killed."""
BATCH_SECONDS = 0.05
"""About how long a worker takes over a batch; each worker has up to two, so it never waits.

Batches are sized by time, from how long the last ones took a message: small messages go by the
hundred, so that the parent, which keeps the results of every worker, wakes up seldom; slow ones
go a few at a time, so that their results (and the progress) come soon.  Near the end of a scan
of known size batches shrink, so that no worker is left with many messages to go while the
others have finished."""
FIRST_BATCH = 16
"""Locations per batch before any batch has come back."""
MAX_BATCH = 512
"""Most locations per batch, however quick the messages."""
_TAIL_SHARE = 4  # near the end a batch is at most this fraction of each worker's share of the rest

MessageFunction = Callable[[Location, ScanSpec, MessageReader], ScanResult]
Task = tuple[int, Location]
# What travels through the pipes is plain tuples: a named tuple is pickled through a Python
# call (its __getnewargs__), which for small messages costs a worker about a percent of its time.
_PlainVerified = tuple[Any, ...]
OnBatch = Callable[[Sequence[int], Batch], None]
"""Called with the numbers of some messages and their results, in the same order."""
_READY = "ready"
_START_SECONDS = 60.0
_IDLE = -1.0
_SEQ, _STARTED = 0, 1  # the worker's shared state: the message it is on (or _IDLE), since when


def _worker_main(
    connection: multiprocessing.connection.Connection,
    state: Any,
    spec: ScanSpec,
    function: MessageFunction,
    finish_in_parent: bool,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    reader = MessageReader()
    try:
        connection.send(_READY)
        prepare(spec)  # while the parent indexes
        # What this process holds now (the modules, the engine's keys and trust) lives as long
        # as it does: kept out of the garbage collector's way, the collections that a scan's
        # results set off do not walk all of it (each full one took about 2% of a scan).
        gc.freeze()
        while sent := connection.recv():
            tasks = [(seq, Location._make(fields)) for seq, fields in sent]
            results = _scan_tasks(tasks, spec, function, reader, state, finish_in_parent)
            state[_SEQ] = _IDLE
            connection.send((tasks[-1][0], results))
    except (EOFError, OSError):
        pass  # the parent is gone: so is the reason to go on
    finally:
        reader.close()


def _scan_tasks(
    tasks: list[Task],
    spec: ScanSpec,
    function: MessageFunction,
    reader: MessageReader,
    state: Any,
    finish_in_parent: bool,
) -> Batch | list[_PlainVerified]:
    """The batch of results of ``tasks`` (their first rounds, for the parent to finish, when
    ``finish_in_parent``), showing in ``state`` which message is worked on."""

    def mark(index: int, since: float) -> None:
        state[_STARTED] = since  # before the number: see _Worker.current
        state[_SEQ] = tasks[index][0]

    if function is scan_location:  # the default: in two rounds, the same results
        locations = [location for _, location in tasks]
        if finish_in_parent:
            return [_plain(found) for found in verify_locations(locations, spec, reader, mark)]
        return scan_batch(locations, spec, reader, mark)
    results = Batch()
    for index, (_, location) in enumerate(tasks):
        mark(index, time.monotonic())
        results.add(function(location, spec, reader))
    return results


class _Starting(NamedTuple):
    """A worker process started and not yet ready."""

    process: BaseProcess
    connection: multiprocessing.connection.Connection
    state: Any
    since: float  # when it was started


@dataclass
class _Worker:
    process: BaseProcess
    connection: multiprocessing.connection.Connection
    state: Any
    tasks: deque[Task] = field(default_factory=deque)
    sent: deque[float] = field(default_factory=deque)  # when each batch in flight was sent
    replied: float = 0.0  # when its last batch came back

    def took(self, count: int) -> float:
        """Seconds a message of the batch of ``count`` just back took: since it was sent,
        or since the batch before it came back (the worker then went on to it)."""
        now = time.monotonic()
        started = max(self.sent.popleft(), self.replied) if self.sent else self.replied
        self.replied = now
        return (now - started) / max(1, count)

    def current(self) -> tuple[int, float] | None:
        """The message being scanned and since when, or ``None`` between batches."""
        seq = int(self.state[_SEQ])  # read first: a new number comes with its new time
        return None if seq < 0 else (seq, float(self.state[_STARTED]))


def _context() -> multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Not "__main__" (the default): CPython 3.11's fork server imports it without the
        # script's sys.path, and a script's own import failing there ends the fork server.
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


class LocalPool:
    """``jobs`` worker processes running ``function`` (default :func:`scan_location`).

    A worker on one message for the spec's timeout plus ``grace`` seconds is killed.
    ``finish_in_parent`` (default: with fewer jobs than cores) has the parent do each
    message's second round (see the module docstring).
    """

    def __init__(
        self,
        spec: ScanSpec,
        jobs: int,
        function: MessageFunction = scan_location,
        *,
        grace: float = GRACE_SECONDS,
        finish_in_parent: bool | None = None,
    ) -> None:
        if jobs < 1:
            raise ScanError(f"--jobs must be at least 1, not {jobs}")
        self.spec = spec
        self.jobs = jobs
        self.function = function
        if finish_in_parent is None:
            finish_in_parent = jobs < default_jobs()
        self.finish_in_parent = finish_in_parent
        self.limit = None if spec.timeout is None else spec.timeout + grace
        self._context = _context()
        self._workers: list[_Worker] = []
        self._starting: list[_Starting] = []
        self._expected: int | None = None  # tasks in all, when known
        self._taken = 0  # tasks taken from the iterator
        self._retry: deque[Task] = deque()
        self._seconds_per_message: float | None = None  # as the last batches took
        self._selector = selectors.DefaultSelector()

    def start(self) -> None:
        """Start the worker processes, without waiting for them.

        They load their engines meanwhile (the caller indexes the inputs);
        :meth:`run` waits for them, and starts them if this was not called.
        """
        while len(self._starting) < self.jobs:
            self._starting.append(self._spawn())

    def run(
        self,
        tasks: Iterator[Task],
        on_batch: OnBatch,
        expected: int | None = None,
        background: Callable[[], bool] | None = None,
    ) -> None:
        """Scan every task, calling ``on_batch`` as results arrive; then stop the workers.

        ``expected`` is how many tasks there are, when known (see :meth:`expect`).
        ``background`` is work for the time the workers need no attention: it
        does a little at a time and returns whether it did any (the index of a
        scan, made while the workers scan what is indexed already).
        """
        self._expected = expected
        try:
            self.start()
            # Each worker gets work as soon as it is ready; until the first is, the parent
            # does the background work (the index), which would otherwise slow the workers.
            for starting in self._starting:
                self._selector.register(starting.connection, selectors.EVENT_READ, starting)
            self._loop(tasks, on_batch, background)
        finally:
            self.close()

    def expect(self, count: int) -> None:
        """There are ``count`` tasks in all (those sent already included): near the end the
        batches shrink, so that the workers finish together."""
        self._expected = count

    def close(self) -> None:
        """Stop every worker (what :meth:`run` ends with; for a pool started but not run)."""
        self._workers.extend(
            _Worker(starting.process, starting.connection, starting.state)
            for starting in self._starting
        )
        self._starting.clear()
        self._stop()
        self._selector.close()

    def _start(self) -> _Worker:
        return self._ready(self._spawn())

    def _spawn(self) -> _Starting:
        parent, child = self._context.Pipe()
        state = self._context.RawArray("d", [_IDLE, 0.0])
        process = self._context.Process(
            target=_worker_main,
            args=(child, state, self.spec, self.function, self.finish_in_parent),
            name="smimecore-scan",
            daemon=True,
        )
        try:
            process.start()
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # the spec cannot travel
            raise ScanError(
                f"the configuration cannot be sent to worker processes: {exc}"
            ) from None
        finally:
            child.close()
        return _Starting(process, parent, state, time.monotonic())

    def _ready(self, starting: _Starting, wait: float = _START_SECONDS) -> _Worker:
        """The worker ``starting``, once it has said it is ready within ``wait`` seconds."""
        process, parent, state = starting.process, starting.connection, starting.state
        if not parent.poll(wait) or _receive_ready(parent) != _READY:
            process.kill()
            raise ScanError(
                f"a scan worker process did not start ({_exit_description(process)}; "
                "a script that scans must do so under `if __name__ == '__main__':`)"
            )
        worker = _Worker(process, parent, state)
        self._selector.register(parent, selectors.EVENT_READ, worker)
        return worker

    def _batch_size(self) -> int:
        per_message = self._seconds_per_message
        if per_message is None:
            size = FIRST_BATCH
        else:
            size = max(1, min(MAX_BATCH, int(BATCH_SECONDS / max(per_message, 1e-6))))
        if self._expected is None:
            return size
        left = self._expected - self._taken + len(self._retry)
        return max(1, min(size, left // (self.jobs * _TAIL_SHARE)))

    def _timed(self, worker: _Worker, count: int) -> None:
        """A batch of ``count`` came back from ``worker``: what the next batches hold follows."""
        took = worker.took(count)
        known = self._seconds_per_message
        self._seconds_per_message = took if known is None else (known + took) / 2

    def _next_batch(self, tasks: Iterator[Task], size: int) -> list[Task]:
        batch: list[Task] = []
        while self._retry and len(batch) < size:
            batch.append(self._retry.popleft())
        retried = len(batch)
        batch.extend(itertools.islice(tasks, size - retried))
        self._taken += len(batch) - retried
        return batch

    def _fill(self, tasks: Iterator[Task], on_batch: OnBatch) -> None:
        for worker in list(self._workers):
            while len(worker.tasks) < 2 * (size := self._batch_size()):
                batch = self._next_batch(tasks, size)
                if not batch:
                    return
                try:
                    worker.connection.send([(seq, tuple(location)) for seq, location in batch])
                except OSError:  # it died since it last answered
                    self._retry.extendleft(reversed(batch))
                    self._lost(worker, on_batch, CRASH, _exit_description(worker.process))
                    break
                worker.tasks.extend(batch)
                worker.sent.append(time.monotonic())

    def _loop(
        self, tasks: Iterator[Task], on_batch: OnBatch, background: Callable[[], bool] | None
    ) -> None:
        while True:
            self._fill(tasks, on_batch)
            busy = [worker for worker in self._workers if worker.tasks]
            if not busy and (self._workers or not self._starting):
                return  # nothing left to send, nothing in flight
            ready = self._selector.select(0 if background else self._wait_time(busy))
            if not ready and background and not background():
                background = None  # all done
            if not ready and not busy and not background:
                self._check_start()
            for key, _ in ready:
                if isinstance(key.data, _Worker):
                    self._receive(key.data, on_batch)
                else:
                    self._join(key.data)
            for worker in busy:
                self._check_deadline(worker, on_batch)

    def _join(self, starting: _Starting, wait: float = _START_SECONDS) -> None:
        """A worker started with the others has said it is ready (or died trying)."""
        self._selector.unregister(starting.connection)
        self._starting.remove(starting)
        self._workers.append(self._ready(starting, wait))

    def _check_start(self) -> None:
        """No worker has said it is ready: raise once the oldest took too long to start."""
        if self._start_left() < 0:
            self._join(self._starting[0], wait=0.0)  # raises: it did not start

    def _start_left(self) -> float:
        """Seconds the oldest worker still starting has left to say it is ready."""
        return self._starting[0].since + _START_SECONDS - time.monotonic()

    def _wait_time(self, busy: list[_Worker]) -> float | None:
        if not busy:  # waiting for a worker to start
            return max(0.0, self._start_left())
        if self.limit is None:
            return None
        started = [current[1] for current in (w.current() for w in busy) if current]
        if not started:
            return self.limit
        return max(0.0, min(started) + self.limit - time.monotonic())

    def _receive(self, worker: _Worker, on_batch: OnBatch) -> None:
        try:
            last, results = worker.connection.recv()
        except (EOFError, OSError):
            self._lost(worker, on_batch, CRASH, _exit_description(worker.process))
            return
        count = len(results.texts if isinstance(results, Batch) else results)
        self._timed(worker, count)
        tasks = [worker.tasks.popleft() for _ in range(min(count, len(worker.tasks)))]
        if len(tasks) != count or not tasks or tasks[-1][0] != last:
            raise ScanError(
                f"a worker answered for message {last}, not {[seq for seq, _ in tasks[-1:]]}"
            )
        if isinstance(results, list):  # first rounds, to be finished here
            pairs = zip(tasks, results, strict=True)
            found = (_verified(location, plain) for (_, location), plain in pairs)
            results = Batch.of_dicts(finish_dicts(found, self.spec))
        on_batch([seq for seq, _ in tasks], results)

    def _check_deadline(self, worker: _Worker, on_batch: OnBatch) -> None:
        current = worker.current()
        if self.limit is None or current is None:
            return
        if time.monotonic() - current[1] > self.limit:
            detail = f"no result within {self.spec.timeout:g} s; killed"
            self._lost(worker, on_batch, TIMEOUT, detail)

    def _lost(self, worker: _Worker, on_batch: OnBatch, reason: str, detail: str) -> None:
        """The worker died or is killed: its message gets ``reason``, the rest go again."""
        current = worker.current()
        self._selector.unregister(worker.connection)
        _kill(worker)
        failed = [task for task in worker.tasks if current and task[0] == current[0]]
        self._retry.extendleft(reversed([task for task in worker.tasks if task not in failed]))
        worker.tasks.clear()
        self._workers[self._workers.index(worker)] = self._start()
        for seq, location in failed:
            on_batch([seq], Batch.of([failure(location, reason, detail)]))

    def _stop(self) -> None:
        for worker in self._workers:
            try:
                worker.connection.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            _kill(worker)
        self._workers = []


def _plain(found: Verified) -> _PlainVerified:
    """``found`` as a plain tuple, which pickles several times faster than a named one, less
    its location (which the parent has)."""
    return found[1:]


def _verified(location: Location, plain: _PlainVerified) -> Verified:
    """The :class:`Verified` that :func:`_plain` made ``plain`` of."""
    return Verified(location, *plain)


def _receive_ready(connection: multiprocessing.connection.Connection) -> object:
    try:
        return connection.recv()
    except (EOFError, OSError):
        return None


def _kill(worker: _Worker) -> None:
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join(5.0)
    worker.connection.close()


def _exit_description(process: BaseProcess) -> str:
    process.join(1.0)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"the worker died of {signal.Signals(-code).name}"
        except ValueError:
            return f"the worker died of signal {-code}"
    return f"the worker exited (status {code})"


def default_jobs() -> int:
    """The number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
