"""The recurrent network: its full path (J = ∂h_T/∂h₀, the gradient's reach, W's spectrum)
against finite differences of the recursion, the exact isometry of a linear network with
orthogonal tied weights, the mean-field theory against Monte Carlo for untied weights, tied
against untied, and clean errors. Settings are small and not the site's; tolerances come from
standard errors (plus the stated allowance where the theory is an approximation)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from stabreport.experiments import rnn
from stabreport.experiments.rnn import RNN

BIN = Path(sys.executable).parent
SMALL = {"width": 40, "steps": 30}
ALLOWANCE = 0.15  # decades: what the mean field may miss at width 40, besides sampling error


def setting(**overrides):
    return RNN.canonical_params({**SMALL, **overrides})


def median_and_se(values: np.ndarray) -> tuple[float, float]:
    """The median and its standard error, √(π/2) σ/√n with σ from the MAD (robust)."""
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    return median, math.sqrt(math.pi / 2) * sigma / math.sqrt(len(values))


def final_state(params, w, inputs, h0):
    """h_T from h₀ with the tied W and the inputs x_1 … x_T (one network)."""
    phi = rnn.ACTIVATIONS[params["activation"]].fn
    h = h0
    for x in inputs:
        h = phi(w @ h + x)
    return h


@pytest.mark.parametrize("activation", ["tanh", "linear", "scaled_sigmoid"])
def test_full_path_matches_finite_differences_of_the_recursion(activation):
    params = RNN.canonical_params({"width": 5, "steps": 4, "scale": 0.6, "activation": activation,
                                   "input_scale": 0.8})
    seed = 11
    sim = RNN.simulate(params, 1, np.random.default_rng(seed))
    # The full path draws the tied W first, then one input vector per step.
    rng = np.random.default_rng(seed)
    w = rnn.draw_weights(params, 1, rng)[0]
    inputs = [params["input_scale"] * rng.standard_normal((1, 5))[0] for _ in range(4)]
    eps = 1e-6
    jac = np.column_stack([(final_state(params, w, inputs, eps * e) - final_state(params, w, inputs, -eps * e))
                           / (2 * eps) for e in np.eye(5)])
    assert abs(jac).max() > 1e-3  # not a trivial check
    assert sim.metrics["log10_norm_u"][0] == pytest.approx(math.log10(np.linalg.norm(jac[:, 0])), abs=1e-6)
    assert sim.metrics["log10_fro"][0] == pytest.approx(math.log10(np.linalg.norm(jac)), abs=1e-6)
    # the reach d = T steps back is the first row of J; every d from its own finite differences
    assert sim.reach[0, -1] == pytest.approx(math.log10(np.linalg.norm(jac[0])), abs=1e-6)
    for d in range(1, 4):
        start = np.zeros(5)
        for x in inputs[:4 - d]:
            start = rnn.ACTIVATIONS[activation].fn(w @ start + x)
        part = np.column_stack([(final_state(params, w, inputs[4 - d:], start + eps * e)
                                 - final_state(params, w, inputs[4 - d:], start - eps * e))
                                / (2 * eps) for e in np.eye(5)])
        assert sim.reach[0, d] == pytest.approx(math.log10(np.linalg.norm(part[0])), abs=1e-6)
    assert sim.metrics["log10_radius"][0] == pytest.approx(
        math.log10(max(abs(np.linalg.eigvals(w)))), abs=1e-9)
    assert sim.metrics["log10_sigma_max"][0] == pytest.approx(
        math.log10(np.linalg.norm(w, 2)), abs=1e-9)


@pytest.mark.parametrize("init", ["orthogonal", "identity"])
@pytest.mark.parametrize("tied", [True, False])
def test_linear_network_whose_w_keeps_lengths_is_exactly_isometric(init, tied):
    params = setting(activation="linear", init=init, scale=0.2, tied=tied)
    per_step = math.log10(0.2 * math.sqrt(40))
    sim = RNN.simulate(params, 20, np.random.default_rng(3))
    assert np.allclose(sim.metrics["log10_norm_u"], 30 * per_step, atol=1e-9)
    assert np.allclose(sim.reach, np.arange(31) * per_step, atol=1e-9)
    fast = RNN.tangent(params, 20, np.random.default_rng(4))
    assert np.allclose(fast, np.arange(31) * per_step, atol=1e-9)
    prediction = RNN.predict(params)
    assert prediction.median_log10_norm_u == pytest.approx(30 * per_step, abs=1e-9)


@pytest.mark.parametrize("overrides", [
    {"activation": "tanh", "scale": 0.15, "input_scale": 0.7},
    {"activation": "tanh", "scale": 0.25, "input_scale": 1.5},
    {"activation": "scaled_sigmoid", "scale": 0.1, "input_scale": 1.0},
])
def test_mean_field_matches_untied_monte_carlo(overrides):
    params = setting(tied=False, **overrides)
    prediction = RNN.predict(params)
    norms = RNN.tangent(params, 2000, np.random.default_rng(7))[:, -1]
    median, se = median_and_se(norms)
    assert abs(median - prediction.median_log10_norm_u) <= ALLOWANCE + 4 * se
    reach = RNN.simulate(params, 300, np.random.default_rng(8)).reach
    for d in (1, 10, 30):
        median, se = median_and_se(reach[:, d])
        assert abs(median - prediction.reach_log10[d]) <= ALLOWANCE + 4 * se, d


def test_theory_applies_only_where_it_holds():
    assert RNN.predict(setting(tied=True)) is None  # tied weights are measured against it
    assert RNN.predict(setting(tied=False)) is not None
    assert RNN.predict(setting(tied=True, activation="linear", init="orthogonal")) is not None


def test_fast_and_full_paths_draw_the_same_distribution():
    params = setting(activation="tanh", scale=0.2, input_scale=0.5)
    full = RNN.simulate(params, 400, np.random.default_rng(1)).metrics["log10_norm_u"]
    fast = RNN.tangent(params, 400, np.random.default_rng(2))[:, -1]
    assert stats.ks_2samp(full, fast).pvalue > 1e-3
    untied = setting(activation="tanh", scale=0.2, input_scale=0.5, tied=False)
    full = RNN.simulate(untied, 400, np.random.default_rng(1)).metrics["log10_norm_u"]
    fast = RNN.tangent(untied, 400, np.random.default_rng(2))[:, -1]  # joint draws
    assert stats.ks_2samp(full, fast).pvalue > 1e-3


def test_tied_weights_leave_a_linear_network_larger_and_wider_than_untied():
    tied = RNN.tangent(setting(activation="linear", input_scale=0.0), 2000, np.random.default_rng(5))[:, -1]
    untied = RNN.tangent(setting(activation="linear", input_scale=0.0, tied=False), 2000,
                         np.random.default_rng(6))[:, -1]
    (m1, se1), (m2, se2) = median_and_se(tied), median_and_se(untied)
    assert m1 - m2 > 4 * math.hypot(se1, se2)
    assert np.subtract(*np.quantile(tied, [0.95, 0.05])) > 2 * np.subtract(*np.quantile(untied, [0.95, 0.05]))


def test_inputs_make_tanh_vanish_with_orthogonal_weights():
    quiet = RNN.tangent(setting(init="orthogonal", input_scale=0.0), 50, np.random.default_rng(1))
    assert np.allclose(quiet[:, -1], 0.0, atol=1e-9)  # h stays 0: J = Wᵀ exactly
    driven = RNN.tangent(setting(init="orthogonal", input_scale=1.0), 400, np.random.default_rng(2))
    median, se = median_and_se(driven[:, -1])
    prediction = RNN.predict(setting(init="normal", input_scale=1.0, tied=False))
    assert median < -3  # vanishes, as the untied mean field says
    assert abs(median - prediction.median_log10_norm_u) <= 0.5 + 4 * se


def test_pascanu_bound_is_below_the_linear_balance():
    params = setting(activation="tanh")
    assert rnn.pascanu_scale(params) == pytest.approx(1 / (2 * math.sqrt(40)), rel=1e-6)
    assert rnn.pascanu_scale(setting(init="orthogonal")) == pytest.approx(1 / math.sqrt(40), rel=1e-6)


@pytest.mark.parametrize("assignment,named", [
    ("tied=maybe", "tied"), ("input_scale=-1", "input_scale"), ("init=glorot", "init"),
    ("steps=0", "steps"), ("scale=0", "scale")])
def test_bad_values_give_one_line_and_exit_code_2(assignment, named):
    done = subprocess.run([str(BIN / "stabreport"), "run", "rnn", "--runs", "2", "--set", assignment],
                          capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "allowed" in lines[0], done.stderr
    assert done.stdout == ""


def test_run_json_has_the_new_metrics_and_theory():
    done = subprocess.run([str(BIN / "stabreport"), "run", "rnn", "--runs", "4", "--json", "--set",
                           "tied=false", "--set", "width=20", "--set", "steps=10"],
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert len(out["log10_radius"]) == 4 and len(out["log10_sigma_max"]) == 4
    assert out["params"]["tied"] is False
    assert out["theory"]["median_log10_norm_u"] == pytest.approx(
        RNN.predict(RNN.canonical_params({"tied": False, "width": 20, "steps": 10})).median_log10_norm_u)
