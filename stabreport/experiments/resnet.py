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


PATHS = 1024  # representative runs of the spike model (fixed draws: the theory is deterministic)
PATH_SEED = 20240611


def _hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


_HERMITE_24 = _hermite(24)  # computed once: a rule costs more than the sum it weights


def _slope_correlation(activation, q0: float, q1: float) -> float:
    """Corr(φ′(h)², φ′(h′)²) for one unit across a block: h ~ N(0, q0), h′ = h + N(0, q1 − q0)
    (the unit's own increment is independent of h). ReLU: the gates' correlation (2/π) asin ρ
    with ρ = √(q0/q1); otherwise a 24 × 24 Gauss–Hermite rule."""
    rho = math.sqrt(q0 / q1) if q1 > 0 else 1.0
    if activation.gate_probability is not None:
        return 2 / math.pi * math.asin(min(rho, 1.0))
    x, w = _HERMITE_24
    h = math.sqrt(q0) * x[:, None]
    h1 = h + math.sqrt(max(q1 - q0, 0.0)) * x[None, :]
    f0, f1 = activation.derivative(h) ** 2, activation.derivative(h1) ** 2
    ww = w[:, None] * w[None, :]
    m0, m1 = float((f0 * ww).sum()), float((f1 * ww).sum())
    v0, v1 = float((f0 * f0 * ww).sum()) - m0 * m0, float((f1 * f1 * ww).sum()) - m1 * m1
    if v0 <= 1e-300 or v1 <= 1e-300:
        return 1.0
    return max(0.0, min(1.0, (float((f0 * f1 * ww).sum()) - m0 * m1) / math.sqrt(v0 * v1)))


