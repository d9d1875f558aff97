"""Minibatch SGD on the lecture's network, many seeds at once: the numerics of `train`.

The network is the lecture's MLP (width k, L layers, no hidden biases) on the handwritten digits
shipped in scikit-learn's wheel (1,797 8×8 images), each image a vector of its 64 standardised
pixels padded with zeros to k, so that every hidden layer is the lecture's k × k matrix; then a
softmax layer (k → 10, weights N(0, 1/k), biases 0, both trained). Every run is one network
trained from its own draws (initial weights and minibatches) of the run's Generator; runs are
trained side by side as one stack of arrays, and a run that diverged (a non-finite loss) is
frozen where it diverged.

One step: a minibatch drawn with replacement from the training split; the loss, the mean
cross-entropy ℒ of the minibatch, recorded before the update; the gradient by backpropagation
(through the batch statistics too, with `norm=batch`); the global gradient norm clipped to
`clip` when given; every parameter moved by −lr · gradient. With `norm`, the normalisation's
statistics are the minibatch's in training, and the whole split's when the loss before training
and the test accuracy are measured (no running averages).
"""
from __future__ import annotations

import gzip
import math
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from .nn import ACTIVATIONS, INITIALISERS
from .normalised import AXIS, EPSILON

CLASSES = 10
PIXELS = 64
FINAL_WINDOW = 20  # final_loss: the mean training loss over the last 20 steps
TEST_EVERY = 5  # every fifth image (in the file's order) is held out: 360 test, 1,437 training
IMAGES = 1797
TEST_EXAMPLES = -(-IMAGES // TEST_EVERY)
TRAINING_EXAMPLES = IMAGES - TEST_EXAMPLES
BLOCK_RUNS = 4  # networks trained side by side from one random stream


def working_bytes(params: Mapping[str, Any], runs: int) -> int:
    """Peak memory of `runs` networks in training: weights, gradients and their update, the
    stored layers of a minibatch, and a forward pass over the training split (float64)."""
    width, depth, batch = params["width"], params["depth"], params["batch"]
    per_run = 3 * depth * width * width + 3 * depth * width * batch + 6 * width * TRAINING_EXAMPLES
    return 8 * runs * per_run


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits as scikit-learn ships them in its wheel: (1797, 64) pixels 0–16 and labels.
    Read from the installed file, without importing scikit-learn."""
    from importlib import metadata

    try:
        path = metadata.distribution("scikit-learn").locate_file("sklearn/datasets/data/digits.csv.gz")
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",")
    except (metadata.PackageNotFoundError, OSError) as error:
        raise ConfigError("experiment train needs the digits data set of scikit-learn "
                          f"({error}); allowed: an environment with scikit-learn installed "
                          "(pip install stabreport installs it)") from None
    return table[:, :-1], table[:, -1].astype(np.int64)


@lru_cache(maxsize=4)
def split(width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(training inputs, training labels, test inputs, test labels): every pixel standardised
    by the training split's mean and standard deviation (a constant pixel becomes 0), padded
    with zeros to `width` units, as (examples, width) arrays."""
    pixels, labels = digits()
    test = np.arange(len(labels)) % TEST_EVERY == 0
    mean, std = pixels[~test].mean(axis=0), pixels[~test].std(axis=0)
    x = np.zeros((len(labels), width))
    x[:, :PIXELS] = (pixels - mean) / np.where(std > 0, std, 1.0)
    return x[~test], labels[~test], x[test], labels[test]


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run, the mean cross-entropy over the batch and its gradient with respect to the
    logits (runs, classes, batch); NaN where a logit is not finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        top = logits.max(axis=1, keepdims=True)
        shifted = logits - top
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        batch = logits.shape[2]
        picked = np.take_along_axis(shifted, labels[:, None, :], axis=1)[:, 0, :]
        loss = (np.log(total[:, 0, :], dtype=np.float64) - picked).mean(axis=1)
        grad = exp / total
        np.put_along_axis(grad, labels[:, None, :], np.take_along_axis(grad, labels[:, None, :], 1) - 1, 1)
        grad /= batch
    return loss, grad


# Training computes in float32, as the frameworks do by default (and in half the time of
# float64): a run diverges when its loss overflows float32's range (about 3.4e38), as it would
# in PyTorch. Gradient norms, losses and the clipping factor are summed in float64.
DTYPE = np.float32


class Network:
    """`runs` networks of one setting, side by side: hidden weights (runs, k, k) per layer, the
    softmax layer's weights (runs, 10, k) and biases (runs, 10, 1), in `dtype`."""

    def __init__(self, params: Mapping[str, Any], runs: int, rng: np.random.Generator,
                 dtype: Any = DTYPE) -> None:
        width, depth = params["width"], params["depth"]
        init = INITIALISERS[params["init"]]
        self.params = params
        self.activation = ACTIVATIONS[params["activation"]]
        self.axis = AXIS.get(params["norm"])
        self.dtype = dtype
        self.hidden = [init.sample(rng, runs, width, params["scale"]).astype(dtype)
                       for _ in range(depth)]
        self.out = (rng.standard_normal((runs, CLASSES, width)) / math.sqrt(width)).astype(dtype)
        self.bias = np.zeros((runs, CLASSES, 1), dtype=dtype)

    def forward(self, x: np.ndarray, keep: bool = True) -> tuple[np.ndarray, list]:
        """Logits (runs, 10, batch) of inputs (runs, k, batch), and what backward needs (if
        `keep`)."""
        stored = []
        h = x.astype(self.dtype, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            for w in self.hidden:
                a = w @ h
                inverse = None
                if self.axis is not None:
                    a -= a.mean(axis=self.axis, keepdims=True)
                    inverse = 1.0 / np.sqrt(np.mean(a * a, axis=self.axis, keepdims=True) + EPSILON)
                    a *= inverse
                if keep:
                    stored.append((h, a, inverse))
                h = self.activation.fn(a)
            logits = self.out @ h + self.bias
        stored.append((h, None, None))
        return logits, stored

    def backward(self, stored: list, grad_logits: np.ndarray) -> list[np.ndarray]:
        """Gradients of every parameter, the hidden layers' first (in the order of `parameters`)."""
        with np.errstate(over="ignore", invalid="ignore"):
            h_last = stored[-1][0]
            grads_out = grad_logits @ np.swapaxes(h_last, 1, 2)
            grad_bias = grad_logits.sum(axis=2, keepdims=True)
            g = np.swapaxes(self.out, 1, 2) @ grad_logits
            hidden: list[np.ndarray] = []
            slope_of_output = self.activation.slope_of_output
            for i in reversed(range(len(self.hidden))):
                (h, z, inverse), w = stored[i], self.hidden[i]
                g = g * (slope_of_output(stored[i + 1][0]) if slope_of_output is not None
                         else self.activation.derivative(z))
                if inverse is not None:
                    g = (g - g.mean(axis=self.axis, keepdims=True)
                         - z * np.mean(g * z, axis=self.axis, keepdims=True)) * inverse
                hidden.append(g @ np.swapaxes(h, 1, 2))
                g = np.swapaxes(w, 1, 2) @ g
        return hidden[::-1] + [grads_out, grad_bias]

    @property
    def parameters(self) -> list[np.ndarray]:
        return self.hidden + [self.out, self.bias]


def _norms(arrays: list[np.ndarray]) -> np.ndarray:
    """Per run, the Frobenius norms of each array, (runs, len(arrays))."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.stack([np.sqrt(np.einsum("nij,nij->n", a, a, dtype=np.float64)) for a in arrays],
                        axis=1)


def _batch(x: np.ndarray, labels: np.ndarray, rng: np.random.Generator, runs: int,
           size: int) -> tuple[np.ndarray, np.ndarray]:
    picks = rng.integers(0, len(labels), size=(runs, size))
    return np.swapaxes(x[picks], 1, 2), labels[picks]


def train(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Train `runs` networks; per run the losses (runs, steps + 1) — the minibatch of step t + 1's
    loss after t steps, NaN from the first non-finite one on — and the per-run metrics."""
    steps, lr, clip = params["steps"], params["lr"], params.get("clip")
    x_train, y_train, x_test, y_test = split(params["width"])
    net = Network(params, runs, rng)
    losses = np.full((runs, steps + 1), np.nan)
    alive = np.ones(runs, dtype=bool)
    diverged_at = np.full(runs, np.nan)
    logits, _ = net.forward(np.broadcast_to(x_train.T, (runs, *x_train.T.shape)), keep=False)
    initial, _ = _cross_entropy(logits, np.broadcast_to(y_train, (runs, len(y_train))))
    first_grads = None
    for step in range(steps + 1):
        x, y = _batch(x_train, y_train, rng, runs, params["batch"])
        logits, stored = net.forward(x)
        loss, grad_logits = _cross_entropy(logits, y)
        finite = np.isfinite(loss)
        newly = alive & ~finite
        diverged_at[newly] = step
        alive &= finite
        losses[alive, step] = loss[alive]
        if step == steps or not alive.any():
            break
        grads = net.backward(stored, grad_logits)
        if first_grads is None:
            first_grads = _norms([grads[0], grads[len(net.hidden) - 1]]).T
        factor = np.full(runs, lr)
        if clip is not None:  # the global norm, only where it is used (it costs a pass)
            total = np.sqrt(np.sum(_norms(grads) ** 2, axis=1))
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = lr * np.minimum(1.0, clip / total)
        # A non-finite gradient is applied as it is (the weights become NaN and the next loss
        # says the run diverged, as a framework's would); a run that diverged stays put.
        factor = factor.astype(net.dtype)[:, None, None]
        with np.errstate(invalid="ignore", over="ignore"):
            everyone = alive.all()
            for p, g in zip(net.parameters, grads):
                g *= factor
                p -= g if everyone else np.where(alive[:, None, None], g, 0)
    logits, _ = net.forward(np.broadcast_to(x_test.T, (runs, *x_test.T.shape)), keep=False)
    with np.errstate(invalid="ignore"):
        accuracy = (logits.argmax(axis=1) == y_test[None, :]).mean(axis=1)
    accuracy = np.where(alive, accuracy, np.nan)
    final = np.full(runs, np.nan)
    final[alive] = losses[alive, -min(FINAL_WINDOW, steps + 1):].mean(axis=1)
    first, last = first_grads if first_grads is not None else (np.full(runs, np.nan),) * 2
    return {"loss": losses, "initial_loss": initial, "final_loss": final,
            "test_accuracy": accuracy, "diverged": (~alive).astype(float),
            "diverged_at": diverged_at, "grad_norm_first_layer": first,
            "grad_norm_last_layer": last}
