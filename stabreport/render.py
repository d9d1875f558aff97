"""Jinja2 rendering: the environment, the filters that format numbers and verdicts, and the plain
views of results that templates receive. Templates hold the prose; they get numbers and words
from here and compute nothing beyond comparisons.
"""
from __future__ import annotations

import math
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jinja2
import numpy as np

from .cite import bibtex_escape
from .claims import Agreement, ClaimResult
from .config import Report, Setting
from .errors import BuildError
from .figures import Figure
from .formatting import orders, pow10, signed
from .results import Result
from .theory import Prediction

PAGE_SUFFIX = ".md.j2"


@dataclass(frozen=True)
class FigureView:
    id: str
    number: int
    title: str
    caption: str
    formats: tuple[str, ...]
    page: str  # the page it appears on, e.g. "mlp"; its URL is <site>/<page>/#<id>
    settings: tuple[str, ...]  # ids of the settings it shows


@dataclass(frozen=True)
class SettingView:
    id: str
    label: str
    section: str
    experiment: str
    params: Mapping[str, Any]
    runs: int
    seed: int
    steps: int
    step_label: str
    width: int
    start: float  # log10 mean|M_ij| before the first step (M = I)
    median: float  # of the per-run log10 mean|M_ij|
    q05: float
    q95: float
    averages: int  # runs averaged by the lecture's statistic
    stat_median: float  # median over repetitions of the lecture's statistic (log10)
    stat_q05: float
    stat_q95: float
    stat_count: int
    lecture: float | None  # log10 of the lecture's quoted value
    elapsed: float
    cached: bool
    command: str
    theory: Prediction
    agreement: Agreement

    @property
    def distance_from_one(self) -> float:
        """How far the typical lecture statistic is from 1, in decades."""
        return abs(self.stat_median)

    @property
    def gain_per_step(self) -> float:
        """Typical log10 change of the column length ‖M u‖ per factor or layer (‖u‖ = 1)."""
        return self.agreement.measured_median_norm_u / self.steps

    @property
    def theory_gain_per_step(self) -> float:
        return self.theory.median_log10_norm_u / self.steps


@dataclass(frozen=True)
class SectionView:
    id: str
    title: str
    experiment: str
    settings: tuple[SettingView, ...]
    figures: tuple[FigureView, ...]
    claims: tuple[ClaimResult, ...]  # lecture and site claims declared for this section
    table_number: int  # the number of the section's table on its page


def regenerate_command(setting: Setting, seed: int) -> str:
    sets = " ".join(f"--set {k}={v}" for k, v in setting.params.items() if v is not None)
    return f"stabreport run {setting.experiment.name} {sets} --runs {setting.runs} --seed {seed}"


def setting_view(setting: Setting, result: Result, seed: int, theory: Prediction,
                 agreement: Agreement) -> SettingView:
    statistic = result.grouped_log10_of_mean(setting.lecture_averages)
    if len(statistic) == 0:  # fewer runs than the lecture averaged: one (partial) statistic
        statistic = np.array([result.summary.log10_of_mean])
    s05, s50, s95 = (float(v) for v in np.quantile(statistic, [0.05, 0.5, 0.95]))
    summary = result.summary
    experiment = setting.experiment
    width = experiment.width(setting.params)
    return SettingView(
        id=setting.id, label=setting.label, section=setting.section, experiment=experiment.name,
        params=dict(setting.params), runs=result.runs, seed=seed,
        steps=experiment.steps(setting.params), step_label=experiment.step_label, width=width,
        start=-math.log10(width), median=summary.median, q05=summary.q05, q95=summary.q95,
        averages=setting.lecture_averages, stat_median=s50, stat_q05=s05, stat_q95=s95,
        stat_count=len(statistic), lecture=setting.lecture_log10,
        elapsed=result.elapsed, cached=result.cached, command=regenerate_command(setting, seed),
        theory=theory, agreement=agreement)


def figure_views(figures: Sequence[Figure], first_number: int, page: str) -> tuple[FigureView, ...]:
    return tuple(FigureView(f.id, first_number + i, f.title, f.caption, tuple(f.files), page,
                            f.settings) for i, f in enumerate(figures))


def section_views(report: Report, results: Mapping[str, Result],
                  figures: Mapping[str, Sequence[Figure]], predictions: Mapping[str, Prediction],
                  agreements: Mapping[str, Agreement],
                  claims: Sequence[ClaimResult]) -> list[SectionView]:
    """Sections as templates see them; figures are numbered in order of appearance per page."""
    views, numbers, tables = [], {}, {}
    for section in report.sections:
        page = section.experiment.name
        own = figures.get(section.id, ())
        tables[page] = tables.get(page, 0) + 1
        views.append(SectionView(
            id=section.id, title=section.title, experiment=page,
            settings=tuple(setting_view(s, results[s.id], report.seed, predictions[s.id],
                                        agreements[s.id]) for s in section.settings),
            figures=figure_views(own, numbers.get(page, 0) + 1, page),
            claims=tuple(c for c in claims if c.section == section.id),
            table_number=tables[page]))
        numbers[page] = numbers.get(page, 0) + len(own)
    return views


def make_environment(templates: Path, report: Report) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # text from the config never becomes markup
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(_filters(report))
    return env


def _filters(report: Report) -> dict[str, Callable[..., Any]]:
    def verdict(log10_value: float) -> str:
        return report.verdicts.of(log10_value)

    def cell(text: Any) -> str:
        # A '|' in config text would split a Markdown table cell.
        return str(text).replace("|", "\\|")

    def holds(value: bool) -> str:
        return "holds" if value else "does not hold"

    return {"sci": pow10, "signed": signed, "orders": orders, "verdict": verdict, "cell": cell,
            "holds": holds, "bibtex": bibtex_escape,
            "decimal": lambda value, places=2: f"{value:.{places}f}".replace("-", "−"),
            "ratio": lambda log10_value: f"{10 ** log10_value:.2f}"}


def render_pages(env: jinja2.Environment, context: Mapping[str, Any]) -> dict[str, str]:
    """Render every top-level page template; collect every failure before raising."""
    pages, problems = {}, []
    for name in sorted(env.list_templates(filter_func=lambda n: "/" not in n and n.endswith(PAGE_SUFFIX))):
        try:
            pages[name[: -len(PAGE_SUFFIX)] + ".md"] = env.get_template(name).render(context)
        except jinja2.TemplateError as error:
            problems.append(_describe_template_error(error, name, env))
    if problems:
        raise BuildError("\n".join(problems))
    return pages


def _describe_template_error(error: jinja2.TemplateError, page: str, env: jinja2.Environment) -> str:
    if isinstance(error, jinja2.TemplateSyntaxError):
        return f"templates/{error.name or page}:{error.lineno}: {error.message}"
    # Jinja maps its frames back to template files and lines: report the innermost one.
    roots = [Path(p).resolve() for p in getattr(env.loader, "searchpath", [])]
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename).resolve()
        for root in roots:
            if path.is_relative_to(root):
                return f"templates/{path.relative_to(root).as_posix()}:{frame.lineno}: {error.message}"
    return f"templates/{page}: {error.message}"
