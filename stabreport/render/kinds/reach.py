"""How far back the gradient reaches: per setting, the median and 5–95 % band over runs of
log10 ‖uᵀ ∂s_T/∂s_{T−d}‖ against the distance d in steps (the classic figure of backpropagation
through time), with the theory's median where there is one."""
from __future__ import annotations

from typing import Any, Mapping

from ..figures import DASHED, FigureData, Ink, add_band, by_setting, labels, new_figure, plain, \
    rounded, series_style
from ..i18n import _, config_words
from ...report.model import Section
from . import FigureKind


def reach_data(section: Section, results: Mapping[str, Any],
               predictions: Mapping[str, Any]) -> FigureData:
    theory = {s.id: getattr(predictions.get(s.id), "reach_log10", None) for s in section.settings}
    has_theory = any(v is not None for v in theory.values())
    columns: dict[str, list] = {"setting": [], "distance": [], "q05": [], "median": [], "q95": []}
    if has_theory:
        columns["theory"] = []
    for setting in section.settings:
        quantiles = results[setting.id].reach_quantiles()
        if quantiles is None:  # every run died
            continue
        rows = add_band(columns, setting.id, "distance", quantiles)
        if has_theory:
            line = theory[setting.id]
            columns["theory"] += rounded(line) if line is not None else [None] * rows
    return FigureData(f"{section.id}-reach", "reach", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": labels(section), "step_label": section.experiment.step_label,
                       "step_plural": section.experiment.step_plural,
                       "runs": section.settings[0].runs, "theory": has_theory})


def draw_reach(data: FigureData, ink: Ink) -> Any:
    fig, ax = new_figure()
    series = by_setting(data, "distance", "q05", "median", "q95",
                        *(["theory"] if data.meta["theory"] else []))
    for i, setting in enumerate(data.settings):
        style = series_style(ink, i)
        s = series.get(setting)
        if s is None:
            continue
        ax.fill_between(s["distance"], s["q05"], s["q95"], color=style.colour, alpha=0.2,
                        linewidth=0, gid=style.part("band"))
        ax.plot(s["distance"], s["median"], **style.line(
            linewidth=2.2, label=plain(config_words(data.meta["labels"][setting]))))
        if data.meta["theory"] and any(v is not None for v in s["theory"]):
            ax.plot(s["distance"], s["theory"], **style.theory(linewidth=1.5))
    plural = data.meta["step_plural"]
    steps = _(plural) if plural else _(data.meta["step_label"]) + "s"
    ax.set_xlabel(_("%(steps)s back from the last") % {"steps": steps})
    ax.set_ylabel(_("log₁₀ ‖gradient‖ that far back"))
    if data.meta["theory"]:
        ax.plot([], [], color=ink.muted, linestyle=DASHED, label=_("theory"))
    ax.legend(frameon=False, loc="best")
    return fig


def reach_findings(data: FigureData) -> dict[str, Any]:
    ends: dict[str, tuple[int, float]] = {}
    for setting, d, median in zip(data.columns["setting"], data.columns["distance"],
                                  data.columns["median"]):
        ends[setting] = (d, median)
    return {"ends": [[config_words(data.meta["labels"][s]), ends[s][1], ends[s][0]]
                     for s in data.settings if s in ends]}


KIND = FigureKind(
    "reach", "section",
    data=lambda r: reach_data(r.section, r.evidence.runs.full, r.evidence.predictions),
    draw=draw_reach, findings=reach_findings, words="figures/reach.j2", paths=("full",),
    available=lambda section: section.experiment.reach)
