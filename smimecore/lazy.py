"""Values computed on first use and kept: :class:`cached_property`.

Python 3.11's ``functools.cached_property`` takes a lock on every first access (3.12 dropped
the lock, which serialised the first access across all instances of a class).  Messages,
certificates, CMS objects and status records each compute a dozen such values once, so the
lock cost every operation about 4% of its instructions.  This is the lock-free descriptor of
Python 3.12 onwards, for every version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["cached_property"]

_T = TypeVar("_T")


class cached_property(Generic[_T]):  # noqa: N801 - the name functools gives it
    """Like ``functools.cached_property``: computed on first access, then kept in the
    instance's ``__dict__`` (where later accesses find it without calling this)."""

    def __init__(self, function: Callable[[Any], _T]) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.function(instance)
        instance.__dict__[self.name] = value
        return value
