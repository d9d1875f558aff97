"""Figures from results: matplotlib, byte-identical across runs, with the plotted data attached.

Each figure is drawn from results only (never runs an experiment) and comes back as a `Figure`
record holding its id, title, caption and every plotted number as columns, so the same numbers
can be written as CSV/JSON next to the SVG and PNG files.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402

from . import theory as _theory  # noqa: E402
from .config import Section, Setting  # noqa: E402
from .results import Result  # noqa: E402
from .theory import GainCurve, Prediction  # noqa: E402

# Okabe & Ito's colour-blind-safe palette (yellow dropped: too faint on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
STYLE = {
    "svg.hashsalt": "stabreport",  # stable clip-path ids, hence identical SVG bytes
    "svg.fonttype": "none",  # text stays text: searchable, selectable, small
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.facecolor": "white",  # a white card stays legible in dark mode too
    "savefig.facecolor": "white",
}
FORMATS = {  # format -> savefig keywords with the metadata that would differ between runs removed
    "svg": {"metadata": {"Date": None}},
    "png": {"metadata": {"Software": None}, "dpi": 300},
    "pdf": {"metadata": {"CreationDate": None, "ModDate": None}},
}


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    caption: str
    columns: Mapping[str, Sequence[float | str]]  # every plotted number, one list per column
    settings: tuple[str, ...]  # ids of the settings whose results it shows
    files: Mapping[str, bytes] = field(repr=False)  # format -> bytes


def _render(fig: MplFigure) -> dict[str, bytes]:
    out = {}
    for fmt, options in FORMATS.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, bbox_inches="tight", **options)
        out[fmt] = buffer.getvalue()
    return out


def _new_figure() -> tuple[MplFigure, object]:
    with matplotlib.rc_context(STYLE):
        fig = MplFigure(figsize=(7.0, 3.9), layout="constrained")
        ax = fig.add_subplot()
    return fig, ax


def trajectory_figure(section: Section, results: Mapping[str, Result],
                      predictions: Mapping[str, Prediction] | None = None) -> Figure:
    """log10 mean|M_ij| against factor/layer: median line and 5–95 % band per setting."""
    columns: dict[str, list] = {"setting": [], "step": [], "q05": [], "median": [], "q95": []}
    theory = {s.id: predictions[s.id].trajectory_log10_mean_abs
              for s in section.settings} if predictions else None
    if theory:
        columns["theory"] = []
    step_label = section.experiment.step_label
    with matplotlib.rc_context(STYLE):
        fig, ax = _new_figure()
        for colour, setting in zip(_colours(section.settings), section.settings):
            result = results[setting.id]
            q05, median, q95 = result.trajectory_quantiles()
            steps = np.arange(len(median))
            ax.fill_between(steps, q05, q95, color=colour, alpha=0.2, linewidth=0)
            ax.plot(steps, median, color=colour, linewidth=1.8, label=setting.label)
            predicted = theory.get(setting.id) if theory else None
            if predicted is not None:
                ax.plot(steps, predicted, color=colour, linewidth=1.2, linestyle=(0, (4, 3)))
            columns["setting"] += [setting.id] * len(steps)
            columns["step"] += steps.tolist()
            columns["q05"] += _rounded(q05)
            columns["median"] += _rounded(median)
            columns["q95"] += _rounded(q95)
            if theory:
                columns["theory"] += _rounded(predicted) if predicted is not None else [""] * len(steps)
        ax.set_xlabel(f"{step_label}s applied")
        ax.set_ylabel("log₁₀ mean |entry|")
        if theory:
            ax.plot([], [], color="0.3", linestyle=(0, (4, 3)), label="theory")
        ax.legend(frameon=False, fontsize=9, loc="best")
        files = _render(fig)
    runs = section.settings[0].runs
    caption = (f"log₁₀ of the mean absolute entry after each {step_label}: median over runs (line) "
               f"and 5–95 % band (shaded), {runs} runs per setting"
               + ("; dashed: theory's prediction of the median." if theory else "."))
    return Figure(f"{section.id}-trajectory", f"{section.title}: size after each {step_label}",
                  caption, columns, tuple(s.id for s in section.settings), files)


def distribution_figure(section: Section, results: Mapping[str, Result],
                        predictions: Mapping[str, Prediction] | None = None) -> Figure:
    """One panel per setting: histogram of the final per-run log10 mean|M_ij|, the lecture's
    statistic once per group of runs (ticks), the lecture's printed value (dashed)."""
    columns: dict[str, list] = {"setting": [], "kind": [], "log10_value": []}
    settings = section.settings
    has_density = False
    with matplotlib.rc_context(STYLE):
        fig, axes = _panels(len(settings))
        for ax, colour, setting in zip(axes, _colours(settings), settings):
            values = results[setting.id].log10_mean_abs
            ax.hist(values, bins=30, density=True, histtype="stepfilled", alpha=0.3, color=colour)
            ax.hist(values, bins=30, density=True, histtype="step", color=colour)
            _add_column(columns, setting.id, "run", values)
            prediction = predictions.get(setting.id) if predictions else None
            if prediction is not None and prediction.mean_abs_law is not None:
                grid = _grid_around(values)
                density = prediction.density_log10("mean_abs", grid)
                has_density = True
                ax.plot(grid, density, color="0.15", linewidth=1.1)
                _add_column(columns, setting.id, "theory_grid", grid)
                _add_column(columns, setting.id, "theory_density", density)
            if setting.lecture_averages > 1:
                grouped = results[setting.id].grouped_log10_of_mean(setting.lecture_averages)
                ax.plot(grouped, np.zeros_like(grouped), "|", color="0.15", markersize=10,
                        markeredgewidth=1.0, clip_on=False)
                _add_column(columns, setting.id, f"mean of {setting.lecture_averages} runs", grouped)
            if setting.lecture_log10 is not None:
                ax.axvline(setting.lecture_log10, color="0.15", linestyle="--", linewidth=1.2)
                _add_column(columns, setting.id, "lecture", np.array([setting.lecture_log10]))
            ax.set_title(setting.label, fontsize=9.5, color=colour)
            ax.tick_params(labelsize=8)
            ax.set_yticks([])
        fig.supxlabel("log₁₀ mean |entry| at the end", fontsize=10)
        files = _render(fig)
    averages = max(s.lecture_averages for s in settings)
    notes = ["Distribution over runs of the final log₁₀ mean absolute entry, one panel per setting"]
    if has_density:
        notes.append("solid line: the rank-one model's density (an approximation)")
    if averages > 1:
        notes.append(f"ticks on the axis: the lecture's statistic (the mean over {averages} runs), "
                     "once per group of runs")
    notes.append("dashed: the single value the lecture printed")
    return Figure(f"{section.id}-distribution", f"{section.title}: spread over runs",
                  "; ".join(notes) + ".", columns, tuple(s.id for s in settings), files)


