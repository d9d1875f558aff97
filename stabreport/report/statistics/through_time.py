"""Statistics of networks through time (experiments that declare `reach`, and recurrent weights'
spectra): how much of the gradient reaches the first step, and W's spectral radius and largest
singular value."""
from __future__ import annotations

import numpy as np

from ...render.i18n import N_
from . import SettingFacts, Statistic


def _reach(facts: SettingFacts) -> float | None:
    reach = facts.result.reach
    if facts.measured is None or reach is None or len(reach) == 0:
        return None
    return float(np.median(reach[:, -1]))


def _metric_median(name: str):
    def read(facts: SettingFacts) -> float | None:
        if facts.measured is None or name not in facts.result.metrics:
            return None
        return float(np.median(facts.metric(name)))
    return read


MEDIAN_REACH = Statistic("median_reach", _reach,
                         N_("median log₁₀ of the gradient reaching the first step"))
MEDIAN_RADIUS = Statistic("median_log10_radius", _metric_median("log10_radius"),
                          N_("median log₁₀ spectral radius of W"))
MEDIAN_SIGMA_MAX = Statistic("median_log10_sigma_max", _metric_median("log10_sigma_max"),
                             N_("median log₁₀ largest singular value of W"))
