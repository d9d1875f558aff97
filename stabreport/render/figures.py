"""Figures: their data from results, and matplotlib drawings from that data alone.

A figure is first a `FigureData`: every plotted number as columns (the CSV download, and what
`stabreport figure <id>` prints) plus a few facts for the drawing and the caption (the settings'
labels, which laws are exact, ...). It is then drawn from that record only, so the picture shows
exactly the downloadable numbers, and the drawing is cached by a hash of the record and of the
drawing code. Titles, captions and alt text are prose: templates write them from the same record.
Figures never run experiments.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import i18n
from ..core.cache import WORDS_ONLY, Store, canonical_json, code_digest, content_key
from ..report.model import Section
from ..errors import BuildError
from .i18n import _
from .phase import STABLE_DECADES

@dataclass(frozen=True)
class Ink:
    """The colours of one look of the figures: a palette for the settings, and the neutral inks
    for text, reference lines and marker edges."""

    palette: tuple[str, ...]
    strong: str  # theory lines, reference marks: near the text colour
    muted: str  # zero lines, legend proxies, contours
    paper: str  # the background; marker edges that must stand out from the data
    background: str | None  # the saved background colour; None: transparent


# Okabe & Ito's colour-blind-safe palette, each setting in the same colour in every look. On white
# the yellow is left out (too faint); on the dark background the first setting's blue becomes sky
# blue, the sixth's sky blue becomes yellow and black becomes white: dark ones would not show.
LIGHT = Ink(("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"),
            strong="#262626", muted="#595959", paper="white", background="white")
DARK = Ink(("#56B4E9", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#F0E442", "#FFFFFF"),
           strong="#E6E6E6", muted="#A6A6A6", paper="#1E2029", background="#1E2029")
TRANSPARENT = Ink(LIGHT.palette, LIGHT.strong, LIGHT.muted, "white", background=None)
PALETTE = LIGHT.palette
INKS = {"light": LIGHT, "dark": DARK, "transparent": TRANSPARENT}

# Sized for a 16:9 slide as much as for the page: 7 × 3.9 in, nothing smaller than 10 pt.
STYLE = {
    "svg.hashsalt": "stabreport",  # stable clip-path ids, hence identical SVG bytes
    "svg.fonttype": "none",  # text stays text: searchable, selectable, small
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "lines.linewidth": 2.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


# Scripts the default font (DejaVu Sans) does not cover: the font that draws them, found by its
# file (Debian's fonts-noto-cjk), tried after DejaVu Sans glyph by glyph, and drawn as outlines in
# SVG and embedded in PDF (as a Type 3 font: subsetting the 20 MB collection for Type 42 took
# half a second per figure), so that the figure looks the same on a machine without it.
LANGUAGE_FONTS = {
    "zh": ("Noto Sans CJK SC", ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf")),
    "ja": ("Noto Sans CJK JP", ("NotoSansCJK-Regular.ttc", "NotoSansCJKjp-Regular.otf")),
    "ko": ("Noto Sans CJK KR", ("NotoSansCJK-Regular.ttc", "NotoSansCJKkr-Regular.otf")),
}
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


def language_font(language: str) -> Path | None:
    """The font file that draws `language`'s script (None: DejaVu Sans does)."""
    if language not in LANGUAGE_FONTS:
        return None
    name, files = LANGUAGE_FONTS[language]
    for folder in FONT_FOLDERS:
        for file in files:
            found = sorted(Path(folder).expanduser().rglob(file)) if Path(folder).expanduser().is_dir() else []
            if found:
                return found[0]
    raise BuildError(f"the {language} figures need the font {name} ({' or '.join(files)}), which is "
                     f"not installed; install Debian's fonts-noto-cjk (make docs does), or "
                     f"leave {language} out of `languages`")


