"""The gradient through time of an LSTM cell: J = ∂c_T/∂c₀, the last cell state's Jacobian with
respect to the first, through every path.

The standard cell, with tied weights (one set per run), no biases but the forget gate's b_f, and
inputs x_t ~ N(0, σ_x² I), h₀ = c₀ = 0:

    i = σ(W_i h + U_i x), f = σ(W_f h + U_f x + b_f), o = σ(W_o h + U_o x), g = tanh(W_g h + U_g x),
    c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),

every entry of the eight width×width matrices iid N(0, s²). The state is (c, h), and one step's
Jacobian ∂(c_t, h_t)/∂(c_{t−1}, h_{t−1}) is exact:

    δc_t = f ⊙ δc + Σ_{j ∈ i, f, g} a_j ⊙ W_j δh,   δh_t = a_o ⊙ W_o δh + e ⊙ δc_t,
    a_i = g σ′(z_i), a_f = c_{t−1} σ′(z_f), a_g = i tanh′(z_g), a_o = tanh(c_t) σ′(z_o),
    e = o tanh′(c_t):

diag(f) is the direct path (the constant error carousel), the rest the paths through h.

Simulation: the full path carries the 2k×k matrix ∂(c_t, h_t)/∂c₀ (J is its c block) and, for the
gradient's reach, stores every step's coefficients (f, a, e) for one backward pass; the fast path
carries the pair (δc, δh) for u = e₁ with the same recursion (the weights are tied, so they are
drawn explicitly: O(width²) per step). Both renormalise after every step and keep the logarithm
of what was divided out. A gate's slope is computed as exp(ln σ′), so it is exact far into the
tails; where every path underflows float64 (weights or a forget bias so large that every slope
and every f is exactly 0) the run's J is exactly zero and it is counted as dead.

Theory: none that is accurate enough. The mean field of the direct path plus the paths through h
(weights treated as fresh at every step) predicts the median of log10 ‖J u‖ below the
measurement by 1.2 to 1.9 decades at width 100, 50 steps, scale 0.1 (−12.0, −6.4, −1.3 for
b_f = 0, 1, 3 against −10.1, −4.6, 0.0), most likely because the weights are tied: the same W
acts at every step, so the paths through h can add up coherently (a few directions dominate J:
‖J‖_2 is within 0.2 decades of ‖J‖_F), which a mean field with fresh weights misses (not
checked against an untied simulation). What is provided instead is `forget_path_gain`, the
direct path alone: a reference, not a prediction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..core.params import Param
from ..render.i18n import N_, _
from .base import LN10, Experiment, Simulation, default_scale, finish, log10_mean_abs, renormalise
from .nn import ACTIVATIONS

SIGMOID, TANH = ACTIVATIONS["sigmoid"], ACTIVATIONS["tanh"]
GATES = 4  # the rows of the stacked weights, in this order: input, forget, candidate, output
FORGET_BIAS_LIMIT = 100.0  # σ(±100) is 0 or 1 to within e^−100 ≈ 4e−44
CHUNK_DOUBLES = 2**22  # working memory of one chunk of runs (32 MiB), on either path
INPUT_WINDOW = 64  # steps whose inputs are drawn, and multiplied by U, together


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = exp(−ln(1 + e^{−x})), to full relative precision at every x: a gate far below ½
    multiplies the gradient, so σ(−40) ≈ 4e−18 must not come out as 0 or with 1e−3 error (the
    tanh form 0.5·(1 + tanh(x/2)) does for x below about −30)."""
    return np.exp(-np.logaddexp(0.0, -x))


@dataclass(frozen=True)
class Step:
    """One step's exact Jacobian, as the coefficient vectors of its paths (each (runs, width);
    `a` stacked (runs, 4, width) in GATES order, with the weights' scale folded in)."""

    f: np.ndarray  # the forget gate: the direct path c_{t−1} → c_t
    a: np.ndarray  # s · (g σ′(z_i), c_{t−1} σ′(z_f), i tanh′(z_g), tanh(c_t) σ′(z_o))
    e: np.ndarray  # o tanh′(c_t): c_t → h_t


