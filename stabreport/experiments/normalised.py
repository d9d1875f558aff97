"""The lecture's MLP with a normalisation layer after every matrix: the gradient of a batch.

Per layer, on a batch of B inputs h₀ = x_b iid N(0, I): a = W h, z = (a − mean) / √(var + ε)
with the mean and variance over the batch per unit (`norm=batch`) or over the units per
example (`norm=layer`), no affine parameters, ε = 10⁻⁵; h = φ(z). The loss ℒ = Σ_b ⟨v_b, h_{L,b}⟩
with v iid N(0, I), so ∂ℒ/∂h_L = v, and the per-run metric is log10 ‖∂ℒ/∂h₀‖_F / ‖∂ℒ/∂h_L‖_F,
with its value after every layer of the backward pass (the trajectory, and the gradient's reach:
log10 ‖∂ℒ/∂h_{L−d}‖_F / ‖v‖_F for d = 0, 1, ..., L).

The weights are drawn at unit standard deviation and their scale s moves into ε: a = s a′ gives
z = (a′ − mean) / √(var′ + ε/s²) and, going back, s / √(s² var′ + ε) = 1 / √(var′ + ε/s²), so no
scale can overflow, and the scale matters only through ε (at s² · width · Var φ ≪ ε).

Theory (large width, and for `batch` large batch; gradients independent of the forward pass):
every normalised z is N(0, 1) per unit, so one layer multiplies the squared gradient by
E φ′(Z)² / Var φ(Z) (batch: Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019; π/(π − 1)
for ReLU) or by E φ′(Z)² / E φ(Z)² (layer: each example is normalised by its own length, 1 for
ReLU), except the first layer, whose inputs have variance and second moment 1: E φ′(Z)² there.
Both leave out what projecting out the mean and the z direction costs (2 of the batch's or of the
units' dimensions) and the batch's fluctuations: finite batches explode faster.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from .base import LN10, Simulation
from .nn import ACTIVATIONS, INITIALISERS

EPSILON = 1e-5  # added to the variance, as in PyTorch's BatchNorm1d and LayerNorm
AXIS = {"batch": 2, "layer": 1}  # of (runs, units, batch) arrays: what each norm averages over
CHUNK_BYTES = 2**25  # about 32 MiB of stored layers per chunk of runs


def _stored_bytes(width: int, batch: int, depth: int) -> int:
    """One run's stored backward pass: its weights, z and φ′(z) at every layer (float64)."""
    return 8 * depth * (width * width + 2 * width * batch)


