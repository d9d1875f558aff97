"""The final column length of every run against the theory's law, one panel per setting."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, param_words, plain,
                       rounded, series_style)
from ..i18n import _, N_  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest
from .distribution import spread_findings


def law_data(section: Section, norm_u: Mapping[str, np.ndarray],
             predictions: Mapping[str, Any]) -> FigureData:
    """Per setting: the per-run log10 ‖M u‖ against the theory's density for it."""
    columns: dict[str, list] = {"setting": [], "kind": [], "log10_value": []}
    for setting in section.settings:
        values = norm_u[setting.id]
        if len(values) == 0:
            continue
        grid = grid_around(values)
        for kind, numbers in (("run", values), ("theory_grid", grid),
                              ("theory_density", predictions[setting.id].density_log10("norm_u", grid))):
            columns["setting"] += [setting.id] * len(numbers)
            columns["kind"] += [kind] * len(numbers)
            columns["log10_value"] += rounded(numbers)
    return FigureData(f"{section.id}-law", "law", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": labels(section), "runs": max(len(v) for v in norm_u.values()),
                       "exact": {s.id: bool(predictions[s.id].exact) for s in section.settings}})


def draw_law(data: FigureData, ink: Ink) -> Any:
    return histograms(data, ink, _("log₁₀ ‖M u‖ at the end (u the first basis vector)"),
                       lambda setting: "-" if data.meta["exact"][setting] else DASHED)


def _has_theory(section: Any) -> bool:
    return all(s.experiment.has_theory(s.params) for s in section.settings)


KIND = FigureKind(
    "law", "section",
    data=lambda r: law_data(r.section, {s.id: r.evidence.runs.log10_norm_u(s.id)
                                        for s in r.section.settings}, r.evidence.predictions),
    draw=draw_law, findings=spread_findings, words="figures/law.j2", default=3,
    available=_has_theory, column_lengths=True)
