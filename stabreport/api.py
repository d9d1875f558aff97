"""stabreport from Python, for notebooks and scripts: run one setting of an experiment exactly as
the site's build runs it, and get its numbers as the site's templates receive them.

    from stabreport.api import Verdicts, run, sci

    s = run("mlp", {"activation": "relu", "scale": 0.1, "width": 100, "depth": 50},
            runs=200, seed=20261129, lecture_averages=10)
    print(sci(s.stat_median), Verdicts(-3.0, 3.0).of(s.stat_median))

`run` goes through the build's own steps for one setting (the engine's seeded streams, the
theory's prediction, the page's statistics), so the same experiment, parameters, runs and seed
give the numbers the site prints; `sci`, `signed` and `Verdicts.of` are the functions behind the
templates' `| sci`, `| signed` and `| verdict`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .core.cache import Store
from .report.claims import measure_setting
from .report.model import Setting, Verdicts
from .core.engine import run_setting, validate_run_options
from .errors import ConfigError
from .experiments import get_experiment, names
from .render.formatting import pow10 as sci
from .render.formatting import signed
from .render.views import SettingView, setting_view

__all__ = ["SettingView", "Verdicts", "experiment_names", "run", "sci", "signed"]


def experiment_names() -> list[str]:
    """The experiments `run` knows: stabreport's own and every installed plug-in's."""
    return names()


def run(experiment: str, params: Mapping[str, Any] | None = None, *, runs: int | None = None,
        seed: int = 0, lecture_averages: int = 1, spectrum: bool = False,
        name: str | None = None, label: str | None = None,
        cache: str | Path | None = None, jobs: int | None = None) -> SettingView:
    """Run `runs` seeded draws of `experiment` with `params` on the full path and return the
    setting as the site's pages see it (`SettingView`): `median`, `q05`, `q95` of the per-run
    log10 mean|M_ij|; `stat_median`, `stat_q05`, `stat_q95` of the lecture's statistic (the mean
    over `lecture_averages` consecutive runs, repeated); `dead` runs; `theory` (None for an
    experiment without one). Every value is a log10; None where every run died (`alive` False).

    Parameters left out take the experiment's defaults; an unknown name or value is an error that
    lists what is allowed. `spectrum` also tracks the singular values of M, from the same draws
    (as the build does for sections that show them). `name` and `label` only name the result.
    `cache`: a result store folder (such as the project's .stabreport-cache) to read from and
    write to; None computes afresh. Column lengths come from the full path here (the build
    takes them from the fast path where an experiment has one); no number printed on the
    setting's row of a page depends on them."""
    declaration = get_experiment(experiment)
    canonical = declaration.canonical_params(dict(params or {}), f"{declaration.name}: ")
    runs = declaration.default_runs if runs is None else runs
    validate_run_options(runs, seed)
    if isinstance(lecture_averages, bool) or not isinstance(lecture_averages, int) or lecture_averages < 1:
        raise ConfigError(f"lecture_averages got {lecture_averages!r}; allowed: an integer ≥ 1")
    store = Store(Path(cache)) if cache is not None else None
    result = run_setting(declaration, canonical, runs, seed, store, name, jobs, spectrum=spectrum)
    theory = declaration.predict(canonical)
    setting = Setting(id=name or declaration.name, label=label or declaration.words(canonical),
                      section="", experiment=declaration, params=canonical, runs=runs,
                      norm_runs=runs, lecture_log10=None, lecture_averages=lecture_averages)
    return setting_view(setting, "", result, seed, theory, measure_setting(result, None), None,
                        has_norms=False)
