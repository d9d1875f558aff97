"""The explorer page: every experiment that declares `explore` becomes one sweep over its grid
(cached, on local processes or Dask, each cell sized by its standard error like any sweep), and
the build writes what the page shows of each cell — the quantiles over runs after every step,
the final distribution's quantiles, the theory's, and a readout in the site's own words — into
one script, `data/explorer.js`, which the page loads: no server, no fetch, so it works offline,
on any static host and from disk."""
from __future__ import annotations

import gzip
import itertools
import json
import math
import re
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..core.cache import Store, memo_json
from ..report.model import Axis, Report, Sweep
from ..errors import BuildError, StabreportError
from ..experiments import Experiment, experiments
from .formatting import pow10
from .i18n import N_, _
from ..core.results import per_step_quantiles
from ..core.sweeps import cell_theory, critical_scale

EXPLORE = "explore"  # the explorer's sweeps' figure: none of the report's (no figure kind)
MAX_COMPRESSED = 3 * 2**20  # bytes of data/explorer.js, gzipped: what a reader downloads
QUANTILES = tuple(round(0.05 * i, 2) for i in range(1, 20))  # of each cell's final distribution
# The theory's law of the final log10 ‖M u‖ as the page draws it: its CDF at LAW_POINTS evenly
# spaced values from its LAW_TAIL quantile to its 1 − LAW_TAIL one, to LAW_DIGITS decimals (a
# smooth curve on a chart some hundred pixels wide, a few hundred bytes a cell).
LAW_POINTS, LAW_TAIL, LAW_DIGITS = 81, 0.005, 4


def explorer_page_id(report: Report) -> str | None:
    """The page that declares `explorer: true` (None: the report has no explorer)."""
    return next((p.id for p in report.pages if p.explorer), None)


def explorer_sweeps(report: Report) -> tuple[Sweep, ...]:
    """One sweep per experiment that declares `explore`, in name order, when the report has the
    explorer page: every parameter of the grid is an axis (choices as well as numbers)."""
    page = explorer_page_id(report)
    if page is None:
        return ()
    sweeps = []
    for experiment in experiments():
        explore = experiment.explore
        if explore is None:
            continue
        where = f"experiment {experiment.name!r}, explore: "
        for needed in (explore.scale, experiment.width_param, experiment.steps_param):
            if needed not in explore.grid:
                raise StabreportError(f"{where}the grid has no {needed!r}; allowed: a grid over "
                                      f"the scale ({explore.scale!r}), {experiment.width_param!r} and "
                                      f"{experiment.steps_param!r}")
        narrowed = report.explorer_grid.get(experiment.name, {})
        axes = tuple(Axis(key, tuple(experiment.param(key, where).validate(v, where)
                                     for v in values if v in narrowed.get(key, values)),
                          key == explore.scale) for key, values in explore.grid.items())
        runs = explore.runs if report.explorer_runs is None else min(explore.runs, report.explorer_runs)
        sweeps.append(Sweep(f"explore-{experiment.name}", f"Explorer: {experiment.title}",
                            experiment, dict(explore.params), axes, runs, report.seed,
                            page, EXPLORE, (), explore.standard_error, "log10_norm_u",
                            measure="median"))
    return tuple(sweeps)


def grid_label(value: Any) -> str:
    """A grid value as a reader writes it, by the site's rules for numbers: an integer as it is,
    another number to 3 significant figures (0.0354, 1.13, 0.25), in × 10ⁿ notation when it is
    far from 1 (below 0.001 or from 10⁴ on), a choice by its name. The exact value stays what
    the page looks cells up by and what the command prints; a yes-or-no choice by the words
    it is written in (true, false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value).replace("-", "−")
    if not math.isfinite(value) or value == 0:
        return "0" if value == 0 else str(value)
    rounded = float(f"{value:.3g}")
    size = abs(rounded)
    if size < 1e-3 or size >= 1e4:
        return ("−" if value < 0 else "") + pow10(math.log10(size), 3)
    decimals = max(0, 2 - math.floor(math.log10(size)))
    text = f"{rounded:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", "−")


def command(experiment: Experiment, params: Mapping[str, Any], runs: int, seed: int) -> str:
    """The command that prints exactly a cell's numbers (`per_step` is its trajectory)."""
    from ..core.params import set_options

    return (f"stabreport run {experiment.name} {set_options(params)} --path tangent --runs {runs} --seed {seed} "
            "--per-step --json")


