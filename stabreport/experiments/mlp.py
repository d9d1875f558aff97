"""The input–output Jacobian of a deep MLP without biases, as in the lecture.

x ~ N(0, I); h = x; J = I; per layer: W initialised, z = W h, J ← diag(φ'(z)) W J, h ← φ(z).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..nn import ACTIVATIONS, INITIALISERS
from ..params import Param
from .base import Experiment, Simulation, finish, log10_mean_abs


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    width, depth = params["width"], params["depth"]
    activation = ACTIVATIONS[params["activation"]]
    init = INITIALISERS[params["init"]]
    # Gaussian weights are drawn standard and their std folded into the row scaling below.
    std = init.std(width, params["scale"]) if init.gaussian else 1.0
    h = rng.standard_normal((runs, width))
    jac = None
    log_scale = np.zeros(runs)  # J = exp(log_scale) · jac
    inverse_norm = np.ones(runs)  # jac's last Frobenius norm, divided out at the next layer
    trajectory = np.empty((runs, depth + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(width)  # mean |I_ij| = 1 / width
    for layer in range(1, depth + 1):
        w = rng.standard_normal((runs, width, width)) if init.gaussian else \
            init.sample(rng, runs, width, params["scale"])
        z = (w @ h[:, :, None])[:, :, 0]
        z *= std
        rows = activation.derivative(z) * (std * inverse_norm)[:, None]
        jac = w if jac is None else np.matmul(w, jac)  # J starts as I: the first product is W
        jac *= rows[:, :, None]
        norms = np.sqrt(np.einsum("nij,nij->n", jac, jac))
        trajectory[:, layer] = log10_mean_abs(jac, log_scale)
        with np.errstate(divide="ignore"):
            log_scale += np.log(norms)
        inverse_norm = 1.0 / np.where(norms > 0, norms, 1.0)
        h = activation.fn(z)
        if activation.positively_homogeneous:
            # Keeps h finite at any depth; phi'(c z) = phi'(z) for c > 0 so J is unchanged.
            h_norms = np.linalg.norm(h, axis=1, keepdims=True)
            h /= np.where(h_norms > 0, h_norms, 1.0)
    # jac still carries its last norm: divide it out so that J = exp(log_scale) · jac.
    jac *= inverse_norm[:, None, None]
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
    version="mlp-2",
    simulate=simulate,
    normalise=normalise,
    width_param="width",
)
