"""Laws of logarithms (ln ‖M u‖, ln mean|M_ij|), carried as a log-characteristic function plus
the first three cumulants, so that independent pieces add and iid sums over factors or layers are
powers. Densities, CDFs and quantiles come from numerical Fourier inversion (Gil-Pelaez).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import optimize, special

LN10 = math.log(10.0)


@dataclass(frozen=True, eq=False)
class LogLaw:
    """The law of a real random variable X (a natural log), by log-characteristic function.

    A shift is carried as `offset`, outside the characteristic function: X = offset + Y with Y
    of log-characteristic function `log_cf`. Shifted copies (one law at many weight scales)
    then share one inversion, and the phase of e^{it·offset} is never sampled, however large
    the offset."""

    log_cf: Callable[[np.ndarray], np.ndarray]  # of X − offset
    cumulants: tuple[float, float, float]  # κ1, κ2, κ3 of X
    offset: float = 0.0
    _memo: dict = field(default_factory=dict, repr=False)  # quantiles and powers, computed once

    def __add__(self, other: "LogLaw") -> "LogLaw":
        """X + Y for independent X and Y: the sum of the centred laws, shifted, so that the sums
        of one law at many shifts (a setting at many weight scales) share one inversion."""
        if self.offset or other.offset:
            return (self.centred + other.centred).shifted(self.offset + other.offset)
        return self._combined("plus", other, lambda t: self.log_cf(t) + other.log_cf(t),
                              tuple(a + b for a, b in zip(self.cumulants, other.cumulants)))

    def without(self, other: "LogLaw") -> "LogLaw":
        """The law of X when self = X + Y with Y ~ other independent of X (deconvolution)."""
        if self.offset or other.offset:
            return self.centred.without(other.centred).shifted(self.offset - other.offset)
        return self._combined("without", other, lambda t: self.log_cf(t) - other.log_cf(t),
                              tuple(a - b for a, b in zip(self.cumulants, other.cumulants)))

    def _combined(self, how: str, other: "LogLaw", log_cf: Callable[[np.ndarray], np.ndarray],
                  cumulants: tuple[float, ...]) -> "LogLaw":
        """The law made of this one and `other`, made once: the memo keeps `other` alive with
        it, so that its id stands for it."""
        key = (how, id(other))
        if key not in self._memo:
            self._memo[key] = (other, LogLaw(log_cf, cumulants))
        return self._memo[key][1]

    def times(self, n: int) -> "LogLaw":
        """The sum of n iid copies (n an integer, so any branch of the log gives cf**n)."""
        if self.offset:
            return self.centred.times(n).shifted(n * self.offset)
        if ("times", n) not in self._memo:
            self._memo["times", n] = LogLaw(lambda t: n * self.log_cf(t),
                                            tuple(n * c for c in self.cumulants))
        return self._memo["times", n]

    def shifted(self, c: float) -> "LogLaw":
        """X + c: the same inversion, moved."""
        base = self.centred
        base._memo.setdefault("base cumulants", base.cumulants)
        k1, k2, k3 = base.cumulants
        return type(self)(self.log_cf, (k1 + self.offset + c, k2, k3), self.offset + c, base._memo)

    @property
    def centred(self) -> "LogLaw":
        """X − offset, with the cumulants of the law that was first shifted (not this law's
        minus its offset, which would differ in the last bit from shift to shift and make what
        the shared memo holds depend on which shift asked first)."""
        if not self.offset:
            return self
        return type(self)(self.log_cf, self._memo["base cumulants"], 0.0, self._memo)

    @property
    def sd(self) -> float:
        return math.sqrt(self.cumulants[1])

    @property
    def cornish_fisher_median(self) -> float:
        k1, k2, k3 = self.cumulants
        return k1 - k3 / (6 * k2)

    def _inversion(self) -> tuple[np.ndarray, float, np.ndarray]:
        """The t-grid, its step and the characteristic function on it, computed once (shared
        by every shift of this law)."""
        if "inversion" not in self._memo:
            t, dt, _ = self._grid()
            self._memo["inversion"] = (t, dt, np.exp(self.log_cf(t)))
        return self._memo["inversion"]

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
        t, dt, cf = self._inversion()
        x = np.atleast_1d(np.asarray(x, dtype=float)) - self.offset
        integrand = np.imag(np.exp(-1j * np.outer(x, t)) * cf) / t
        return np.clip(0.5 - integrand.sum(axis=1) * dt / math.pi, 0.0, 1.0)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        t, dt, cf = self._inversion()
        integrand = np.real(np.exp(-1j * np.outer(np.asarray(x, float) - self.offset, t)) * cf)
        return np.maximum(integrand.sum(axis=1) * dt / math.pi, 0.0)

    def quantile(self, p: float) -> float:
        if ("quantile", p) not in self._memo:
            base = self.centred
            centre, half = base.cumulants[0], 12 * base.sd
            self._memo["quantile", p] = optimize.brentq(lambda x: base.cdf(x)[0] - p,
                                                        centre - half, centre + half, xtol=1e-9)
        return self._memo["quantile", p] + self.offset

    def median(self) -> float:
        return self.quantile(0.5)


class GaussianLaw(LogLaw):
    """A normal law: its CDF, density and quantiles in closed form, so that they stay exact
    however far its mean is from zero (numerical inversion loses the phase of e^{itμ})."""

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        mean, variance, _ = self.cumulants
        return special.ndtr((np.atleast_1d(np.asarray(x, dtype=float)) - mean) / math.sqrt(variance))

    def pdf(self, x: np.ndarray) -> np.ndarray:
        mean, variance, _ = self.cumulants
        return np.exp(-0.5 * (np.asarray(x, float) - mean) ** 2 / variance) / math.sqrt(2 * math.pi * variance)

    def quantile(self, p: float) -> float:
        mean, variance, _ = self.cumulants
        return mean + math.sqrt(variance) * float(special.ndtri(p))


def gaussian_law(mean: float, variance: float) -> LogLaw:
    return GaussianLaw(lambda t: 1j * t * mean - 0.5 * variance * t * t, (mean, variance, 0.0))


@lru_cache(maxsize=None)
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
        return np.log(sum(w * np.exp(law.log_cf(t) + 1j * t * law.offset)
                          for w, law in zip(weights, laws)))

    raw = np.zeros(3)
    for w, law in zip(weights, laws):
        k1, k2, k3 = law.cumulants
        raw += w * np.array([k1, k2 + k1**2, k3 + 3 * k2 * k1 + k1**3])
    m1, m2, m3 = raw
    return LogLaw(log_cf, (m1, m2 - m1**2, m3 - 3 * m1 * m2 + 2 * m1**3))


def half_log_beta(a: float, b: float) -> LogLaw:
    """½ ln B for B ~ Beta(a, b) (b = 0: B = 1, a point at 0): the squared length of a uniform
    unit vector of R^(2a+2b) projected on 2a of its coordinates."""
    if b == 0:
        return LogLaw(lambda t: np.zeros_like(np.asarray(t, dtype=complex)), (0.0, 0.0, 0.0))

    def log_cf(t: np.ndarray) -> np.ndarray:
        s = 0.5j * t
        return (special.loggamma(a + s) - special.loggamma(a)
                + special.loggamma(a + b) - special.loggamma(a + b + s))

    return LogLaw(log_cf, (0.5 * (special.digamma(a) - special.digamma(a + b)),
                           0.25 * (special.polygamma(1, a) - special.polygamma(1, a + b)),
                           0.125 * (special.polygamma(2, a) - special.polygamma(2, a + b))))


@lru_cache(maxsize=None)
def log_abs_first_coordinate(k: int) -> LogLaw:
    """ln |b₁| for b uniform on the unit sphere of R^k: b₁² ~ Beta(½, (k − 1)/2), so ln |b₁| is
    ½ ln of that Beta (k = 1: b₁ = ±1, a point at 0)."""
    return half_log_beta(0.5, (k - 1) / 2)


@lru_cache(maxsize=None)
def log_mean_abs_of_unit_vector(k: int, support: int | None = None) -> LogLaw:
    """ln mean_i |a_i| over k coordinates, for a uniform on the unit sphere of R^support (the
    other coordinates zero). Evaluated on a fixed, unscrambled Sobol' point set: deterministic,
    and accurate to about 1e-4 in the cumulants."""
    from scipy.stats import qmc  # only here: scipy.stats is slow to import

    n = support or k
    # Centre each point in its cell: no coordinate is exactly 0 or 1, where ndtri is infinite.
    points = qmc.Sobol(d=n, scramble=False).random_base2(14) + 2.0**-15
    g = special.ndtri(points)
    values = np.log(np.abs(g).sum(axis=1) / np.linalg.norm(g, axis=1) / k)
    k1, k2, k3 = float(values.mean()), float(values.var()), float(np.mean((values - values.mean()) ** 3))

    def log_cf(t: np.ndarray) -> np.ndarray:
        return np.log(np.exp(1j * np.outer(t, values)).mean(axis=1))

    return LogLaw(log_cf, (k1, k2, k3))


def quantiles_log10(law: LogLaw) -> tuple[float, float, float]:
    """Median, 5 % and 95 % quantiles of law / ln 10."""
    return tuple(law.quantile(p) / LN10 for p in (0.5, 0.05, 0.95))


def binomial_mixture(n: int, p: float, component: Callable[[int], LogLaw],
                     exclude_zero: bool = True) -> LogLaw:
    """The mixture over N ~ Binomial(n, p) of component(N), conditioned on N > 0 when
    `exclude_zero` (for instance one ReLU layer: ½ ln χ²_N with N active units of n)."""
    if p >= 1.0:  # every unit active: one component
        return component(n)
    counts = np.arange(1 if exclude_zero else 0, n + 1)
    log_pmf = (special.gammaln(n + 1) - special.gammaln(counts + 1) - special.gammaln(n - counts + 1)
               + counts * math.log(p) + (n - counts) * math.log1p(-p))
    weights = np.exp(log_pmf - np.max(log_pmf))
    weights /= weights.sum()
    keep = weights > 1e-16  # components too rare to matter anywhere on the grid
    return _mixture(weights[keep], [component(int(d)) for d in counts[keep]])


def cornish_fisher_median(cumulants: tuple[float, float, float],
                          extra: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> float:
    k1, k2, k3 = (a + b for a, b in zip(cumulants, extra))
    return k1 - k3 / (6 * k2) if k2 > 0 else k1


def scale_where_rising_through_zero(f: Callable[[float], float]) -> float | None:
    """The first scale in [1e-3, 10] (searched on ln scale) where f goes from negative to
    non-negative, or None: a critical scale. f takes the natural log of the scale."""
    grid = np.linspace(math.log(1e-3), math.log(10.0), 24)
    values = [f(x) for x in grid]
    for left, right, v_left, v_right in zip(grid, grid[1:], values, values[1:]):
        if v_left < 0 <= v_right:
            return math.exp(optimize.brentq(f, left, right, xtol=1e-10))
    return None
