"""Jinja2 rendering: the environment, the filters that format numbers and verdicts, and the plain
views of results that templates receive. Templates hold the prose; they get numbers and words
from here and compute nothing beyond comparisons.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import shlex
import traceback
from dataclasses import dataclass
from dataclasses import field as dataclasses_field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jinja2
import numpy as np
from markupsafe import Markup

from . import i18n
from .cite import bibtex_authors, bibtex_escape, site_info
from ..report.claims import Agreement, ClaimResult, Measured, median_standard_error
from ..report.model import Report, Setting
from ..report.statistics import CELL_STATISTICS, SETTING_STATISTICS, SettingFacts
from ..errors import BuildError
from ..experiments import experiments
from .figures import FORMATS, FigureData, data_json
from .kinds import FIGURES, shipped_templates
from .languages import language
from .formatting import ConfigText, Words, attribute_literal, orders, pow10, signed
from ..report.pages import FigureSpec
from .phase import STABLE_DECADES
from ..core.results import FULL, TANGENT, Result
from .i18n import N_

PATH_WORDS = {FULL: N_("full"), TANGENT: N_("tangent")}  # the timings page's words for the paths
from ..theory import Prediction

PAGE_SUFFIX = ".md.j2"


SECTION_PAGE = "experiment-page.md.j2"  # a page of sections without a template of its own


@dataclass(frozen=True)
class FigureView:
    id: str
    kind: str
    number: int
    page: str  # the page it appears on, e.g. "mlp"; its URL is <site>/<page>.html#<id>
    section: str | None
    settings: tuple[str, ...]  # ids of the settings it shows
    meta: Mapping[str, Any]
    title: Markup  # escaped already: config text in it is literal
    caption: Markup
    plain_title: str  # as plain text, for BibTeX and the JSON download
    alt: str  # what it shows, in numbers, as plain text (the image's alt text)
    formats: tuple[str, ...]
    command: str  # prints the figure's CSV download, byte for byte
    json_download: bytes
    original_title: str | None = None  # the English title, in an edition of another language
    column_lengths: bool = False  # it shows ‖M u‖: the runs behind it are the fast path's


@dataclass(frozen=True)
class SettingView:
    id: str
    label: str
    section: str
    page: str
    experiment: str
    description: str  # the setting in words, from the experiment's declaration
    params: Mapping[str, Any]
    runs: int
    seed: int
    steps: int
    step_label: str
    width: int
    start: float  # log10 mean|M_ij| before the first step (M = I)
    median: float | None  # of the per-run log10 mean|M_ij| (None: every run died)
    q05: float | None
    q95: float | None
    averages: int  # runs averaged by the lecture's statistic
    stat_median: float | None  # median over repetitions of the lecture's statistic (log10)
    stat_q05: float | None
    stat_q95: float | None
    stat_count: int
    lecture: float | None  # log10 of the lecture's quoted value
    elapsed: float
    cached: bool
    command: str  # the full path's numbers
    norm_command: str | None  # the fast path's column lengths, where it ran
    measured: Measured | None  # None: every run died
    theory: Prediction | None
    agreement: Agreement | None
    dead: int = 0  # runs whose matrix ended exactly zero
    spectrum: Mapping[str, float] | None = None  # medians of the spectrum metrics, where run
    stat_se: float | None = None  # standard error of stat_median (None: fewer than two values)
    thresholds: tuple[float, float] = (-3.0, 3.0)  # the verdicts' bounds (log10)
    columns: tuple["ColumnValue", ...] = ()  # the section's statistic columns, in its order
    # Its full path formed a matrix, whose sizes are its statistics (the key findings list it);
    # False for a training run or a normalised MLP's batch gradient.
    sized: bool = True

    def statistic(self, name: str) -> float | None:
        """The value of the section's statistic column `name` (None: not a column, or no value)."""
        return next((c.value for c in self.columns if c.name == name), None)

    @property
    def verdict_margin(self) -> float | None:
        """How many standard errors stat_median lies from the nearer verdict bound: the
        verdict is decided with this margin."""
        if self.stat_median is None or not self.stat_se:
            return None
        return min(abs(self.stat_median - t) for t in self.thresholds) / self.stat_se

    @property
    def alive(self) -> bool:
        """Some run lived, so the statistics exist."""
        return self.measured is not None

    @property
    def dead_fraction(self) -> float:
        return self.dead / self.runs

    @property
    def lecture_position(self) -> str | None:
        """Where the lecture's printed value lies against the 5–95 % band of the same statistic
        here: "inside", "above" or "below" (None: the lecture printed none, or no run lived)."""
        if self.lecture is None or self.stat_q05 is None or self.stat_q95 is None:
            return None
        if self.lecture > self.stat_q95:
            return "above"
        return "below" if self.lecture < self.stat_q05 else "inside"

    @property
    def distance_from_one(self) -> float:
        """How far the typical lecture statistic is from 1, in decades."""
        return abs(self.stat_median)

    @property
    def gain_per_step(self) -> float | None:
        """Typical log10 change of the column length ‖M u‖ per factor or layer (‖u‖ = 1)."""
        return None if self.measured is None else self.measured.median_norm_u / self.steps

    @property
    def theory_gain_per_step(self) -> float | None:
        return None if self.theory is None else self.theory.median_log10_norm_u / self.steps


