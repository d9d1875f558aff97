"""Closed forms and mean-field predictions for both experiments.

Every law here is the law of a natural logarithm (ln ‖M u‖, ln mean|M_ij|), carried as a
characteristic function plus its first three cumulants, so that independent pieces add and
iid sums over factors or layers are powers. Densities, CDFs and quantiles come from numerical
Fourier inversion (Gil-Pelaez). Which predictions are exact and which approximate:

- products of Gaussian matrices: ln ‖Y u‖ is an exact sum of iid ln s + ½ ln χ²_k terms (exact);
  mean|Y_ij| follows from a rank-one model Y ≈ σ₁ a bᵀ (approximate, ~0.01 decades at k = 4).
- ReLU with Gaussian weights, zero bias: ‖J u‖² = Π s² χ²_{N_l}, N_l ~ Binomial(k, ½) (exact at
  finite width, conditioned on no layer being entirely inactive).
- smooth activations: mean-field variance map with a 1/k finite-width correction per layer
  (approximate).
- mean|J_ij| for the MLP: ‖J u‖ · √(2/π) E[φ′] / √(k E[φ′²]) (approximate; J is effectively
  low rank, which biases it by about +0.1 decade).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Mapping

import numpy as np
from scipy import optimize, special, stats
from scipy.stats import qmc

from .experiments import Experiment
from .nn import ACTIVATIONS, INITIALISERS

LN10 = math.log(10.0)


# --- laws of logarithms --------------------------------------------------------------------------

@dataclass(frozen=True)
class LogLaw:
    """The law of a real random variable X (a natural log), by log-characteristic function."""

    log_cf: Callable[[np.ndarray], np.ndarray]
    cumulants: tuple[float, float, float]  # κ1, κ2, κ3

    def __add__(self, other: "LogLaw") -> "LogLaw":
        """X + Y for independent X and Y."""
        return LogLaw(lambda t: self.log_cf(t) + other.log_cf(t),
                      tuple(a + b for a, b in zip(self.cumulants, other.cumulants)))

    def without(self, other: "LogLaw") -> "LogLaw":
        """The law of X when self = X + Y with Y ~ other independent of X (deconvolution)."""
        return LogLaw(lambda t: self.log_cf(t) - other.log_cf(t),
                      tuple(a - b for a, b in zip(self.cumulants, other.cumulants)))

    def times(self, n: int) -> "LogLaw":
        """The sum of n iid copies (n an integer, so any branch of the log gives cf**n)."""
        return LogLaw(lambda t: n * self.log_cf(t), tuple(n * c for c in self.cumulants))

    def shifted(self, c: float) -> "LogLaw":
        k1, k2, k3 = self.cumulants
        return LogLaw(lambda t: self.log_cf(t) + 1j * t * c, (k1 + c, k2, k3))

    @property
    def sd(self) -> float:
        return math.sqrt(self.cumulants[1])

    @property
    def cornish_fisher_median(self) -> float:
        k1, k2, k3 = self.cumulants
        return k1 - k3 / (6 * k2)

    @cached_property
    def _inversion(self) -> tuple[np.ndarray, float, np.ndarray]:
        """The t-grid, its step and the characteristic function on it, computed once."""
        t, dt, _ = self._grid()
        return t, dt, np.exp(self.log_cf(t))

    def _grid(self) -> tuple[np.ndarray, float, float]:
        """Midpoint t-grid for inversion over centre ± 14 sd (aliasing period four times that)."""
        half_width = 14 * self.sd
        dt = math.pi / (2 * half_width)
        t_max = dt
        while t_max < 1e4 and np.abs(np.exp(self.log_cf(np.array([t_max])))[0]) > 1e-13:
            t_max *= 1.5
        t = (np.arange(int(t_max / dt) + 1) + 0.5) * dt
        return t, dt, half_width

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        t, dt, cf = self._inversion
        x = np.atleast_1d(np.asarray(x, dtype=float))
        integrand = np.imag(np.exp(-1j * np.outer(x, t)) * cf) / t
        return np.clip(0.5 - integrand.sum(axis=1) * dt / math.pi, 0.0, 1.0)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        t, dt, cf = self._inversion
        integrand = np.real(np.exp(-1j * np.outer(np.asarray(x, float), t)) * cf)
        return np.maximum(integrand.sum(axis=1) * dt / math.pi, 0.0)

    def quantile(self, p: float) -> float:
        centre, half = self.cumulants[0], 12 * self.sd
        return optimize.brentq(lambda x: self.cdf(x)[0] - p, centre - half, centre + half,
                               xtol=1e-9)

    def median(self) -> float:
        return self.quantile(0.5)


def gaussian_law(mean: float, variance: float) -> LogLaw:
    return LogLaw(lambda t: 1j * t * mean - 0.5 * variance * t * t, (mean, variance, 0.0))


def half_log_chi2(dof: int) -> LogLaw:
    """½ ln χ²_dof: cf 2^(it/2) Γ(dof/2 + it/2) / Γ(dof/2); κ_m = 2^(−m) ψ^(m−1)(dof/2)."""
    a = dof / 2
    return LogLaw(
        lambda t: 0.5j * t * math.log(2) + special.loggamma(a + 0.5j * t) - special.loggamma(a),
        (0.5 * (special.digamma(a) + math.log(2)), 0.25 * special.polygamma(1, a),
         0.125 * special.polygamma(2, a)))


def _mixture(weights: np.ndarray, laws: list[LogLaw]) -> LogLaw:
    """A mixture of laws with the given probabilities."""
    def log_cf(t: np.ndarray) -> np.ndarray:
        return np.log(sum(w * np.exp(law.log_cf(t)) for w, law in zip(weights, laws)))

    raw = np.zeros(3)
    for w, law in zip(weights, laws):
        k1, k2, k3 = law.cumulants
        raw += w * np.array([k1, k2 + k1**2, k3 + 3 * k2 * k1 + k1**3])
    m1, m2, m3 = raw
    return LogLaw(log_cf, (m1, m2 - m1**2, m3 - 3 * m1 * m2 + 2 * m1**3))


def log_abs_first_coordinate(k: int) -> LogLaw:
    """ln |b₁| for b uniform on the unit sphere of R^k: b₁² ~ Beta(½, (k − 1)/2)."""
    a, b = 0.5, (k - 1) / 2

    def log_cf(t: np.ndarray) -> np.ndarray:
        s = 0.5j * t
        return (special.loggamma(a + s) - special.loggamma(a)
                + special.loggamma(a + b) - special.loggamma(a + b + s))

    return LogLaw(log_cf, (0.5 * (special.digamma(a) - special.digamma(a + b)),
                           0.25 * (special.polygamma(1, a) - special.polygamma(1, a + b)),
                           0.125 * (special.polygamma(2, a) - special.polygamma(2, a + b))))


@lru_cache(maxsize=None)
def log_mean_abs_of_unit_vector(k: int, support: int | None = None) -> LogLaw:
    """ln mean_i |a_i| over k coordinates, for a uniform on the unit sphere of R^support (the
    other coordinates zero). Evaluated on a fixed, unscrambled Sobol' point set: deterministic,
    and accurate to about 1e-4 in the cumulants."""
    n = support or k
    # Centre each point in its cell: no coordinate is exactly 0 or 1, where ndtri is infinite.
    points = qmc.Sobol(d=n, scramble=False).random_base2(14) + 2.0**-15
    g = special.ndtri(points)
    values = np.log(np.abs(g).sum(axis=1) / np.linalg.norm(g, axis=1) / k)
    k1, k2, k3 = float(values.mean()), float(values.var()), float(stats.moment(values, 3))

    def log_cf(t: np.ndarray) -> np.ndarray:
        return np.log(np.exp(1j * np.outer(t, values)).mean(axis=1))

    return LogLaw(log_cf, (k1, k2, k3))


# --- activations: Gaussian expectations and the mean-field maps ----------------------------------

def _gaussian_rule(q: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of a dense midpoint rule for E f(√q Z) on ±10√q: unlike a fixed
    Gauss–Hermite rule it stays accurate for large q, and points straddle 0, so ReLU's kink is
    integrated exactly."""
    sd = math.sqrt(max(q, 1e-24))  # a collapsed signal: the slope at 0 is what matters
    h = min(0.02, sd / 200)
    n = int(math.ceil(10 * sd / h))
    x = (np.arange(-n, n) + 0.5) * h
    return x, np.exp(-0.5 * (x / sd) ** 2) * (h / (sd * math.sqrt(2 * math.pi)))


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: float) -> float:
    """E f(√q Z) for Z ~ N(0, 1)."""
    x, weights = _gaussian_rule(q)
    return float(np.dot(f(x), weights))