def _panels(count: int) -> tuple[MplFigure, np.ndarray]:
    """A figure with one small panel per setting, four to a row."""
    ncols = min(count, 4)
    nrows = -(-count // ncols)
    fig = MplFigure(figsize=(7.0, 2.3 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes


def _add_column(columns: dict[str, list], setting_id: str, kind: str, values: np.ndarray) -> None:
    columns["setting"] += [setting_id] * len(values)
    columns["kind"] += [kind] * len(values)
    columns["log10_value"] += _rounded(values)


def law_figure(section: Section, norm_u: Mapping[str, np.ndarray],
               predictions: Mapping[str, Prediction]) -> Figure:
    """One panel per setting: histogram of log10 ‖M u‖ against the theory's density for it."""
    columns: dict[str, list] = {"setting": [], "kind": [], "log10_value": []}
    settings = section.settings
    with matplotlib.rc_context(STYLE):
        fig, axes = _panels(len(settings))
        for ax, colour, setting in zip(axes, _colours(settings), settings):
            values = norm_u[setting.id]
            prediction = predictions[setting.id]
            grid = _grid_around(values)
            density = prediction.density_log10("norm_u", grid)
            ax.hist(values, bins=30, density=True, histtype="stepfilled", alpha=0.3, color=colour)
            ax.hist(values, bins=30, density=True, histtype="step", color=colour)
            ax.plot(grid, density, color="0.15", linewidth=1.2,
                    linestyle="-" if prediction.exact else (0, (4, 3)))
            _add_column(columns, setting.id, "run", values)
            _add_column(columns, setting.id, "theory_grid", grid)
            _add_column(columns, setting.id, "theory_density", density)
            ax.set_title(setting.label, fontsize=9.5, color=colour)
            ax.tick_params(labelsize=8)
            ax.set_yticks([])
        fig.supxlabel("log₁₀ ‖M u‖ at the end (u the first basis vector)", fontsize=10)
        files = _render(fig)
    exact = all(predictions[s.id].exact for s in settings)
    runs = len(norm_u[settings[0].id])
    caption = (f"Distribution over {runs} runs of log₁₀ ‖M u‖, the length of one column, against the "
               + ("exact law (solid)." if exact else
                  "theory (solid where the law is exact, dashed where it is an approximation)."))
    return Figure(f"{section.id}-law", f"{section.title}: measured against theory", caption,
                  columns, tuple(s.id for s in settings), files)


def gain_figure(curves: Sequence[GainCurve], points: Sequence[tuple[str, str, float, float]]) -> Figure:
    """Per-step log10 gain against the weight scale: theory curves, measured settings as dots.

    points: (curve label, setting id, scale, measured log10 gain per step)."""
    columns: dict[str, list] = {"curve": [], "kind": [], "scale": [], "log10_gain_per_step": []}
    with matplotlib.rc_context(STYLE):
        fig, ax = _new_figure()
        ax.axhline(0.0, color="0.5", linewidth=0.8)
        colours = {c.label: PALETTE[i % len(PALETTE)] for i, c in enumerate(curves)}
        for curve in curves:
            colour = colours[curve.label]
            ax.plot(curve.scales, curve.gains, color=colour, linewidth=1.6, label=curve.label)
            columns["curve"] += [curve.label] * len(curve.scales)
            columns["kind"] += ["theory"] * len(curve.scales)
            columns["scale"] += _rounded(np.asarray(curve.scales))
            columns["log10_gain_per_step"] += _rounded(np.asarray(curve.gains))
            if curve.critical_scale is not None:
                ax.axvline(curve.critical_scale, color=colour, linestyle=":", linewidth=1.2)
                columns["curve"].append(curve.label)
                columns["kind"].append("critical scale")
                columns["scale"].append(round(curve.critical_scale, 6))
                columns["log10_gain_per_step"].append(0.0)
        for label, setting_id, scale, gain in points:
            ax.plot([scale], [gain], "o", color=colours[label], markersize=5,
                    markeredgecolor="white", markeredgewidth=0.6)
            columns["curve"].append(label)
            columns["kind"].append(f"measured {setting_id}")
            columns["scale"].append(round(scale, 6))
            columns["log10_gain_per_step"].append(round(gain, 6))
        ax.set_xscale("log")
        ax.set_xlabel("weight standard deviation (scale)")
        ax.set_ylabel("log₁₀ gain per factor or layer")
        ax.plot([], [], "o", color="0.3", label="measured settings")
        ax.plot([], [], ":", color="0.3", label="critical scale")
        ax.legend(frameon=False, fontsize=8.5, loc="upper left")
        files = _render(fig)
    caption = ("Typical log₁₀ change of ‖M u‖ per factor or layer, averaged over each setting's "
               "depth, against the weight scale: theory (lines), this build's settings (dots, "
               "median over runs), and each curve's critical scale, where the typical gain is "
               "zero (dotted).")
    return Figure("gain-vs-scale", "Gain per step against the weight scale", caption, columns,
                  tuple(setting_id for _, setting_id, _, _ in points), files)


def _grid_around(values: np.ndarray, points: int = 200) -> np.ndarray:
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.15 * (high - low) + 1e-9
    return np.linspace(low - pad, high + pad, points)


def _colours(settings: Sequence[Setting]) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(settings))]


def _rounded(values: np.ndarray) -> list[float]:
    # Rounded for the data files; 6 decimals of a log10 value is far below any plotted resolution.
    return [round(float(v), 6) for v in values]


def section_figures(section: Section, results: Mapping[str, Result],
                    predictions: Mapping[str, Prediction] | None = None,
                    norm_u: Mapping[str, np.ndarray] | None = None) -> list[Figure]:
    figures = [trajectory_figure(section, results, predictions),
               distribution_figure(section, results, predictions)]
    if predictions and norm_u:
        figures.append(law_figure(section, norm_u, predictions))
    return figures


class FigureCache:
    """Drawn figures on disk, keyed by a hash of what they are drawn from: the section as
    configured, every plotted array, the source of this module and of the theory, and
    matplotlib's version. A template-only change then re-renders pages without redrawing."""

    CODE = hashlib.sha256(b"".join(
        Path(module.__file__).read_bytes() for module in (sys.modules[__name__], _theory))).hexdigest()

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def key(self, kind: str, *parts: object) -> str:
        digest = hashlib.sha256(f"{kind}|{self.CODE}|{matplotlib.__version__}".encode())
        for part in parts:
            _feed(digest, part)
        return digest.hexdigest()

    def get(self, key: str, draw: Callable[[], Figure]) -> Figure:
        folder = self.directory / key
        try:
            meta = json.loads((folder / "figure.json").read_text())
            files = {fmt: (folder / f"figure.{fmt}").read_bytes() for fmt in meta["formats"]}
            return Figure(meta["id"], meta["title"], meta["caption"], meta["columns"],
                          tuple(meta["settings"]), files)
        except (OSError, ValueError, KeyError):
            pass
        figure = draw()
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.directory, prefix=".tmp-"))
        try:
            for fmt, content in figure.files.items():
                (staging / f"figure.{fmt}").write_bytes(content)
            (staging / "figure.json").write_text(json.dumps({
                "id": figure.id, "title": figure.title, "caption": figure.caption,
                "columns": {k: list(v) for k, v in figure.columns.items()},
                "settings": list(figure.settings), "formats": list(figure.files)}))
            os.replace(staging, folder) if not folder.exists() else shutil.rmtree(staging)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
        return figure


