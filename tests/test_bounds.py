"""Bounded resources and clean errors for hostile input: work and memory are estimated before
anything runs and refused in one line when they would not fit; hostile YAML, links and special
files are refused by name; a run at any accepted scale stays finite."""
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import copy_project

from stabreport.report.config import load_report
from stabreport.core.engine import available_memory, estimate, simulate_setting
from stabreport.errors import ConfigError
from stabreport.experiments import get_experiment
from stabreport.theory.meanfield import gaussian_rule

BIN = Path(sys.executable).parent
MLP, PRODUCTS = get_experiment("mlp"), get_experiment("products")


def _cli(*args, cwd=None, timeout=120):
    return subprocess.run([str(BIN / "stabreport"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ})


def _one_line_error(done, code: int, *fragments: str) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stabreport: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args,fragments", [
    (["run", "products", "--runs", "1000000000000"], ["1,000,000,000,000 runs", "GiB", "allowed: at most"]),
    (["run", "mlp", "--set", "width=100000", "--runs", "1000"], ["width", "GiB of memory"]),
    (["run", "mlp", "--runs", "1e12", "--json"], ["1,000,000,000,000 runs"]),
    (["sweep", "mlp", "--grid", "scale=0.1:1:1000:log", "--grid", "width=1:1000:1000"],
     ["1,000,000 cells", "at most 100,000"]),
])
def test_work_that_would_not_fit_is_refused_before_it_starts(args, fragments):
    done = _cli(*args, timeout=20)  # refused at once, not after minutes of listing or computing
    _one_line_error(done, 2, *fragments)


def test_the_memory_estimate_bounds_what_a_run_uses():
    """The estimate is an upper bound of the measured peak, within a small factor."""
    script = ("from stabreport.core.engine import simulate_setting\n"
              "from stabreport.experiments import get_experiment\n"
              "def peak():\n"
              "    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) * 1024\n"
              "mlp = get_experiment('mlp')\n"
              "params = mlp.canonical_params({'width': 300, 'depth': 5})\n"
              "simulate_setting(mlp, params, 1, 1, threads=2)  # imports and BLAS buffers\n"
              "floor = peak()\n"
              "simulate_setting(mlp, params, 200, 1, threads=2)\n"
              "print(peak() - floor)\n")
    used = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True).stdout)
    predicted = estimate(MLP, MLP.canonical_params({"width": 300, "depth": 5}), 200, "full", 2).bytes
    assert 20e6 < used <= predicted <= 4 * used, (used, predicted)
    assert available_memory() is not None and available_memory() > 0


def test_a_long_run_shows_progress_on_stderr_and_one_json_object_on_stdout():
    # predicted at more than 3 s, so it shows a bar
    done = _cli("run", "mlp", "--set", "width=200", "--set", "depth=40", "--runs", "60", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["log10_mean_abs"]) == 60  # stdout: exactly the JSON
    assert "60/60" in done.stderr and "run/s" in done.stderr  # tqdm's bar, with its rate and ETA


@pytest.mark.parametrize("scale", [1e153, 1e100, 3.0])
def test_relu_networks_stay_finite_and_exact_at_any_accepted_scale(scale):
    # For ReLU every Gaussian setting is the same law shifted by depth · log10 s.
    params = MLP.canonical_params({"width": 20, "depth": 15, "scale": min(scale, 1e100)})
    reference = MLP.canonical_params({"width": 20, "depth": 15, "scale": 1.0})
    shifted = simulate_setting(MLP, params, 300, seed=1)
    unit = simulate_setting(MLP, reference, 300, seed=1)
    shift = 15 * math.log10(params["scale"])
    for metric in ("log10_mean_abs", "log10_norm_u", "log10_spectral"):
        assert np.all(np.isfinite(shifted.metrics[metric]))
    # Not the same draws (the seed depends on the parameters): compare the distributions.
    se = 1.2533 * np.std(unit.metrics["log10_norm_u"]) / math.sqrt(300)
    gap = np.median(shifted.metrics["log10_norm_u"]) - shift - np.median(unit.metrics["log10_norm_u"])
    assert abs(gap) < 4 * math.sqrt(2) * se, (gap, se)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "scaled_sigmoid"])
def test_saturating_activations_at_huge_scales_are_tiny_not_dead(activation):
    params = MLP.canonical_params({"width": 12, "depth": 6, "activation": activation, "scale": 1e100})
    result = simulate_setting(MLP, params, 50, seed=2)
    values = result.metrics["log10_norm_u"]
    # Each layer multiplies by slopes of order e^{−|z|} with |z| ~ 1e100: far below 1e−308, yet
    # carried in the log domain and finite.
    assert np.all(np.isfinite(values)) and np.all(values < -1e99)
    prediction = MLP.theory.predict(params)
    assert math.isfinite(prediction.median_log10_norm_u)


def test_scales_beyond_the_declared_bound_are_refused_with_the_reason():
    done = _cli("run", "mlp", "--set", "scale=1e308")
    line = _one_line_error(done, 2, "'scale'", "1e+308", "≤ 1e+100")
    help_text = _cli("list").stdout
    assert "leaves float64's range" in help_text and line


def test_the_quadrature_stays_small_for_any_variance():
    for q in (1e-6, 1.0, 230.0, 1e12, 1e200):
        x, w = gaussian_rule(q)
        assert x.size <= 2_000 and abs(w.sum() - 1) < 1e-6, (q, x.size, w.sum())


# --- hostile YAML ---------------------------------------------------------------------------------

LAUGHS = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
          + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
                    for i in range(8))
          + "title: *i\n")


