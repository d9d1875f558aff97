"""The singular values of the final matrix, one panel per setting."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, param_words, plain,
                       rounded, series_style)
from ..i18n import _, N_, config_words  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest


SPECTRUM_BINS = 40


def spectrum_data(section: Section, results: Mapping[str, Any]) -> FigureData:
    """Per setting: the density of log10 σ over every nonzero singular value of every run (a
    histogram on the setting's own range), and the medians over runs of the 10th, 50th and 90th
    percentiles."""
    columns: dict[str, list] = {"setting": [], "log10_sv": [], "density": []}
    quantiles = {}
    for setting in section.settings:
        result = results[setting.id]
        values = result.log10_sv[np.isfinite(result.log10_sv)] if result.log10_sv is not None \
            else np.empty(0)
        if len(values):
            low, high = float(values.min()), float(values.max())
            width = max(high - low, 1e-3)  # an exactly isometric setting: one narrow bin
            edges = np.linspace(low - 0.02 * width, high + 0.02 * width, SPECTRUM_BINS + 1)
            density, _ = np.histogram(values, bins=edges, density=True)
            centres = (edges[1:] + edges[:-1]) / 2
            columns["setting"] += [setting.id] * SPECTRUM_BINS
            columns["log10_sv"] += rounded(centres)
            columns["density"] += rounded(density)
        quantiles[setting.id] = [maybe(float(np.median(result.metrics[f"log10_sv_q{q}"])))
                                 if result.alive and f"log10_sv_q{q}" in result.metrics else None
                                 for q in (10, 50, 90)]
    return FigureData(f"{section.id}-spectrum", "spectrum", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": labels(section), "quantiles": quantiles,
                       "runs": section.settings[0].runs, "width": section.experiment.width(
                           section.settings[0].params)})


def draw_spectrum(data: FigureData, ink: Ink) -> Any:
    fig, axes = panels(len(data.settings))
    series = by_setting(data, "log10_sv", "density")
    for i, (ax, setting) in enumerate(zip(axes, data.settings)):
        style = series_style(ink, i)
        colour = style.colour
        s = series.get(setting)
        if s:
            step = (s["log10_sv"][1] - s["log10_sv"][0]) if len(s["log10_sv"]) > 1 else 1.0
            ax.bar(s["log10_sv"], s["density"], width=step, color=colour, alpha=0.35, linewidth=0)
            ax.step(s["log10_sv"], s["density"], where="mid", color=colour, linewidth=1.5,
                    gid=style.gid)
        for value, line, name in zip(data.meta["quantiles"][setting], (":", "-", ":"),
                                     ("q10", "q50", "q90")):
            if value is not None:
                ax.axvline(value, color=ink.strong, linestyle=line, linewidth=1.4,
                           gid=style.part(name))
        ax.set_title(plain(config_words(data.meta["labels"][setting])), color=colour)
        ax.tick_params(labelsize=10)
        ax.set_yticks([])
    fig.supxlabel(_("log₁₀ singular value of M (every run, nonzero values)"))
    return fig


def spectrum_findings(data: FigureData) -> dict[str, Any]:
    meta = data.meta
    return {"spreads": [[config_words(meta["labels"][s]), *(meta["quantiles"][s][i] for i in (1, 0, 2))]
                        for s in data.settings if meta["quantiles"][s][1] is not None]}


KIND = FigureKind(
    "spectrum", "section", data=lambda r: spectrum_data(r.section, r.evidence.runs.full),
    draw=draw_spectrum, findings=spectrum_findings, words="figures/spectrum.j2",
    available=lambda section: bool(section.experiment.spectrum), spectrum=True)