def scale_of(params: Mapping[str, Any]) -> float:
    return float(params["scale"])


def draw(rng: np.random.Generator, runs: int, params: Mapping[str, Any]):
    """Standard normal W and U, each (runs, 4·width, width), rows stacked in GATES order, then the
    standard inputs ξ_t (x_t = σ_x ξ_t) lazily, INPUT_WINDOW steps at a time as (runs, window,
    width): the scales are applied in `cell`."""
    width, steps = params["width"], params["steps"]
    w = rng.standard_normal((runs, GATES * width, width))
    u = rng.standard_normal((runs, GATES * width, width))

    def inputs():
        for start in range(0, steps, INPUT_WINDOW):
            yield rng.standard_normal((runs, min(INPUT_WINDOW, steps - start), width))
    return w, u, inputs()


def cell(params: Mapping[str, Any], wh: np.ndarray, ux: np.ndarray,
         c: np.ndarray) -> tuple[np.ndarray, np.ndarray, Step]:
    """One step of the cell from the standard products wh = w h_{t−1} and ux = u ξ_t (W = s·w,
    U = s·u, x_t = σ_x ξ_t), each (runs, 4·width): (c_t, h_t) and the step's Jacobian. Written
    once, for both paths and for the tests' finite differences (`final_state`)."""
    runs, width = c.shape
    s = scale_of(params)
    z = (s * params["input_scale"]) * ux + s * wh
    z = z.reshape(runs, GATES, width)
    z[:, 1] += params["forget_bias"]
    i, f, g, o = sigmoid(z[:, 0]), sigmoid(z[:, 1]), TANH.fn(z[:, 2]), sigmoid(z[:, 3])
    c_new = f * c + i * g
    t = TANH.fn(c_new)
    a = np.stack([g * SIGMOID.derivative(z[:, 0]), c * SIGMOID.derivative(z[:, 1]),
                  i * TANH.derivative(z[:, 2]), t * SIGMOID.derivative(z[:, 3])], axis=1)
    a *= s
    return c_new, o * t, Step(f=f, a=a, e=o * TANH.derivative(c_new))


def push(step: Step, wd: np.ndarray | None, state: np.ndarray) -> np.ndarray:
    """(δc_t; δh_t), stacked (runs, 2·width, columns), from (δc_{t−1}; δh_{t−1}) through the
    standard product wd = w δh_{t−1}, (runs, 4·width, columns) (None where δh_{t−1} = 0)."""
    runs, width = step.f.shape
    out = np.empty_like(state)
    new_c, new_h = out[:, :width], out[:, width:]
    np.multiply(step.f[:, :, None], state[:, :width], out=new_c)
    if wd is None:  # δh₀ = 0: only the direct path, and c_t → h_t
        np.multiply(step.e[:, :, None], new_c, out=new_h)
        return out
    wd = wd.reshape(runs, GATES, width, -1) * step.a[:, :, :, None]
    new_c += wd[:, 0] + wd[:, 1] + wd[:, 2]
    np.multiply(step.e[:, :, None], new_c, out=new_h)
    new_h += wd[:, 3]
    return out