@dataclass(frozen=True)
class LayerMoments:
    q: float  # pre-activation variance
    chi: float  # k s² E φ′²: mean-square gain of the squared norm
    mean_log_ratio: float  # E ln r_l with the 1/k correction (r_l the squared-norm ratio)
    var_log_ratio: float
    d1: float  # E φ′
    d2: float  # E φ′²


def mean_field_layers(activation: str, width: int, depth: int, std: float) -> list[LayerMoments]:
    """Pre-activation variance map q_{l+1} = k s² E φ(√q_l Z)², starting at q₁ = k s² (E‖x‖² = k),
    with per-layer gradient moments and the finite-width correction of the log gain."""
    act = ACTIVATIONS[activation]
    layers = []
    q = width * std**2
    for _ in range(depth):
        x, weights = _gaussian_rule(q)  # one rule and one evaluation of φ′ for all moments
        slope = act.derivative(x)
        slope2 = slope * slope
        d1, d2, d4 = float(slope @ weights), float(slope2 @ weights), float((slope2 * slope2) @ weights)
        chi = width * std**2 * d2
        excess = (3 * d4 - d2**2) / (width * d2**2)
        layers.append(LayerMoments(q, chi, math.log(chi) - excess / 2, excess, d1, d2))
        if act.positively_homogeneous:  # φ′ moments do not depend on q: every layer is alike
            q_next = q
        else:
            q_next = width * std**2 * float((act.fn(x) ** 2) @ weights)
        if abs(q_next - q) <= 1e-12 * q:  # settled: the remaining layers repeat this one
            layers.extend([layers[-1]] * (depth - len(layers)))
            break
        q = q_next
    return layers


