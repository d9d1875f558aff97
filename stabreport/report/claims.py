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

Z_LIMIT = 4.0  # standard errors allowed between an exact law's median and the measured one, at least
KS_ALPHA = 1e-3  # an exact law is rejected when the KS test's p-value falls below this, at most
PATH_DIGITS = 9  # decimals of log10 ‖M u‖ the two paths are compared to (far above float noise)
FALSE_ALARM_RATE = 1e-3  # the chance that a build of correct code raises any false alarm


@dataclass(frozen=True)
class Family:
    """Every statistical test of one build together (theory against measurement, path against
    path, the dead fraction's law in every cell): `tests` of them, each at level rate / tests
    (Bonferroni, valid whatever their dependence), so that a build whose code and theory are
    right fails one with probability at most `rate`, whatever its seed. The z limit is never
    below Z_LIMIT nor the KS level above KS_ALPHA (a median's standard error is a large-sample
    one: its far tail is not trusted beyond four standard errors)."""

    tests: int
    rate: float = FALSE_ALARM_RATE
    z_floor: float = Z_LIMIT
    ks_ceiling: float = KS_ALPHA

    @property
    def level(self) -> float:
        return self.rate / max(self.tests, 1)

    @property
    def z_limit(self) -> float:
        from scipy import stats

        return max(self.z_floor, float(stats.norm.isf(self.level / 2)))

    @property
    def ks_alpha(self) -> float:
        return min(self.ks_ceiling, self.level)


def tests_of(agreements: Mapping[str, Any], measured: Mapping[str, Any], cells_tested: int) -> int:
    """How many statistical tests a build makes: two per exact law (median and KS), one per
    approximation, one per setting whose two paths are compared, and the cells' own."""
    return (sum(2 if a.exact else 1 for a in agreements.values() if a is not None)
            + sum(1 for m in measured.values() if m is not None and m.path_ks_pvalue is not None)
            + cells_tested)


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
    z_limit: float = Z_LIMIT  # the family's (see Family)
    ks_alpha: float = KS_ALPHA

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
            return abs(self.z) <= self.z_limit and (self.ks_pvalue is None or
                                                    self.ks_pvalue >= self.ks_alpha)
        return abs(self.gap_norm_u) <= self.tolerance + self.z_limit * self.se_median_norm_u

    def judged_by(self, family: Family) -> "Agreement":
        from dataclasses import replace

        return replace(self, z_limit=family.z_limit, ks_alpha=family.ks_alpha)


def median_standard_error(values: np.ndarray) -> float:
    """Half the width of the order-statistic interval around the median that covers ±1 standard
    error for large n (no distributional assumption, no resampling)."""
    n = len(values)
    half = 0.5 / math.sqrt(n)
    low, high = np.quantile(values, [0.5 - half, 0.5 + half])
    return float(high - low) / 2


def measure_setting(result: Result, norms: NormResult | None) -> Measured | None:
    """Column lengths from the fast path when it ran (checked against the full path's); None
    when every run died or the setting forms no matrix (a training run, a normalised MLP)."""
    if "log10_norm_u" not in result.metrics:
        return None
    full_norm_u = result.metrics["log10_norm_u"]
    norm_u = norms.log10_norm_u if norms is not None else full_norm_u
    if len(norm_u) == 0 or len(full_norm_u) == 0:
        return None
    from scipy import stats  # here: stabreport.api loads no scipy.stats until a setting is measured

    # Compared to PATH_DIGITS decimals: two paths computing one exact number (an isometric network's
    # 0) differ in rounding only, which a KS test of two point masses would call a difference.
    path_ks = float(stats.ks_2samp(np.round(full_norm_u, PATH_DIGITS),
                                   np.round(norm_u, PATH_DIGITS)).pvalue) if norms is not None else None
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
    on_statistic: bool = False  # its number is the lecture's statistic (shown in its own column)


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


