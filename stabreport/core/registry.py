"""Registries: every open set of stabreport (experiments, figure kinds, statistics, claim checks,
computation paths, languages) is a group of entry points, stabreport's own declarations
included, on the model of MkDocs' `mkdocs.plugins` and pytest's `pytest11`.

A declaration is one object with a `name`, registered once:

    [project.entry-points."stabreport.figures"]
    gain-spread = "my_package:GAIN_SPREAD"

Names are read without importing anything; a declaration is imported the first time it is asked
for. An unknown name is a `ConfigError` that lists the registered ones; nothing falls back.
"""
from __future__ import annotations

import difflib
from dataclasses import replace
from functools import lru_cache
from importlib import metadata
from typing import Any, Callable, Generic, TypeVar

from ..errors import ConfigError, StabreportError

T = TypeVar("T")

_ALL: list["Registry[Any]"] = []


def package_of(entry: metadata.EntryPoint) -> str:
    """The distribution that declared an entry point, for messages: "name version"."""
    dist = getattr(entry, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else entry.module


class Registry(Generic[T]):
    """The declarations of one entry-point group, by name.

    `what` names a declaration in messages ("figure kind"); `kind` is the class each must be an
    instance of; `loaded` may complete a declaration once it is loaded (the experiments record
    the package that shipped them)."""

    def __init__(self, group: str, what: str, kind: type, loaded: Callable[[Any, str], Any] | None = None):
        self.group, self.what, self.kind, self._loaded = group, what, kind, loaded
        self._entries = lru_cache(maxsize=1)(self._find)
        self._load = lru_cache(maxsize=None)(self._import)
        _ALL.append(self)

    def _find(self) -> dict[str, metadata.EntryPoint]:
        found: dict[str, metadata.EntryPoint] = {}
        for entry in metadata.entry_points(group=self.group):
            if entry.name in found and found[entry.name].value != entry.value:
                first = found[entry.name]
                raise StabreportError(
                    f"{self.what} {entry.name!r} is declared twice: by {package_of(first)} "
                    f"({first.value}) and by {package_of(entry)} ({entry.value}); allowed: one "
                    "declaration per name (uninstall one of the packages)")
            found[entry.name] = entry
        if not found:
            raise StabreportError(f"nothing is registered under the entry-point group {self.group!r}; "
                                  "allowed: an installed stabreport (`pip install -e .` or `make docs`)")
        return dict(sorted(found.items()))

    def _import(self, name: str) -> T:
        entry = self._entries()[name]
        try:
            declared = entry.load()
        except Exception as error:  # a broken plug-in is named, not a traceback
            raise StabreportError(f"{self.what} {name!r} from {package_of(entry)} failed to import "
                                  f"({type(error).__name__}: {error})") from None
        if not isinstance(declared, self.kind) or getattr(declared, "name", None) != name:
            raise StabreportError(
                f"entry point {name!r} of {package_of(entry)} ({entry.value}) is not a "
                f"{self.kind.__name__} named {name!r}; allowed: a {self.kind.__module__}."
                f"{self.kind.__name__} whose name is the entry point's")
        return self._loaded(declared, package_of(entry)) if self._loaded else declared

    def names(self) -> list[str]:
        """Every registered name, sorted, without importing any declaration."""
        return list(self._entries())

    def package(self, name: str) -> str:
        return package_of(self._entries()[name])

    def get(self, name: str, where: str = "") -> T:
        """The declaration of `name`; an unknown name is an error listing the registered ones."""
        if name not in self._entries():
            guess = difflib.get_close_matches(str(name), self.names(), n=1)
            raise ConfigError(f"{where}unknown {self.what} {name!r}"
                              + (f" (did you mean '{guess[0]}'?)" if guess else "")
                              + "; allowed: " + ", ".join(self.names()))
        return self._load(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries()

    def all(self) -> list[T]:
        """Every declaration, loaded, in name order."""
        return [self._load(name) for name in self.names()]

    def select(self, test: Callable[[T], bool]) -> list[str]:
        """The names of the declarations that pass `test`."""
        return [d.name for d in self.all() if test(d)]  # type: ignore[attr-defined]

    def reset(self) -> None:
        self._entries.cache_clear()
        self._load.cache_clear()


def reset_all() -> None:
    """Forget every registry's findings (after installing a plug-in into a running process)."""
    for registry in _ALL:
        registry.reset()


def with_source(declared: Any, source: str) -> Any:
    """A declaration that records the package it came from (its `source` field)."""
    return replace(declared, source=source)