@dataclass(frozen=True)
class ColumnValue:
    """One statistic column of a section's table: its declaration's words and one setting's value."""

    name: str
    title: str  # the statistic's words (marked with N_; templates translate them with |t)
    value: float | None  # None: not defined (every run died)
    log10: bool  # shown as a power of ten; else a plain number
    places: int
    unit: str


@dataclass(frozen=True)
class SectionView:
    id: str
    title: str
    experiment: str
    page: str
    summary: str  # the experiment's one-sentence summary
    settings: tuple[SettingView, ...]
    figures: tuple[FigureView, ...]
    claims: tuple[ClaimResult, ...]  # lecture and site claims declared for this section
    table_number: int  # the number of the section's table on its page
    has_theory: bool
    template: str  # the section's prose
    introduction: Mapping[str, Any] = dataclasses_field(default_factory=dict)  # the experiment's
    # facts about what the section's settings share (see Experiment.introduce)
    columns: tuple[str, ...] = ()  # the setting statistics its table shows (their titles: first
    # setting's `columns`)
    table: str = "partials/setting_table.md.j2"  # its table's template (Experiment.table)

    @property
    def living(self) -> tuple[SettingView, ...]:
        """The settings with statistics: those in which some run lived."""
        return tuple(s for s in self.settings if s.alive)


@dataclass(frozen=True)
class PageView:
    id: str
    title: str
    summary: str | None
    sections: tuple[SectionView, ...]
    figures: tuple[FigureView, ...]  # every figure on the page, in order
    home: bool = False  # the home page (report.model.HOME)


class Translated(ConfigText):
    """Config text in the language being rendered, with the words it was written in."""

    def __new__(cls, text: str, original: str) -> "Translated":
        translated = super().__new__(cls, text)
        translated.original = original
        return translated


def _original(text: Any) -> Any:
    """Config text as it was written (before `localized` translated it)."""
    return getattr(text, "original", text)


