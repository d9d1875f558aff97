"""The registry of experiments: every `Experiment` declared under the entry-point group
`stabreport.experiments`, stabreport's own included (the convention of MkDocs' `mkdocs.plugins`
and pytest's `pytest11`). Names are read without importing anything; a declaration is imported
the first time it is asked for.
"""
from __future__ import annotations

from ..core.params import Param
from ..core.registry import Registry, reset_all, with_source
from .base import (LN10, MATRIX_METRICS, Experiment, Explore, Metric, Simulation, Theory, finish,
                   log10_mean_abs, log_values, renormalise)

GROUP = "stabreport.experiments"
EXPERIMENTS: Registry[Experiment] = Registry(GROUP, "experiment", Experiment, with_source)


def names() -> list[str]:
    """Every registered experiment's name, sorted, without importing any of them."""
    return EXPERIMENTS.names()


def get_experiment(name: str, where: str = "") -> Experiment:
    """The declaration of `name`; an unknown name is an error listing the known ones."""
    return EXPERIMENTS.get(name, where)


def experiments() -> list[Experiment]:
    """Every registered experiment, loaded, in name order."""
    return EXPERIMENTS.all()


def reset() -> None:
    """Forget what every registry found (after installing a plug-in into a running process)."""
    from ..render.i18n import plugin_packages

    reset_all()
    plugin_packages.cache_clear()


# What an experiment's author needs, in one place: `from stabreport.experiments import ...`.
__all__ = ["Experiment", "Explore", "LN10", "MATRIX_METRICS", "Metric", "Param", "Simulation",
           "Theory", "experiments", "finish", "get_experiment", "log10_mean_abs", "log_values",
           "names", "renormalise", "reset"]
