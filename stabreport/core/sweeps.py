"""Sweeps: grids over an experiment's sweepable axes (scale and a width or a number of steps),
each cell an independent engine task, run by any executor with identical results.

A cell's random stream derives from the seed and the cell's identity (experiment, parameters,
path): the numbers are the same whoever computes it and in whatever order. Cells go through the
result cache, so extending a grid computes only the new cells and an interrupted sweep resumes
from the cells it finished. The grid itself is part of the report config (`config.Sweep`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .cache import Store, memo_json
from ..report.claims import median_standard_error
from ..report.model import Axis, Sweep, grid_axis
from ..report.statistics import CELL_STATISTICS, MEDIAN_EFFICIENCY  # noqa: F401 (the tests size by it)

GAIN, DEAD = "log10_gain_per_step", "dead_fraction"  # the cell statistics a cell's JSON lists
from .engine import Task
from ..errors import ConfigError
from ..experiments import Experiment, get_experiment
from .results import FULL, TANGENT, NormResult, Result
from ..theory import LN10


def parse_grid(experiment: Experiment, text: str) -> Axis:
    """KEY=START:STOP:N[:log] (N values, evenly or log-spaced) or KEY=V1,V2,..."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    allowed = experiment.sweep_axes
    if not sep or key not in allowed:
        raise ConfigError(f"--grid got {text!r}; allowed: KEY=START:STOP:N[:log] or KEY=V1,V2,… "
                          f"with KEY one of {', '.join(allowed) or '(none: this experiment has no sweep axes)'}")
    param = experiment.param(key)
    parts = spec.split(":")
    if len(parts) in (3, 4):
        log = len(parts) == 4
        if log and parts[3] != "log":
            raise ConfigError(f"--grid got {text!r}; allowed: ':log' as the fourth field")
        try:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ConfigError(f"--grid got {text!r}; allowed: numbers START, STOP and a whole N") from None
        return grid_axis(experiment, key, start, stop, num, log, where=f"--grid {key}: ")
    values = tuple(param.parse(v.strip(), f"--grid {key}: ") for v in spec.split(",") if v.strip())
    if not values:
        raise ConfigError(f"--grid got {text!r}; allowed: at least one value")
    return Axis(key, values)


def cell_path(experiment: Experiment, params: Mapping[str, Any], metric: str | None = None) -> str:
    """The column length comes from the fast path where it applies; other metrics need M.
    `metric`: what the cell measures (default: the experiment's sweep metric)."""
    metric = metric or experiment.sweep_metric
    return TANGENT if metric == "log10_norm_u" and experiment.has_tangent(params) else FULL


MIN_CELL_RUNS = 30  # enough for a cell's 5 % and 95 % quantiles to mean something


def cell_runs(sweep: Sweep, experiment: Experiment, params: Mapping[str, Any],
              theory: Mapping[str, float | None]) -> int:
    """How many networks a cell needs for the standard error of what its figure plots (its
    median log10 gain per step, its median, or its dead fraction) to be at most the sweep's
    target, from the spread the theory predicts: between MIN_CELL_RUNS and the sweep's `runs`
    (all of them where there is no target or no theory), rounded up to a multiple of ten."""
    if sweep.standard_error is None:
        return sweep.runs
    needed = CELL_STATISTICS.get(sweep.plotted).runs_needed(theory, sweep.standard_error,
                                                            experiment.steps(params))
    if needed is None:
        return sweep.runs
    return int(min(sweep.runs, max(MIN_CELL_RUNS, 10 * math.ceil(needed / 10))))


def sweep_tasks(sweep: Sweep, store: Store | None = None,
                sized: Callable[[int, int], None] | None = None) -> list[Task]:
    """Every cell's task, in grid order, each with the runs its standard error needs (the
    theory that sizes it is memoised in `store`); `sized(done, cells)` after each cell's size."""
    tasks = []
    cells = sweep.cell_params()
    for done, (curve, params) in enumerate(cells, 1):
        label = ",".join(f"{a.key}={params[a.key]}" for a in sweep.axes)
        name = f"{sweep.id}{'/' + curve.id if curve.id else ''}[{label}]"
        runs = sweep.runs if sweep.standard_error is None else \
            cell_runs(sweep, curve.experiment, params, cell_theory(curve.experiment, params, store))
        path = cell_path(curve.experiment, params, sweep.metric)
        tasks.append(Task(path, curve.experiment.name, params, runs, sweep.seed, name))
        if sized is not None and sweep.standard_error is not None:
            sized(done, len(cells))
    return tasks