def chunk_runs(params: Mapping[str, Any]) -> int:
    return max(1, CHUNK_BYTES // _stored_bytes(params["width"], params["batch"], params["depth"]))


def working_bytes(params: Mapping[str, Any], runs: int) -> int:
    """Peak memory of a block: one chunk's stored layers and a few batch-sized temporaries."""
    chunk = min(runs, chunk_runs(params))
    width, batch = params["width"], params["batch"]
    return chunk * (_stored_bytes(width, batch, params["depth"]) + 8 * 8 * width * (width + batch))


def _weights(init, rng: np.random.Generator, runs: int, width: int, scale: float | None):
    """W / s and s, with s the entries' standard deviation."""
    std = float(init.std(width, scale))
    if init.gaussian:
        return rng.standard_normal((runs, width, width)), std
    return init.sample(rng, runs, width, scale) / std, std


def forward(params: Mapping[str, Any], h: np.ndarray, weights: list[tuple[np.ndarray, float]]):
    """The batch (runs, width, batch) through every layer: the outputs h_L and what the backward
    pass needs of each layer (W / s, z, 1 / √(var + ε/s²), φ′(z))."""
    activation, axis = ACTIVATIONS[params["activation"]], AXIS[params["norm"]]
    stored = []
    for w, std in weights:
        a = w @ h
        a -= a.mean(axis=axis, keepdims=True)
        inverse = 1.0 / np.sqrt(np.mean(a * a, axis=axis, keepdims=True) + EPSILON / std**2)
        z = a * inverse
        stored.append((w, z, inverse, activation.derivative(z)))
        h = activation.fn(z)
    return h, stored


def backward(params: Mapping[str, Any], stored: list, g: np.ndarray) -> np.ndarray:
    """log10 ‖∂ℒ/∂h_{L−d}‖_F / ‖g‖_F for d = 0, ..., L, per run, for ∂ℒ/∂h_L = g, renormalised
    after every layer (the gradient's scale is carried in the log domain)."""
    axis = AXIS[params["norm"]]
    reach = np.zeros((len(g), len(stored) + 1))
    log_g = np.zeros(len(g))
    g = g / np.sqrt(np.einsum("nib,nib->n", g, g))[:, None, None]
    for d, (w, z, inverse, slope) in enumerate(reversed(stored), start=1):
        gz = g * slope
        ga = (gz - gz.mean(axis=axis, keepdims=True)
              - z * np.mean(gz * z, axis=axis, keepdims=True)) * inverse
        g = np.swapaxes(w, 1, 2) @ ga
        norms = np.sqrt(np.einsum("nib,nib->n", g, g))
        g /= np.where(norms > 0, norms, 1.0)[:, None, None]
        with np.errstate(divide="ignore"):
            log_g += np.log(norms)
        reach[:, d] = log_g / LN10
    return reach


def _chunk(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    width, batch, init = params["width"], params["batch"], INITIALISERS[params["init"]]
    h = rng.standard_normal((runs, width, batch))
    weights = [_weights(init, rng, runs, width, params["scale"]) for _ in range(params["depth"])]
    _, stored = forward(params, h, weights)
    return backward(params, stored, rng.standard_normal((runs, width, batch)))


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    """The full path of a normalised setting: chunks of runs drawn one after another from `rng`
    (the chunk's size a function of the parameters alone, so the numbers never depend on
    memory), every layer kept for the backward pass."""
    size = chunk_runs(params)
    reach = np.concatenate([_chunk(params, min(size, runs - start), rng)
                            for start in range(0, runs, size)])
    return Simulation(metrics={"log10_grad_ratio": reach[:, -1].copy()},
                      trajectory=reach.astype(np.float32), reach=reach)


# --- theory ----------------------------------------------------------------------------------------

def _moments(activation) -> tuple[float, float, float]:
    """E φ′(Z)², E φ(Z), E φ(Z)² for Z ~ N(0, 1) (the mean field's panel rule: ReLU's kink is a
    panel edge, so it is integrated exactly)."""
    from ..theory.meanfield import gaussian_expectation

    return (gaussian_expectation(lambda x: activation.derivative(x) ** 2, 1.0),
            gaussian_expectation(activation.fn, 1.0),
            gaussian_expectation(lambda x: activation.fn(x) ** 2, 1.0))


def log10_gain_per_layer(params: Mapping[str, Any]) -> tuple[float, float]:
    """(log10 of the gradient's growth through the first layer, then through each of the
    others), going down: ½ log10 of the squared norm's ratio (see the module's docstring)."""
    slope2, mean, second = _moments(ACTIVATIONS[params["activation"]])
    later = slope2 / (second - mean * mean) if params["norm"] == "batch" else slope2 / second
    first = slope2  # the inputs' variance and second moment are both 1
    return 0.5 * math.log10(first), 0.5 * math.log10(later)


def reach_medians(params: Mapping[str, Any]) -> np.ndarray:
    """The theory's log10 ‖∂ℒ/∂h_{L−d}‖ / ‖v‖ for d = 0, ..., L: the later layers' gain d times,
    the first layer's (the one next to the inputs) as the last step."""
    first, later = log10_gain_per_layer(params)
    depth = params["depth"]
    line = np.arange(depth + 1) * later
    line[-1] = (depth - 1) * later + first
    return line
