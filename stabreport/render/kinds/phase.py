"""A phase diagram: the measured gain per step over scale and width (or depth), with the
critical scales."""
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
from ..phase import STABLE_DECADES


def phase_data(diagram: Any, lecture_points: Sequence[tuple[float, int, str]]) -> FigureData:
    """The measured gain per cell with the theory's, and the rows' critical scales."""
    columns: dict[str, list] = {diagram.row_key: [], "scale": [], "log10_gain_per_step": []}
    if diagram.theory_gain is not None:
        columns["theory_log10_gain_per_step"] = []
    columns["log10_total"] = []
    for i, row in enumerate(diagram.rows):
        for j, scale in enumerate(diagram.scales):
            columns[diagram.row_key].append(row.value)
            columns["scale"].append(scale)
            columns["log10_gain_per_step"].append(round(float(diagram.gain[i, j]), 6))
            if diagram.theory_gain is not None:
                columns["theory_log10_gain_per_step"].append(round(float(diagram.theory_gain[i, j]), 6))
            columns["log10_total"].append(round(float(diagram.total[i, j]), 6))
    rows = [{"value": r.value, "measured_critical": maybe(r.measured_critical),
             "theory_critical": maybe(r.theory_critical)} for r in diagram.rows]
    return FigureData(f"phase-{diagram.id}", "phase", diagram.sweep.page, (), columns,
                      {"row_key": diagram.row_key, "runs": diagram.sweep.runs, "rows": rows,
                       "stable_decades": STABLE_DECADES,
                       "lecture": [[s, r, label] for s, r, label in lecture_points]})


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway (geometrically) between log-spaced centres."""
    logs = np.log(centres)
    middle = (logs[1:] + logs[:-1]) / 2
    first = logs[0] - (middle[0] - logs[0]) if len(logs) > 1 else logs[0] - 0.5
    last = logs[-1] + (logs[-1] - middle[-1]) if len(logs) > 1 else logs[-1] + 0.5
    return np.exp(np.concatenate([[first], middle, [last]]))


def draw_phase(data: FigureData, ink: Ink) -> Any:
    """Heatmap of the measured log10 gain per step over (scale, row), with the measured and
    theoretical critical scales, the region within 10⁻³…10³ over the whole depth, and the
    lecture's settings."""
    row_key = data.meta["row_key"]
    rows = np.array(sorted(set(data.columns[row_key])), dtype=float)
    scales = np.array(sorted(set(data.columns["scale"])))
    shape = (len(rows), len(scales))
    gain = np.array(data.columns["log10_gain_per_step"]).reshape(shape)
    total = np.array(data.columns["log10_total"]).reshape(shape)
    limit = float(min(1.0, np.max(np.abs(gain)))) or 1.0
    fig, ax = new_figure()
    ax.grid(False)
    mesh = ax.pcolormesh(_edges(scales), _edges(rows), gain, cmap="PuOr_r", vmin=-limit,
                         vmax=limit, shading="flat")
    fig.colorbar(mesh, ax=ax, label=_("log₁₀ gain per step (measured)"))
    stable = (np.abs(total) <= data.meta["stable_decades"]).astype(float)
    ax.contourf(scales, rows, stable, levels=[0.5, 1.5], colors="none", hatches=["///"])
    ax.contour(scales, rows, stable, levels=[0.5], colors=ink.muted, linewidths=0.8)
    theory = [(r["theory_critical"], r["value"]) for r in data.meta["rows"] if r["theory_critical"]]
    if theory:
        ax.plot(*zip(*theory), color=ink.strong, linewidth=2.0, label=_("theory: critical scale"),
                gid="series-theory")
    measured = [(r["measured_critical"], r["value"]) for r in data.meta["rows"] if r["measured_critical"]]
    if measured:
        ax.plot(*zip(*measured), "o", color=ink.paper, markeredgecolor=ink.strong, markersize=6,
                label=_("measured: gain changes sign"), gid="series-measured")
    lecture = series_style(ink, 1).colour  # the same orange in every look
    if data.meta["lecture"]:
        ax.plot([s for s, _r, _l in data.meta["lecture"]], [r for _s, r, _l in data.meta["lecture"]],
                marker="X", color=lecture, markeredgecolor=ink.paper, markersize=8,
                linestyle="none", gid="series-lecture")
        ax.plot([], [], marker="X", color=lecture, linestyle="none",
                label=_("the lecture's settings"))
    ax.plot([], [], color=ink.muted, linewidth=0.8,
            label=_("within %(decades)s orders of magnitude over the depth (hatched)")
            % {"decades": f"{data.meta['stable_decades']:g}"})
    log_x(ax, scales)
    ax.set_yscale("log", base=2)
    ax.set_yticks(rows, [f"{int(v)}" for v in rows])
    ax.yaxis.set_minor_formatter("")  # the rows' own labels only
    ax.set_xlabel(_("weight standard deviation (scale)"))
    ax.set_ylabel(param_words(row_key))
    fig.legend(frameon=False, loc="outside lower center", ncols=2)  # outside the data
    return fig


def lecture_points(report: Any, diagram: Any) -> list[tuple[float, int, str]]:
    """The report's settings that sit on this diagram: same experiment and fixed parameters."""
    sweep, points = diagram.sweep, []
    for setting in report.settings:
        if setting.experiment is not sweep.experiment or setting.params.get(diagram.x_key) is None:
            continue
        if all(setting.params.get(k) == v for k, v in sweep.params.items()):
            points.append((setting.params[diagram.x_key], setting.params[diagram.row_key], setting.label))
    return points


def _data(request: FigureRequest) -> FigureData:
    diagram = next(d for d in request.evidence.diagrams if d.id == request.spec.sweep)
    return phase_data(diagram, lecture_points(request.report, diagram))


def phase_findings(data: FigureData) -> dict[str, Any]:
    return {"rows": [[r["value"], r["measured_critical"], r["theory_critical"]]
                     for r in data.meta["rows"]]}


def _scale_first(sweep: Any) -> str | None:
    experiment = sweep.experiment
    if experiment.param(sweep.axes[0].key).kind is float:
        return None
    return (f"a phase diagram's first axis is a scale; got {sweep.axes[0].key!r}; allowed: one of "
            + ", ".join(a for a in experiment.sweep_axes if experiment.param(a).kind is float))


KIND = FigureKind(
    "phase", "sweep", data=_data, draw=draw_phase, findings=phase_findings,
    words="figures/phase.j2", check_sweep=_scale_first, diagram=True, cost=1,
    sweep=SweepFigure(2, False, "log10_gain_per_step", 0.002, Words(N_("decades per step")),
                      Words(N_("neighbouring scales of the default grids differ by about 0.15 decades "
                         "per step, so a crossing between them is placed to about %(share)s of a "
                         "grid step"), share="1 %")))
