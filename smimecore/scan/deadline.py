"""A time limit for one message, in any thread: :func:`deadline`, or a :class:`TimeLimit` for
the messages of a batch, one after another.

Dask runs tasks in worker threads, where ``signal.alarm`` cannot reach,
so one watchdog thread per process raises :class:`MessageTimeout` in the
late thread (CPython's ``PyThreadState_SetAsyncExc``).  Like a signal
handler it takes effect between two Python bytecodes: a call stuck inside
C code is stopped only when it returns, which is why the local pool also
kills a worker that stays silent past the limit (``pool.py``).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
import time
from contextlib import AbstractContextManager

__all__ = ["MessageTimeout", "TimeLimit", "deadline"]


class MessageTimeout(BaseException):
    """Raised in a thread whose message ran past its time limit.

    A ``BaseException``, so that no ``except Exception`` on the way catches it.
    """


_IDLE_SECONDS = 1.0  # with nothing to watch, the watchdog looks again this often
_set_async_exc = getattr(ctypes, "pythonapi", None)
_set_async_exc = getattr(_set_async_exc, "PyThreadState_SetAsyncExc", None)


class _Watchdog:
    """Raises :class:`MessageTimeout` in threads whose deadline has passed.

    Whoever takes a deadline out of the table first, the watchdog (it
    fires) or the thread leaving its block (nothing fires), decides; a
    ``dict.pop`` is atomic, so the thread never holds a lock while an
    exception may arrive.  The watchdog looks at least once a second, so
    arming a deadline further away than that takes no lock and wakes
    nobody (this runs for every message of an archive).
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self.deadlines: dict[int, TimeLimit] = {}  # each armed limit, by its token
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the watchdog looks next (at the latest)

    def arm(self, entry: TimeLimit, expires: float) -> None:
        entry.thread = threading.get_ident()
        entry.expires = expires
        entry.raised = False
        entry.token = token = next(self._tokens)
        self.deadlines[token] = entry
        if self._thread is None or expires < self._wakes_at + _IDLE_SECONDS:
            with self._condition:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="smimecore-deadline", daemon=True
                    )
                    self._thread.start()
                self._condition.notify()

    def late(self, entry: TimeLimit) -> None:
        """The watchdog has taken ``entry``'s deadline out of the table: raise here, once."""
        # Wait (without a lock, which the exception could leave held) until it has raised.
        while not entry.raised:
            time.sleep(0.0001)
        _raise_in(entry.thread, None)
        raise MessageTimeout

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for token, entry in list(self.deadlines.items()):
                    if entry.expires <= now and self.deadlines.pop(token, None) is not None:
                        _raise_in(entry.thread, MessageTimeout)
                        entry.raised = True
                upcoming = [entry.expires for entry in list(self.deadlines.values())]
                self._wakes_at = min([*upcoming, now + _IDLE_SECONDS])
                self._condition.wait(self._wakes_at - now)


def _raise_in(thread: int, exception: type[BaseException] | None) -> None:
    if _set_async_exc is not None:
        _set_async_exc(ctypes.c_ulong(thread), ctypes.py_object(exception) if exception else None)


_WATCHDOG = _Watchdog()


class TimeLimit:
    """A thread's time limit for blocks run one after another, such as the messages of a batch.

    :meth:`start` begins a block whose limit runs from ``since`` (a ``time.monotonic()``
    reading) and :meth:`stop` ends it; past the limit :class:`MessageTimeout` is raised in the
    thread, as :func:`deadline` does (which is one such block).  Used by one thread; made
    once for many blocks, since this runs for every message of an archive.  ``None`` sets no
    limit.
    """

    __slots__ = ("expires", "raised", "seconds", "thread", "token")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.token = 0  # set while armed
        self.raised = False
        self.thread = 0
        self.expires = 0.0

    def start(self, since: float) -> None:
        """Begin a block whose time limit runs from ``since``."""
        if self.seconds is not None:
            _WATCHDOG.arm(self, since + self.seconds)

    def stop(self) -> None:
        """End the block (call it in a ``finally``): raises :class:`MessageTimeout` if it ran
        past its limit and the exception did not surface within it."""
        token = self.token
        if token:
            self.token = 0
            if _WATCHDOG.deadlines.pop(token, None) is None:  # atomic: see _Watchdog
                _WATCHDOG.late(self)

    # A class, not a generator-based context manager: one could be left suspended by an
    # exception arriving inside ``contextlib``'s own code.
    def __enter__(self) -> None:
        self.start(time.monotonic())

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def deadline(seconds: float | None) -> AbstractContextManager[None]:
    """Raise :class:`MessageTimeout` in this thread if the block runs longer than ``seconds``.

    ``None`` sets no limit.  Catch the exception outside the ``with``
    block: it may surface while the block is being left.  On interpreters
    without ``PyThreadState_SetAsyncExc`` a late block runs to its end and
    then raises.
    """
    return TimeLimit(seconds)
