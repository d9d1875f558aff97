"""The size after every step: median and 5–95 % band per setting, the theory's median."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, add_band, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, param_words, plain,
                       rounded, series_style)
from ..i18n import _, N_, config_words  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest


def trajectory_data(section: Section, results: Mapping[str, Any],
                    predictions: Mapping[str, Any]) -> FigureData:
    """log10 mean|M_ij| against factor/layer: median and 5–95 % band per setting, theory's
    predicted median where there is a theory."""
    has_theory = all(predictions.get(s.id) is not None for s in section.settings)
    columns: dict[str, list] = {"setting": [], "step": [], "q05": [], "median": [], "q95": []}
    if has_theory:
        columns["theory"] = []
    for setting in section.settings:
        if results[setting.id].alive == 0:  # every run died: nothing to draw
            continue
        add_band(columns, setting.id, "step", results[setting.id].trajectory_quantiles())
        if has_theory:
            columns["theory"] += rounded(predictions[setting.id].trajectory_log10_mean_abs)
    return FigureData(f"{section.id}-trajectory", "trajectory", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": labels(section), "step_label": section.experiment.step_label,
                       "runs": section.settings[0].runs, "theory": has_theory})


def draw_trajectory(data: FigureData, ink: Ink) -> Any:
    fig, ax = new_figure()
    series = by_setting(data, "step", "q05", "median", "q95",
                         *(["theory"] if data.meta["theory"] else []))
    for i, setting in enumerate(data.settings):
        style = series_style(ink, i)
        s = series.get(setting)
        if s is None:  # every run died
            continue
        ax.fill_between(s["step"], s["q05"], s["q95"], color=style.colour, alpha=0.2, linewidth=0,
                        gid=style.part("band"))
        ax.plot(s["step"], s["median"], **style.line(
            linewidth=2.2, label=plain(config_words(data.meta["labels"][setting]))))
        if data.meta["theory"]:
            ax.plot(s["step"], s["theory"], **style.theory(linewidth=1.5))
    # "layers applied": the plural as the English figure has always written it (the experiments
    # declare it for translation as their step_plural)
    ax.set_xlabel(_("%(steps)s applied") % {"steps": _(f"{data.meta['step_label']}s")})
    ax.set_ylabel(_("log₁₀ mean |entry|"))
    if data.meta["theory"]:
        ax.plot([], [], color=ink.muted, linestyle=DASHED, label=_("theory"))
    ax.legend(frameon=False, loc="best")
    return fig


def trajectory_findings(data: FigureData) -> dict[str, Any]:
    meta, columns, ends = data.meta, data.columns, {}
    for setting, step, median in zip(columns["setting"], columns["step"], columns["median"]):
        ends[setting] = (step, median)  # the last row of a setting is its last step
    return {"ends": [[config_words(meta["labels"][s]), ends[s][1], ends[s][0]] for s in data.settings
                     if s in ends]}


KIND = FigureKind(
    "trajectory", "section",
    data=lambda r: trajectory_data(r.section, r.evidence.runs.full, r.evidence.predictions),
    draw=draw_trajectory, findings=trajectory_findings, words="figures/trajectory.j2", default=1)
