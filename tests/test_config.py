import pytest

from stabreport.report.config import load_report
from stabreport.errors import ConfigError


def test_default_report_holds_every_lecture_setting():
    report = load_report()
    ids = {s.id for s in report.settings}
    assert {"products-scale-0.5", "products-scale-0.7", "relu-xavier-uniform", "relu-he-normal"} <= ids
    scales = lambda section: sorted(s.params["scale"] for s in report.settings if s.section == section)
    for section in ("relu-normal", "sigmoid", "scaled-sigmoid"):
        assert scales(section) == [0.1, 0.2, 0.4, 0.8]
    assert len(ids) == len(report.settings)


def test_override_changes_seed_runs_and_adds_settings_and_sections():
    report = load_report(text="""
seed: 7
sections:
  - id: relu-normal
    runs: 30
    settings:
      - {id: relu-normal-0.3, params: {scale: 0.3}}
  - id: tanh
    title: Tanh
    experiment: mlp
    params: {activation: tanh}
    settings: [{id: tanh-0.5, params: {scale: 0.5}}]
""")
    assert report.seed == 7
    relu = [s for s in report.settings if s.section == "relu-normal"]
    assert [s.params["scale"] for s in relu] == [0.1, 0.2, 0.4, 0.8, 0.3]
    assert {s.runs for s in relu} == {30}
    tanh = report.setting("tanh-0.5")
    assert tanh.params["activation"] == "tanh" and tanh.params["width"] == 100
    assert tanh.label == "scale 0.5"


def test_override_of_one_setting_keeps_the_others():
    report = load_report(text="sections:\n  - id: sigmoid\n    settings:\n"
                              "      - {id: sigmoid-0.8, params: {scale: 1.6}}\n")
    assert report.setting("sigmoid-0.8").params["scale"] == 1.6
    assert report.setting("sigmoid-0.8").lecture_log10 is not None
    assert report.setting("sigmoid-0.4").params["scale"] == 0.4