def _feed(digest, part: object) -> None:
    """Hash arrays by their bytes and everything else by a canonical text form."""
    if isinstance(part, np.ndarray):
        digest.update(str((part.dtype, part.shape)).encode())
        digest.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(part, (list, tuple)):
        digest.update(b"[")
        for item in part:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(part, Mapping):
        for name in sorted(part):
            digest.update(repr(name).encode())
            _feed(digest, part[name])
    else:
        digest.update(repr(part).encode())


def _section_inputs(section: Section) -> list:
    return [section.id, section.title, section.experiment.name,
            [(s.id, s.label, dict(s.params), s.runs, s.norm_runs, s.lecture_log10,
              s.lecture_averages) for s in section.settings]]


def cached_section_figures(cache: FigureCache | None, section: Section,
                           results: Mapping[str, Result], predictions: Mapping[str, Prediction],
                           norm_u: Mapping[str, np.ndarray]) -> list[Figure]:
    if cache is None:
        return section_figures(section, results, predictions, norm_u)
    spec = _section_inputs(section)
    ids = [s.id for s in section.settings]
    arrays = [[results[i].trajectory, results[i].log10_mean_abs, norm_u[i],
               predictions[i].trajectory_log10_mean_abs] for i in ids]
    return [
        cache.get(cache.key("trajectory", spec, arrays),
                  lambda: trajectory_figure(section, results, predictions)),
        cache.get(cache.key("distribution", spec, arrays),
                  lambda: distribution_figure(section, results, predictions)),
        cache.get(cache.key("law", spec, arrays), lambda: law_figure(section, norm_u, predictions)),
    ]


