"""The explorer's data: every cell exactly what `stabreport run --path tangent --per-step` prints
for it, its readout in the site's words, its grids narrowed only to what the declarations offer,
and its size bounded."""
import json
import shlex

import numpy as np
import pytest
from helpers import PROJECT, SMALL_CONFIG, copy_project

from stabreport.cli import main
from stabreport.report.config import load_report
from stabreport.errors import BuildError


def explorer_data(root):
    text = (root / "docs" / "generated" / "data" / "explorer.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("{"):text.rindex(";")])


def _cells(data):
    for experiment in data["experiments"]:
        for index, cell in experiment["cells"].items():
            yield experiment, [int(i) for i in index.split(",")], cell


def test_cells_are_exactly_what_the_printed_command_reports(site, capsys):
    data = explorer_data(site)
    assert {e["name"] for e in data["experiments"]} >= {"mlp", "products", "resnet"}
    chosen = {}
    for experiment, index, cell in _cells(data):  # the last cell of each experiment, and a sigmoid
        chosen[experiment["name"]] = cell
        if cell["params"].get("activation") == "sigmoid":
            chosen["sigmoid"] = cell
    for name, cell in chosen.items():
        argv = shlex.split(cell["command"])
        assert argv[0] == "stabreport" and "--per-step" in argv and "tangent" in argv
        assert main(argv[1:]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["runs"] == cell["runs"] and printed["params"] == {**printed["params"], **cell["params"]}
        for key in ("median", "q05", "q95"):
            assert printed["per_step"][key] == cell[key], (name, key)  # exactly, not approximately
        final = np.quantile(printed["log10_norm_u"], data["quantiles"])
        assert final.tolist() == cell["final"], name
        assert printed["dead_fraction"] == cell["dead_fraction"]


def test_each_readout_is_in_the_sites_words_from_its_own_numbers(site):
    from stabreport.render.formatting import pow10

    data = explorer_data(site)
    report = load_report(site / "stabreport.yml")
    for experiment, index, cell in _cells(data):
        median = cell["median"][-1]
        readout = cell["readout"]
        assert f"<strong>{report.verdicts.of(median)}</strong>" in readout
        assert pow10(median) in readout and f"of {cell['runs']} runs" in readout
        steps = len(cell["median"]) - 1
        assert readout.startswith(f"After {steps} {experiment['step_label']}")
        theory = cell["theory"]
        if theory and theory["critical_scale"]:
            assert f"{theory['critical_scale']:.3f}" in readout
            scale = cell["params"][experiment["controls"][experiment["scale_control"]]["key"]]
            side = "above" if scale > theory["critical_scale"] * 1.005 else \
                "below" if scale < theory["critical_scale"] * 0.995 else "at it"
            assert side in readout, readout


def _config(tmp_path, text):
    path = tmp_path / "stabreport.yml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("grid,named", [
    ("mlp: {width: [33]}", "width got [33]"),
    ("mlp: {colour: [red]}", "'colour' is not on its grid"),
    ("cnn: {width: [25]}", "no experiment of that name offers the explorer"),
    ("products: {k: []}", "a non-empty subset"),
])
def test_the_config_narrows_the_grid_only_to_what_the_declaration_offers(tmp_path, capsys, grid, named):
    text = SMALL_CONFIG.split("explorer:")[0] + f"explorer:\n  grid:\n    {grid}\n"
    root = copy_project(tmp_path / "project", text)
    assert main(["build", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert named in err and "allowed" in err and len(err.strip().splitlines()) == 1
    assert not (root / "docs" / "generated").exists()


def test_the_explorer_sweeps_follow_the_declarations_and_the_data_is_bounded(tmp_path, monkeypatch):
    from stabreport.render import explorer
    from stabreport.publish.build import make_environment, run_experiments
    from stabreport.render.cite import site_info
    from stabreport.experiments import experiments

    text = SMALL_CONFIG.split("explorer:")[0] + (
        "explorer:\n  runs: 10\n  grid:\n"
        "    mlp: {activation: [tanh], scale: [0.1, 0.2], width: [25], depth: [10]}\n"
        "    resnet: {activation: [relu], branch_scale: [0.1], width: [25], depth: [10]}\n"
        "    products: {scale: [0.5], k: [2], factors: [10]}\n"
        "    rnn: {activation: [tanh], tied: [true], input_scale: [1.0], scale: [0.1], width: [100],"
        " steps: [10]}\n")
    report = load_report(_config(tmp_path, text))
    sweeps = explorer.explorer_sweeps(report)
    declared = [e for e in experiments() if e.explore is not None]
    assert [s.experiment.name for s in sweeps] == [e.name for e in declared]
    assert sorted(s.cells for s in sweeps) == [1, 1, 1, 2] and all(s.runs == 10 for s in sweeps)
    runs = run_experiments(report, None, tasks=[], sweeps=sweeps, stream=open("/dev/null", "w"))
    env = make_environment([PROJECT / "templates"], report)
    site = site_info(tmp_path, report, "2026-11-29")
    view, script = explorer.explorer_page(env, report, runs, site, None)
    assert view["cells"] == 5 and script.startswith(b"// Written by `stabreport build`")
    monkeypatch.setattr(explorer, "MAX_COMPRESSED", 1000)
    with pytest.raises(BuildError, match="compressed; allowed: at most"):
        explorer.explorer_page(env, report, runs, site, None)
    # Without a page that declares the explorer there is no explorer to compute.
    from dataclasses import replace

    plain = replace(report, pages=tuple(replace(p, explorer=False) for p in report.pages))
    assert explorer.explorer_sweeps(plain) == ()


def test_a_declared_grid_without_its_width_or_depth_is_refused(monkeypatch):
    from dataclasses import replace

    from stabreport.render import explorer
    from stabreport.errors import StabreportError
    from stabreport.experiments import Explore, get_experiment

    broken = replace(get_experiment("mlp"),
                     explore=Explore(grid={"scale": (0.1,), "width": (25,)}, scale="scale"))
    monkeypatch.setattr(explorer, "experiments", lambda: [broken])
    with pytest.raises(StabreportError, match="the grid has no 'depth'; allowed"):
        explorer.explorer_sweeps(load_report(None))


@pytest.mark.parametrize("value,label", [
    (0.0353553, "0.0354"), (1.13137, "1.13"), (0.282842712475, "0.283"), (0.353553, "0.354"),
    (0.025, "0.025"), (0.1, "0.1"), (4.0, "4"), (100, "100"), (12345, "12345"),
    (0.999999, "1"), (2.5e-5, "2.50 × 10⁻⁵"), (9999.9, "1.00 × 10⁴"), (-0.5, "−0.5"),
    ("scaled_sigmoid", "scaled_sigmoid")])
def test_a_grid_value_reads_as_a_person_writes_it(value, label):
    from stabreport.render.explorer import grid_label

    assert grid_label(value) == label.replace(" × ", "\u00a0×\u00a0")  # one word, as pow10 writes it


def test_the_explorer_shows_grid_values_readably_and_keeps_them_exact(site):
    """Each control carries its values as configured (what the page looks cells up by and the
    command prints) and their labels; the readout and the page's list of the grid use labels."""
    from stabreport.core.params import set_options
    from stabreport.render.explorer import grid_label

    data = explorer_data(site)
    for experiment in data["experiments"]:
        for control in experiment["controls"]:
            assert control["labels"] == [grid_label(v) for v in control["values"]], control["key"]
    for experiment, index, cell in _cells(data):
        for control, i in zip(experiment["controls"], index):
            value = control["values"][i]
            # exact, as configured (a yes-or-no value as the command line reads it back)
            assert set_options({control["key"]: value}) + " " in cell["command"] + " "
        if experiment["name"] == "products":
            assert "0.353553" not in cell["readout"], cell["readout"]  # the scale as a label
    page = (site / "docs" / "generated" / "explore.md").read_text(encoding="utf-8")
    grid = page[page.index("{ #what-is-on-the-grid }"):]
    assert "0.353553" not in grid and "0.354, 0.5, 0.707" in grid, grid


def test_the_theorys_law_is_sampled_as_a_smooth_cdf_through_its_quantiles(site):
    """Each cell with a theory carries its law's CDF at many evenly spaced points (not three
    quantiles): it never decreases, spans the law's tails, and passes through the theory's own
    5 %, median and 95 %. An experiment without a theory has none."""
    from stabreport.experiments import get_experiment
    from stabreport.render.explorer import LAW_POINTS, explorer_theory

    data = explorer_data(site)
    checked = without = 0
    for experiment, index, cell in _cells(data):
        theory = cell["theory"]
        if theory is None:  # a setting its theory does not predict (a recurrent net's tied W)
            declared = get_experiment(experiment["name"])
            params = declared.canonical_params({**declared.explore.params, **{
                c["key"]: c["values"][i] for c, i in zip(experiment["controls"], index)}})
            assert not declared.has_theory(params), (experiment["name"], params)
            without += 1
            continue
        law = theory["law"]
        shares = np.array(law["cdf"])
        assert len(shares) == LAW_POINTS and np.all(np.diff(shares) >= 0)
        assert shares[0] <= 0.01 and shares[-1] >= 0.99
        values = np.linspace(law["from"], law["to"], len(shares))
        spread = theory["q95"] - theory["q05"]
        for p, quantile in ((0.05, theory["q05"]), (0.5, theory["median"]), (0.95, theory["q95"])):
            assert abs(np.interp(p, shares, values) - quantile) < 0.02 * spread, (experiment["name"], p)
        checked += 1
    assert checked + without == sum(len(e["cells"]) for e in data["experiments"]) and checked > without
    # About 400 bytes a cell, in JSON.
    assert len(json.dumps(law)) < 1000
    assert explorer_theory(get_experiment("near_identity"), {"k": 4, "factors": 10, "scale": 0.5}, None) is None