def localized(report: Report, missing: set[str] | None = None) -> Report:
    """The report with its words (titles, summaries, labels and statements, the keys
    i18n.TRANSLATED_KEYS names, of its records: report.model.RECORDS) in the language being
    rendered; ids, parameters and numbers unchanged. The report itself where that language is
    English. Config text is translated from the report catalogues only, and what they lack is
    added to `missing` (shown as written); words a declaration gives (a plug-in experiment's
    page title) from the code's catalogues."""
    if i18n.current() == i18n.SOURCE:
        return report
    from ..report.model import RECORDS

    def words(old: str) -> str:
        if not isinstance(old, ConfigText):
            return i18n._(old)
        found = i18n.config_text(str(old))
        if found is None and missing is not None:
            missing.add(str(old))
        return old if found is None else found

    def translate(value: Any) -> Any:
        if isinstance(value, tuple):
            items = tuple(translate(v) for v in value)
            return items if any(a is not b for a, b in zip(items, value)) else value
        if not isinstance(value, RECORDS):
            return value
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            if f.name in i18n.TRANSLATED_KEYS and isinstance(old, str) and old:
                new = Translated(words(old), old)
            else:
                new = translate(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value

    return translate(report)


def run_command(setting: Setting, seed: int, path: str = FULL, spectrum: bool = False) -> str:
    from ..core.params import set_options

    sets = set_options(setting.params)
    runs = setting.runs if path == FULL else setting.norm_runs
    fast = f" --path {path}" if path != FULL else (" --spectrum" if spectrum else "")
    return f"stabreport run {setting.experiment.name} {sets}{fast} --runs {runs} --seed {seed}"


def figure_command(figure_id: str, config: str | None) -> str:
    return f"stabreport figure {figure_id}" + (f" --config {shlex.quote(config)}" if config else "")


def setting_view(setting: Setting, page: str, result: Result, seed: int,
                 theory: Prediction | None, measured: Measured | None, agreement: Agreement | None,
                 has_norms: bool, thresholds: tuple[float, float] = (-3.0, 3.0)) -> SettingView:
    """A setting as templates see it; its statistics are None where every run died."""
    summary = result.summary
    stats: list[float | None] = [None, None, None]
    count, stat_se = 0, None
    if summary is not None and "log10_mean_abs" in result.metrics:  # a matrix was formed
        statistic = result.grouped_log10_of_mean(setting.lecture_averages)
        if len(statistic) == 0:  # fewer runs than the lecture averaged: one (partial) statistic
            statistic = np.array([summary.log10_of_mean])
        stats = [float(v) for v in np.quantile(statistic, [0.05, 0.5, 0.95])]
        count = len(statistic)
        stat_se = median_standard_error(statistic) if count > 1 else None
    experiment = setting.experiment
    width = experiment.width(setting.params)
    return SettingView(
        id=setting.id, label=setting.label, section=setting.section, page=page,
        experiment=experiment.name, description=experiment.words(setting.params),
        params=dict(setting.params), runs=result.runs, seed=seed,
        steps=experiment.steps(setting.params), step_label=experiment.step_label, width=width,
        start=-math.log10(width), median=summary.median if summary else None,
        q05=summary.q05 if summary else None, q95=summary.q95 if summary else None,
        averages=setting.lecture_averages, stat_median=stats[1], stat_q05=stats[0],
        stat_q95=stats[2], stat_count=count, lecture=setting.lecture_log10,
        elapsed=result.elapsed, cached=result.cached,
        command=run_command(setting, seed, spectrum=result.log10_sv is not None),
        norm_command=run_command(setting, seed, TANGENT) if has_norms else None,
        measured=measured, theory=theory, agreement=agreement, dead=result.dead,
        spectrum=_spectrum_medians(result), stat_se=stat_se, thresholds=thresholds,
        sized=experiment.forms_matrix(setting.params))


def plain_number(value: float, places: int = 2) -> str:
    """A plain number with `places` decimals (a true minus sign), in scientific notation from
    10⁴ on: a loss may be astronomic."""
    if abs(value) >= 1e4:
        return ("−" if value < 0 else "") + pow10(math.log10(abs(value)))
    return f"{value:.{places}f}".replace("-", "−")


def _spectrum_medians(result: Result) -> dict[str, float] | None:
    """Medians over runs of the spectrum metrics, where they were computed."""
    if result.alive == 0:
        return None
    names = ("log10_sv_q10", "log10_sv_q50", "log10_sv_q90", "sv_rank")
    if not all(name in result.metrics for name in names):
        return None
    out = {name: float(np.median(result.metrics[name])) for name in names}
    out["spread"] = float(np.median(result.metrics["log10_sv_q90"] - result.metrics["log10_sv_q10"]))
    return out


def _config_argument(root: Path, report: Report) -> str | None:
    """How the printed commands name the config the site was built from (None: the default
    lookup, ./stabreport.yml or the built-in report, finds it)."""
    source = Path(report.source)
    if report.source in ("default_report.yml", "stabreport.yml") or source == root / "stabreport.yml":
        return None
    try:
        return source.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(source)


def build_context(env: jinja2.Environment, root: Path, report: Report, evidence: Any,
                  checks: Any, specs: Sequence[FigureSpec], datas: Sequence[FigureData],
                  build_info: Mapping[str, Any]) -> dict[str, Any]:
    """Everything templates see: pages, sections, settings and figures as plain views."""
    runs, predictions = evidence.runs, evidence.predictions
    gains, diagrams = evidence.gains, evidence.diagrams
    site = site_info(root, report, build_info["date"])
    settings = {s.id: setting_view(s, section.page, runs.full[s.id], report.seed,
                                   predictions[s.id], checks.measured[s.id],
                                   checks.agreements[s.id], runs.norms.get(s.id) is not None,
                                   (report.verdicts.vanishes_below_log10,
                                    report.verdicts.explodes_above_log10))
                for section in report.sections for s in section.settings}
    for section in report.sections:  # the statistics a section's table shows, as declared
        for s in section.settings:
            view = settings[s.id]
            facts = SettingFacts(s, runs.full[s.id], runs.norms.get(s.id), checks.measured[s.id],
                                 view.stat_median)
            settings[s.id] = dataclasses.replace(view, columns=tuple(
                ColumnValue(name, stat.title, stat.read(facts), stat.log10, stat.places, stat.unit)
                for name, stat in ((n, SETTING_STATISTICS.get(n)) for n in section.columns)))
    # Each kind's words (its template's title, caption and alt macros), escaped for the page and
    # without escaping for the BibTeX entry, the JSON download and the alt text.
    plain_env = env.overlay(autoescape=False)
    words = {kind: (env.get_template(FIGURES.get(kind).words).module,
                    plain_env.get_template(FIGURES.get(kind).words).module)
             for kind in dict.fromkeys(spec.kind for spec in specs)}
    config = _config_argument(root, report)
    figures = []
    for spec, data in zip(specs, datas):
        section = report.section(spec.section) if spec.section else None
        sweep = next((w for w in report.sweeps if w.id == spec.sweep), None)
        facts = {"kind": data.kind, "meta": data.meta, "section_title": section.title if section else "",
                 "sweep_title": sweep.title if sweep else "", "number": spec.number,
                 "settings": [settings[i] for i in data.settings if i in settings],
                 "findings": FIGURES.get(data.kind).findings(data)}
        texts, plain_texts = words[spec.kind]
        title = Markup(" ".join(str(texts.title(facts)).split()))
        caption = Markup(" ".join(str(texts.caption(facts)).split()))
        plain_title = " ".join(str(plain_texts.title(facts)).split())
        plain_caption = Markup(" ".join(str(plain_texts.caption(facts)).split())).striptags()
        # The alt text: the title as a sentence, then what the figure shows in numbers.
        alt = " ".join((i18n._("%(title)s.") % {"title": plain_title} + " "
                        + str(plain_texts.alt(facts))).split())
        original_title = None
        if i18n.current() != i18n.SOURCE:  # for citations: the title the English edition gives
            english = {**facts, "section_title": _original(facts["section_title"]),
                       "sweep_title": _original(facts["sweep_title"])}
            with i18n.speaking(root, i18n.SOURCE):
                original_title = " ".join(str(plain_texts.title(english)).split())
        shown = {i: {"experiment": report.setting(i).experiment.name,
                     "params": dict(report.setting(i).params), "runs": report.setting(i).runs,
                     "seed": report.seed} for i in sorted(data.settings)}
        try:  # a NaN or an infinity never reaches a data file
            download = data_json(data, plain_title, plain_caption, shown)
        except ValueError:
            raise BuildError(f"figure {data.id}: its data holds a NaN or an infinity") from None
        figures.append(FigureView(data.id, data.kind, spec.number, spec.page, spec.section,
                                  data.settings, data.meta, title, caption, plain_title, alt,
                                  tuple(FORMATS), figure_command(data.id, config), download,
                                  original_title, FIGURES.get(data.kind).column_lengths))
    tables: dict[str, int] = {}
    sections = []
    for section in report.sections:
        tables[section.page] = tables.get(section.page, 0) + 1
        views = tuple(settings[s.id] for s in section.settings)
        sections.append(SectionView(
            id=section.id, title=section.title, experiment=section.experiment.name,
            page=section.page, summary=i18n._(section.experiment.summary), settings=views,
            figures=tuple(f for f in figures if f.section == section.id),
            claims=tuple(c for c in checks.claims if c.section == section.id),
            table_number=tables[section.page],
            has_theory=all(v.theory is not None for v in views),
            template=section_template(env, section.id, section.experiment.template),
            introduction=_introduction(section), columns=section.columns,
            table=section.experiment.table))
    pages = [PageView(p.id, p.title, p.summary, tuple(s for s in sections if s.page == p.id),
                      tuple(f for f in figures if f.page == p.id), p.home) for p in report.pages]
    timings = [{"setting": s.id, "path": path, "path_name": i18n._(PATH_WORDS[path]),
                "runs": result.runs, "cached": result.cached, "seconds": result.elapsed}
               for s in report.settings
               for path, result in ((FULL, runs.full[s.id]), (TANGENT, runs.norms.get(s.id)))
               if result is not None]
    return {
        "report": report, "site": site, "build": build_info, "pages": pages,
        "page_index": {p.id: p for p in pages}, "sections": sections, "settings": settings,
        "figure_list": figures, "figure_index": {f.id: f for f in figures},
        "claims": checks.claims, "theory_claims": checks.theory_claims,
        "curves": gains.curves if gains else [],
        # each diagram with its sweep as the report has it (localized: its title in this language)
        "phases": [dataclasses.replace(d, sweep=next(w for w in report.sweeps if w.id == d.sweep.id))
                   for d in diagrams],
        "sweeps": {sweep.id: sweep for sweep in report.sweeps},
        "precision": sweep_precision(report, evidence),
        "cells": {sweep_id: cells for sweep_id, cells in evidence.cells.items()},
        "experiments": experiments(), "timings": timings,
        "thresholds": {"z_limit": checks.family.z_limit, "ks_alpha": checks.family.ks_alpha,
                       "stable_decades": STABLE_DECADES,
                       "theory_tolerance": report.theory_tolerance},
        "family": checks.family,
    }


@dataclass(frozen=True)
class SweepPrecision:
    """How precisely a sweep's figure shows its cells, for the method page."""

    sweep: Any  # config.Sweep
    measure: str  # what the figure plots (config.SweepFigure.measure)
    unit: str
    why: str
    cells: int
    runs_min: int
    runs_max: int
    largest_error: float | None  # the largest measured standard error of a cell
    over_target: int  # cells whose error exceeds the target (held at the sweep's `runs`)
    crossing_error: float | None  # the largest standard error of a crossing, in grid steps
    agreement_margin: float | None  # the smallest margin of a crossing's agreement verdict
    plots: str = ""  # what the figure plots, in words (the cell statistic's, marked with N_)
    plots_title: str = ""
    diagram: bool = False  # its figure is a phase diagram (critical scale per row)


def sweep_precision(report: Report, evidence: Any) -> list[SweepPrecision]:
    out = []
    for sweep in report.sweeps:
        cells = evidence.cells.get(sweep.id)
        if not cells:
            continue
        figure = FIGURES.get(sweep.figure).sweep
        errors = [e for e in (c.standard_error(figure.measure) for c in cells) if e is not None]
        target = sweep.standard_error
        diagram = next((d for d in evidence.diagrams or () if d.id == sweep.id), None)
        rows = diagram.rows if diagram else ()
        crossing = [r.crossing_error for r in rows if r.crossing_error is not None]
        margins = [r.agreement_margin for r in rows if r.agreement_margin is not None]
        out.append(SweepPrecision(
            sweep, figure.measure, figure.unit, figure.why, len(cells),
            min(c.runs for c in cells), max(c.runs for c in cells), max(errors, default=None),
            sum(1 for e in errors if target is not None and e > 1.5 * target),
            max(crossing, default=None), min(margins, default=None),
            CELL_STATISTICS.get(figure.measure).plots, CELL_STATISTICS.get(figure.measure).plots_title,
            FIGURES.get(sweep.figure).diagram))
    return out


def _introduction(section: Any) -> Mapping[str, Any]:
    """The experiment's introduction of what every setting of the section shares."""
    introduce = section.experiment.introduce
    if introduce is None:
        return {}
    first, *others = (dict(s.params) for s in section.settings)
    return introduce({k: v for k, v in first.items() if all(o.get(k) == v for o in others)})


def section_template(env: jinja2.Environment, section_id: str, default: str) -> str:
    """The prose of a section: templates/sections/<id>.md.j2 if the project has one, else its
    experiment's template (the project's copy first, then the one its package ships)."""
    for name in (f"sections/{section_id}.md.j2", default, "sections/generic.md.j2"):
        try:
            env.get_template(name)
            return name
        except jinja2.TemplateNotFound:
            continue
    raise BuildError(f"section {section_id}: no template {default!r} and no sections/generic.md.j2")


def _anchor(text: Any) -> str:
    """The id MkDocs gives a heading of this text (Markdown's own slugify, imported only when a
    page is rendered: stabreport.api does not load Markdown)."""
    from markdown.extensions.toc import slugify

    return slugify(str(_original(text)), "-")


def make_environment(templates: Sequence[Path], report: Report) -> jinja2.Environment:
    """The Jinja environment of a project: its template folders in order (the project's own,
    then stabreport's), then what plug-in experiments ship; the first match wins, so a project
    overrides any shipped template by putting one at the same relative path."""
    shipped = {name: source for e in experiments() for name, source in e.templates.items()}
    shipped |= shipped_templates()  # the words of plug-in figure kinds
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader([str(t) for t in templates]),
                                    jinja2.DictLoader(shipped)]),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # text from the config never becomes markup
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    i18n.install(env)  # {% trans %} and _() speak the language being rendered
    env.filters.update(_filters(report))
    # `settings|selectattr("stat_median", "verdict_is", v)`: the settings whose verdict is v
    env.tests["verdict_is"] = lambda log10_value, verdict: (
        log10_value is not None and report.verdicts.of(log10_value) == verdict)
    return env


