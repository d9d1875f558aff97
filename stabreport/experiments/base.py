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

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from ..errors import ConfigError
from ..render.i18n import _
from ..core.params import Param

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
    # What its numbers are: "log10" (a size, in decades: every matrix metric), "value" (a plain
    # number: a loss, an accuracy), "flag" (0 or 1: written true or false) or "count" (a whole
    # number: a step).
    kind: str = "log10"
    # A run may have no value of it (NaN in the simulation, null in JSON): a diverged run's
    # final loss. Otherwise NaN is an error in a run that lived.
    optional: bool = False

    def json_value(self, value: float) -> Any:
        """One run's value as JSON writes it: null where it has none, true or false for a flag."""
        value = float(value)
        if math.isnan(value) or (self.optional and math.isinf(value)):
            return None
        if self.kind == "flag":
            return bool(value)
        if self.kind == "count":
            return int(value)
        return value


# The metrics of the full path's final matrix M, for every experiment that forms M.
MATRIX_METRICS = (
    Metric("log10_mean_abs", "log10 mean |M_ij|", "log10 of the mean absolute entry of M",
           start=lambda width: -math.log10(width)),
    Metric("log10_fro", "log10 ‖M‖_F", "log10 of the Frobenius norm of M"),
    Metric("log10_spectral", "log10 ‖M‖_2", "log10 of the spectral norm (largest singular value)"),
    Metric("log10_norm_u", "log10 ‖M u‖ (u = e₁)", "log10 of the length of M's first column"),
)


# The metrics of the spectrum of M, for experiments that can track it (`Experiment.spectrum`).
SPECTRUM_METRICS = (
    Metric("log10_sv_q10", "log10 σ, 10th percentile",
           "log10 of the 10th percentile of the nonzero singular values of M (QR method)"),
    Metric("log10_sv_q50", "log10 σ, median", "log10 of the median nonzero singular value of M"),
    Metric("log10_sv_q90", "log10 σ, 90th percentile",
           "log10 of the 90th percentile of the nonzero singular values of M"),
    Metric("sv_rank", "rank of M", "the number of nonzero singular values of M"),
)


@dataclass(frozen=True)
class Simulation:
    """What one block of runs produced: per-run metrics and the per-step trajectory, and with
    the spectrum, every run's log10 singular values."""

    metrics: dict[str, np.ndarray]  # each of shape (runs,)
    trajectory: np.ndarray  # (runs, steps + 1): log10 mean |M_ij| after 0, 1, ..., steps
    log10_sv: np.ndarray | None = None  # (runs, k), descending, −inf for zero
    # With `Experiment.reach`: (runs, steps + 1), log10 ‖uᵀ ∂s_T/∂s_{T−d}‖ for d = 0, 1, ...,
    # steps, the gradient of the last step's first unit pushed d steps back (backpropagation
    # through time; s the state the experiment names). Row d = 0 is 0: ‖u‖ = 1.
    reach: np.ndarray | None = None


