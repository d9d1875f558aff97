"""The column length ‖M u‖ without forming M: O(k) random numbers per step instead of O(k²).

Every factor W is fresh and Gaussian, so for the vectors it acts on (the forward vector h and the
tangent t = M u) the pair (W h, W t) can be drawn directly: row by row, ((W h)_i, (W t)_i) is
bivariate normal with covariance s² · Gram(h, t), independently across rows. This is exact in
distribution for Gaussian weights; other initialisers use the full-matrix path.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..nn import ACTIVATIONS, INITIALISERS
from .base import LN10



def _renormalise(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1)
    v /= np.where(norms > 0, norms, 1.0)[:, None]
    with np.errstate(divide="ignore"):
        return np.log(norms)


def products_norms(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, factors + 1) log10 ‖Y_l u‖: W y ~ N(0, s² ‖y‖² I) for a fresh Gaussian W."""
    k, factors, scale = params["k"], params["factors"], params["scale"]
    out = np.empty((runs, factors + 1))
    out[:, 0] = 0.0
    log_norm = np.zeros(runs)
    step = np.log(scale)
    for layer in range(1, factors + 1):
        # ‖W y‖ / ‖y‖ = s ‖g‖ with g standard normal in R^k: the direction never matters.
        g = rng.standard_normal((runs, k))
        log_norm += step + 0.5 * np.log(np.einsum("ni,ni->n", g, g))
        out[:, layer] = log_norm / LN10
    return out


def mlp_norms(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, depth + 1) log10 ‖J_l u‖ with u = e₁, drawing (W h, W t) jointly per layer."""
    width, depth = params["width"], params["depth"]
    activation = ACTIVATIONS[params["activation"]]
    scale = INITIALISERS[params["init"]].std(width, params["scale"])
    h = rng.standard_normal((runs, width))
    t = np.zeros((runs, width))
    t[:, 0] = 1.0
    out = np.empty((runs, depth + 1))
    out[:, 0] = 0.0
    log_norm = np.zeros(runs)
    for layer in range(1, depth + 1):
        a = np.einsum("ni,ni->n", h, h)
        b = np.einsum("ni,ni->n", h, t)
        c = np.einsum("ni,ni->n", t, t)
        root_a = np.sqrt(a)
        safe = np.where(root_a > 0, root_a, 1.0)
        along = b / safe  # component of t along h, per unit length of h
        across = np.sqrt(np.maximum(c - along * along, 0.0))
        g = rng.standard_normal((2, runs, width))
        z = scale * root_a[:, None] * g[0]
        w = scale * (along[:, None] * g[0] + across[:, None] * g[1])
        t = activation.derivative(z) * w
        log_norm += _renormalise(t)
        out[:, layer] = log_norm / LN10
        h = activation.fn(z)
        if activation.positively_homogeneous:
            _renormalise(h)
    return out


def supports_tangent(experiment: str, params: Mapping[str, Any]) -> bool:
    return experiment == "products" or INITIALISERS[params["init"]].gaussian
