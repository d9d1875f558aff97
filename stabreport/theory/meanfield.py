"""Mean-field maps for activations: Gaussian expectations E f(√q Z), the pre-activation variance
map and the per-layer gradient moments with their finite-width correction (see THEORY.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from ..experiments.nn import Activation


FINE_REACH = 50.0  # beyond |x| = 50 every activation here is flat or linear to float precision
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)  # per panel


def gaussian_rule(q: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights for E f(√q Z) on ±10√q: composite 8-point Gauss–Legendre panels,
    symmetric about 0 (so ReLU's kink is a panel edge and integrated exactly), at most 0.5 wide
    where the activations bend (|x| ≤ 50) and half a standard deviation wide everywhere, so the
    Gaussian weight is resolved at any q, and a huge q (a huge weight scale) costs no more
    points than a moderate one: at most about 1,900 points. Unlike a fixed Gauss–Hermite rule
    it stays accurate for large q."""
    sd = math.sqrt(max(q, 1e-24))  # a collapsed signal: the slope at 0 is what matters
    reach = 10 * sd
    fine = min(reach, FINE_REACH)
    nodes, steps = _unit_panels(math.ceil(fine / min(0.5, sd / 2)))
    right, dx = [fine * nodes], [fine * steps]
    if reach > fine:  # φ and φ′ are flat here: only the Gaussian weight needs resolving
        nodes, steps = _unit_panels(math.ceil((reach - fine) / (sd / 2)))
        right.append(fine + (reach - fine) * nodes)
        dx.append((reach - fine) * steps)
    half, half_dx = np.concatenate(right), np.concatenate(dx)
    x, dx_all = np.concatenate([-half[::-1], half]), np.concatenate([half_dx[::-1], half_dx])
    return x, np.exp(-0.5 * (x / sd) ** 2) * (dx_all / (sd * math.sqrt(2 * math.pi)))


@lru_cache(maxsize=256)
def _unit_panels(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of `panels` equal Gauss–Legendre panels on [0, 1]."""
    centre = (np.arange(panels) + 0.5) / panels
    nodes = (centre[:, None] + _NODES / (2 * panels)).ravel()
    return nodes, np.tile(_WEIGHTS / (2 * panels), panels)


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


# (activation, width, std, input variance, q₁) -> (the layers computed so far, settled?, the next
# layer's q): one recursion serves every depth of a family, however many cells of a sweep ask.
_RECURSIONS: dict[tuple[str, int, float, float, float | None],
                  tuple[list[LayerMoments], bool, float]] = {}


def mean_field_layers(activation: Activation, width: int, depth: int, std: float,
                      input_variance: float = 0.0, first_q: float | None = None) -> list[LayerMoments]:
    """Pre-activation variance map q_{l+1} = k s² E φ(√q_l Z)² + σ_x², starting at q₁ = k s²
    (an MLP's input, E‖x‖² = k) or at `first_q` (a recurrent network from h₀ = 0: q₁ = σ_x²),
    with per-step gradient moments and the finite-width correction of the log gain. σ_x² is the
    variance of a fresh input added to every pre-activation (0 for an MLP)."""
    key = (activation.name, width, std, input_variance, first_q)
    layers, settled, q = _RECURSIONS.get(
        key, ([], False, width * std**2 if first_q is None else first_q))
    while len(layers) < depth and not settled:
        x, weights = gaussian_rule(q)  # one rule and one evaluation of φ′ for all moments
        slope = activation.derivative(x)
        slope2 = slope * slope
        d1, d2, d4 = float(slope @ weights), float(slope2 @ weights), float((slope2 * slope2) @ weights)
        chi = width * std**2 * d2
        excess = (3 * d4 - d2**2) / (width * d2**2)
        layers.append(LayerMoments(q, chi, math.log(chi) - excess / 2, excess, d1, d2))
        if activation.positively_homogeneous:  # φ′ moments do not depend on q: every layer is alike
            q_next = q
        elif q == 0 and input_variance == 0:  # h = 0 stays 0 (an RNN from h₀ = 0 without inputs)
            q_next = 0.0
        else:
            q_next = width * std**2 * float((activation.fn(x) ** 2) @ weights) + input_variance
        settled = abs(q_next - q) <= 1e-12 * q  # the remaining layers repeat this one
        q = q_next
    if len(_RECURSIONS) > 4096:
        _RECURSIONS.clear()
    _RECURSIONS[key] = (layers, settled, q)
    return layers[:depth] + [layers[-1]] * (depth - len(layers))


def column_to_mean_abs(width: int, d1: float, d2: float) -> float:
    """log10 of mean|J_ij| / ‖J u‖ for a column of iid Gaussian-times-slope entries."""
    return math.log10(math.sqrt(2 / math.pi) * d1 / math.sqrt(width * d2))
