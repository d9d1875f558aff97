"""A residual MLP: h₀ = x ~ N(0, I) and blocks h_l = h_{l−1} + a · W_l φ(h_{l−1}), so that the
input–output Jacobian is J_l = (I + a · W_l diag φ′(h_{l−1})) J_{l−1}.

Simulation: the full Jacobian (and its spectrum), and the fast path for ‖J u‖ with Gaussian
weights. Theory: the mean-field variance map, the mean-square gain per block 1 + a² k s² E φ′²,
and the same finite-width correction as the plain MLP's, derived for a block (THEORY.md,
"Residual networks"): approximate, and checked against the measurement on every build.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..render.formatting import Words
from ..render.i18n import N_, _
from .nn import ACTIVATIONS, INITIALISERS, introduce
from ..core.params import Param
from .base import (LN10, Experiment, Explore, Simulation, Spectrum, Theory, finish,
                   log10_mean_abs, log_values, renormalise)

SQRT_DEPTH = "1/sqrt(depth)"  # the branch scale that keeps the gradient bounded at any depth


def branch(params: Mapping[str, Any]) -> float:
    """The branch scale a as a number."""
    value = params["branch_scale"]
    return 1.0 / math.sqrt(params["depth"]) if value == SQRT_DEPTH else float(value)


def effective_scale(params: Mapping[str, Any]) -> float:
    return float(INITIALISERS[params["init"]].std(params["width"], params["scale"]))


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator,
             spectrum: bool = False) -> Simulation:
    width, depth, a = params["width"], params["depth"], branch(params)
    activation = ACTIVATIONS[params["activation"]]
    init = INITIALISERS[params["init"]]
    std = effective_scale(params) if init.gaussian else 1.0
    tracker = Spectrum(runs, width, every=8) if spectrum else None  # I + aWD is never singular
    h = rng.standard_normal((runs, width))
    jac = np.broadcast_to(np.eye(width), (runs, width, width)).copy()
    log_scale = np.zeros(runs)  # J = exp(log_scale) · jac, with ‖jac‖_F = 1 after each block
    trajectory = np.empty((runs, depth + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(width)
    for block in range(1, depth + 1):
        w = rng.standard_normal((runs, width, width)) if init.gaussian else \
            init.sample(rng, runs, width, params["scale"])
        w *= a * std  # the branch's whole factor
        d = activation.derivative(h)
        if tracker is not None:
            tracker.step(lambda q: q + np.matmul(w, d[:, :, None] * q))
        jac += np.matmul(w, d[:, :, None] * jac)
        norms = np.sqrt(np.einsum("nij,nij->n", jac, jac))
        jac /= np.where(norms > 0, norms, 1.0)[:, None, None]
        with np.errstate(divide="ignore"):
            log_scale += np.log(norms)
        trajectory[:, block] = log10_mean_abs(jac, log_scale)
        h = h + (w @ activation.fn(h)[:, :, None])[:, :, 0]
        if activation.positively_homogeneous:  # h_l is homogeneous in h_{l−1}: rescale freely
            renormalise(h)
    return finish(jac, log_scale, trajectory, tracker)


def column_lengths(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, depth + 1) log10 ‖J_l u‖ with u = e₁: per block the pair (W φ(h), W (φ′(h) ⊙ t))
    is drawn directly, row by row bivariate normal with covariance s² · Gram(φ(h), φ′(h) ⊙ t):
    exact in distribution for Gaussian weights, O(width) random numbers per block."""
    width, depth, a = params["width"], params["depth"], branch(params)
    activation = ACTIVATIONS[params["activation"]]
    s = effective_scale(params)
    h = rng.standard_normal((runs, width))
    t = np.zeros((runs, width))
    t[:, 0] = 1.0
    out = np.zeros((runs, depth + 1))
    log_norm = np.zeros(runs)
    for block in range(1, depth + 1):
        v = activation.fn(h)
        u = activation.derivative(h) * t
        aa = np.einsum("ni,ni->n", v, v)
        bb = np.einsum("ni,ni->n", v, u)
        cc = np.einsum("ni,ni->n", u, u)
        root = np.sqrt(aa)
        along = bb / np.where(root > 0, root, 1.0)
        across = np.sqrt(np.maximum(cc - along * along, 0.0))
        g = rng.standard_normal((2, runs, width))
        h = h + (a * s) * root[:, None] * g[0]
        t = t + (a * s) * (along[:, None] * g[0] + across[:, None] * g[1])
        log_norm += renormalise(t)
        out[:, block] = log_norm / LN10
        if activation.positively_homogeneous:
            renormalise(h)
    return out


