"""The MLP with batch or layer normalisation: its backward pass against finite differences, the
batch-norm explosion rate against the mean-field theory at large batch and width, its
independence of the weight scale, finite batches exploding faster, layer normalisation's
balance, `norm=none` leaving every earlier number as it was, and clean errors. Settings are
not the site's; tolerances come from the measured spread (the median's standard error)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stabreport.core.engine import setting_key, simulate_setting
from stabreport.experiments import normalised
from stabreport.experiments.mlp import MLP

BIN = Path(sys.executable).parent


def setting(**overrides):
    return MLP.canonical_params({"depth": 20, "norm": "batch", **overrides})


def median_and_se(values: np.ndarray) -> tuple[float, float]:
    """The median and its standard error, √(π/2) σ/√n with σ from the MAD (robust)."""
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    return median, math.sqrt(math.pi / 2) * max(sigma, 1e-12) / math.sqrt(len(values))


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_backward_pass_is_the_gradient_of_the_batch_loss(norm, activation):
    """‖∂ℒ/∂h₀‖_F / ‖v‖_F for ℒ = Σ_b ⟨v_b, h_{L,b}⟩, against central differences of the forward
    pass of one small network (the batch statistics' own dependence on h₀ included)."""
    params = MLP.canonical_params({"width": 5, "depth": 3, "batch": 4, "norm": norm,
                                   "activation": activation, "scale": 0.7})
    rng = np.random.default_rng(3)
    h0 = rng.standard_normal((1, 5, 4))
    weights = [(rng.standard_normal((1, 5, 5)), 0.7) for _ in range(3)]
    v = rng.standard_normal((1, 5, 4))
    _, stored = normalised.forward(params, h0, weights)
    reach = normalised.backward(params, stored, v)
    numeric = np.zeros_like(h0)
    step = 1e-6
    for index in np.ndindex(h0.shape):
        up, down = h0.copy(), h0.copy()
        up[index] += step
        down[index] -= step
        loss = [float((normalised.forward(params, h, weights)[0] * v).sum()) for h in (up, down)]
        numeric[index] = (loss[0] - loss[1]) / (2 * step)
    expected = math.log10(np.linalg.norm(numeric) / np.linalg.norm(v))
    assert reach[0, -1] == pytest.approx(expected, abs=1e-6)


def test_batch_norm_explodes_at_the_mean_field_rate_for_a_large_batch_and_width():
    """ReLU, width 400, batch 256: the gradient grows by √(π/(π − 1)) per layer (Yang et al.
    2019) and by E φ′² = ½ of the squared norm through the first layer, within four standard
    errors of the measured median."""
    params = setting(width=400, batch=256)
    ratio = normalised.simulate(params, 8, np.random.default_rng(11)).metrics["log10_grad_ratio"]
    median, se = median_and_se(ratio)
    first, later = normalised.log10_gain_per_layer(params)
    assert later == pytest.approx(0.5 * math.log10(math.pi / (math.pi - 1)), abs=1e-9)
    assert first == pytest.approx(0.5 * math.log10(0.5), abs=1e-9)
    theory = normalised.reach_medians(params)[-1]
    assert abs(median - theory) < 4 * se, (median, se, theory)
    assert median > 1.0  # an explosion: more than ten times the gradient after 20 layers


def test_the_weight_scale_does_not_change_a_batch_normalised_gradient():
    """The scale s enters only through ε/s² beside a variance of about width·Var φ (ε = 10⁻⁵):
    the same draws at s = 1 and 1000 give the same ratio to 10⁻³ decades (the network is chaotic,
    so even that perturbation grows with depth); at s = 0.1 the median is the same within four
    standard errors; far below, where s²·width·Var φ ≪ ε, the normalisation no longer normalises
    and the gradient vanishes."""
    def ratios(scale: float) -> np.ndarray:
        return normalised.simulate(setting(width=50, batch=32, scale=scale), 40,
                                   np.random.default_rng(5)).metrics["log10_grad_ratio"]

    at_1, at_1000, at_01 = ratios(1.0), ratios(1000.0), ratios(0.1)
    assert np.max(np.abs(at_1 - at_1000)) < 1e-3
    (m1, se1), (m01, se01) = median_and_se(at_1), median_and_se(at_01)
    assert abs(m1 - m01) < 4 * math.hypot(se1, se01) and m1 > 0.5
    assert np.median(ratios(1e-5)) < m1 - 1.0


def test_finite_batches_explode_faster():
    small = normalised.simulate(setting(width=100, batch=8), 40, np.random.default_rng(7))
    large = normalised.simulate(setting(width=100, batch=128), 40, np.random.default_rng(8))
    (m_small, se_small), (m_large, se_large) = (median_and_se(r.metrics["log10_grad_ratio"])
                                                for r in (small, large))
    assert m_small - m_large > 4 * math.hypot(se_small, se_large)


def test_layer_norm_keeps_a_relu_gradient_nearly_level():
    """Layer normalisation divides each example by its own length: after the first layer
    (E φ′² = ½ of the squared norm) a ReLU layer keeps the gradient's size on average. The mean
    field leaves out what the projections cost and add; they are measured within 0.005 decades
    per layer here (plus four standard errors)."""
    params = setting(width=200, batch=16, norm="layer")
    ratio = normalised.simulate(params, 40, np.random.default_rng(9)).metrics["log10_grad_ratio"]
    median, se = median_and_se(ratio)
    theory = normalised.reach_medians(params)[-1]
    assert abs(median - theory) < 4 * se + 0.005 * params["depth"], (median, se, theory)
    batch = normalised.simulate(setting(width=200, batch=16), 10, np.random.default_rng(9))
    assert np.median(batch.metrics["log10_grad_ratio"]) > median + 1.0


def test_norm_none_keeps_every_earlier_setting_and_its_numbers():
    plain = MLP.canonical_params({"scale": 0.2})
    assert "norm" not in plain and "batch" not in plain
    assert MLP.canonical_params({"scale": 0.2, "norm": "none"}) == plain
    assert setting_key(MLP, plain) == setting_key(MLP, {"width": 100, "depth": 50,
                                                          "activation": "relu", "init": "normal",
                                                          "scale": 0.2})
    result = simulate_setting(MLP, plain, 4, 0, threads=1)
    assert "log10_grad_ratio" not in result.metrics and result.reach is None
    normed = simulate_setting(MLP, setting(width=30, depth=5, batch=8), 4, 0, threads=1)
    assert set(normed.metrics) == {"log10_grad_ratio"}
    assert normed.reach.shape == (4, 6) and np.array_equal(normed.reach[:, -1],
                                                             normed.metrics["log10_grad_ratio"])


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "stabreport"), "run", "mlp", *args], capture_output=True,
                          text=True)