def explorer_theory(experiment: Experiment, params: Mapping[str, Any],
                    store: Store | None) -> dict[str, float | None] | None:
    """The theory's median and 5 %/95 % quantiles of the final log10 ‖M u‖, its gain per step
    and its dead fraction (the prediction that sized the cell, read back), the critical scale
    (memoised on its own: a root search shared by every depth) and its law's CDF to draw
    (`law`, see law_curve; None where it has no spread). None without a theory."""
    if not experiment.has_theory(params):
        return None
    theory = cell_theory(experiment, params, store)
    critical = critical_scale(experiment, params, store)
    q05, median, q95 = theory["norm_u"]
    finite = all(v is not None and math.isfinite(v) for v in (q05, median, q95))
    return {"median": median, "q05": q05, "q95": q95, "gain_per_step": theory["gain_per_step"],
            "critical_scale": critical, "exact": theory["exact"],
            "dead_fraction": theory["dead_fraction"],
            "law": theory_law(experiment, params, q05, median, q95, store) if finite else None}


def law_curve(cdf: Callable[[np.ndarray], np.ndarray], q05: float, median: float,
              q95: float) -> dict[str, Any] | None:
    """The CDF of a law of log10 ‖M u‖ (`cdf`, vectorised), sampled for the page: `cdf` holds
    its values at LAW_POINTS evenly spaced points from `from` to `to`, its LAW_TAIL and
    1 − LAW_TAIL quantiles. None when the law has no spread to draw (the page then marks its
    three quantiles)."""
    spread = q95 - q05
    if not all(map(math.isfinite, (q05, median, q95))) or not spread > 0:
        return None
    coarse = np.linspace(median - 4 * spread, median + 4 * spread, 801)
    # A numerical inversion wobbles by rounding: a CDF never decreases.
    shares = np.maximum.accumulate(np.clip(np.nan_to_num(cdf(coarse), nan=0.0), 0.0, 1.0))
    low = coarse[max(int(np.searchsorted(shares, LAW_TAIL)) - 1, 0)]
    high = coarse[min(int(np.searchsorted(shares, 1 - LAW_TAIL)), len(coarse) - 1)]
    if not high > low:
        return None
    points = np.linspace(low, high, LAW_POINTS)
    shares = np.maximum.accumulate(np.clip(np.nan_to_num(cdf(points), nan=0.0), 0.0, 1.0))
    return {"from": float(low), "to": float(high),
            "cdf": [round(float(p), LAW_DIGITS) for p in shares]}


def theory_law(experiment: Experiment, params: Mapping[str, Any], q05: float, median: float,
               q95: float, store: Store | None) -> dict[str, Any] | None:
    """law_curve of the theory's law of the final log10 ‖M u‖ (memoised by the source of the
    theory and of this module, the cell's parameters and the sampling)."""
    def compute() -> dict[str, Any] | None:
        prediction = experiment.predict(params)
        return law_curve(prediction.cdf_log10, q05, median, q95)

    return memo_json(store, "explorer-theory-law", (*experiment.theory_modules, __name__), {
        "experiment": experiment.name, "params": dict(params), "quantiles": [q05, median, q95],
        "points": LAW_POINTS, "tail": LAW_TAIL, "digits": LAW_DIGITS}, compute)


def _numbers(values: Sequence[float]) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def _cell(sweep: Sweep, params: Mapping[str, Any], result: Any,
          store: Store | None) -> dict[str, Any]:
    experiment = sweep.experiment
    quantiles = per_step_quantiles(result.trajectory)
    final = result.trajectory[:, -1]
    return {"params": {k: v for k, v in params.items() if v is not None}, "runs": result.runs,
            "dead_fraction": result.dead_fraction,
            **({k: _numbers(v) for k, v in quantiles.items()} if quantiles else
               {"median": None, "q05": None, "q95": None}),
            "final": _numbers(np.quantile(final, QUANTILES)) if len(final) else None,
            "theory": explorer_theory(experiment, params, store),
            "command": command(experiment, params, result.runs, sweep.seed)}


