"""The site build as a short sequence of named steps.

    load_report → run_experiments → predict → check → figure_data → draw → render → write_generated

Each step takes what the previous one produced. Nothing is written until every page has rendered
(and, under --strict, every claim of the site's own holds), so a bad config, a failing
experiment, a failing template or a failed claim leaves the previous output as it was.
Files are written only when their bytes change (temporary name, compare, replace).
Each step is a phase that says what it does as it starts, and how it goes while it lasts, on a
terminal and in a log alike (see `Phase`): a build is never silent for long.

`figure_csv` runs the same steps for one figure only: what `stabreport figure <id>` prints, byte
for byte the figure's CSV download.
"""
from __future__ import annotations

import html
import json
import math
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from markupsafe import Markup

from .. import __version__
from ..render import i18n
from ..core.cache import Store, memo_json
from ..render.cite import citation_cff, site_info
from ..report.claims import (Agreement, ClaimResult, Measured, agreement, evaluate_claim, measure_setting,
                             path_claim, theory_claim, Family, tests_of)
from ..report.config import load_report
from ..report.model import Report, Sweep
from ..report.checks import ClaimContext
from ..report.statistics import CELL_STATISTICS, SETTING_STATISTICS, SettingFacts
from ..core.engine import FULL, PATHS, TANGENT, Task, default_jobs
from ..errors import BuildError, ConfigError
from ..core.executors import Executor, LocalExecutor, Phase, Progress, counted, run_tasks
from ..render.explorer import explorer_page, explorer_sweeps
from ..render.figures import FigureData, draw_all
from ..render.kinds import FIGURES, FigureRequest
from .fingerprint import MANIFEST, build_date, build_fingerprint, git_commit, manifest_text, versions
from .lock import project_lock
from ..report.pages import FigureSpec, figure_specs, gain_settings
from ..paths import (CACHE, FOOTER, GENERATED, NAV, TIMINGS, VOLATILE, fault_error, fault_point, find_config,
                    published_error, recover, recover_project, swap_in, write_file)
from ..render.phase import PhaseDiagram, phase_diagram
from ..project import EFFECTIVE_MKDOCS, Project
from ..render.views import build_context, make_environment, render_pages
from ..core.results import NormResult, Result
from ..core.sweeps import Cell, critical_scale, summarise_sweep, sweep_tasks
from ..theory import GainCurve, Prediction, gain_curve


@dataclass(frozen=True)
class BuildSummary:
    settings: int
    from_cache: int
    pages: int
    figures: int  # per language
    files_written: int
    seconds: float
    languages: tuple[str, ...] = ("en",)


@dataclass(frozen=True)
class Runs:
    """What the experiments produced: the full path per setting, the column lengths from the
    fast path where it applies, and every sweep's cells."""

    full: dict[str, Result]
    norms: dict[str, NormResult | None]
    sweeps: dict[str, list[Result | NormResult]] = field(default_factory=dict)  # by sweep id

    def log10_norm_u(self, setting_id: str) -> np.ndarray:
        norms = self.norms.get(setting_id)
        return norms.log10_norm_u if norms is not None else self.full[setting_id].metrics["log10_norm_u"]


# --- run_experiments --------------------------------------------------------------------------------

def setting_tasks(report: Report, ids: Iterable[str] | None = None,
                  paths: Sequence[str] = PATHS) -> list[Task]:
    """Tasks for the settings `ids` (all by default): the full path, and the fast path where the
    experiment has one for these parameters."""
    wanted = set(ids) if ids is not None else None
    tasks = []
    for s in report.settings:
        if wanted is not None and s.id not in wanted:
            continue
        if FULL in paths:
            spectrum = s.experiment.spectrum and any(
                FIGURES.get(kind).spectrum for kind in report.section(s.section).figures)
            tasks.append(Task(FULL, s.experiment.name, dict(s.params), s.runs, report.seed, s.id,
                              spectrum))
        if TANGENT in paths and s.experiment.has_tangent(s.params):
            tasks.append(Task(TANGENT, s.experiment.name, dict(s.params), s.norm_runs,
                              report.seed, s.id))
    return tasks


