import numpy as np
import pytest
from scipy import stats

from stabreport.core.engine import block_generator, setting_key, simulate_setting
from stabreport.experiments import get_experiment
from stabreport.experiments.nn import ACTIVATIONS

PRODUCTS, MLP = get_experiment("products"), get_experiment("mlp")


@pytest.mark.parametrize("k", [3, 20])  # runs last (small k) and runs first (larger k)
def test_products_equal_a_direct_product_of_the_same_draws(k):
    from stabreport.experiments.products import SMALL_K

    params = PRODUCTS.canonical_params({"k": k, "factors": 6, "scale": 0.8})
    sim = PRODUCTS.simulate(params, 5, np.random.default_rng(7))
    replay = np.random.default_rng(7)
    y = np.broadcast_to(np.eye(k), (5, k, k))
    for _ in range(6):
        g = replay.standard_normal((k, k, 5)).transpose(2, 0, 1) if k <= SMALL_K else \
            replay.standard_normal((5, k, k))
        y = (0.8 * g) @ y
    np.testing.assert_allclose(sim.metrics["log10_mean_abs"], np.log10(np.abs(y).mean(axis=(1, 2))),
                               rtol=1e-12)
    np.testing.assert_allclose(sim.metrics["log10_fro"], np.log10(np.linalg.norm(y, axis=(1, 2))),
                               rtol=1e-12)
    np.testing.assert_allclose(sim.metrics["log10_spectral"],
                               np.log10(np.linalg.norm(y, 2, axis=(1, 2))), rtol=1e-12)
    np.testing.assert_allclose(sim.metrics["log10_norm_u"],
                               np.log10(np.linalg.norm(y[:, :, 0], axis=1)), rtol=1e-12)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_mlp_jacobian_equals_the_chain_rule_of_the_same_draws(activation, dtype, rtol):
    # In float64 the renormalised log-domain product is the chain rule to rounding; in float32
    # (the production precision) to float32's 6e-8 per operation, a few dozen operations deep.
    params = MLP.canonical_params({"width": 5, "depth": 4, "activation": activation, "scale": 0.9})
    sim = MLP.simulate(params, 3, np.random.default_rng(11), dtype=dtype)
    act = ACTIVATIONS[activation]
    replay = np.random.default_rng(11)
    x = replay.standard_normal((3, 5), dtype=dtype).astype(np.float64)
    h, jac = x, np.broadcast_to(np.eye(5), (3, 5, 5))
    for _ in range(4):
        w = 0.9 * replay.standard_normal((3, 5, 5), dtype=dtype).astype(np.float64)
        z = np.einsum("nij,nj->ni", w, h)
        jac = act.derivative(z)[:, :, None] * (w @ jac)
        h = act.fn(z)
    np.testing.assert_allclose(sim.metrics["log10_mean_abs"], np.log10(np.abs(jac).mean(axis=(1, 2))),
                               rtol=rtol)


@pytest.mark.parametrize("experiment,overrides", [
    (PRODUCTS, {"k": 4, "factors": 7}), (MLP, {"width": 6, "depth": 9})])
def test_trajectory_starts_at_the_identity(experiment, overrides):
    params = experiment.canonical_params(overrides)
    result = simulate_setting(experiment, params, 4, seed=1)
    width = experiment.width(params)
    assert result.trajectory.shape == (4, experiment.steps(params) + 1)
    np.testing.assert_allclose(result.trajectory[:, 0], np.log10(1 / width), rtol=1e-6)
    np.testing.assert_allclose(result.trajectory[:, -1], result.log10_mean_abs, rtol=1e-6)
    for metric in result.metrics.values():
        assert metric.shape == (4,)


def _lecture_loop_products(k, factors, scale, runs, rng):
    """The lecture's code, one product at a time."""
    out = []
    for _ in range(runs):
        y = np.eye(k)
        for _ in range(factors):
            y = rng.normal(0, scale, (k, k)) @ y
        out.append(np.log10(np.abs(y).mean()))
    return np.array(out)


