"""Sweeps: grids over scale, width, depth (factors, k for products), each cell an independent
task, run on local processes or on a Dask distributed cluster with identical results.

A cell is an ordinary engine task, so its random stream derives from the seed and the cell's
identity (experiment, parameters, path): the numbers are the same whoever computes it and in
whatever order. Cells go through the result cache, so extending a grid computes only the new
cells and an interrupted sweep resumes from the cells it finished.
"""
from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .engine import ResultCache, Task, execute, run_tasks, split_cached
from .errors import ConfigError
from .experiments import EXPERIMENTS, Experiment
from .experiments.tangent import supports_tangent
from .results import NormResult, Result

SWEEPABLE = {"products": ("scale", "k", "factors"), "mlp": ("scale", "width", "depth")}


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Any, ...]
    log: bool = False


def parse_grid(experiment: Experiment, text: str) -> Axis:
    """KEY=START:STOP:N[:log] (N values, evenly or log-spaced) or KEY=V1,V2,..."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    allowed = SWEEPABLE[experiment.name]
    if not sep or key not in allowed:
        raise ConfigError(f"--grid got {text!r}; allowed: KEY=START:STOP:N[:log] or KEY=V1,V2,… "
                          f"with KEY one of {', '.join(allowed)}")
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


def grid_axis(experiment: Experiment, key: str, start: float, stop: float, num: int, log: bool,
              where: str = "") -> Axis:
    param = experiment.param(key)
    if num < 1 or num > 4096:
        raise ConfigError(f"{where}N got {num}; allowed: 1 to 4096 values")
    if log and (start <= 0 or stop <= 0):
        raise ConfigError(f"{where}got {start}:{stop} on a log grid; allowed: START, STOP > 0")
    raw = np.geomspace(start, stop, num) if log else np.linspace(start, stop, num)
    if param.kind is int:
        values = tuple(dict.fromkeys(int(round(v)) for v in raw))  # distinct, in order
    else:
        values = tuple(float(f"{v:.6g}") for v in raw)
    return Axis(key, tuple(param.validate(v, where) for v in values), log)


@dataclass(frozen=True)
class Sweep:
    id: str
    title: str
    experiment: Experiment
    params: Mapping[str, Any]  # the fixed parameters
    axes: tuple[Axis, ...]
    runs: int
    seed: int

    def cell_params(self) -> list[dict[str, Any]]:
        cells = []
        for values in itertools.product(*(axis.values for axis in self.axes)):
            overrides = {**self.params, **dict(zip((a.key for a in self.axes), values))}
            cells.append(self.experiment.canonical_params(overrides, f"sweep {self.id!r}: "))
        return cells

    def tasks(self) -> list[Task]:
        tasks = []
        for params in self.cell_params():
            # MLP cells measure ‖J u‖ on the O(k) tangent path; products need the full matrix.
            path = "tangent" if self.experiment.name == "mlp" and supports_tangent("mlp", params) else "full"
            label = ",".join(f"{a.key}={params[a.key]}" for a in self.axes)
            tasks.append(Task(path, self.experiment.name, params, self.runs, self.seed,
                              f"{self.id}[{label}]"))
        return tasks


@dataclass(frozen=True)
class Cell:
    params: Mapping[str, Any]
    median: float  # log10 ‖J u‖ (mlp) or log10 mean |Y_ij| (products), median over runs
    q05: float
    q95: float
    log10_gain_per_step: float  # median change per layer or factor
    theory_median: float
    theory_gain_per_step: float
    cached: bool

    def as_json(self) -> dict[str, Any]:
        return {"params": dict(self.params), "median": self.median, "q05": self.q05,
                "q95": self.q95, "log10_gain_per_step": self.log10_gain_per_step,
                "theory": {"median": self.theory_median,
                           "log10_gain_per_step": self.theory_gain_per_step}}


def cell_theory(task: Task) -> float:
    """The theory's median of what a cell measures (log10 mean |Y_ij| or log10 ‖J u‖)."""
    from .theory import predict  # scipy loads only once there is something to compare

    prediction = predict(EXPERIMENTS[task.experiment], task.params)
    return prediction.median_log10_mean_abs if task.experiment == "products" else \
        prediction.median_log10_norm_u


def summarise(task: Task, result: Result | NormResult, theory: float | None = None) -> Cell:
    """A cell's statistics; `theory` is cell_theory(task), computed here when not given."""
    experiment = EXPERIMENTS[task.experiment]
    steps = experiment.steps(task.params)
    theory = cell_theory(task) if theory is None else theory
    if task.experiment == "products":
        values = result.log10_mean_abs
        start = -math.log10(experiment.width(task.params))
    else:
        values = result.log10_norm_u if isinstance(result, NormResult) else result.metrics["log10_norm_u"]
        start = 0.0
    q05, median, q95 = (float(v) for v in np.quantile(values, [0.05, 0.5, 0.95]))
    return Cell(dict(task.params), median, q05, q95, (median - start) / steps, theory,
                (theory - start) / steps, result.cached)


def run_sweep_tasks(tasks: Sequence[Task], cache: ResultCache | None, executor: str = "local",
                    jobs: int = 1, scheduler: str | None = None,
                    on_done: Callable[[Task, Any], None] | None = None) -> list[Result | NormResult]:
    if executor == "local":
        return run_tasks(tasks, cache, jobs, on_done)
    if executor == "dask":
        return run_on_dask(tasks, cache, scheduler or os.environ.get("STABREPORT_SCHEDULER"), on_done)
    raise ConfigError(f"--executor got {executor!r}; allowed: local, dask")


def run_on_dask(tasks: Sequence[Task], cache: ResultCache | None, scheduler: str | None,
                on_done: Callable[[Task, Any], None] | None = None) -> list[Result | NormResult]:
    """The same tasks on a Dask distributed cluster: a running scheduler at `scheduler`
    (tcp://HOST:PORT), or a LocalCluster when none is given. A task lost with a worker is
    rerun by Dask; results are stored in the cache here, as each arrives."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("--executor dask needs dask.distributed; allowed: `pip install "
                          "'dask[distributed]'`, or --executor local") from None
    results, missing = split_cached(tasks, cache, on_done)
    if not missing:
        return results
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="30s")
        else:
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
    except OSError as error:
        raise ConfigError(f"--scheduler got {scheduler!r} but no Dask scheduler answered "
                          f"({error}); allowed: the address of a running scheduler") from None
    try:
        futures = {client.submit(execute, tasks[i], 1, key=f"stabreport-{cache_key(tasks[i])}",
                                 pure=True): i for i in missing}
        for future in as_completed(futures):
            index = futures[future]
            result = future.result()
            results[index] = result
            if cache:
                cache.store(tasks[index], result)
            if on_done:
                on_done(tasks[index], result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results


def cache_key(task: Task) -> str:
    return ResultCache(os.devnull).key(task)