def spike_paths(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The spike-and-bulk model of ‖J_l u‖ (u = e₁), over PATHS fixed draws of what a run shares
    across its blocks (THEORY.md, "Residual networks"; derivation in predict's docstring).

    Returns per path the mean and variance of ln ‖J u‖ at the end (the block-by-block χ² noise
    given the path), and per block the path-average of √V_l = √((S_l − 1)/k), the standard
    deviation of an off-diagonal entry of J_l, and of E|J_jj| = E|N(1, V_l)|."""
    from ..theory.meanfield import gaussian_rule

    width, depth, a = params["width"], params["depth"], branch(params)
    activation = ACTIVATIONS[params["activation"]]
    gain2 = a * a * width * effective_scale(params) ** 2
    per_block = blocks(params)
    homogeneous = activation.positively_homogeneous
    # the variance map (ReLU: any q, the same slopes), for the spike unit's own random walk
    qs, q = [1.0], 1.0
    moments: list[tuple[float, float]] = []
    for _ in range(depth):
        if homogeneous and moments:  # φ′'s moments do not depend on q
            moments.append(moments[-1])
            qs.append(q)
            continue
        x, weights = gaussian_rule(q)
        slope2 = activation.derivative(x) ** 2
        moments.append((float(slope2 @ weights), float((slope2 * slope2) @ weights)))
        q = q + gain2 * float(activation.fn(x) ** 2 @ weights)
        qs.append(q)
    if homogeneous:  # the walk of h₁ in units of √q: ρ² = q_{l−1}/q_l = 1/(1 + a²ks² E φ²/q)
        x, weights = gaussian_rule(1.0)
        growth = 1 + gain2 * float(activation.fn(x) ** 2 @ weights)
        rhos = [1 / math.sqrt(growth)] * depth
        rho_f = [_slope_correlation(activation, 1.0, growth)] * depth
    else:
        rhos = [math.sqrt(qs[l] / qs[l + 1]) for l in range(depth)]
        rho_f = [_slope_correlation(activation, qs[l], qs[l + 1]) for l in range(depth)]
    rng = np.random.default_rng(PATH_SEED)
    z = rng.standard_normal(PATHS)  # the spike unit's pre-activation / √q_l
    e = rng.standard_normal(PATHS)  # the run's share of active slope, in its standard deviations
    log_s = np.zeros(PATHS)  # ln S_l, S_l = ‖J_l u‖² (its mean given the path)
    frac = np.ones(PATHS)  # X_l / S_l, X_l = E J_11² given the path
    noise_mean, noise_var = np.zeros(PATHS), np.zeros(PATHS)
    log_root_v = np.empty(depth + 1)  # ln of the path-average of √V_l
    log_diag = np.empty(depth + 1)  # ln of the path-average of E|N(1, V_l)|
    log_root_v[0], log_diag[0] = -np.inf, 0.0
    for l in range(depth):
        m2, m4 = moments[l]
        spread = (m4 - m2 * m2) / (width * m2 * m2) if m2 > 0 else 0.0
        if l:
            e = rho_f[l - 1] * e + math.sqrt(max(1 - rho_f[l - 1] ** 2, 0.0)) * rng.standard_normal(PATHS)
        spike = activation.derivative(math.sqrt(qs[l] if not homogeneous else 1.0) * z) ** 2
        bulk = m2 * np.maximum(1 + math.sqrt(spread) * e, 0.0)
        dt = spike * frac + bulk * (1 - frac)  # ‖D_l J u‖² / S given the path
        c = gain2 * dt
        ratio = c / (1 + c)
        bend = 1 - (1 / (1 + c)) ** 2
        noise_mean -= bend / width + 1.5 * ratio**2 * spread
        noise_var += 2 * bend / width + 3 * ratio**2 * spread
        frac = np.clip((frac + gain2 / width * dt) / (1 + c), 0.0, 1.0)
        log_s += np.log1p(c)
        z = rhos[l] * z + math.sqrt(1 - rhos[l] ** 2) * rng.standard_normal(PATHS)
        # V per column: S e^N / k with N the column's own noise, so E√V = √(S/k) e^{E N/2 + Var N/8}
        log_v = log_s + noise_mean + noise_var / 4  # ln(k V + 1)
        with np.errstate(divide="ignore"):
            log_kv = log_v + np.log(-np.expm1(-np.maximum(log_v, 1e-300)))
        log_kv = np.where(log_v > 0, log_kv, -np.inf)
        log_root_v[l + 1] = _log_mean_exp(0.5 * (log_kv - math.log(width)))
        log_diag[l + 1] = _log_mean_exp(_log_mean_abs_shifted_normal(log_kv - math.log(width)))
    return {"mean": 0.5 * log_s + 0.5 * noise_mean, "var": 0.25 * noise_var,
            "log_root_v": log_root_v, "log_diag": log_diag}


def _log_mean_exp(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top if not math.isfinite(top) else top + math.log(float(np.mean(np.exp(x - top))))


def _log_mean_abs_shifted_normal(log_v: np.ndarray) -> np.ndarray:
    """ln E|N(1, v)|, E|N(1, v)| = √(2v/π) e^{−1/(2v)} + 1 − 2Φ(−1/√v) (→ √(2v/π) for a huge v)."""
    from scipy import special

    v = np.exp(np.minimum(log_v, 600.0))
    sd = np.sqrt(v)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        small = np.log(np.sqrt(2 / math.pi) * sd * np.exp(-0.5 / np.maximum(v, 1e-300))
                       + 1 - 2 * special.ndtr(-1 / np.maximum(sd, 1e-300)))
    return np.where(log_v > 600.0, 0.5 * (log_v + math.log(2 / math.pi)), small)


def predict(params: Mapping[str, Any]):
    """The law of ln ‖J u‖ and the median of ln mean|J_ij|, from the spike-and-bulk model.

    J_l u = t_l with t₀ = e₁. Each coordinate of the kick a W_l D_l t_{l−1} is N(0, a²s²‖D_l t‖²)
    given the past, whatever that coordinate's own slope: t_l,1 (the spike, the identity's
    diagonal) is a martingale of mean 1, the other coordinates (the bulk) grow from 0 with a
    common variance V_l, and ‖D_l t‖² = φ′(h_1)² t_1² + Σ_{i≠1} φ′(h_i)² t_i². The first term
    is carried by one unit, whose pre-activation h_1 is a Gaussian random walk (increments of
    variance q_l − q_{l−1}, independent of h_1): persistent, and so the run's early gains are
    correlated over blocks, which the iid per-block law missed. The bulk term is m₂ (S − t_1²)
    times 1 + ε_l, ε the run's share of active slope (relative variance (m₄ − m₂²)/(k m₂²), an
    AR(1) over blocks with the one-unit correlation of φ′² across a block). Given a path of
    (h_1, ε), with S = E‖t‖² and X = E t_1²:
        S_l = S_{l−1} + a²k s² ‖Dt‖²,   X_l = X_{l−1} + a² s² ‖Dt‖²,
        ‖Dt‖² = φ′(h_1)² X + m₂ (1 + ε)(S − X),
    and ln ‖J u‖ = ½ ln S_L + the per-block χ² noise of `blocks` with c_l = S_l/S_{l−1} − 1
    (a normal law per path). The law of ln ‖J u‖ is the mixture over PATHS fixed draws.

    mean|J_ij| averages k columns, each with its own spike: off the diagonal |N(0, V)|, on it
    |N(1, V)|, with V = (‖J e_j‖² − 1)/k, so mean|J| = (k − 1)/k · √(2/π) E√V + E|N(1, V)|/k
    (the expectations over paths): a value per run, which the median over runs is."""
    from ..theory import Prediction
    from ..theory.laws import quantiles_log10

    width = params["width"]
    activation = ACTIVATIONS[params["activation"]]
    per_block = blocks(params)
    paths = spike_paths(params)
    norm_u = gaussian_mixture_law(paths["mean"], paths["var"])
    median, q05, q95 = quantiles_log10(norm_u)
    with np.errstate(divide="ignore"):
        trajectory = np.logaddexp(
            math.log((width - 1) / width * math.sqrt(2 / math.pi)) + paths["log_root_v"]
            if width > 1 else -np.inf,
            paths["log_diag"] - math.log(width)) / LN10
    return Prediction(
        law=Words(N_("mean field for residual blocks: variance map and per-block gain 1 + a² k s² "
                     "E φ′², with a 1/width correction (approximate)")),
        exact=False, median_log10_norm_u=median, q05_log10_norm_u=q05, q95_log10_norm_u=q95,
        median_log10_mean_abs=float(trajectory[-1]),
        mean_abs_method=Words(N_("diagonal and off-diagonal entries apart: off the diagonal "
                                 "|N(0, V)|, on it |N(1, V)|, with V = (‖J e_j‖² − 1)/width, "
                                 "averaged over the spike model's paths")),
        log10_gain_per_step=0.5 * per_block[-1][0] / LN10,
        log10_rms_gain_per_step=0.5 * math.log10(1 + per_block[-1][2]), critical=None,
        trajectory_log10_mean_abs=trajectory,
        norm_u_law=norm_u, mean_abs_law=None, reference=Words(activation.reference_rule),
        reference_scale=activation.reference_scale(width))


def gaussian_mixture_law(means: np.ndarray, variances: np.ndarray):
    """The equal-weight mixture of normal laws N(means_i, variances_i), with its CDF, density
    and quantiles in closed form."""
    from ..theory.laws import LogLaw
    from scipy import optimize, special

    means, sds = np.asarray(means, float), np.sqrt(np.maximum(np.asarray(variances, float), 1e-300))
    m1 = float(means.mean())
    centred = means - m1
    k2 = float((centred**2 + sds**2).mean())
    k3 = float((centred**3 + 3 * centred * sds**2).mean())

    class MixtureLaw(LogLaw):
        def cdf(self, x):
            x = np.atleast_1d(np.asarray(x, dtype=float)) - self.offset
            return special.ndtr((x[:, None] - means[None, :]) / sds[None, :]).mean(axis=1)

        def pdf(self, x):
            u = (np.asarray(x, float)[..., None] - self.offset - means) / sds
            return (np.exp(-0.5 * u * u) / (sds * math.sqrt(2 * math.pi))).mean(axis=-1)

        def quantile(self, p: float) -> float:
            if ("quantile", p) not in self._memo:
                low = float((means - 12 * sds).min()) - 1.0
                high = float((means + 12 * sds).max()) + 1.0
                try:
                    self._memo["quantile", p] = optimize.brentq(
                        lambda x: float(self.centred.cdf(x)[0]) - p, low, high,
                        xtol=1e-9 * max(1.0, abs(low), abs(high)), maxiter=500)
                except (ValueError, RuntimeError):  # a degenerate mixture (extreme settings)
                    nodes = special.ndtri((np.arange(64) + 0.5) / 64)
                    self._memo["quantile", p] = float(np.quantile(
                        (means[:, None] + sds[:, None] * nodes[None, :]).ravel(), p))
            return self._memo["quantile", p] + self.offset

    def log_cf(t):
        t = np.asarray(t, dtype=float)
        return np.log(np.exp(1j * np.outer(t, centred) - 0.5 * np.outer(t * t, sds**2)).mean(axis=1)) \
            + 1j * t * m1

    return MixtureLaw(log_cf, (m1, k2, k3))


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
