"""Checked facts: theory against measurement per setting, and claims evaluated on live results.

Two kinds of claims:
- the lecture's statements, declared as data in the report config (`claims:`); one that does not
  hold is shown as such on the site, never hidden;
- the site's own statements (theory agrees with measurement), generated here for every setting;
  `stabreport build --strict` fails when one of them does not hold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
from markupsafe import Markup

from .model import ClaimSpec, Report, Setting
from ..render.i18n import N_, _
from ..core.results import NormResult, Result
from ..theory import Prediction

Z_LIMIT = 4.0  # standard errors allowed between an exact law's median and the measured one
KS_ALPHA = 1e-3  # an exact law is rejected when the KS test's p-value falls below this


@dataclass(frozen=True)
class Measured:
    """The column-length statistics of one setting, with or without a theory beside them."""

    median_norm_u: float
    se_median_norm_u: float  # distribution-free standard error of the median
    norm_runs: int  # runs behind them (the fast path's, where it ran)
    median_mean_abs: float
    path_ks_pvalue: float | None  # fast path against full path (two-sample KS), where both ran


@dataclass(frozen=True)
class Agreement:
    """Measured against predicted, for one setting."""

    measured: Measured
    predicted_median_norm_u: float
    z: float  # (measured − predicted) / se
    ks_pvalue: float | None  # against the exact law; None for approximations
    predicted_median_mean_abs: float
    exact: bool
    tolerance: float  # decades allowed for an approximation (0 for exact laws)

    @property
    def measured_median_norm_u(self) -> float:
        return self.measured.median_norm_u

    @property
    def se_median_norm_u(self) -> float:
        return self.measured.se_median_norm_u

    @property
    def measured_median_mean_abs(self) -> float:
        return self.measured.median_mean_abs

    @property
    def norm_runs(self) -> int:
        return self.measured.norm_runs

    @property
    def gap_norm_u(self) -> float:
        return self.measured_median_norm_u - self.predicted_median_norm_u

    @property
    def gap_mean_abs(self) -> float:
        return self.measured_median_mean_abs - self.predicted_median_mean_abs

    @property
    def holds(self) -> bool:
        if self.exact:
            return abs(self.z) <= Z_LIMIT and (self.ks_pvalue is None or self.ks_pvalue >= KS_ALPHA)
        return abs(self.gap_norm_u) <= self.tolerance + Z_LIMIT * self.se_median_norm_u


def median_standard_error(values: np.ndarray) -> float:
    """Half the width of the order-statistic interval around the median that covers ±1 standard
    error for large n (no distributional assumption, no resampling)."""
    n = len(values)
    half = 0.5 / math.sqrt(n)
    low, high = np.quantile(values, [0.5 - half, 0.5 + half])
    return float(high - low) / 2


def measure_setting(result: Result, norms: NormResult | None) -> Measured | None:
    """Column lengths from the fast path when it ran (checked against the full path's); None
    when every run died."""
    full_norm_u = result.metrics["log10_norm_u"]
    norm_u = norms.log10_norm_u if norms is not None else full_norm_u
    if len(norm_u) == 0 or len(full_norm_u) == 0:
        return None
    from scipy import stats  # here: stabreport.api loads no scipy.stats until a setting is measured

    path_ks = float(stats.ks_2samp(full_norm_u, norm_u).pvalue) if norms is not None else None
    return Measured(float(np.median(norm_u)), max(median_standard_error(norm_u), 1e-12),
                    len(norm_u), float(np.median(result.log10_mean_abs)), path_ks)


def agreement(measured: Measured, norm_u: np.ndarray, prediction: Prediction,
              tolerance: float) -> Agreement:
    """Theory against measurement; `norm_u` the column lengths `measured` was taken from."""
    from scipy import stats

    ks = float(stats.kstest(norm_u, prediction.cdf_log10).pvalue) if prediction.exact else None
    return Agreement(measured, prediction.median_log10_norm_u,
                     (measured.median_norm_u - prediction.median_log10_norm_u) / measured.se_median_norm_u,
                     ks, prediction.median_log10_mean_abs, prediction.exact,
                     0.0 if prediction.exact else tolerance)


@dataclass(frozen=True)
class CheckResult:
    setting: str  # setting id
    label: str
    expected: str  # what the claim needs, in words
    observed: str  # what the data shows, in words
    log10_value: float | None  # the number behind it (None where every run died)
    holds: bool
    kind: str = "verdict"  # verdict, least_extreme, bound (a statistic within bounds), theory


@dataclass(frozen=True)
class ClaimResult:
    id: str
    source: str  # "lecture" or "site"
    section: str
    statement: str
    quote: str | None
    checks: tuple[CheckResult, ...]

    @property
    def holds(self) -> bool:
        return all(c.holds for c in self.checks)


DIED = N_("every run died")


def evaluate_claim(spec: ClaimSpec, report: Report, statistic: Mapping[str, float | None],
                   setting_statistic: Callable[[str, str], float | None],
                   cell_statistic: Callable[[str, str, Mapping[str, Any], str], float | None]
                   ) -> ClaimResult:
    """`statistic`: setting id → median of the lecture's statistic (log10), which verdicts use
    (None where every run died); the two functions give the other statistics bounds check.
    The words of the result (expected, observed) are in the language being rendered; what
    holds is decided on the verdicts' English keys."""
    checks = []
    for check in spec.checks:
        if check.kind == "verdict":
            setting = report.setting(check.setting)
            value = statistic[setting.id]
            verdict = None if value is None else report.verdicts.of(value)
            holds = verdict is not None and (verdict == check.value) != check.negate
            observed = _(DIED) if verdict is None else _(verdict)
            expected = _(NOT_VERBS[check.value] if check.negate else VERBS[check.value])
            checks.append(CheckResult(setting.id, setting.label, expected, observed, value, holds,
                                      "verdict"))
        elif check.kind == "least_extreme":  # the expected setting is the closest to 1
            among = [report.setting(i) for i in check.among]
            living = [s for s in among if statistic[s.id] is not None]
            closest = min(living, key=lambda s: abs(statistic[s.id])) if living else None
            for setting in among:
                value = statistic[setting.id]
                is_expected = setting.id == check.setting
                observed = _(DIED) if value is None else _("closest to 1") if setting is closest \
                    else _("%(decades)s decades from 1") % {"decades": f"{abs(value):.1f}"}
                checks.append(CheckResult(
                    setting.id, setting.label,
                    _("closest to 1") if is_expected else _("further from 1"),
                    observed, value, (setting is closest) == is_expected and value is not None,
                    "least_extreme"))
        else:  # a statistic of a setting or of a sweep's cell within bounds
            if check.kind == "setting_bound":
                label = report.setting(check.setting).label
                value = setting_statistic(check.setting, check.statistic)
            else:
                at = dict(check.at)
                sweep = next(w for w in report.sweeps if w.id == check.sweep)
                curve = next(c for c in sweep.curves if c.id == check.series)
                label = Markup(_("{curve}, {at}")).format(
                    curve=curve.label if curve.id else sweep.title,
                    at=_(", ").join(f"{_(k)} {v}" for k, v in at.items()))
                value = cell_statistic(check.sweep, check.series, at, check.statistic)
            computed = value is not None and not math.isnan(value)
            holds = computed and (check.at_least is None or value >= check.at_least) \
                and (check.at_most is None or value <= check.at_most)
            observed = _(DIED) if value is None else _("not computed in this build") \
                if not computed else f"{check.statistic} = {value:.3g}"
            checks.append(CheckResult(check.setting or check.sweep, label,
                                      _bounds_text(check.statistic, check.at_least, check.at_most),
                                      observed, value if computed else None, holds, "bound"))
    return ClaimResult(spec.id, spec.source, spec.section, spec.statement, spec.quote, tuple(checks))


def _bounds_text(statistic: str, low: float | None, high: float | None) -> str:
    def number(value: float) -> str:
        return f"{value:g}".replace("-", "−")

    if low is not None and high is not None:
        return _("%(statistic)s between %(low)s and %(high)s") % {
            "statistic": statistic, "low": number(low), "high": number(high)}
    return f"{statistic} ≥ {number(low)}" if low is not None else f"{statistic} ≤ {number(high)}"


def dead_law_claim(sweep: Any, cells: list[Any]) -> ClaimResult:
    """The site's own claim that the exact law of the dead fraction matches every cell of a
    sweep (each within Z_LIMIT binomial standard errors)."""
    compared = [c for c in cells if c.theory_dead_fraction is not None]
    z = [abs(c.dead_fraction - c.theory_dead_fraction) / c.dead_standard_error for c in compared]
    worst = max(z, default=0.0)
    statement = Markup(_("The exact law of the dead fraction, 1 − (1 − 2<sup>−k</sup>)<sup>L</sup>, "
                         "matches all {n} cells of “{title}” (each within {limit:g} standard "
                         "errors).")).format(n=len(compared), title=sweep.title, limit=Z_LIMIT)
    check = CheckResult(sweep.id, sweep.title, _("agrees"),
                        _("largest |z| = %(z)s") % {"z": f"{worst:.2f}"}, worst,
                        bool(compared) and worst <= Z_LIMIT, "theory")
    return ClaimResult(f"dead-law-{sweep.id}", "site", sweep.page, statement, None, (check,))


# What a verdict check needs, by verdict key: the words of the claims' "Needs to" column.
VERBS = {"vanishes": N_("vanish"), "explodes": N_("explode"), "stays moderate": N_("stay moderate")}
NOT_VERBS = {"vanishes": N_("does not vanish"), "explodes": N_("does not explode"),
             "stays moderate": N_("does not stay moderate")}


def theory_claim(setting: Setting, result: Agreement) -> ClaimResult:
    """The site's own claim that its theory matches the measurement for one setting."""
    # Markup.format escapes the label: config text stays text in the sentence.
    if result.exact:
        statement = Markup(_("The exact law of log₁₀ ‖M u‖ matches the {runs} runs of {label} "
                             "(median within {z:g} standard errors, KS p ≥ {alpha:g}).")).format(
            runs=result.norm_runs, label=setting.label, z=Z_LIMIT, alpha=KS_ALPHA)
        observed = f"z = {result.z:+.2f}, KS p = {result.ks_pvalue:.3f}"
    else:
        statement = Markup(_("The approximate prediction of log₁₀ ‖M u‖ for {label} is within "
                             "{tolerance:g} decades (plus {z:g} standard errors) of the measured "
                             "median.")).format(label=setting.label, tolerance=result.tolerance,
                                                z=Z_LIMIT)
        observed = _("gap %(gap)s decades (se %(se)s)") % {
            "gap": f"{result.gap_norm_u:+.3f}", "se": f"{result.se_median_norm_u:.3f}"}
    check = CheckResult(setting.id, setting.label, _("agrees"), observed,
                        result.measured_median_norm_u, result.holds, "theory")
    return ClaimResult(f"theory-{setting.id}", "site", setting.section, statement, None, (check,))


def path_claim(setting: Setting, result: Measured) -> ClaimResult:
    """The site's own claim that the O(k) tangent path samples the same law as the full path."""
    statement = Markup(_("For {label}, the fast path's {fast} column lengths and the full path's "
                         "{full} have the same distribution (two-sample KS p ≥ {alpha:g}).")).format(
        label=setting.label, fast=result.norm_runs, full=setting.runs, alpha=KS_ALPHA)
    check = CheckResult(setting.id, setting.label, _("same distribution"),
                        f"KS p = {result.path_ks_pvalue:.3f}", result.median_norm_u,
                        result.path_ks_pvalue >= KS_ALPHA, "theory")
    return ClaimResult(f"paths-{setting.id}", "site", setting.section, statement, None, (check,))
