import numpy as np
import pytest

from stabreport.experiments.nn import ACTIVATIONS, INITIALISERS


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_matches_central_difference(name, rng):
    act = ACTIVATIONS[name]
    x = rng.uniform(-6, 6, 2000)
    x = x[np.abs(x) > 1e-3]  # away from ReLU's kink
    eps = 1e-6
    numeric = (act.fn(x + eps) - act.fn(x - eps)) / (2 * eps)
    np.testing.assert_allclose(act.derivative(x), numeric, atol=1e-8)


@pytest.mark.parametrize("name", sorted(n for n, a in ACTIVATIONS.items() if a.slope_of_output))
def test_slope_of_output_is_the_derivative(name, rng):
    # Training's backward pass reads φ′ off φ(x); it must be the same slope.
    act = ACTIVATIONS[name]
    x = rng.uniform(-6, 6, 2000)
    x = x[np.abs(x) > 1e-3]
    np.testing.assert_allclose(act.slope_of_output(act.fn(x)), act.derivative(x), rtol=1e-9, atol=1e-12)


def test_scaled_sigmoid_is_four_sigmoid_minus_two(rng):
    x = rng.uniform(-30, 30, 1000)
    expected = 4.0 / (1.0 + np.exp(-x)) - 2.0
    np.testing.assert_allclose(ACTIVATIONS["scaled_sigmoid"].fn(x), expected, atol=1e-12)
    assert ACTIVATIONS["scaled_sigmoid"].derivative(np.zeros(1))[0] == 1.0


def test_sigmoid_does_not_overflow_far_out():
    x = np.array([-1e4, 1e4])
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(ACTIVATIONS["sigmoid"].fn(x), [0.0, 1.0])


@pytest.mark.parametrize("name", sorted(INITIALISERS))
@pytest.mark.parametrize("width", [4, 100])
def test_init_sample_variance_matches_declared_std(name, width, rng):
    init = INITIALISERS[name]
    scale = 0.37 if init.uses_scale else None
    w = init.sample(rng, 4000 // width + 8, width, scale)
    entries = w.ravel()
    expected = init.std(width, scale) ** 2
    # Standard error of a sample variance from the sample's own fourth moment.
    n = entries.size
    se = np.sqrt((np.mean(entries**4) - np.var(entries) ** 2) / n)
    assert abs(np.var(entries) - expected) < 5 * se, (np.var(entries), expected, se)
    assert abs(np.mean(entries)) < 5 * np.sqrt(expected / n)


def test_xavier_uniform_respects_its_bound(rng):
    width = 100
    w = INITIALISERS["xavier_uniform"].sample(rng, 50, width, None)
    bound = np.sqrt(6 / (2 * width))
    assert np.all(np.abs(w) <= bound)
    assert np.max(np.abs(w)) > 0.99 * bound


def test_orthogonal_init_is_orthogonal(rng):
    q = INITIALISERS["orthogonal"].sample(rng, 20, 16, None)
    eye = np.broadcast_to(np.eye(16), q.shape)
    np.testing.assert_allclose(np.swapaxes(q, 1, 2) @ q, eye, atol=1e-12)
