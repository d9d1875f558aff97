"""The registry of experiments, by name."""
from __future__ import annotations

from ..errors import ConfigError
from .base import METRIC_LABELS, METRICS, Experiment, Simulation
from .mlp import MLP
from .products import PRODUCTS

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (PRODUCTS, MLP)}


def get_experiment(name: str, where: str = "") -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(f"{where}unknown experiment {name!r}; allowed: "
                          + ", ".join(EXPERIMENTS)) from None


__all__ = ["EXPERIMENTS", "METRICS", "METRIC_LABELS", "Experiment", "Simulation", "get_experiment"]
