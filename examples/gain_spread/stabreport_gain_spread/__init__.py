"""The per-run gain per step: a figure kind and a statistic from outside stabreport.

A gradient's column length ‖M u‖ after L layers is the product of L per-layer gains, so
g = log₁₀ ‖M u‖ / L is a run's typical log₁₀ gain per layer: below zero the gradient vanishes,
above zero it explodes. This package adds
- the figure kind `gain-spread`: the distribution of g over runs, one panel per setting, with the
  theory's median where the experiment has a theory;
- the statistic `median_gain`: the median of g over runs, for a table column or a claim's bound.

Each is one declaration, found through an entry point (pyproject.toml); its words are a template
(templates/figures/gain-spread.j2) and their translations a catalogue of its own
(locales/<language>/LC_MESSAGES/stabreport_gain_spread.po).
"""
from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np

from stabreport.render.figures import (DASHED, FigureData, Ink, by_kind, grid_around, labels,
                                       panels, plain, rounded)
from stabreport.render.i18n import N_, _, config_words
from stabreport.render.kinds import FigureKind, FigureRequest
from stabreport.report.statistics import SettingFacts, Statistic

KIND = "gain-spread"


def gain_spread_data(request: FigureRequest) -> FigureData:
    """Per setting: every run's log₁₀ ‖M u‖ / L (column lengths from the fast path where the
    experiment has one), and the theory's median of it."""
    section, evidence = request.section, request.evidence
    columns: dict[str, list] = {"setting": [], "kind": [], "log10_value": []}
    theory = {}
    for setting in section.settings:
        steps = setting.experiment.steps(setting.params)
        values = evidence.runs.log10_norm_u(setting.id) / steps
        if len(values) == 0:  # every run died
            continue
        columns["setting"] += [setting.id] * len(values)
        columns["kind"] += ["run"] * len(values)
        columns["log10_value"] += rounded(values)
        prediction = evidence.predictions.get(setting.id)
        if prediction is not None:
            theory[setting.id] = round(prediction.median_log10_norm_u / steps, 6)
    return FigureData(request.spec.id, KIND, section.page, tuple(s.id for s in section.settings),
                      columns, {"labels": labels(section), "runs": section.settings[0].norm_runs,
                                "theory": theory})


def draw_gain_spread(data: FigureData, ink: Ink) -> Any:
    """One histogram per setting, from the record alone; the theory's median dashed."""
    fig, axes = panels(len(data.settings))
    values = by_kind(data)
    for i, (ax, setting) in enumerate(zip(axes, data.settings)):
        colour = ink.palette[i % len(ink.palette)]
        ax.set_title(plain(config_words(data.meta["labels"][setting])), color=colour)
        ax.set_yticks([])
        runs = values.get(setting, {}).get("run")
        if runs is None:
            ax.text(0.5, 0.5, _("every run died"), ha="center", va="center", transform=ax.transAxes)
            continue
        ax.hist(runs, bins=30, density=True, histtype="stepfilled", alpha=0.3, color=colour)
        ax.axvline(0.0, color=ink.muted, linewidth=0.8)
        if setting in data.meta["theory"]:
            ax.axvline(data.meta["theory"][setting], color=ink.strong, linestyle=DASHED, linewidth=1.5)
        ax.set_xlim(*grid_around(runs, 2))
    fig.supxlabel(_("log₁₀ gain of ‖M u‖ per step, run by run"))
    return fig


def gain_spread_findings(data: FigureData) -> dict[str, Any]:
    """What the alt text states: per setting, the median and 5–95 % range of g."""
    values = by_kind(data)
    return {"spreads": [[config_words(data.meta["labels"][s]),
                         *(float(np.quantile(values[s]["run"], q)) for q in (0.5, 0.05, 0.95))]
                        for s in data.settings if s in values]}


def _words(name: str) -> str:
    return (resources.files(__name__) / "templates" / name).read_text(encoding="utf-8")


GAIN_SPREAD = FigureKind(
    KIND, "section", data=gain_spread_data, draw=draw_gain_spread, findings=gain_spread_findings,
    words=f"figures/{KIND}.j2", templates={f"figures/{KIND}.j2": _words(f"figures/{KIND}.j2")},
    paths=("tangent",), column_lengths=True)


def median_gain(facts: SettingFacts) -> float | None:
    """The median over runs of log₁₀ ‖M u‖ / L (None where every run died)."""
    return None if facts.measured is None else facts.measured.median_norm_u / facts.steps


MEDIAN_GAIN = Statistic("median_gain", median_gain, N_("Median gain per step (log₁₀)"),
                        log10=False, places=3, unit=N_("decades"))
