"""A vanilla recurrent network through time, where vanishing gradients were first named.

h₀ = 0; z_t = W h_{t−1} + x_t, h_t = φ(z_t) for t = 1 … T, with inputs x_t iid N(0, σ_x² I);
the Jacobian J = ∂h_T/∂h₀ = D_T W ⋯ D_1 W with D_t = diag φ′(z_t). W is the same matrix at every
step (`tied`, as in a real RNN), or fresh at every step (`tied=false`: the lecture's MLP with
inputs).

Simulation: the full Jacobian (its spectrum on request) and how far back the gradient reaches
(uᵀ ∂h_T/∂h_{T−d} for every d, by one backward pass), plus W's spectral radius and largest
singular value; the fast path carries J u, with (W h, W t) drawn jointly for fresh Gaussian
weights and the explicit W otherwise. Theory: the mean-field variance map with inputs and the
per-step gain k s² E φ′² with the 1/width correction (THEORY.md, "Recurrent networks"): for
untied weights, where it is exact as the width grows; tied weights are measured against it.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..render.formatting import Words
from ..render.i18n import N_, _
from ..core.params import Param
from .base import LN10, Experiment, Explore, Metric, MATRIX_METRICS, Simulation, Theory, \
    default_scale, finish, log10_mean_abs, log_values, renormalise
from .mlp import slopes, spectrum_tracker
from .nn import ACTIVATIONS, INITIALISERS, introduce

# The recurrent weight W: entries of standard deviation `scale` (normal), or scale·√width times
# a Haar orthogonal matrix, or scale·√width times the identity (IRNN, Le, Jaitly & Hinton 2015).
INITS = ("normal", "orthogonal", "identity")
INIT_TITLES = {"identity": N_("identity")}


def gain(params: Mapping[str, Any]) -> float:
    """s·√width: W's typical stretch (its exact one for orthogonal and identity W)."""
    return params["scale"] * math.sqrt(params["width"])


