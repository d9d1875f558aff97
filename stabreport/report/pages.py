"""The registry of pages and of the figures on them, read from the report config.

One declaration (`pages:` and each section's and sweep's page) gives the navigation, the home
page's list of pages, the figure index and every figure's number on its page: a new page or a new
section's figures appear in all of them without hand edits.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model import Page, Report

GAIN_PAGE = "theory"  # where the gain-against-scale figure goes


@dataclass(frozen=True)
class FigureSpec:
    """A figure the report will have, known before anything runs."""

    id: str
    kind: str  # trajectory, distribution, law, spectrum; gain; phase, depth, dead
    page: str
    number: int  # its number on its page, in order of appearance
    section: str | None = None  # the section it belongs to (section figures)
    sweep: str | None = None  # the sweep it shows (phase diagrams)
    settings: tuple[str, ...] = ()  # the settings whose results it needs


def _section_kinds(report: Report, section_id: str) -> list[str]:
    """The figures a section asks for that it can have: a law needs a theory, a spectrum an
    experiment that tracks one."""
    section = report.section(section_id)
    with_theory = all(s.experiment.theory is not None for s in section.settings)
    return [kind for kind in section.figures
            if (kind != "law" or with_theory) and (kind != "spectrum" or section.experiment.spectrum)]


def gain_settings(report: Report) -> tuple[str, ...]:
    """Settings on the gain-against-scale figure: those with a theory and a weight scale."""
    return tuple(s.id for s in report.settings
                 if s.experiment.theory is not None and s.experiment.scale_param is not None
                 and s.experiment.effective_scale(s.params) is not None)


def figure_specs(report: Report) -> list[FigureSpec]:
    """Every figure, page by page in navigation order, numbered within its page."""
    specs: list[FigureSpec] = []
    gains = gain_settings(report)
    for page in report.pages:
        number = 0
        for section in report.sections:
            if section.page != page.id:
                continue
            for kind in _section_kinds(report, section.id):
                number += 1
                specs.append(FigureSpec(f"{section.id}-{kind}", kind, page.id, number,
                                        section=section.id,
                                        settings=tuple(s.id for s in section.settings)))
        if page.id == GAIN_PAGE and gains:
            number += 1
            specs.append(FigureSpec("gain-vs-scale", "gain", page.id, number, settings=gains))
        for sweep in report.sweeps:
            if sweep.page == page.id:
                number += 1
                specs.append(FigureSpec(f"{sweep.figure}-{sweep.id}", sweep.figure, page.id, number,
                                        sweep=sweep.id))
    return specs


def page_of(report: Report, page_id: str) -> Page:
    return next(p for p in report.pages if p.id == page_id)