def _filters(report: Report) -> dict[str, Callable[..., Any]]:
    def verdict(log10_value: float) -> Words:
        # Compares as its name ("vanishes", as the config and the templates' tests write it),
        # reads in the language being rendered.
        return Words(report.verdicts.of(log10_value))

    def cell(text: Any) -> Any:
        # A '|' would split a Markdown table cell. Config text escapes its own (see ConfigText).
        if hasattr(text, "__html__"):
            return Markup(text.__html__())
        return str(text).replace("|", "\\|")

    def holds(value: bool) -> str:
        return i18n._("holds") if value else i18n._("does not hold")

    return {"sci": pow10, "signed": signed, "orders": orders, "verdict": verdict, "cell": cell,
            "holds": holds, "bibtex": bibtex_escape, "bibtex_authors": bibtex_authors,
            "attribute": attribute_literal,
            "decimal": lambda value, places=2: f"{value:.{places}f}".replace("-", "−"),
            # A probability or a level: 0.001 as it reads, 1.7 × 10⁻⁵ when smaller.
            "probability": lambda value: f"{value:.2g}" if value >= 1e-3 else pow10(math.log10(value)),
            "ratio": lambda log10_value: f"{10 ** log10_value:.2f}",
            # A loss or another plain number that may be astronomic: 2.30, 1.3 × 10³⁷.
            "loss": lambda value: plain_number(value),
            "number": lambda value, places=2: plain_number(value, places),
            "tojson_compact": lambda value: json.dumps(value, ensure_ascii=False),
            # A word declared in code (an experiment's title, summary, a parameter's help),
            # marked there with N_(), in the language being rendered (no %-formatting, unlike _()).
            "t": i18n._,
            # A heading's id in every edition: the one its English words give (as MkDocs would).
            "anchor": _anchor}


