"""What an experiment declares, and the log-domain bookkeeping experiments share.

This module is the whole interface between stabreport and an experiment, built in or from
another package (see the README, "Writing an experiment"). An experiment is one `Experiment`
value: its parameters, its simulation (the full path, and optionally a fast path for the
column length ‖M u‖), the metrics it reports, its sweepable axes, its theory (optional) and its
default section template. The engine, the theory checks, sweeps, phase diagrams, figures,
templates and the command line ask the declaration; none of them knows an experiment by name.

A simulation is a pure function from (parameters, number of runs, Generator) to per-run metrics.
Matrices are rescaled after every step and the logarithm of what was divided out is accumulated,
so log10 values far beyond float64's range (1e±308) stay exact to rounding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from ..errors import ConfigError
from ..params import Param

if TYPE_CHECKING:  # the theory's types; importing them would load scipy
    from ..theory import Prediction

LN10 = math.log(10.0)
Params = Mapping[str, Any]


@dataclass(frozen=True)
class Metric:
    """A per-run number an experiment reports (one float per run, a log10 value)."""

    name: str
    label: str  # for tables and axes
    help: str  # for `stabreport list`, the README and the method page
    # The metric's value for M = I (before the first step), given the width.
    start: Callable[[int], float] = lambda width: 0.0


# The metrics of the full path's final matrix M, for every experiment that forms M.
MATRIX_METRICS = (
    Metric("log10_mean_abs", "log10 mean |M_ij|", "log10 of the mean absolute entry of M",
           start=lambda width: -math.log10(width)),
    Metric("log10_fro", "log10 ‖M‖_F", "log10 of the Frobenius norm of M"),
    Metric("log10_spectral", "log10 ‖M‖_2", "log10 of the spectral norm (largest singular value)"),
    Metric("log10_norm_u", "log10 ‖M u‖ (u = e₁)", "log10 of the length of M's first column"),
)


@dataclass(frozen=True)
class Simulation:
    """What one block of runs produced: per-run metrics and the per-step trajectory."""

    metrics: dict[str, np.ndarray]  # each of shape (runs,)
    trajectory: np.ndarray  # (runs, steps + 1): log10 mean |M_ij| after 0, 1, ..., steps


@dataclass(frozen=True)
class Theory:
    """Predictions for an experiment's settings. Every function takes canonical parameters."""

    # The law of log10 ‖M u‖ and log10 mean|M_ij| (see stabreport.theory.Prediction).
    predict: Callable[[Params], "Prediction"]
    # The typical log10 gain of ‖M u‖ per step, averaged over the steps: cheap, for gain curves.
    gain_per_step: Callable[[Params], float]
    # The weight scale at which the typical ‖M u‖ after all steps neither grows nor shrinks, for
    # this setting's width and number of steps; None when there is none below 10.
    critical_scale: Callable[[Params], float | None]


