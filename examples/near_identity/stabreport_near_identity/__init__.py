"""Products of near-identity matrices: Y = (I + s G_L / √k) ··· (I + s G_1 / √k), G_l iid N(0, 1).

Each factor is the identity plus a small random kick, the linear skeleton of a residual network.
An example of a stabreport experiment written outside stabreport: one declaration, found through
the `stabreport.experiments` entry point in pyproject.toml. It has a full path and a fast path
and, to show that theory is optional, no theory: the site publishes it as measured only.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from stabreport.experiments import LN10, Experiment, Param, Simulation, finish


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    """The full product, rescaled after every factor so that no size overflows."""
    k, factors, kick = params["k"], params["factors"], params["scale"] / math.sqrt(params["k"])
    y = np.broadcast_to(np.eye(k), (runs, k, k)).copy()
    log_scale = np.zeros(runs)  # Y = exp(log_scale) · y
    trajectory = np.empty((runs, factors + 1), dtype=np.float32)
    trajectory[:, 0] = -math.log10(k)
    for step in range(1, factors + 1):
        y = y + kick * np.matmul(rng.standard_normal((runs, k, k)), y)
        mean_abs = np.abs(y).mean(axis=(1, 2))
        y /= mean_abs[:, None, None]
        log_scale += np.log(mean_abs)
        trajectory[:, step] = log_scale / LN10
    return finish(y, log_scale, trajectory)


def column_lengths(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, factors + 1) log10 ‖Y_l u‖ with O(k) normals per factor: for a unit vector y and a
    fresh G, G y is standard normal, so ‖(I + s G/√k) y‖ has the law of ‖e₁ + (s/√k) g‖."""
    k, factors, kick = params["k"], params["factors"], params["scale"] / math.sqrt(params["k"])
    out = np.zeros((runs, factors + 1))
    for step in range(1, factors + 1):
        g = rng.standard_normal((runs, k))
        g[:, 0] += 1.0 / kick  # e₁ + kick · g = kick · (g + e₁ / kick)
        out[:, step] = out[:, step - 1] + (math.log(kick) + 0.5 * np.log(np.einsum("ni,ni->n", g, g))) / LN10
    return out


NEAR_IDENTITY = Experiment(
    name="near_identity",
    title="Products of near-identity matrices",
    summary="Y = (I + s G_L/√k) ··· (I + s G_1/√k) with G_l iid standard normal k×k matrices.",
    params=(
        Param("k", int, 8, "size of the square matrices", minimum=1),
        Param("factors", int, 50, "number of matrices multiplied", minimum=1),
        Param("scale", float, 0.5, "size s of each random kick", minimum=0.0),
    ),
    simulate=simulate,
    tangent=column_lengths,
    steps_param="factors",
    width_param="k",
    step_label="factor",
    default_runs=500,
    sweep_axes=("scale", "k", "factors"),
    describe=lambda p: f"k = {p['k']}, {p['factors']} factors"
    + (f", kicks of size {p['scale']}" if p.get("scale") is not None else ""),
)
