"""A comparison of two settings: one setting's statistic exceeds another's by at least a margin
(tied weights against untied, a forget bias against a smaller one)."""
from __future__ import annotations

import math

from ...render.i18n import _
from ..claims import DIED, CheckResult
from ..config import SettingId, SettingStatistic, _Strict
from ..model import CheckSpec
from . import ClaimCheck, ClaimContext
from .builtin import _number, _statistic_words


class CompareCheck(_Strict):
    """`setting`'s statistic minus `exceeds`' is at least `by_at_least` (in the statistic's
    units: decades for a log10 statistic)."""
    setting: SettingId
    statistic: SettingStatistic
    exceeds: SettingId
    by_at_least: float = 0.0


def _compare(check: CheckSpec, context: ClaimContext) -> list[CheckResult]:
    report = context.report
    other = check.among[0]
    mine = context.setting_statistic(check.setting, check.statistic)
    theirs = context.setting_statistic(other, check.statistic)
    words, unit = _statistic_words(check)
    needs = _("%(statistic)s above %(other)s's by ≥ %(margin)s") % {
        "statistic": words, "other": report.setting(other).label,
        "margin": _number(check.at_least, unit or _("decades"))}
    computed = mine is not None and theirs is not None and not math.isnan(mine) \
        and not math.isnan(theirs)
    difference = mine - theirs if computed else None
    observed = _number(difference, unit or _("decades")) if computed else _(DIED)
    return [CheckResult(check.setting, report.setting(check.setting).label, needs, observed,
                        difference, computed and difference >= check.at_least, "bound")]


COMPARE = ClaimCheck(
    "compare", CompareCheck, frozenset({"statistic", "exceeds"}),
    "{setting, statistic, exceeds, by_at_least}",
    lambda c: CheckSpec("compare", c.setting, statistic=c.statistic, among=(c.exceeds,),
                        at_least=c.by_at_least), _compare)
