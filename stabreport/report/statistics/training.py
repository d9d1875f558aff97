"""Statistics of training runs (experiment `train`): medians over seeds of the final loss, the
test accuracy, the first step's gradients, and the share of runs that diverged. A median is over
the runs that have a value (a diverged run has no final loss); None where none has."""
from __future__ import annotations

import math

import numpy as np

from ...core.results import finite_median
from ...render.i18n import N_
from . import SettingFacts, Statistic


def _median(name: str, log10: bool = False):
    def read(facts: SettingFacts) -> float | None:
        if name not in facts.result.metrics:
            return None
        value = finite_median(facts.metric(name))
        if value is None or not log10:
            return value
        return math.log10(value) if value > 0 else None
    return read


def _diverged(facts: SettingFacts) -> float | None:
    if "diverged" not in facts.result.metrics or facts.result.alive == 0:
        return None
    return float(np.mean(facts.metric("diverged")))


def _grad_ratio(facts: SettingFacts) -> float | None:
    """Median over runs of log10(‖∂ℒ/∂W₁‖ / ‖∂ℒ/∂W_L‖) on the first step: how much larger the
    first layer's gradient is than the last's (the gradient's growth across depth)."""
    if "grad_norm_first_layer" not in facts.result.metrics:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log10(facts.metric("grad_norm_first_layer")) - np.log10(facts.metric("grad_norm_last_layer"))
    return finite_median(ratio)


MEDIAN_FINAL_LOSS = Statistic("median_final_loss", _median("final_loss"),
                              N_("median final loss"), log10=False)
MEDIAN_INITIAL_LOSS = Statistic("median_initial_loss", _median("initial_loss", log10=True),
                                N_("median initial loss"))
MEDIAN_TEST_ACCURACY = Statistic("median_test_accuracy", _median("test_accuracy"),
                                 N_("median test accuracy"), log10=False)
DIVERGED_FRACTION = Statistic("diverged_fraction", _diverged, N_("share of runs that diverged"),
                              log10=False)
MEDIAN_DIVERGED_AT = Statistic("median_diverged_at", _median("diverged_at"),
                               N_("median step of divergence"), log10=False, places=0)
MEDIAN_GRAD_FIRST = Statistic("median_grad_first", _median("grad_norm_first_layer", log10=True),
                              N_("median ‖∂ℒ/∂W₁‖ at the first step"))
MEDIAN_GRAD_RATIO = Statistic("median_grad_ratio", _grad_ratio,
                              N_("median log₁₀ of the first layer's gradient over the last's"),
                              log10=False, unit=N_("decades"))