BAD = {
    "unknown key": ("titel: x\n", ["stabreport.yml:1", "'titel'", "did you mean 'title'"]),
    "wrong type": ("seed: abc\n", ["stabreport.yml:1", "seed", "'abc'"]),
    "negative seed": ("seed: -1\n", ["seed", "-1"]),
    "yaml syntax": ("sections: [\n", ["YAML syntax error"]),
    "not a mapping": ("- 1\n", ["mapping"]),
    "path-like id": ("sections:\n  - id: ../x\n    settings: []\n", ["stabreport.yml:2", "'../x'", "slug"]),
    "absolute id": ("sections:\n  - id: /abs\n", ["'/abs'"]),
    "id with space": ("sections:\n  - id: relu-normal\n    settings:\n      - {id: a b}\n", ["'a b'", "stabreport.yml:4"]),
    "bad param": ("sections:\n  - id: relu-normal\n    settings:\n      - {id: x, params: {scale: -1}}\n",
                  ["stabreport.yml:4", "settings[x].params.scale", "got -1", "a finite number > 1e-100"]),
    "unknown param": ("sections:\n  - id: products\n    params: {size: 3}\n", ["'size'", "allowed: k, factors, scale"]),
    "unknown experiment": ("sections:\n  - id: new\n    title: T\n    experiment: mpl\n    settings: [{id: n1}]\n",
                           ["'mpl'", "did you mean 'mlp'"]),
    "new section without experiment": ("sections:\n  - id: new\n    settings: [{id: n1}]\n", ["'experiment'", "'title'"]),
    "unknown check": ("claims:\n  - id: c\n    section: sigmoid\n    statement: s\n    checks: [{foo: 1}]\n",
                      ["stabreport.yml:5", "checks[0]", "{setting, verdict}"]),
    "claim names an unknown setting": ("claims:\n  - id: c\n    section: sigmoid\n    statement: s\n"
                                       "    checks: [{setting: sigmoid-01, verdict: vanishes}]\n",
                                       ["stabreport.yml:5", "'sigmoid-01'", "did you mean 'sigmoid-0.1'"]),
    "expect not listed": ("claims:\n  - id: c\n    section: sigmoid\n    statement: s\n    checks:\n"
                          "      - {least_extreme: [sigmoid-0.1, sigmoid-0.2], expect: sigmoid-0.8}\n",
                          ["stabreport.yml:6", "least_extreme"]),
    "grid axis not sweepable": ("sweeps:\n  - id: s\n    title: t\n    experiment: mlp\n"
                                "    grid: {scale: [0.1, 0.2], activation: [relu]}\n",
                                ["stabreport.yml:5", "unknown key 'activation'", "scale, width, depth"]),
    "log grid through zero": ("sweeps:\n  - id: s\n    title: t\n    experiment: mlp\n"
                              "    grid: {scale: {start: 0, stop: 1, num: 3, log: true}, width: [8]}\n",
                              ["stabreport.yml:5", "got 0:1", "> 0 on a log grid"]),
    "grid without scale": ("sweeps:\n  - id: s\n    title: t\n    experiment: mlp\n"
                           "    grid: {width: [8, 16], depth: [2]}\n", ["stabreport.yml:2", "first axis is a scale"]),
    "duplicate yaml key": ("seed: 7\nseed: 8\n", ["stabreport.yml:2", "duplicate key 'seed'", "line 1"]),
    "empty settings": ("sections:\n  - id: new\n    title: T\n    experiment: mlp\n    settings: []\n",
                       ["stabreport.yml:5", "settings", "at least 1 entries"]),
    "duplicate id across sections": ("sections:\n  - id: new\n    title: T\n    experiment: mlp\n"
                                     "    settings: [{id: sigmoid-0.1}]\n", ["duplicate id 'sigmoid-0.1'"]),
    "duplicate id in file": ("sections:\n  - id: sigmoid\n    settings:\n      - {id: q}\n      - {id: q}\n",
                             ["stabreport.yml:5", "duplicate setting id 'q'"]),
    "verdicts out of order": ("verdicts: {vanishes_below: 10, explodes_above: 1}\n", ["vanishes_below"]),
    "infinite lecture": ("sections:\n  - id: sigmoid\n    settings:\n      - {id: sigmoid-0.1, lecture: .inf}\n", ["lecture"]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_names_file_line_and_value(name):
    text, fragments = BAD[name]
    with pytest.raises(ConfigError) as caught:
        load_report(text=text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message


def test_every_problem_is_reported_one_per_line():
    text = ("sections:\n  - id: relu-normal\n    settings:\n      - {id: x, params: {scale: -1}}\n"
            "      - {id: y, params: {width: 0}}\n      - {id: z, params: {activation: gelu}}\n")
    with pytest.raises(ConfigError) as caught:
        load_report(text=text)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3 and all("stabreport.yml:" in line for line in lines)


def test_every_problem_of_every_kind_is_reported_at_once_each_on_its_own_line():
    text = ("seed: -4\n"
            "sections:\n"
            "  - id: relu-normal\n"
            "    settings:\n"
            "      - id: x\n"
            "        params:\n"
            "          activation: gelu\n"
            "claims:\n"
            "  - {id: c, section: nowhere, statement: s, checks: [{setting: x, verdict: explodes}]}\n")
    with pytest.raises(ConfigError) as caught:
        load_report(text=text)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("stabreport.yml:1: seed") and "-4" in lines[0]
    # The wrong activation is reported at its own line, not at its section's or setting's.
    assert lines[1].startswith("stabreport.yml:7: ") and "got 'gelu'" in lines[1]
    assert "params.activation" in lines[1] and "one of relu" in lines[1]
    assert lines[2].startswith("stabreport.yml:9: ") and "'nowhere'" in lines[2]


def test_a_parameter_that_conflicts_with_another_points_at_its_own_line():
    text = "sections:\n  - id: relu-init\n    settings:\n      - id: relu-he-normal\n        params: {scale: 0.3}\n"
    with pytest.raises(ConfigError) as caught:
        load_report(text=text)
    (line,) = str(caught.value).splitlines()
    assert line.startswith("stabreport.yml:5: ") and "params.scale" in line and "init=normal" in line


def test_sweeps_too_large_together_are_refused_with_each_ones_count():
    """Each sweep within the per-sweep bound, but together past the report's: refused before
    any cell is sized by its theory (a sizing that would run for minutes without a word)."""
    from stabreport.report.config import MAX_REPORT_CELLS

    sweep = ("  - id: big-{n}\n    title: A big sweep\n    experiment: products\n    runs: 30\n"
             "    grid: {{scale: {{start: 0.1, stop: 2.0, num: {num}, log: true}}, k: [2, 3, 4]}}\n")
    per_sweep = 3 * (MAX_REPORT_CELLS // 6 + 1)  # each more than half the bound
    text = "sweeps:\n" + "".join(sweep.format(n=n, num=per_sweep // 3) for n in (1, 2))
    with pytest.raises(ConfigError) as caught:
        load_report(text=text)
    problem = next(line for line in str(caught.value).splitlines() if "cells in all" in line)
    assert f"big-1 {per_sweep:,}, big-2 {per_sweep:,})" in problem, problem
    assert f"allowed: at most {MAX_REPORT_CELLS:,} in a report" in problem


def test_an_explorer_with_two_problems_reports_both():
    """A schema problem (runs) and one found when the grid is read against the declarations."""
    with pytest.raises(ConfigError) as caught:
        load_report(text="explorer: {runs: 0, grid: {mlp: {scale: [7.0]}, nosuch: {k: [1]}}}\n")
    lines = str(caught.value).splitlines()
    assert any("explorer.runs: got 0" in line for line in lines), lines
    assert any("explorer: grid: mlp: scale got [7.0]" in line for line in lines), lines
    assert any("explorer: grid: nosuch: no experiment of that name" in line for line in lines), lines
