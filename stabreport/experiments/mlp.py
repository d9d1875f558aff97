"""The input–output Jacobian of a deep MLP without biases, as in the lecture.

x ~ N(0, I); h = x; J = I; per layer: W initialised, z = W h, J ← diag(φ'(z)) W J, h ← φ(z).

Simulation: the full Jacobian, and the fast path for ‖J u‖ with Gaussian weights. Theory: exact
at finite width for gated activations (ReLU: φ′ ∈ {0, 1}) with Gaussian weights, mean field with a
1/width correction for the others.
"""
from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..render.formatting import Words
from ..render.i18n import N_, _
from . import normalised
from .nn import ACTIVATIONS, INITIALISERS, introduce
from ..core.params import Param
from .base import (LN10, MATRIX_METRICS, Experiment, Explore, Metric, MetricPrediction, Simulation,
                   Spectrum, Theory, finish, log10_mean_abs, log_values, renormalise)


def slopes(activation, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | float]:
    """(φ′(z) / c, ln c) per run, with c the largest slope of the layer where φ′ can underflow:
    the slopes' common factor moves into the log domain, so a layer is zero only when every
    slope is exactly zero (ReLU), never because the slopes are below float64's range."""
    if activation.log_slope is None:
        return activation.slope(z), 0.0
    log_slope = activation.log_slope(z)
    top = np.max(log_slope, axis=1)
    return np.exp(log_slope - top[:, None]), top


def preactivation(activation, wh: np.ndarray, std: float) -> np.ndarray:
    """z = std · W h from W h: a positively homogeneous φ only needs W h (φ′ and the direction of
    φ(z) do not depend on std), so no scale can overflow it."""
    if activation.positively_homogeneous:
        return wh
    wh *= std
    return wh


def spectrum_tracker(activation, runs: int, width: int) -> Spectrum:
    """Factor every layer where a layer can switch directions off (a gated activation: its
    zeros must be caught as they happen; one layer spreads the others by far less than 1e10),
    else every eighth layer (about ten decades of spread at width 100)."""
    if activation.gate_probability is not None and activation.gate_probability < 1:
        return Spectrum(runs, width, every=1, dead_below=1e-10)
    return Spectrum(runs, width, every=8)


