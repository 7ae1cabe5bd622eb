"""Progress on stderr: a bar with rate and ETA on a terminal, plain periodic lines otherwise.

The bar is tqdm's (the optional extra ``smimecore[progress]``): one small
package with no dependencies of its own that draws exactly this (count,
rate, ETA) on any stream and degrades cleanly; rich would bring a whole
rendering library (and pygments) for one bar.  Without tqdm, or when
stderr is not a terminal (a log, a pipe, CI), a line is written every
few seconds instead.  ``--quiet`` shows nothing.
"""

from __future__ import annotations

import shutil
import time
from typing import Any, Protocol, TextIO

__all__ = ["LINE_SECONDS", "Progress", "make_progress"]

LINE_SECONDS = 10.0
"""How often a plain progress line is written."""


class Progress(Protocol):
    """Told how many messages are done."""

    def advance(self, count: int = 1) -> None:
        """``count`` more messages have a result."""
        ...

    def close(self) -> None:
        """The scan is over (or stopped)."""
        ...


class _Silent:
    def advance(self, count: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class _Lines:
    """A line every few seconds: ``scan: 1,234 of 10,000 messages (12%), 410 msg/s, ...``."""

    def __init__(self, stream: TextIO, total: int, done: int, interval: float) -> None:
        self.stream = stream
        self.total = total
        self.done = done
        self.interval = interval
        self.started = self.last = time.monotonic()
        self.first = done

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._write(now)

    def close(self) -> None:
        self._write(time.monotonic())

    def _write(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = (self.done - self.first) / elapsed
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        left = ""
        if rate > 0 and self.done < self.total:
            left = f", about {_duration((self.total - self.done) / rate)} left"
        self.stream.write(
            f"scan: {self.done:,} of {self.total:,} messages{share}, {rate:,.0f} msg/s{left}\n"
        )
        self.stream.flush()


class _Bar:
    def __init__(self, stream: TextIO, total: int, done: int) -> None:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread in a process that starts workers
        size = shutil.get_terminal_size()
        self._bar: Any = tqdm(
            total=total,
            initial=done,
            unit="msg",
            file=stream,
            # The size from the terminal, else 80x24 (tqdm draws nothing on a terminal that
            # reports no size).
            ncols=size.columns,
            nrows=size.lines,
            smoothing=0.1,
        )

    def advance(self, count: int = 1) -> None:
        self._bar.update(count)

    def close(self) -> None:
        self._bar.close()


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def make_progress(
    stream: TextIO,
    total: int,
    done: int = 0,
    *,
    quiet: bool = False,
    interval: float = LINE_SECONDS,
) -> Progress:
    """The progress display for ``total`` messages of which ``done`` already have a result."""
    if quiet:
        return _Silent()
    if stream.isatty():
        try:
            return _Bar(stream, total, done)
        except ImportError:
            pass
    return _Lines(stream, total, done, interval)