# The explorer's controls are named by their parameters.
PARAMETER_NAMES = (N_("width"), N_("depth"), N_("scale"), N_("activation"), N_("init"),
                   N_("branch scale"), N_("k"), N_("factors"))


def explorer_words() -> dict[str, str]:
    """The words of the explorer's charts (docs/assets/javascripts/explorer.js fills in the
    {placeholders}), in the language being rendered. (Plain gettext: a % is a percent sign.)"""
    return {
        "measured": _("measured: median, 5–95 % band"),
        "theory_median": _("theory: median"),
        "lecture": _("the lecture's {label} ({key} {width})"),
        "trajectory_title": _("log₁₀ ‖J u‖ after each {step}"),
        "trajectory_description": _("Median and 5–95 % band of log10 of the gradient's length "
                                    "after each step."),
        "measured_quantiles": _("measured quantiles"),
        "theory_quantiles": _("theory: 5 %, median, 95 %"),
        "theory_exact_law": _("theory: exact law"),
        "theory_law": _("theory: approximate law"),
        "at_the_end": _("{ylabel} at the end"),
        "share_below": _("share of runs below"),
        "distribution_title": _("Final distribution over {runs} runs"),
        "distribution_description": _("Quantiles of log10 of the gradient's length over runs, "
                                      "against the theory's."),
        "bibtex_title": _("explorer"),
        "bibtex_note": _("{runs} runs; reproduce with: {command}"),
    }


def explorer_script(report: Report, sweeps: Sequence[Sweep], results: Mapping[str, list],
                    lecture: Mapping[str, list[dict[str, Any]]],
                    readout: Callable[[Sweep, dict[str, Any]], str], site: Mapping[str, Any],
                    store: Store | None = None) -> bytes:
    """data/explorer.js: `window.STABREPORT_EXPLORER = {...};`, every cell of every explorer
    sweep keyed by its grid indices. `readout(sweep, cell)` puts a cell in words with the site's
    templates; `lecture` gives, per experiment, the lecture's settings as faint references. Its
    words are in the language being rendered."""
    out = []
    for sweep in sweeps:
        experiment, explore = sweep.experiment, sweep.experiment.explore
        keys = [axis.key for axis in sweep.axes]
        controls, initial = [], []
        for axis in sweep.axes:
            param = experiment.param(axis.key)
            values = list(axis.values)
            controls.append({"key": axis.key, "label": _(axis.key.replace("_", " ")),
                             "help": _(param.help), "values": values,
                             "labels": [grid_label(v) for v in values],
                             "kind": "log" if axis.log else "choice"})
            default = explore.initial.get(axis.key, param.default)
            initial.append(values.index(default) if default in values else 0)
        cells = {}
        indices = itertools.product(*(range(len(axis.values)) for axis in sweep.axes))
        for index, (_curve, params), result in zip(indices, sweep.cell_params(), results[sweep.id]):
            cell = _cell(sweep, params, result, store)
            cell["readout"] = readout(sweep, cell)
            cells[",".join(map(str, index))] = cell
        out.append({"name": experiment.name, "title": _(experiment.title), "controls": controls,
                    "initial": initial, "cells": cells, "scale_control": keys.index(explore.scale),
                    "steps_control": keys.index(experiment.steps_param),
                    "width_control": keys.index(experiment.width_param),
                    "step_label": experiment.step_word(1), "ylabel": "log₁₀ ‖J u‖",
                    "lecture": lecture.get(experiment.name, [])})
    payload = {"seed": report.seed, "quantiles": list(QUANTILES), "site": dict(site),
               "experiments": out, "words": explorer_words()}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return ("// Written by `stabreport build`: every cell of the explorer, precomputed.\n"
            f"window.STABREPORT_EXPLORER = {text};\n").encode()


