"""Values computed on first use and kept: :class:`cached_property`, :func:`kind_of_class`.

Python 3.11's ``functools.cached_property`` takes a lock on every first access (3.12 dropped
the lock, which serialised the first access across all instances of a class).  Messages,
certificates, CMS objects and status records each compute a dozen such values once, so the
lock cost every operation about 4% of its instructions.  This is the lock-free descriptor of
Python 3.12 onwards, for every version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["cached_property", "kind_of_class"]

_T = TypeVar("_T")
_K = TypeVar("_K")


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


def kind_of_class(
    key_type: type, kinds: tuple[tuple[_K, type], ...], known: dict[type, _K | None]
) -> _K | None:
    """The first of ``kinds`` that ``key_type`` derives from, remembered in ``known``.

    Remembered by class: ``isinstance`` against cryptography's key ABCs costs
    more than an RSA verification, and each message asks about its key several times.
    """
    if key_type in known:
        return known[key_type]
    kind = next((kind for kind, base in kinds if issubclass(key_type, base)), None)
    known[key_type] = kind
    return kind
