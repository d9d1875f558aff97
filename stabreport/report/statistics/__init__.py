"""Statistics: the numbers a claim bounds, a table column shows or a sweep's figure plots, each
one declaration registered by name (stabreport's own included, in `builtin.py`):

- a setting statistic (group `stabreport.statistics`) reads one setting's evidence
  (`SettingFacts`: its results on both paths, its column-length statistics, the lecture's
  statistic) and gives one number or None (every run died);
- a cell statistic (group `stabreport.cell_statistics`) reads one cell of a sweep
  (core.sweeps.Cell), and says what its standard error is and how many runs a target needs.

A config names them (`statistic:` of a bound check, a section's `columns:`), and an unknown name
is refused when the config is read, with the registered ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ...core.registry import Registry


@dataclass(frozen=True)
class SettingFacts:
    """What a setting statistic reads."""

    setting: Any  # report.model.Setting
    result: Any  # core.results.Result: the full path
    norms: Any  # core.results.NormResult or None: the fast path, where it ran
    measured: Any  # report.claims.Measured or None (every run died)
    lecture: float | None  # median over repetitions of the lecture's statistic (log10)

    @property
    def experiment(self) -> Any:
        return self.setting.experiment

    @property
    def steps(self) -> int:
        return self.experiment.steps(self.setting.params)

    def metric(self, name: str) -> Any:
        """A per-run metric of the full path, over the runs that lived (a numpy array)."""
        return self.result.metrics[name]


@dataclass(frozen=True)
class Statistic:
    """One setting statistic.

    read(facts) -> float | None: its value (None: not defined, every run died).
    title: its words, for a table column's header and a claim's row (marked with N_).
    log10: a log10 value (tables show it as a power of ten); else a plain number (`places`).
    """

    name: str
    read: Callable[[SettingFacts], float | None]
    title: str
    log10: bool = True
    places: int = 2  # decimals of a plain number
    unit: str = ""  # words after a plain number ("decades per step"); marked with N_

    @property
    def module(self) -> str:
        return self.read.__module__


def _binomial(cell: Any) -> float:
    p = cell.dead_fraction
    return float(math.sqrt(p * (1 - p) / cell.runs))


@dataclass(frozen=True)
class CellStatistic:
    """One cell statistic.

    read(cell) -> float | None; standard_error(cell) -> its measured standard error (None: not
    known); runs_needed(theory, target, steps) -> the runs for a standard error of `target`,
    from the cell's theory (core.sweeps.cell_theory; None: the theory cannot say).
    plots / plots_title: what a figure that plots it shows, for the method page (N_).
    """

    name: str
    read: Callable[[Any], float | None]
    standard_error: Callable[[Any], float | None]
    runs_needed: Callable[[Mapping[str, Any], float, int], float | None]
    plots: str
    plots_title: str

    @property
    def module(self) -> str:
        return self.read.__module__


SETTING_STATISTICS: Registry[Statistic] = Registry("stabreport.statistics", "statistic", Statistic)
CELL_STATISTICS: Registry[CellStatistic] = Registry("stabreport.cell_statistics", "cell statistic",
                                                    CellStatistic)

MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)  # SE of a normal sample's median, in units of sd/√n


def median_runs(theory: Mapping[str, Any], target: float, per: int = 1) -> float | None:
    """Runs for the median of log10 ‖M u‖ (divided by `per`) to have standard error `target`,
    from the theory's spread over runs and its dead fraction."""
    sd = theory.get("sd")
    if sd is None:
        return None
    dead = theory.get("dead_fraction") or 0.0
    return (MEDIAN_EFFICIENCY * sd / (target * per)) ** 2 / max(1 - dead, 1e-3)


def binomial_runs(theory: Mapping[str, Any], target: float, steps: int) -> float | None:
    dead = theory.get("dead_fraction")
    return None if dead is None else dead * (1 - dead) / target**2


__all__ = ["CELL_STATISTICS", "CellStatistic", "SETTING_STATISTICS", "SettingFacts", "Statistic",
           "binomial_runs", "median_runs", "_binomial"]