def _language_style(language: str) -> dict[str, Any]:
    font = language_font(language)
    if font is None:
        return {}
    from matplotlib import font_manager

    name = LANGUAGE_FONTS[language][0]
    if name not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(font))
    # A list of families: matplotlib falls back glyph by glyph along it.
    return {"font.family": ["DejaVu Sans", name], "svg.fonttype": "path", "pdf.fonttype": 3}


def _ink_style(ink: Ink) -> dict[str, Any]:
    text = ink.strong
    paper = ink.background or "none"
    return {"text.color": text, "axes.labelcolor": text, "axes.edgecolor": ink.muted,
            "xtick.color": text, "ytick.color": text, "grid.color": ink.muted,
            "figure.facecolor": paper, "axes.facecolor": paper, "savefig.facecolor": paper,
            "savefig.transparent": ink.background is None, "legend.labelcolor": text,
            "legend.facecolor": ink.paper, "legend.edgecolor": ink.muted}


# Every file of a figure: its name's suffix -> (look, format). The light look is the page's; the
# dark one is shown in the site's dark scheme and fits a dark slide; the transparent PNG goes on
# a slide of any light colour.
FORMATS = ("svg", "png", "pdf")  # the light look's downloads, in the order the pages list them
VARIANTS = {".svg": ("light", "svg"), ".png": ("light", "png"), ".pdf": ("light", "pdf"),
            "-dark.svg": ("dark", "svg"), "-dark.png": ("dark", "png"),
            "-transparent.png": ("transparent", "png")}
SAVE = {  # format -> savefig keywords with the metadata that would differ between runs removed
    "svg": {"metadata": {"Date": None}},
    "png": {"metadata": {"Software": None}, "dpi": 300},
    "pdf": {"metadata": {"CreationDate": None, "ModDate": None}},
}
DASHED = (0, (4, 3))


@dataclass(frozen=True)
class FigureData:
    """Everything a figure shows: its numbers as columns, and the facts the drawing needs."""

    id: str
    kind: str  # trajectory, distribution, law, gain or phase
    page: str  # the page it appears on
    settings: tuple[str, ...]  # ids of the settings whose results it shows
    columns: Mapping[str, Sequence[Any]]  # every plotted number, one list per column
    meta: Mapping[str, Any] = field(default_factory=dict)  # JSON-able facts: labels, flags

    def csv(self) -> bytes:
        names = list(self.columns)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(zip(*(self.columns[n] for n in names)))
        return text.getvalue().encode()

    def identity(self) -> str:
        """A canonical text of the record: what its drawing is cached by."""
        return canonical_json({"id": self.id, "kind": self.kind, "page": self.page,
                               "settings": list(self.settings),
                               "columns": {k: list(v) for k, v in self.columns.items()},
                               "meta": self.meta})


@dataclass(frozen=True)
class Figure:
    data: FigureData
    files: Mapping[str, bytes] = field(repr=False)  # file-name suffix (".svg", "-dark.png") -> bytes

    @property
    def id(self) -> str:
        return self.data.id


def _rounded(values: Sequence[float] | np.ndarray) -> list[float]:
    # Rounded for the data files; 6 decimals of a log10 value is far below any plotted resolution.
    return [round(float(v), 6) for v in values]


def _labels(section: Section) -> dict[str, str]:
    return {s.id: s.label for s in section.settings}


# --- figure data ---------------------------------------------------------------------------------

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
        q05, median, q95 = results[setting.id].trajectory_quantiles()
        columns["setting"] += [setting.id] * len(median)
        columns["step"] += list(range(len(median)))
        columns["q05"] += _rounded(q05)
        columns["median"] += _rounded(median)
        columns["q95"] += _rounded(q95)
        if has_theory:
            columns["theory"] += _rounded(predictions[setting.id].trajectory_log10_mean_abs)
    return FigureData(f"{section.id}-trajectory", "trajectory", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": _labels(section), "step_label": section.experiment.step_label,
                       "runs": section.settings[0].runs, "theory": has_theory})


