"""A plug-in experiment that misbehaves as ROGUE_MODE says (tests/test_rogue.py): its results
NaN or +inf, a trajectory one step short, an exception, a print, a simulation that never returns.
With ROGUE_MODE unset it is a well-behaved toy: M = g·I with g standard normal."""
import os
import time

import numpy as np

from rogue_helper import SHIFT
from stabreport.experiments import LN10, Experiment, Param, finish


def _mode() -> str:
    return os.environ.get("ROGUE_MODE", "")


def simulate(params, runs, rng):
    mode, k, steps = _mode(), params["k"], params["steps"]
    if mode == "hang":
        while True:
            time.sleep(0.05)
    if mode == "raise":
        raise ValueError("the rogue plug-in's own bug")
    if mode == "print":
        print("a word from the plug-in")
        os.write(1, b"and one from its C code\n")
    g = rng.standard_normal(runs) + SHIFT
    m = np.broadcast_to(np.eye(k), (runs, k, k)) * g[:, None, None]
    trajectory = np.repeat((np.log(np.abs(g)) / LN10 - np.log10(k))[:, None], steps + 1, axis=1)
    if mode == "short":
        trajectory = trajectory[:, :-1]
    out = finish(m.copy(), np.zeros(runs), trajectory.astype(np.float32))
    if mode in ("nan", "inf"):
        out.metrics["log10_mean_abs"][runs // 2] = np.nan if mode == "nan" else np.inf
    return out


def lengths(params, runs, rng):
    mode, steps = _mode(), params["steps"]
    if mode == "hang":
        while True:
            time.sleep(0.05)
    out = np.repeat((np.log(np.abs(rng.standard_normal(runs) + SHIFT)) / LN10)[:, None], steps + 1, axis=1)
    if mode == "short":
        return out[:, :-1]
    if mode == "nan":
        out[0, 1] = np.nan
    return out


ROGUE = Experiment(
    name="rogue", title="A misbehaving plug-in", summary="Whatever ROGUE_MODE says.",
    params=(Param("k", int, 3, "size of the matrices", minimum=1),
            Param("steps", int, 4, "number of steps", minimum=1),
            Param("scale", float, 1.0, "a scale it ignores", minimum=0.0)),
    simulate=simulate, tangent=lengths, steps_param="steps", width_param="k", default_runs=50,
    sweep_axes=("scale", "k", "steps"))
