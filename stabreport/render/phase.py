"""Phase diagrams from sweep results: the measured gain per cell, the measured critical scale per
row (where the gain changes sign along the scale axis), and the theory's critical curve."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..report.model import Sweep
from ..core.sweeps import GAIN, Cell

STABLE_DECADES = 3.0  # "alive": the gradient stays within 10^±3 over the whole depth


@dataclass(frozen=True)
class Row:
    value: int  # the width, depth, k or factors of this row
    measured_critical: float | None  # log-linear zero crossing of the measured gain
    theory_critical: float | None
    step: float  # the scale grid's ratio between neighbours, for "within the grid's resolution"
    # The standard error of the measured crossing's position, in grid steps (from the standard
    # errors of the two cells that bracket it; None: no crossing, or no error known).
    crossing_error: float | None = None

    @property
    def agrees(self) -> bool | None:
        """Measured and theory critical scales within one grid step of each other."""
        if self.measured_critical is None or self.theory_critical is None:
            return None
        return abs(math.log(self.measured_critical / self.theory_critical)) <= math.log(self.step)

    @property
    def critical_relative_error(self) -> float | None:
        """The measured critical scale's standard error relative to it (its log's error)."""
        return None if self.crossing_error is None else self.crossing_error * math.log(self.step)

    @property
    def agreement_margin(self) -> float | None:
        """How many standard errors of the crossing's position lie between the distance from
        the theory's critical scale and the one grid step `agrees` allows (negative: outside)."""
        if self.agrees is None or not self.crossing_error:
            return None
        distance = abs(math.log(self.measured_critical / self.theory_critical)) / math.log(self.step)
        return (1 - distance) / self.crossing_error


@dataclass(frozen=True)
class PhaseDiagram:
    sweep: Sweep
    x_key: str  # the scale-like parameter across: "scale", or a residual net's "branch_scale"
    row_key: str  # "width", "depth", "k" or "factors"
    rows_are_widths: bool  # the row axis is the experiment's width (else its number of steps)
    scales: tuple[float, ...]
    rows: tuple[Row, ...]
    gain: np.ndarray  # (rows, scales): measured median log10 gain per step
    total: np.ndarray  # (rows, scales): measured median log10 change over the whole depth
    theory_gain: np.ndarray | None  # None for an experiment without theory
    stable_fraction: float  # share of cells within 10^±3 over the whole depth

    @property
    def id(self) -> str:
        return self.sweep.id

    def row(self, value: int) -> Row | None:
        return next((r for r in self.rows if r.value == value), None)

    @property
    def critical_slope(self) -> float | None:
        """d ln(critical scale) / d ln(row value), fitted to the theory's (else the measured)
        critical scales: −½ when the critical scale falls as 1/√width, 0 when it does not move."""
        points = [(r.value, r.theory_critical if r.theory_critical is not None else r.measured_critical)
                  for r in self.rows]
        points = [(v, c) for v, c in points if c is not None and v > 0]
        if len(points) < 2:
            return None
        x, y = np.log([v for v, _ in points]), np.log([c for _, c in points])
        return float(np.polyfit(x, y, 1)[0])


def zero_crossing(scales: Sequence[float], gains: Sequence[float]) -> float | None:
    index = crossing_index(gains)
    if index is None:
        return None
    (s0, s1), (g0, g1) = scales[index:index + 2], gains[index:index + 2]
    t = -g0 / (g1 - g0)
    return math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))


def crossing_index(gains: Sequence[float]) -> int | None:
    """i such that gains[i] < 0 <= gains[i + 1], the first such (NaN never brackets)."""
    return next((i for i, (g0, g1) in enumerate(zip(gains, gains[1:])) if g0 < 0 <= g1), None)


def crossing_error(cells: Sequence[Cell], gains: Sequence[float]) -> float | None:
    """The standard error, in grid steps, of where `zero_crossing` puts the sign change: the
    crossing's fraction t = g0 / (g0 − g1) of a step, its error by the delta method from the
    two bracketing cells' independent standard errors."""
    index = crossing_index(gains)
    if index is None:
        return None
    g0, g1 = gains[index], gains[index + 1]
    e0, e1 = (cells[i].standard_error(GAIN) for i in (index, index + 1))
    if e0 is None or e1 is None:
        return None
    return math.hypot(g1 * e0, g0 * e1) / (g1 - g0) ** 2


def phase_diagram(sweep: Sweep, cells: Sequence[Cell],
                  critical: Callable[[Mapping], float | None]) -> PhaseDiagram:
    """`critical(params)`: the theory's critical scale for a row's parameters (or None)."""
    experiment = sweep.experiment
    scale_axis, row_axis = sweep.axes  # the first axis runs across, the second makes the rows
    scale_key = scale_axis.key
    scales = tuple(sorted(scale_axis.values))
    index = {(c.params[row_axis.key], c.params[scale_key]): c for c in cells}
    gain, total, theory, rows = [], [], [], []
    step = max(b / a for a, b in zip(scales, scales[1:])) if len(scales) > 1 else math.e
    for value in sorted(row_axis.values):
        row_cells = [index[(value, s)] for s in scales]
        gains = [np.nan if c.log10_gain_per_step is None else c.log10_gain_per_step
                 for c in row_cells]  # a cell where every run died has no gain
        gain.append(gains)
        total.append([np.nan if c.median is None else
                      c.median - experiment.metric(c.metric).start(experiment.width(c.params))
                      for c in row_cells])
        theory.append([c.theory_gain_per_step for c in row_cells])
        rows.append(Row(value, zero_crossing(scales, gains), critical(row_cells[0].params), step,
                        crossing_error(row_cells, gains)))
    total_arr = np.array(total)
    has_theory = all(t is not None for row in theory for t in row)
    return PhaseDiagram(sweep, scale_key, row_axis.key, row_axis.key == experiment.width_param, scales,
                        tuple(rows), np.array(gain), total_arr,
                        np.array(theory, dtype=float) if has_theory else None,
                        float(np.mean(np.abs(total_arr) <= STABLE_DECADES)))
