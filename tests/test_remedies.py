"""What keeps gradients alive, against Monte Carlo on settings other than the site's: the residual
network's theory, the law of dying ReLU networks, the spectrum of the Jacobian (exactly isometric
for orthogonal linear networks; its rank for ReLU), and dead runs counted, not fatal."""
import json
import math

import numpy as np
import pytest
from scipy import stats

from stabreport.report.claims import median_standard_error
from stabreport.cli import main
from stabreport.core.engine import block_generator, setting_key, simulate_norms, simulate_setting
from stabreport.experiments import get_experiment
from stabreport.experiments.mlp import dead_fraction
from stabreport.experiments.nn import ACTIVATIONS

MLP, RESNET, PRODUCTS = get_experiment("mlp"), get_experiment("resnet"), get_experiment("products")


@pytest.mark.parametrize("overrides", [{"activation": "relu", "branch_scale": 0.5},
                                       {"activation": "tanh", "branch_scale": 1.0},
                                       {"activation": "relu", "branch_scale": "1/sqrt(depth)"}])
def test_residual_theory_predicts_the_median_within_its_stated_bias(overrides):
    params = RESNET.canonical_params({"width": 40, "depth": 60, **overrides})
    values = simulate_norms(RESNET, params, 3000, seed=41).log10_norm_u
    predicted = RESNET.theory.predict(params).median_log10_norm_u
    # The mean-field block ignores the correlation of the gradient's direction with the active
    # units; measured, that costs at most about 2/width in ln r per block (half of it in
    # log10 ‖J u‖, over ln 10): the allowance. On top of it, four standard errors.
    allowance = params["depth"] * 2.0 / params["width"] / 2 / math.log(10)
    se = median_standard_error(values)
    gap = float(np.median(values)) - predicted
    assert abs(gap) <= allowance + 4 * se, (gap, allowance, se)


def test_the_residual_fast_path_samples_the_full_jacobians_column_length():
    params = RESNET.canonical_params({"width": 30, "depth": 20, "activation": "tanh",
                                      "branch_scale": 0.7})
    full = simulate_setting(RESNET, params, 1500, seed=42).metrics["log10_norm_u"]
    fast = simulate_norms(RESNET, params, 1500, seed=42).log10_norm_u
    assert stats.ks_2samp(full, fast).pvalue > 1e-3


def test_residual_jacobian_equals_the_chain_rule_of_the_same_draws():
    params = RESNET.canonical_params({"width": 5, "depth": 4, "activation": "tanh", "scale": 0.4,
                                      "branch_scale": 0.8})
    sim = RESNET.simulate(params, 3, np.random.default_rng(5))
    replay = np.random.default_rng(5)
    h = replay.standard_normal((3, 5))
    jac = np.broadcast_to(np.eye(5), (3, 5, 5))
    act = ACTIVATIONS["tanh"]
    for _ in range(4):
        w = 0.8 * 0.4 * replay.standard_normal((3, 5, 5))
        jac = jac + w @ (act.derivative(h)[:, :, None] * jac)
        h = h + np.einsum("nij,nj->ni", w, act.fn(h))
    np.testing.assert_allclose(sim.metrics["log10_mean_abs"], np.log10(np.abs(jac).mean(axis=(1, 2))),
                               rtol=1e-10)


@pytest.mark.parametrize("width,depth,init", [(5, 40, "normal"), (3, 12, "xavier_uniform"),
                                              (4, 20, "orthogonal")])
def test_the_dead_fraction_follows_the_exact_law(width, depth, init):
    overrides = {"width": width, "depth": depth, "init": init}
    params = MLP.canonical_params(overrides)
    runs = 4000
    result = simulate_setting(MLP, params, runs, seed=43)
    law = dead_fraction(params)
    se = math.sqrt(law * (1 - law) / runs)
    assert abs(result.dead_fraction - law) <= 4 * se, (result.dead_fraction, law, se)
    assert result.dead == runs - result.alive and len(result.log10_mean_abs) == result.alive


def test_an_orthogonal_linear_network_is_exactly_isometric():
    params = MLP.canonical_params({"width": 20, "depth": 15, "activation": "linear",
                                   "init": "orthogonal", "scale": 0.3})
    result = simulate_setting(MLP, params, 30, seed=44, spectrum=True)
    expected = 15 * math.log10(0.3 * math.sqrt(20))
    values = result.log10_sv
    assert values.shape == (30, 20)
    np.testing.assert_allclose(values, expected, atol=1e-9)
    assert np.all(result.metrics["sv_rank"] == 20)