# The weights, the layer inputs and the renormalised product are float32: sgemm and float32
# draws take about half the time of float64's, and what is measured are logs of norms and means,
# which float32 carries to about 1e-6 per layer (the scale itself lives in float64 log_scale).
# Pre-activations, slopes and the spectrum's QR stay float64 (huge scales, exact zeros, rank).
# tests/test_engine.py checks by KS over 2,000 runs that float32 and float64 agree.
PRODUCT_DTYPE = np.float32


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator,
             spectrum: bool = False, dtype: Any = PRODUCT_DTYPE) -> Simulation:
    if _norm(params) != "none":  # a batch's gradient (the engine asks no spectrum of it)
        return normalised.simulate(params, runs, rng)
    width, depth = params["width"], params["depth"]
    activation = ACTIVATIONS[params["activation"]]
    init = INITIALISERS[params["init"]]
    tracker = spectrum_tracker(activation, runs, width) if spectrum else None
    # Gaussian weights are drawn standard and their std is carried in the log domain.
    std = init.std(width, params["scale"]) if init.gaussian else 1.0
    log_std = np.log(std)
    h = rng.standard_normal((runs, width), dtype=dtype)
    jac = None
    log_scale = np.zeros(runs)  # J = exp(log_scale) · jac
    inverse_norm = np.ones(runs)  # jac's last Frobenius norm, divided out at the next layer
    trajectory = np.empty((runs, depth + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(width)  # mean |I_ij| = 1 / width
    for layer in range(1, depth + 1):
        w = rng.standard_normal((runs, width, width), dtype=dtype) if init.gaussian else \
            init.sample(rng, runs, width, params["scale"]).astype(dtype, copy=False)
        z = preactivation(activation, (w @ h[:, :, None])[:, :, 0].astype(np.float64), std)
        slope_rows, log_top = slopes(activation, z)
        if tracker is not None:
            tracker.step(lambda q: slope_rows[:, :, None] * np.matmul(w, q), log_top + log_std)
        rows = slope_rows * inverse_norm[:, None]
        jac = w if jac is None else np.matmul(w, jac)  # J starts as I: the first product is W
        jac *= rows[:, :, None]
        log_scale += log_top + log_std
        norms = np.sqrt(np.einsum("nij,nij->n", jac, jac))
        trajectory[:, layer] = log10_mean_abs(jac, log_scale)
        with np.errstate(divide="ignore"):
            log_scale += np.log(norms)
        inverse_norm = 1.0 / np.where(norms > 0, norms, 1.0)
        h = activation.fn(z).astype(dtype)
        if activation.positively_homogeneous:
            # Keeps h finite at any depth; phi'(c z) = phi'(z) for c > 0 so J is unchanged.
            h_norms = np.linalg.norm(h, axis=1, keepdims=True)
            h /= np.where(h_norms > 0, h_norms, 1.0)
    # jac still carries its last norm: divide it out so that J = exp(log_scale) · jac.
    jac *= inverse_norm[:, None, None]
    return finish(jac, log_scale, trajectory, tracker)


def column_lengths(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, depth + 1) log10 ‖J_l u‖ with u = e₁, drawing (W h, W t) jointly per layer.

    Every W is fresh and Gaussian, so for the vectors it acts on (the forward vector h and the
    tangent t = J u) the pair (W h, W t) can be drawn directly: row by row, ((W h)_i, (W t)_i) is
    bivariate normal with covariance s² · Gram(h, t), independently across rows. Exact in
    distribution for Gaussian weights, with O(width) random numbers per layer."""
    width, depth = params["width"], params["depth"]
    activation = ACTIVATIONS[params["activation"]]
    scale = INITIALISERS[params["init"]].std(width, params["scale"])
    log_scale = np.log(scale)
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
        z = preactivation(activation, root_a[:, None] * g[0], scale)
        rows, log_top = slopes(activation, z)
        t = rows * (along[:, None] * g[0] + across[:, None] * g[1])
        log_norm += log_top + log_scale + renormalise(t)
        out[:, layer] = log_norm / LN10
        h = activation.fn(z)
        if activation.positively_homogeneous:
            renormalise(h)
    return out


def _norm(params: Mapping[str, Any]) -> str:
    return params.get("norm", "none")  # left out of the canonical form at "none"


def normalise(params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
    """`scale` is the standard deviation of the inits that take one; the others fix their own,
    and an init whose scale is optional keeps its own when none is given. `batch` is the size
    of a normalised setting's batch: without a norm there is none."""
    if _norm(params) == "none":
        if "batch" in given:
            raise ConfigError(f"{where}parameter 'batch' got {params['batch']!r} but norm 'none' "
                              "propagates one input; allowed: batch only with norm=batch or "
                              "norm=layer", key="batch")
        params = {**params, "batch": None}
    return init_scale(params, given, where)


def init_scale(params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
    """`scale` of an init that takes one (its own kept when it is optional and not given);
    refused, with the inits that take one, for an init that sets its own variance."""
    init = INITIALISERS[params["init"]]
    if init.uses_scale:
        return params if "scale" in given or not init.scale_optional else {**params, "scale": None}
    if "scale" in given:
        allowed = ", ".join(name for name, i in INITIALISERS.items() if i.uses_scale)
        raise ConfigError(f"{where}parameter 'scale' got {params['scale']!r} but init "
                          f"'{params['init']}' sets its own variance; allowed: scale only with "
                          f"init={allowed.replace(', ', ' or init=')}", key="scale")
    return {**params, "scale": None}


def effective_scale(params: Mapping[str, Any]) -> float:
    return float(INITIALISERS[params["init"]].std(params["width"], params["scale"]))


def describe(params: Mapping[str, Any]) -> str:
    """The setting in words ("relu, scale 0.1, width 100, depth 50"), in the language being
    rendered, with its normalisation where it has one."""
    words = _describe(params)
    if _norm(params) == "batch":
        return words + _(", batch norm over %(batch)s examples") % {"batch": params["batch"]}
    if _norm(params) == "layer":
        return words + _(", layer norm, batch of %(batch)s") % {"batch": params["batch"]}
    return words


def _describe(params: Mapping[str, Any]) -> str:
    values = {"activation": ACTIVATIONS[params["activation"]].words, "width": params["width"],
              "depth": params["depth"]}
    if params.get("scale") is not None:
        return _("%(activation)s, scale %(scale)s, width %(width)s, depth %(depth)s") % {
            **values, "scale": params["scale"]}
    if "init" in params and "scale" in params:
        return _("%(activation)s, %(init)s init, width %(width)s, depth %(depth)s") % {
            **values, "init": INITIALISERS[params["init"]].words}
    return _("%(activation)s, width %(width)s, depth %(depth)s") % values


# --- theory ----------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def gated_layer_law(width: int, probability: float, preserves_lengths: bool = False):
    """One layer of a gated activation (φ′ ∈ {0, 1}) at unit scale, N ~ Binomial(width, p) active
    units (N > 0): ½ ln χ²_N for Gaussian weights; for weights that keep every length
    (orthogonal, times √width), ½ ln(width · B) with B ~ Beta(N/2, (width − N)/2), the share of
    a uniform direction's squared length on the N active units (taking the gradient's direction
    independent of which units are active: an approximation)."""
    from ..theory.laws import binomial_mixture, half_log_beta, half_log_chi2

    if preserves_lengths:
        shift = 0.5 * math.log(width)
        return binomial_mixture(width, probability,
                                lambda n: half_log_beta(n / 2, (width - n) / 2).shifted(shift))
    return binomial_mixture(width, probability, half_log_chi2)


def dead_fraction(params: Mapping[str, Any]) -> float | None:
    """P(the Jacobian is zero) = 1 − (1 − (1 − p)^k)^L: with zero bias, and weights whose signs
    of W h are uniform over the orthants (iid symmetric entries, or a Haar-orthogonal W), each of
    the k units of a layer is active with probability p independently, so a layer kills the
    network with probability (1 − p)^k (Lu, Shin, Su & Karniadakis 2019). 0 for activations
    whose slope is never zero; None for weights of which nothing is declared."""
    p = ACTIVATIONS[params["activation"]].gate_probability
    if p is None or p >= 1:
        return 0.0
    if not INITIALISERS[params["init"]].uniform_signs:
        return None
    kill = (1 - p) ** params["width"]
    return float(-np.expm1(params["depth"] * np.log1p(-kill)))


def gated_critical_scale(width: int, probability: float) -> float:
    return math.exp(-gated_layer_law(width, probability).cumulants[0])


@lru_cache(maxsize=None)
def settled_critical_scale(activation: str, width: int) -> float | None:
    """The normal-init scale at which the settled per-layer log gain is zero, if there is one."""
    from ..theory.laws import scale_where_rising_through_zero
    from ..theory.meanfield import mean_field_layers

    act = ACTIVATIONS[activation]
    return scale_where_rising_through_zero(
        lambda log_scale: mean_field_layers(act, width, 400, math.exp(log_scale))[-1].mean_log_ratio)


def predict(params: Mapping[str, Any]):
    from ..theory import Prediction
    from ..theory.laws import gaussian_law, quantiles_log10
    from ..theory.meanfield import column_to_mean_abs, mean_field_layers

    width, depth = params["width"], params["depth"]
    activation, init = ACTIVATIONS[params["activation"]], INITIALISERS[params["init"]]
    std = init.std(width, params["scale"])
    p = activation.gate_probability
    if p is not None and p >= 1 and init.preserves_lengths:
        # Linear and orthogonal: every length is multiplied by exactly std·√width per layer.
        per_layer = math.log(std * math.sqrt(width))
        norm_u = gaussian_law(depth * per_layer, 1e-24)
        offset = column_to_mean_abs(width, 1.0, 1.0)
        exact = False  # a point, not a law to test by KS: checked as an approximation, gap 0
        law = Words(N_("exact: orthogonal weights keep every length, ‖J u‖ = (scale·√width)^depth"))
        medians = [n * per_layer / LN10 + offset for n in range(1, depth + 1)]
        gain = rms = per_layer / LN10
        critical = balanced = 1 / math.sqrt(width)
    elif p is not None:
        step = gated_layer_law(width, p, init.preserves_lengths).shifted(math.log(std))
        norm_u = step.times(depth)
        offset = column_to_mean_abs(width, p, p)
        exact = init.gaussian
        if exact:
            law = Words(N_("exact: ‖J u‖² is a product of s² χ²_N terms, N ~ Binomial(width, %(p)s)"),
                        p=f"{p:g}") if p < 1 else \
                Words(N_("exact: ‖J u‖² is a product of s² χ²_width terms"))
        elif init.preserves_lengths:
            law = Words(N_("‖J u‖² a product of s² · width · Beta(N/2, (width − N)/2) terms, N ~ "
                           "Binomial(width, %(p)s) (orthogonal weights; approximate)"), p=f"{p:g}")
        else:
            law = Words(N_("finite-width law of this activation with this init's variance (exact "
                           "for Gaussian weights only)"))
        medians = [step.times(n).cornish_fisher_median / LN10 + offset for n in range(1, depth + 1)]
        gain, critical = step.cumulants[0] / LN10, gated_critical_scale(width, p)
        balanced = critical  # every layer has the same law: no transient
        rms = 0.5 * (math.log10(width) + 2 * math.log10(std) + math.log10(p))  # no underflow
    else:
        layers = mean_field_layers(activation, width, depth, std)
        means = np.cumsum([0.5 * m.mean_log_ratio for m in layers])
        variances = np.cumsum([0.25 * m.var_log_ratio for m in layers])
        norm_u = gaussian_law(float(means[-1]), float(variances[-1]))
        offset = column_to_mean_abs(width, layers[-1].d1, layers[-1].d2)
        exact = False
        law = Words(N_("mean field: variance map and per-layer χ, with a 1/width correction"))
        medians = [means[i] / LN10 + column_to_mean_abs(width, m.d1, m.d2)
                   for i, m in enumerate(layers)]
        gain = 0.5 * layers[-1].mean_log_ratio / LN10
        rms = 0.5 * math.log10(layers[-1].chi)
        critical = partial(settled_critical_scale, activation.name, width)  # found when asked
        balanced = partial(_critical_scale, activation.name, width, depth)
    median, q05, q95 = quantiles_log10(norm_u)
    return Prediction(
        law=law, exact=exact, median_log10_norm_u=median, q05_log10_norm_u=q05,
        q95_log10_norm_u=q95, median_log10_mean_abs=median + offset,
        mean_abs_method=Words(N_("column norm × √(2/π) E[φ′] / √(width E[φ′²]) (J treated as "
                                 "full rank)")),
        log10_gain_per_step=gain, log10_rms_gain_per_step=rms, critical=critical, balanced=balanced,
        trajectory_log10_mean_abs=np.array([-math.log10(width), *medians]),
        norm_u_law=norm_u, mean_abs_law=None, reference=Words(activation.reference_rule),
        reference_scale=activation.reference_scale(width), dead_fraction=dead_fraction(params))


def gain_per_step(params: Mapping[str, Any]) -> float:
    """The typical log10 gain per layer, averaged over the depth (normal init at `scale`)."""
    from ..theory.meanfield import mean_field_layers

    width, depth = params["width"], params["depth"]
    activation = ACTIVATIONS[params["activation"]]
    std = effective_scale(params)
    if activation.gate_probability is not None:
        law = gated_layer_law(width, activation.gate_probability).shifted(math.log(std)).times(depth)
        return law.cornish_fisher_median / LN10 / depth
    layers = mean_field_layers(activation, width, depth, std)
    return sum(0.5 * m.mean_log_ratio for m in layers) / LN10 / depth


@lru_cache(maxsize=None)
def _critical_scale(activation: str, width: int, depth: int) -> float | None:
    from ..theory.laws import scale_where_rising_through_zero
    from ..theory.meanfield import mean_field_layers

    act = ACTIVATIONS[activation]
    if act.gate_probability is not None:
        return gated_critical_scale(width, act.gate_probability)
    return scale_where_rising_through_zero(lambda log_scale: sum(
        m.mean_log_ratio for m in mean_field_layers(act, width, depth, math.exp(log_scale))))


def metric_predictions(params: Mapping[str, Any]) -> dict[str, MetricPrediction]:
    """A normalised setting's gradient ratio: the large-width (and for batch norm large-batch)
    rate of each layer (see stabreport.experiments.normalised)."""
    if _norm(params) == "none":
        return {}
    line = normalised.reach_medians(params)
    law = Words(N_("mean field of batch normalisation (Yang et al. 2019): E φ′(Z)² / Var φ(Z) per "
                   "layer, for a large batch and width")) if _norm(params) == "batch" else \
        Words(N_("mean field of layer normalisation: E φ′(Z)² / E φ(Z)² per layer, for a large "
                 "width"))
    return {"log10_grad_ratio": MetricPrediction(
        median=float(line[-1]), law=law, per_step=tuple(float(v) for v in line),
        log10_gain_per_step=normalised.log10_gain_per_layer(params)[1])}


def critical_scale(params: Mapping[str, Any]) -> float | None:
    """The depth-balanced scale: where the typical log ‖J u‖ after `depth` layers is zero."""
    return _critical_scale(params["activation"], params["width"], params["depth"])


# A normalised setting's metric: the gradient of a batch's loss, not a matrix (see normalised).
GRAD_RATIO = Metric("log10_grad_ratio", "log10 ‖∂ℒ/∂h₀‖ / ‖∂ℒ/∂h_L‖",
                    "log10 of the ratio of the loss gradient's Frobenius norms at the input and at "
                    "the output, over a batch (norm=batch or layer)")
MATRIX_NAMES = tuple(m.name for m in MATRIX_METRICS)


def full_path_bytes(params: Mapping[str, Any], runs: int) -> int:
    if _norm(params) == "none":
        return 4 * runs * params["width"] ** 2 * 8  # the engine's default: W, J, a product, a copy
    return normalised.working_bytes(params, runs)


MLP = Experiment(
    name="mlp",
    title=N_("Gradients through a deep MLP"),
    summary=N_("Input–output Jacobian of a bias-free MLP of `depth` square layers of `width` "
               "units."),
    params=(
        Param("width", int, 100, N_("units per layer (all layers square)"), minimum=1),
        Param("depth", int, 50, N_("number of layers"), minimum=1),
        Param("activation", str, "relu", N_("activation function"), choices=tuple(ACTIVATIONS)),
        Param("init", str, "normal", N_("weight initialisation"), choices=tuple(INITIALISERS)),
        Param("scale", float, 0.1, N_("standard deviation of the weights (init=normal only; "
                                      "between 1e-100 and 1e100, outside which the theory's "
                                      "variance width·scale² leaves float64's range)"),
              minimum=1e-100, maximum=1e100),
        Param("norm", str, "none", N_("a normalisation after every matrix, without affine "
                                      "parameters: none, batch (each unit over the batch) or layer "
                                      "(each example over its units)"),
              choices=("none", "batch", "layer"), omitted_at=("none",)),
        Param("batch", int, 64, N_("inputs per batch (norm=batch or layer only)"), minimum=2,
              omitted_at=(None,)),
    ),
    simulate=simulate,
    tangent=column_lengths,
    tangent_applies=lambda params: INITIALISERS[params["init"]].gaussian and _norm(params) == "none",
    tangent_needs="Gaussian weights and norm=none",
    metrics=MATRIX_METRICS + (GRAD_RATIO,),
    reports=lambda params: MATRIX_NAMES if _norm(params) == "none" else (GRAD_RATIO.name,),
    reach=lambda params: _norm(params) != "none",
    full_path_bytes=full_path_bytes,
    steps_param="depth",
    width_param="width",
    step_label=N_("layer"),
    step_plural=N_("layers"),
    default_runs=10,
    theory=Theory(predict=predict, gain_per_step=gain_per_step, critical_scale=critical_scale,
                  applies=lambda params: _norm(params) == "none", metrics=metric_predictions),
    effective_scale=effective_scale,
    at_scale=lambda params, s: {**params, "init": "normal", "scale": s},
    sweep_axes=("scale", "width", "depth"),
    sweep_metric="log10_norm_u",
    page="mlp",
    normalise=normalise,
    # The explorer: every activation at normal init, on a √2-spaced scale grid through the
    # lecture's four scales (and He's at width 100, 0.141), at the lecture's width and depth and
    # below them (deeper grids are on the phase diagrams; these keep a cold build short).
    explore=Explore(grid={"activation": ("relu", "sigmoid", "scaled_sigmoid", "tanh", "linear"),
                          "init": ("normal",), "scale": log_values(0.025, 2 ** 0.5, 15),
                          "width": (25, 50, 100), "depth": (10, 25, 50)},
                    scale="scale", initial={"scale": 0.1, "width": 100, "depth": 50}),
    describe=describe,
    introduce=introduce,
    spectrum=True,
)