class Spectrum:
    """The singular values of a long product M = A_L ··· A_1 by the QR method, so that they stay
    right when they span far more than float64's 16 digits: an orthonormal frame Q is carried
    along (Q ← A Q), and every `every` steps A Q = Q′ R is factored and log |R_ii| accumulated.
    What is reported are the sorted |diag R| of M = Q R_L ··· R_1 (the products of the R
    factors' diagonals): close to M's singular values once these are widely separated, as they
    are after many steps, but not equal to an SVD's for a short product. Where a step can zero
    directions exactly (a ReLU layer switches units off), factor every step with `dead_below`:
    an R_ii below that fraction of the largest in its run is zero in exact arithmetic; it stays
    zero, and the rank counts the others."""

    def __init__(self, runs: int, k: int, every: int, dead_below: float = 0.0) -> None:
        self.q = np.broadcast_to(np.eye(k), (runs, k, k)).copy()
        self.log_r = np.zeros((runs, k))
        self.every, self.pending, self.dead_below = every, 0, dead_below

    def step(self, apply: Callable[[np.ndarray], np.ndarray],
             log_scale: float | np.ndarray = 0.0) -> None:
        """Q ← A Q for the step's factor A = e^{log_scale} · B, with `apply` computing B Q (the
        scalar factor goes straight to the log domain, so no scale can overflow)."""
        self.q = apply(self.q)
        self.log_r += np.reshape(log_scale, (-1, 1))
        self.pending += 1
        if self.pending >= self.every:
            self._factor()

    def _factor(self) -> None:
        q, r = np.linalg.qr(self.q)
        d = np.abs(np.diagonal(r, axis1=1, axis2=2))
        dead = d <= self.dead_below * d.max(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            self.log_r += np.where(dead, -np.inf, np.log(np.where(dead, 1.0, d)))
        q[:, :, :] *= ~np.isinf(self.log_r)[:, None, :]  # a dead direction stays dead
        self.q, self.pending = q, 0

    def finish(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The spectrum metrics per run, and every run's log10 singular values (descending)."""
        if self.pending:
            self._factor()
        values = -np.sort(-self.log_r / LN10, axis=1)
        rank = np.isfinite(values).sum(axis=1)
        quantiles = np.full((len(values), 3), -np.inf)
        alive = rank > 0
        if alive.any():
            # Quantiles over each run's `rank` nonzero values, which come first (descending).
            positions = (rank[alive, None] - 1) * (1 - np.array([0.1, 0.5, 0.9]))[None, :]
            low = np.floor(positions).astype(int)
            high = np.minimum(low + 1, rank[alive, None] - 1)
            frac = positions - low
            rows = values[alive]
            quantiles[alive] = (np.take_along_axis(rows, low, 1) * (1 - frac)
                                + np.take_along_axis(rows, high, 1) * frac)
        metrics = {"log10_sv_q10": quantiles[:, 0], "log10_sv_q50": quantiles[:, 1],
                   "log10_sv_q90": quantiles[:, 2], "sv_rank": rank.astype(float)}
        return metrics, values


@dataclass(frozen=True)
class Theory:
    """Predictions for an experiment's settings. Every function takes canonical parameters."""

    # The law of log10 ‖M u‖ and log10 mean|M_ij| (see stabreport.theory.Prediction).
    predict: Callable[[Params], "Prediction"]
    # The typical log10 gain of ‖M u‖ per step, averaged over the steps: cheap, for gain curves.
    gain_per_step: Callable[[Params], float]
    # The depth-balanced scale: the weight scale at which the typical ‖M u‖ after all steps
    # neither grows nor shrinks, for this setting's width and number of steps (the prediction's
    # `critical_scale` is the per-step one, once settled); None when there is none below 10.
    critical_scale: Callable[[Params], float | None]
    # The settings it predicts (the others are measured only): a recurrent network's mean field
    # assumes fresh weights at every step, for instance.
    applies: Callable[[Params], bool] = lambda params: True
    # Predictions of other per-run metrics (MetricPrediction by name), for settings whose metrics
    # are not a matrix's sizes (`Experiment.reports`): the MLP's normalised settings, whose
    # gradient ratio has a law of its own. Empty where it predicts none.
    metrics: Callable[[Params], Mapping[str, "MetricPrediction"]] = lambda params: {}


@dataclass(frozen=True)
class MetricPrediction:
    """What a theory predicts of one per-run metric outside the matrix laws of `Prediction`."""

    median: float
    law: str  # what it rests on, in words (declared with N_ and translated where shown)
    # The typical value after 0, 1, ..., steps (the trajectory's and the reach's median), if known.
    per_step: tuple[float, ...] | None = None
    log10_gain_per_step: float | None = None  # once the first steps' transient is over

    def as_json(self) -> dict[str, Any]:
        return {"median": self.median, "law": str(self.law),
                "log10_gain_per_step": self.log10_gain_per_step,
                "per_step": None if self.per_step is None else list(self.per_step)}


_PREDICTIONS: dict[tuple[Any, str], Any] = {}  # (the theory's function, its parameters) -> value


def predicted(predict: Callable[[Params], Any], params: Params) -> Any:
    """`predict(params)`, computed at most once per process for each function and parameters:
    a prediction is a pure function of them, immutable, and its words are translated only where
    they are shown, so one value serves every edition."""
    key = (predict, json.dumps(dict(params), sort_keys=True, default=repr))
    if key not in _PREDICTIONS:
        _PREDICTIONS[key] = predict(params)
    return _PREDICTIONS[key]


def _identity(params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
    return params


@dataclass(frozen=True)
class default_scale:  # noqa: N801 - used like a function: normalise=default_scale(1.0)
    """A `normalise` that gives `scale`, when none is given, √(gain / width) (LeCun's for gain 1,
    He's for 2), to 12 significant digits (a value, so declarations stay picklable)."""

    gain: float
    width_param: str = "width"

    def __call__(self, params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
        if "scale" not in given and params["scale"] is None:
            return {**params, "scale": float(f"{math.sqrt(self.gain / params[self.width_param]):.12g}")}
        return params


def log_values(start: float, ratio: float, count: int) -> tuple[float, ...]:
    """`count` values from `start`, each `ratio` times the one before (6 significant digits):
    an explorer's or a sweep's log-spaced grid."""
    return tuple(float(f"{start * ratio ** i:.6g}") for i in range(count))


@dataclass(frozen=True)
class Explore:
    """What the explorer page offers of an experiment. Every combination of `grid` is one cell,
    computed when the site is built on the fast path (one sweep of the experiment: cached, on
    local processes or Dask, each cell sized by `standard_error` like the report's sweeps), so
    adding a parameter or a value here adds it to the page; nothing on the page is edited."""

    grid: Mapping[str, tuple[Any, ...]]  # parameter -> the values a reader can choose
    scale: str  # the grid's scale parameter: a log-spaced slider
    params: Mapping[str, Any] = field(default_factory=dict)  # held fixed
    initial: Mapping[str, Any] = field(default_factory=dict)  # the first view (else defaults)
    runs: int = 100  # the most networks a cell may use
    standard_error: float = 0.1  # decades: of each cell's final median


@dataclass(frozen=True)
class Experiment:
    # The words a reader sees (title, summary, step_label, step_plural, the parameters' help)
    # are declared in English, marked with N_ (from stabreport.render.i18n) so that they enter the
    # catalogue, and translated where they are shown.
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
    tangent_needs: str = "Gaussian weights"  # what tangent_applies asks, for its error line
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
    # What a section of it introduces, from the parameters its settings share: a mapping of
    # facts for the section template (the activation's name, formula and what it does, ...).
    introduce: Callable[[Params], Mapping[str, Any]] | None = None
    # The full path can also track M's spectrum: `simulate(params, runs, rng, spectrum=True)`
    # then returns SPECTRUM_METRICS too (see Spectrum), at the cost of a QR factorisation every
    # few steps; builds ask for it only where a page shows it.
    spectrum: bool = False
    # Peak working memory in bytes of one block of `runs` on the full path, if the default
    # (four k×k float64 matrices per run: W, M, a product and a copy) does not fit the simulation.
    full_path_bytes: Callable[[Params, int], int] | None = None
    # What the explorer page offers of it (see Explore); None: it is not on that page.
    explore: Explore | None = None
    step_plural: str = ""  # step_label's plural ("layers"); "": step_label + "s"
    # The full path also returns how far back the gradient reaches (Simulation.reach): the
    # figure kind "reach" shows it. A function of the parameters where only some settings do.
    reach: bool | Callable[[Params], bool] = False
    # The metrics a setting reports, by name, where they depend on its parameters (the MLP's
    # normalised settings report a gradient ratio, not a matrix); None: every metric declared.
    # The first is the setting's primary metric: a run whose value is −inf died.
    reports: Callable[[Params], tuple[str, ...]] | None = None
    # What its trajectory is, where it is not the matrix's log10 mean |M_ij| after every step:
    # training's loss after every step. An optional one may end early (NaN from a run's first
    # non-finite value on), and `run --json` writes each run's list under its name.
    trajectory_metric: Metric | None = None
    # The table of a section of it (a template under partials/): the matrix metrics' table, or
    # one whose columns are the section's statistics alone.
    table: str = "partials/setting_table.md.j2"
    # Multiply–adds of `runs` runs on the full path, for estimates of time, if the default
    # (one k×k product per step: 2 k³) does not fit the simulation.
    full_path_flops: Callable[[Params, int], int] | None = None
    # Runs drawn together from one random stream, if the default (as many k×k matrices as fit
    # in 8 MiB) does not fit: a function of the parameters only.
    runs_per_block: Callable[[Params], int] | None = None
    source: str = "stabreport"  # the distribution it comes from (filled in by the registry)

    def param(self, name: str, where: str = "") -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params)
        raise ConfigError(f"{where}unknown parameter '{name}' for experiment '{self.name}'; "
                          f"allowed: {known}", key=name)

    @property
    def all_metrics(self) -> tuple[Metric, ...]:
        """The metrics of its full path, the spectrum's included where it can track it."""
        return self.metrics + (SPECTRUM_METRICS if self.spectrum else ())

    def metric(self, name: str) -> Metric:
        return next(m for m in self.all_metrics if m.name == name)

    def setting_metrics(self, params: Params, spectrum: bool = False) -> tuple[Metric, ...]:
        """The metrics one setting's full path reports, its primary metric first (the spectrum's
        too if asked, for an experiment that tracks it)."""
        chosen = self.metrics if self.reports is None else \
            tuple(self.metric(name) for name in self.reports(params))
        if spectrum and self.tracks_spectrum(params):
            chosen += SPECTRUM_METRICS
        return chosen

    def tracks_spectrum(self, params: Params) -> bool:
        """Whether the full path can track this setting's spectrum: where it forms a matrix."""
        return self.spectrum and (self.reports is None or "log10_mean_abs" in self.reports(params))

    def forms_matrix(self, params: Params) -> bool:
        """Whether a setting's full path forms a matrix M and reports its sizes (the lecture's
        statistic, a verdict): not a training run, nor a normalised MLP's batch gradient."""
        return "log10_mean_abs" in {m.name for m in self.setting_metrics(params)}

    def primary_metric(self, params: Params) -> str:
        return self.setting_metrics(params)[0].name

    def has_reach(self, params: Params) -> bool:
        return bool(self.reach(params) if callable(self.reach) else self.reach)

    def metric_theory(self, params: Params) -> Mapping[str, "MetricPrediction"]:
        """The theory's predictions of a setting's metrics outside its matrix law (by name)."""
        return {} if self.theory is None else self.theory.metrics(params)

    def canonical_params(self, overrides: Params, where: str = "") -> dict[str, Any]:
        """Validate typed overrides and fill in defaults, in declaration order."""
        for name in overrides:
            self.param(name, where)
        params = {p.name: p.validate(overrides[p.name], where) if p.name in overrides else p.default
                  for p in self.params}
        params = self.normalise(params, set(overrides), where)
        omitted = {p.name for p in self.params if p.omitted_at and params.get(p.name) in p.omitted_at}
        return {k: v for k, v in params.items() if k not in omitted}

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

    def predict(self, params: Params) -> "Prediction | None":
        """The theory's prediction for a setting, or None where it has none (computed once per
        process: a build asks it of a cell to size it and again to draw its law)."""
        if self.theory is None or not self.theory.applies(params):
            return None
        return predicted(self.theory.predict, params)

    def has_theory(self, params: Params) -> bool:
        return self.theory is not None and self.theory.applies(params)

    def has_tangent(self, params: Params) -> bool:
        return self.tangent is not None and self.tangent_applies(params)

    def block_runs(self, params: Params) -> int:
        """Runs drawn together from one random stream: a function of the parameters only, so the
        numbers never depend on memory limits or on how many processes share the work."""
        if self.runs_per_block is not None:
            return self.runs_per_block(params)
        k = self.width(params)
        return max(1, min(1024, 2**20 // (k * k)))

    def flops(self, params: Params, runs: int) -> int:
        """Multiply–adds of `runs` runs on the full path (see full_path_flops)."""
        if self.full_path_flops is not None:
            return self.full_path_flops(params, runs)
        return 2 * runs * self.steps(params) * self.width(params) ** 3

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

    def step_word(self, n: int | None = None) -> str:
        """The name of a step for `n` of them ("layer", "layers"; the plural when n is None), in
        the language being rendered."""
        word = self.step_label if n == 1 else self.step_plural or self.step_label + "s"
        return _(word)

    def words(self, params: Params) -> str:
        """The setting in words: the declaration's own description (in the language being
        rendered), else its parameters."""
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
                                                    self.theory.critical_scale,
                                                    self.theory.applies, self.theory.metrics)}))


def log10_mean_abs(m: np.ndarray, log_scale: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (log_scale + np.log(np.abs(m).mean(axis=(1, 2)))) / LN10


def finish(m: np.ndarray, log_scale: np.ndarray, trajectory: np.ndarray,
           spectrum: Spectrum | None = None, reach: np.ndarray | None = None,
           extra: Mapping[str, np.ndarray] | None = None) -> Simulation:
    """Per-run metrics of the final matrices M = exp(log_scale) * m (and of their spectrum)."""
    with np.errstate(divide="ignore"):
        spectral = np.linalg.norm(m, ord=2, axis=(1, 2))
        metrics = {
            "log10_mean_abs": log10_mean_abs(m, log_scale),
            "log10_fro": (log_scale + np.log(np.sqrt(np.einsum("nij,nij->n", m, m)))) / LN10,
            "log10_spectral": (log_scale + np.log(spectral)) / LN10,
            "log10_norm_u": (log_scale + np.log(np.linalg.norm(m[:, :, 0], axis=1))) / LN10,
            **(extra or {}),
        }
    if spectrum is None:
        return Simulation(metrics=metrics, trajectory=trajectory, reach=reach)
    tracked, values = spectrum.finish()
    return Simulation(metrics={**metrics, **tracked}, trajectory=trajectory, log10_sv=values,
                      reach=reach)


def renormalise(v: np.ndarray) -> np.ndarray:
    """Scale each row of `v` to unit length in place; return the natural log of the lengths."""
    norms = np.linalg.norm(v, axis=1)
    v /= np.where(norms > 0, norms, 1.0)[:, None]
    with np.errstate(divide="ignore"):
        return np.log(norms)