def size_sweeps(sweeps: Sequence[Sweep], store: Store | None, stream=None) -> dict[str, list[Task]]:
    """Every sweep's tasks, by sweep id: a cell's runs come from its theory (tens of
    milliseconds a cell, minutes for the largest reports, before any cell runs), a phase of its
    own counted in cells."""
    sized = sum(len(s.cell_params()) for s in sweeps if s.standard_error is not None)
    with Phase(stream if sized else None, f"sizing {counted(sized, 'sweep cell')} by their theory",
               sized, "cell", "sizing") as phase:
        return {s.id: sweep_tasks(s, store, lambda done, cells: phase.advance()) for s in sweeps}


def run_experiments(report: Report, store: Store | None, executor: Executor | None = None,
                    stream=sys.stderr, tasks: Sequence[Task] | None = None,
                    sweeps: Sequence[Sweep] | None = None) -> Runs:
    """Every setting on both paths and every sweep cell (or just `tasks` and `sweeps`), in one
    pool of tasks, with a progress bar on a terminal and plain lines otherwise: one per setting
    and path, and each sweep's cells as they finish (see Progress: the counter never jumps)."""
    setting_part = setting_tasks(report) if tasks is None else list(tasks)
    if sweeps is None:  # the report's sweeps, and the explorer's when it has that page
        sweeps = (*report.sweeps, *explorer_sweeps(report))
    sweep_part = size_sweeps(sweeps, store, stream)
    every = setting_part + [t for part in sweep_part.values() for t in part]
    sweep_of = {id(t): sweep_id for sweep_id, part in sweep_part.items() for t in part}
    finished = dict.fromkeys(sweep_part, 0)

    def line(done: int, task: Task, result: Any) -> str | None:
        sweep_id = sweep_of.get(id(task))
        if sweep_id is None:
            source = "cache" if result.cached else f"{result.elapsed:.1f} s"
            return f"{task.name} ({task.path} path): {task.runs} runs ({source})"
        finished[sweep_id] += 1  # a sweep's last cell says so, the others at each tenth (detail)
        cells = len(sweep_part[sweep_id])
        return f"sweep {sweep_id}: {cells} cells done" if finished[sweep_id] == cells else None

    def detail(task: Task, result: Any) -> str | None:
        sweep_id = sweep_of.get(id(task))
        return None if sweep_id is None else \
            f"sweep {sweep_id}: {finished[sweep_id]}/{len(sweep_part[sweep_id])} cells"

    progress = Progress(len(every), "tasks", stream, line, begin=False, detail=detail)

    def start(cached: int) -> None:
        if not every:
            return
        settings, cells = len({t.name for t in setting_part}), len(every) - len(setting_part)
        parts = []
        if setting_part:
            parts.append(f"{len(setting_part):,} for {counted(settings, 'setting')}")
        if cells:
            parts.append(f"{counted(cells, 'sweep cell')} in {counted(len(sweep_part), 'sweep')}")
        jobs = getattr(executor, "jobs", None)
        on = f" on {jobs} processes" if jobs and jobs > 1 and len(every) - cached > 1 else ""
        progress.begin(f"running {counted(len(every), 'task')} ({', '.join(parts)}): {cached:,} "
                       f"from the cache, {len(every) - cached:,} to compute{on}")

    try:
        results = run_tasks(every, store, executor, progress, start, stream)
    finally:
        progress.close()
    by_task = dict(zip(map(id, every), results))
    full = {t.name: by_task[id(t)] for t in setting_part if t.path == FULL}
    norms = {t.name: by_task[id(t)] for t in setting_part if t.path == TANGENT}
    return Runs(full, {s.id: norms.get(s.id) for s in report.settings},
                {sweep_id: [by_task[id(t)] for t in part] for sweep_id, part in sweep_part.items()})


# --- predict and check -----------------------------------------------------------------------------