# Chinese and Japanese put no space after their full-width punctuation, and a browser shows a
# line break between two of their characters as one: where two sentences (two messages) of the
# same line meet, the space between them goes, and so does a break inside a paragraph between
# such characters (a Han character never starts a Markdown block, so the paragraph stays one).
_CJK = "\u4e00-\u9fff"
_FULL_WIDTH_SPACE = re.compile(rf"(?<=[。，；：！？）」』、])[ \t]+(?=\S)"
                               rf"|(?<=[{_CJK}。，；：！？）」』、])\n[ \t]*(?=[{_CJK}（「『])")


def closed_up(text: str) -> str:
    """A page in the language being rendered, without the spaces its script does not use."""
    if not language(i18n.current()).spaceless:
        return text
    return _FULL_WIDTH_SPACE.sub("", text)


def render_pages(env: jinja2.Environment, context: Mapping[str, Any]) -> dict[str, str]:
    """Render every page of the registry; collect every failure before raising."""
    pages, problems = {}, []
    for page in context["pages"]:
        name = f"{page.id}{PAGE_SUFFIX}"
        try:
            template = env.get_template(name if _exists(env, name) else SECTION_PAGE)
            pages[f"{page.id}.md"] = closed_up(template.render({**context, "page": page}))
        except Exception as error:  # noqa: BLE001 - a template's failure is named by its line
            problems.append(_describe_template_error(error, name, env))
    if problems:
        raise BuildError("\n".join(problems))
    return pages


