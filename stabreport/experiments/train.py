"""Does it train? The lecture's network under minibatch SGD on handwritten digits.

Each run trains one network from its own seed (see stabreport.experiments.training): its loss
after every step is the trajectory (NaN from the first non-finite loss on: the run diverged), and
its per-run metrics are the loss before training, the loss at the end, the test accuracy, whether
and when it diverged, and the gradient's size at the first and the last layer on the first step.
No theory: what is predicted at initialisation is on the MLP's page.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..render.i18n import N_, _
from ..core.params import Param
from .base import Experiment, Metric, Simulation
from .mlp import init_scale
from .nn import ACTIVATIONS, INITIALISERS, introduce
from . import training

LOSS = Metric("loss", "training loss", "the mean cross-entropy of each step's minibatch before "
              "its update (a list per run, ending at its first non-finite loss)",
              kind="value", optional=True)
METRICS = (
    Metric("diverged", "diverged", "whether the loss became non-finite (overflow) during training",
           kind="flag"),
    Metric("initial_loss", "initial loss", "the mean cross-entropy over the training split before "
           "the first step (null where it overflows)", kind="value", optional=True),
    Metric("final_loss", "final loss", f"the mean training loss of the last {training.FINAL_WINDOW} "
           "steps (null for a run that diverged)", kind="value", optional=True),
    Metric("test_accuracy", "test accuracy", "the share of the 360 held-out digits classified "
           "right after training (null for a run that diverged)", kind="value", optional=True),
    Metric("diverged_at", "diverged at step", "the step whose loss was the first non-finite one "
           "(null for a run that did not diverge)", kind="count", optional=True),
    Metric("grad_norm_first_layer", "‖∂ℒ/∂W₁‖ at step 0", "the Frobenius norm of the first hidden "
           "layer's weight gradient on the first step (null where it overflows)", kind="value",
           optional=True),
    Metric("grad_norm_last_layer", "‖∂ℒ/∂W_L‖ at step 0", "the same for the last hidden layer",
           kind="value", optional=True),
)


def simulate(params: Mapping[str, Any], runs: int, rng: np.random.Generator) -> Simulation:
    out = training.train(params, runs, rng)
    return Simulation(metrics={m.name: out[m.name] for m in METRICS}, trajectory=out["loss"])


def normalise(params: dict[str, Any], given: set[str], where: str) -> dict[str, Any]:
    if params["batch"] > training.TRAINING_EXAMPLES:
        raise ConfigError(f"{where}parameter 'batch' got {params['batch']!r}; allowed: an integer "
                          f"from 1 to {training.TRAINING_EXAMPLES} (the training split)", key="batch")
    if params["norm"] == "batch" and params["batch"] < 2:
        raise ConfigError(f"{where}parameter 'batch' got {params['batch']!r} but norm=batch "
                          "normalises each unit over the batch; allowed: an integer ≥ 2 with "
                          "norm=batch", key="batch")
    return init_scale(params, given, where)


def describe(params: Mapping[str, Any]) -> str:
    """The setting in words: "relu, scale 0.1", "relu, He normal init", with its normalisation
    and clipping where it has them."""
    activation = ACTIVATIONS[params["activation"]].words
    words = (_("%(activation)s, scale %(scale)s") % {"activation": activation, "scale": params["scale"]}
             if params.get("scale") is not None else
             _("%(activation)s, %(init)s init") % {"activation": activation,
                                                    "init": INITIALISERS[params["init"]].words})
    if params["norm"] == "batch":
        words += _(", batch norm")
    elif params["norm"] == "layer":
        words += _(", layer norm")
    if params.get("clip") is not None:
        words += _(", gradient clipped at %(clip)s") % {"clip": params["clip"]}
    return words


def flops(params: Mapping[str, Any], runs: int) -> int:
    """Floating-point operations of `runs` runs: three products of a k×k matrix and a k×batch
    one per layer and step (forward, the gradient of the layer below, the weights'), and the
    training split's forward pass before and the test split's after."""
    width, depth, batch = params["width"], params["depth"], params["batch"]
    examples = 3 * params["steps"] * batch + training.TRAINING_EXAMPLES + training.TEST_EXAMPLES
    return 2 * runs * examples * depth * width * width


TRAIN = Experiment(
    name="train",
    title=N_("Does it train?"),
    summary=N_("The lecture's MLP with a softmax layer, trained by minibatch SGD on scikit-learn's "
               "handwritten digits from each seed."),
    params=(
        Param("width", int, 100, N_("units per hidden layer (at least the 64 pixels)"), minimum=64),
        Param("depth", int, 50, N_("number of hidden layers"), minimum=1),
        Param("activation", str, "relu", N_("activation function"), choices=tuple(ACTIVATIONS)),
        Param("init", str, "normal", N_("weight initialisation"), choices=tuple(INITIALISERS)),
        Param("scale", float, 0.1, N_("standard deviation of the hidden weights (init=normal "
                                      "only)"), minimum=1e-100, maximum=1e100),
        Param("norm", str, "none", N_("a normalisation after every hidden matrix, without affine "
                                      "parameters: none, batch or layer"),
              choices=("none", "batch", "layer")),
        Param("batch", int, 32, N_("examples per minibatch"), minimum=1),
        Param("steps", int, 300, N_("SGD steps"), minimum=1, maximum=100_000),
        Param("lr", float, 0.01, N_("learning rate"), minimum=0.0, maximum=1e6),
        Param("clip", float, None, N_("the largest global gradient norm: a larger gradient is "
                                      "scaled down to it (none by default)"), minimum=0.0,
              maximum=1e300, omitted_at=(None,), default_text="none"),
    ),
    simulate=simulate,
    metrics=METRICS,
    trajectory_metric=LOSS,
    steps_param="steps",
    width_param="width",
    step_label=N_("step"),
    step_plural=N_("steps"),
    default_runs=8,
    scale_param="scale",
    effective_scale=lambda params: float(INITIALISERS[params["init"]].std(params["width"],
                                                                           params["scale"])),
    page="train",
    template="sections/generic-train.md.j2",
    table="partials/training_table.md.j2",
    normalise=normalise,
    describe=describe,
    introduce=introduce,
    full_path_bytes=lambda params, runs: training.working_bytes(params, runs),
    full_path_flops=flops,
    runs_per_block=lambda params: training.BLOCK_RUNS,
)
