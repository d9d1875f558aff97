"""Products of random Gaussian matrices: Y = W_L ··· W_1 with W_l iid N(0, scale²) entries.

Simulation: the full product (mean |Y_ij| and the norms) and the fast path for ‖Y u‖. Theory:
ln ‖Y u‖ is an exact sum of iid ln s + ½ ln χ²_k terms; mean|Y_ij| from a rank-one model.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..render.formatting import Words
from ..render.i18n import N_, _
from ..core.params import Param
from .base import LN10, Experiment, Explore, Simulation, Spectrum, Theory, finish, log_values

STEPS_PER_DRAW = 25  # factors drawn per call: one (steps, k, k, runs) draw is the same stream
# Up to this size the runs are the last axis, (k, k, runs), and a product is k³ vector
# operations over the runs: several times faster than numpy's batched matmul of tiny matrices.
# Larger matrices keep (runs, k, k), one BLAS product per run.
SMALL_K = 16


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator,
             spectrum: bool = False) -> Simulation:
    k, factors, scale = params["k"], params["factors"], params["scale"]
    small = k <= SMALL_K
    tracker = Spectrum(runs, k, every=8) if spectrum else None
    y = np.broadcast_to(np.eye(k)[:, :, None], (k, k, runs)).copy() if small else \
        np.broadcast_to(np.eye(k), (runs, k, k)).copy()
    matrices = (2, 0, 1) if small else (0, 1, 2)  # the (runs, k, k) view of y or a draw
    log_scale = np.zeros(runs)  # Y = exp(log_scale) · y, with mean |y_ij| = 1 after each step
    trajectory = np.empty((runs, factors + 1), dtype=np.float32)
    trajectory[:, 0] = -np.log10(k)
    # W = scale * G exactly, so draw G and add ln(scale) per factor: no scale can overflow.
    ln_scale = np.log(scale)
    for start in range(0, factors, STEPS_PER_DRAW):
        steps = min(STEPS_PER_DRAW, factors - start)
        draws = rng.standard_normal((steps, k, k, runs) if small else (steps, runs, k, k))
        for offset, g in enumerate(draws, start=start + 1):
            if tracker is not None:
                tracker.step(lambda q: np.matmul(g.transpose(matrices), q), ln_scale)
            y = np.einsum("ijn,jkn->ikn", g, y) if small else np.matmul(g, y)
            # Normalising by the mean |entry| (not the norm) saves a pass: the trajectory
            # needs that mean anyway. A zero matrix is left as it is and yields -inf.
            mean_abs = np.abs(y).sum(axis=(0, 1) if small else (1, 2)) * (1.0 / (k * k))
            divisor = np.where(mean_abs > 0, mean_abs, 1.0)
            y /= divisor if small else divisor[:, None, None]
            with np.errstate(divide="ignore"):
                log_scale += np.log(mean_abs) + ln_scale
            trajectory[:, offset] = log_scale / LN10
    return finish(np.ascontiguousarray(y.transpose(matrices)), log_scale, trajectory, tracker)


def column_lengths(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, factors + 1) log10 ‖Y_l u‖: W y ~ N(0, s² ‖y‖² I) for a fresh Gaussian W."""
    k, factors, scale = params["k"], params["factors"], params["scale"]
    out = np.empty((runs, factors + 1))
    out[:, 0] = 0.0
    log_norm = np.zeros(runs)
    step = np.log(scale)
    for layer in range(1, factors + 1):
        # ‖W y‖ / ‖y‖ = s ‖g‖ with g standard normal in R^k: the direction never matters.
        g = rng.standard_normal((runs, k))
        log_norm += step + 0.5 * np.log(np.einsum("ni,ni->n", g, g))
        out[:, layer] = log_norm / LN10
    return out


# --- theory: exact for ‖Y u‖, a rank-one model for mean |Y_ij| ------------------------------------

RANK_ONE_GAP = 3.0  # use the rank-one model once σ₂/σ₁ ≈ exp(−L (λ₁ − λ₂)) is below 5 %
REFERENCE = N_("the variance-preserving 1/√k")


def critical_scale_for(k: int) -> float:
    """exp(−½(ψ(k/2) + ln 2)): 0.5724 at k = 4, not 1/√k."""
    from scipy import special

    return math.exp(-0.5 * (special.digamma(k / 2) + math.log(2)))


def lyapunov_gap(k: int) -> float:
    """λ₁ − λ₂ per factor for products of k×k Gaussian matrices (natural log)."""
    from scipy import special

    return 0.5 * (special.digamma(k / 2) - special.digamma((k - 1) / 2)) if k > 1 else math.inf


