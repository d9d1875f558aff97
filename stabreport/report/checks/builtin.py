"""stabreport's own claim checks: a setting's verdict (or not), the least extreme of several
settings, a setting statistic within bounds, and a sweep cell's statistic within bounds."""
from __future__ import annotations

import math
from typing import Annotated, Any, Mapping

from markupsafe import Markup
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ...render.i18n import N_, _
from ..claims import DIED, CheckResult
from ..config import CellStatisticName, SettingId, SettingStatistic, Slug, VerdictWord, _reference, _Strict
from ..model import CheckSpec
from . import ClaimCheck, ClaimContext

# What a verdict check needs, by verdict key: the words of the claims' "Needs to" column.
VERBS = {"vanishes": N_("vanish"), "explodes": N_("explode"), "stays moderate": N_("stay moderate")}
NOT_VERBS = {"vanishes": N_("does not vanish"), "explodes": N_("does not explode"),
             "stays moderate": N_("does not stay moderate")}


# --- a setting's verdict ---------------------------------------------------------------------------

class VerdictCheck(_Strict):
    setting: SettingId
    verdict: VerdictWord


class NotVerdictCheck(_Strict):
    setting: SettingId
    not_verdict: VerdictWord


def _verdict(check: CheckSpec, context: ClaimContext) -> list[CheckResult]:
    report = context.report
    setting = report.setting(check.setting)
    value = context.lecture[setting.id]
    verdict = None if value is None else report.verdicts.of(value)
    holds = verdict is not None and (verdict == check.value) != check.negate
    observed = _(DIED) if verdict is None else _(verdict)
    expected = _(NOT_VERBS[check.value] if check.negate else VERBS[check.value])
    return [CheckResult(setting.id, setting.label, expected, observed, value, holds, "verdict",
                        on_statistic=True)]


VERDICT = ClaimCheck("verdict", VerdictCheck, frozenset({"verdict"}), "{setting, verdict}",
                     lambda c: CheckSpec("verdict", c.setting, c.verdict), _verdict)
NOT_VERDICT = ClaimCheck("not_verdict", NotVerdictCheck, frozenset({"not_verdict"}),
                         "{setting, not_verdict}",
                         lambda c: CheckSpec("not_verdict", c.setting, c.not_verdict, negate=True),
                         _verdict)


# --- the least extreme of several settings ----------------------------------------------------------

class LeastExtremeCheck(_Strict):
    least_extreme: Annotated[list[SettingId], Field(min_length=2)]
    expect: SettingId

    @model_validator(mode="after")
    def expected_is_listed(self) -> "LeastExtremeCheck":
        if self.expect not in self.least_extreme:
            raise PydanticCustomError("expect", "'expect' set to one of the settings least_extreme lists")
        return self


def _least_extreme(check: CheckSpec, context: ClaimContext) -> list[CheckResult]:
    """The expected setting is the closest to 1."""
    statistic, rows = context.lecture, []
    among = [context.report.setting(i) for i in check.among]
    living = [s for s in among if statistic[s.id] is not None]
    closest = min(living, key=lambda s: abs(statistic[s.id])) if living else None
    for setting in among:
        value = statistic[setting.id]
        is_expected = setting.id == check.setting
        observed = _(DIED) if value is None else _("closest to 1") if setting is closest \
            else _("%(decades)s decades from 1") % {"decades": f"{abs(value):.1f}"}
        rows.append(CheckResult(
            setting.id, setting.label, _("closest to 1") if is_expected else _("further from 1"),
            observed, value, (setting is closest) == is_expected and value is not None,
            "least_extreme", on_statistic=True))
    return rows


LEAST_EXTREME = ClaimCheck(
    "least_extreme", LeastExtremeCheck, frozenset({"least_extreme"}), "{least_extreme, expect}",
    lambda c: CheckSpec("least_extreme", c.expect, among=tuple(c.least_extreme)), _least_extreme)


# --- a statistic within bounds ---------------------------------------------------------------------