def predict(report: Report, ids: Iterable[str] | None = None,
            done: Callable[[], None] | None = None) -> dict[str, Prediction | None]:
    """Each setting's theory (None for an experiment that has none); `done()` after each
    prediction."""
    predictions = {}
    for setting in _wanted(report, ids):
        predictions[setting.id] = None
        if setting.experiment.has_theory(setting.params):
            predictions[setting.id] = setting.experiment.predict(setting.params)
            if done is not None:
                done()
    return predictions


def _wanted(report: Report, ids: Iterable[str] | None) -> list:
    wanted = set(ids) if ids is not None else None
    return [s for s in report.settings if wanted is None or s.id in wanted]


@dataclass(frozen=True)
class Checks:
    measured: dict[str, Measured | None]  # None where every run died
    agreements: dict[str, Agreement | None]
    claims: list[ClaimResult]  # the lecture's and the site's, in config order
    theory_claims: list[ClaimResult]  # theory against measurement and path against path
    family: Family = Family(0)  # the statistical tests of the build, and the level of each

    @property
    def failed_site_claims(self) -> list[ClaimResult]:
        return [c for c in [*self.claims, *self.theory_claims] if c.source == "site" and not c.holds]


def lecture_statistic_median(setting, result: Result) -> float | None:
    """The median of the lecture's statistic over repetitions; None when every run died."""
    if result.alive == 0 or "log10_mean_abs" not in result.metrics:  # no matrix: no statistic
        return None
    grouped = result.grouped_log10_of_mean(setting.lecture_averages)
    return float(np.median(grouped)) if len(grouped) else result.summary.log10_of_mean


def setting_facts(setting: Any, runs: Runs, measured: Mapping[str, Measured | None],
                  lecture: Mapping[str, float | None]) -> SettingFacts:
    """What a setting statistic reads of one setting."""
    return SettingFacts(setting, runs.full[setting.id], runs.norms.get(setting.id),
                        measured[setting.id], lecture[setting.id])


def check(report: Report, evidence: Evidence,
          adjust: Callable[[Family], Family] | None = None) -> Checks:
    """Every claim of the build on its evidence; `adjust` changes the family of statistical
    tests (the false-alarm tests lift its floors)."""
    runs, predictions = evidence.runs, evidence.predictions
    statistic = {s.id: lecture_statistic_median(s, runs.full[s.id]) for s in report.settings}
    measured = {s.id: measure_setting(runs.full[s.id], runs.norms[s.id]) for s in report.settings}
    agreements = {s.id: agreement(measured[s.id], runs.log10_norm_u(s.id), predictions[s.id],
                                  report.theory_tolerance)
                  if predictions[s.id] is not None and measured[s.id] is not None else None
                  for s in report.settings}

    def setting_statistic(setting_id: str, name: str) -> float | None:
        return SETTING_STATISTICS.get(name).read(setting_facts(report.setting(setting_id), runs,
                                                               measured, statistic))

    def cell_statistic(sweep_id: str, series: str, at: Mapping[str, Any], name: str) -> float | None:
        cells = evidence.cells.get(sweep_id, ())  # a render from synthetic runs has no sweeps
        cell = next((c for c in cells
                     if c.series == series and all(c.params[k] == v for k, v in at.items())), None)
        return math.nan if cell is None else CELL_STATISTICS.get(name).read(cell)

    context = ClaimContext(report, statistic, setting_statistic, cell_statistic)
    claims = [evaluate_claim(spec, context) for spec in report.claims]
    # Every statistical test of the build, judged together (see Family).
    swept = [sweep for sweep in report.sweeps if sweep.id in evidence.cells]
    family = Family(tests_of(agreements, measured, sum(
        FIGURES.get(w.figure).tests(evidence.cells[w.id]) for w in swept)), report.false_alarm_rate)
    family = adjust(family) if adjust is not None else family
    agreements = {k: a.judged_by(family) if a is not None else None for k, a in agreements.items()}
    theory_claims = [theory_claim(s, agreements[s.id]) for s in report.settings
                     if agreements[s.id] is not None]
    theory_claims += [path_claim(s, measured[s.id], family) for s in report.settings
                      if measured[s.id] is not None and measured[s.id].path_ks_pvalue is not None]
    theory_claims += [claim for sweep in swept
                      for claim in FIGURES.get(sweep.figure).claims(sweep, evidence.cells[sweep.id],
                                                                     family)]
    return Checks(measured, agreements, claims, theory_claims, family)


