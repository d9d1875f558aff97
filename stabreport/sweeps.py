"""Sweeps: grids over an experiment's sweepable axes (scale and a width or a number of steps),
each cell an independent engine task, run by any executor with identical results.

A cell's random stream derives from the seed and the cell's identity (experiment, parameters,
path): the numbers are the same whoever computes it and in whatever order. Cells go through the
result cache, so extending a grid computes only the new cells and an interrupted sweep resumes
from the cells it finished. The grid itself is part of the report config (`config.Sweep`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .cache import Store, code_digest, memo_json
from .config import Axis, Sweep, grid_axis
from .engine import Task
from .errors import ConfigError
from .experiments import Experiment, get_experiment
from .results import NormResult, Result


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


def cell_path(experiment: Experiment, params: Mapping[str, Any]) -> str:
    """The column length comes from the fast path where it applies; other metrics need M."""
    return "tangent" if experiment.sweep_metric == "log10_norm_u" and experiment.has_tangent(params) \
        else "full"


def sweep_tasks(sweep: Sweep) -> list[Task]:
    tasks = []
    for params in sweep.cell_params():
        label = ",".join(f"{a.key}={params[a.key]}" for a in sweep.axes)
        tasks.append(Task(cell_path(sweep.experiment, params), sweep.experiment.name, params,
                          sweep.runs, sweep.seed, f"{sweep.id}[{label}]"))
    return tasks


@dataclass(frozen=True)
class Cell:
    params: Mapping[str, Any]
    metric: str  # what the cell measures, e.g. "log10_norm_u"
    median: float  # of the metric over runs
    q05: float
    q95: float
    log10_gain_per_step: float  # median change per step
    theory_median: float | None
    theory_gain_per_step: float | None
    cached: bool

    def as_json(self) -> dict[str, Any]:
        return {"params": dict(self.params), "metric": self.metric, "median": self.median,
                "q05": self.q05, "q95": self.q95, "log10_gain_per_step": self.log10_gain_per_step,
                "theory": None if self.theory_median is None else {
                    "median": self.theory_median, "log10_gain_per_step": self.theory_gain_per_step}}


def cell_theory(task: Task, store: Store | None = None) -> float | None:
    """The theory's median of what a cell measures, or None without a theory; memoised in
    `store` by the theory's source and the cell's parameters."""
    experiment = get_experiment(task.experiment)
    if experiment.theory is None:
        return None

    def compute() -> float | None:
        return experiment.theory.predict(task.params).median(experiment.sweep_metric)

    return memo_json(store, "cell-theory", {
        "code": code_digest(*experiment.theory_modules), "experiment": experiment.name,
        "params": dict(task.params), "metric": experiment.sweep_metric}, compute)


def summarise(task: Task, result: Result | NormResult, theory: float | None) -> Cell:
    """A cell's statistics; `theory` is cell_theory(task)."""
    experiment = get_experiment(task.experiment)
    metric = experiment.sweep_metric
    steps = experiment.steps(task.params)
    values = result.log10_norm_u if isinstance(result, NormResult) else result.metrics[metric]
    start = experiment.metric(metric).start(experiment.width(task.params))
    q05, median, q95 = (float(v) for v in np.quantile(values, [0.05, 0.5, 0.95]))
    return Cell(dict(task.params), metric, median, q05, q95, (median - start) / steps, theory,
                None if theory is None else (theory - start) / steps, result.cached)