def distribution_data(section: Section, results: Mapping[str, Any],
                      predictions: Mapping[str, Any]) -> FigureData:
    """Per setting: the final per-run log10 mean|M_ij|, a theory density where the theory has
    one, the lecture's statistic once per group of runs, and the lecture's printed value."""
    columns: dict[str, list] = {"setting": [], "kind": [], "log10_value": []}

    def add(setting_id: str, kind: str, values: Sequence[float] | np.ndarray) -> None:
        columns["setting"] += [setting_id] * len(values)
        columns["kind"] += [kind] * len(values)
        columns["log10_value"] += _rounded(values)

    density = False
    for setting in section.settings:
        values = results[setting.id].log10_mean_abs
        if len(values) == 0:
            continue
        add(setting.id, "run", values)
        prediction = predictions.get(setting.id)
        if prediction is not None and prediction.mean_abs_law is not None:
            grid = _grid_around(values)
            add(setting.id, "theory_grid", grid)
            add(setting.id, "theory_density", prediction.density_log10("mean_abs", grid))
            density = True
        if setting.lecture_averages > 1:
            add(setting.id, f"mean of {setting.lecture_averages} runs",
                results[setting.id].grouped_log10_of_mean(setting.lecture_averages))
        if setting.lecture_log10 is not None:
            add(setting.id, "lecture", [setting.lecture_log10])
    return FigureData(f"{section.id}-distribution", "distribution", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": _labels(section), "density": density,  # what is drawn only:
                       "averages": max((int(k.split()[2]) for k in columns["kind"]
                                        if k.startswith("mean of ")), default=1),
                       "lecture": "lecture" in columns["kind"]})


def law_data(section: Section, norm_u: Mapping[str, np.ndarray],
             predictions: Mapping[str, Any]) -> FigureData:
    """Per setting: the per-run log10 ‖M u‖ against the theory's density for it."""
    columns: dict[str, list] = {"setting": [], "kind": [], "log10_value": []}
    for setting in section.settings:
        values = norm_u[setting.id]
        if len(values) == 0:
            continue
        grid = _grid_around(values)
        for kind, numbers in (("run", values), ("theory_grid", grid),
                              ("theory_density", predictions[setting.id].density_log10("norm_u", grid))):
            columns["setting"] += [setting.id] * len(numbers)
            columns["kind"] += [kind] * len(numbers)
            columns["log10_value"] += _rounded(numbers)
    return FigureData(f"{section.id}-law", "law", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": _labels(section), "runs": max(len(v) for v in norm_u.values()),
                       "exact": {s.id: bool(predictions[s.id].exact) for s in section.settings}})


def gain_data(curves: Sequence[Any], points: Sequence[tuple[str, str, float, float]],
              page: str) -> FigureData:
    """Per-step log10 gain against the weight scale: theory curves, each curve's critical scale,
    and the measured settings. points: (curve label, setting id, scale, measured gain)."""
    columns: dict[str, list] = {"curve": [], "kind": [], "scale": [], "log10_gain_per_step": []}
    for curve in curves:
        columns["curve"] += [curve.label] * len(curve.scales)
        columns["kind"] += ["theory"] * len(curve.scales)
        columns["scale"] += _rounded(curve.scales)
        columns["log10_gain_per_step"] += _rounded(curve.gains)
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
    rows = [{"value": r.value, "measured_critical": _maybe(r.measured_critical),
             "theory_critical": _maybe(r.theory_critical)} for r in diagram.rows]
    return FigureData(f"phase-{diagram.id}", "phase", diagram.sweep.page, (), columns,
                      {"row_key": diagram.row_key, "runs": diagram.sweep.runs, "rows": rows,
                       "stable_decades": STABLE_DECADES,
                       "lecture": [[s, r, label] for s, r, label in lecture_points]})


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
            columns["log10_sv"] += _rounded(centres)
            columns["density"] += _rounded(density)
        quantiles[setting.id] = [_maybe(float(np.median(result.metrics[f"log10_sv_q{q}"])))
                                 if result.alive and f"log10_sv_q{q}" in result.metrics else None
                                 for q in (10, 50, 90)]
    return FigureData(f"{section.id}-spectrum", "spectrum", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": _labels(section), "quantiles": quantiles,
                       "runs": section.settings[0].runs, "width": section.experiment.width(
                           section.settings[0].params)})


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
            columns[name].append(_maybe(getattr(cell, name)) if getattr(cell, name) is not None else "")
        columns["theory"].append(_maybe(cell.theory_median) if cell.theory_median is not None else "")
        columns["dead_fraction"].append(round(cell.dead_fraction, 6))
    labels = {c.id or sweep.id: c.label or sweep.title for c in sweep.curves}
    return FigureData(f"depth-{sweep.id}", "depth", sweep.page, (), columns,
                      {"axis": axis, "labels": labels, "runs": sweep.runs,
                       "theory": any(c.theory_median is not None for c in cells)})


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


