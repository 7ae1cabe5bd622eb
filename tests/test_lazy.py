"""The lock-free ``cached_property`` every layer uses."""

from __future__ import annotations

import threading

from smimecore.lazy import cached_property


class _Counted:
    def __init__(self) -> None:
        self.calls = 0

    @cached_property
    def value(self) -> int:
        """Counts its calls."""
        self.calls += 1
        return self.calls * 10


def test_computed_once_per_instance_and_kept_in_its_dict() -> None:
    first, second = _Counted(), _Counted()
    assert (first.value, first.value, second.value) == (10, 10, 10)
    assert (first.calls, second.calls) == (1, 1)
    assert first.__dict__["value"] == 10
    del first.value  # forgetting it computes it again, as functools' does
    assert first.value == 20


def test_the_class_gives_the_descriptor_with_its_docstring() -> None:
    descriptor = _Counted.value
    assert isinstance(descriptor, cached_property)
    assert descriptor.__doc__ == "Counts its calls."
    assert descriptor.name == "value"


def test_threads_read_one_value_without_a_lock() -> None:
    shared = _Counted()
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(shared.value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 or shared.value in seen  # a race computes again, never fails
