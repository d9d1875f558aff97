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
from ..core.cache import WORDS_ONLY, Store, canonical_json, content_key
from ..report.model import Section
from ..errors import BuildError
from .i18n import _, config_words
from .languages import language as declared_language

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
# The drawings made of each figure, and the looks saved from each: the transparent look has the
# light look's inks and differs only in the background it is saved with, so it is the light
# drawing saved again without one (a figure is drawn twice, not three times).
DRAWINGS = {"light": ("light", "transparent"), "dark": ("dark",)}

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
    # Every tick label says its own value: no offset ("+3.2") or multiplier ("1e−5") beside an
    # axis (tidy() also replaces the formatters that would write one).
    "axes.formatter.useoffset": False,
}


# Scripts the default font (DejaVu Sans) does not cover: the font that draws them, found by its
# file (Debian's fonts-noto-cjk), tried after DejaVu Sans glyph by glyph, and drawn as outlines in
# SVG and embedded in PDF (as a Type 3 font: subsetting the 20 MB collection for Type 42 took
# half a second per figure), so that the figure looks the same on a machine without it.
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


def language_font(language: str) -> Path | None:
    """The font file that draws `language`'s script (None: DejaVu Sans does)."""
    font = declared_language(language).font
    if font is None:
        return None
    name, files = font
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

    name = declared_language(language).font[0]
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
DASHED = (0, (4, 3))  # the theory's lines: a series' own lines are solid
# After the palette's first round of colours, each round adds a marker to the series' lines
# (the first round has none on its lines; its points are dots): every series of a figure differs
# from every other in (colour, dashes, marker), however many there are.
MARKERS = (None, "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*")
POINTS = ("o",) + MARKERS[1:]
MARK_EVERY = 0.1  # a line's markers spaced by a tenth of the axes' diagonal


@dataclass(frozen=True)
class SeriesStyle:
    """How one series of a figure is drawn: its colour and marker, and the keywords of each part
    of it (its line, its theory's line, its points), each with a stable SVG id (`gid`). Every
    kind takes its series' looks from `series_style`, so that no two series of a figure look
    alike."""

    index: int
    colour: str
    marker: str | None  # on its lines (None in the palette's first round)
    point: str  # the marker of its points

    @property
    def gid(self) -> str:
        return f"series-{self.index}"

    def _marks(self, marker: str | None, spaced: bool) -> dict[str, Any]:
        if marker is None:
            return {"marker": "None"}
        return {"marker": marker, "markevery": MARK_EVERY if spaced else None,
                "markersize": 5}

    def line(self, points: bool = False, **extra: Any) -> dict[str, Any]:
        """Its (solid) line; `points`: marked at every data point, not spaced along it."""
        return {"color": self.colour, "linestyle": "-",
                **self._marks(self.point if points else self.marker, not points), "gid": self.gid,
                **extra}

    def theory(self, **extra: Any) -> dict[str, Any]:
        """Its theory's line: dashed, in its colour."""
        return {"color": self.colour, "linestyle": DASHED, **self._marks(self.marker, True),
                "gid": f"{self.gid}-theory", **extra}

    def points(self, **extra: Any) -> dict[str, Any]:
        """Its measured points, unjoined."""
        return {"color": self.colour, "linestyle": "none", "marker": self.point,
                "gid": f"{self.gid}-points", **extra}

    def part(self, name: str) -> str:
        """The SVG id of another part of it (a band, a histogram, a reference line)."""
        return f"{self.gid}-{name}"

    def looks(self) -> list[tuple[str, str, str | None]]:
        """(colour, dashes, marker) of each of its parts."""
        return [(self.colour, "-", self.marker), (self.colour, "dashed", self.marker),
                (self.colour, "none", self.point)]


def series_style(ink: Ink, index: int) -> SeriesStyle:
    """The look of a figure's `index`-th series (0-based) in `ink`: the same in every look of
    the figure (only the palette's colours change)."""
    colours = len(ink.palette)
    round_ = index // colours
    return SeriesStyle(index, ink.palette[index % colours], MARKERS[round_ % len(MARKERS)],
                       POINTS[round_ % len(POINTS)])