# --- the numbers behind the theory page and the phase diagrams --------------------------------------

@dataclass(frozen=True)
class GainSummary:
    curves: list[GainCurve]
    points: list[tuple[str, str, float, float]]  # curve label, setting id, scale, measured gain


def gain_families(report: Report, runs: Runs) -> list[list]:
    """The settings of the theory page's gain curves, one list per family (same experiment and
    parameters but the weight scale), without the settings whose every run died."""
    members: dict[str, list] = {}
    for setting in map(report.setting, gain_settings(report)):
        if len(runs.log10_norm_u(setting.id)) == 0:  # every run died: no gain to plot
            continue
        family = setting.experiment.family(setting.params)
        members.setdefault(json.dumps([setting.experiment.name, family], sort_keys=True), []).append(setting)
    return list(members.values())


def gain_summary(report: Report, runs: Runs, store: Store | None = None,
                 done: Callable[[], None] | None = None) -> GainSummary:
    """Theory curves of gain per step against scale, one per family of settings (same
    experiment and parameters but the weight scale), and each setting's measured gain;
    `done()` after each curve (a root search per point where the cache has none)."""
    curves, points = [], []
    for settings in gain_families(report, runs):
        experiment = settings[0].experiment
        scales = [experiment.effective_scale(s.params) for s in settings]
        grid = [float(x) for x in np.geomspace(min(scales) / 3, max(scales) * 3, 48)]
        inputs = {"experiment": experiment.name, "params": dict(settings[0].params), "scales": grid,
                  "fields": sorted(GainCurve.__dataclass_fields__)}
        curve = GainCurve(**memo_json(store, "gain-curve", experiment.theory_modules, inputs, lambda: _curve_json(
            gain_curve(experiment, settings[0].params, grid))))
        curves.append(curve)
        for setting, scale in zip(settings, scales):
            median = float(np.median(runs.log10_norm_u(setting.id)))
            points.append((curve.label, setting.id, scale,
                           median / setting.experiment.steps(setting.params)))
        if done is not None:
            done()
    return GainSummary(curves, points)


def _curve_json(curve: GainCurve) -> dict[str, Any]:
    return {"label": curve.label, "family": dict(curve.family), "scales": list(curve.scales),
            "gains": list(curve.gains), "critical_scale": curve.critical_scale,
            "settled_scale": curve.settled_scale}


def sweep_cells(report: Report, runs: Runs, store: Store | None,
                done: Callable[[], None] | None = None) -> dict[str, list[Cell]]:
    """Every run sweep's cells, the theory per cell memoised in `store`; `done()` after each."""
    return {sweep.id: summarise_sweep(sweep, runs.sweeps[sweep.id], store, done)
            for sweep in report.sweeps if sweep.id in runs.sweeps}


def phase_diagrams(report: Report, cells: Mapping[str, list[Cell]],
                   store: Store | None) -> list[PhaseDiagram]:
    """The phase-diagram sweeps as diagrams; the theory's critical scale per row memoised."""
    return [phase_diagram(sweep, cells[sweep.id], partial(critical_scale, sweep.experiment,
                                                          store=store))
            for sweep in _diagram_sweeps(report, cells)]


def _diagram_sweeps(report: Report, cells: Mapping[str, Any]) -> list[Sweep]:
    return [s for s in report.sweeps if FIGURES.get(s.figure).diagram and s.id in cells]


# --- figure data ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """What the figures and pages are drawn from: the runs and everything derived from them."""

    runs: Runs
    predictions: Mapping[str, Prediction | None]
    gains: GainSummary | None
    cells: Mapping[str, list[Cell]]  # by sweep id
    diagrams: Sequence[PhaseDiagram]