def evaluate_claim(spec: ClaimSpec, context: Any) -> ClaimResult:
    """A claim on a build's evidence: each check evaluated by its declaration (report.checks).
    The words of the result (expected, observed) are in the language being rendered; what holds
    is decided on the verdicts' English keys."""
    from .checks import CHECKS

    rows = [row for check in spec.checks for row in CHECKS.get(check.kind).evaluate(check, context)]
    return ClaimResult(spec.id, spec.source, spec.section, spec.statement, spec.quote, tuple(rows))


def dead_law_tests(cells: list[Any]) -> int:
    """The tests of dead_law_claim: one per cell with a law to compare with."""
    return sum(1 for c in cells if c.theory_dead_fraction is not None)


def dead_law_claim(sweep: Any, cells: list[Any], family: Family | None = None) -> ClaimResult:
    """The site's own claim that the exact law of the dead fraction matches every cell of a
    sweep (each within the family's z limit of binomial standard errors)."""
    limit = (family or Family(1)).z_limit
    compared = [c for c in cells if c.theory_dead_fraction is not None]
    z = [abs(c.dead_fraction - c.theory_dead_fraction) / c.dead_standard_error for c in compared]
    worst = max(z, default=0.0)
    statement = Markup(_("The exact law of the dead fraction, 1 − (1 − 2<sup>−k</sup>)<sup>L</sup>, "
                         "matches all {n} cells of “{title}” (each within {limit:g} standard "
                         "errors).")).format(n=len(compared), title=sweep.title, limit=round(limit, 2))
    check = CheckResult(sweep.id, sweep.title, _("agrees"),
                        _("largest |z| = %(z)s") % {"z": f"{worst:.2f}"}, worst,
                        bool(compared) and worst <= limit, "theory")
    return ClaimResult(f"dead-law-{sweep.id}", "site", sweep.page, statement, None, (check,))


def theory_claim(setting: Setting, result: Agreement) -> ClaimResult:
    """The site's own claim that its theory matches the measurement for one setting."""
    # Markup.format escapes the label: config text stays text in the sentence.
    if result.exact:
        statement = Markup(_("The exact law of log₁₀ ‖M u‖ matches the {runs} runs of {label} "
                             "(median within {z:g} standard errors, KS p ≥ {alpha:g}).")).format(
            runs=result.norm_runs, label=setting.label, z=round(result.z_limit, 2),
            alpha=float(f"{result.ks_alpha:.2g}"))
        observed = f"z = {result.z:+.2f}, KS p = {result.ks_pvalue:.3f}"
    else:
        statement = Markup(_("The approximate prediction of log₁₀ ‖M u‖ for {label} is within "
                             "{tolerance:g} decades (plus {z:g} standard errors) of the measured "
                             "median.")).format(label=setting.label, tolerance=result.tolerance,
                                                z=round(result.z_limit, 2))
        observed = _("gap %(gap)s decades (se %(se)s)") % {
            "gap": f"{result.gap_norm_u:+.3f}", "se": f"{result.se_median_norm_u:.3f}"}
    check = CheckResult(setting.id, setting.label, _("agrees"), observed,
                        result.measured_median_norm_u, result.holds, "theory")
    return ClaimResult(f"theory-{setting.id}", "site", setting.section, statement, None, (check,))


def path_claim(setting: Setting, result: Measured, family: Family | None = None) -> ClaimResult:
    """The site's own claim that the O(k) tangent path samples the same law as the full path."""
    alpha = (family or Family(1)).ks_alpha
    statement = Markup(_("For {label}, the fast path's {fast} column lengths and the full path's "
                         "{full} have the same distribution (two-sample KS p ≥ {alpha:g}).")).format(
        label=setting.label, fast=result.norm_runs, full=setting.runs, alpha=float(f"{alpha:.2g}"))
    check = CheckResult(setting.id, setting.label, _("same distribution"),
                        f"KS p = {result.path_ks_pvalue:.2g}", result.median_norm_u,
                        result.path_ks_pvalue >= alpha, "theory")
    return ClaimResult(f"paths-{setting.id}", "site", setting.section, statement, None, (check,))
