"""Beyond one machine: the same per-message function on a Dask distributed cluster.

Partitions of locations (paths and offsets, never message bytes) go to the
workers through the scheduler; each worker reads its messages from shared
storage, calls :func:`~smimecore.scan.worker.scan_batch`, and sends
the results back, which land in the same database and reports as a local
run's.  The spec travels once per worker (``scatter``), and each worker
process builds its engine once.  A partition whose task fails (a worker
died on it) is run again one message at a time, so the one message that
kills workers ends with a ``crash`` result and the rest are scanned.

Dask is an optional extra: ``pip install 'smimecore[dask]'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smimecore.errors import ScanError, first_line
from smimecore.scan.pool import OnBatch, Task
from smimecore.scan.result import CRASH, failure
from smimecore.scan.worker import Batch, ScanSpec, scan_batch

__all__ = ["partition_size", "run_on_dask"]

MAX_PARTITION = 256
_PARTITIONS_PER_THREAD = 4
_CONNECT_SECONDS = 30


def partition_size(total: int, threads: int) -> int:
    """Messages per partition: a few partitions per worker thread, at most 256 messages each."""
    return max(1, min(MAX_PARTITION, total // (max(threads, 1) * _PARTITIONS_PER_THREAD)))


def run_on_dask(
    address: str, spec: ScanSpec, tasks: Iterator[Task], on_batch: OnBatch, total: int
) -> None:
    """Scan ``tasks`` on the cluster whose scheduler is at ``address``."""
    try:
        from distributed import Client
    except ImportError:
        raise ScanError("--dask needs Dask distributed: pip install 'smimecore[dask]'") from None
    try:
        client = Client(address, timeout=_CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScanError(
            f"cannot reach the Dask scheduler at {address}: {first_line(exc)}"
        ) from None
    with client:
        _Submitter(client, spec, tasks, on_batch, total).run()


class _Submitter:
    """Keeps a bounded number of partitions in flight and collects their results in any order."""

    def __init__(
        self, client: Any, spec: ScanSpec, tasks: Iterator[Task], on_batch: OnBatch, total: int
    ) -> None:
        from distributed import as_completed

        self.client = client
        self.tasks = tasks
        self.on_batch = on_batch
        threads = sum(client.nthreads().values()) or 1
        self.size = partition_size(total, threads)
        self.window = threads * 2
        self.spec = client.scatter(spec, broadcast=True)
        self.in_flight = as_completed()  # type: ignore[no-untyped-call]
        self.batches: dict[str, list[Task]] = {}

    def run(self) -> None:
        for _ in range(self.window):
            if not self._submit_next():
                break
        for future in self.in_flight:
            batch = self.batches.pop(future.key)
            try:
                results = future.result()
            except Exception as exc:  # the task failed: a worker died on it, or could not run it
                self._failed(batch, exc)
                continue
            if len(results.texts) != len(batch):
                raise ScanError(f"a Dask task gave {len(results.texts)} results for {len(batch)}")
            self.on_batch([seq for seq, _ in batch], results)
            self._submit_next()

    def _submit_next(self) -> bool:
        batch = [task for _, task in zip(range(self.size), self.tasks, strict=False)]
        if batch:
            self._submit(batch)
        return bool(batch)

    def _submit(self, batch: list[Task]) -> None:
        locations = [location for _, location in batch]
        future = self.client.submit(scan_batch, locations, self.spec, pure=False)
        self.batches[future.key] = batch
        self.in_flight.add(future)  # type: ignore[no-untyped-call]

    def _failed(self, batch: list[Task], exc: Exception) -> None:
        if isinstance(exc, ImportError):
            raise ScanError(f"the Dask workers cannot run smimecore: {first_line(exc)}") from None
        if len(batch) > 1:
            for task in batch:
                self._submit([task])
            return
        (seq, location) = batch[0]
        detail = f"the Dask task failed: {type(exc).__name__}: {first_line(exc)}"
        self.on_batch([seq], Batch.of([failure(location, CRASH, detail)]))
        self._submit_next()
