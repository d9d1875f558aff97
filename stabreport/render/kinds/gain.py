"""Gain per step against the weight scale: the theory's curves, their critical scales and
the measured settings."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, plain, rounded)
from ..i18n import _, N_  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest
from .. import i18n
from ...report.pages import gain_settings


def gain_data(curves: Sequence[Any], points: Sequence[tuple[str, str, float, float]],
              page: str) -> FigureData:
    """Per-step log10 gain against the weight scale: theory curves, each curve's critical scale,
    and the measured settings. points: (curve label, setting id, scale, measured gain)."""
    columns: dict[str, list] = {"curve": [], "kind": [], "scale": [], "log10_gain_per_step": []}
    for curve in curves:
        columns["curve"] += [curve.label] * len(curve.scales)
        columns["kind"] += ["theory"] * len(curve.scales)
        columns["scale"] += rounded(curve.scales)
        columns["log10_gain_per_step"] += rounded(curve.gains)
        if curve.critical_scale is not None:
            columns["curve"].append(curve.label)
            columns["kind"].append("critical scale")
            columns["scale"].append(round(curve.critical_scale, 6))
            columns["log10_gain_per_step"].append(0.0)
    for label, setting_id, scale, gain in points:
        columns["curve"].append(label)
        columns["kind"].append(f"measured {setting_id}")
        columns["scale"].append(round(scale, 6))
        columns["log10_gain_per_step"].append(round(gain, 6))
    return FigureData("gain-vs-scale", "gain", page, tuple(p[1] for p in points), columns,
                      {"curves": [c.label for c in curves],
                       # each curve's experiment and parameters: its label in another language
                       "families": [[c.label.partition(", ")[0], dict(c.family)] for c in curves]})


def _curve_label(meta: Mapping[str, Any], label: str) -> str:
    """A gain curve's label ("mlp, relu, width 100, depth 50") in the language being drawn: its
    experiment's words for its parameters (the label itself in English, or where the experiment
    is not known)."""
    families = dict(zip(meta.get("curves", ()), meta.get("families", ())))
    if i18n.current() == i18n.SOURCE or label not in families:
        return label
    from ...errors import StabreportError
    from ...experiments import get_experiment

    name, family = families[label]
    try:
        return _("%(experiment)s, %(setting)s") % {"experiment": name,
                                                   "setting": get_experiment(name).words(family)}
    except (StabreportError, KeyError):
        return label


def draw_gain(data: FigureData, ink: Ink) -> Any:
    fig, ax = new_figure()
    ax.axhline(0.0, color=ink.muted, linewidth=0.8)
    colours = {label: ink.palette[i % len(ink.palette)] for i, label in enumerate(data.meta["curves"])}
    rows = list(zip(data.columns["curve"], data.columns["kind"], data.columns["scale"],
                    data.columns["log10_gain_per_step"]))
    for label, colour in colours.items():
        theory = [(s, g) for c, k, s, g in rows if c == label and k == "theory"]
        ax.plot(*zip(*theory), color=colour, linewidth=2.0,
                label=plain(_curve_label(data.meta, label)))
        for c, k, s, g in rows:
            if c == label and k == "critical scale":
                ax.axvline(s, color=colour, linestyle=":", linewidth=1.6)
            elif c == label and k.startswith("measured "):
                ax.plot([s], [g], "o", color=colour, markersize=5, markeredgecolor=ink.paper,
                        markeredgewidth=0.6)
    log_x(ax)
    ax.set_xlabel(_("weight standard deviation (scale)"))
    ax.set_ylabel(_("log₁₀ gain per factor or layer"))
    ax.plot([], [], "o", color=ink.muted, label=_("measured settings"))
    ax.plot([], [], ":", color=ink.muted, label=_("critical scale"))
    # Outside the data, in as many columns as the longest entry leaves room for on 7 inches,
    # the figure made taller for each row beyond two.
    labels = ax.get_legend_handles_labels()[1]
    ncols = 3 if max(map(len, labels)) <= 26 else 2
    rows = -(-len(labels) // ncols)
    fig.set_figheight(fig.get_figheight() + 0.22 * max(0, rows - 2))
    fig.legend(frameon=False, loc="outside lower center", ncols=ncols)
    return fig


def gain_findings(data: FigureData) -> dict[str, Any]:
    rows = zip(data.columns["curve"], data.columns["kind"], data.columns["scale"])
    return {"critical": [[_curve_label(data.meta, curve), scale] for curve, kind, scale in rows
                         if kind == "critical scale"]}


KIND = FigureKind(
    "gain", "report",
    data=lambda r: gain_data(r.evidence.gains.curves, r.evidence.gains.points, r.spec.page),
    draw=draw_gain, findings=gain_findings, words="figures/gain.j2", paths=("tangent",),
    column_lengths=True, settings=gain_settings, figure_id="gain-vs-scale")
