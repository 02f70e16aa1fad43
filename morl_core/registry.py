"""The one shape of every extension point: a name -> entry table with clear errors for unknown names.

Agents, scalarizers, metrics, reward models and environment kinds each keep one :class:`Registry`. Adding one is a
new class or function plus one ``register`` line; every lookup of an unknown name fails the same way, naming the
parameter, the known names and the closest one.

>>> colours = Registry("colour")
>>> colours.register("red", 1)
1
>>> colours.get("rad")
Traceback (most recent call last):
...
morl_core.errors.MorlError: `colour` must be one of ['red']; got 'rad'. Did you mean 'red'?
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from morl_core.errors import MorlError, did_you_mean, message

__all__ = ["Registry", "resolve"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, in registration order. ``kind`` is the parameter name used in errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name`` (refusing a name taken by another entry) and return it."""
        if not isinstance(name, str) or not name:
            raise TypeError(message(f"{self.kind} name", "must be a non-empty str", name))
        if name in self._entries and self._entries[name] is not entry:
            raise MorlError.of(f"{self.kind} name", "must not be registered twice", name,
                               f"{name!r} is already {self._entries[name]!r}")
        self._entries[name] = entry
        return entry

    def get(self, name: object, field: str | None = None) -> T:
        """The entry called ``name``; a :class:`MorlError` naming ``field`` (default: the kind) and the known names
        otherwise."""
        if isinstance(name, str) and name in self._entries:
            return self._entries[name]
        hint = did_you_mean(name, self._entries).strip() if isinstance(name, str) else ""
        raise MorlError.of(field or self.kind, f"must be one of {list(self._entries)}", name, hint)

    def unregister(self, name: str) -> T:
        """Remove and return the entry called ``name`` (tests that register a stand-in take it out again)."""
        entry = self.get(name)
        del self._entries[name]
        return entry

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, in registration order."""
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"


def resolve(entry_point: str) -> object:
    """The object named by ``"package.module:attribute"``, importing the module on first use (the form of
    Gymnasium's entry points; it lets a registry name heavy classes without importing them)."""
    module, sep, attribute = entry_point.partition(":")
    if not sep or not module or not attribute:
        raise MorlError.of("entry_point", "must be 'package.module:attribute'", entry_point)
    return getattr(importlib.import_module(module), attribute)
