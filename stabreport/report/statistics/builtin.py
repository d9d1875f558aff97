"""stabreport's own statistics: of a setting (what a bound check or a table column reads) and of
a sweep's cell (what a cell bound check reads and a sweep figure plots)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...render.i18n import N_
from . import CellStatistic, SettingFacts, Statistic, _binomial, binomial_runs, median_runs


def _measured(name: str):
    def read(facts: SettingFacts) -> float | None:
        return None if facts.measured is None else getattr(facts.measured, name)
    return read


def _sv_spread(facts: SettingFacts) -> float | None:
    if facts.measured is None or "log10_sv_q90" not in facts.result.metrics:
        return None
    return float(np.median(facts.metric("log10_sv_q90") - facts.metric("log10_sv_q10")))


MEDIAN_LOG10_MEAN_ABS = Statistic("median_log10_mean_abs", _measured("median_mean_abs"),
                                  N_("median log₁₀ mean |entry|"))
MEDIAN_LOG10_NORM_U = Statistic("median_log10_norm_u", _measured("median_norm_u"),
                                N_("median log₁₀ ‖M u‖"))
LECTURE_STATISTIC = Statistic("lecture_statistic", lambda facts: facts.lecture,
                              N_("the lecture's statistic"))
SV_SPREAD = Statistic("sv_spread", _sv_spread, N_("spread of log₁₀ σ (90th − 10th percentile)"),
                      log10=False, unit=N_("decades"))
DEAD_FRACTION = Statistic("dead_fraction", lambda facts: facts.result.dead_fraction,
                          N_("share of runs that died"), log10=False)


def _median_error(cell: Any) -> float | None:
    return cell.median_standard_error


def _gain_error(cell: Any) -> float | None:
    return None if cell.median_standard_error is None else cell.median_standard_error / cell.steps


CELL_MEDIAN = CellStatistic(
    "median", lambda cell: cell.median, _median_error,
    lambda theory, target, steps: median_runs(theory, target),
    N_("median log₁₀ ‖M u‖"), N_("Median log₁₀ ‖M u‖"))
CELL_GAIN = CellStatistic(
    "log10_gain_per_step", lambda cell: cell.log10_gain_per_step, _gain_error,
    lambda theory, target, steps: median_runs(theory, target, steps),
    N_("median log₁₀ gain per step"), N_("Median log₁₀ gain per step"))
CELL_DEAD = CellStatistic(
    "dead_fraction", lambda cell: cell.dead_fraction, _binomial, binomial_runs,
    N_("share of dead networks"), N_("Share of dead networks"))
