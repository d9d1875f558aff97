"""The registry of pages and of the figures on them, read from the report config.

One declaration (`pages:` and each section's and sweep's page) gives the navigation, the home
page's list of pages, the figure index and every figure's number on its page: a new page or a new
section's figures appear in all of them without hand edits.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model import Page, Report



@dataclass(frozen=True)
class FigureSpec:
    """A figure the report will have, known before anything runs."""

    id: str
    kind: str  # a registered figure kind (stabreport.render.kinds)
    page: str
    number: int  # its number on its page, in order of appearance
    section: str | None = None  # the section it belongs to (section figures)
    sweep: str | None = None  # the sweep it shows (sweep figures)
    settings: tuple[str, ...] = ()  # the settings whose results it needs


def section_kinds(report: Report, section_id: str) -> list[str]:
    """The figures a section asks for that it can have (a law needs a theory, a spectrum an
    experiment that tracks one: each kind's `available`)."""
    from ..render.kinds import FIGURES

    section = report.section(section_id)
    return [kind for kind in section.figures if FIGURES.get(kind).available(section)]


def gain_settings(report: Report) -> tuple[str, ...]:
    """Settings on the gain-against-scale figure: those with a theory and a weight scale."""
    return tuple(s.id for s in report.settings
                 if s.experiment.has_theory(s.params) and s.experiment.scale_param is not None
                 and s.experiment.effective_scale(s.params) is not None)


def figure_specs(report: Report) -> list[FigureSpec]:
    """Every figure, page by page in navigation order, numbered within its page: the sections'
    figures, then the report figures the page lists, then its sweeps' figures."""
    from ..render.kinds import FIGURES

    specs: list[FigureSpec] = []
    for page in report.pages:
        number = 0
        for section in report.sections:
            if section.page != page.id:
                continue
            for kind in section_kinds(report, section.id):
                number += 1
                specs.append(FigureSpec(FIGURES.get(kind).id_for(section.id), kind, page.id, number,
                                        section=section.id,
                                        settings=tuple(s.id for s in section.settings)))
        for kind in map(FIGURES.get, page.figures):
            settings = kind.settings(report) if kind.settings else report_settings(report)
            if settings:
                number += 1
                specs.append(FigureSpec(kind.id_for(""), kind.name, page.id, number,
                                        settings=settings))
        for sweep in report.sweeps:
            if sweep.page == page.id:
                number += 1
                specs.append(FigureSpec(FIGURES.get(sweep.figure).id_for(sweep.id), sweep.figure,
                                        page.id, number, sweep=sweep.id))
    return specs


def report_settings(report: Report) -> tuple[str, ...]:
    return tuple(s.id for s in report.settings)


def page_of(report: Report, page_id: str) -> Page:
    return next(p for p in report.pages if p.id == page_id)