def gather(report: Report, runs: Runs, store: Store | None,
           ids: Iterable[str] | None = None, gains: bool = True, stream=None) -> Evidence:
    """The evidence of the runs: the theory of every sweep cell and setting, the gain curves and
    the phase diagrams; with `stream`, a phase counted in the theory's computations."""
    counts = {"sweep cell": sum(len(runs.sweeps[s.id]) for s in report.sweeps
                                if s.id in runs.sweeps),
              "setting": sum(s.experiment.has_theory(s.params) for s in _wanted(report, ids)),
              "gain curve": len(gain_families(report, runs)) if gains else 0}
    parts = [counted(count, what) for what, count in counts.items() if count]
    if _diagram_sweeps(report, runs.sweeps):
        parts.append("the critical scales of the phase diagrams")
    with Phase(stream if parts else None, "computing the theory: " + ", ".join(parts),
               sum(counts.values()), "step", "theory") as phase:
        phase.describe("sweep cells")
        cells = sweep_cells(report, runs, store, phase.advance)
        phase.describe("predictions")
        predictions = predict(report, ids, phase.advance)
        phase.describe("gain curves")
        gain = gain_summary(report, runs, store, phase.advance) if gains else None
        phase.describe("critical scales")
        diagrams = phase_diagrams(report, cells, store)
    return Evidence(runs, predictions, gain, cells, diagrams)


def figure_data(spec: FigureSpec, report: Report, evidence: Evidence) -> FigureData:
    """The figure's record, from its kind's declaration."""
    return FIGURES.get(spec.kind).data(FigureRequest(spec, report, evidence))


def figure_csv(root: str | Path, figure_id: str, config_path: str | None = None,
               use_cache: bool = True, stream=sys.stderr, jobs: int | None = None) -> bytes:
    """The CSV download of one figure, computed by the build's own steps for that figure only
    (results from the cache where it holds them)."""
    root = Path(root)
    report = load_report(find_config(root, config_path))
    specs = {spec.id: spec for spec in figure_specs(report)}
    if figure_id not in specs:
        raise ConfigError(f"figure got {figure_id!r}; allowed: one of " + ", ".join(specs))
    spec = specs[figure_id]
    store = Store(root / CACHE) if use_cache else None
    sweeps = [s for s in report.sweeps if s.id == spec.sweep]
    kind = FIGURES.get(spec.kind)
    tasks = setting_tasks(report, spec.settings, kind.paths)
    if FULL not in kind.paths:  # the column lengths of settings without a fast path come from M
        fast = {t.name for t in tasks}
        tasks += [t for t in setting_tasks(report, spec.settings, (FULL,)) if t.name not in fast]
    runs = run_experiments(report, store, LocalExecutor(jobs), stream, tasks, sweeps)
    evidence = gather(report, runs, store, spec.settings, gains=kind.scope == "report",
                      stream=stream)
    return figure_data(spec, report, evidence).csv()


# --- render and write ------------------------------------------------------------------------------

def provenance(root: Path) -> dict[str, Any]:
    """What built this site: versions, commit, date (SOURCE_DATE_EPOCH when set)."""
    return {"versions": {"stabreport": __version__, "python": platform.python_version(), **versions()},
            "commit": git_commit(root), "date": build_date()}


@dataclass(frozen=True)
class Edition:
    """One language's site: its pages, figures, notebooks and navigation."""
    language: str  # "en", "zh", ...
    name: str  # the language's own name, for the switcher
    pages: dict[str, str]  # file name -> Markdown (and the footer)
    figures: list[Any]  # stabreport.render.figures.Figure, drawn in this language
    files: dict[str, bytes]  # notebooks and the explorer's script, in this language
    nav: list[tuple[str, str]]  # (title, file) in navigation order
    site_name: str  # the report's title: the header and the browser tab


