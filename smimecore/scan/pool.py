"""Every core of this machine: worker processes, each with its own engine.

The parent sends each worker batches of locations (never message bytes)
and gets one JSON result back per message, in order.  It knows which
message every worker is on, so a worker that crashes (the connection
closes) or stays silent past the time limit plus a grace period (stuck in
C code, where the in-process deadline cannot reach) is killed and
replaced: that message gets a ``crash`` or ``timeout`` result and the rest
of its batch goes to the next worker.  Workers come from a fork server
that has the engine imported, so starting (or replacing) one is cheap.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess

from smimecore.errors import ScanError
from smimecore.scan.result import CRASH, TIMEOUT, ScanResult, encode, failure
from smimecore.scan.sources import Location, MessageReader
from smimecore.scan.worker import ScanSpec, scan_location

__all__ = ["GRACE_SECONDS", "LocalPool", "MessageFunction", "default_jobs"]

GRACE_SECONDS = 5.0
"""How long past the time limit a silent worker is given before it is killed."""
BATCH = 8
"""Locations per batch; each worker has up to two batches, so it never waits for the parent."""

MessageFunction = Callable[[Location, ScanSpec, MessageReader], ScanResult]
Task = tuple[int, Location]
OnResult = Callable[[int, str], None]
_READY = "ready"
_START_SECONDS = 60.0


def _worker_main(
    connection: multiprocessing.connection.Connection, spec: ScanSpec, function: MessageFunction
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    reader = MessageReader()
    try:
        connection.send(_READY)
        while batch := connection.recv():
            for seq, location in batch:
                text = encode(function(location, spec, reader).to_dict())
                connection.send((seq, text))
    except (EOFError, OSError):
        pass  # the parent is gone: so is the reason to go on
    finally:
        reader.close()


@dataclass
class _Worker:
    process: BaseProcess
    connection: multiprocessing.connection.Connection
    tasks: deque[Task] = field(default_factory=deque)
    since: float = 0.0  # when the first of ``tasks`` started

    def send(self, batch: list[Task]) -> None:
        self.connection.send(batch)
        if not self.tasks:
            self.since = time.monotonic()
        self.tasks.extend(batch)


def _context() -> multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


class LocalPool:
    """``jobs`` worker processes running ``function`` (default :func:`scan_location`).

    A worker silent for the spec's timeout plus ``grace`` seconds is killed.
    """

    def __init__(
        self,
        spec: ScanSpec,
        jobs: int,
        function: MessageFunction = scan_location,
        *,
        grace: float = GRACE_SECONDS,
    ) -> None:
        if jobs < 1:
            raise ScanError(f"--jobs must be at least 1, not {jobs}")
        self.spec = spec
        self.jobs = jobs
        self.function = function
        self.limit = None if spec.timeout is None else spec.timeout + grace
        self._context = _context()
        self._workers: list[_Worker] = []
        self._retry: deque[Task] = deque()

    def run(self, tasks: Iterator[Task], on_result: OnResult) -> None:
        """Scan every task, calling ``on_result(seq, json)`` as each result arrives."""
        try:
            self._workers = [self._start() for _ in range(self.jobs)]
            self._loop(tasks, on_result)
        finally:
            self._stop()

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main,
            args=(child, self.spec, self.function),
            name="smimecore-scan",
            daemon=True,
        )
        try:
            process.start()
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # the spec cannot travel
            raise ScanError(
                f"the configuration cannot be sent to worker processes: {exc}"
            ) from None
        child.close()
        if not parent.poll(_START_SECONDS) or _receive_ready(parent) != _READY:
            process.kill()
            raise ScanError(f"a scan worker process did not start ({_exit_description(process)})")
        return _Worker(process, parent)

    def _next_batch(self, tasks: Iterator[Task]) -> list[Task]:
        batch: list[Task] = []
        while self._retry and len(batch) < BATCH:
            batch.append(self._retry.popleft())
        for task in tasks:
            batch.append(task)
            if len(batch) >= BATCH:
                break
        return batch

    def _fill(self, tasks: Iterator[Task], on_result: OnResult) -> None:
        for worker in list(self._workers):
            while len(worker.tasks) < 2 * BATCH:
                batch = self._next_batch(tasks)
                if not batch:
                    return
                try:
                    worker.send(batch)
                except OSError:  # it died since it last answered
                    self._retry.extendleft(reversed(batch))
                    if worker.tasks:
                        self._replace(worker, on_result, CRASH, _exit_description(worker.process))
                    else:
                        self._restart(worker)
                    break

    def _loop(self, tasks: Iterator[Task], on_result: OnResult) -> None:
        while True:
            self._fill(tasks, on_result)
            busy = [worker for worker in self._workers if worker.tasks]
            if not busy:
                return  # nothing left to send, nothing in flight
            ready = multiprocessing.connection.wait(
                [worker.connection for worker in busy], timeout=self._wait_time(busy)
            )
            for worker in busy:
                if worker.connection in ready:
                    self._receive(worker, on_result)
            for worker in busy:
                self._check_deadline(worker, on_result)

    def _wait_time(self, busy: list[_Worker]) -> float | None:
        if self.limit is None:
            return None
        now = time.monotonic()
        return max(0.0, min(worker.since + self.limit - now for worker in busy))

    def _receive(self, worker: _Worker, on_result: OnResult) -> None:
        while worker.tasks:
            try:
                seq, text = worker.connection.recv()
            except (EOFError, OSError):
                self._replace(worker, on_result, CRASH, _exit_description(worker.process))
                return
            worker.tasks.popleft()
            worker.since = time.monotonic()
            on_result(seq, text)
            if not worker.connection.poll():
                return

    def _check_deadline(self, worker: _Worker, on_result: OnResult) -> None:
        if self.limit is None or not worker.tasks:
            return
        if time.monotonic() - worker.since > self.limit:
            self._replace(
                worker, on_result, TIMEOUT, f"no result within {self.spec.timeout:g} s; killed"
            )

    def _replace(self, worker: _Worker, on_result: OnResult, reason: str, detail: str) -> None:
        """Give the worker's current message ``reason``, kill it, start another in its place."""
        seq, location = worker.tasks.popleft()
        self._retry.extendleft(reversed(worker.tasks))
        worker.tasks.clear()
        self._restart(worker)
        on_result(seq, encode(failure(location, reason, detail).to_dict()))

    def _restart(self, worker: _Worker) -> None:
        _kill(worker)
        self._workers[self._workers.index(worker)] = self._start()

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