def lecture_references(report: Report, sweeps: Sequence[Sweep], runs: Any) -> dict[str, list]:
    """Per explorer experiment, the lecture's own settings that ran the fast path: their median
    log10 ‖J u‖ after every step, matched to the explorer's choices (activation, init, …)."""
    out: dict[str, list] = {}
    for sweep in sweeps:
        experiment, scale = sweep.experiment, sweep.experiment.explore.scale
        choices = [axis.key for axis in sweep.axes if not isinstance(axis.values[0], (int, float))]
        for setting in report.settings:
            norms = runs.norms.get(setting.id)
            if (setting.experiment.name != experiment.name or setting.lecture_log10 is None
                    or norms is None or setting.params.get(scale) is None):
                continue
            quantiles = per_step_quantiles(norms.trajectory)
            if quantiles is None:
                continue
            out.setdefault(experiment.name, []).append({
                "label": str(setting.label), "scale": setting.params[scale],
                "match": {key: setting.params[key] for key in choices},
                "width": experiment.width(setting.params), "median": _numbers(quantiles["median"])})
    return out


def _one_line(text: str) -> str:
    """A template's text as one line: its runs of spaces and line breaks as one space (a no-break
    space, which keeps a number such as 1.3 × 10⁻⁹ on one line, stays)."""
    return re.sub(r"[ \t\n\r\f\v]+", " ", text).strip()


def explorer_page(env: Any, report: Report, runs: Any, site: Any,
                  store: Store | None) -> tuple[dict[str, Any], bytes] | None:
    """What the explorer page's template shows, and data/explorer.js; None without the page
    (or without its runs: a render from other results than a build's)."""
    sweeps = [sweep for sweep in explorer_sweeps(report) if sweep.id in runs.sweeps]
    if not sweeps:
        return None
    template = env.get_template("partials/explorer_readout.html.j2")

    def readout(sweep: Sweep, cell: dict[str, Any]) -> str:
        experiment, params = sweep.experiment, cell["params"]
        median = cell["median"]
        steps = experiment.steps(params)
        theory = cell["theory"]
        critical = theory.get("critical_scale") if theory else None
        scale_key = experiment.explore.scale
        return _one_line(template.render(
            experiment=experiment, cell=cell, depth=steps, step=experiment.step_word(1),
            steps=experiment.step_word(steps), scale_key=scale_key,
            scale=params[scale_key], scale_label=grid_label(params[scale_key]),
            median=median[-1] if median else None,
            q05=cell["q05"][-1] if median else None, q95=cell["q95"][-1] if median else None,
            gain=(median[-1] - median[0]) / steps if median else None,
            dead=cell["dead_fraction"], theory=theory, critical=critical))

    by_id = {sweep.id: runs.sweeps[sweep.id] for sweep in sweeps}
    page_url = site.page_url(explorer_page_id(report))
    from .cite import bibtex_authors, bibtex_escape

    script = explorer_script(report, sweeps, by_id, lecture_references(report, sweeps, runs),
                             readout, {"title": bibtex_escape(str(site.title)),
                                       "authors": bibtex_authors(site.authors),
                                       "year": site.year, "version": site.version,
                                       "page_url": page_url}, store)
    compressed = len(gzip.compress(script, mtime=0))
    if compressed > MAX_COMPRESSED:
        raise BuildError(f"the explorer's data is {compressed / 2**20:.1f} MiB compressed; allowed: "
                         f"at most {MAX_COMPRESSED / 2**20:.0f} MiB (narrow its grids with "
                         "`explorer: grid:` in the config, or in the experiments' declarations)")
    every = [result for sweep in sweeps for result in by_id[sweep.id]]
    # The grids as the page's controls write them (and the values held fixed).
    labels = {sweep.id: {"axes": {a.key: [grid_label(v) for v in a.values] for a in sweep.axes},
                         "fixed": {k: grid_label(v) for k, v in sweep.params.items()}}
              for sweep in sweeps}
    view = {"sweeps": sweeps, "labels": labels, "cells": len(every),
            "runs_min": min(r.runs for r in every), "runs_max": max(r.runs for r in every),
            "standard_error": min(sweep.standard_error for sweep in sweeps),
            "size": len(script), "compressed": compressed}
    return view, script