# --- predictions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    law: str  # what the prediction rests on, for the page
    exact: bool  # the law of log10 ‖M u‖ is exact (not an approximation)
    median_log10_norm_u: float
    q05_log10_norm_u: float
    q95_log10_norm_u: float
    median_log10_mean_abs: float
    mean_abs_method: str
    log10_gain_per_step: float
    log10_rms_gain_per_step: float  # ½ log10 of the mean-square gain: what variance rules preserve
    critical_scale: float | None
    # log10 ‖M u‖ and log10 mean|M_ij| medians after 0, 1, ..., steps (Cornish–Fisher)
    trajectory_log10_mean_abs: np.ndarray = field(repr=False)
    norm_u_law: LogLaw = field(repr=False)
    mean_abs_law: LogLaw | None = field(repr=False)
    reference: str = ""  # the textbook scale to compare the critical one with
    reference_scale: float = math.nan

    def as_json(self) -> dict[str, Any]:
        return {"median_log10_mean_abs": self.median_log10_mean_abs,
                "log10_gain_per_step": self.log10_gain_per_step,
                "critical_scale": self.critical_scale,
                "exact": self.exact,
                "law": self.law,
                "median_log10_norm_u": self.median_log10_norm_u,
                "q05_log10_norm_u": self.q05_log10_norm_u,
                "q95_log10_norm_u": self.q95_log10_norm_u,
                "mean_abs_method": self.mean_abs_method}

    def density_log10(self, which: str, grid: np.ndarray) -> np.ndarray:
        """Density of log10 ‖M u‖ ("norm_u") or log10 mean|M_ij| ("mean_abs") on a log10 grid."""
        law = self.norm_u_law if which == "norm_u" else self.mean_abs_law
        assert law is not None
        return law.pdf(grid * LN10) * LN10


def _quantiles_log10(law: LogLaw) -> tuple[float, float, float]:
    return tuple(law.quantile(p) / LN10 for p in (0.5, 0.05, 0.95))


def reference_scale(experiment: str, width: int, activation: str | None) -> tuple[str, float]:
    """The textbook scale for a setting: what people set instead of the critical scale."""
    if experiment == "products":
        return "the variance-preserving 1/√k", 1 / math.sqrt(width)
    if activation == "relu":
        return "He's √(2/k)", math.sqrt(2 / width)
    return "LeCun's 1/√k", 1 / math.sqrt(width)


def products_critical_scale(k: int) -> float:
    return math.exp(-0.5 * (special.digamma(k / 2) + math.log(2)))


def lyapunov_gap(k: int) -> float:
    """λ₁ − λ₂ per factor for products of k×k Gaussian matrices (natural log)."""
    return 0.5 * (special.digamma(k / 2) - special.digamma((k - 1) / 2)) if k > 1 else math.inf


RANK_ONE_GAP = 3.0  # use the rank-one model once σ₂/σ₁ ≈ exp(−L (λ₁ − λ₂)) is below 5 %


