"""Experiments are plug-ins: the example package under examples/ is installed with pip, found
through its entry point, listed, run, and published like a built-in experiment, although it has
no theory. Unknown or broken experiments are clean errors, never a fallback."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from stabreport.errors import ConfigError, StabreportError
from stabreport.paths import GENERATED

BIN = Path(sys.executable).parent


def _stabreport(*args, cwd=None):
    return subprocess.run([str(BIN / "stabreport"), *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ})


def test_list_shows_the_plugin_with_the_package_it_comes_from(plugin):
    done = _stabreport("list")
    assert done.returncode == 0, done.stderr
    assert "near_identity (from stabreport-near-identity 0.1.0)" in done.stdout
    assert "products (from stabreport " in done.stdout
    block = done.stdout.split("near_identity (from")[1].split("\n\n")[0]
    assert "theory: none (published as measured only)" in block
    assert "scale (float, default 0.5)" in block


def test_the_plugin_runs_on_both_paths_with_the_same_law(plugin):
    full = _stabreport("run", "near_identity", "--set", "k=6", "--runs", "2000", "--seed", "4", "--json")
    fast = _stabreport("run", "near_identity", "--set", "k=6", "--runs", "2000", "--seed", "4",
                       "--path", "tangent", "--json")
    assert full.returncode == 0 and fast.returncode == 0, full.stderr + fast.stderr
    full, fast = json.loads(full.stdout), json.loads(fast.stdout)
    assert full["theory"] is None and full["params"] == {"k": 6, "factors": 50, "scale": 0.5}
    assert (full["path"], fast["path"]) == ("full", "tangent")
    # The fast path samples exactly the law of the full product's column length.
    assert stats.ks_2samp(full["log10_norm_u"], fast["log10_norm_u"]).pvalue > 1e-3
    assert np.all(np.array(full["log10_spectral"]) <= np.array(full["log10_fro"]) + 1e-12)


def test_an_unknown_experiment_lists_the_known_ones_including_plugins(plugin):
    from stabreport.experiments import get_experiment

    with pytest.raises(ConfigError) as caught:
        get_experiment("near_identiy")
    message = str(caught.value)
    assert "did you mean 'near_identity'" in message
    from stabreport.experiments import experiments

    names = sorted(e.name for e in experiments())
    assert "near_identity" in names and f"allowed: {', '.join(names)}" in message


def test_a_broken_plugin_is_named_not_a_traceback(tmp_path, monkeypatch):
    """A package whose entry point names a module that fails to import."""
    from stabreport import experiments

    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[stabreport.experiments]\nbroken = broken_plugin:EXP\n")
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('no numpy here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    experiments.reset()
    try:
        assert "broken" in experiments.names()
        with pytest.raises(StabreportError) as caught:
            experiments.get_experiment("broken")
        assert "broken-plugin 1.0" in str(caught.value) and "no numpy here" in str(caught.value)
        # The others still work.
        assert experiments.get_experiment("products").name == "products"
    finally:
        monkeypatch.undo()
        experiments.reset()


def test_the_plugin_gets_a_page_figures_downloads_and_no_theory_on_the_site(site):
    generated = site / GENERATED
    page = (generated / "near_identity.md").read_text()
    html = (site / "site" / "near_identity.html").read_text()
    assert page.startswith("# Products of near-identity matrices")
    assert '<h2 id="near-identity">Near-identity products' in html
    assert "Measured only" in page and "| Theory |" not in page
    assert "Theory against measurement" not in page
    for kind in ("trajectory", "distribution"):
        assert f"](figures/near-identity-{kind}.svg)" in page
        assert (site / "site" / "data" / f"near-identity-{kind}.csv").is_file()
    assert not (generated / "figures" / "near-identity-law.svg").exists()  # no theory, no law
    assert "stabreport figure near-identity-trajectory" in page
    # In the navigation, on the home page's list of pages, in the figure index and on the
    # method page, like a built-in experiment; its settings get no theory claim.
    nav = (site / "site" / "index.html").read_text()
    assert 'href="near_identity.html"' in nav
    assert "[Products of near-identity matrices](near_identity.md)" in (generated / "index.md").read_text()
    index = (generated / "figures.md").read_text()
    assert "## Products of near-identity matrices" in index and "near-identity-distribution" in index
    assert "phase-near-identity-scale-k" in index
    method = (generated / "method.md").read_text()
    assert "### `near_identity`" in method and "from stabreport-near-identity 0.1.0" in method
    theory = (generated / "theory.md").read_text()
    assert "theory-near-identity" not in theory and "near-identity-0.3" not in theory.split("## The lecture")[0]
    assert "near-identity-0.3" in (generated / "timings.md").read_text()


def test_the_plugin_sweep_is_a_phase_diagram_without_a_theory_curve(site):
    phase = (site / "site" / "phase.html").read_text()
    section = phase.split('id="near-identity-scale-k"')[1]
    assert "<td>no theory</td>" in section  # no theory: no critical scale to compare with
    data = json.loads((site / "site" / "data" / "phase-near-identity-scale-k.json").read_text())
    assert "theory_log10_gain_per_step" not in data["columns"]
    assert sorted(set(data["columns"]["k"])) == [2, 8]