@dataclass(frozen=True)
class Rendered:
    editions: list[Edition]  # English first
    data: dict[str, bytes]  # file name -> CSV and JSON downloads, shared by every edition

    @property
    def english(self) -> Edition:
        return self.editions[0]

    @property
    def pages(self) -> dict[str, str]:
        return self.english.pages

    @property
    def nav(self) -> list[tuple[str, str]]:
        return self.english.nav

    @property
    def figures(self) -> list[Any]:
        return self.english.figures


def render_site(root: Path, report: Report, runs: Runs, strict: bool = False,
                with_figures: bool = True, store: Store | None = None,
                languages: Sequence[str] | None = None, stream=None) -> Rendered:
    """Every step after the experiments: predict, check, figure data, draw, render, once per
    language for the words (the numbers are the same objects in every edition). Writes nothing."""
    from ..render.notebooks import notebook_files
    from ..render.views import localized

    evidence = gather(report, runs, store, stream=stream)
    languages = list(languages or report.languages)
    named = f"{counted(len(languages), 'edition')} ({', '.join(languages)})"
    specs = [s for s in figure_specs(report) if s.sweep is None or s.sweep in evidence.cells]
    claims = f"{counted(len(report.claims), 'claim')} and " if report.claims else ""
    with Phase(stream, f"checking {claims}the theory against the measurements; the data of "
               f"{counted(len(specs), 'figure')}", label="checks"):
        checks = check(report, evidence)
        lines = untranslated_lines(root, report, languages)
        problems = []  # under --strict, every problem at once: claims, then words
        if checks.failed_site_claims:
            problems.append("claims of the site that do not hold (--strict):\n" + "\n".join(
                f"{c.id}: {_plain(c.statement)} Found: " + "; ".join(
                    f"{_plain(x.label)}: {x.observed}" for x in c.checks)
                for c in checks.failed_site_claims))
        if lines:
            problems.append("config text without a translation (--strict):\n" + "\n".join(lines))
        if strict and problems:
            raise BuildError("\n".join(problems))
        datas = [figure_data(spec, report, evidence) for spec in specs]
    for line in lines:  # once per text and language
        print(f"warning: {line}", file=stream or sys.stderr)
    data: dict[str, bytes] = {}
    parts = []  # per language: (name, pages, files, nav, title)
    with Phase(stream, f"rendering the pages, notebooks and downloads of {named}",
               len(languages), "edition", "pages") as phase:
        env = make_environment(Project(root).folders("templates"), report)
        about = provenance(root)
        tasks = setting_tasks(report, paths=(FULL,))
        for language in languages:
            phase.describe(language)
            with i18n.speaking(root, language):
                words = localized(report)
                # The same evidence, its sentences (claims, verdicts) in this language.
                context = build_context(env, root, words, evidence,
                                        checks if language == i18n.SOURCE else check(words, evidence),
                                        specs, datas, about)
                site = site_info(root, words, about["date"])
                explorer = explorer_page(env, words, runs, site, store)
                context["explorer"] = explorer[0] if explorer else None
                pages = render_pages(env, context)
                pages[FOOTER] = env.get_template("partials/footer.html.j2").render(context).strip() + "\n"
                # A notebook per page with settings, rerunning the build's own tasks, and a zip of them all.
                files = notebook_files(env, words, tasks, site.url)
                if explorer:
                    files["data/explorer.js"] = explorer[1]
                if language == i18n.SOURCE:  # the downloads: one set, in the site's own language
                    for view, figure_data_ in zip(context["figure_list"], datas):
                        data[f"data/{figure_data_.id}.csv"] = figure_data_.csv()
                        data[f"data/{figure_data_.id}.json"] = view.json_download
                # MkDocs' theme prints navigation titles unescaped: hand it config text HTML-escaped.
                nav = [(html.escape(page.title), f"{page.id}.md") for page in words.pages]
                parts.append((i18n._(i18n.LANGUAGE_NAME), pages, files, nav,
                              html.escape(str(words.title))))
            phase.advance()
    figures: dict[str, list[Any]] = {language: [] for language in languages}
    if with_figures and datas:
        # Light and dark, SVG, PNG and PDF of each; those the cache holds from an earlier build
        # of the same data and words are read, the rest drawn on every core, the editions in one
        # pool. (Nothing is said per figure: the count moves, the status says it in between.)
        with Phase(stream, f"drawing {counted(len(datas), 'figure')} in {named}: SVG, PNG and "
                   "PDF, light and dark, those drawn before from the cache",
                   len(datas) * len(languages), "figure", "figures") as phase:
            figures = draw_all(store, datas, default_jobs(), languages, root,
                               done=lambda language: phase.advance())
    editions = [Edition(language, name, pages, figures[language], files, nav, title)
                for language, (name, pages, files, nav, title) in zip(languages, parts)]
    return Rendered(editions, data)


