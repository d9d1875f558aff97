"""Experiment `train`: the lecture's network under minibatch SGD on the digits.

The gradients are checked against finite differences; the outcomes over several seeds against
what a network can and cannot do: one that cannot see its inputs (a vanishing gradient and a
vanishing signal) cannot beat the entropy of the labels, He's initialisation beats it, an
exploding scale diverges without clipping and stays finite with it. Tolerances come from the
measured spread over seeds (four standard errors of a mean)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from stabreport.experiments import get_experiment
from stabreport.experiments import training
from stabreport.core.engine import run_setting

TRAIN = get_experiment("train")
Z = 4.0


def _params(**overrides):
    return TRAIN.canonical_params(overrides)


def _label_entropy() -> float:
    """The least mean cross-entropy of a predictor that ignores its input: the entropy of the
    training labels' frequencies (a little below ln 10: the classes are not quite balanced)."""
    _, labels, _, _ = training.split(100)
    p = np.bincount(labels, minlength=10) / len(labels)
    return float(-(p * np.log(p)).sum())


def _mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


# --- gradients ------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm,activation", [("none", "tanh"), ("batch", "relu"), ("layer", "tanh"),
                                             ("batch", "sigmoid")])
def test_the_gradient_is_the_derivative_of_the_loss(norm, activation):
    """Backpropagation (through the batch statistics too) against central differences of the
    minibatch loss along a random direction of every parameter."""
    params = _params(width=64, depth=3, activation=activation, norm=norm, batch=6, scale=0.2)
    rng = np.random.default_rng(7)
    net = training.Network(params, 2, rng, dtype=np.float64)
    x_train, y_train, _, _ = training.split(64)
    x, y = training._batch(x_train, y_train, rng, 2, params["batch"])
    logits, stored = net.forward(x)
    _, grad_logits = training._cross_entropy(logits, y)
    grads = net.backward(stored, grad_logits)
    directions = [rng.standard_normal(p.shape) for p in net.parameters]
    analytic = sum((g * d).reshape(len(g), -1).sum(axis=1) for g, d in zip(grads, directions))
    h = 1e-5
    saved = [p.copy() for p in net.parameters]

    def loss_at(t: float) -> np.ndarray:
        for p, s, d in zip(net.parameters, saved, directions):
            p[...] = s + t * d
        return training._cross_entropy(net.forward(x, keep=False)[0], y)[0]

    numeric = (loss_at(h) - loss_at(-h)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_batch_normalisation_removes_the_mean_and_scale_of_every_unit():
    params = _params(width=64, depth=2, norm="batch", batch=16, scale=3.0)
    net = training.Network(params, 1, np.random.default_rng(1), dtype=np.float64)
    x_train, y_train, _, _ = training.split(64)
    x, _ = training._batch(x_train, y_train, np.random.default_rng(2), 1, 16)
    _, stored = net.forward(x)
    for _, z, _ in stored[:-1]:
        np.testing.assert_allclose(z.mean(axis=2), 0, atol=1e-10)
        np.testing.assert_allclose(z.var(axis=2), 1, rtol=1e-3)  # up to ε = 1e-5


def test_the_digits_split_is_fixed_and_standardised():
    x_train, y_train, x_test, y_test = training.split(100)
    assert x_train.shape == (1437, 100) and x_test.shape == (360, 100)
    assert np.all(x_train[:, 64:] == 0)  # padding
    np.testing.assert_allclose(x_train[:, :64].mean(axis=0), 0, atol=1e-12)
    assert sorted(set(y_test)) == list(range(10))


# --- outcomes over seeds ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def outcomes():
    """Depth 20 (the lecture's width): scale 0.05 (each layer multiplies the signal and the
    gradient by about √(100 · 0.05² / 2) ≈ 0.35, so 20 layers by about 10⁻⁹) and He's."""
    common = {"depth": 20, "steps": 150, "activation": "relu"}
    return {name: run_setting(TRAIN, _params(**common, **extra), 8, 20261204)
            for name, extra in (("vanishing", {"scale": 0.05}), ("he", {"init": "he_normal"}))}


def test_a_vanishing_network_does_not_beat_a_guess_that_ignores_the_input(outcomes):
    result = outcomes["vanishing"]
    mean, se = _mean_se(result.metrics["final_loss"])
    assert mean >= _label_entropy() - Z * se - 1e-3
    assert np.all(result.metrics["diverged"] == 0)
    # its first layer's gradient has vanished: below 10⁻⁶ of He's
    ratio = np.median(result.metrics["grad_norm_first_layer"]) / np.median(
        outcomes["he"].metrics["grad_norm_first_layer"])
    assert ratio < 1e-6


def test_he_initialisation_learns(outcomes):
    he, vanishing = outcomes["he"], outcomes["vanishing"]
    mean, se = _mean_se(he.metrics["final_loss"])
    base, base_se = _mean_se(vanishing.metrics["final_loss"])
    assert mean < base - Z * math.hypot(se, base_se)
    accuracy, accuracy_se = _mean_se(he.metrics["test_accuracy"])
    chance = 0.1
    assert accuracy > chance + Z * max(accuracy_se, math.sqrt(chance * 0.9 / 360))
    assert np.all(he.metrics["diverged"] == 0)


def test_an_exploding_scale_diverges_without_clipping_and_stays_finite_with_it():
    """Scale 0.4: each ReLU layer multiplies the signal by about 0.4 · √(100 / 2) ≈ 2.8, so the
    first loss is about 10²² (far below float32's 3.4 × 10³⁸, far above any learning)."""
    free = run_setting(TRAIN, _params(scale=0.4, steps=10), 4, 3)
    assert np.all(free.metrics["diverged"] == 1)
    assert np.all(free.metrics["diverged_at"] >= 1)  # its first loss was finite, if astronomic
    assert np.all(free.metrics["initial_loss"] > 1e15)
    assert np.all(np.isnan(free.metrics["final_loss"]))
    clipped = run_setting(TRAIN, _params(scale=0.4, steps=10, clip=1.0), 4, 3)
    assert np.all(clipped.metrics["diverged"] == 0)
    assert np.all(clipped.metrics["final_loss"] > 1e10)  # finite, and not learning


def test_the_same_seed_trains_the_same_networks():
    params = _params(depth=5, steps=5)
    a, b = run_setting(TRAIN, params, 5, 11), run_setting(TRAIN, params, 5, 11)
    np.testing.assert_array_equal(a.trajectory, b.trajectory)
    assert a.to_json(TRAIN) == b.to_json(TRAIN)
    c = run_setting(TRAIN, params, 5, 12)
    assert not np.array_equal(a.trajectory, c.trajectory)


# --- the command line --------------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stabreport", *args], capture_output=True, text=True)


def test_run_train_json_lists_each_runs_losses_and_outcome():
    done = _cli("run", "train", "--set", "scale=0.4", "--set", "steps=5", "--runs", "2", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["experiment"] == "train" and out["runs"] == 2
    assert out["diverged"] == [True, True]
    assert out["final_loss"] == [None, None] and out["test_accuracy"] == [None, None]
    for losses, at in zip(out["loss"], out["diverged_at"]):
        assert isinstance(at, int) and len(losses) == at  # the list ends at its first non-finite loss
        assert all(math.isfinite(v) for v in losses)
    assert out["summary"]["diverged_fraction"] == 1.0 and out["summary"]["median_final_loss"] is None
    done = _cli("run", "train", "--set", "depth=3", "--set", "steps=4", "--runs", "2", "--json")
    out = json.loads(done.stdout)
    assert out["diverged"] == [False, False] and out["diverged_at"] == [None, None]
    assert [len(losses) for losses in out["loss"]] == [5, 5]
    assert all(0 <= a <= 1 for a in out["test_accuracy"])


@pytest.mark.parametrize("assignment,words", [
    ("clip=0", "parameter 'clip' got 0.0"), ("lr=-1", "parameter 'lr' got -1.0"),
    ("batch=2000", "allowed: an integer from 1 to 1437"), ("width=32", "parameter 'width' got 32"),
    ("norm=group", "allowed: one of none, batch, layer"), ("steps=1.5", "parameter 'steps' got '1.5'")])
def test_bad_values_get_one_line(assignment, words):
    done = _cli("run", "train", "--set", assignment)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
