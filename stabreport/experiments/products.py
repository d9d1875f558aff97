"""Products of random Gaussian matrices: Y = W_L ··· W_1 with W_l iid N(0, scale²) entries."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..params import Param
from .base import LN10, Experiment, Simulation, finish

STEPS_PER_DRAW = 25  # factors drawn per call: one (steps, runs, k, k) draw is the same stream


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    k, factors, scale = params["k"], params["factors"], params["scale"]
    y = np.broadcast_to(np.eye(k), (runs, k, k)).copy()
    log_scale = np.zeros(runs)  # Y = exp(log_scale) · y, with mean |y_ij| = 1 after each step
    trajectory = np.empty((runs, factors + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(k)
    # W = scale * G exactly, so draw G and add ln(scale) per factor: no scale can overflow.
    ln_scale = np.log(scale)
    for start in range(0, factors, STEPS_PER_DRAW):
        draws = rng.standard_normal((min(STEPS_PER_DRAW, factors - start), runs, k, k))
        for offset, g in enumerate(draws, start=start + 1):
            y = np.matmul(g, y)
            # Normalising by the mean |entry| (not the norm) saves a pass: the trajectory
            # needs that mean anyway. A zero matrix is left as it is and yields -inf.
            mean_abs = np.abs(y).sum(axis=(1, 2)) * (1.0 / (k * k))
            y /= np.where(mean_abs > 0, mean_abs, 1.0)[:, None, None]
            with np.errstate(divide="ignore"):
                log_scale += np.log(mean_abs) + ln_scale
            trajectory[:, offset] = log_scale / LN10
    return finish(y, log_scale, trajectory)


PRODUCTS = Experiment(
    name="products",
    summary="Y = W_L ··· W_1 for L fresh k×k matrices with iid N(0, scale²) entries, from Y = I.",
    params=(
        Param("k", int, 4, "size of the square matrices", minimum=1),
        Param("factors", int, 100, "number of matrices multiplied", minimum=1),
        Param("scale", float, 0.5, "standard deviation of each entry", minimum=0.0),
    ),
    default_runs=1000,
    steps_param="factors",
    step_label="factor",
    version="products-2",
    simulate=simulate,
    width_param="k",
)

__all__ = ["PRODUCTS", "LN10"]
