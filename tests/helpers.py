"""Shared helpers: a small copy of the project to build sites in, and synthetic results."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stabreport.publish.build import Runs
from stabreport.report.model import Report
from stabreport.core.results import Result

PROJECT = Path(__file__).resolve().parents[1]
SESSION_EPOCH = "1700000000"  # 2023-11-14: the build date of the session's site
EXAMPLE = PROJECT / "examples" / "near_identity"
EXTENSION = PROJECT / "examples" / "gain_spread"  # a figure kind and a statistic from outside

# Fewer runs than the default report, same settings: enough for every template and figure.
SMALL_SECTIONS = "".join(
    f"  - id: {sid}\n    runs: {runs}\n    norm_runs: 500\n" for sid, runs in
    [("products", 200), ("relu-normal", 20), ("relu-init", 20), ("sigmoid", 20),
     ("scaled-sigmoid", 20), ("isometry", 12), ("dying-orthogonal", 500)])
SMALL_SWEEPS = "".join(
    f"  - id: {sweep}\n    runs: 20\n    grid: {{scale: {{start: 0.03, stop: 3.0, num: 8, log: true}},"
    f" {axis}: {values}}}\n" for sweep, axis, values in
    [("relu-scale-width", "width", "[64, 256]"), ("relu-scale-depth", "depth", "[10, 50]"),
     ("sigmoid-scale-width", "width", "[64, 256]"), ("sigmoid-scale-depth", "depth", "[10, 50]"),
     ("scaled-sigmoid-scale-width", "width", "[64, 256]"),
     ("scaled-sigmoid-scale-depth", "depth", "[10, 50]")]) + "".join(
    f"  - id: {sweep}\n    runs: {runs}\n" for sweep, runs in
    [("resnet-branch-depth", 20), ("residual-depth", 30), ("dying-relu", 300)])

# The training page on smaller networks and fewer steps (a site builds it in seconds, not a
# minute), each setting still showing what the page's claims say of it: a vanishing or a
# sigmoid network stays at chance and an exploding one diverges within 20 steps, He's and the
# rescaled sigmoid learn within 200 steps at depth 10, and batch normalisation's gradient ratio
# is read at the first step.
SMALL_SECTIONS += """  - id: train-relu
    runs: 2
    params: {steps: 20}
    settings: [{id: train-relu-he, params: {depth: 10, steps: 200}}]
  - id: train-sigmoid
    runs: 2
    params: {steps: 20}
    settings: [{id: train-scaled-sigmoid-0.1, params: {depth: 10, steps: 200}}]
  - id: train-clip
    runs: 2
    params: {steps: 20}
  - id: train-batchnorm
    runs: 2
    settings: [{id: train-bn-10-0.8, params: {steps: 20}}, {id: train-bn-20-0.1, params: {steps: 1}},
               {id: train-bn-50-0.1, params: {steps: 1}}]
"""

# A section and a sweep of the example plug-in experiment (it has no theory).
PLUGIN_SECTIONS = """  - id: near-identity
    title: Near-identity products
    experiment: near_identity
    runs: 100
    norm_runs: 500
    settings:
      - {id: near-identity-0.3, label: "kicks of 0.3", params: {scale: 0.3}}
      - {id: near-identity-1.5, label: "kicks of 1.5", params: {scale: 1.5}}
"""
# A page of the example extension: its figure kind and its statistic (a column and a claim).
EXTENSION_SECTIONS = """  - id: relu-gains
    title: ReLU gains
    experiment: mlp
    page: gain-spread
    runs: 20
    norm_runs: 500
    params: {activation: relu, width: 50, depth: 20}
    figures: [trajectory, gain-spread]
    columns: [median_gain]
    settings:
      - {id: gain-spread-0.1, label: "half He's scale", params: {scale: 0.1}}
      - {id: gain-spread-0.2, label: "He's scale", params: {scale: 0.2}}