def findings(data: FigureData) -> dict[str, Any]:
    """What a figure shows, in the few numbers its alt text states (read from its record alone):
    per setting or curve, where it ends; per row of a phase diagram, its critical scales."""
    meta, columns = data.meta, data.columns
    if data.kind == "trajectory":
        ends = {}
        for setting, step, median in zip(columns["setting"], columns["step"], columns["median"]):
            ends[setting] = (step, median)  # the last row of a setting is its last step
        return {"ends": [[_(meta["labels"][s]), ends[s][1], ends[s][0]] for s in data.settings
                         if s in ends]}
    if data.kind in ("distribution", "law"):
        kinds = _by_kind(data)
        return {"spreads": [[_(meta["labels"][s]), *(float(np.quantile(kinds[s]["run"], q))
                                                      for q in (0.5, 0.05, 0.95))]
                            for s in data.settings if s in kinds and "run" in kinds[s]]}
    if data.kind == "spectrum":
        return {"spreads": [[_(meta["labels"][s]), *(meta["quantiles"][s][i] for i in (1, 0, 2))]
                            for s in data.settings if meta["quantiles"][s][1] is not None]}
    if data.kind == "gain":
        rows = zip(columns["curve"], columns["kind"], columns["scale"])
        return {"critical": [[_curve_label(meta, curve), scale] for curve, kind, scale in rows
                             if kind == "critical scale"]}
    if data.kind == "phase":
        return {"rows": [[r["value"], r["measured_critical"], r["theory_critical"]]
                         for r in meta["rows"]]}
    if data.kind == "depth":
        axis, ends = meta["axis"], {}
        for series, x, median in zip(columns["series"], columns[axis], columns["median"]):
            if median != "" and (series not in ends or x >= ends[series][0]):
                ends[series] = (x, median)
        return {"ends": [[_(meta["labels"].get(s, s)), x, m] for s, (x, m) in ends.items()]}
    if data.kind == "dead":
        rows, across, out = meta["rows"], meta["across"], {}
        for row, x, share in zip(columns[rows], columns[across], columns["dead_fraction"]):
            out.setdefault(row, []).append((x, share))
        return {"rows": [[row, points[0][0], points[0][1], points[-1][0], points[-1][1]]
                         for row, points in out.items()]}
    return {}