def series_styles(ink: Ink, count: int) -> list[SeriesStyle]:
    return [series_style(ink, i) for i in range(count)]


@dataclass(frozen=True)
class FigureData:
    """Everything a figure shows: its numbers as columns, and the facts the drawing needs."""

    id: str
    kind: str  # a registered figure kind (stabreport.render.kinds)
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


def rounded(values: Sequence[float] | np.ndarray) -> list[float]:
    # Rounded for the data files; 6 decimals of a log10 value is far below any plotted resolution.
    return [round(float(v), 6) for v in values]


def add_band(columns: dict[str, list], setting: str, x: str, quantiles: Sequence[np.ndarray]) -> int:
    """Append one setting's 5 %, median and 95 % rows against x = 0, 1, ... to `columns` (keys
    setting, x, q05, median, q95); return how many rows that was."""
    q05, median, q95 = quantiles
    columns["setting"] += [setting] * len(median)
    columns[x] += list(range(len(median)))
    columns["q05"] += rounded(q05)
    columns["median"] += rounded(median)
    columns["q95"] += rounded(q95)
    return len(median)


def labels(section: Section) -> dict[str, str]:
    return {s.id: s.label for s in section.settings}


# --- figure data ---------------------------------------------------------------------------------


def maybe(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def grid_around(values: np.ndarray, points: int = 200) -> np.ndarray:
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.15 * (high - low) + 1e-9
    return np.linspace(low - pad, high + pad, points)


# --- drawing -------------------------------------------------------------------------------------

def plain(text: str) -> str:
    """Config text drawn literally: a '$' never starts mathtext."""
    return str(text).replace("$", r"\$")


def by_setting(data: FigureData, *names: str) -> dict[str, dict[str, list]]:
    out: dict[str, dict[str, list]] = {}
    for i, setting in enumerate(data.columns["setting"]):
        entry = out.setdefault(setting, {n: [] for n in names})
        for name in names:
            entry[name].append(data.columns[name][i])
    return out


def by_kind(data: FigureData) -> dict[str, dict[str, np.ndarray]]:
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


def new_figure():
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(7.0, 3.9), layout="constrained")
    return fig, fig.add_subplot()