def untranslated_lines(root: Path, report: Report, languages: Sequence[str]) -> list[str]:
    """One line per config text (a title, a label, a statement) that a language of the report
    has no translation of, in the report catalogues (the project's, then the lecture's)."""
    from ..render.views import localized

    lines = []
    for language in languages:
        if language == i18n.SOURCE:
            continue
        missing: set[str] = set()
        with i18n.speaking(root, language):
            localized(report, missing)
        lines += [untranslated_line(language, text) for text in sorted(missing)]
    return lines


def untranslated_line(language: str, text: str) -> str:
    """What `stabreport translations` and a build's warning say of config text without a
    translation."""
    return (f"{language}: no translation of {text!r}; allowed: an entry in "
            f"locales/{language}[_XX]/LC_MESSAGES/{i18n.REPORT_DOMAIN}.po (pybabel extract -F "
            "babel.cfg, see the README's 'Translating the site'); shown as written")


def _plain(text: Any) -> str:
    """Text for a terminal: markup's tags stripped, config text as written."""
    return text.striptags() if isinstance(text, Markup) else str(text)


def output_files(rendered: Rendered, extra: Mapping[str, str]) -> dict[str, bytes]:
    """docs/generated: the English edition and the shared downloads at the top, every other
    edition under <language>/ (its pages, figures, notebooks and navigation)."""
    files = {name: text.encode() for name, text in extra.items()}
    files.update(rendered.data)
    languages = [[e.language, e.name, "" if e.language == i18n.SOURCE else f"{e.language}/"]
                 for e in rendered.editions]
    for edition in rendered.editions:
        prefix = "" if edition.language == i18n.SOURCE else f"{edition.language}/"
        own = {name: text.encode() for name, text in edition.pages.items()}
        for figure in edition.figures:
            for suffix, content in figure.files.items():  # .svg, -dark.svg, -transparent.png, ...
                own[f"figures/{figure.id}{suffix}"] = content
        own.update(edition.files)
        own[NAV] = (json.dumps({"site_name": edition.site_name, "nav": edition.nav,
                                "language": edition.language, "languages": languages},
                               ensure_ascii=False, indent=1) + "\n").encode()
        files.update({prefix + name: content for name, content in own.items()})
    return files


def write_generated(directory: Path, files: Mapping[str, bytes],
                    compared: Callable[[], None] | None = None) -> int:
    """Make `directory` hold exactly `files`, all at once: the new tree is written beside it and
    swapped in by renaming, so a build killed at any moment leaves the old tree or the new one,
    never a mix. Nothing is touched when no byte would change. Returns the files changed;
    `compared()` after each file is compared with the one there."""
    recover(directory)
    existing = {p.relative_to(directory).as_posix(): p for p in directory.rglob("*")
                if p.is_file()} if directory.is_dir() else {}
    changed = 0
    for name, content in files.items():
        changed += name not in existing or existing[name].read_bytes() != content
        if compared is not None:
            compared()
    changed += len(set(existing) - set(files))
    if changed == 0:
        return 0
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-new-"))
    try:
        for index, (name, content) in enumerate(sorted(files.items())):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            write_file(target, content)
            if index == len(files) // 2:
                fault_point("generated-half-written")
                fault_error(target)
        swap_in(staging, directory, "generated-between-renames")
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise published_error(error, staging, directory) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return changed