def normalise(params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
    """Gaussian weights default to He's scale √(2/width); an init with a variance of its own
    takes no scale, and one whose scale is optional keeps its own unless one is given."""
    init = INITIALISERS[params["init"]]
    if not init.uses_scale:
        if "scale" in given:
            raise ConfigError(f"{where}parameter 'scale' got {params['scale']!r} but init "
                              f"'{params['init']}' sets its own variance; allowed: scale only "
                              "with an init that takes one", key="scale")
        return {**params, "scale": None}
    if "scale" not in given:
        return {**params, "scale": None if init.scale_optional else
                float(f"{math.sqrt(2 / params['width']):.12g}")}
    return params


def describe(params: Mapping[str, Any]) -> str:
    """The setting in words ("relu, branch scale 1.0, scale 0.1414, width 100, depth 50"), in the
    language being rendered."""
    values = {"activation": ACTIVATIONS[params["activation"]].words, "branch": params["branch_scale"],
              "width": params["width"], "depth": params["depth"]}
    if params.get("scale") is not None:
        return _("%(activation)s, branch scale %(branch)s, scale %(scale)s, width %(width)s, "
                 "depth %(depth)s") % {**values, "scale": f"{params['scale']:.4g}"}
    if "scale" in params:
        return _("%(activation)s, branch scale %(branch)s, %(init)s init, width %(width)s, "
                 "depth %(depth)s") % {**values, "init": INITIALISERS[params["init"]].words}
    return _("%(activation)s, branch scale %(branch)s, width %(width)s, depth %(depth)s") % values


# --- theory ------------------------------------------------------------------------------------------

def blocks(params: Mapping[str, Any]) -> list[tuple[float, float, float, float]]:
    """Per block: (mean and variance of ln r, the squared-norm ratio of ‖J u‖, the mean-square
    gain 1 + c, and E φ′ for the mean entry), from the variance map q_l = q_{l−1} + a² k s²
    E φ(√q Z)², q₀ = 1.

    With v = J u / ‖J u‖ and β² = a² s² ‖D v‖², r = ‖v + β g‖² = (1 + β g₁)² + β² χ²_{k−1}
    exactly; with c = a² k s² E φ′² and ‖D v‖² ≈ E φ′² (relative variance 3(m₄ − m₂²)/(k m₂²)
    for a v spread over the units), to first order in 1/k:
    E ln r = ln(1 + c) − c(2 + c)/(k(1 + c)²) − (3/2) (c/(1 + c))² (m₄ − m₂²)/(k m₂²),
    Var ln r = 2c(2 + c)/(k(1 + c)²) + 3 (c/(1 + c))² (m₄ − m₂²)/(k m₂²).
    As c grows this is the plain MLP's correction; for a ReLU network it ignores that v and the
    active units are correlated through the shared weights (the measured gap says how much)."""
    from ..theory.meanfield import gaussian_rule

    width, depth, a = params["width"], params["depth"], branch(params)
    activation = ACTIVATIONS[params["activation"]]
    gain2 = a * a * width * effective_scale(params) ** 2
    q, out = 1.0, []
    for _ in range(depth):
        x, weights = gaussian_rule(q)
        slope = activation.derivative(x)
        m1, m2, m4 = float(slope @ weights), float(slope**2 @ weights), float(slope**4 @ weights)
        c = gain2 * m2
        spread = (m4 - m2 * m2) / (width * m2 * m2) if m2 > 0 else 0.0
        ratio = c / (1 + c)
        bend = 1 - (1 / (1 + c)) ** 2  # c(2 + c)/(1 + c)², without overflow at large c
        mean = math.log1p(c) - bend / width - 1.5 * ratio**2 * spread
        var = 2 * bend / width + 3 * ratio**2 * spread
        out.append((mean, var, c, m1 / math.sqrt(m2) if m2 > 0 else 1.0))
        if activation.positively_homogeneous:  # φ′'s moments do not depend on q
            return out * depth
        q += gain2 * float(activation.fn(x) ** 2 @ weights)
    return out


def predict(params: Mapping[str, Any]):
    from ..theory import Prediction
    from ..theory.laws import gaussian_law, quantiles_log10
    from ..theory.meanfield import column_to_mean_abs

    width = params["width"]
    activation = ACTIVATIONS[params["activation"]]
    per_block = blocks(params)
    means = np.cumsum([0.5 * m for m, _, _, _ in per_block])
    variances = np.cumsum([0.25 * v for _, v, _, _ in per_block])
    norm_u = gaussian_law(float(means[-1]), float(variances[-1]))
    median, q05, q95 = quantiles_log10(norm_u)
    slope_ratio = per_block[-1][3]
    offset = column_to_mean_abs(width, slope_ratio, 1.0)
    return Prediction(
        law=Words(N_("mean field for residual blocks: variance map and per-block gain 1 + a² k s² "
                     "E φ′², with a 1/width correction (approximate)")),
        exact=False, median_log10_norm_u=median, q05_log10_norm_u=q05, q95_log10_norm_u=q95,
        median_log10_mean_abs=median + offset,
        mean_abs_method=Words(N_("column norm × √(2/π) E[φ′] / √(width E[φ′²]) (J treated as "
                                 "having iid entries; near the identity, with small branches, it "
                                 "misses the diagonal)")),
        log10_gain_per_step=0.5 * per_block[-1][0] / LN10,
        log10_rms_gain_per_step=0.5 * math.log10(1 + per_block[-1][2]), critical=None,
        trajectory_log10_mean_abs=np.array([-math.log10(width)] + [
            m / LN10 + offset for m in means]),
        norm_u_law=norm_u, mean_abs_law=None, reference=Words(activation.reference_rule),
        reference_scale=activation.reference_scale(width))


def gain_per_step(params: Mapping[str, Any]) -> float:
    return sum(0.5 * m for m, _, _, _ in blocks(params)) / LN10 / params["depth"]


RESNET = Experiment(
    name="resnet",
    title=N_("Residual networks"),
    summary=N_("Input–output Jacobian of a residual MLP: `depth` blocks h ← h + a · W φ(h) of "
               "`width` units, a the branch scale."),
    params=(
        Param("width", int, 100, N_("units per block"), minimum=1),
        Param("depth", int, 50, N_("number of residual blocks"), minimum=1),
        Param("activation", str, "relu", N_("activation function"), choices=tuple(ACTIVATIONS)),
        Param("init", str, "normal", N_("weight initialisation"), choices=tuple(INITIALISERS)),
        Param("scale", float, None, N_("standard deviation of the branch weights (inits that take "
                                       "one; at most 1e100)"), minimum=0.0, maximum=1e100,
              default_text="√(2/width), He's"),
        # The help names the value SQRT_DEPTH as written ('1/sqrt(depth)').
        Param("branch_scale", float, 1.0, N_("a, the factor on each block's branch; "
                                             "'1/sqrt(depth)' shrinks it with the depth (as Fixup, "
                                             "SkipInit and ReZero do)"),
              minimum=0.0, maximum=1e100, also=(SQRT_DEPTH,)),
    ),
    simulate=simulate,
    tangent=column_lengths,
    tangent_applies=lambda params: INITIALISERS[params["init"]].gaussian,
    steps_param="depth",
    width_param="width",
    step_label=N_("block"),
    step_plural=N_("blocks"),
    default_runs=10,
    theory=Theory(predict=predict, gain_per_step=gain_per_step, critical_scale=lambda params: None),
    effective_scale=effective_scale,
    at_scale=lambda params, s: {**params, "init": "normal", "scale": s},
    sweep_axes=("scale", "branch_scale", "width", "depth"),
    sweep_metric="log10_norm_u",
    page="alive",
    normalise=normalise,
    describe=describe,
    introduce=introduce,
    spectrum=True,
    # The explorer: ReLU and tanh blocks at He's scale, the branch scale on a √2 grid through
    # 1/√depth's values (0.1 at depth 100).
    explore=Explore(grid={"activation": ("relu", "tanh"), "branch_scale": log_values(0.025, 2 ** 0.5, 13),
                          "width": (25, 100), "depth": (10, 25, 50, 100)},
                    scale="branch_scale", initial={"branch_scale": 0.1, "width": 100, "depth": 50}),
)
