"""The input–output Jacobian of a deep MLP without biases, as in the lecture.

x ~ N(0, I); h = x; J = I; per layer: W initialised, z = W h, J ← diag(φ'(z)) W J, h ← φ(z).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..nn import ACTIVATIONS, INITIALISERS
from ..params import Param
from .base import Experiment, Simulation, finish, log10_mean_abs, renormalise


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    width, depth = params["width"], params["depth"]
    activation = ACTIVATIONS[params["activation"]]
    init = INITIALISERS[params["init"]]
    h = rng.standard_normal((runs, width))
    jac = None
    log_scale = np.zeros(runs)
    trajectory = np.empty((runs, depth + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(width)  # mean |I_ij| = 1 / width
    for layer in range(1, depth + 1):
        w = init.sample(rng, runs, width, params["scale"])
        z = np.einsum("nij,nj->ni", w, h)
        wj = w if jac is None else w @ jac  # J starts as I, so the first product is W itself
        wj *= activation.derivative(z)[:, :, None]
        jac = wj
        log_scale += renormalise(jac)
        trajectory[:, layer] = log10_mean_abs(jac, log_scale)
        h = activation.fn(z)
        if activation.positively_homogeneous:
            # Keeps h finite at any depth; phi'(c z) = phi'(z) for c > 0 so J is unchanged.
            norms = np.linalg.norm(h, axis=1, keepdims=True)
            h /= np.where(norms > 0, norms, 1.0)
    return finish(jac, log_scale, trajectory)


def normalise(params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
    """`scale` is the normal init's standard deviation; other inits fix their own."""
    if INITIALISERS[params["init"]].uses_scale:
        return params
    if "scale" in given:
        raise ConfigError(f"{where}parameter 'scale' got {params['scale']!r} but init "
                          f"'{params['init']}' sets its own variance; allowed: scale only with "
                          "init=normal")
    return {**params, "scale": None}


MLP = Experiment(
    name="mlp",
    summary="Input–output Jacobian of a bias-free MLP of `depth` square layers of `width` units.",
    params=(
        Param("width", int, 100, "units per layer (all layers square)", minimum=1),
        Param("depth", int, 50, "number of layers", minimum=1),
        Param("activation", str, "relu", "activation function", choices=tuple(ACTIVATIONS)),
        Param("init", str, "normal", "weight initialisation", choices=tuple(INITIALISERS)),
        Param("scale", float, 0.1, "standard deviation of the weights (init=normal only)",
              minimum=0.0),
    ),
    default_runs=10,
    steps_param="depth",
    step_label="layer",
    version="mlp-1",
    simulate=simulate,
    normalise=normalise,
    width_param="width",
)