def _maybe(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _grid_around(values: np.ndarray, points: int = 200) -> np.ndarray:
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.15 * (high - low) + 1e-9
    return np.linspace(low - pad, high + pad, points)


# --- drawing -------------------------------------------------------------------------------------

def _plain(text: str) -> str:
    """Config text drawn literally: a '$' never starts mathtext."""
    return str(text).replace("$", r"\$")


def _curve_label(meta: Mapping[str, Any], label: str) -> str:
    """A gain curve's label ("mlp, relu, width 100, depth 50") in the language being drawn: its
    experiment's words for its parameters (the label itself in English, or where the experiment
    is not known)."""
    families = dict(zip(meta.get("curves", ()), meta.get("families", ())))
    if i18n.current() == i18n.SOURCE or label not in families:
        return label
    from ..errors import StabreportError
    from ..experiments import get_experiment

    name, family = families[label]
    try:
        return _("%(experiment)s, %(setting)s") % {"experiment": name,
                                                   "setting": get_experiment(name).words(family)}
    except (StabreportError, KeyError):
        return label


def _by_setting(data: FigureData, *names: str) -> dict[str, dict[str, list]]:
    out: dict[str, dict[str, list]] = {}
    for i, setting in enumerate(data.columns["setting"]):
        entry = out.setdefault(setting, {n: [] for n in names})
        for name in names:
            entry[name].append(data.columns[name][i])
    return out


def _by_kind(data: FigureData) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, list]] = {}
    for setting, kind, value in zip(data.columns["setting"], data.columns["kind"],
                                    data.columns["log10_value"]):
        out.setdefault(setting, {}).setdefault(kind, []).append(value)
    return {s: {k: np.array(v) for k, v in kinds.items()} for s, kinds in out.items()}


def _render(fig: Any, formats: Sequence[str]) -> dict[str, bytes]:
    out = {}
    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, **SAVE[fmt])  # constrained layout already fits
        out[fmt] = buffer.getvalue()
    return out


def _new_figure():
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(7.0, 3.9), layout="constrained")
    return fig, fig.add_subplot()