def panels(count: int):
    """A figure with one small panel per setting, two or three to a row."""
    from matplotlib.figure import Figure as MplFigure

    ncols = min(count, 2 if count <= 4 else 3)  # panels wide enough for 10-pt ticks
    nrows = -(-count // ncols)
    fig = MplFigure(figsize=(7.0, 2.4 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes


def param_words(key: str) -> str:
    """A parameter's name as an axis or a legend shows it ("branch scale"), in the language
    being drawn (the explorer's words for the same parameter)."""
    return _(str(key).replace("_", " "))


def histograms(data: FigureData, ink: Ink, xlabel: str,
                density_style: Callable[[str], Any]) -> Any:
    fig, axes = panels(len(data.settings))
    kinds = by_kind(data)
    for i, (ax, setting) in enumerate(zip(axes, data.settings)):
        style = series_style(ink, i)
        colour = style.colour
        ax.set_title(plain(config_words(data.meta["labels"][setting])), color=colour)
        ax.set_yticks([])
        values = kinds.get(setting)
        if values is None:
            ax.text(0.5, 0.5, _("every run died"), ha="center", va="center", transform=ax.transAxes)
            continue
        ax.hist(values["run"], bins=30, density=True, histtype="stepfilled", alpha=0.3, color=colour,
                linewidth=0, gid=style.part("fill"))
        ax.hist(values["run"], bins=30, density=True, histtype="step", color=colour, gid=style.gid)
        if "theory_density" in values:
            ax.plot(values["theory_grid"], values["theory_density"], color=ink.strong, linewidth=1.5,
                    linestyle=density_style(setting), gid=style.part("theory"))
        for kind, numbers in values.items():
            if kind.startswith("mean of "):
                ax.plot(numbers, np.zeros_like(numbers), "|", color=ink.strong, markersize=10,
                        markeredgewidth=1.0, clip_on=False, gid=style.part("groups"))
        if "lecture" in values:
            ax.axvline(values["lecture"][0], color=ink.strong, linestyle="--", linewidth=1.5,
                       gid=style.part("lecture"))
        ax.tick_params(labelsize=10)
    fig.supxlabel(xlabel)
    return fig


# --- axes: ticks a reader can read --------------------------------------------------------------

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def number(value: float) -> str:
    """A tick label: the value in plain digits (0.02, 5, 1000), or as m×10ⁿ outside 10⁻⁴…10⁶;
    never an offset or a multiplier to read off elsewhere."""
    import math

    value = float(value)
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else f"{value}"
    size = abs(value)
    if 1e-4 <= size < 1e6:
        places = next((d for d in range(7) if abs(round(value, d) - value) <= 1e-9 * size), 6)
        text = f"{value:.{places}f}"
    else:
        exponent = math.floor(math.log10(size))
        mantissa = round(value / 10 ** exponent, 3)
        if abs(mantissa) >= 10:
            mantissa, exponent = mantissa / 10, exponent + 1
        power = "10" + str(exponent).translate(SUPERSCRIPT)
        text = power if mantissa == 1 else ("−" + power if mantissa == -1
                                            else f"{mantissa:g}×{power}")
    return text.replace("-", "−")


def _plain_formatter():
    from matplotlib.ticker import Formatter

    class Plain(Formatter):
        """Each tick label its own value in plain numbers (see `number`)."""

        def __call__(self, value, pos=None):
            return number(value)

        def format_ticks(self, values):
            return [number(v) for v in values]

    return Plain()


def _values_locator(values: Sequence[float], every: int):
    from matplotlib.ticker import Locator

    class Values(Locator):
        def __call__(self):
            return self.tick_values(*self.axis.get_view_interval())

        def tick_values(self, vmin, vmax):
            return list(values[::every])

    return Values()


def _readable_locator(candidates: Sequence[Any], base: Any):
    """A locator that places the densest of `candidates` (locators, densest first) whose labels,
    as the axis formats them, leave room between them along the axis at its drawn size; `base`
    decides the axis' limits (nonsingular, view_limits) as the axis' default locator would."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path
    from matplotlib.ticker import Locator

    class Readable(Locator):
        def set_axis(self, axis):
            super().set_axis(axis)
            for locator in (base, *candidates):
                locator.set_axis(axis)

        def nonsingular(self, v0, v1):
            return base.nonsingular(v0, v1)

        def view_limits(self, vmin, vmax):
            return base.view_limits(vmin, vmax)

        def __call__(self):
            return self.tick_values(*self.axis.get_view_interval())

        def tick_values(self, vmin, vmax):
            low, high = min(vmin, vmax), max(vmin, vmax)
            fitting = None
            for locator in candidates:
                ticks = list(locator.tick_values(low, high))
                shown = [t for t in ticks if low - 1e-9 * abs(low) <= t <= high + 1e-9 * abs(high)]
                if self._fits(shown, low, high):
                    if len(shown) >= 2:
                        return ticks
                    fitting = ticks if fitting is None else fitting
            return fitting if fitting is not None else list(candidates[-1].tick_values(low, high))

        def _fits(self, ticks, low, high):
            if len(ticks) < 2:
                return True
            axis = self.axis
            horizontal = axis.axis_name == "x"
            scale = axis.get_transform()
            ends = scale.transform([low, high])
            if not (ends[1] - ends[0]) or not all(map(np.isfinite, ends)):
                return True
            figure = axis.axes.get_figure(root=True)
            box = axis.axes.get_position(original=False).transformed(figure.transFigure)
            length = (box.width if horizontal else box.height) * 72 / figure.dpi  # points
            size = axis._major_tick_kw.get("labelsize", None)
            font = FontProperties(size=size if size is not None
                                  else _rc(f"{axis.axis_name}tick.labelsize"))
            points = font.get_size_in_points()
            labels = axis.get_major_formatter().format_ticks(ticks)
            where = sorted((float((scale.transform([t])[0] - ends[0]) / (ends[1] - ends[0]) * length),
                            label) for t, label in zip(ticks, labels))
            extent = (lambda text: text_to_path.get_text_width_height_descent(
                text, font, ismath=False)[0] if text else 0.0) if horizontal else (lambda text: points)
            gap = 0.6 * points if horizontal else 0.3 * points
            sizes = [extent(label) for _, label in where]
            return all(b[0] - a[0] >= (sa + sb) / 2 + gap
                       for (a, sa), (b, sb) in zip(zip(where, sizes), zip(where[1:], sizes[1:])))

    return Readable()


def _rc(name: str) -> Any:
    import matplotlib

    return matplotlib.rcParams[name]


def linear_ticks(axis: Any) -> None:
    """Ticks at round values, as many as the axis' length leaves room for, labelled plainly."""
    from matplotlib.ticker import MaxNLocator

    steps = [1, 2, 2.5, 5, 10]
    axis.set_major_locator(_readable_locator([MaxNLocator(n, steps=steps) for n in range(9, 0, -1)],
                                             MaxNLocator("auto", steps=steps)))
    axis.set_major_formatter(_plain_formatter())


def log_ticks(axis: Any, values: Sequence[float] = ()) -> None:
    """A base-10 log axis labelled in plain numbers: at the data's own values where they are a
    grid of whole numbers (2, 4, 8, 16, 32), else at 1-2-5 or at decades, as densely as the
    labels leave room for; minor ticks unlabelled."""
    from matplotlib.ticker import LogLocator, NullFormatter

    axis.axes.set_xscale("log") if axis.axis_name == "x" else axis.axes.set_yscale("log")
    grid = sorted({float(v) for v in values if v is not None and v > 0})
    whole = bool(grid) and len(grid) <= 30 and all(float(v).is_integer() for v in grid)
    candidates = [_values_locator(grid, k) for k in range(1, len(grid) + 1)] if whole else []
    candidates += [LogLocator(subs=(1.0, 2.0, 5.0), numticks=99), LogLocator(numticks=99)]
    candidates += [LogLocator(numticks=n) for n in range(8, 1, -1)]
    candidates += [LogLocator(subs=tuple(float(s) for s in range(1, 10)), numticks=99)]
    axis.set_major_locator(_readable_locator(candidates, LogLocator()))
    axis.set_major_formatter(_plain_formatter())
    axis.set_minor_formatter(NullFormatter())


def log_x(ax: Any, values: Sequence[float] = ()) -> None:
    """A log x axis labelled in plain numbers (0.1, 1, 10; the data's own `values` where they
    are whole numbers): no superscripts too small for a slide."""
    log_ticks(ax.xaxis, values)


AXIS_LINEAR, AXIS_LOG = "linear", "log"  # matplotlib's names of an axis's scale (not activations)


def tidy(fig: Any) -> Any:
    """The figure style's ticks on every axes of a drawn figure, whatever kind drew it: an axis
    left with matplotlib's default ticks gets ticks as dense as its labels leave room for, at
    its drawn size (small multiples included), every label in plain numbers; no axis gets an
    offset or a multiplier. Ticks a kind placed itself (`set_xticks`, `log_x`) are kept."""
    from matplotlib.ticker import AutoLocator, LogFormatter, LogLocator, NullFormatter, ScalarFormatter

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            locator, formatter = axis.get_major_locator(), axis.get_major_formatter()
            scale = axis.get_scale()
            if scale == AXIS_LINEAR and type(locator) is AutoLocator:
                linear_ticks(axis)
            elif scale == AXIS_LOG and type(locator) is LogLocator and locator._base == 10:
                log_ticks(axis)
            elif type(formatter) is ScalarFormatter or (scale == AXIS_LOG and isinstance(formatter, LogFormatter)):
                axis.set_major_formatter(_plain_formatter())
                if scale == AXIS_LOG:
                    axis.set_minor_formatter(NullFormatter())
    return fig


def log_axis(values: Sequence[float]) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and max(positive) >= 10 * min(positive)


def figure_kind(name: str) -> Any:
    from .kinds import FIGURES

    return FIGURES.get(name)


def draw(data: FigureData, language: str = "en") -> Figure:
    """The figure's files, drawn from its data alone in the language being rendered
    (byte-identical across runs)."""
    import matplotlib

    files: dict[str, bytes] = {}
    for drawing, looks in DRAWINGS.items():
        with matplotlib.rc_context({**STYLE, **_ink_style(INKS[drawing]), **_language_style(language)}):
            fig = tidy(figure_kind(data.kind).draw(data, INKS[drawing]))
            for look in looks:
                saved = {k: v for k, v in _ink_style(INKS[look]).items() if k.startswith("savefig.")}
                formats = [fmt for suffix, (l, fmt) in VARIANTS.items() if l == look]
                with matplotlib.rc_context(saved):
                    drawn = _render(fig, formats)
                files.update({suffix: drawn[fmt] for suffix, (l, fmt) in VARIANTS.items() if l == look})
    return Figure(data, files)


def _figure_key(data: FigureData, language: str, words: str) -> str:
    import matplotlib

    font = language_font(language)
    return content_key("figure", (__name__, figure_kind(data.kind).module, *WORDS_ONLY),
                       {"matplotlib": matplotlib.__version__, "data": data.identity(),
                        "language": language, "words": words,
                        "font": [font.name, font.stat().st_size] if font else None})


def _draw_files(job: tuple[FigureData, str, str]) -> dict[str, bytes]:
    data, language, root = job
    with i18n.speaking(Path(root), language):
        return dict(draw(data, language).files)


def draw_all(store: Store | None, datas: Sequence[FigureData], jobs: int = 1,
             languages: Sequence[str] = ("en",), root: Path = Path("."),
             done: Callable[[str], None] | None = None) -> dict[str, list[Figure]]:
    """Every figure in every one of `languages`, by language and in order, its words from the
    catalogue under `root`: from `store` where the same record was drawn by the same code in the
    same words, the rest drawn on one pool of `jobs` worker processes for all the languages (the
    same bytes as drawn here: a drawing depends on its data, its words and the style alone), the
    slowest kinds first. `done(language)` is called as each figure is ready (found or drawn)."""
    done = done or (lambda language: None)
    jobs_of = [(language, i) for language in languages for i in range(len(datas))]
    keys: dict[tuple[str, int], str | None] = {}
    for language in languages:
        words = i18n.catalogue_digest(root, language)
        for i, data in enumerate(datas):
            keys[language, i] = _figure_key(data, language, words) if store is not None else None
    files: dict[tuple[str, int], Mapping[str, bytes]] = {}
    for job in jobs_of:
        parts = store.get(keys[job]) if keys[job] is not None else None
        if parts is not None and set(parts) == set(VARIANTS):
            files[job] = parts
            done(job[0])
    missing = sorted((job for job in jobs_of if job not in files),
                     key=lambda job: (-figure_kind(datas[job[1]].kind).cost, job[1], job[0]))
    work = [(datas[i], language, str(root)) for language, i in missing]
    if jobs > 1 and len(missing) > 1:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        from ..core.processes import die_with_parent

        context = multiprocessing.get_context("spawn")  # as the experiments' workers
        with ProcessPoolExecutor(max_workers=min(jobs, len(missing)), mp_context=context,
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            for job, drawn in zip(missing, pool.map(_draw_files, work)):
                files[job] = drawn
                done(job[0])
    else:
        for job, item in zip(missing, work):
            files[job] = _draw_files(item)
            done(job[0])
    for job in missing:
        if keys[job] is not None:
            store.put(keys[job], dict(files[job]))
    return {language: [Figure(d, files[language, i]) for i, d in enumerate(datas)]
            for language in languages}


def data_json(data: FigureData, title: str, caption: str, settings: Mapping[str, Any]) -> bytes:
    """The JSON download: the columns, the caption, and the parameters of every setting shown."""
    payload = {"figure": data.id, "title": title, "caption": caption, "settings": settings,
               "columns": {n: list(v) for n, v in data.columns.items()}}
    return (json.dumps(payload, indent=1, allow_nan=False) + "\n").encode()
