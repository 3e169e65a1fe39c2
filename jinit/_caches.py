"""One registry of jinit's caches, and :func:`clear_caches` (as equinox has).

Every cache registers its ``clear`` here when it is made: compiled programs and
checked configurations are kept for speed, and a long-running process (a
notebook that redefines models, a test suite) can drop them all at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

cache_clears: list[Callable[[], None]] = []

_F = TypeVar("_F")


def registered(fn: _F) -> _F:
    """Registers a ``functools`` cache's ``cache_clear``; returns the function."""
    cache_clears.append(fn.cache_clear)  # type: ignore[attr-defined]
    return fn


class Memo(dict):
    """A dict cache that empties itself once it holds ``maxsize`` entries.

    For values that ``functools`` caches can't key (compiled programs keyed by
    a configuration computed at the call). Registered for :func:`clear_caches`.
    """

    def __init__(self, maxsize: int = 1024):
        super().__init__()
        self.maxsize = maxsize
        cache_clears.append(self.clear)

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            if len(self) >= self.maxsize:
                self.clear()
            value = self[key] = make()
        return value


def clear_caches() -> None:
    """Empties every cache jinit keeps (compiled draws, checked configurations).

    Values drawn afterwards are the same; the next calls compile again.
    """
    for clear in cache_clears:
        clear()