def cached_gain_figure(cache: FigureCache | None, curves: Sequence[GainCurve],
                       points: Sequence[tuple[str, str, float, float]]) -> Figure:
    if cache is None:
        return gain_figure(curves, points)
    parts = [[(c.label, c.scales, c.gains, c.critical_scale) for c in curves], list(points)]
    return cache.get(cache.key("gain", parts), lambda: gain_figure(curves, points))


def phase_figure(diagram, lecture_points: Sequence[tuple[float, int, str]]) -> Figure:
    """Heatmap of the measured log10 gain per step over (scale, row), with the measured and
    theoretical critical scales, the region within 10^±3 over the whole depth, and the
    lecture's settings."""
    scales = np.array(diagram.scales)
    rows = np.array([r.value for r in diagram.rows], dtype=float)
    limit = float(min(1.0, np.max(np.abs(diagram.gain)))) or 1.0
    with matplotlib.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = _new_figure()
        mesh = ax.pcolormesh(_edges(scales), _edges(rows), diagram.gain, cmap="PuOr_r",
                             vmin=-limit, vmax=limit, shading="flat")
        fig.colorbar(mesh, ax=ax, label="log₁₀ gain per step (measured)")
        stable = np.abs(diagram.total) <= 3.0
        ax.contourf(scales, rows, stable.astype(float), levels=[0.5, 1.5], colors="none",
                    hatches=["///"])
        ax.contour(scales, rows, stable.astype(float), levels=[0.5], colors="0.2", linewidths=0.8)
        theory = [(r.theory_critical, r.value) for r in diagram.rows if r.theory_critical]
        if theory:
            ax.plot(*zip(*theory), color="black", linewidth=1.8, label="theory: critical scale")
        measured = [(r.measured_critical, r.value) for r in diagram.rows if r.measured_critical]
        if measured:
            ax.plot(*zip(*measured), "o", color="white", markeredgecolor="black", markersize=5,
                    label="measured: gain changes sign")
        for scale, row, label in lecture_points:
            ax.plot([scale], [row], marker="X", color="#D55E00", markeredgecolor="white",
                    markersize=8, linestyle="none")
        if lecture_points:
            ax.plot([], [], marker="X", color="#D55E00", linestyle="none", label="the lecture's settings")
        ax.plot([], [], color="0.2", linewidth=0.8, label=r"within $10^{\pm 3}$ over the depth (hatched)")
        ax.set_xscale("log")
        ax.set_yscale("log", base=2)
        ax.set_yticks(rows, [f"{int(v)}" for v in rows])
        ax.set_xlabel("weight standard deviation (scale)")
        ax.set_ylabel(diagram.row_key)
        ax.legend(frameon=True, fontsize=7.5, loc="upper left", framealpha=0.85)
        files = _render(fig)
    columns: dict[str, list] = {diagram.row_key: [], "scale": [], "log10_gain_per_step": [],
                                "theory_log10_gain_per_step": [], "log10_total": []}
    for i, row in enumerate(diagram.rows):
        for j, scale in enumerate(diagram.scales):
            columns[diagram.row_key].append(row.value)
            columns["scale"].append(scale)
            columns["log10_gain_per_step"].append(round(float(diagram.gain[i, j]), 6))
            columns["theory_log10_gain_per_step"].append(round(float(diagram.theory_gain[i, j]), 6))
            columns["log10_total"].append(round(float(diagram.total[i, j]), 6))
    caption = (f"Measured median log₁₀ gain of ‖M u‖ per step over scale and {diagram.row_key}, "
               f"{diagram.sweep.runs} runs per cell; black line: the theory's critical scale; "
               "dots: where the measured gain changes sign; hatched: cells whose gradient stays "
               "within 10^±3 over the whole depth; crosses: the lecture's settings.")
    return Figure(f"phase-{diagram.id}", diagram.sweep.title, caption, columns, (), files)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway (geometrically) between log-spaced centres."""
    logs = np.log(centres)
    middle = (logs[1:] + logs[:-1]) / 2
    first = logs[0] - (middle[0] - logs[0]) if len(logs) > 1 else logs[0] - 0.5
    last = logs[-1] + (logs[-1] - middle[-1]) if len(logs) > 1 else logs[-1] + 0.5
    return np.exp(np.concatenate([[first], middle, [last]]))


def cached_phase_figure(cache: FigureCache | None, diagram, lecture_points) -> Figure:
    if cache is None:
        return phase_figure(diagram, lecture_points)
    parts = [diagram.id, diagram.sweep.title, diagram.row_key, diagram.sweep.runs, list(diagram.scales),
             [(r.value, r.measured_critical, r.theory_critical) for r in diagram.rows],
             diagram.gain, diagram.total, diagram.theory_gain, list(lecture_points)]
    return cache.get(cache.key("phase", parts), lambda: phase_figure(diagram, lecture_points))
