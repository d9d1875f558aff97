"""Gain per step against the weight scale: the theory's curves, their critical scales and
the measured settings."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, param_words, plain,
                       rounded, series_style)
from ..i18n import _, N_  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest
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


def _curve_words(meta: Mapping[str, Any], label: str, formula: bool = False) -> tuple[str, str]:
    """A gain curve in the language being drawn, in its experiment's declared words: (the
    experiment's title, the curve's setting in words). With `formula`, the activation's name is
    followed by the formula the experiment introduces it with, in Unicode ("scaled sigmoid
    4σ(x) − 2": mathtext has no glyphs of other scripts). ("", the label) where the experiment is
    not known."""
    families = dict(zip(meta.get("curves", ()), meta.get("families", ())))
    if label not in families:
        return "", label
    from ...errors import StabreportError
    from ...experiments import get_experiment

    name, family = families[label]
    try:
        experiment = get_experiment(name)
        words = experiment.words(family)
    except (StabreportError, LookupError):
        return "", label
    facts = experiment.introduce(family) if formula and experiment.introduce else {}
    named, maths = str(facts.get("activation") or ""), unicode_formula(str(facts.get("formula") or ""))
    if named and len(maths) > 1 and named not in maths and named in words:  # not "tanh tanh x"
        words = words.replace(named, f"{named} {maths}", 1)
    return _(experiment.title), words


# LaTeX of the activations' formulas, in Unicode: the commands they use, and the characters a
# superscript may hold.
_COMMANDS = {r"\,": "", r"\;": " ", r"\!": "", r"\quad": " ", r"\cdot": "·", r"\times": "×",
             **{rf"\{name}": name for name in ("max", "min", "tanh", "sinh", "cosh", "exp", "log",
                                                "ln", "sin", "cos", "sign")},
             **{rf"\{name}": letter for name, letter in zip(
                 ("alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "pi", "rho",
                  "sigma", "tau", "phi", "psi", "omega", "Phi", "Sigma"), "αβγδελμπρστφψωΦΣ")}}
_RAISED = dict(zip("0123456789+-=()nixa", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣᵃ"))


def unicode_formula(latex: str) -> str:
    """A formula's LaTeX (as an activation declares it) in plain Unicode text ("4\\,\\sigma(x)
    - 2" -> "4σ(x) − 2"); "" where it uses more than this knows."""
    import re

    text = latex
    for command in sorted(_COMMANDS, key=len, reverse=True):
        word = r"(?![A-Za-z])" if command[-1].isalpha() else ""  # a name ends before a letter
        text = re.sub(re.escape(command) + word, _COMMANDS[command], text)

    def raised(match: "re.Match[str]") -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        return "".join(_RAISED.get(c, "\\") for c in inner)  # "\\": not known

    text = re.sub(r"\^\{([^{}]*)\}|\^(.)", raised, text)
    text = text.replace(" - ", " − ").replace("-", "−")
    return "" if any(c in text for c in "\\{}^_") else text.strip()


def _curve_label(meta: Mapping[str, Any], label: str) -> str:
    """A gain curve in words, in the language being drawn ("Gradients through a deep MLP,
    scaled sigmoid, width 100, depth 50"; for prose, so without the formula)."""
    title, words = _curve_words(meta, label)
    return _("%(experiment)s, %(setting)s") % {"experiment": title, "setting": words} if title else words


LEGEND_ROWS = 7  # beyond this many rows, the curves are named without their formulas


def _columns(fig: Any, texts: Sequence[str]) -> int:
    """How many legend columns (up to three) the widest of `texts` leaves room for on the
    figure's width."""
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=matplotlib.rcParams["legend.fontsize"])
    em = font.get_size_in_points()
    widest = max(text_to_path.get_text_width_height_descent(text, font, ismath=False)[0]
                 for text in texts)
    room = fig.get_figwidth() * 72 - 2 * em
    return next((n for n in (3, 2) if n * (widest + 2.8 * em) + (n - 1) * 2.0 * em <= room), 1)


def _groups(meta: Mapping[str, Any], formula: bool) -> dict[str, list[tuple[str, str]]]:
    """The curves grouped by experiment (its title heads them in the legend), in the record's
    order: title -> [(label, words drawn)]."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for label in meta["curves"]:
        title, words = _curve_words(meta, label, formula=formula)
        groups.setdefault(title, []).append((label, plain(words)))
    return groups


def draw_gain(data: FigureData, ink: Ink) -> Any:
    from matplotlib.lines import Line2D

    fig, ax = new_figure()
    ax.axhline(0.0, color=ink.muted, linewidth=0.8)
    rows = list(zip(data.columns["curve"], data.columns["kind"], data.columns["scale"],
                    data.columns["log10_gain_per_step"]))
    proxies = [(Line2D([], [], linestyle="none", marker="o", color=ink.muted), _("measured settings")),
               (Line2D([], [], linestyle=":", color=ink.muted), _("depth-balanced scale"))]
    texts = lambda groups: [*(t for t in groups if t), *(w for c in groups.values() for _l, w in c),
                            *(t for _h, t in proxies)]
    groups = _groups(data.meta, formula=True)
    if -(-len(texts(groups)) // _columns(fig, texts(groups))) > LEGEND_ROWS:
        groups = _groups(data.meta, formula=False)
    entries, index = [], 0
    for title, curves in groups.items():
        if title:  # a header: no line
            entries.append((Line2D([], [], linestyle="none", marker="None"), plain(title)))
        for label, words in curves:
            style = series_style(ink, index)
            index += 1
            theory = [(s, g) for c, k, s, g in rows if c == label and k == "theory"]
            line, = ax.plot(*zip(*theory), **style.line(linewidth=2.0))
            entries.append((line, words))
            for s in (s for c, k, s, g in rows if c == label and k == "critical scale"):
                ax.axvline(s, color=style.colour, linestyle=":", linewidth=1.6,
                           gid=style.part("critical"))
                if style.marker:  # which curve's, where colours repeat: its marker at the crossing
                    ax.plot([s], [0.0], color=style.colour, marker=style.marker, markersize=6,
                            linestyle="none", markeredgecolor=ink.paper, markeredgewidth=0.6)
            measured = [(s, g) for c, k, s, g in rows if c == label and k.startswith("measured ")]
            if measured:
                ax.plot(*zip(*measured), **style.points(markersize=5, markeredgecolor=ink.paper,
                                                         markeredgewidth=0.6))
    log_x(ax)
    ax.set_xlabel(_("weight standard deviation (scale)"))
    ax.set_ylabel(_("log₁₀ gain per factor or layer"))
    entries += proxies
    # Outside the data, in as many columns as the longest entry leaves room for, the figure
    # made taller for each row beyond two.
    ncols = _columns(fig, [t for _h, t in entries])
    fig.set_figheight(fig.get_figheight() + 0.22 * max(0, -(-len(entries) // ncols) - 2))
    fig.legend(*zip(*entries), frameon=False, loc="outside lower center", ncols=ncols)
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