class _Bounds(_Strict):
    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def some_bound(self) -> "_Bounds":
        if self.at_least is None and self.at_most is None:
            raise PydanticCustomError("bound", "at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise PydanticCustomError("bound", "at_least ≤ at_most")
        return self


class SettingBoundCheck(_Bounds):
    """A statistic of one setting lies within bounds (sv_spread: the median over runs of
    log10 σ₉₀ − log10 σ₁₀, in decades)."""
    setting: SettingId
    statistic: SettingStatistic


class CellBoundCheck(_Bounds):
    """A statistic of one cell of a sweep lies within bounds: `at` gives the cell's grid values
    and `series` its curve, where the sweep has several."""
    sweep: Annotated[Slug, _reference("sweep")]
    series: Slug | None = None
    at: dict[str, int | float]
    statistic: CellStatisticName


def _statistic_words(check: CheckSpec) -> tuple[str, str]:
    """What a reader reads for the check's statistic: its declaration's words (a setting
    statistic's title, a cell statistic's `plots`) and unit, in the language being rendered;
    never its identifier."""
    from ..statistics import CELL_STATISTICS, SETTING_STATISTICS

    if check.sweep:  # a cell of a sweep
        return _(CELL_STATISTICS.get(check.statistic).plots), ""
    declared = SETTING_STATISTICS.get(check.statistic)
    return _(declared.title), _(declared.unit) if declared.unit else ""


def _number(value: float, unit: str = "") -> str:
    text = f"{value:.3g}".replace("-", "−")
    return f"{text} {unit}" if unit else text


def _bounds_text(check: CheckSpec) -> str:
    words, unit = _statistic_words(check)
    low, high = check.at_least, check.at_most
    if low is not None and high is not None:
        return _("%(statistic)s between %(low)s and %(high)s") % {
            "statistic": words, "low": _number(low), "high": _number(high, unit)}
    return f"{words} ≥ {_number(low, unit)}" if low is not None else f"{words} ≤ {_number(high, unit)}"


def _bound_row(check: CheckSpec, label: Any, value: float | None) -> CheckResult:
    computed = value is not None and not math.isnan(value)
    holds = computed and (check.at_least is None or value >= check.at_least) \
        and (check.at_most is None or value <= check.at_most)
    observed = _(DIED) if value is None else _("not computed in this build") \
        if not computed else _number(value, _statistic_words(check)[1])
    return CheckResult(check.setting or check.sweep, label, _bounds_text(check),
                       observed, value if computed else None, holds, "bound")


def _setting_bound(check: CheckSpec, context: ClaimContext) -> list[CheckResult]:
    return [_bound_row(check, context.report.setting(check.setting).label,
                       context.setting_statistic(check.setting, check.statistic))]


def _cell_bound(check: CheckSpec, context: ClaimContext) -> list[CheckResult]:
    at = dict(check.at)
    sweep = next(w for w in context.report.sweeps if w.id == check.sweep)
    curve = next(c for c in sweep.curves if c.id == check.series)
    label = Markup(_("{curve}, {at}")).format(
        curve=curve.label if curve.id else sweep.title,
        at=_(", ").join(f"{_(k)} {v}" for k, v in at.items()))
    return [_bound_row(check, label, context.cell_statistic(check.sweep, check.series, at,
                                                             check.statistic))]


def _a_cell_of_its_sweep(check: CheckSpec, sweeps: Mapping[str, Any]) -> str | None:
    """Every cell a claim names must be a cell of its sweep."""
    sweep = sweeps.get(check.sweep)
    if sweep is None:
        return None  # the schema has said so already
    curves = [c.id for c in sweep.curves]
    grid = {a.key: a.values for a in sweep.axes}
    if check.series not in curves:
        return (f"names series {check.series!r} of sweep {sweep.id!r}; allowed: "
                + ", ".join(repr(c) for c in curves))
    if set(dict(check.at)) != set(grid) or any(value not in grid[key] for key, value in check.at):
        return (f"names cell {dict(check.at)} of sweep {sweep.id!r}; allowed: one value of each of "
                + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in grid.items()))
    return None


SETTING_BOUND = ClaimCheck(
    "setting_bound", SettingBoundCheck, frozenset({"statistic"}),
    "{setting, statistic, at_least/at_most}",
    lambda c: CheckSpec("setting_bound", c.setting, statistic=c.statistic, at_least=c.at_least,
                        at_most=c.at_most), _setting_bound)
CELL_BOUND = ClaimCheck(
    "cell_bound", CellBoundCheck, frozenset({"statistic", "sweep"}),
    "{sweep, at, statistic, at_least/at_most}",
    lambda c: CheckSpec("cell_bound", "", statistic=c.statistic, at_least=c.at_least,
                        at_most=c.at_most, sweep=c.sweep, series=c.series or "",
                        at=tuple(sorted(c.at.items()))), _cell_bound, _a_cell_of_its_sweep)
