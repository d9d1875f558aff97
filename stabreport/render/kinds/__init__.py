"""Figure kinds: what a figure of the report can be. Each kind is one declaration, a `FigureKind`
registered under the entry-point group `stabreport.figures` (stabreport's own kinds included, one
module each in this package): the data it reads from the build's evidence, how it is drawn, the
few numbers its alt text states, and the template that writes its title, caption and alt text.

Three scopes:
- "section": one figure per section that lists the kind in its `figures:` (id `<section>-<kind>`);
- "sweep": the figure of a sweep whose `figure:` names the kind (id `<kind>-<sweep>`);
- "report": one figure for the whole report, on every page that lists it in its `figures:`.

Nothing else in stabreport names a kind: a plug-in's kind is drawn, captioned, indexed, cited and
reproduced like the built-in ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ...core.registry import Registry
from ...report.model import SweepFigure

GROUP = "stabreport.figures"
SCOPES = ("section", "sweep", "report")
DEFAULT_SWEEP_FIGURE = "phase"  # a sweep without a `figure:`


@dataclass(frozen=True)
class FigureRequest:
    """What a kind's `data` receives: the figure's place in the report and the build's evidence
    (runs, predictions, gain curves, sweep cells, phase diagrams; see publish.build.Evidence)."""

    spec: Any  # report.pages.FigureSpec: id, kind, page, number, section, sweep, settings
    report: Any  # report.model.Report
    evidence: Any

    @property
    def section(self) -> Any:
        return self.report.section(self.spec.section)

    @property
    def sweep(self) -> Any:
        return next(w for w in self.report.sweeps if w.id == self.spec.sweep)

    @property
    def cells(self) -> Sequence[Any]:
        """The sweep's cells (core.sweeps.Cell)."""
        return self.evidence.cells[self.spec.sweep]


def _always(section: Any) -> bool:
    return True


def _no_claims(sweep: Any, cells: Sequence[Any], family: Any = None) -> list[Any]:
    return []


def _any_sweep(sweep: Any) -> str | None:
    return None


@dataclass(frozen=True)
class FigureKind:
    """One kind of figure.

    data(request) -> render.figures.FigureData: every plotted number as columns, plus the facts
        the drawing and the words need in `meta` (JSON-able); its `kind` is this kind's name.
    draw(data, ink) -> a matplotlib Figure, from the record alone (render.figures has helpers).
    findings(data) -> dict: the few numbers the alt text states (read from the record alone).
    words: a template defining the macros title(f), caption(f) and alt(f); `f` has kind, meta,
        findings, number, section_title, sweep_title and settings (the setting views shown).
    """

    name: str
    scope: str  # "section", "sweep" or "report"
    data: Callable[[FigureRequest], Any]
    draw: Callable[[Any, Any], Any]
    findings: Callable[[Any], Mapping[str, Any]]
    words: str  # template name, e.g. "figures/trajectory.j2"
    templates: Mapping[str, str] = field(default_factory=dict)  # what a plug-in ships: name -> source
    default: int = 0  # > 0: a section that lists no figures gets this kind, in this order
    available: Callable[[Any], bool] = _always  # section -> whether it can have this figure
    # Where its settings' results come from: "full" (every matrix), "tangent" (column lengths:
    # the fast path where the experiment has one, else the full path).
    paths: tuple[str, ...] = ("full", "tangent")
    column_lengths: bool = False  # it shows ‖M u‖: its "runs behind it" are the fast path's
    spectrum: bool = False  # its section's full runs must record the singular values
    settings: Callable[[Any], tuple[str, ...]] | None = None  # report scope: report -> settings
    figure_id: str = ""  # "" : "<section>-<kind>" or "<kind>-<sweep>"; a report figure's own id
    sweep: SweepFigure | None = None  # sweep scope: what it needs of the grid and plots per cell
    check_sweep: Callable[[Any], str | None] = _any_sweep  # sweep -> what is wrong with it, or None
    diagram: bool = False  # sweep scope: its cells are summarised as a phase diagram
    # The site's claims on its cells: (sweep, cells, family) -> claims, judged at the level of
    # the build's family of tests (report.claims.Family), and how many tests they make.
    claims: Callable[[Any, Sequence[Any], Any], list[Any]] = _no_claims
    tests: Callable[[Sequence[Any]], int] = lambda cells: 0
    cost: int = 0  # drawn in order of decreasing cost (the slowest first, on a pool)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"figure kind {self.name!r}: scope got {self.scope!r}; allowed: "
                             + ", ".join(SCOPES))
        if (self.scope == "sweep") != (self.sweep is not None):
            raise ValueError(f"figure kind {self.name!r}: a sweep figure declares `sweep` "
                             "(a SweepFigure), no other does")

    @property
    def module(self) -> str:
        """The module that draws it: its drawings are cached by that module's code."""
        return self.draw.__module__

    def id_for(self, owner: str) -> str:
        """The id of its figure of a section or a sweep (or the report's)."""
        if self.scope == "report":
            return self.figure_id or self.name
        return f"{owner}-{self.name}" if self.scope == "section" else f"{self.name}-{owner}"


FIGURES: Registry[FigureKind] = Registry(GROUP, "figure kind", FigureKind)


def kinds(scope: str) -> list[str]:
    """The registered kinds of one scope, by name."""
    return FIGURES.select(lambda kind: kind.scope == scope)


def default_kinds() -> tuple[str, ...]:
    """What a section that does not list its figures gets, in the built-in order."""
    found = [k for k in FIGURES.all() if k.scope == "section" and k.default > 0]
    return tuple(k.name for k in sorted(found, key=lambda k: (k.default, k.name)))


def shipped_templates() -> dict[str, str]:
    """The word templates plug-in kinds ship."""
    return {name: source for kind in FIGURES.all() for name, source in kind.templates.items()}