"""
# At He's scale sqrt(2/50) the typical gain per layer is 1 (its log₁₀ about −0.004 at width 50);
# at half of it, log₁₀ 0.5 = −0.301 (THEORY.md): bounds ten times the width correction.
EXTENSION_EXTRA = """pages:
  - {id: gain-spread, title: Gain per step, summary: every run's gain per layer.}
claims:
  - id: gain-at-he-scale
    section: relu-gains
    source: site
    statement: At He's scale the median gain per layer is one.
    checks:
      - {setting: gain-spread-0.2, statistic: median_gain, at_least: -0.05, at_most: 0.05}
      - {setting: gain-spread-0.1, statistic: median_gain, at_least: -0.35, at_most: -0.25}
"""
PLUGIN_SWEEPS = """  - id: near-identity-scale-k
    title: "Near-identity products: kick size against k"
    experiment: near_identity
    runs: 20
    params: {factors: 20}
    grid: {scale: {start: 0.1, stop: 3.0, num: 6, log: true}, k: [2, 8]}
"""


# The explorer narrowed to a few cells of each experiment (a subset of what each declares).
SMALL_EXPLORER = """explorer:
  runs: 20
  grid:
    mlp: {activation: [relu, sigmoid], scale: [0.05, 0.1, 0.2, 0.4], width: [25, 100], depth: [10, 25]}
    resnet: {activation: [relu], branch_scale: [0.05, 0.1, 0.2], width: [25], depth: [10, 25]}
    products: {scale: [0.353553, 0.5, 0.707107], k: [4], factors: [10, 100]}
"""


# Test sites are English only, but for the session's site and the byte-identical rebuild, which
# build both editions (every other test would pay for a second edition it does not look at).
ENGLISH = "languages: [en]\n"
BOTH = "languages: [en, zh]\n"


def small_config(sections: str = "", sweeps: str = "", extra: str = "", languages: str = ENGLISH) -> str:
    """The small config, with more sections, sweeps or top-level keys."""
    return (f"sections:\n{SMALL_SECTIONS}{sections}sweeps:\n{SMALL_SWEEPS}{sweeps}{SMALL_EXPLORER}"
            f"{languages}{extra}")


SMALL_CONFIG = small_config()
PLUGIN_CONFIG = small_config(PLUGIN_SECTIONS + EXTENSION_SECTIONS, PLUGIN_SWEEPS, EXTENSION_EXTRA,
                             languages=BOTH)


# The test configs' own words in Chinese: a project's catalogue of its config text
# (locales/zh_CN/LC_MESSAGES/report.po), as `pybabel extract -F babel.cfg` of a project gives it.
PROJECT_WORDS = {
    "At He's scale the median gain per layer is one.": "在 He 的尺度下，每层增益的中位数为一。",
    "Gain per step": "每步增益",
    "He's scale": "He 的尺度",
    "Near-identity products": "近单位矩阵的乘积",
    "Near-identity products: kick size against k": "近单位矩阵的乘积：扰动大小与 k",
    "ReLU gains": "ReLU 的增益",
    "every run's gain per layer.": "每次运行的每层增益。",
    "half He's scale": "He 尺度的一半",
    "kicks of 0.3": "扰动 0.3",
    "kicks of 1.5": "扰动 1.5",
}


def _po(words: dict[str, str]) -> str:
    quote = lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n"Language: zh_CN\\n"\n\n'
            + "".join(f"msgid {quote(k)}\nmsgstr {quote(v)}\n\n" for k, v in words.items()))


# A test project's MkDocs settings: its address (with the same override as this repository's),
# over the base configuration the package ships.
MKDOCS = 'site_url: !ENV [STABREPORT_SITE_URL, "https://stabreport.github.io/stabreport/"]\n'


def copy_project(target: Path, config: str | None = SMALL_CONFIG) -> Path:
    """A report project as a user has one: a folder with its stabreport.yml and mkdocs.yml; the
    templates, assets and catalogues come from the installed package."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "mkdocs.yml").write_text(MKDOCS)
    if config is not None:
        (target / "stabreport.yml").write_text(config)
    words = target / "locales" / "zh_CN" / "LC_MESSAGES" / "report.po"
    words.parent.mkdir(parents=True, exist_ok=True)
    words.write_text(_po(PROJECT_WORDS), encoding="utf-8")
    return target


def synthetic_results(report: Report, final: dict[str, float] | None = None,
                      runs: int = 40) -> Runs:
    """Results whose per-run log10 mean|M_ij| is centred where `final` says (default -1)."""
    rng = np.random.default_rng(0)
    results = {}
    for setting in report.settings:
        centre = (final or {}).get(setting.id, -1.0)
        steps = setting.experiment.steps(setting.params)
        values = centre + 0.1 * rng.standard_normal(runs)
        start = -np.log10(setting.experiment.width(setting.params))
        trajectory = np.linspace(start, 0, steps + 1)[None, :] + (values[:, None] - 0) * \
            np.linspace(0, 1, steps + 1)[None, :]
        metrics = {"log10_mean_abs": values, "log10_fro": values + 2, "log10_spectral": values + 1.9,
                   "log10_norm_u": values + 1}
        results[setting.id] = Result(setting.experiment.name, dict(setting.params), report.seed,
                                     runs, 0, metrics, trajectory.astype(np.float32))
    return Runs(results, {s.id: None for s in report.settings})
