"""The LSTM experiment: its full path (J = ∂c_T/∂c₀ and the gradient's reach) against finite
differences of the one forward recursion, its fast path against the full path, and the forget
bias's effect. Settings are small and not the site's; tolerances come from standard errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from stabreport.errors import ConfigError
from stabreport.experiments import lstm
from stabreport.experiments.lstm import LSTM

SMALL = {"width": 40, "steps": 30}  # 1/√40 scale by default


def setting(**overrides):
    return LSTM.canonical_params({**SMALL, **overrides})


def median_and_se(values: np.ndarray) -> tuple[float, float]:
    """The median and its standard error, √(π/2) σ/√n with σ from the MAD (robust)."""
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    return median, math.sqrt(math.pi / 2) * sigma / math.sqrt(len(values))


def network(params, runs: int, seed: int):
    """Standard weights and all the inputs of `runs` networks, drawn as the paths draw them."""
    w, u, inputs = lstm.draw(np.random.default_rng(seed), runs, params)
    return w, u, np.concatenate(list(inputs), axis=1)


def jacobian(params, w, u, xi):
    """J = ∂c_T/∂c₀ (runs, k, k) from the full path's recursion, with the stored steps."""
    kept: list[lstm.Step] = []
    state, log_scale = lstm.forward(params, w, u, [xi], params["width"], lambda *a: None, kept)
    return state[:, :params["width"]] * np.exp(log_scale)[:, None, None], kept


def central_difference(params, w, u, xi, c, h, eps: float = 1e-6) -> np.ndarray:
    """∂c_T/∂c (runs, k, k) at the state (c, h) before the inputs ξ, by central differences of
    the forward recursion (`final_state`, the one `cell` both paths use)."""
    k = params["width"]
    columns = []
    for j in range(k):
        step = np.zeros_like(c)
        step[:, j] = eps
        plus, _ = lstm.final_state(params, w, u, xi, c + step, h)
        minus, _ = lstm.final_state(params, w, u, xi, c - step, h)
        columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=2)


# A small network where the paths through h matter: k s² = 1.8.
TINY = {"width": 5, "steps": 4, "scale": 0.6, "input_scale": 1.0, "forget_bias": 1.0}


def test_jacobian_matches_finite_differences():
    params = LSTM.canonical_params(TINY)
    w, u, xi = network(params, 3, seed=11)
    jac, kept = jacobian(params, w, u, xi)
    zero = np.zeros((3, params["width"]))
    numeric = central_difference(params, w, u, xi, zero, None)
    assert np.allclose(jac, numeric, rtol=1e-6, atol=1e-8 * np.abs(jac).max())
    # Not only the direct path: Π diag(f_t) alone is far from J.
    direct = np.prod([s.f for s in kept], axis=0)
    off = jac - direct[:, :, None] * np.eye(params["width"])
    assert np.abs(off).max() > 0.05 * np.abs(jac).max()


def test_reach_matches_its_definition_and_finite_differences():
    params = LSTM.canonical_params(TINY)
    runs, steps, k = 3, TINY["steps"], TINY["width"]
    w, u, xi = network(params, runs, seed=12)
    jac, kept = jacobian(params, w, u, xi)
    reach = lstm.backward(w, kept)
    assert reach.shape == (runs, steps + 1) and np.all(reach[:, 0] == 0.0)
    assert np.allclose(reach[:, -1], np.log10(np.linalg.norm(jac[:, 0, :], axis=1)), atol=1e-10)
    c, h = np.zeros((runs, k)), None
    for d in range(steps, 0, -1):  # at time T − d, the state (c, h) held fixed but for c
        numeric = central_difference(params, w, u, xi[:, steps - d:], c, h)
        assert np.allclose(reach[:, d], np.log10(np.linalg.norm(numeric[:, 0, :], axis=1)),
                           atol=1e-6)
        c, h = lstm.final_state(params, w, u, xi[:, steps - d:steps - d + 1], c, h)


def test_reach_last_row_is_the_first_row_of_j_at_the_small_setting():
    params = setting(forget_bias=1.0)
    w, u, xi = network(params, 20, seed=13)
    jac, kept = jacobian(params, w, u, xi)
    reach = lstm.backward(w, kept)
    assert np.allclose(reach[:, -1], np.log10(np.linalg.norm(jac[:, 0, :], axis=1)), atol=1e-9)


def test_fast_path_is_the_full_paths_first_column_on_the_same_draws():
    params = setting(forget_bias=1.0)
    runs = 20  # one chunk on either path: both draw the same numbers
    assert runs <= min(lstm.chunk_runs(params, "full"), lstm.chunk_runs(params, "fast"))
    full = LSTM.simulate(params, runs, np.random.default_rng(5))
    fast = LSTM.tangent(params, runs, np.random.default_rng(5))
    assert fast.shape == (runs, SMALL["steps"] + 1) and np.all(fast[:, 0] == 0.0)
    assert np.allclose(fast[:, -1], full.metrics["log10_norm_u"], atol=1e-9)
    assert full.reach.shape == full.trajectory.shape == (runs, SMALL["steps"] + 1)
    assert np.allclose(full.trajectory[:, 0], -math.log10(SMALL["width"]))


def test_fast_and_full_paths_draw_the_same_distribution():
    """Medians within 4 standard errors and a two-sample KS test at level 0.001, 300 runs each
    from unrelated seeds (the full path in chunks of its own size, unlike the fast path)."""
    params = setting(forget_bias=1.0)
    full = LSTM.simulate(params, 300, np.random.default_rng(101)).metrics["log10_norm_u"]
    fast = LSTM.tangent(params, 300, np.random.default_rng(202))[:, -1]
    (m1, se1), (m2, se2) = median_and_se(full), median_and_se(fast)
    assert abs(m1 - m2) < 4 * math.hypot(se1, se2), (m1, m2, se1, se2)
    assert stats.ks_2samp(full, fast).pvalue > 1e-3


def test_forget_bias_keeps_the_gradient_alive_longer():
    """The medians of log10 ‖J u‖ (fast path) and of the reach at d = steps (full path) rise
    with b_f over 0, 1, 3, each step by more than 4 combined standard errors."""
    norm_u, reach = [], []
    for i, bias in enumerate((0.0, 1.0, 3.0)):
        params = setting(forget_bias=bias)
        fast = LSTM.tangent(params, 200, np.random.default_rng(300 + i))
        norm_u.append(median_and_se(fast[:, -1]))
        sim = LSTM.simulate(params, 200, np.random.default_rng(400 + i))
        reach.append(median_and_se(sim.reach[:, -1]))
    for series in (norm_u, reach):
        for (low, low_se), (high, high_se) in zip(series, series[1:]):
            assert high - low > 4 * math.hypot(low_se, high_se), series


@pytest.mark.parametrize("overrides", [{"forget_bias": "x"}, {"width": 0}, {"steps": 0},
                                       {"forget_bias": 1e3}, {"scale": 0.0},
                                       {"input_scale": -1.0}])
def test_bad_values_are_config_errors(overrides):
    with pytest.raises(ConfigError):
        LSTM.canonical_params(overrides)


def test_scale_defaults_to_one_over_root_width():
    assert setting()["scale"] == pytest.approx(1 / math.sqrt(40))
    assert LSTM.canonical_params({})["scale"] == pytest.approx(0.1)
    assert LSTM.canonical_params({"scale": 0.3, "width": 40})["scale"] == 0.3