def _identity(params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
    return params


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str  # a heading for the experiment, e.g. "Products of random matrices"
    summary: str  # one sentence: what M is
    params: tuple[Param, ...]
    simulate: Callable[[Params, int, np.random.Generator], Simulation]  # the full path
    steps_param: str  # the parameter that counts factors or layers
    width_param: str  # the parameter that is the matrices' size
    step_label: str = "step"  # "factor" or "layer", for axes and prose
    default_runs: int = 1000
    metrics: tuple[Metric, ...] = MATRIX_METRICS
    # The fast path: (runs, steps + 1) log10 ‖M_l u‖ after every step, without forming M.
    tangent: Callable[[Params, int, np.random.Generator], np.ndarray] | None = None
    tangent_applies: Callable[[Params], bool] = lambda params: True
    theory: Theory | None = None
    # The parameter that is the weights' scale (standard deviation), if there is one: the axis of
    # gain curves and phase diagrams.
    scale_param: str | None = "scale"
    # The weights' standard deviation of a setting whatever sets it (an init's own rule included).
    effective_scale: Callable[[Params], float | None] = lambda params: params.get("scale")
    # The same setting with Gaussian weights of standard deviation s: the points of a gain curve.
    at_scale: Callable[[Params, float], dict[str, Any]] = lambda params, s: {**params, "scale": s}
    sweep_axes: tuple[str, ...] = ()
    # What a sweep cell measures: "log10_norm_u" (on the fast path when it applies) or another
    # metric of the full path.
    sweep_metric: str = "log10_norm_u"
    page: str | None = None  # the page its sections go on unless the config says otherwise
    template: str = "sections/generic.md.j2"  # the default prose of its sections
    templates: Mapping[str, str] = field(default_factory=dict)  # name -> Jinja source it ships
    # Adjust canonical parameters that depend on each other (e.g. scale only for a normal init).
    normalise: Callable[[dict[str, Any], set[str], str], dict[str, Any]] = _identity
    # A setting in words, for generic prose and figure legends ("relu, normal init, scale 0.1").
    describe: Callable[[Params], str] | None = None
    # Peak working memory in bytes of one block of `runs` on the full path, if the default
    # (four k×k float64 matrices per run: W, M, a product and a copy) does not fit the simulation.
    full_path_bytes: Callable[[Params, int], int] | None = None
    source: str = "stabreport"  # the distribution it comes from (filled in by the registry)

    def param(self, name: str, where: str = "") -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params)
        raise ConfigError(f"{where}unknown parameter '{name}' for experiment '{self.name}'; "
                          f"allowed: {known}", key=name)

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    def canonical_params(self, overrides: Params, where: str = "") -> dict[str, Any]:
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

    def steps(self, params: Params) -> int:
        return int(params[self.steps_param])

    def width(self, params: Params) -> int:
        return int(params[self.width_param])

    def has_tangent(self, params: Params) -> bool:
        return self.tangent is not None and self.tangent_applies(params)

    def block_runs(self, params: Params) -> int:
        """Runs drawn together from one random stream: a function of the parameters only, so the
        numbers never depend on memory limits or on how many processes share the work."""
        k = self.width(params)
        return max(1, min(1024, 2**20 // (k * k)))

    def working_bytes(self, params: Params, runs: int, path: str) -> int:
        """Peak memory of one block of `runs` while it is computed (not counting its results)."""
        k = self.width(params)
        if path != "full":
            return 12 * runs * k * 8  # h, t, two normals per unit, slopes, temporaries
        if self.full_path_bytes is not None:
            return self.full_path_bytes(params, runs)
        return 4 * runs * k * k * 8

    def normals(self, params: Params, runs: int, path: str) -> int:
        """Random numbers drawn: the work a setting takes, for estimates of its time."""
        k = self.width(params)
        return runs * self.steps(params) * (k * k if path == "full" else 2 * k)

    def words(self, params: Params) -> str:
        """The setting in words: the declaration's own description, else its parameters."""
        if self.describe is not None:
            return self.describe(params)
        return ", ".join(f"{k} {v}" for k, v in params.items() if v is not None)

    def family(self, params: Params) -> dict[str, Any]:
        """The setting with its weight scale left open: settings of one family share a gain
        curve (for instance every init of one activation, width and depth)."""
        if self.scale_param is None:
            return dict(params)
        return {k: v for k, v in self.at_scale(params, 1.0).items() if k != self.scale_param}

    @property
    def modules(self) -> tuple[str, ...]:
        """The modules whose source decides its numbers (for content-addressed caches)."""
        functions = [self.simulate, self.tangent]
        return tuple(sorted({f.__module__ for f in functions if f is not None}))

    @property
    def theory_modules(self) -> tuple[str, ...]:
        if self.theory is None:
            return ()
        return tuple(sorted({f.__module__ for f in (self.theory.predict, self.theory.gain_per_step,
                                                    self.theory.critical_scale)}))


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


def renormalise(v: np.ndarray) -> np.ndarray:
    """Scale each row of `v` to unit length in place; return the natural log of the lengths."""
    norms = np.linalg.norm(v, axis=1)
    v /= np.where(norms > 0, norms, 1.0)[:, None]
    with np.errstate(divide="ignore"):
        return np.log(norms)
