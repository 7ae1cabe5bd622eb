"""A private event loop on a worker thread, so that sync code can await coroutines.

pyhanko-certvalidator 0.33 validates only asynchronously.  ``asyncio.run``
cannot be used when the caller already runs an event loop (a web server,
a test inside ``asyncio.run``), and a fresh loop per call costs more, so
one daemon thread runs one loop for the whole process.  After ``fork`` the
child starts its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any, TypeVar, cast

__all__ = ["LoopTimeoutError", "run_coroutine", "run_offline"]

_Result = TypeVar("_Result")


class LoopTimeoutError(TimeoutError):
    """The coroutine did not finish in time (it has been cancelled)."""


class _LoopThread:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="smimecore-trust-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()


_lock = threading.Lock()
_current: _LoopThread | None = None


def _loop_thread() -> _LoopThread:
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid() or not _current.thread.is_alive():
            _current = _LoopThread()
        return _current


def run_coroutine(coroutine: Coroutine[Any, Any, _Result], timeout: float | None = None) -> _Result:
    """Run ``coroutine`` on the private loop and wait for its result.

    Safe to call from any thread, including one that runs its own event
    loop (that loop is blocked meanwhile, as with any sync call).  On
    ``timeout`` the coroutine is cancelled and :class:`LoopTimeoutError`
    raised.
    """
    worker = _loop_thread()
    if threading.current_thread() is worker.thread:
        coroutine.close()
        raise RuntimeError("run_coroutine called from the trust loop itself")
    future = asyncio.run_coroutine_threadsafe(coroutine, worker.loop)
    try:
        return future.result(timeout)
    except FutureTimeoutError:
        future.cancel()
        raise LoopTimeoutError(f"validation did not finish within {timeout} s") from None


class _NeedsLoopError(Exception):
    """The coroutine awaited something only an event loop can complete."""


def run_offline(make_coroutine: Callable[[], Coroutine[Any, Any, _Result]]) -> _Result:
    """Run a coroutine that normally never waits, in the caller's thread; else on the loop.

    Offline validation is pure computation: its coroutine runs to the end
    when driven by hand, which saves the hop to the loop thread (most of a
    cold verification's overhead).  If it does wait on a future (or needs
    a running loop), that attempt is dropped and a fresh coroutine from
    ``make_coroutine`` runs on the private loop instead.
    """
    try:
        return _drive(make_coroutine())
    except _NeedsLoopError:
        return run_coroutine(make_coroutine())


def _drive(coroutine: Coroutine[Any, Any, _Result]) -> _Result:
    try:
        while True:
            if coroutine.send(None) is not None:
                raise _NeedsLoopError  # a future to wait for
    except StopIteration as finished:
        return cast(_Result, finished.value)
    except RuntimeError as exc:
        if "event loop" in str(exc):
            raise _NeedsLoopError from None
        raise
    finally:
        coroutine.close()