@pytest.mark.parametrize("text,fragments", [
    (LAUGHS, ["stabreport.yml:2", "alias *a", "no &anchors or *aliases"]),
    ("seed: 7\nseed: 8\n", ["stabreport.yml:2", "duplicate key 'seed'", "first at line 1"]),
    ("title: " + "x" * 600 + "\n", ["stabreport.yml:1", "at most 500 characters"]),
])
def test_hostile_yaml_is_refused_in_one_line_without_expanding(text, fragments):
    with pytest.raises(ConfigError) as caught:
        load_report(text=text)
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and len(message) < 400, message
    for fragment in fragments:
        assert fragment in message, message


def test_whole_numbers_written_with_an_exponent_are_the_numbers_they_are():
    report = load_report(text="seed: 1e3\nsections:\n  - id: sigmoid\n    runs: 2.5e2\n"
                              "    settings: [{id: sigmoid-0.1, params: {width: 1e2}}]\n")
    assert report.seed == 1000 and report.setting("sigmoid-0.1").runs == 250
    assert report.setting("sigmoid-0.1").params["width"] == 100
    with pytest.raises(ConfigError, match="runs: got 2.5"):
        load_report(text="sections:\n  - id: sigmoid\n    runs: 2.5\n")


def test_a_huge_config_file_is_refused_before_it_is_read(tmp_path):
    project = copy_project(tmp_path / "project", config=None)
    (project / "stabreport.yml").write_text("# " + "x" * (2 << 20) + "\n")
    _one_line_error(_cli("build", cwd=project), 2, "stabreport.yml", "bytes", "at most 1,048,576")


# --- links, special files, missing folders --------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    return copy_project(tmp_path / "project", config=None)


def test_a_config_link_out_of_the_project_is_refused_and_never_echoed(project, tmp_path):
    secret = tmp_path / "secret.yml"
    secret.write_text("password: hunter2\n")
    (project / "stabreport.yml").symlink_to(secret)
    line = _one_line_error(_cli("build", cwd=project), 2, "symbolic link", "outside the project")
    assert "hunter2" not in line and "password" not in line


def test_a_dangling_config_link_is_reported(project):
    (project / "stabreport.yml").symlink_to(project / "gone.yml")
    _one_line_error(_cli("build", cwd=project), 2, "symbolic link", "does not exist")


def test_a_config_link_inside_the_project_is_followed(project):
    (project / "configs").mkdir()
    (project / "configs" / "real.yml").write_text("seed: -3\n")
    (project / "stabreport.yml").symlink_to(project / "configs" / "real.yml")
    _one_line_error(_cli("build", cwd=project), 2, "seed", "-3")  # read, then validated


@pytest.mark.parametrize("target,kind", [("folder", "a directory"), ("fifo", "a FIFO"),
                                         ("/dev/null", "a character device")])
def test_config_that_is_not_a_regular_file_says_what_it_is(project, target, kind):
    if target == "folder":
        (project / target).mkdir()
    elif target == "fifo":
        os.mkfifo(project / target)
    _one_line_error(_cli("build", "--config", target, cwd=project, timeout=20), 2, repr(target), kind)


@pytest.mark.parametrize("command,code,fragment", [
    (["build", "--root", "/no/such/folder"], 1, "no such directory"),
    (["site", "--root", "/no/such/folder"], 1, "no such directory"),
    (["figure", "products-law", "--root", "/no/such/folder"], 1, "no such directory"),
])
def test_a_missing_root_is_one_line(command, code, fragment):
    _one_line_error(_cli(*command), code, "/no/such/folder", fragment)


def test_a_folder_that_is_not_a_project_gets_no_lock_file(tmp_path):
    for command in ("site", "build", "clean"):
        _one_line_error(_cli(command, "--root", str(tmp_path)), 2, "no ", "project's root")
    assert list(tmp_path.iterdir()) == []


def test_a_config_sweep_too_large_to_build_is_refused_at_once():
    import time

    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_report(text="sweeps:\n  - id: huge\n    title: Huge\n    experiment: mlp\n"
                         "    grid: {scale: {start: 0.01, stop: 3, num: 4096, log: true}, "
                         "depth: {start: 1, stop: 1000, num: 1000}}\n")
    assert time.monotonic() - started < 5
    (line,) = str(caught.value).splitlines()
    assert re.match(r"stabreport.yml:2: sweeps\[\d+\]: ", line) and "4,096,000 cells" in line, line


def _extremes(param):
    """The values at and just inside a float parameter's declared bounds."""
    values = []
    if param.minimum is not None:
        values.append(param.minimum * 1.0001 if param.minimum > 0 else 1e-300)
    if param.maximum is not None:
        values.append(param.maximum)
    return values


@pytest.mark.parametrize("name", ["products", "mlp", "resnet"])
def test_the_theory_holds_at_every_value_validation_lets_through(name):
    """Every value a parameter's declared range allows, at its extremes, with every choice of
    the other parameters, gives the theory a prediction or none, never a crash."""
    import itertools
    import math

    from stabreport.experiments import get_experiment

    experiment = get_experiment(name)
    if experiment.theory is None:
        pytest.skip(f"{name} has no theory")
    choices = {p.name: list(p.choices) for p in experiment.params if p.choices}
    checked = 0
    for param in (p for p in experiment.params if p.kind is float):
        for value, combo in itertools.product(_extremes(param), itertools.product(*choices.values())):
            given = {param.name: value, **dict(zip(choices, combo))}
            try:
                params = experiment.canonical_params(given, "")
            except ConfigError:
                continue  # a combination the experiment refuses (e.g. a scale for He's init)
            prediction = experiment.theory.predict(params)
            if prediction is not None:
                assert not math.isnan(prediction.median_log10_norm_u), (given, prediction)
            checked += 1
    assert checked > 0