@dataclass(frozen=True)
class Cell:
    params: Mapping[str, Any]
    metric: str  # what the cell measures, e.g. "log10_norm_u"
    runs: int
    dead_fraction: float  # share of runs whose matrix ended exactly zero
    median: float | None  # of the metric over the runs that lived (None if none did)
    q05: float | None
    q95: float | None
    log10_gain_per_step: float | None  # median change per step
    theory_median: float | None
    theory_gain_per_step: float | None
    theory_dead_fraction: float | None
    cached: bool
    series: str = ""  # the curve it belongs to, in a sweep with several
    median_standard_error: float | None = None  # measured, distribution-free (None: no run lived)
    steps: int = 1  # what the gain per step divides by

    def standard_error(self, measure: str) -> float | None:
        """The standard error of a cell statistic (what a figure plots), as it declares it."""
        return CELL_STATISTICS.get(measure).standard_error(self)

    @property
    def dead_standard_error(self) -> float:
        """Binomial standard error of the dead fraction, at the theory's value where it has one
        (what a test of the law needs), else at the measured one."""
        p = self.theory_dead_fraction if self.theory_dead_fraction is not None else self.dead_fraction
        return float(np.sqrt(max(p * (1 - p), 0.25 / self.runs) / self.runs))

    def as_json(self) -> dict[str, Any]:
        return {"params": dict(self.params), **({"series": self.series} if self.series else {}),
                "metric": self.metric, "runs": self.runs, "dead_fraction": self.dead_fraction,
                "median": self.median, "q05": self.q05, "q95": self.q95,
                "log10_gain_per_step": self.log10_gain_per_step,
                "standard_error": {"median": self.median_standard_error,
                                   "log10_gain_per_step": self.standard_error(GAIN),
                                   "dead_fraction": self.standard_error(DEAD)},
                "theory": None if self.theory_median is None and self.theory_dead_fraction is None
                else {"median": self.theory_median, "log10_gain_per_step": self.theory_gain_per_step,
                      "dead_fraction": self.theory_dead_fraction}}


def cell_theory(experiment: Experiment, params: Mapping[str, Any],
                store: Store | None = None) -> dict[str, float | None]:
    """The theory's median of what a cell measures, the spread (sd) of log10 ‖M u‖ over runs,
    its dead fraction, and (for the explorer) the median and 5 %/95 % quantiles of log10 ‖M u‖,
    the gain per step and whether the law is exact — None where the theory has none; one
    prediction per cell, memoised in `store` by the source of the theory and of this module,
    and the cell's parameters."""
    if not experiment.has_theory(params):
        return {"median": None, "sd": None, "dead_fraction": None}

    def compute() -> dict[str, float | None]:
        prediction = experiment.predict(params)
        return {"median": prediction.median(experiment.sweep_metric),
                "sd": prediction.norm_u_law.sd / LN10,
                "dead_fraction": prediction.dead_fraction,
                "norm_u": [prediction.q05_log10_norm_u, prediction.median_log10_norm_u,
                           prediction.q95_log10_norm_u],
                "gain_per_step": prediction.log10_gain_per_step, "exact": prediction.exact}

    return memo_json(store, "cell-theory", (*experiment.theory_modules, __name__), {
        "experiment": experiment.name, "params": dict(params), "metric": experiment.sweep_metric},
        compute)


def critical_scale(experiment: Experiment, params: Mapping[str, Any],
                   store: Store | None = None) -> float | None:
    """The theory's critical scale for a cell's parameters (None without a theory), memoised in
    `store` by the theory's source: a root search that every cell of a row shares."""
    if not experiment.has_theory(params):
        return None
    return memo_json(store, "critical-scale", experiment.theory_modules,
                     {"experiment": experiment.name, "params": dict(params)},
                     lambda: experiment.theory.critical_scale(params))


def summarise(task: Task, result: Result | NormResult, theory: Mapping[str, float | None],
              series: str = "") -> Cell:
    """A cell's statistics over the runs that lived; `theory` is cell_theory(task)."""
    experiment = get_experiment(task.experiment)
    metric = experiment.sweep_metric
    steps = experiment.steps(task.params)
    values = result.log10_norm_u if isinstance(result, NormResult) else result.metrics[metric]
    start = experiment.metric(metric).start(experiment.width(task.params))
    stats = [float(v) for v in np.quantile(values, [0.05, 0.5, 0.95])] if len(values) else [None] * 3
    q05, median, q95 = stats
    error = median_standard_error(values) if len(values) > 1 else None
    predicted = theory.get("median")
    return Cell(dict(task.params), metric, result.runs, result.dead_fraction, median, q05, q95,
                None if median is None else (median - start) / steps, predicted,
                None if predicted is None else (predicted - start) / steps,
                theory.get("dead_fraction"), result.cached, series, error, steps)


def summarise_sweep(sweep: Sweep, results: list[Result | NormResult],
                    store: Store | None = None,
                    done: Callable[[], None] | None = None) -> list[Cell]:
    """Every cell of a sweep, in the order of `sweep_tasks`; `done()` after each cell."""
    cells = []
    for task, result, (curve, _) in zip(sweep_tasks(sweep, store), results, sweep.cell_params()):
        cells.append(summarise(task, result, cell_theory(curve.experiment, task.params, store),
                               curve.id))
        if done is not None:
            done()
    return cells
