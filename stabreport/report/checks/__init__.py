"""Claim checks: what a claim of the report config tests, each one declaration registered by
name under the entry-point group `stabreport.checks` (stabreport's own in `builtin.py`).

A check declares the YAML form it is written in (a pydantic model, and the keys that tell it
from the others), how that form becomes a `CheckSpec`, what it needs of the report beyond the
schema (`validate`), and how it is evaluated on a build's evidence (`evaluate`, one row of the
claim's table per `CheckResult`). A claim's `checks:` may mix any registered checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Mapping, Union

from ...core.registry import Registry
from ..model import CheckSpec


@dataclass(frozen=True)
class ClaimContext:
    """What a check is evaluated on."""

    report: Any  # report.model.Report
    lecture: Mapping[str, float | None]  # setting id -> median of the lecture's statistic (log10)
    setting_statistic: Callable[[str, str], float | None]  # (setting id, statistic) -> value
    # (sweep id, series, grid values, cell statistic) -> value (NaN: not computed in this build)
    cell_statistic: Callable[[str, str, Mapping[str, Any], str], float | None]


def _fine(spec: CheckSpec, sweeps: Mapping[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class ClaimCheck:
    """One kind of check.

    model: the pydantic model of its YAML form (strict: unknown keys are refused);
    keys: the keys a mapping must have to be this check (the one with most matching keys wins);
    form: how it is written, for the error that lists the forms ("{setting, verdict}");
    spec(model) -> CheckSpec (kind: this check's name);
    validate(spec, sweeps by id) -> what is wrong with it beyond the schema, or None;
    evaluate(spec, context) -> the rows it adds to its claim's table (claims.CheckResult).
    """

    name: str
    model: type
    keys: frozenset[str]
    form: str
    spec: Callable[[Any], CheckSpec]
    evaluate: Callable[[CheckSpec, ClaimContext], list[Any]]
    validate: Callable[[CheckSpec, Mapping[str, Any]], str | None] = _fine


CHECKS: Registry[ClaimCheck] = Registry("stabreport.checks", "claim check", ClaimCheck)


def check_type() -> Any:
    """The pydantic type of one check: a union of every registered check's form, told apart by
    its keys."""
    from pydantic import Discriminator, Tag

    declared = CHECKS.all()

    def which(value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return None
        matching = [c for c in declared if c.keys <= set(value)]
        return max(matching, key=lambda c: len(c.keys)).name if matching else None

    forms = " or ".join(c.form for c in declared)
    return Annotated[Union[tuple(Annotated[c.model, Tag(c.name)] for c in declared)],
                     Discriminator(which, custom_error_type="check", custom_error_message=forms)]