def _panels(count: int):
    """A figure with one small panel per setting, two or three to a row."""
    from matplotlib.figure import Figure as MplFigure

    ncols = min(count, 2 if count <= 4 else 3)  # panels wide enough for 10-pt ticks
    nrows = -(-count // ncols)
    fig = MplFigure(figsize=(7.0, 2.4 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes


def draw_trajectory(data: FigureData, ink: Ink) -> Any:
    fig, ax = _new_figure()
    series = _by_setting(data, "step", "q05", "median", "q95",
                         *(["theory"] if data.meta["theory"] else []))
    for i, setting in enumerate(data.settings):
        colour = ink.palette[i % len(ink.palette)]
        s = series.get(setting)
        if s is None:  # every run died
            continue
        ax.fill_between(s["step"], s["q05"], s["q95"], color=colour, alpha=0.2, linewidth=0)
        ax.plot(s["step"], s["median"], color=colour, linewidth=2.2,
                label=_plain(_(data.meta["labels"][setting])))
        if data.meta["theory"]:
            ax.plot(s["step"], s["theory"], color=colour, linewidth=1.5, linestyle=DASHED)
    # "layers applied": the plural as the English figure has always written it (the experiments
    # declare it for translation as their step_plural)
    ax.set_xlabel(_("%(steps)s applied") % {"steps": _(f"{data.meta['step_label']}s")})
    ax.set_ylabel(_("log₁₀ mean |entry|"))
    if data.meta["theory"]:
        ax.plot([], [], color=ink.muted, linestyle=DASHED, label=_("theory"))
    ax.legend(frameon=False, loc="best")
    return fig


def _histograms(data: FigureData, ink: Ink, xlabel: str,
                density_style: Callable[[str], Any]) -> Any:
    fig, axes = _panels(len(data.settings))
    kinds = _by_kind(data)
    for i, (ax, setting) in enumerate(zip(axes, data.settings)):
        colour = ink.palette[i % len(ink.palette)]
        ax.set_title(_plain(_(data.meta["labels"][setting])), color=colour)
        ax.set_yticks([])
        values = kinds.get(setting)
        if values is None:
            ax.text(0.5, 0.5, _("every run died"), ha="center", va="center", transform=ax.transAxes)
            continue
        ax.hist(values["run"], bins=30, density=True, histtype="stepfilled", alpha=0.3, color=colour)
        ax.hist(values["run"], bins=30, density=True, histtype="step", color=colour)
        if "theory_density" in values:
            ax.plot(values["theory_grid"], values["theory_density"], color=ink.strong, linewidth=1.5,
                    linestyle=density_style(setting))
        for kind, numbers in values.items():
            if kind.startswith("mean of "):
                ax.plot(numbers, np.zeros_like(numbers), "|", color=ink.strong, markersize=10,
                        markeredgewidth=1.0, clip_on=False)
        if "lecture" in values:
            ax.axvline(values["lecture"][0], color=ink.strong, linestyle="--", linewidth=1.5)
        ax.tick_params(labelsize=10)
    fig.supxlabel(xlabel)
    return fig


def draw_distribution(data: FigureData, ink: Ink) -> Any:
    return _histograms(data, ink, _("log₁₀ mean |entry| at the end"), lambda setting: "-")


def draw_law(data: FigureData, ink: Ink) -> Any:
    return _histograms(data, ink, _("log₁₀ ‖M u‖ at the end (u the first basis vector)"),
                       lambda setting: "-" if data.meta["exact"][setting] else DASHED)


def draw_gain(data: FigureData, ink: Ink) -> Any:
    fig, ax = _new_figure()
    ax.axhline(0.0, color=ink.muted, linewidth=0.8)
    colours = {label: ink.palette[i % len(ink.palette)] for i, label in enumerate(data.meta["curves"])}
    rows = list(zip(data.columns["curve"], data.columns["kind"], data.columns["scale"],
                    data.columns["log10_gain_per_step"]))
    for label, colour in colours.items():
        theory = [(s, g) for c, k, s, g in rows if c == label and k == "theory"]
        ax.plot(*zip(*theory), color=colour, linewidth=2.0,
                label=_plain(_curve_label(data.meta, label)))
        for c, k, s, g in rows:
            if c == label and k == "critical scale":
                ax.axvline(s, color=colour, linestyle=":", linewidth=1.6)
            elif c == label and k.startswith("measured "):
                ax.plot([s], [g], "o", color=colour, markersize=5, markeredgecolor=ink.paper,
                        markeredgewidth=0.6)
    _log_x(ax)
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


def _log_x(ax: Any) -> None:
    """A log x axis labelled in plain numbers (0.1, 1, 10): no superscripts too small for a slide."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


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
    fig, ax = _new_figure()
    ax.grid(False)
    mesh = ax.pcolormesh(_edges(scales), _edges(rows), gain, cmap="PuOr_r", vmin=-limit,
                         vmax=limit, shading="flat")
    fig.colorbar(mesh, ax=ax, label=_("log₁₀ gain per step (measured)"))
    stable = (np.abs(total) <= data.meta["stable_decades"]).astype(float)
    ax.contourf(scales, rows, stable, levels=[0.5, 1.5], colors="none", hatches=["///"])
    ax.contour(scales, rows, stable, levels=[0.5], colors=ink.muted, linewidths=0.8)
    theory = [(r["theory_critical"], r["value"]) for r in data.meta["rows"] if r["theory_critical"]]
    if theory:
        ax.plot(*zip(*theory), color=ink.strong, linewidth=2.0, label=_("theory: critical scale"))
    measured = [(r["measured_critical"], r["value"]) for r in data.meta["rows"] if r["measured_critical"]]
    if measured:
        ax.plot(*zip(*measured), "o", color=ink.paper, markeredgecolor=ink.strong, markersize=6,
                label=_("measured: gain changes sign"))
    for scale, row, _label in data.meta["lecture"]:
        ax.plot([scale], [row], marker="X", color="#D55E00", markeredgecolor=ink.paper,
                markersize=8, linestyle="none")
    if data.meta["lecture"]:
        ax.plot([], [], marker="X", color="#D55E00", linestyle="none",
                label=_("the lecture's settings"))
    ax.plot([], [], color=ink.muted, linewidth=0.8,
            label=_("within %(decades)s orders of magnitude over the depth (hatched)")
            % {"decades": f"{data.meta['stable_decades']:g}"})
    _log_x(ax)
    ax.set_yscale("log", base=2)
    ax.set_yticks(rows, [f"{int(v)}" for v in rows])
    ax.yaxis.set_minor_formatter("")  # the rows' own labels only
    ax.set_xlabel(_("weight standard deviation (scale)"))
    ax.set_ylabel(row_key)
    fig.legend(frameon=False, loc="outside lower center", ncols=2)  # outside the data
    return fig


def draw_spectrum(data: FigureData, ink: Ink) -> Any:
    fig, axes = _panels(len(data.settings))
    series = _by_setting(data, "log10_sv", "density")
    for i, (ax, setting) in enumerate(zip(axes, data.settings)):
        colour = ink.palette[i % len(ink.palette)]
        s = series.get(setting)
        if s:
            step = (s["log10_sv"][1] - s["log10_sv"][0]) if len(s["log10_sv"]) > 1 else 1.0
            ax.bar(s["log10_sv"], s["density"], width=step, color=colour, alpha=0.35, linewidth=0)
            ax.step(s["log10_sv"], s["density"], where="mid", color=colour, linewidth=1.5)
        for value, style in zip(data.meta["quantiles"][setting], (":", "-", ":")):
            if value is not None:
                ax.axvline(value, color=ink.strong, linestyle=style, linewidth=1.4)
        ax.set_title(_plain(_(data.meta["labels"][setting])), color=colour)
        ax.tick_params(labelsize=10)
        ax.set_yticks([])
    fig.supxlabel(_("log₁₀ singular value of M (every run, nonzero values)"))
    return fig


def _log_axis(values: Sequence[float]) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and max(positive) >= 10 * min(positive)


def draw_depth(data: FigureData, ink: Ink) -> Any:
    fig, ax = _new_figure()
    axis = data.meta["axis"]
    rows = list(zip(data.columns["series"], data.columns[axis], data.columns["q05"],
                    data.columns["median"], data.columns["q95"], data.columns["theory"]))
    ax.axhline(0.0, color=ink.muted, linewidth=0.8)
    for i, (series, label) in enumerate(data.meta["labels"].items()):
        colour = ink.palette[i % len(ink.palette)]
        own = [r for r in rows if r[0] == series and r[3] != ""]
        if not own:
            continue
        x = [r[1] for r in own]
        ax.fill_between(x, [r[2] for r in own], [r[4] for r in own], color=colour, alpha=0.18,
                        linewidth=0)
        ax.plot(x, [r[3] for r in own], "o-", color=colour, linewidth=2.0, markersize=4.5,
                label=_plain(_(label)))
        theory = [(r[1], r[5]) for r in own if r[5] != ""]
        if theory:
            ax.plot(*zip(*theory), color=colour, linewidth=1.5, linestyle=DASHED)
    if _log_axis(data.columns[axis]):
        _log_x(ax)
    ax.set_xlabel(axis)
    ax.set_ylabel(_("log₁₀ ‖M u‖ at the end"))
    if any(value != "" for value in data.columns["theory"]):
        ax.plot([], [], color=ink.muted, linestyle=DASHED, label=_("theory"))
    ax.legend(frameon=False, loc="best")
    return fig


def draw_dead(data: FigureData, ink: Ink) -> Any:
    fig, ax = _new_figure()
    across, rows = data.meta["across"], data.meta["rows"]
    table = list(zip(data.columns[rows], data.columns[across], data.columns["dead_fraction"],
                     data.columns["standard_error"], data.columns["theory"]))
    for i, row in enumerate(sorted(set(data.columns[rows]))):
        colour = ink.palette[i % len(ink.palette)]
        own = [t for t in table if t[0] == row]
        x = [t[1] for t in own]
        ax.errorbar(x, [t[2] for t in own], yerr=[2 * t[3] for t in own], fmt="o", color=colour,
                    markersize=5, capsize=2, linewidth=1.4, label=f"{rows} {row}")
        theory = [(t[1], t[4]) for t in own if t[4] != ""]
        if theory:
            ax.plot(*zip(*theory), color=colour, linewidth=1.6)
    if _log_axis(data.columns[across]):
        _log_x(ax)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(across)
    ax.set_ylabel(_("share of runs that died"))
    ax.plot([], [], color=ink.muted, label=_("exact law"))
    ax.legend(frameon=False, loc="best", ncols=2)
    return fig


DRAW: dict[str, Callable[[FigureData], Any]] = {
    "trajectory": draw_trajectory, "distribution": draw_distribution, "law": draw_law,
    "spectrum": draw_spectrum, "gain": draw_gain, "phase": draw_phase, "depth": draw_depth,
    "dead": draw_dead,
}


def draw(data: FigureData, language: str = "en") -> Figure:
    """The figure's files, drawn from its data alone in the language being rendered
    (byte-identical across runs)."""
    import matplotlib

    files: dict[str, bytes] = {}
    for look, ink in INKS.items():
        formats = [fmt for suffix, (l, fmt) in VARIANTS.items() if l == look]
        with matplotlib.rc_context({**STYLE, **_ink_style(ink), **_language_style(language)}):
            drawn = _render(DRAW[data.kind](data, ink), formats)
        files.update({suffix: drawn[fmt] for suffix, (l, fmt) in VARIANTS.items() if l == look})
    return Figure(data, files)


def _figure_key(data: FigureData, language: str, words: str) -> str:
    import matplotlib

    font = language_font(language)
    return content_key("figure", {"code": code_digest(__name__, *WORDS_ONLY), "matplotlib": matplotlib.__version__,
                                  "data": data.identity(), "language": language, "words": words,
                                  "font": [font.name, font.stat().st_size] if font else None})


def _draw_files(job: tuple[FigureData, str, str]) -> dict[str, bytes]:
    data, language, root = job
    with i18n.speaking(Path(root), language):
        return dict(draw(data, language).files)


def draw_all(store: Store | None, datas: Sequence[FigureData], jobs: int = 1,
             language: str = "en", root: Path = Path(".")) -> list[Figure]:
    """Every figure, in order, its words in `language` (from the catalogue under `root`): from
    `store` where the same record was drawn by the same code in the same words, the rest drawn
    on `jobs` worker processes (the same bytes as drawn here: a drawing depends on its data, its
    words and the style alone), the slowest kinds first."""
    words = i18n.catalogue_digest(root, language)
    keys = [_figure_key(d, language, words) for d in datas] if store is not None else [None] * len(datas)
    files: list[Mapping[str, bytes] | None] = [None] * len(datas)
    for i, key in enumerate(keys):
        parts = store.get(key) if key is not None else None
        if parts is not None and set(parts) == set(VARIANTS):
            files[i] = parts
    missing = sorted((i for i, f in enumerate(files) if f is None),
                     key=lambda i: (datas[i].kind != "phase", i))
    if jobs > 1 and len(missing) > 1:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        from ..core.processes import die_with_parent

        context = multiprocessing.get_context("spawn")  # as the experiments' workers
        with ProcessPoolExecutor(max_workers=min(jobs, len(missing)), mp_context=context,
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            for i, drawn in zip(missing, pool.map(_draw_files, [(datas[i], language, str(root))
                                                                 for i in missing])):
                files[i] = drawn
    else:
        for i in missing:
            files[i] = _draw_files((datas[i], language, str(root)))
    for i in missing:
        if keys[i] is not None:
            store.put(keys[i], dict(files[i]))
    return [Figure(d, f) for d, f in zip(datas, files)]


def data_json(data: FigureData, title: str, caption: str, settings: Mapping[str, Any]) -> bytes:
    """The JSON download: the columns, the caption, and the parameters of every setting shown."""
    payload = {"figure": data.id, "title": title, "caption": caption, "settings": settings,
               "columns": {n: list(v) for n, v in data.columns.items()}}
    return (json.dumps(payload, indent=1, allow_nan=False) + "\n").encode()