def pull(step: Step, w: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """The transpose of `push` on a row vector: (γc_{t−1}; γh_{t−1}) from (γc_t; γh_t), stacked
    (runs, 2·width) — one step of backpropagation through time."""
    runs, width = step.f.shape
    gc, gh = grad[:, :width], grad[:, width:]
    total = gc + step.e * gh  # the gradient reaching c_t, through h_t too
    v = step.a * np.stack([total, total, total, gh], axis=1)
    out = np.empty_like(grad)
    np.multiply(step.f, total, out=out[:, :width])
    out[:, width:] = np.matmul(v.reshape(runs, 1, GATES * width), w)[:, 0]
    return out


def _steps(params: Mapping[str, Any], w: np.ndarray, u: np.ndarray, inputs: Iterable[np.ndarray],
           c: np.ndarray, h: np.ndarray | None = None,
           extra: Callable[[], np.ndarray | None] = lambda: None):
    """The forward recursion from (c₀, h₀) (h₀ = None: 0, as in the model): yields (c_t, h_t,
    the step's Jacobian, w δ) for t = 1, 2, ..., where δ = `extra()` is multiplied by w in the
    same product as h_{t−1} (None when it returns None). The inputs' products u ξ come a window
    at a time."""
    runs, width = c.shape
    for xi in inputs:
        ux = np.matmul(u, xi.transpose(0, 2, 1))  # (runs, 4·width, window)
        for j in range(xi.shape[1]):
            d = extra()
            if h is None:  # h₀ = 0
                wh = np.zeros((runs, GATES * width))
                wd = None if d is None else np.matmul(w, d)
            elif d is None:
                wh, wd = np.matmul(w, h[:, :, None])[:, :, 0], None
            else:
                both = np.matmul(w, np.concatenate([h[:, :, None], d], axis=2))
                wh, wd = both[:, :, 0], both[:, :, 1:]
            c, h, step = cell(params, wh, ux[:, :, j], c)
            yield c, h, step, wd


def final_state(params: Mapping[str, Any], w: np.ndarray, u: np.ndarray, xi: np.ndarray,
                c0: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(c, h) after the steps of the standard inputs ξ (runs, steps, width) from (c₀, h₀), for
    given standard weights (h₀ = None: 0)."""
    c, h = c0, h0
    for c, h, _step, _wd in _steps(params, w, u, [xi], c0, h0):
        pass
    return c, h


def forward(params: Mapping[str, Any], w: np.ndarray, u: np.ndarray, inputs: Iterable[np.ndarray],
            columns: int, record: Callable[[int, np.ndarray, np.ndarray], None],
            keep: list[Step] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run the networks forward from c₀ = h₀ = 0 with the tangent ∂(c_t, h_t)/∂c₀ restricted to
    its first `columns` columns (δc₀ = the first columns of I, δh₀ = 0), renormalised after every
    step: `record(t, state, log_scale)` sees it after each step t (state · e^{log_scale} is the
    tangent, stacked (runs, 2·width, columns)). Returns (state, log_scale) after the last step;
    each step's Jacobian is appended to `keep` when given."""
    runs, width = w.shape[0], w.shape[2]
    state = np.zeros((runs, 2 * width, columns))
    state[:, np.arange(columns), np.arange(columns)] = 1.0
    log_scale = np.zeros(runs)
    carried = [False]  # δh ≠ 0 from step 1 on

    def tangent_h() -> np.ndarray | None:
        return state[:, width:] if carried[0] else None

    for t, (_c, _h, step, wd) in enumerate(_steps(params, w, u, inputs, np.zeros((runs, width)),
                                                  extra=tangent_h), start=1):
        state = push(step, wd, state)
        carried[0] = True
        norms = np.sqrt(np.einsum("nij,nij->n", state, state))
        state /= np.where(norms > 0, norms, 1.0)[:, None, None]
        with np.errstate(divide="ignore"):
            log_scale += np.log(norms)
        record(t, state, log_scale)
        if keep is not None:
            keep.append(step)
    return state, log_scale


def backward(w: np.ndarray, kept: list[Step]) -> np.ndarray:
    """(runs, steps + 1) log10 ‖uᵀ ∂c_T/∂c_{T−d}‖, u = e₁, d = 0, ..., steps: one backward pass
    from (γc, γh) = (e₁, 0) at T, renormalised after every step."""
    runs, width = kept[0].f.shape
    grad = np.zeros((runs, 2 * width))
    grad[:, 0] = 1.0
    out = np.zeros((runs, len(kept) + 1))
    log_norm = np.zeros(runs)
    for d, step in enumerate(reversed(kept), start=1):
        grad = pull(step, w, grad)
        log_norm += renormalise(grad)
        with np.errstate(divide="ignore"):
            out[:, d] = (log_norm + np.log(np.linalg.norm(grad[:, :width], axis=1))) / LN10
    return out


def doubles_per_run(params: Mapping[str, Any], path: str) -> int:
    """Working float64s of one run: the weights (8 k²) and a window of inputs with their
    products (5 k per step of INPUT_WINDOW); on the full path also the carried 2k×k matrix, the
    product W δh (4 k²), its temporaries (about 4 k²) and the stored steps (6 k per step); on the
    fast path the vectors (about 30 k)."""
    k, steps = params["width"], params["steps"]
    inputs = 5 * k * min(steps, INPUT_WINDOW)
    if path == "full":
        return 18 * k * k + 6 * k * steps + 12 * k + inputs
    return 8 * k * k + 30 * k + inputs


def chunk_runs(params: Mapping[str, Any], path: str) -> int:
    """Runs computed together within a block: a function of the parameters only (so the numbers
    never depend on anything else), sized to CHUNK_DOUBLES."""
    return max(1, CHUNK_DOUBLES // doubles_per_run(params, path))


def full_path_bytes(params: Mapping[str, Any], runs: int) -> int:
    """One chunk's working memory, and the block's J, trajectory and reach."""
    k, steps = params["width"], params["steps"]
    return 8 * (min(runs, chunk_runs(params, "full")) * doubles_per_run(params, "full")
                + runs * (k * k + 2 * (steps + 1)))


def _chunks(runs: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, runs)) for start in range(0, runs, size)]


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    width, steps = params["width"], params["steps"]
    trajectory = np.empty((runs, steps + 1))
    trajectory[:, 0] = -math.log10(width)  # mean |I_ij| = 1 / width
    reach = np.empty((runs, steps + 1))
    jac = np.empty((runs, width, width))
    log_scale = np.empty(runs)
    for part in _chunks(runs, chunk_runs(params, "full")):
        rows = trajectory[part]

        def record(t: int, state: np.ndarray, scale: np.ndarray) -> None:
            rows[:, t] = log10_mean_abs(state[:, :width], scale)

        kept: list[Step] = []
        w, u, inputs = draw(rng, part.stop - part.start, params)
        state, log_scale[part] = forward(params, w, u, inputs, width, record, kept)
        trajectory[part] = rows
        jac[part] = state[:, :width]
        reach[part] = backward(w, kept)
    return finish(jac, log_scale, trajectory, reach=reach)


def column_lengths(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, steps + 1) log10 ‖∂c_t/∂c₀ u‖, u = e₁, after every step: the full path's recursion
    on the pair (δc, δh) alone."""
    width, steps = params["width"], params["steps"]
    out = np.zeros((runs, steps + 1))
    for part in _chunks(runs, chunk_runs(params, "fast")):
        rows = out[part]

        def record(t: int, state: np.ndarray, scale: np.ndarray) -> None:
            with np.errstate(divide="ignore"):
                rows[:, t] = (scale + np.log(np.linalg.norm(state[:, :width, 0], axis=1))) / LN10

        forward(params, *draw(rng, part.stop - part.start, params), 1, record)
        out[part] = rows
    return out


def describe(params: Mapping[str, Any]) -> str:
    """The setting in words ("forget bias 1, scale 0.1, input scale 1, width 100, 50 steps"), in
    the language being rendered."""
    return _("forget bias %(bias)s, scale %(scale)s, input scale %(input)s, width %(width)s, "
             "%(steps)s steps") % {"bias": f"{params['forget_bias']:g}",
                                   "scale": f"{params['scale']:.4g}",
                                   "input": f"{params['input_scale']:g}",
                                   "width": params["width"], "steps": params["steps"]}


# --- a reference: the direct path alone ------------------------------------------------------

def gate_variances(params: Mapping[str, Any]) -> list[float]:
    """The gates' pre-activation variance q_t = k s² (E h²_{t−1} + σ_x²) per step t = 1, ...,
    steps, from the mean-field variance map of (c, h) (weights treated as fresh at every step,
    every unit alike): E c_t² = E f² E c²_{t−1} + E i² E g² (f, i, g independent, and of
    c_{t−1}), E h_t² = E o² E tanh²(c_t) with c_t ~ N(0, E c_t²)."""
    from ..theory.meanfield import gaussian_expectation

    k, s, sx, b = params["width"], scale_of(params), params["input_scale"], params["forget_bias"]
    sig2 = lambda q: gaussian_expectation(lambda z: sigmoid(z) ** 2, q)  # noqa: E731
    cc, hh, out = 0.0, 0.0, []
    for _step in range(params["steps"]):
        q = k * s * s * (hh + sx * sx)
        out.append(q)
        f2 = gaussian_expectation(lambda z: sigmoid(z + b) ** 2, q)
        cc = f2 * cc + sig2(q) * gaussian_expectation(lambda z: np.tanh(z) ** 2, q)
        hh = sig2(q) * gaussian_expectation(lambda z: np.tanh(z) ** 2, cc) if cc > 0 else 0.0
    return out


def forget_path_gain(params: Mapping[str, Any]) -> float:
    """The typical log10 gain per step of the direct path alone, E log10 σ(z_f), z_f ~ N(b_f, q_t)
    with q_t the mean-field variance of the forget gate's pre-activation, averaged over the
    steps: log10 Π_t f_{t,1} / steps, the gradient carried only by the first unit's own cell.

    A reference, not a prediction of ‖J u‖. It predicts the direct path itself to within 0.1
    decade over all steps (measured medians of log10 Π_t f_{t,1}, 200 runs: −17.56, −8.89,
    −1.68 at width 100, 50 steps, scale 0.1, b_f = 0, 1, 3, against −17.59, −8.93, −1.70;
    likewise at scale 0.05 and 0.2, width 25 and 100 steps), but the paths through h add to
    it, so it lies below the measured median of log10 ‖J u‖ at every setting tried, by
    7.4, 4.3 and 1.7 decades at those three (−10.15, −4.58, −0.04 measured), by 4.0, 2.4, 1.2
    at scale 0.05, by 15.4, 9.7, 3.7 at scale 0.2, by 9.0 and 3.3 at 100 steps (b_f = 1, 3),
    by 5.1 at input scale 0.3 (b_f = 1): read it as how fast the gradient would fade without
    the paths through h, the bound a forget bias lifts (its order is right; nothing more)."""
    from ..theory.meanfield import gaussian_expectation

    b = params["forget_bias"]
    logs = [gaussian_expectation(lambda z: -np.logaddexp(0.0, -(z + b)), q)
            for q in gate_variances(params)]
    return float(np.mean(logs)) / LN10


LSTM = Experiment(
    name="lstm",
    title=N_("Gradients through time in an LSTM"),
    summary=N_("Jacobian ∂c_T/∂c₀ of an LSTM cell's state after `steps` steps with respect to the "
               "first, through every path, with tied Gaussian weights and Gaussian inputs."),
    params=(
        Param("width", int, 100, N_("units of the cell (and entries of each input)"), minimum=1),
        Param("steps", int, 50, N_("number of time steps"), minimum=1),
        Param("scale", float, None, N_("standard deviation of every weight, recurrent and input "
                                       "(at most 1e100)"), minimum=0.0, maximum=1e100,
              default_text="1/√width, LeCun's"),
        Param("input_scale", float, 1.0, N_("standard deviation of the inputs' entries (at most "
                                            "1e100)"), minimum=0.0, maximum=1e100),
        Param("forget_bias", float, 0.0, N_("b_f, the bias of the forget gate (between −100 and "
                                            "100: at ±100 the gate is already shut or open to "
                                            "within e^−100)"),
              minimum=-FORGET_BIAS_LIMIT, maximum=FORGET_BIAS_LIMIT),
    ),
    simulate=simulate,
    tangent=column_lengths,
    steps_param="steps",
    width_param="width",
    step_label=N_("step"),
    step_plural=N_("steps"),
    default_runs=10,
    theory=None,
    scale_param="scale",
    sweep_axes=("scale", "forget_bias", "steps", "width"),
    sweep_metric="log10_norm_u",
    page="rnn",
    normalise=default_scale(1.0),  # scale: 1/√width unless given
    describe=describe,
    spectrum=False,
    full_path_bytes=full_path_bytes,
    explore=None,
    reach=True,
)
