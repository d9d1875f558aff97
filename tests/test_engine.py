"""The fast paths must give the same numbers (or, for the tangent path, the same distribution)."""
import json

import numpy as np
import pytest
from scipy import stats

from stabreport.core.cache import Store
from stabreport.core.engine import Task, block_generator, setting_key, simulate_norms, simulate_setting
from stabreport.core.executors import LocalExecutor, run_tasks
from stabreport.experiments import get_experiment

PRODUCTS, MLP = get_experiment("products"), get_experiment("mlp")


@pytest.mark.parametrize("overrides", [
    {"activation": "relu", "scale": 0.2}, {"activation": "sigmoid", "scale": 0.8},
    {"activation": "scaled_sigmoid", "scale": 0.4}, {"activation": "tanh", "init": "he_normal"}])
def test_tangent_path_samples_the_full_jacobians_column_length(overrides):
    params = MLP.canonical_params({"width": 50, "depth": 30, **overrides})
    full = simulate_setting(MLP, params, 2000, seed=31).metrics["log10_norm_u"]
    tangent = simulate_norms(MLP, params, 2000, seed=31).log10_norm_u
    assert stats.ks_2samp(full, tangent).pvalue > 1e-3


@pytest.mark.parametrize("overrides", [
    {"activation": "relu", "scale": 0.2}, {"activation": "sigmoid", "scale": 0.8},
    {"activation": "scaled_sigmoid", "scale": 0.4}, {"activation": "tanh", "init": "orthogonal"}])
def test_the_full_path_in_float32_gives_float64s_distributions(overrides):
    # The full path multiplies in float32 for speed; over 2,000 networks every metric's
    # distribution must be float64's (two-sample KS; 4 metrics, so each at 1e-3 / 4).
    from stabreport.core.engine import block_generator
    from stabreport.experiments.mlp import PRODUCT_DTYPE, simulate

    assert PRODUCT_DTYPE == np.float32
    params = MLP.canonical_params({"width": 24, "depth": 20, **overrides})
    single = simulate(params, 2000, block_generator(41, (0,), 0))
    double = simulate(params, 2000, block_generator(42, (0,), 0), dtype=np.float64)
    assert set(single.metrics) == set(double.metrics)
    for name, values in single.metrics.items():
        assert np.all(np.isfinite(values)), name
        assert stats.ks_2samp(values, double.metrics[name]).pvalue > 1e-3 / 4, name
    assert stats.ks_2samp(single.trajectory[:, 10], double.trajectory[:, 10]).pvalue > 1e-3


def test_tangent_path_for_products_matches_the_exact_law():
    params = PRODUCTS.canonical_params({"k": 4, "scale": 0.5})
    values = simulate_norms(PRODUCTS, params, 5000, seed=32).log10_norm_u
    prediction = PRODUCTS.theory.predict(params)
    assert stats.kstest(values, prediction.cdf_log10).pvalue > 1e-3


def test_tangent_path_refuses_non_gaussian_weights():
    from stabreport.errors import ConfigError

    with pytest.raises(ConfigError, match="no tangent path"):
        simulate_norms(MLP, MLP.canonical_params({"init": "xavier_uniform", "depth": 2}), 5, seed=1)


def test_chunked_blocks_give_the_unchunked_numbers():
    params = PRODUCTS.canonical_params({"k": 32, "factors": 4})  # 1024 runs per block
    whole = simulate_setting(PRODUCTS, params, 2500, seed=5)
    key = setting_key(PRODUCTS, params)
    parts = [PRODUCTS.simulate(params, size, block_generator(5, key, index))
             for index, size in ((0, 1024), (1, 1024), (2, 452))]
    np.testing.assert_array_equal(whole.log10_mean_abs,
                                  np.concatenate([p.metrics["log10_mean_abs"] for p in parts]))


def _tasks():
    return [Task("full", "mlp", MLP.canonical_params({"width": 20, "depth": 10, "activation": "tanh"}),
                 300, 7, "a"),
            Task("tangent", "mlp", MLP.canonical_params({"width": 20, "depth": 10}), 500, 7, "b"),
            Task("full", "products", PRODUCTS.canonical_params({}), 700, 7, "c")]


def test_results_are_identical_for_any_number_of_threads():
    params = MLP.canonical_params({"width": 40, "depth": 6})  # 655 runs per block: 3 blocks
    one = simulate_setting(MLP, params, 1500, seed=4, threads=1)
    two = simulate_setting(MLP, params, 1500, seed=4, threads=2)
    for name in one.metrics:
        np.testing.assert_array_equal(one.metrics[name], two.metrics[name])
    np.testing.assert_array_equal(one.trajectory, two.trajectory)


def test_results_do_not_depend_on_how_many_threads_blas_may_use():
    # A float32 GEMM of width 100 rounds differently when OpenBLAS splits it over threads: the
    # engine pins BLAS to one thread, so a worker (OPENBLAS_NUM_THREADS=1) and this process
    # (BLAS free to use every core) give the same bytes.
    import os
    import subprocess
    import sys

    params = MLP.canonical_params({"scale": 0.2, "depth": 8})
    here = simulate_setting(MLP, params, 120, seed=9, threads=1).metrics["log10_mean_abs"]
    script = ("import sys; from stabreport.core.engine import simulate_setting; "
              "from stabreport.experiments import get_experiment; m = get_experiment('mlp'); "
              "r = simulate_setting(m, m.canonical_params({'scale': 0.2, 'depth': 8}), 120, 9, "
              "threads=1); sys.stdout.buffer.write(r.metrics['log10_mean_abs'].tobytes())")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    there = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           check=True).stdout
    assert there == here.tobytes()


