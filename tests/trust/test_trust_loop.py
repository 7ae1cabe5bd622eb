"""Running validation coroutines: by hand in the caller's thread, or on the private loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from smimecore.trust.loop import run_offline


async def _pure(value: int) -> tuple[int, str]:
    await asyncio.sleep(0)  # a bare yield: no loop needed
    return value * 2, threading.current_thread().name


async def _waits(value: int) -> tuple[int, str]:
    await asyncio.sleep(0.001)  # a timer: only a loop can finish this
    return value * 2, threading.current_thread().name


async def _fails() -> None:
    raise ValueError("from inside")


def test_pure_computation_runs_in_the_callers_thread() -> None:
    assert run_offline(lambda: _pure(21)) == (42, threading.current_thread().name)


def test_a_coroutine_that_waits_is_run_again_on_the_loop() -> None:
    made = []

    def make() -> object:
        made.append(1)
        return _waits(21)

    value, thread = run_offline(make)  # type: ignore[arg-type]
    assert value == 42
    assert thread == "smimecore-trust-loop"
    assert len(made) == 2  # the first attempt was dropped, not resumed elsewhere


def test_works_inside_a_running_event_loop() -> None:
    async def inside() -> tuple[tuple[int, str], tuple[int, str]]:
        return run_offline(lambda: _pure(1)), run_offline(lambda: _waits(2))

    pure, waited = asyncio.run(inside())
    assert pure[0] == 2 and pure[1] == threading.current_thread().name
    assert waited == (4, "smimecore-trust-loop")


def test_exceptions_come_through_unchanged() -> None:
    with pytest.raises(ValueError, match="from inside"):
        run_offline(_fails)
