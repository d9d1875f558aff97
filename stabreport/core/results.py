"""Results: plain immutable data with the parameters that made them attached.

A run whose matrix is exactly zero (a ReLU network with every unit of some layer switched off)
has died: it is counted, and every per-run array and statistic is over the runs that lived.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

# The computation paths, declared once: every other module names them by these constants.
FULL = "full"  # the experiment's `simulate`: every matrix (mean |M_ij|, the norms, the metrics)
TANGENT = "tangent"  # its fast path: the column length ‖M u‖ after every step, O(width) a step
PATHS = (FULL, TANGENT)


def log10_mean_of_pow10(log10_values: np.ndarray) -> float:
    """log10 of the arithmetic mean of 10**x, computed without ever forming 10**x."""
    top = float(np.max(log10_values))
    return top + float(np.log10(np.mean(10.0 ** (log10_values - top))))


def quantile_summary(values: np.ndarray) -> dict[str, float] | None:
    if len(values) == 0:
        return None
    q05, median, q95 = (float(v) for v in np.quantile(values, [0.05, 0.5, 0.95]))
    return {"median": median, "q05": q05, "q95": q95}


def per_step_quantiles(trajectory: np.ndarray) -> dict[str, list[float]] | None:
    """Median and 5 %/95 % quantiles over runs after every step, as lists."""
    if len(trajectory) == 0:
        return None
    q05, median, q95 = np.quantile(np.asarray(trajectory, dtype=np.float64), [0.05, 0.5, 0.95], axis=0)
    return {"median": median.tolist(), "q05": q05.tolist(), "q95": q95.tolist()}


@dataclass(frozen=True)
class Summary:
    log10_of_mean: float  # log10 of the mean over runs of mean|M_ij|: the lecture's statistic
    median: float
    q05: float
    q95: float

    def as_dict(self) -> dict[str, float]:
        return {"log10_of_mean": self.log10_of_mean, "median": self.median,
                "q05": self.q05, "q95": self.q95}


@dataclass(frozen=True)
class _Outcome:
    experiment: str
    params: Mapping[str, Any]
    seed: int
    runs: int  # runs asked for, the dead ones included
    dead: int  # runs whose matrix ended exactly zero

    @property
    def alive(self) -> int:
        return self.runs - self.dead

    @property
    def dead_fraction(self) -> float:
        return self.dead / self.runs

    def _head(self, path: str) -> dict[str, Any]:
        return {"experiment": self.experiment, "params": dict(self.params), "seed": self.seed,
                "runs": self.runs, "path": path, "dead_runs": self.dead,
                "dead_fraction": self.dead_fraction}


@dataclass(frozen=True)
class Result(_Outcome):
    """The full path: every matrix formed."""

    metrics: Mapping[str, np.ndarray] = field(default_factory=dict)  # per living run
    trajectory: np.ndarray = field(default_factory=lambda: np.empty((0, 1), np.float32))
    log10_sv: np.ndarray | None = None  # (living runs, k) descending, with the spectrum
    reach: np.ndarray | None = None  # (living runs, steps + 1), see Simulation.reach
    elapsed: float = field(default=0.0, compare=False)  # seconds; 0 when read from the cache
    cached: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for array in (*self.metrics.values(), self.trajectory,
                      *(() if self.reach is None else (self.reach,))):
            array.flags.writeable = False

    @property
    def log10_mean_abs(self) -> np.ndarray:
        return self.metrics["log10_mean_abs"]

    @property
    def primary(self) -> str:
        """The metric its summary is of: log10 mean |M_ij| where a matrix was formed, else the
        setting's first (see Experiment.reports)."""
        return "log10_mean_abs" if "log10_mean_abs" in self.metrics else next(iter(self.metrics))

    @property
    def summary(self) -> Summary | None:
        x = self.metrics[self.primary]
        if len(x) == 0:
            return None
        q05, median, q95 = np.quantile(x, [0.05, 0.5, 0.95])
        return Summary(log10_mean_of_pow10(x), float(median), float(q05), float(q95))

    def grouped_log10_of_mean(self, group: int) -> np.ndarray:
        """The lecture's statistic, once per consecutive group of `group` runs (the lecture
        averages mean|J_ij| over 10 networks); incomplete trailing groups are dropped."""
        x = self.log10_mean_abs
        n = len(x) // group
        if n == 0:
            return np.empty(0)
        groups = np.asarray(x[:n * group], dtype=np.float64).reshape(n, group)
        top = groups.max(axis=1)
        return top + np.log10(np.mean(10.0 ** (groups - top[:, None]), axis=1))

    def trajectory_quantiles(self, qs: tuple[float, ...] = (0.05, 0.5, 0.95)) -> np.ndarray:
        """(len(qs), steps + 1) quantiles over runs of log10 mean|M_ij| after each step."""
        return np.quantile(self.trajectory.astype(np.float64), qs, axis=0)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {**self.metrics, "trajectory": self.trajectory, "dead": np.array(self.dead)}
        if self.log10_sv is not None:
            out["log10_sv"] = self.log10_sv
        if self.reach is not None:
            out["reach"] = self.reach
        return out

    def reach_quantiles(self, qs: tuple[float, ...] = (0.05, 0.5, 0.95)) -> np.ndarray | None:
        """(len(qs), steps + 1) quantiles over runs of how far back the gradient reaches."""
        if self.reach is None or len(self.reach) == 0:
            return None
        return np.quantile(self.reach.astype(np.float64), qs, axis=0)

    def to_json(self, experiment: Any = None) -> dict[str, Any]:
        """Every run's metrics (null where a run has no value of an optional one), the reach's
        quantiles, an experiment's named trajectory per run (training's `loss`, each list
        ending at its run's first non-finite value) and the summary: of a size (log10 metric),
        the lecture's statistic and the quantiles; of plain numbers, each one's median over
        the runs that have it and each flag's share of runs."""
        if experiment is None:
            from ..experiments import get_experiment

            experiment = get_experiment(self.experiment)
        declared = {m.name: m for m in experiment.all_metrics}
        out = self._head(FULL)
        for name, values in self.metrics.items():
            metric = declared.get(name)
            out[name] = [metric.json_value(v) if metric else float(v) for v in values]
        named = experiment.trajectory_metric
        if named is not None:
            out[named.name] = [[float(v) for v in row[:_end(row)]] for row in self.trajectory]
        if self.reach is not None:
            out["reach"] = per_step_quantiles(self.reach)
        primary = declared.get(self.primary)
        if primary is None or primary.kind == "log10":
            summary = self.summary
            out["summary"] = None if summary is None else {
                **summary.as_dict(), **{f"median_{name}": float(np.median(values))
                                        for name, values in self.metrics.items()
                                        if name != self.primary}}
            return out
        out["summary"] = {}
        for name, values in self.metrics.items():
            kind = declared[name].kind if name in declared else "value"
            key = f"{name}_fraction" if kind == "flag" else f"median_{name}"
            out["summary"][key] = finite_median(values) if kind != "flag" else \
                (float(np.mean(values)) if len(values) else None)
        return out


def _end(row: np.ndarray) -> int:
    """The length of a trajectory up to its first non-finite value."""
    bad = ~np.isfinite(row)
    return int(np.argmax(bad)) if bad.any() else len(row)


def finite_median(values: np.ndarray) -> float | None:
    """The median over the runs with a finite value; None where none has one."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(np.median(finite)) if len(finite) else None


@dataclass(frozen=True)
class NormResult(_Outcome):
    """Column lengths only, from the fast path: log10 ‖M_l u‖ after every step."""

    trajectory: np.ndarray = field(default_factory=lambda: np.empty((0, 1)))  # per living run
    elapsed: float = field(default=0.0, compare=False)
    cached: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        self.trajectory.flags.writeable = False

    @property
    def log10_norm_u(self) -> np.ndarray:
        return self.trajectory[:, -1]

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        return {"log10_norm_u": self.log10_norm_u}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"trajectory": self.trajectory, "dead": np.array(self.dead)}

    def to_json(self) -> dict[str, Any]:
        return {**self._head(TANGENT), "log10_norm_u": [float(v) for v in self.log10_norm_u],
                "summary": quantile_summary(self.log10_norm_u)}
