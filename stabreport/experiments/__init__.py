"""The registry of experiments: every `Experiment` declared under the entry-point group
`stabreport.experiments`, stabreport's own included (the convention of MkDocs' `mkdocs.plugins`
and pytest's `pytest11`). Names are read without importing anything; a declaration is imported
the first time it is asked for.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import metadata

from ..errors import ConfigError, StabreportError
from ..core.params import Param
from .base import (LN10, MATRIX_METRICS, Experiment, Explore, Metric, Simulation, Theory, finish,
                   log10_mean_abs, log_values, renormalise)

GROUP = "stabreport.experiments"


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=GROUP):
        if entry.name in found and found[entry.name].value != entry.value:
            raise StabreportError(
                f"experiment {entry.name!r} is declared twice: by {_package(found[entry.name])} "
                f"({found[entry.name].value}) and by {_package(entry)} ({entry.value}); allowed: "
                "one declaration per name (uninstall one of the packages)")
        found[entry.name] = entry
    if not found:
        raise StabreportError(f"no experiments are registered under the entry-point group {GROUP!r}; "
                              "allowed: an installed stabreport (`pip install -e .` or `make docs`)")
    return dict(sorted(found.items()))


def _package(entry: metadata.EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else entry.module


def names() -> list[str]:
    """Every registered experiment's name, sorted, without importing any of them."""
    return list(_entry_points())


@lru_cache(maxsize=None)
def _load(name: str) -> Experiment:
    entry = _entry_points()[name]
    try:
        declared = entry.load()
    except Exception as error:  # a broken plug-in is named, not a traceback
        raise StabreportError(f"experiment {name!r} from {_package(entry)} failed to import "
                              f"({type(error).__name__}: {error})") from None
    if not isinstance(declared, Experiment) or declared.name != name:
        raise StabreportError(f"entry point {name!r} of {_package(entry)} ({entry.value}) is not "
                              f"an Experiment named {name!r}; allowed: an "
                              "stabreport.experiments.Experiment whose name is the entry point's")
    from dataclasses import replace

    return replace(declared, source=_package(entry))


def get_experiment(name: str, where: str = "") -> Experiment:
    """The declaration of `name`; an unknown name is an error listing the known ones."""
    if name not in _entry_points():
        import difflib

        guess = difflib.get_close_matches(str(name), names(), n=1)
        raise ConfigError(f"{where}unknown experiment {name!r}"
                          + (f" (did you mean '{guess[0]}'?)" if guess else "")
                          + "; allowed: " + ", ".join(names()))
    return _load(name)


def experiments() -> list[Experiment]:
    """Every registered experiment, loaded, in name order."""
    return [_load(name) for name in names()]


def reset() -> None:
    """Forget what was found (after installing a plug-in into a running process)."""
    _entry_points.cache_clear()
    _load.cache_clear()


# What an experiment's author needs, in one place: `from stabreport.experiments import ...`.
__all__ = ["Experiment", "Explore", "LN10", "MATRIX_METRICS", "Metric", "Param", "Simulation",
           "Theory", "experiments", "finish", "get_experiment", "log10_mean_abs", "log_values",
           "names", "renormalise", "reset"]