def build_report(root: str | Path = ".", config_path: str | None = None, use_cache: bool = True,
                 strict: bool = False, stream=sys.stderr, jobs: int | None = None,
                 executor: Executor | None = None) -> BuildSummary:
    """Run every experiment and render docs/generated, holding the project's lock."""
    root = Path(root)
    with project_lock(root, stream):
        return build_locked(root, config_path, use_cache, strict, stream,
                            executor=executor or LocalExecutor(jobs))


def build_locked(root: Path, config_path: str | None = None, use_cache: bool = True,
                 strict: bool = False, stream=sys.stderr,
                 executor: Executor | None = None, report: Report | None = None,
                 fingerprint: str | None = None) -> BuildSummary:
    """The build, for a caller that already holds the project's lock. `report`: the config
    already read and its catalogues checked, and `fingerprint`: the build's fingerprint taken
    before it was read (the command line does both first, so that a mistake in the config is its
    one line). Nothing is said until the config is read and checked."""
    executor = executor or LocalExecutor()
    started = time.perf_counter()
    config_file = find_config(root, config_path)
    if fingerprint is None or report is None:
        fingerprint = build_fingerprint(root, config_file, strict)
    if report is None:
        report = load_report(config_file)
        for language in report.languages:  # every catalogue read and checked before any run
            i18n.translations(root, language)
            i18n.report_translations(root, language)
    store = Store(root / CACHE) if use_cache else None
    runs = run_experiments(report, store, executor, stream)
    rendered = render_site(root, report, runs, strict=strict, store=store, stream=stream)
    about = provenance(root)
    extra = {"CITATION.cff": citation_cff(site_info(root, report, about["date"])),
             "provenance.json": json.dumps({**about, "seed": report.seed}, indent=1,
                                           sort_keys=True) + "\n"}
    files = output_files(rendered, extra)
    with Phase(stream, f"writing {GENERATED}: {counted(len(files) + 2, 'file')} (with the two "
               "manifests), those whose bytes changed", len(files) + 2, "file", "writing") as phase:
        # The timings page is the one output that honestly varies: the manifest leaves it out, and
        # a file of its own records its hash, so that it is verified like the others.
        # (one per edition: timings.md, zh/timings.md, ...)
        volatile = {n: c for n, c in files.items() if n == TIMINGS or n.endswith(f"/{TIMINGS}")}
        files[MANIFEST] = manifest_text(fingerprint, {n: c for n, c in files.items() if n not in volatile}).encode()
        files[VOLATILE] = manifest_text("volatile", volatile).encode()
        written = write_generated(root / GENERATED, files, phase.advance)
    pages = sum(name.endswith(".md") for name in rendered.pages)
    summary = BuildSummary(
        settings=len(runs.full), from_cache=sum(r.cached for r in runs.full.values()),
        pages=pages, figures=len(rendered.figures), files_written=written,
        seconds=time.perf_counter() - started,
        languages=tuple(e.language for e in rendered.editions))
    print(f"built {summary.pages} pages and {summary.figures} figures in {len(summary.languages)} "
          f"language{'s' if len(summary.languages) != 1 else ''} ({', '.join(summary.languages)}) "
          f"from {summary.settings} settings ({summary.from_cache} from the cache) in "
          f"{summary.seconds:.1f} s; {summary.files_written} files changed in {GENERATED}", file=stream)
    return summary


def clean(root: str | Path = ".", stream=sys.stderr) -> None:
    """Remove what builds made (the generated pages, the cache, the site), under the project's
    lock: a build or a site build running now finishes first, and does not recreate it after."""
    root = Path(root)
    with project_lock(root, stream):
        recover_project(root)  # a killed build's trees aside go too
        for path in (root / GENERATED, root / CACHE, root / "site"):
            shutil.rmtree(path, ignore_errors=True)
        (root / EFFECTIVE_MKDOCS).unlink(missing_ok=True)  # written again by the next site build
