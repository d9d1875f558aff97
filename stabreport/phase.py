"""Phase diagrams from sweep results: the measured gain per cell, the measured critical scale per
row (where the gain changes sign along the scale axis), and the theory's critical curve."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .sweeps import Cell, Sweep
from .theory import critical_scale_at

STABLE_DECADES = 3.0  # "alive": the gradient stays within 10^±3 over the whole depth


@dataclass(frozen=True)
class Row:
    value: int  # the width, depth, k or factors of this row
    measured_critical: float | None  # log-linear zero crossing of the measured gain
    theory_critical: float | None
    step: float  # the scale grid's ratio between neighbours, for "within the grid's resolution"

    @property
    def agrees(self) -> bool | None:
        """Measured and theory critical scales within one grid step of each other."""
        if self.measured_critical is None or self.theory_critical is None:
            return None
        return abs(math.log(self.measured_critical / self.theory_critical)) <= math.log(self.step)


@dataclass(frozen=True)
class PhaseDiagram:
    sweep: Sweep
    row_key: str  # "width", "depth", "k" or "factors"
    scales: tuple[float, ...]
    rows: tuple[Row, ...]
    gain: np.ndarray  # (rows, scales): measured median log10 gain per step
    total: np.ndarray  # (rows, scales): measured median log10 over the whole depth
    theory_gain: np.ndarray
    stable_fraction: float  # share of cells within 10^±3 over the whole depth
    activation: str

    @property
    def id(self) -> str:
        return self.sweep.id

    def row(self, value: int) -> Row | None:
        return next((r for r in self.rows if r.value == value), None)


def zero_crossing(scales: Sequence[float], gains: Sequence[float]) -> float | None:
    for (s0, g0), (s1, g1) in zip(zip(scales, gains), zip(scales[1:], gains[1:])):
        if g0 < 0 <= g1:
            t = -g0 / (g1 - g0)
            return math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))
    return None


def phase_diagram(sweep: Sweep, cells: Sequence[Cell],
                  critical: Callable[[str, str, int, int], float | None] = critical_scale_at
                  ) -> PhaseDiagram:
    scale_axis = next(a for a in sweep.axes if a.key == "scale")
    row_axis = next(a for a in sweep.axes if a.key != "scale")
    scales = tuple(sorted(scale_axis.values))
    index = {(c.params[row_axis.key], c.params["scale"]): c for c in cells}
    experiment = sweep.experiment.name
    # From a cell's canonical parameters: the sweep may leave the activation to its default.
    activation = cells[0].params.get("activation", "linear") if experiment == "mlp" else "linear"
    gain, total, theory, rows = [], [], [], []
    step = max(b / a for a, b in zip(scales, scales[1:])) if len(scales) > 1 else math.e
    for value in sorted(row_axis.values):
        row_cells = [index[(value, s)] for s in scales]
        gains = [c.log10_gain_per_step for c in row_cells]
        gain.append(gains)
        total.append([c.median for c in row_cells])
        theory.append([c.theory_gain_per_step for c in row_cells])
        params = row_cells[0].params
        width = sweep.experiment.width(params)
        steps = sweep.experiment.steps(params)
        rows.append(Row(value, zero_crossing(scales, gains),
                        critical(experiment, activation, width, steps), step))
    total_arr = np.array(total)
    return PhaseDiagram(sweep, row_axis.key, scales, tuple(rows), np.array(gain), total_arr,
                        np.array(theory), float(np.mean(np.abs(total_arr) <= STABLE_DECADES)),
                        activation)