def test_the_spectrum_multiplies_out_to_the_determinant_and_tops_at_the_spectral_norm():
    params = PRODUCTS.canonical_params({"k": 6, "factors": 40, "scale": 0.8})
    result = simulate_setting(PRODUCTS, params, 50, seed=45, spectrum=True)
    # Σ log|R_ii| = log|det M| = Σ log σ_i, for any product.
    key = setting_key(PRODUCTS, params)
    rng = block_generator(45, key, 0)
    draws = rng.standard_normal((40, 6, 6, 50))  # small k: the runs are the last axis
    log_det = np.zeros(50)
    for g in draws:
        log_det += np.linalg.slogdet(0.8 * g.transpose(2, 0, 1))[1]
    np.testing.assert_allclose(result.log10_sv.sum(axis=1), log_det / math.log(10), atol=1e-5)
    # Each |R_ii| is the distance of M e_i from the span of the columns before it, so none exceeds
    # ‖M‖₂; the largest falls short of it by the first column's alignment with the top singular
    # direction, a factor of order one that does not grow with the depth.
    shortfall = result.metrics["log10_spectral"] - result.log10_sv[:, 0]
    assert np.all(shortfall >= -1e-9) and np.median(shortfall) < 1.0, np.median(shortfall)


def test_a_relu_jacobians_rank_is_the_fewest_active_units_of_any_layer():
    from stabreport.experiments.mlp import PRODUCT_DTYPE

    params = MLP.canonical_params({"width": 12, "depth": 8, "scale": 0.5})
    sim = MLP.simulate(params, 40, np.random.default_rng(46), spectrum=True)
    replay = np.random.default_rng(46)  # the same draws, in the simulation's precision
    dtype = PRODUCT_DTYPE
    h = replay.standard_normal((40, 12), dtype=dtype)
    fewest = np.full(40, 12)
    for _ in range(8):
        z = (replay.standard_normal((40, 12, 12), dtype=dtype) @ h[:, :, None])[:, :, 0]
        fewest = np.minimum(fewest, (z > 0).sum(axis=1))
        h = np.maximum(z, 0)
        h /= np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-30)
    living = fewest > 0
    np.testing.assert_array_equal(sim.metrics["sv_rank"][living], fewest[living])


def test_dead_runs_are_counted_and_an_all_dead_setting_reports_plainly(capsys):
    assert main(["run", "mlp", "--set", "width=1", "--set", "depth=30", "--runs", "50",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["dead_runs"] == 50 and payload["dead_fraction"] == 1.0
    assert payload["summary"] is None and payload["log10_mean_abs"] == []
    assert payload["theory"]["dead_fraction"] == pytest.approx(1 - 0.5**30)
    assert main(["run", "mlp", "--set", "width=4", "--set", "depth=20", "--runs", "400",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert 0 < payload["dead_runs"] < 400
    assert len(payload["log10_mean_abs"]) == 400 - payload["dead_runs"]
    assert all(math.isfinite(v) for v in payload["log10_mean_abs"])
    assert main(["run", "mlp", "--set", "width=1", "--set", "depth=30", "--runs", "5"]) == 0
    assert "every run died" in capsys.readouterr().out


def test_resnet_from_the_command_line_with_its_spectrum_and_defaults(capsys):
    assert main(["run", "resnet", "--set", "width=20", "--set", "depth=10",
                 "--set", "branch_scale=1/sqrt(depth)", "--runs", "6", "--json", "--spectrum"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["params"]["scale"] == pytest.approx(math.sqrt(2 / 20))  # He's, the default
    assert payload["params"]["branch_scale"] == "1/sqrt(depth)"
    for key in ("log10_sv_q10", "log10_sv_q50", "log10_sv_q90", "sv_rank"):
        assert len(payload[key]) == 6 and f"median_{key}" in payload["summary"]
    assert payload["theory"]["critical_scale"] is None and payload["dead_fraction"] == 0.0
    assert main(["run", "resnet", "--set", "width=20", "--set", "depth=10",  # the spectrum is
                 "--set", "branch_scale=1/sqrt(depth)", "--runs", "6", "--json"]) == 0  # opt-in
    plain = json.loads(capsys.readouterr().out)
    assert "sv_rank" not in plain and plain["log10_norm_u"] == payload["log10_norm_u"]
    assert main(["run", "resnet", "--set", "branch_scale=large"]) == 2
    assert "'branch_scale'" in capsys.readouterr().err


def test_sweep_cells_report_the_dead_fraction_instead_of_failing(capsys):
    assert main(["sweep", "mlp", "--grid", "width=1,4,8", "--set", "depth=20", "--runs", "200",
                 "--no-cache", "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)["cells"]
    by_width = {c["params"]["width"]: c for c in cells}
    assert by_width[1]["dead_fraction"] == 1.0 and by_width[1]["median"] is None
    assert 0 < by_width[4]["dead_fraction"] < 1 and by_width[4]["median"] is not None
    law = by_width[4]["theory"]["dead_fraction"]
    assert abs(by_width[4]["dead_fraction"] - law) <= 4 * math.sqrt(law * (1 - law) / 200)
