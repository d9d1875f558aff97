"""Products of random Gaussian matrices: Y = W_L ··· W_1 with W_l iid N(0, scale²) entries."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..params import Param
from .base import LN10, Experiment, Simulation, finish, log10_mean_abs, renormalise


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    k, factors, scale = params["k"], params["factors"], params["scale"]
    y = np.broadcast_to(np.eye(k), (runs, k, k)).copy()
    log_scale = np.zeros(runs)
    trajectory = np.empty((runs, factors + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(k)
    # W = scale * G exactly, so draw G and add ln(scale) per factor: no scale can overflow.
    ln_scale = np.log(scale)
    for step in range(1, factors + 1):
        y = rng.standard_normal((runs, k, k)) @ y
        log_scale += renormalise(y) + ln_scale
        trajectory[:, step] = log10_mean_abs(y, log_scale)
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
    version="products-1",
    simulate=simulate,
    width_param="k",
)

__all__ = ["PRODUCTS", "LN10"]
