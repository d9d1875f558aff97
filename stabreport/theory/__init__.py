"""What a theory predicts for one setting, and the shared tools experiments build it from:
`laws` (laws of logarithms by characteristic function, Gil-Pelaez inversion) and `meanfield`
(Gaussian expectations, the variance map and per-layer gradient moments).

This package's top level imports no scipy: the laws are loaded when a prediction is made.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from .laws import LogLaw

LN10 = math.log(10.0)


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
    # Two scales, named and defined once (the theory page's "Two critical scales"):
    # the critical scale s*, at which the typical gain of one step is 1 once the signal's
    # variance has settled (the edge of chaos: it keeps a network of any depth balanced), or a
    # function computing it (a root search that cells of a sweep never need): read it as
    # `critical_scale`;
    critical: "float | None | Callable[[], float | None]"
    # log10 mean|M_ij| medians after 0, 1, ..., steps (Cornish–Fisher)
    trajectory_log10_mean_abs: np.ndarray = field(repr=False)
    norm_u_law: "LogLaw" = field(repr=False)
    mean_abs_law: "LogLaw | None" = field(repr=False)
    reference: str = ""  # the textbook scale to compare the critical one with
    reference_scale: float = math.nan
    # The probability that a run's matrix ends exactly zero (a dead ReLU network), where the
    # theory knows it; the laws above are of the runs that live.
    dead_fraction: float | None = None
    # and the depth-balanced scale s_L, at which the typical ‖M u‖ after all of this setting's
    # steps is 1, the steps before the variance settles included; read it as `balanced_scale`.
    # Unset where every step has the same law (no transient): it is then s*.
    balanced: "float | None | Callable[[], float | None] | None" = None
    # The median of log10 of the gradient d steps back from the last, d = 0, 1, ..., steps
    # (Simulation.reach), where the theory predicts it.
    reach_log10: np.ndarray | None = field(default=None, repr=False)

    @property
    def critical_scale(self) -> float | None:
        return self.critical() if callable(self.critical) else self.critical

    @property
    def balanced_scale(self) -> float | None:
        if self.balanced is None:
            return self.critical_scale
        return self.balanced() if callable(self.balanced) else self.balanced

    def as_json(self) -> dict[str, Any]:
        return {"median_log10_mean_abs": self.median_log10_mean_abs,
                "dead_fraction": self.dead_fraction,
                "log10_gain_per_step": self.log10_gain_per_step,
                "critical_scale": self.critical_scale,
                "balanced_scale": self.balanced_scale,
                "exact": self.exact,
                "law": self.law,
                "median_log10_norm_u": self.median_log10_norm_u,
                "q05_log10_norm_u": self.q05_log10_norm_u,
                "q95_log10_norm_u": self.q95_log10_norm_u,
                "mean_abs_method": self.mean_abs_method}

    def median(self, metric: str) -> float | None:
        """The predicted median of a per-run metric, where the theory predicts one."""
        return {"log10_norm_u": self.median_log10_norm_u,
                "log10_mean_abs": self.median_log10_mean_abs}.get(metric)

    def density_log10(self, which: str, grid: np.ndarray) -> np.ndarray:
        """Density of log10 ‖M u‖ ("norm_u") or log10 mean|M_ij| ("mean_abs") on a log10 grid."""
        law = self.norm_u_law if which == "norm_u" else self.mean_abs_law
        assert law is not None
        return law.pdf(grid * LN10) * LN10

    def cdf_log10(self, values: np.ndarray) -> np.ndarray:
        """CDF of log10 ‖M u‖ at `values`."""
        return self.norm_u_law.cdf(np.asarray(values) * LN10)


@dataclass(frozen=True)
class GainCurve:
    """The theory's typical log10 gain per step against the weight scale, for one family of
    settings (one experiment, width, number of steps and activation: every init of it)."""

    label: str
    family: Mapping[str, Any]  # the settings' parameters without the scale
    scales: tuple[float, ...]
    gains: tuple[float, ...]  # typical log10 gain of ‖M u‖ per step, averaged over the steps
    # where the curve crosses zero: the depth-balanced scale s_L of the family (see Prediction)
    critical_scale: float | None
    # the family's critical scale s* (settled gain 1 per step); equal to s_L without a transient
    settled_scale: float | None = None


def gain_curve(experiment: Any, params: Mapping[str, Any], scales: Sequence[float]) -> GainCurve:
    """The curve of `experiment`'s theory through the family of `params` (see Experiment.family)."""
    gains = tuple(experiment.theory.gain_per_step(experiment.at_scale(params, float(s)))
                  for s in scales)
    critical = experiment.theory.critical_scale(params)
    from ..experiments.base import predicted

    settled = predicted(experiment.theory.predict, params).critical_scale
    return GainCurve(f"{experiment.name}, {experiment.words(experiment.family(params))}",
                     experiment.family(params), tuple(float(s) for s in scales), gains, critical, settled)
