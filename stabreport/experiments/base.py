"""What every experiment declares, and the log-domain bookkeeping they share.

An experiment is a pure function from (parameters, number of runs, Generator) to per-run
metrics. Matrices are rescaled after every step and the logarithm of what was divided out is
accumulated, so log10 values far beyond float64's range (1e±308) stay exact to rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import ConfigError
from ..params import Param

LN10 = np.log(10.0)

# Per-run metrics every experiment returns (log10 of the final matrix M, for one run each).
METRICS = ("log10_mean_abs", "log10_fro", "log10_spectral", "log10_norm_u")
METRIC_LABELS = {
    "log10_mean_abs": "log10 mean |M_ij|",
    "log10_fro": "log10 ‖M‖_F",
    "log10_spectral": "log10 ‖M‖_2",
    "log10_norm_u": "log10 ‖M u‖ (u = e₁)",
}


@dataclass(frozen=True)
class Simulation:
    """What one block of runs produced: per-run metrics and the per-step trajectory."""

    metrics: dict[str, np.ndarray]  # each of shape (runs,)
    trajectory: np.ndarray  # (runs, steps + 1): log10 mean |M_ij| after 0, 1, ..., steps


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    params: tuple[Param, ...]
    default_runs: int
    steps_param: str  # the parameter that counts factors or layers
    step_label: str  # "factor" or "layer", for axes and prose
    # Bumped whenever the simulation's numbers change for the same inputs (part of the cache key).
    version: str
    simulate: Callable[[Mapping[str, Any], int, np.random.Generator], Simulation]
    # Adjust canonical parameters that depend on each other (e.g. scale only for a normal init).
    normalise: Callable[[dict[str, Any], set[str], str], dict[str, Any]] = lambda p, given, where: p
    width_param: str = "k"

    def param(self, name: str, where: str = "") -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params)
        raise ConfigError(f"{where}unknown parameter '{name}' for experiment '{self.name}'; "
                          f"allowed: {known}")

    def canonical_params(self, overrides: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """Validate typed overrides and fill in defaults, in declaration order."""
        for name in overrides:
            self.param(name, where)
        params = {p.name: p.validate(overrides[p.name], where) if p.name in overrides else p.default
                  for p in self.params}
        return self.normalise(params, set(overrides), where)

    def parse_overrides(self, assignments: list[str]) -> dict[str, Any]:
        """Parse --set KEY=VALUE strings into typed values."""
        overrides: dict[str, Any] = {}
        for text in assignments:
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--set got {text!r}; allowed: KEY=VALUE with KEY one of "
                                  + ", ".join(p.name for p in self.params))
            overrides[key.strip()] = self.param(key.strip(), "--set: ").parse(value.strip(), "--set: ")
        return overrides

    def steps(self, params: Mapping[str, Any]) -> int:
        return int(params[self.steps_param])

    def width(self, params: Mapping[str, Any]) -> int:
        return int(params[self.width_param])

    def block_runs(self, params: Mapping[str, Any]) -> int:
        """Runs drawn together from one random stream: a function of the parameters only, so the
        numbers never depend on memory limits or on how many processes share the work."""
        k = self.width(params)
        return max(1, min(1024, 2**20 // (k * k)))


def log10_mean_abs(m: np.ndarray, log_scale: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (log_scale + np.log(np.abs(m).mean(axis=(1, 2)))) / LN10


def finish(m: np.ndarray, log_scale: np.ndarray, trajectory: np.ndarray) -> Simulation:
    """Per-run metrics of the final matrices M = exp(log_scale) * m."""
    with np.errstate(divide="ignore"):
        spectral = np.linalg.norm(m, ord=2, axis=(1, 2))
        metrics = {
            "log10_mean_abs": log10_mean_abs(m, log_scale),
            "log10_fro": (log_scale + np.log(np.sqrt(np.einsum("nij,nij->n", m, m)))) / LN10,
            "log10_spectral": (log_scale + np.log(spectral)) / LN10,
            "log10_norm_u": (log_scale + np.log(np.linalg.norm(m[:, :, 0], axis=1))) / LN10,
        }
    return Simulation(metrics=metrics, trajectory=trajectory)