def predict(params: Mapping[str, Any]):
    from ..theory import Prediction
    from ..theory.laws import (cornish_fisher_median, half_log_chi2, log_abs_first_coordinate,
                               log_mean_abs_of_unit_vector, quantiles_log10)
    from ..theory.meanfield import column_to_mean_abs

    k, factors, scale = params["k"], params["factors"], params["scale"]
    step = half_log_chi2(k).shifted(math.log(scale))
    norm_u = step.times(factors)
    median, q05, q95 = quantiles_log10(norm_u)
    # Rank-one model: ln mean|Y| = ln σ₁ + ln m(a) + ln m(b), with ln ‖Y u‖ = ln σ₁ + ln |b₁|;
    # with too few factors for Y to be close to rank one, the column-norm approximation.
    column = (column_to_mean_abs(k, 1.0, 1.0) * LN10, 0.0, 0.0)
    rank_one = None
    if factors * lyapunov_gap(k) >= RANK_ONE_GAP:
        offset_m = log_mean_abs_of_unit_vector(k)
        rank_one = (offset_m + offset_m).without(log_abs_first_coordinate(k))
        mean_abs = norm_u + rank_one
        median_mean_abs = mean_abs.median() / LN10
        method = Words(N_("rank-one model Y ≈ σ₁ a bᵀ with a, b uniform on the sphere"))
    else:
        mean_abs = None
        median_mean_abs = median + column[0] / LN10
        method = Words(N_("column norm × √(2/(π k)) (too few factors for the rank-one model)"))
    offsets = [rank_one.cumulants if rank_one and n * lyapunov_gap(k) >= RANK_ONE_GAP else column
               for n in range(1, factors + 1)]
    trajectory = np.array([-math.log10(k)] + [
        cornish_fisher_median(step.times(n).cumulants, extra) / LN10
        for n, extra in zip(range(1, factors + 1), offsets)])
    return Prediction(
        law=Words(N_("exact: ln ‖Y u‖ is a sum of iid ln s + ½ ln χ²_k terms")),
        exact=True, median_log10_norm_u=median, q05_log10_norm_u=q05, q95_log10_norm_u=q95,
        median_log10_mean_abs=median_mean_abs, mean_abs_method=method,
        log10_gain_per_step=step.cumulants[0] / LN10, critical=critical_scale_for(k),
        log10_rms_gain_per_step=math.log10(scale * math.sqrt(k)),
        trajectory_log10_mean_abs=trajectory, norm_u_law=norm_u, mean_abs_law=mean_abs,
        reference=Words(REFERENCE), reference_scale=1 / math.sqrt(k))


def describe(params: Mapping[str, Any]) -> str:
    """The setting in words ("k = 4, 100 factors, scale 0.5"), in the language being rendered."""
    if params.get("scale") is not None:
        return _("k = %(k)s, %(factors)s factors, scale %(scale)s") % {
            "k": params["k"], "factors": params["factors"], "scale": params["scale"]}
    return _("k = %(k)s, %(factors)s factors") % {"k": params["k"], "factors": params["factors"]}


def gain_per_step(params: Mapping[str, Any]) -> float:
    from ..theory.laws import half_log_chi2

    k, factors, scale = params["k"], params["factors"], params["scale"]
    law = half_log_chi2(k).shifted(math.log(scale)).times(factors)
    return law.cornish_fisher_median / LN10 / factors


PRODUCTS = Experiment(
    name="products",
    title=N_("Products of random matrices"),
    summary=N_("Y = W_L ··· W_1 for L fresh k×k matrices with iid N(0, scale²) entries, from "
               "Y = I."),
    params=(
        Param("k", int, 4, N_("size of the square matrices"), minimum=1),
        Param("factors", int, 100, N_("number of matrices multiplied"), minimum=1),
        Param("scale", float, 0.5, N_("standard deviation of each entry"), minimum=0.0),
    ),
    simulate=simulate,
    tangent=column_lengths,
    steps_param="factors",
    width_param="k",
    step_label=N_("factor"),
    step_plural=N_("factors"),
    default_runs=1000,
    theory=Theory(predict=predict, gain_per_step=gain_per_step,
                  critical_scale=lambda params: critical_scale_for(params["k"])),
    sweep_axes=("scale", "k", "factors"),
    sweep_metric="log10_mean_abs",
    page="products",
    template="experiments/products.md.j2",
    # STEPS_PER_DRAW factors drawn at once, the product and a temporary.
    full_path_bytes=lambda params, runs: (STEPS_PER_DRAW + 4) * runs * params["k"] ** 2 * 8,
    spectrum=True,
    # The explorer: a 2^¼ grid of scales through the lecture's 0.5 (and 0.707), k = 2 to 8.
    explore=Explore(grid={"scale": log_values(0.25, 2 ** 0.25, 11), "k": (2, 4, 8),
                          "factors": (10, 100)},
                    scale="scale", initial={"scale": 0.5, "k": 4, "factors": 100}),
    describe=describe,
)
