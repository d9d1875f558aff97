import json
import os

import numpy as np
import pytest

from stabreport.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_is_one_object_with_the_documented_schema(capsys):
    code, out, err = run_cli(capsys, "run", "mlp", "--set", "width=20", "--set", "depth=5",
                             "--set", "activation=tanh", "--runs", "7", "--seed", "3", "--json")
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert payload["experiment"] == "mlp"
    assert payload["params"] == {"width": 20, "depth": 5, "activation": "tanh", "init": "normal",
                                 "scale": 0.1}
    assert (payload["seed"], payload["runs"]) == (3, 7)
    for key in ("log10_mean_abs", "log10_fro", "log10_spectral"):
        assert len(payload[key]) == 7 and all(np.isfinite(payload[key]))
    x = np.array(payload["log10_mean_abs"])
    summary = payload["summary"]
    assert summary["median"] == pytest.approx(np.median(x))
    assert summary["q05"] <= summary["median"] <= summary["q95"]
    assert summary["log10_of_mean"] == pytest.approx(np.log10(np.mean(10.0 ** x)))
    # mean |J_ij| ≤ ‖J‖_F / width and ‖J‖_2 ≤ ‖J‖_F hold for every run
    assert np.all(np.array(payload["log10_spectral"]) <= np.array(payload["log10_fro"]) + 1e-12)


def test_mlp_defaults_are_the_lectures(capsys):
    code, out, _ = run_cli(capsys, "run", "mlp", "--set", "depth=2", "--json")
    payload = json.loads(out)
    assert payload["runs"] == 10
    assert payload["params"]["width"] == 100 and payload["params"]["scale"] == 0.1


def test_same_seed_gives_the_same_json(capsys):
    first = run_cli(capsys, "run", "products", "--runs", "50", "--json")[1]
    second = run_cli(capsys, "run", "products", "--runs", "50", "--json")[1]
    assert first == second


def test_readable_table_names_every_statistic(capsys):
    code, out, _ = run_cli(capsys, "run", "products", "--runs", "30")
    assert code == 0
    for label in ("median", "log10 mean |M_ij|", "log10 ‖M‖_F", "log10 ‖M‖_2", "lecture's statistic"):
        assert label in out


def test_list_shows_every_parameter_with_type_default_and_allowed_values(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for fragment in ("products", "mlp", "k (int, default 4)", "scale (float, default 0.5)",
                     "scaled_sigmoid", "xavier_uniform", "orthogonal", "allowed: an integer ≥ 1"):
        assert fragment in out


BAD_INPUTS = [
    (["run", "foo"], "'foo'"),
    (["run", "mlp", "--set", "bogus=1"], "'bogus'"),
    (["run", "mlp", "--set", "width=abc"], "'width'"),
    (["run", "mlp", "--set", "width=2.5"], "'width'"),
    (["run", "products", "--set", "k=0"], "'k'"),
    (["run", "mlp", "--set", "width=0"], "'width'"),
    (["run", "mlp", "--set", "depth=-3"], "'depth'"),
    (["run", "products", "--set", "factors=0"], "'factors'"),
    (["run", "mlp", "--runs", "0"], "runs"),
    (["run", "mlp", "--set", "scale=0"], "'scale'"),
    (["run", "mlp", "--set", "scale=-0.1"], "'scale'"),
    (["run", "mlp", "--set", "scale=inf"], "'scale'"),
    (["run", "mlp", "--set", "scale=nan"], "'scale'"),
    (["run", "mlp", "--set", "activation=gelu"], "'activation'"),
    (["run", "mlp", "--set", "init=kaiming"], "'init'"),
    (["run", "mlp", "--set", "width"], "'width'"),
    (["run", "mlp", "--set", "=3"], "'=3'"),
    (["run", "mlp", "--set", "init=he_normal", "--set", "scale=0.2"], "'scale'"),
    (["run", "mlp", "--runs", "many"], "'many'"),
    (["run", "mlp", "--path", "fast"], "'fast'"),
    (["run", "mlp", "--set", "init=xavier_uniform", "--path", "tangent"], "'tangent'"),
    (["figure", "no-such-figure"], "'no-such-figure'"),
    (["sweep", "mlp", "--grid", "activation=relu,tanh"], "'activation=relu,tanh'"),
    (["build", "--executor", "spark"], "'spark'"),
    (["frobnicate"], "'frobnicate'"),
]


@pytest.mark.parametrize("argv,named", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_nothing_on_stdout(capsys, argv, named):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert named in lines[0] and "allowed" in lines[0], lines[0]


def test_json_carries_the_theory_object(capsys):
    code, out, _ = run_cli(capsys, "run", "products", "--set", "scale=0.7", "--runs", "20", "--json")
    theory = json.loads(out)["theory"]
    assert theory["exact"] is True
    assert theory["critical_scale"] == pytest.approx(0.5724, abs=1e-4)
    assert theory["log10_gain_per_step"] > 0  # 0.7 is above the critical scale
    assert theory["median_log10_mean_abs"] == pytest.approx(8.5, abs=0.3)
    code, out, _ = run_cli(capsys, "run", "mlp", "--set", "activation=sigmoid", "--set", "depth=3",
                           "--runs", "2", "--json")
    theory = json.loads(out)["theory"]
    assert theory["exact"] is False and theory["log10_gain_per_step"] < 0


def test_theory_is_memoised_in_the_user_cache_and_read_back_without_scipy(tmp_path):
    # The second run reads the theory back: the same bytes, and scipy is never imported.
    import subprocess
    import sys

    from stabreport.core.cache import code_digest, module_closure

    env = {**os.environ, "STABREPORT_USER_CACHE": str(tmp_path / "cache")}
    script = ("import sys; from stabreport.cli import main; main(sys.argv[1:]); "
              "print('scipy' in sys.modules, file=sys.stderr)")
    argv = [sys.executable, "-c", script, "run", "products", "--runs", "10", "--json"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    second = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    assert first.stdout == second.stdout and json.loads(second.stdout)["theory"]["exact"]
    assert first.stderr.split()[-1] == "True" and second.stderr.split()[-1] == "False"
    assert any((tmp_path / "cache").rglob("*"))
    # The key moves with any edit to the package's source.
    package = tmp_path / "pkg" / "probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "law.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path / "pkg"))
    try:
        before = code_digest("probe.law")
        (package / "law.py").write_text("X = 2\n")
        code_digest.cache_clear(), module_closure.cache_clear()  # a new process's view
        assert code_digest("probe.law") != before
    finally:
        sys.path.remove(str(tmp_path / "pkg"))
    unwritable = {**os.environ, "STABREPORT_USER_CACHE": ""}  # no memo: still answers
    assert subprocess.run(argv, env=unwritable, capture_output=True, text=True,
                          check=True).stdout == first.stdout


def test_tangent_path_json_with_per_step_quantiles(capsys):
    code, out, err = run_cli(capsys, "run", "mlp", "--set", "width=20", "--set", "depth=6",
                             "--path", "tangent", "--runs", "300", "--json", "--per-step")
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert payload["path"] == "tangent" and "log10_mean_abs" not in payload
    x = np.array(payload["log10_norm_u"])
    assert len(x) == 300 and payload["summary"]["median"] == pytest.approx(np.median(x))
    steps = payload["per_step"]
    assert len(steps["median"]) == 7 and steps["median"][0] == 0.0  # ‖I e₁‖ = 1
    assert steps["median"][-1] == pytest.approx(np.median(x))
    assert all(a <= b <= c for a, b, c in zip(steps["q05"], steps["median"], steps["q95"]))
    assert payload["theory"]["exact"] is True
