"""Curves over one axis of a sweep (the depth, typically): the final column length."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, param_words, plain,
                       rounded, series_style)
from ..formatting import Words
from ..i18n import _, N_, config_words  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest


def depth_data(sweep: Any, cells: Sequence[Any]) -> FigureData:
    """Curves over the sweep's one axis (the depth, typically): median and 5–95 % band of the
    final log10 ‖M u‖ per curve, and the theory's median."""
    axis = sweep.axes[0].key
    columns: dict[str, list] = {"series": [], axis: [], "q05": [], "median": [], "q95": [],
                                "theory": [], "dead_fraction": []}
    for cell in cells:
        columns["series"].append(cell.series or sweep.id)
        columns[axis].append(cell.params[axis])
        for name in ("q05", "median", "q95"):
            columns[name].append(maybe(getattr(cell, name)) if getattr(cell, name) is not None else "")
        columns["theory"].append(maybe(cell.theory_median) if cell.theory_median is not None else "")
        columns["dead_fraction"].append(round(cell.dead_fraction, 6))
    labels = {c.id or sweep.id: c.label or sweep.title for c in sweep.curves}
    return FigureData(f"depth-{sweep.id}", "depth", sweep.page, (), columns,
                      {"axis": axis, "labels": labels, "runs": sweep.runs,
                       "theory": any(c.theory_median is not None for c in cells)})


def draw_depth(data: FigureData, ink: Ink) -> Any:
    fig, ax = new_figure()
    axis = data.meta["axis"]
    rows = list(zip(data.columns["series"], data.columns[axis], data.columns["q05"],
                    data.columns["median"], data.columns["q95"], data.columns["theory"]))
    ax.axhline(0.0, color=ink.muted, linewidth=0.8)
    for i, (series, label) in enumerate(data.meta["labels"].items()):
        style = series_style(ink, i)
        own = [r for r in rows if r[0] == series and r[3] != ""]
        if not own:
            continue
        x = [r[1] for r in own]
        ax.fill_between(x, [r[2] for r in own], [r[4] for r in own], color=style.colour, alpha=0.18,
                        linewidth=0, gid=style.part("band"))
        ax.plot(x, [r[3] for r in own], **style.line(points=True, linewidth=2.0, markersize=4.5,
                                                       label=plain(config_words(label))))
        theory = [(r[1], r[5]) for r in own if r[5] != ""]
        if theory:
            ax.plot(*zip(*theory), **style.theory(linewidth=1.5))
    if log_axis(data.columns[axis]):
        log_x(ax, data.columns[axis])
    ax.set_xlabel(param_words(axis))
    ax.set_ylabel(_("log₁₀ ‖M u‖ at the end"))
    if any(value != "" for value in data.columns["theory"]):
        ax.plot([], [], color=ink.muted, linestyle=DASHED, label=_("theory"))
    ax.legend(frameon=False, loc="best")
    return fig


def depth_findings(data: FigureData) -> dict[str, Any]:
    meta, columns = data.meta, data.columns
    axis, ends = meta["axis"], {}
    for series, x, median in zip(columns["series"], columns[axis], columns["median"]):
        if median != "" and (series not in ends or x >= ends[series][0]):
            ends[series] = (x, median)
    return {"ends": [[config_words(meta["labels"].get(s, s)), x, m] for s, (x, m) in ends.items()]}


KIND = FigureKind(
    "depth", "sweep", data=lambda r: depth_data(r.sweep, r.cells), draw=draw_depth,
    findings=depth_findings, words="figures/depth.j2",
    sweep=SweepFigure(1, True, "median", 0.1, Words(N_("decades")),
                      Words(N_("the curves span tens to hundreds of decades on the figure's axis"))))