def test_results_are_identical_for_one_and_two_worker_processes():
    one = run_tasks(_tasks(), executor=LocalExecutor(1))
    two = run_tasks(_tasks(), executor=LocalExecutor(2))
    for a, b in zip(one, two):
        for name, array in a.arrays().items():
            np.testing.assert_array_equal(array, b.arrays()[name])


def test_cached_results_equal_fresh_ones_and_corrupt_entries_are_recomputed(tmp_path):
    cache = Store(tmp_path)
    fresh = run_tasks(_tasks(), cache)
    cached = run_tasks(_tasks(), cache)
    assert all(r.cached for r in cached) and not any(r.cached for r in fresh)
    for a, b in zip(fresh, cached):
        for name, array in a.arrays().items():
            np.testing.assert_array_equal(array, b.arrays()[name])
    entries = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(entries) == 3
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncated
    raw = bytearray(entries[1].read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte inside the arrays
    entries[1].write_bytes(bytes(raw))
    with pytest.warns(UserWarning):
        again = run_tasks(_tasks(), cache)
    assert sum(not r.cached for r in again) == 2
    for a, b in zip(fresh, again):
        for name, array in a.arrays().items():
            np.testing.assert_array_equal(array, b.arrays()[name])


def test_an_entry_moved_to_another_keys_file_is_recomputed_not_published(tmp_path):
    """A cache entry's checksum binds its key: two result entries swapped (or one copied over
    another, headers and all) are refused and recomputed, never read as each other."""
    cache = Store(tmp_path)
    fresh = run_tasks(_tasks(), cache)
    entries = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    first, second = entries[0].read_bytes(), entries[1].read_bytes()
    entries[0].write_bytes(second)
    entries[1].write_bytes(first)
    with pytest.warns(UserWarning, match="holds the entry of another key"):
        again = run_tasks(_tasks(), cache)
    assert sum(not r.cached for r in again) == 2
    for a, b in zip(fresh, again):
        for name, array in a.arrays().items():
            np.testing.assert_array_equal(array, b.arrays()[name])
    # A header rewritten to claim the other key still fails: the checksum covers the key.
    key = entries[0].name
    raw = entries[1].read_bytes()
    newline = raw.index(b"\n")
    header = json.loads(raw[:newline])
    header["key"] = key
    entries[0].write_bytes(json.dumps(header).encode() + raw[newline:])
    with pytest.warns(UserWarning, match="fails its checksum"):
        assert cache.get(key) is None


def test_an_older_cache_layout_is_recomputed_without_a_warning(tmp_path, recwarn):
    cache = Store(tmp_path)
    path = cache.path("ab" * 32)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"format": "stabreport-cache-1", "checksum": "x", "parts": []}\n')
    assert cache.get("ab" * 32) is None and len(recwarn) == 0


def test_cache_key_holds_exactly_what_the_result_depends_on():
    task = _tasks()[0]
    same = Task(task.path, task.experiment, dict(task.params), task.runs, task.seed, "renamed")
    assert task.key == same.key  # the name is a label, not an input
    for changed in (Task(task.path, task.experiment, {**task.params, "depth": 11}, task.runs, 7, "a"),
                    Task(task.path, task.experiment, task.params, task.runs + 1, 7, "a"),
                    Task(task.path, task.experiment, task.params, task.runs, 8, "a"),
                    Task("tangent", task.experiment, task.params, task.runs, 7, "a")):
        assert changed.key != task.key


@pytest.mark.parametrize("scale", [0.232, 1.4])
def test_ten_thousand_factors_report_values_far_beyond_float64_that_agree_with_theory(scale):
    params = PRODUCTS.canonical_params({"k": 4, "scale": scale, "factors": 10_000})
    result = simulate_setting(PRODUCTS, params, 200, seed=9)
    values = result.metrics["log10_norm_u"]
    prediction = PRODUCTS.theory.predict(params)
    assert 3_500 < abs(prediction.median_log10_norm_u) < 4_500  # about ±3,900
    se = 1.2533 * values.std() / np.sqrt(len(values))
    assert abs(np.median(values) - prediction.median_log10_norm_u) < 4 * se
    assert np.all(np.isfinite(result.log10_mean_abs))


@pytest.mark.parametrize("name,steps,width", [("mlp", "depth", "width"), ("products", "factors", "k")])
def test_a_deep_narrow_setting_is_estimated_by_its_steps_not_its_random_numbers(name, steps, width):
    """At width 2 a step draws four normals but costs numpy's fixed overhead (tens of µs): 10⁸
    steps are hours. The estimate grows with the steps at any width, and counts that cost."""
    from stabreport.core.engine import STEP_SECONDS, estimate

    experiment = get_experiment(name)
    deep = experiment.canonical_params({steps: 100_000_000, width: 2})
    shallow = experiment.canonical_params({steps: 1_000_000, width: 2})
    cost = estimate(experiment, deep, 10, "full")
    assert cost.seconds >= 1e8 * STEP_SECONDS  # one block of 10 runs: every step paid once
    assert cost.seconds / estimate(experiment, shallow, 10, "full").seconds == pytest.approx(100, rel=0.01)
