"""The report as the rest of stabreport sees it: plain frozen records (pages, sections, settings,
sweeps, claims, verdicts), resolved from the config by stabreport.report.config. No pydantic, no
YAML: what a notebook (stabreport.api) or a template receives imports nothing heavy."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..experiments import Experiment
from ..render.i18n import N_

@dataclass(frozen=True)
class SweepFigure:
    """What a sweep's figure needs of the grid, and what it plots of each cell: the quantity
    whose standard error sizes the cell (see sweeps.cell_runs)."""

    axes: int  # grid axes (0: any, declared elsewhere; not a figure of the report config)
    curves: bool  # series allowed
    measure: str  # the cell statistic it plots, whose standard error sizes a cell (a registered
    # cell statistic: report.statistics)
    standard_error: float  # default target, well below what the figure can show
    # For the method page, in English (N_) and read in the language being rendered (Words).
    unit: str  # of the standard error
    why: str  # why that target is enough


@dataclass(frozen=True)
class Setting:
    id: str
    label: str
    section: str
    experiment: Experiment
    params: Mapping[str, Any]
    runs: int
    norm_runs: int  # runs of the fast path, for the column-length statistics
    lecture_log10: float | None  # log10 of the lecture's single quoted value
    lecture_averages: int  # the lecture's statistic averages this many runs


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    experiment: Experiment
    settings: tuple[Setting, ...]
    page: str
    figures: tuple[str, ...]  # figure kinds, in order
    columns: tuple[str, ...] = ()  # setting statistics its table shows after the built-in columns


HOME = "index"  # the home page's id: MkDocs publishes index.md at the site's root


@dataclass(frozen=True)
class Page:
    id: str  # HOME is the home page; others are published at /<id>/
    title: str
    summary: str | None
    figures: tuple[str, ...] = ()  # report figures on this page (figure kinds of scope "report")
    explorer: bool = False  # the page that holds the explorer

    @property
    def home(self) -> bool:
        return self.id == HOME


@dataclass(frozen=True)
class Verdicts:
    vanishes_below_log10: float
    explodes_above_log10: float

    def of(self, log10_value: float) -> str:
        """The verdict's key, in English ("vanishes"): templates and claims compare it; it is
        translated where it is shown."""
        if log10_value < self.vanishes_below_log10:
            return N_("vanishes")
        if log10_value > self.explodes_above_log10:
            return N_("explodes")
        return N_("stays moderate")


@dataclass(frozen=True)
class CheckSpec:
    kind: str  # "verdict", "least_extreme", "setting_bound" or "cell_bound"
    setting: str  # the setting checked, or the one expected to be least extreme ("" for cells)
    value: str = ""  # the verdict word, for kind "verdict"
    negate: bool = False
    among: tuple[str, ...] = ()
    statistic: str = ""  # for the bounds
    at_least: float | None = None
    at_most: float | None = None
    sweep: str = ""  # for kind "cell_bound": the cell's sweep, curve and grid values
    series: str = ""
    at: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    section: str
    source: str  # "lecture" (shown whatever it finds) or "site" (must hold under --strict)
    statement: str
    quote: str | None
    checks: tuple[CheckSpec, ...]


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Any, ...]
    log: bool = False


@dataclass(frozen=True)
class Series:
    """One curve of a sweep: an experiment and the parameters it adds to the sweep's."""

    id: str
    label: str
    experiment: Experiment
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Sweep:
    id: str
    title: str
    experiment: Experiment
    params: Mapping[str, Any]  # the fixed parameters
    axes: tuple[Axis, ...]
    runs: int
    seed: int
    page: str = "phase"
    figure: str = "phase"  # a figure kind of scope "sweep" (stabreport.render.kinds)
    series: tuple[Series, ...] = ()  # curves; none: the sweep's experiment and params alone
    # Each cell runs as many networks as the standard error of what the figure plots needs
    # (predicted by the theory, at least MIN_CELL_RUNS), and at most `runs`; None: `runs` each.
    standard_error: float | None = None
    metric: str | None = None  # what each cell measures; None: the experiment's sweep metric
    measure: str | None = None  # the cell statistic whose standard error sizes a cell; None: what
    # its figure kind plots (SweepFigure.measure)

    @property
    def plotted(self) -> str:
        """The cell statistic that sizes its cells: `measure`, else what its figure plots."""
        if self.measure is not None:
            return self.measure
        from ..render.kinds import FIGURES

        return FIGURES.get(self.figure).sweep.measure

    @property
    def curves(self) -> tuple[Series, ...]:
        return self.series or (Series("", "", self.experiment, {}),)

    @property
    def cells(self) -> int:
        return len(self.curves) * math.prod(len(axis.values) for axis in self.axes)

    def cell_params(self) -> list[tuple[Series, dict[str, Any]]]:
        """(curve, canonical parameters) of every cell, curve by curve, in grid order."""
        cells = []
        for curve in self.curves:
            for values in itertools.product(*(axis.values for axis in self.axes)):
                overrides = {**self.params, **curve.params,
                             **dict(zip((a.key for a in self.axes), values))}
                cells.append((curve, curve.experiment.canonical_params(
                    overrides, f"sweep {self.id!r}{' series ' + repr(curve.id) if curve.id else ''}: ")))
        return cells


def grid_axis(experiment: Experiment, key: str, start: float, stop: float, num: int, log: bool,
              where: str = "") -> Axis:
    """NUM values from START to STOP, evenly or log-spaced, rounded to 6 significant digits
    (integers to distinct whole numbers), each validated by the parameter's declaration."""
    import numpy as np

    param = experiment.param(key)
    if num < 1 or num > 4096:
        raise ConfigError(f"{where}N got {num}; allowed: 1 to 4096 values")
    if log and (start <= 0 or stop <= 0):
        raise ConfigError(f"{where}got {start}:{stop} on a log grid; allowed: START, STOP > 0")
    raw = np.geomspace(start, stop, num) if log else np.linspace(start, stop, num)
    if param.kind is int:
        values = tuple(dict.fromkeys(int(round(v)) for v in raw))  # distinct, in order
    else:
        values = tuple(float(f"{v:.6g}") for v in raw)
    return Axis(key, tuple(param.validate(v, where) for v in values), log)


@dataclass(frozen=True)
class Report:
    title: str
    seed: int
    verdicts: Verdicts
    sections: tuple[Section, ...]
    source: str  # where the overrides came from, for the method page
    claims: tuple[ClaimSpec, ...] = ()
    theory_tolerance: float = 0.2  # decades allowed to approximate theory
    false_alarm_rate: float = 1e-3  # of the build's statistical tests together (claims.Family)
    authors: tuple[str, ...] = ("The stabreport authors",)  # for citations
    sweeps: tuple[Sweep, ...] = ()
    pages: tuple[Page, ...] = ()
    # The explorer page's grids narrowed by the config: experiment -> parameter -> values (each
    # a subset of what its `explore` declaration offers), and the most runs per cell.
    explorer_grid: Mapping[str, Mapping[str, tuple[Any, ...]]] = field(default_factory=dict)
    explorer_runs: int | None = None
    languages: tuple[str, ...] = ("en",)  # the site's editions; the first is English

    @property
    def settings(self) -> tuple[Setting, ...]:
        return tuple(s for section in self.sections for s in section.settings)

    def setting(self, setting_id: str) -> Setting:
        for s in self.settings:
            if s.id == setting_id:
                return s
        raise KeyError(setting_id)

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)


# The records whose words (i18n.TRANSLATED_KEYS) an edition in another language translates.
RECORDS = (Report, Section, Setting, Page, Sweep, Series, ClaimSpec, Verdicts)
