"""Mean-field maps for activations: Gaussian expectations E f(√q Z), the pre-activation variance
map and the per-layer gradient moments with their finite-width correction (see THEORY.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..nn import Activation


FINE_REACH = 50.0  # beyond |x| = 50 every activation here is flat or linear to float precision
OUTER_POINTS = 8000  # per side, between FINE_REACH and 10 standard deviations


def gaussian_rule(q: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of a midpoint rule for E f(√q Z) on ±10√q: dense (step ≤ 0.02) where
    the activations bend, |x| ≤ 50, so points straddle 0 and ReLU's kink is integrated exactly;
    coarser beyond, where φ and φ′ are flat, so that a huge q (a huge weight scale) costs no
    more points than a moderate one. Unlike a fixed Gauss–Hermite rule it stays accurate for
    large q."""
    sd = math.sqrt(max(q, 1e-24))  # a collapsed signal: the slope at 0 is what matters
    reach = 10 * sd
    h = min(0.02, sd / 200)
    n = int(math.ceil(min(reach, FINE_REACH) / h))
    inner = (np.arange(-n, n) + 0.5) * h
    points, steps = [inner], [np.full(inner.size, h)]
    edge = n * h
    if reach > edge:
        step = (reach - edge) / OUTER_POINTS
        outer = edge + (np.arange(OUTER_POINTS) + 0.5) * step
        points = [-outer[::-1], inner, outer]
        steps = [np.full(OUTER_POINTS, step), steps[0], np.full(OUTER_POINTS, step)]
    x, dx = np.concatenate(points), np.concatenate(steps)
    return x, np.exp(-0.5 * (x / sd) ** 2) * (dx / (sd * math.sqrt(2 * math.pi)))


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: float) -> float:
    """E f(√q Z) for Z ~ N(0, 1)."""
    x, weights = gaussian_rule(q)
    return float(np.dot(f(x), weights))


@dataclass(frozen=True)
class LayerMoments:
    q: float  # pre-activation variance
    chi: float  # k s² E φ′²: mean-square gain of the squared norm
    mean_log_ratio: float  # E ln r_l with the 1/k correction (r_l the squared-norm ratio)
    var_log_ratio: float
    d1: float  # E φ′
    d2: float  # E φ′²


def slope_moments(activation: Activation, q: float) -> tuple[float, float, float]:
    """E φ′, E φ′², E φ′⁴ at pre-activation variance q."""
    x, weights = gaussian_rule(q)
    slope = activation.derivative(x)
    slope2 = slope * slope
    return float(slope @ weights), float(slope2 @ weights), float((slope2 * slope2) @ weights)


def mean_field_layers(activation: Activation, width: int, depth: int, std: float) -> list[LayerMoments]:
    """Pre-activation variance map q_{l+1} = k s² E φ(√q_l Z)², starting at q₁ = k s² (E‖x‖² = k),
    with per-layer gradient moments and the finite-width correction of the log gain."""
    layers: list[LayerMoments] = []
    q = width * std**2
    for _ in range(depth):
        x, weights = gaussian_rule(q)  # one rule and one evaluation of φ′ for all moments
        slope = activation.derivative(x)
        slope2 = slope * slope
        d1, d2, d4 = float(slope @ weights), float(slope2 @ weights), float((slope2 * slope2) @ weights)
        chi = width * std**2 * d2
        excess = (3 * d4 - d2**2) / (width * d2**2)
        layers.append(LayerMoments(q, chi, math.log(chi) - excess / 2, excess, d1, d2))
        if activation.positively_homogeneous:  # φ′ moments do not depend on q: every layer is alike
            q_next = q
        else:
            q_next = width * std**2 * float((activation.fn(x) ** 2) @ weights)
        if abs(q_next - q) <= 1e-12 * q:  # settled: the remaining layers repeat this one
            layers.extend([layers[-1]] * (depth - len(layers)))
            break
        q = q_next
    return layers


def column_to_mean_abs(width: int, d1: float, d2: float) -> float:
    """log10 of mean|J_ij| / ‖J u‖ for a column of iid Gaussian-times-slope entries."""
    return math.log10(math.sqrt(2 / math.pi) * d1 / math.sqrt(width * d2))