def draw_weights(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    width, init = params["width"], params["init"]
    if init == "normal":
        w = rng.standard_normal((runs, width, width))
        w *= params["scale"]
        return w
    if init == "orthogonal":
        return INITIALISERS["orthogonal"].sample(rng, runs, width, params["scale"])
    return np.broadcast_to(gain(params) * np.eye(width), (runs, width, width))


def _weights(params: Mapping[str, Any], runs: int, seeds: np.ndarray | None, t: int,
             tied: np.ndarray | None) -> np.ndarray:
    """W of step t (1-based): the one tied matrix, or step t's fresh one, drawn from its own
    stream so that the backward pass can draw it again."""
    if tied is not None:
        return tied
    return draw_weights(params, runs, np.random.default_rng(seeds[t - 1]))


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator,
             spectrum: bool = False) -> Simulation:
    width, steps, sx = params["width"], params["steps"], params["input_scale"]
    activation = ACTIVATIONS[params["activation"]]
    tracker = spectrum_tracker(activation, runs, width) if spectrum else None
    tied = draw_weights(params, runs, rng) if params["tied"] else None
    seeds = None if params["tied"] else rng.integers(0, 2**63, size=steps)
    first = _weights(params, runs, seeds, 1, tied)
    with np.errstate(divide="ignore"):
        radius = np.log10(np.max(np.abs(np.linalg.eigvals(first)), axis=1))
        top = np.log10(np.linalg.norm(first, ord=2, axis=(1, 2)))
    h = np.zeros((runs, width))
    jac = np.broadcast_to(np.eye(width), (runs, width, width)).copy()
    log_scale = np.zeros(runs)
    rows = np.empty((steps, runs, width))  # D_t / its largest entry, and ln of that entry
    tops = np.empty((steps, runs))
    trajectory = np.empty((runs, steps + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(width)
    for t in range(1, steps + 1):
        w = first if t == 1 else _weights(params, runs, seeds, t, tied)
        z = (w @ h[:, :, None])[:, :, 0] + sx * rng.standard_normal((runs, width))
        d, log_top = slopes(activation, z)
        rows[t - 1], tops[t - 1] = d, log_top
        if tracker is not None:
            tracker.step(lambda q: d[:, :, None] * np.matmul(w, q), log_top)
        jac = d[:, :, None] * np.matmul(w, jac)
        norms = np.sqrt(np.einsum("nij,nij->n", jac, jac))
        jac /= np.where(norms > 0, norms, 1.0)[:, None, None]
        with np.errstate(divide="ignore"):
            log_scale += log_top + np.log(norms)
        trajectory[:, t] = log10_mean_abs(jac, log_scale)
        h = activation.fn(z)
    reach = np.zeros((runs, steps + 1))
    g = np.zeros((runs, width))
    g[:, 0] = 1.0  # uᵀ = e₁ᵀ at step T; one step back: gᵀ ← gᵀ D_t W_t
    log_g = np.zeros(runs)
    for d in range(1, steps + 1):
        t = steps - d + 1
        w = first if t == 1 else _weights(params, runs, seeds, t, tied)
        g = (np.swapaxes(w, 1, 2) @ (rows[t - 1] * g)[:, :, None])[:, :, 0]
        log_g += tops[t - 1] + renormalise(g)
        reach[:, d] = log_g / LN10
    extra = {"log10_radius": radius, "log10_sigma_max": top}
    return finish(jac, log_scale, trajectory, tracker, reach=reach, extra=extra)


def column_lengths(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, steps + 1) log10 ‖J_t u‖, u = e₁, carrying t = J_t u. Fresh Gaussian weights: the
    pair (W h, W t) is drawn directly, row by row bivariate normal with covariance s² Gram(h, t)
    (exact in distribution, O(width) per step); otherwise W itself, O(width²) per step."""
    width, steps, sx = params["width"], params["steps"], params["input_scale"]
    activation = ACTIVATIONS[params["activation"]]
    joint = not params["tied"] and params["init"] == "normal"
    s = params["scale"]
    tied = draw_weights(params, runs, rng) if params["tied"] else None
    h = np.zeros((runs, width))
    t = np.zeros((runs, width))
    t[:, 0] = 1.0
    out = np.zeros((runs, steps + 1))
    log_norm = np.zeros(runs)
    for step in range(1, steps + 1):
        if joint:
            a = np.einsum("ni,ni->n", h, h)
            b = np.einsum("ni,ni->n", h, t)
            c = np.einsum("ni,ni->n", t, t)
            root = np.sqrt(a)
            along = b / np.where(root > 0, root, 1.0)
            across = np.sqrt(np.maximum(c - along * along, 0.0))
            g = rng.standard_normal((2, runs, width))
            wh = s * root[:, None] * g[0]
            wt = s * (along[:, None] * g[0] + across[:, None] * g[1])
        else:
            w = tied if tied is not None else draw_weights(params, runs, rng)
            wh = (w @ h[:, :, None])[:, :, 0]
            wt = (w @ t[:, :, None])[:, :, 0]
        z = wh + sx * rng.standard_normal((runs, width))
        d, log_top = slopes(activation, z)
        t = d * wt
        log_norm += log_top + renormalise(t)
        out[:, step] = log_norm / LN10
        h = activation.fn(z)
    return out


def init_words(name: str) -> str:
    return _(INIT_TITLES[name]) if name in INIT_TITLES else INITIALISERS[name].words


def describe(params: Mapping[str, Any]) -> str:
    """The setting in words ("tanh, tied normal weights, scale 0.1, inputs 1, width 100, 50
    steps"), in the language being rendered."""
    values = {"activation": ACTIVATIONS[params["activation"]].words if "activation" in params else "",
              "width": params.get("width"), "steps": params.get("steps")}
    tied = params.get("tied", True)
    weights = (_("tied %(init)s weights") if tied else _("untied %(init)s weights")) % {
        "init": init_words(params.get("init", "normal"))}
    inputs = _("inputs %(sx)s") % {"sx": f"{params['input_scale']:g}"} \
        if params.get("input_scale") else _("no inputs")
    if params.get("scale") is not None:
        return _("%(activation)s, %(weights)s, scale %(scale)s, %(inputs)s, width %(width)s, "
                 "%(steps)s steps") % {**values, "weights": weights, "inputs": inputs,
                                       "scale": f"{params['scale']:.4g}"}
    return _("%(activation)s, %(weights)s, %(inputs)s, width %(width)s, %(steps)s steps") % {
        **values, "weights": weights, "inputs": inputs}


# --- theory ------------------------------------------------------------------------------------------

def _layers(params: Mapping[str, Any], scale: float | None = None):
    from ..theory.meanfield import mean_field_layers

    sx2 = params["input_scale"] ** 2
    return mean_field_layers(ACTIVATIONS[params["activation"]], params["width"], params["steps"],
                             params["scale"] if scale is None else scale, input_variance=sx2,
                             first_q=sx2)


def _exact_linear(params: Mapping[str, Any]) -> bool:
    return params["activation"] == "linear" and params["init"] in ("orthogonal", "identity")


def applies(params: Mapping[str, Any]) -> bool:
    """The theory is for fresh weights at every step (the mean field's assumption), and exact
    for a linear network whose W keeps every length (orthogonal or identity, tied or not)."""
    return not params["tied"] or _exact_linear(params)


def pascanu_scale(params: Mapping[str, Any]) -> float:
    """The scale at which σ_max(W) = 1/γ, γ = max |φ′| (Pascanu, Mikolov & Bengio 2013), for
    W's typical largest singular value: 2 s √width for Gaussian W (the Marchenko–Pastur edge),
    s √width for orthogonal and identity W. Below it the gradient surely vanishes; above it
    is where it may explode."""
    x = np.linspace(-5, 5, 20001)
    slope_max = float(np.max(ACTIVATIONS[params["activation"]].derivative(x)))
    edge = 2.0 if params["init"] == "normal" else 1.0
    return 1.0 / (slope_max * edge * math.sqrt(params["width"]))


def predict(params: Mapping[str, Any]):
    from ..theory import Prediction
    from ..theory.laws import gaussian_law, quantiles_log10
    from ..theory.meanfield import column_to_mean_abs
    from .mlp import gated_layer_law

    width, steps = params["width"], params["steps"]
    activation = ACTIVATIONS[params["activation"]]
    if _exact_linear(params):
        per_step = math.log(gain(params))
        norm_u = gaussian_law(steps * per_step, 1e-24)
        law = Words(N_("exact: W keeps every length, ‖J u‖ = (scale·√width)^steps"))
        offset = column_to_mean_abs(width, 1.0, 1.0) if params["init"] == "orthogonal" else \
            -math.log10(width)  # J = g^T I: mean |J_ij| = g^T / width
        medians = [n * per_step / LN10 + offset for n in range(1, steps + 1)]
        gain10 = rms = per_step / LN10
        exact, critical, balanced = False, 1 / math.sqrt(width), None
        reach = np.arange(steps + 1) * gain10
    elif params["activation"] == "linear" and params["init"] == "normal":
        step = gated_layer_law(width, 1.0).shifted(math.log(params["scale"]))
        norm_u = step.times(steps)
        law = Words(N_("exact for untied weights: ‖J u‖² is a product of s² χ²_width terms"))
        offset = column_to_mean_abs(width, 1.0, 1.0)
        medians = [step.times(n).cornish_fisher_median / LN10 + offset for n in range(1, steps + 1)]
        gain10 = step.cumulants[0] / LN10
        rms = math.log10(gain(params))
        exact, critical, balanced = True, None, None
        reach = np.array([0.0] + [step.times(n).cornish_fisher_median / LN10
                                  for n in range(1, steps + 1)])
    else:
        layers = _layers(params)
        means = np.cumsum([0.5 * m.mean_log_ratio for m in layers])
        variances = np.cumsum([0.25 * m.var_log_ratio for m in layers])
        norm_u = gaussian_law(float(means[-1]), float(variances[-1]))
        law = Words(N_("mean field with inputs: variance map q_t = k s² E φ(√q Z)² + σ_x² and "
                       "per-step gain k s² E φ′², with a 1/width correction (fresh weights; "
                       "approximate)"))
        offset = column_to_mean_abs(width, layers[-1].d1, layers[-1].d2)
        medians = [means[i] / LN10 + column_to_mean_abs(width, m.d1, m.d2)
                   for i, m in enumerate(layers)]
        gain10 = 0.5 * layers[-1].mean_log_ratio / LN10
        rms = 0.5 * math.log10(layers[-1].chi)
        exact = False
        reach = reach_medians(activation, layers, width, params["scale"])
        critical = lambda: settled_critical_scale(params["activation"], width,  # noqa: E731
                                                  params["input_scale"])
        balanced = lambda: critical_scale(params)  # noqa: E731
    if critical is None:
        critical = 1 / math.sqrt(width) if params["activation"] == "linear" else None
    median, q05, q95 = quantiles_log10(norm_u)
    return Prediction(
        law=law, exact=exact, median_log10_norm_u=median, q05_log10_norm_u=q05,
        q95_log10_norm_u=q95, median_log10_mean_abs=median + offset,
        mean_abs_method=Words(N_("column norm × √(2/π) E[φ′] / √(width E[φ′²]) (J treated as "
                                 "having iid entries)")),
        log10_gain_per_step=gain10, log10_rms_gain_per_step=rms, critical=critical,
        balanced=balanced, trajectory_log10_mean_abs=np.array([-math.log10(width), *medians]),
        norm_u_law=norm_u, mean_abs_law=None, reference=Words(N_("the circular law's 1/√k")),
        reference_scale=1 / math.sqrt(width), dead_fraction=None, reach_log10=reach)


def reach_medians(activation, layers, width: int, scale: float) -> np.ndarray:
    """log10 of the gradient d steps back, d = 0 … T: the gains of the last d steps (T, T − 1,
    ..., T − d + 1), except that the first step back multiplies the single unit u = e₁ by its
    own slope, ‖e₁ᵀ D_T W‖ = |φ′(z_T1)| · s χ_k, so it gains ln|φ′(√q_T Z)| + ln s + ln χ_k
    rather than ½ ln(k s² E φ′²); from then on the gradient is spread over the units. That one
    slope's log is far from normal (a long tail towards zero slope), so the median is that of
    its exact law (on the quadrature's points) plus a normal law of the rest (the later steps'
    means and variances, and χ_k's)."""
    from scipy import optimize, special

    from ..theory.meanfield import gaussian_rule

    x, weights = gaussian_rule(layers[-1].q)
    keep = weights > 1e-14 * weights.max()
    x, weights = x[keep], weights[keep] / weights[keep].sum()
    if activation.log_slope is not None:
        log_slope = activation.log_slope(x)
    else:
        with np.errstate(divide="ignore"):
            log_slope = np.log(activation.derivative(x))
    alive = np.isfinite(log_slope)
    if not alive.any():
        return np.full(len(layers) + 1, -np.inf)
    log_slope, weights = log_slope[alive], weights[alive] / weights[alive].sum()
    chi_mean = math.log(scale) + 0.5 * (special.digamma(width / 2) + math.log(2))
    chi_var = 0.25 * special.polygamma(1, width / 2)
    means = np.cumsum([chi_mean] + [0.5 * m.mean_log_ratio for m in reversed(layers[:-1])])
    variances = np.cumsum([chi_var] + [0.25 * m.var_log_ratio for m in reversed(layers[:-1])])
    out = [0.0]
    for mean, var in zip(means, variances):
        sd = math.sqrt(var)
        share = lambda y: float(special.ndtr((y - mean - log_slope) / sd) @ weights) - 0.5  # noqa: E731
        low, high = float(log_slope.min()) + mean - 10 * sd, float(log_slope.max()) + mean + 10 * sd
        out.append(optimize.brentq(share, low, high, xtol=1e-9) / LN10)
    return np.array(out)


def gain_per_step(params: Mapping[str, Any]) -> float:
    """The typical log10 gain per step, averaged over the steps (normal W at `scale`)."""
    return sum(0.5 * m.mean_log_ratio for m in _layers(params)) / LN10 / params["steps"]


@lru_cache(maxsize=None)
def settled_critical_scale(activation: str, width: int, input_scale: float) -> float | None:
    """The scale at which the settled per-step log gain is zero (400 steps settle any q)."""
    from ..theory.laws import scale_where_rising_through_zero

    base = {"activation": activation, "width": width, "steps": 400, "input_scale": input_scale}
    return scale_where_rising_through_zero(
        lambda log_s: _layers(base, math.exp(log_s))[-1].mean_log_ratio)


@lru_cache(maxsize=None)
def _balanced(activation: str, width: int, steps: int, input_scale: float) -> float | None:
    from ..theory.laws import scale_where_rising_through_zero

    base = {"activation": activation, "width": width, "steps": steps, "input_scale": input_scale}
    return scale_where_rising_through_zero(
        lambda log_s: sum(m.mean_log_ratio for m in _layers(base, math.exp(log_s))))


def critical_scale(params: Mapping[str, Any]) -> float | None:
    """The depth-balanced scale: where the typical log ‖J u‖ after `steps` steps is zero."""
    return _balanced(params["activation"], params["width"], params["steps"], params["input_scale"])


METRICS = MATRIX_METRICS + (
    Metric("log10_radius", "log10 ρ(W)", "log10 of the spectral radius of W (the first step's "
                                         "when untied)"),
    Metric("log10_sigma_max", "log10 σ_max(W)", "log10 of the largest singular value of W (the "
                                                "first step's when untied)"),
)


RNN = Experiment(
    name="rnn",
    title=N_("Recurrent networks through time"),
    summary=N_("Jacobian ∂h_T/∂h₀ of a vanilla recurrent network h_t = φ(W h_(t−1) + x_t) over "
               "`steps` steps of `width` units, W tied across time or fresh at every step."),
    params=(
        Param("width", int, 100, N_("units of the state"), minimum=1),
        Param("steps", int, 50, N_("number of time steps T"), minimum=1),
        Param("activation", str, "tanh", N_("activation function"), choices=tuple(ACTIVATIONS)),
        Param("init", str, "normal", N_("recurrent weights: normal (entries N(0, scale²)), "
                                        "orthogonal (scale·√width·Q) or identity (scale·√width·I, "
                                        "as IRNN)"), choices=INITS),
        Param("scale", float, None, N_("standard deviation of W's entries (at most 1e100)"),
              minimum=0.0, maximum=1e100, default_text="1/√width"),
        Param("input_scale", float, 1.0, N_("standard deviation of the inputs x_t (0: no input; "
                                            "at most 1e100)"),
              minimum=0.0, at_least=True, maximum=1e100),
        Param("tied", bool, True, N_("the same W at every step (true), or a fresh W at every "
                                     "step (false: an MLP with inputs)")),
    ),
    simulate=simulate,
    tangent=column_lengths,
    steps_param="steps",
    width_param="width",
    step_label=N_("step"),
    step_plural=N_("steps"),
    default_runs=10,
    metrics=METRICS,
    theory=Theory(predict=predict, gain_per_step=gain_per_step, critical_scale=critical_scale,
                  applies=applies),
    at_scale=lambda params, s: {**params, "init": "normal", "scale": s},
    sweep_axes=("scale", "steps", "width", "input_scale"),
    sweep_metric="log10_norm_u",
    page="rnn",
    normalise=default_scale(1.0),  # scale: 1/√width unless given
    describe=describe,
    introduce=introduce,
    spectrum=True,
    reach=True,
    # The explorer: tanh and linear networks of width 100 with normal weights, tied or fresh at
    # every step, with and without inputs, on a √2 grid of scales through 1/√width.
    explore=Explore(grid={"activation": ("tanh", "linear"), "tied": (True, False),
                          "input_scale": (0.0, 1.0), "scale": log_values(0.05, 2 ** 0.5, 9),
                          "width": (100,), "steps": (10, 50)},
                    scale="scale", params={"init": "normal"},
                    initial={"scale": 0.1, "width": 100, "steps": 50}),
)
