"""The spread over runs of the final size, one panel per setting."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..figures import (DASHED, FigureData, Ink, by_kind, by_setting, grid_around, histograms,  # noqa: F401
                       labels, log_axis, log_x, maybe, new_figure, panels, param_words, plain,
                       rounded, series_style)
from ..i18n import _, N_, config_words  # noqa: F401
from ...report.model import Section, SweepFigure  # noqa: F401
from . import FigureKind, FigureRequest


def distribution_data(section: Section, results: Mapping[str, Any],
                      predictions: Mapping[str, Any]) -> FigureData:
    """Per setting: the final per-run log10 mean|M_ij|, a theory density where the theory has
    one, the lecture's statistic once per group of runs, and the lecture's printed value."""
    columns: dict[str, list] = {"setting": [], "kind": [], "log10_value": []}

    def add(setting_id: str, kind: str, values: Sequence[float] | np.ndarray) -> None:
        columns["setting"] += [setting_id] * len(values)
        columns["kind"] += [kind] * len(values)
        columns["log10_value"] += rounded(values)

    density = False
    for setting in section.settings:
        values = results[setting.id].log10_mean_abs
        if len(values) == 0:
            continue
        add(setting.id, "run", values)
        prediction = predictions.get(setting.id)
        if prediction is not None and prediction.mean_abs_law is not None:
            grid = grid_around(values)
            add(setting.id, "theory_grid", grid)
            add(setting.id, "theory_density", prediction.density_log10("mean_abs", grid))
            density = True
        if setting.lecture_averages > 1:
            add(setting.id, f"mean of {setting.lecture_averages} runs",
                results[setting.id].grouped_log10_of_mean(setting.lecture_averages))
        if setting.lecture_log10 is not None:
            add(setting.id, "lecture", [setting.lecture_log10])
    return FigureData(f"{section.id}-distribution", "distribution", section.page,
                      tuple(s.id for s in section.settings), columns,
                      {"labels": labels(section), "density": density,  # what is drawn only:
                       "averages": max((int(k.split()[2]) for k in columns["kind"]
                                        if k.startswith("mean of ")), default=1),
                       "lecture": "lecture" in columns["kind"]})


def draw_distribution(data: FigureData, ink: Ink) -> Any:
    return histograms(data, ink, _("log₁₀ mean |entry| at the end"), lambda setting: "-")


def spread_findings(data: FigureData) -> dict[str, Any]:
    """Per setting: the median and 5–95 % range over runs of its values."""
    meta, kinds = data.meta, by_kind(data)
    return {"spreads": [[config_words(meta["labels"][s]), *(float(np.quantile(kinds[s]["run"], q))
                                                  for q in (0.5, 0.05, 0.95))]
                        for s in data.settings if s in kinds and "run" in kinds[s]]}


KIND = FigureKind(
    "distribution", "section",
    data=lambda r: distribution_data(r.section, r.evidence.runs.full, r.evidence.predictions),
    draw=draw_distribution, findings=spread_findings, words="figures/distribution.j2", default=2)
