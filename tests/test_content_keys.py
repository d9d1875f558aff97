"""Caches are keyed by content: editing the code that computes a number (with no version to bump)
changes the published number on the next build, whatever the cache holds.

Each test copies stabreport's source into a folder that comes first on the import path, builds a
tiny report with it, edits one line of the copy, rebuilds with the same cache and compares the
published data files."""
import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PROJECT, copy_project

TINY_REPORT = """title: A tiny report
authors: [Tester, A.]
seed: 5
verdicts: {vanishes_below: 1.0e-3, explodes_above: 1.0e+3}
pages:
  - {id: index, title: Home}
  - {id: products, title: Products}
  - {id: mlp, title: MLP}
  - {id: theory, title: Theory}
  - {id: phase, title: Phase diagrams}
  - {id: figures, title: Figures}
  - {id: method, title: Method}
  - {id: timings, title: Timings}
  - {id: cite, title: Cite}
sections:
  - id: products
    title: Products
    experiment: products
    runs: 200
    norm_runs: 200
    params: {k: 4, factors: 20}
    settings: [{id: products-0.6, label: scale 0.6, params: {scale: 0.6}}]
  - id: sigmoid
    title: Sigmoid
    experiment: mlp
    runs: 40
    norm_runs: 200
    params: {width: 16, depth: 8, activation: sigmoid}
    settings: [{id: sigmoid-1, label: scale 1, params: {scale: 1.0}}]
"""


@pytest.fixture
def copy(tmp_path):
    """(project root, source folder) of a copy of stabreport that builds the tiny report."""
    source = tmp_path / "src"
    shutil.copytree(PROJECT / "stabreport", source / "stabreport",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # The templates are the package stabreport.templates (the repository's top-level templates/).
    shutil.copytree(PROJECT / "templates", source / "stabreport" / "templates",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (source / "stabreport" / "report" / "default_report.yml").write_text(TINY_REPORT)
    root = copy_project(tmp_path / "project", config=None)
    build(root, source)
    return root, source


def build(root: Path, source: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")])),
           "NO_MKDOCS_2_WARNING": "1"}
    # From the project root: the current folder comes first on the path, and must not hold
    # the original package.
    done = subprocess.run([sys.executable, "-m", "stabreport", "build"], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert str(source) in subprocess.run(
        [sys.executable, "-c", "import stabreport; print(stabreport.__file__)"], cwd=root, env=env,
        capture_output=True, text=True).stdout  # the copy, not the installed package, ran


def edit(source: Path, module: str, old: str, new: str) -> None:
    path = source / "stabreport" / module
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {module}"
    path.write_text(text.replace(old, new))


def column(root: Path, figure: str, name: str, **where: str) -> list[float]:
    rows = csv.DictReader(io.StringIO((root / "docs" / "generated" / "data" / f"{figure}.csv").read_text()))
    return [float(r[name]) for r in rows if all(r[k] == v for k, v in where.items())]


def test_a_change_to_the_simulation_changes_the_published_numbers(copy):
    root, source = copy
    before = column(root, "products-distribution", "log10_value", kind="run")
    edit(source, "experiments/products.py", "    ln_scale = np.log(scale)\n",
         "    ln_scale = np.log(scale) + 0.01\n")
    build(root, source)
    after = column(root, "products-distribution", "log10_value", kind="run")
    assert len(after) == len(before) == 200
    # ln 1.01 per factor over 20 factors: every run moves up by 20 · 0.01 / ln 10 decades.
    shifts = [b - a for a, b in zip(before, after)]
    assert min(shifts) > 0.08 and max(shifts) < 0.095, (min(shifts), max(shifts))


def test_a_change_to_an_activations_derivative_changes_the_published_numbers(copy):
    root, source = copy
    before = column(root, "sigmoid-trajectory", "median", step="8")
    edit(source, "experiments/nn.py", "log_slope=lambda x: _LOG_QUARTER + _log_sech2(0.5 * x),",
         "log_slope=lambda x: np.log(1.25) + _LOG_QUARTER + _log_sech2(0.5 * x),")
    build(root, source)
    after = column(root, "sigmoid-trajectory", "median", step="8")
    # Every layer's slope is 1.25 times larger: 8 layers add about 8 log10(1.25) = 0.78 decades.
    assert 0.6 < after[0] - before[0] < 0.95, (before, after)


def test_a_change_to_a_theory_formula_changes_the_theory_but_not_the_measurements(copy):
    root, source = copy
    theory_before = column(root, "products-trajectory", "theory")
    measured_before = column(root, "products-trajectory", "median")
    edit(source, "experiments/products.py", "    step = half_log_chi2(k).shifted(math.log(scale))\n",
         "    step = half_log_chi2(k).shifted(math.log(scale) + 0.05)\n")
    build(root, source)
    theory_after = column(root, "products-trajectory", "theory")
    assert theory_after[-1] - theory_before[-1] == pytest.approx(20 * 0.05 / 2.302585, abs=2e-3)
    assert column(root, "products-trajectory", "median") == measured_before