def predict_products(k: int, factors: int, scale: float) -> Prediction:
    step = half_log_chi2(k).shifted(math.log(scale))
    norm_u = step.times(factors)
    median, q05, q95 = _quantiles_log10(norm_u)
    # Rank-one model: ln mean|Y| = ln σ₁ + ln m(a) + ln m(b), with ln ‖Y u‖ = ln σ₁ + ln |b₁|;
    # with too few factors for Y to be close to rank one, the column-norm approximation.
    column = (_column_to_mean_abs(k, 1.0, 1.0) * LN10, 0.0, 0.0)
    rank_one = None
    if factors * lyapunov_gap(k) >= RANK_ONE_GAP:
        offset_m = log_mean_abs_of_unit_vector(k)
        rank_one = (offset_m + offset_m).without(log_abs_first_coordinate(k))
        mean_abs = norm_u + rank_one
        median_mean_abs = mean_abs.median() / LN10
        method = "rank-one model Y ≈ σ₁ a bᵀ with a, b uniform on the sphere"
    else:
        mean_abs = None
        median_mean_abs = median + column[0] / LN10
        method = "column norm × √(2/(π k)) (too few factors for the rank-one model)"
    offsets = [rank_one.cumulants if rank_one and n * lyapunov_gap(k) >= RANK_ONE_GAP else column
               for n in range(1, factors + 1)]
    trajectory = np.array([-math.log10(k)] + [
        _cornish_fisher_median(step.times(n).cumulants, extra) / LN10
        for n, extra in zip(range(1, factors + 1), offsets)])
    return Prediction(
        law="exact: ln ‖Y u‖ is a sum of iid ln s + ½ ln χ²_k terms",
        exact=True, median_log10_norm_u=median, q05_log10_norm_u=q05, q95_log10_norm_u=q95,
        median_log10_mean_abs=median_mean_abs, mean_abs_method=method,
        log10_gain_per_step=step.cumulants[0] / LN10, critical_scale=products_critical_scale(k),
        log10_rms_gain_per_step=math.log10(scale * math.sqrt(k)),
        trajectory_log10_mean_abs=trajectory, norm_u_law=norm_u, mean_abs_law=mean_abs,
        reference=reference_scale("products", k, None)[0],
        reference_scale=reference_scale("products", k, None)[1])


def _cornish_fisher_median(cumulants: tuple[float, float, float],
                           extra: tuple[float, float, float]) -> float:
    k1, k2, k3 = (a + b for a, b in zip(cumulants, extra))
    return k1 - k3 / (6 * k2) if k2 > 0 else k1


@lru_cache(maxsize=None)
def relu_layer_law(width: int) -> LogLaw:
    """½ ln χ²_N with N ~ Binomial(width, ½) conditioned on N > 0 (one ReLU layer, unit scale)."""
    n = np.arange(1, width + 1)
    weights = stats.binom.pmf(n, width, 0.5)
    weights /= weights.sum()
    keep = weights > 1e-16  # components too rare to matter anywhere on the grid
    return _mixture(weights[keep], [half_log_chi2(int(d)) for d in n[keep]])


def relu_critical_scale(width: int) -> float:
    return math.exp(-relu_layer_law(width).cumulants[0])


def _column_to_mean_abs(width: int, d1: float, d2: float) -> float:
    """log10 of mean|J_ij| / ‖J u‖ for a column of iid Gaussian-times-slope entries."""
    return math.log10(math.sqrt(2 / math.pi) * d1 / math.sqrt(width * d2))


def predict_mlp(width: int, depth: int, activation: str, init: str, scale: float | None) -> Prediction:
    std = INITIALISERS[init].std(width, scale)
    if activation == "relu":
        step = relu_layer_law(width).shifted(math.log(std))
        norm_u = step.times(depth)
        offset = _column_to_mean_abs(width, 0.5, 0.5)
        exact = INITIALISERS[init].gaussian
        law = ("exact: ‖J u‖² is a product of s² χ²_N terms, N ~ Binomial(width, ½)" if exact else
               "finite-width ReLU law with this init's variance (exact for Gaussian weights only)")
        medians = [step.times(n).cornish_fisher_median / LN10 + offset for n in range(1, depth + 1)]
        gain, critical = step.cumulants[0] / LN10, relu_critical_scale(width)
        rms = 0.5 * math.log10(width * std**2 / 2)
    else:
        layers = mean_field_layers(activation, width, depth, std)
        means = np.cumsum([0.5 * m.mean_log_ratio for m in layers])
        variances = np.cumsum([0.25 * m.var_log_ratio for m in layers])
        norm_u = gaussian_law(float(means[-1]), float(variances[-1]))
        offset = _column_to_mean_abs(width, layers[-1].d1, layers[-1].d2)
        exact = False
        law = "mean field: variance map and per-layer χ, with a 1/width correction"
        medians = [means[i] / LN10 + _column_to_mean_abs(width, m.d1, m.d2)
                   for i, m in enumerate(layers)]
        gain = 0.5 * layers[-1].mean_log_ratio / LN10
        rms = 0.5 * math.log10(layers[-1].chi)
        critical = smooth_critical_scale(activation, width)
    median, q05, q95 = _quantiles_log10(norm_u)
    return Prediction(
        law=law, exact=exact, median_log10_norm_u=median, q05_log10_norm_u=q05,
        q95_log10_norm_u=q95, median_log10_mean_abs=median + offset,
        mean_abs_method="column norm × √(2/π) E[φ′] / √(width E[φ′²]) (J treated as full rank)",
        log10_gain_per_step=gain, log10_rms_gain_per_step=rms, critical_scale=critical,
        trajectory_log10_mean_abs=np.array([-math.log10(width), *medians]),
        norm_u_law=norm_u, mean_abs_law=None,
        reference=reference_scale("mlp", width, activation)[0],
        reference_scale=reference_scale("mlp", width, activation)[1])