def test_the_command_line_reports_the_ratio_and_its_theory():
    out = run("--set", "norm=batch", "--set", "width=30", "--set", "depth=10", "--set", "batch=16",
              "--runs", "6", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert len(payload["log10_grad_ratio"]) == 6 and "log10_mean_abs" not in payload
    assert payload["summary"]["median"] == pytest.approx(np.median(payload["log10_grad_ratio"]))
    assert len(payload["reach"]["median"]) == 11
    predicted = payload["theory"]["metrics"]["log10_grad_ratio"]
    params = payload["params"]
    assert predicted["median"] == pytest.approx(normalised.reach_medians(params)[-1])
    assert payload["params"]["batch"] == 16


@pytest.mark.parametrize("args, named", [
    (["--set", "norm=group"], "parameter 'norm' got 'group'; allowed: one of none, batch, layer"),
    (["--set", "norm=batch", "--set", "batch=1"], "parameter 'batch' got 1; allowed: an integer ≥ 2"),
    (["--set", "batch=32"], "allowed: batch only with norm=batch or norm=layer"),
    (["--set", "norm=layer", "--path", "tangent"], "the fast path needs Gaussian weights and norm=none"),
    (["--set", "norm=batch", "--spectrum"], "or a setting that forms a matrix"),
])
def test_bad_values_get_one_line(args, named):
    out = run(*args, "--runs", "2")
    assert out.returncode == 2 and named in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""
