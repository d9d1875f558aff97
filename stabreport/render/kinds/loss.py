"""Training loss against step: per setting, the median and 5–95 % band over seeds of the
minibatch loss after every step (a log axis: an exploding network's loss is astronomic), over
the runs still training (a diverged run leaves the band at its first non-finite loss; a line
ends where fewer than half the runs are left), and chance, ln 10, for reference."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..figures import DASHED, FigureData, Ink, by_setting, labels, plain, series_style
from ..i18n import _, config_words
from ...report.model import Section
from . import FigureKind

CHANCE = math.log(10.0)  # the loss of a uniform guess among 10 classes


def _significant(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in values]


def loss_data(section: Section, results: Mapping[str, Any]) -> FigureData:
    columns: dict[str, list] = {"setting": [], "step": [], "q05": [], "median": [], "q95": []}
    for setting in section.settings:
        losses = np.asarray(results[setting.id].trajectory, dtype=np.float64)
        if len(losses) == 0:
            continue
        training = np.isfinite(losses).sum(axis=0)
        steps = int(np.argmax(training * 2 < len(losses))) if (training * 2 < len(losses)).any() \
            else losses.shape[1]
        if steps == 0:
            continue
        q05, median, q95 = np.nanquantile(losses[:, :steps], [0.05, 0.5, 0.95], axis=0)
        columns["setting"] += [setting.id] * steps
        columns["step"] += list(range(steps))
        for name, values in (("q05", q05), ("median", median), ("q95", q95)):
            columns[name] += _significant(values)
    return FigureData(f"{section.id}-loss", "loss", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": labels(section), "runs": section.settings[0].runs,
                       "steps": section.experiment.steps(section.settings[0].params)})


MODERATE = 10.0  # a loss curve whose median stays below this is also drawn on a linear axis


def draw_loss(data: FigureData, ink: Ink) -> Any:
    """One panel on a log axis (an exploding network's loss is astronomic); where some settings'
    losses stay moderate and others do not, a second panel with the moderate ones on a linear
    axis, where learning shows (a loss falling from 2.3 to 1.9 is invisible across 300 decades)."""
    from matplotlib.figure import Figure as MplFigure

    series = by_setting(data, "step", "q05", "median", "q95")
    moderate = {k for k, s in series.items() if max(s["q95"]) < MODERATE}
    split = bool(moderate) and len(moderate) < len(series)
    fig = MplFigure(figsize=(7.0, 3.9), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False).ravel() if split else [fig.add_subplot()]
    for ax, shown, log in ((axes[0], set(series), not (moderate == set(series))),
                           *(((axes[1], moderate, False),) if split else ())):
        for i, setting in enumerate(data.settings):
            s = series.get(setting)
            if s is None or setting not in shown:
                continue
            style = series_style(ink, i)
            ax.fill_between(s["step"], s["q05"], s["q95"], color=style.colour, alpha=0.2,
                            linewidth=0, gid=style.part("band"))
            ax.plot(s["step"], s["median"], **style.line(
                points=len(s["step"]) < 3,  # a run that diverged at once is a point or two
                linewidth=2.2, label=plain(config_words(data.meta["labels"][setting]))))
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, max(CHANCE * 1.15, *(max(series[k]["q95"]) * 1.05 for k in shown)))
        ax.axhline(CHANCE, color=ink.muted, linestyle=DASHED, linewidth=1.2, label=_("chance: ln 10"))
        ax.set_xlabel(_("SGD steps"))
    axes[0].set_ylabel(_("training loss (cross-entropy)"))
    if split:
        axes[1].set_title(_("the moderate ones, linear axis"), fontsize="medium")
    handles, names = axes[0].get_legend_handles_labels()
    axes[-1].legend(handles, names, frameon=False, loc="best", fontsize="small")
    return fig


def loss_findings(data: FigureData) -> dict[str, Any]:
    ends: dict[str, tuple[int, float]] = {}
    for setting, step, median in zip(data.columns["setting"], data.columns["step"],
                                     data.columns["median"]):
        ends[setting] = (step, median)
    return {"ends": [[config_words(data.meta["labels"][s]), ends[s][1], ends[s][0]]
                     for s in data.settings if s in ends]}


KIND = FigureKind(
    "loss", "section",
    data=lambda r: loss_data(r.section, r.evidence.runs.full),
    draw=draw_loss, findings=loss_findings, words="figures/loss.j2", paths=("full",),
    available=lambda section: section.experiment.trajectory_metric is not None)