@lru_cache(maxsize=None)
def smooth_critical_scale(activation: str, width: int) -> float | None:
    """The normal-init scale at which the settled per-layer log gain is zero, if there is one."""
    def settled_gain(log_scale: float) -> float:
        return mean_field_layers(activation, width, 400, math.exp(log_scale))[-1].mean_log_ratio

    return _scale_where_rising_through_zero(settled_gain)


def _scale_where_rising_through_zero(f: Callable[[float], float]) -> float | None:
    """The first scale in [1e-3, 10] (searched on ln scale) where f goes from negative to
    non-negative, or None: a critical scale."""
    grid = np.linspace(math.log(1e-3), math.log(10.0), 24)
    values = [f(x) for x in grid]
    for left, right, v_left, v_right in zip(grid, grid[1:], values, values[1:]):
        if v_left < 0 <= v_right:
            return math.exp(optimize.brentq(f, left, right, xtol=1e-10))
    return None


def predict(experiment: Experiment, params: Mapping[str, Any]) -> Prediction:
    if experiment.name == "products":
        return predict_products(params["k"], params["factors"], params["scale"])
    return predict_mlp(params["width"], params["depth"], params["activation"], params["init"],
                       params["scale"])


# --- gain against scale, for the summary figure ---------------------------------------------------

@dataclass(frozen=True)
class GainCurve:
    label: str
    key: tuple  # (experiment, width, steps, activation)
    scales: tuple[float, ...]
    gains: tuple[float, ...]  # typical log10 gain of ‖M u‖ per step, averaged over the steps
    critical_scale: float | None
    reference: str  # the textbook scale to compare with, e.g. "He: √(2/k)"
    reference_scale: float


def curve_key(experiment: Experiment, params: Mapping[str, Any]) -> tuple:
    return (experiment.name, experiment.width(params), experiment.steps(params),
            params.get("activation", "linear"))


def effective_scale(experiment: Experiment, params: Mapping[str, Any]) -> float:
    if experiment.name == "products":
        return params["scale"]
    return INITIALISERS[params["init"]].std(params["width"], params["scale"])


def gain_curve(key: tuple, scales: np.ndarray) -> GainCurve:
    name, width, steps, activation = key
    gains = []
    for scale in scales:
        if name == "products":
            law = half_log_chi2(width).shifted(math.log(scale)).times(steps)
        elif activation == "relu":
            law = relu_layer_law(width).shifted(math.log(scale)).times(steps)
        else:
            layers = mean_field_layers(activation, width, steps, float(scale))
            law = gaussian_law(sum(0.5 * m.mean_log_ratio for m in layers), 1.0)
        gains.append(law.cornish_fisher_median / LN10 / steps)
    if name == "products":
        label, critical = f"products, k = {width}", products_critical_scale(width)
    elif activation == "relu":
        label, critical = f"relu, width {width}, depth {steps}", relu_critical_scale(width)
    else:
        label, critical = f"{activation}, width {width}, depth {steps}", \
            smooth_critical_scale(activation, width)
    return GainCurve(label, key, tuple(float(s) for s in scales), tuple(gains), critical,
                     *reference_scale(name, width, activation))


@lru_cache(maxsize=None)
def critical_scale_at(experiment: str, activation: str, width: int, steps: int) -> float | None:
    """The scale at which the typical log ‖M u‖ after `steps` is zero (the depth-averaged gain
    vanishes): the theory's critical curve on a phase diagram."""
    if experiment == "products":
        return products_critical_scale(width)
    if activation == "relu":
        return relu_critical_scale(width)

    def total(log_scale: float) -> float:
        layers = mean_field_layers(activation, width, steps, math.exp(log_scale))
        return sum(m.mean_log_ratio for m in layers)

    return _scale_where_rising_through_zero(total)