def _exists(env: jinja2.Environment, name: str) -> bool:
    try:
        env.get_template(name)
        return True
    except jinja2.TemplateNotFound:
        return False


def _describe_template_error(error: Exception, page: str, env: jinja2.Environment) -> str:
    """Where a template failed: a project's own template as the project names it
    (templates/<name>:<line>), a shipped one by its path in the package."""
    from ..project import shipped

    package = shipped("templates")

    def where(path: Path, root: Path) -> str:
        return str(path) if root == package else f"templates/{path.relative_to(root).as_posix()}"

    searchpath = getattr(getattr(env.loader, "loaders", [env.loader])[0], "searchpath", [])
    roots = [Path(p).resolve() for p in searchpath]
    if isinstance(error, jinja2.TemplateSyntaxError):
        found = Path(error.filename).resolve() if error.filename else None
        for root in roots:
            if found is not None and found.is_relative_to(root):
                return f"{where(found, root)}:{error.lineno}: {error.message}"
        return f"templates/{error.name or page}:{error.lineno}: {error.message}"
    message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
    # Jinja maps its frames back to template files and lines: report the innermost one.
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename).resolve()
        for root in roots:
            if path.is_relative_to(root):
                return f"{where(path, root)}:{frame.lineno}: {message}"
    return f"templates/{page}: {message}"