def test_batched_products_have_the_per_run_loops_distribution():
    runs = 2000
    params = PRODUCTS.canonical_params({"k": 4, "factors": 30, "scale": 0.6})
    batched = simulate_setting(PRODUCTS, params, runs, seed=3).log10_mean_abs
    looped = _lecture_loop_products(4, 30, 0.6, runs, np.random.default_rng(4))
    assert stats.ks_2samp(batched, looped).pvalue > 1e-3


def test_batched_mlp_has_the_per_run_loops_distribution():
    runs = 600
    params = MLP.canonical_params({"width": 12, "depth": 10, "activation": "tanh", "scale": 0.4})
    batched = simulate_setting(MLP, params, runs, seed=5).log10_mean_abs
    act, rng, looped = ACTIVATIONS["tanh"], np.random.default_rng(6), []
    for _ in range(runs):
        h, jac = rng.standard_normal(12), np.eye(12)
        for _ in range(10):
            w = rng.normal(0, 0.4, (12, 12))
            z = w @ h
            jac = np.diag(act.derivative(z)) @ w @ jac
            h = act.fn(z)
        looped.append(np.log10(np.abs(jac).mean()))
    assert stats.ks_2samp(batched, looped).pvalue > 1e-3


def test_same_seed_same_numbers_and_other_settings_do_not_matter():
    a = MLP.canonical_params({"width": 8, "depth": 5, "activation": "tanh"})
    b = PRODUCTS.canonical_params({})
    alone = simulate_setting(MLP, a, 50, seed=9)
    simulate_setting(PRODUCTS, b, 50, seed=9)
    after_other = simulate_setting(MLP, a, 50, seed=9)
    np.testing.assert_array_equal(alone.log10_mean_abs, after_other.log10_mean_abs)
    different_seed = simulate_setting(MLP, a, 50, seed=10)
    assert not np.array_equal(alone.log10_mean_abs, different_seed.log10_mean_abs)


def test_blocks_use_distinct_streams_and_cover_every_run():
    params = PRODUCTS.canonical_params({"k": 32})  # 1024 runs per block
    assert PRODUCTS.block_runs(params) == 1024
    result = simulate_setting(PRODUCTS, {**params, "factors": 3}, 2500, seed=2)
    assert len(result.log10_mean_abs) == 2500
    assert len(np.unique(result.log10_mean_abs)) == 2500
    key = setting_key(PRODUCTS, params)
    assert block_generator(2, key, 0).random() != block_generator(2, key, 1).random()


def test_long_product_goes_far_past_float64_and_grows_linearly():
    # k=4, scale 3: about 0.79 decades per factor, so 2000 factors reach ~1e+1580.
    runs = 400
    params = PRODUCTS.canonical_params({"k": 4, "scale": 3.0, "factors": 2000})
    result = simulate_setting(PRODUCTS, params, runs, seed=8)
    final = result.log10_mean_abs
    assert np.all(np.isfinite(final)) and np.min(final) > 308
    halfway = result.trajectory[:, 1000].astype(float)
    # Increments over the two halves are independent with equal means: compare with their SE.
    first, second = halfway - result.trajectory[:, 0], final - halfway
    se = np.sqrt(first.var() / runs + second.var() / runs)
    assert abs(first.mean() - second.mean()) < 4 * se, (first.mean(), second.mean(), se)


def test_a_dead_relu_network_is_counted_never_minus_infinity():
    params = MLP.canonical_params({"width": 1, "depth": 30})
    result = simulate_setting(MLP, params, 20, seed=0)
    assert result.dead + result.alive == 20 and result.dead >= 19  # P(alive) = 2^−30
    assert all(np.all(np.isfinite(v)) for v in result.metrics.values())
    assert result.trajectory.shape[0] == result.alive
