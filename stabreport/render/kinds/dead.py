"""The share of runs whose matrix ended exactly zero, over two axes of a sweep."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, param_words, plain,
                       rounded, series_style)
from ..formatting import Words
from ..i18n import _, N_  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest
from ...report.claims import dead_law_claim, dead_law_tests


def dead_data(sweep: Any, cells: Sequence[Any]) -> FigureData:
    """The share of runs whose matrix ended exactly zero, over the sweep's two axes (one curve
    per value of the second), with its binomial standard error and the exact law."""
    across, rows = (axis.key for axis in sweep.axes)
    columns: dict[str, list] = {rows: [], across: [], "dead_fraction": [], "standard_error": [],
                                "theory": []}
    for cell in sorted(cells, key=lambda c: (c.params[rows], c.params[across])):
        columns[rows].append(cell.params[rows])
        columns[across].append(cell.params[across])
        columns["dead_fraction"].append(round(cell.dead_fraction, 6))
        columns["standard_error"].append(round(cell.dead_standard_error, 6))
        columns["theory"].append(round(cell.theory_dead_fraction, 6)
                                 if cell.theory_dead_fraction is not None else "")
    return FigureData(f"dead-{sweep.id}", "dead", sweep.page, (), columns,
                      {"across": across, "rows": rows, "runs": sweep.runs,
                       "width": sweep.experiment.width_param, "steps": sweep.experiment.steps_param})


def draw_dead(data: FigureData, ink: Ink) -> Any:
    fig, ax = new_figure()
    across, rows = data.meta["across"], data.meta["rows"]
    table = list(zip(data.columns[rows], data.columns[across], data.columns["dead_fraction"],
                     data.columns["standard_error"], data.columns["theory"]))
    for i, row in enumerate(sorted(set(data.columns[rows]))):
        style = series_style(ink, i)
        own = [t for t in table if t[0] == row]
        x = [t[1] for t in own]
        points = style.points(markersize=5)
        gid = points.pop("gid")
        bars = ax.errorbar(x, [t[2] for t in own], yerr=[2 * t[3] for t in own], capsize=2,
                           linewidth=1.4, label=f"{param_words(rows)} {row}", **points)
        bars.lines[0].set_gid(gid)
        theory = [(t[1], t[4]) for t in own if t[4] != ""]
        if theory:
            ax.plot(*zip(*theory), **style.line(linewidth=1.6))
    if log_axis(data.columns[across]):
        log_x(ax, data.columns[across])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(param_words(across))
    ax.set_ylabel(_("share of runs that died"))
    ax.plot([], [], color=ink.muted, label=_("exact law"))
    ax.legend(frameon=False, loc="best", ncols=2)
    return fig


def dead_findings(data: FigureData) -> dict[str, Any]:
    meta, columns = data.meta, data.columns
    rows, across, out = meta["rows"], meta["across"], {}
    for row, x, share in zip(columns[rows], columns[across], columns["dead_fraction"]):
        out.setdefault(row, []).append((x, share))
    return {"rows": [[row, points[0][0], points[0][1], points[-1][0], points[-1][1]]
                     for row, points in out.items()]}


KIND = FigureKind(
    "dead", "sweep", data=lambda r: dead_data(r.sweep, r.cells), draw=draw_dead,
    findings=dead_findings, words="figures/dead.j2",
    claims=lambda sweep, cells, family: [dead_law_claim(sweep, cells, family)],
    tests=dead_law_tests,
    sweep=SweepFigure(2, False, "dead_fraction", 0.015, Words(N_("of the runs")),
                      Words(N_("the bars of ±2 standard errors stay within ±0.03 of a share drawn from "
                         "0 to 1"))))
