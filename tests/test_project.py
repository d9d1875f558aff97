"""A generator anyone can install: the wheel ships every template, asset and catalogue a build
needs, `stabreport new` starts a project that builds from the wheel alone (the repository nowhere
on the path), a project overrides a shipped file by putting one at the same path, and
`import stabreport.api` stays light."""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from helpers import PROJECT, SMALL_CONFIG

from stabreport.cli import main
from stabreport.paths import GENERATED
from stabreport.project import Project, shipped
from stabreport.publish.build import build_report

TINY = """extends: none
title: A tiny report
authors: [The testers]
seed: 3
languages: [en]
verdicts: {vanishes_below: 1.0e-3, explodes_above: 1.0e+3}
pages:
  - {id: index, title: Home}
  - {id: gradients, title: Gradients}
  - {id: method, title: Method}
sections:
  - id: relu-normal
    title: ReLU
    experiment: mlp
    page: gradients
    runs: 40
    norm_runs: 200
    params: {width: 16, depth: 8, activation: relu, init: normal}
    settings:
      - {id: relu-0.3, label: scale 0.3, params: {scale: 0.3}}
      - {id: relu-0.5, label: scale 0.5, params: {scale: 0.5}}
"""
OVERRIDE = "Our own words about {{ section.settings|length }} scales of ReLU.\n"


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH (the tests' plug-in folder is on it)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")} | {
        "NO_MKDOCS_2_WARNING": "1"}


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> Path:
    """A fresh virtual environment with stabreport installed from its wheel (and its
    dependencies, as `pip install stabreport` would bring them): the bin folder."""
    where = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                           "--disable-pip-version-check", "-w", str(where / "dist"), str(PROJECT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    wheel, = (where / "dist").glob("stabreport-*.whl")
    venv.create(where / "venv", with_pip=True)
    bin_ = where / "venv" / "bin"
    done = subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", str(wheel)], capture_output=True,
                          text=True, env=_clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return bin_


def _run(bin_: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_ / "stabreport"), *args], cwd=cwd, capture_output=True,
                          text=True, env=_clean_env())


def test_a_new_project_builds_its_site_from_the_wheel_alone(wheel_env, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run([str(wheel_env / "python"), "-c", "import stabreport; print(stabreport.__file__)"],
                           cwd=empty, capture_output=True, text=True, env=_clean_env()).stdout
    assert str(wheel_env.parent) in where and str(PROJECT) not in where, where
    done = _run(wheel_env, ["new", "report"], empty)
    assert done.returncode == 0, done.stderr
    project = empty / "report"
    assert {p.name for p in project.iterdir()} >= {"stabreport.yml", "mkdocs.yml", ".gitignore",
                                                   "README.md", "templates", "docs"}
    # A stylesheet of the project's own, over the shipped one of the same path.
    own_css = project / "docs" / "assets" / "stylesheets" / "extra.css"
    own_css.parent.mkdir(parents=True)
    own_css.write_text("/* this project's own */\n")
    for args in (["build", "--strict"], ["site", "--no-handout"]):
        done = _run(wheel_env, args, project)
        assert done.returncode == 0, f"stabreport {' '.join(args)}:\n{done.stderr[-3000:]}"
    site = project / "site"
    config = (project / "stabreport.yml").read_text()
    for page in ("index", "gradients", "phase", "figures", "method", "cite"):
        assert (site / f"{page}.html").is_file(), page
    assert "Gradients through a deep network" in (site / "index.html").read_text()
    assert "Gradients through a deep network" in config
    figures = sorted(p.name for p in (site / "figures").glob("*.svg"))
    assert "relu-trajectory.svg" in figures and "phase-relu-scale-depth.svg" in figures, figures
    assert (site / "assets" / "katex" / "katex.min.js").is_file()  # shipped, not overridden
    assert (site / "assets" / "stylesheets" / "extra.css").read_text() == own_css.read_text()
    shown = _run(wheel_env, ["list", "--files"], project).stdout.splitlines()
    assert any(line.startswith("templates/index.md.j2  project") for line in shown), shown[:5]
    assert any(line.startswith("templates/partials/figure.md.j2  stabreport") for line in shown)
    assert any(line.startswith("assets/stylesheets/extra.css  project") for line in shown)
    assert any(line.startswith("assets/katex/katex.min.js  stabreport") for line in shown)
    assert any(line.startswith("locales/zh_CN/LC_MESSAGES/messages.po  stabreport") for line in shown)


def test_the_lecture_report_starts_from_the_wheel_and_builds(wheel_env, tmp_path):
    """`stabreport new --from-default`: the lecture's whole config, standalone, and its pages'
    prose to edit; built (with fewer runs, as every test site is) from those copies."""
    done = _run(wheel_env, ["new", "--from-default", "lecture"], tmp_path)
    assert done.returncode == 0, done.stderr
    project = tmp_path / "lecture"
    copied = sorted(p.relative_to(project / "templates").as_posix()
                    for p in (project / "templates").rglob("*.j2"))
    assert "mlp.md.j2" in copied and "sections/relu-normal.md.j2" in copied, copied
    for name in copied:
        assert (project / "templates" / name).read_bytes() == (shipped("templates") / name).read_bytes()
    count = subprocess.run(
        [str(wheel_env / "python"), "-c", "import sys; from stabreport.report.config import "
         "load_report; print(len(load_report(sys.argv[1]).settings), len(load_report(None).settings))",
         str(project / "stabreport.yml")], capture_output=True, text=True, env=_clean_env())
    assert count.returncode == 0, count.stderr
    mine, lecture = count.stdout.split()
    assert mine == lecture and int(mine) > 10
    (project / "small.yml").write_text(SMALL_CONFIG)
    done = _run(wheel_env, ["build", "--strict", "--config", "small.yml"], project)
    assert done.returncode == 0, done.stderr[-3000:]
    mlp = (project / GENERATED / "mlp.md").read_text()
    assert "The lecture's second experiment builds a multilayer perceptron" in mlp


def _generated(root: Path) -> dict[str, bytes]:
    varies = {"timings.md", ".manifest.json", ".volatile.json"}
    return {p.relative_to(root / GENERATED).as_posix(): p.read_bytes()
            for p in (root / GENERATED).rglob("*") if p.is_file() and p.name not in varies}


def test_a_project_template_replaces_the_shipped_one_and_only_it(tmp_path, capsys):
    root = tmp_path / "project"
    root.mkdir()
    (root / "stabreport.yml").write_text(TINY)
    build_report(root=root, strict=True, stream=open(os.devnull, "w"))
    shipped_build = _generated(root)
    assert "Our own words" not in shipped_build["gradients.md"].decode()
    own = root / "templates" / "sections" / "relu-normal.md.j2"
    own.parent.mkdir(parents=True)
    own.write_text(OVERRIDE)
    assert main(["list", "--templates", "--root", str(root)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "templates/sections/relu-normal.md.j2  project  templates/sections/relu-normal.md.j2" in listed
    assert any(line.startswith("templates/sections/sigmoid.md.j2  stabreport  ") for line in listed)
    build_report(root=root, strict=True, stream=open(os.devnull, "w"))  # the results from the cache
    overridden = _generated(root)
    page = overridden["gradients.md"].decode()
    assert "Our own words about 2 scales of ReLU." in page
    shipped_words = (shipped("templates") / "sections" / "relu-normal.md.j2").read_text().split("\n")[1]
    assert shipped_words.strip() and shipped_words.strip() not in page
    changed = sorted(name for name in shipped_build if overridden.get(name) != shipped_build[name])
    assert overridden.keys() == shipped_build.keys()
    assert changed == ["gradients.md"], changed


def test_new_refuses_a_folder_that_holds_anything_and_writes_nothing(tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine\n")
    assert main(["new", str(busy)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not empty" in err and "allowed: a new folder" in err, err
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # no staging folder left
    assert main(["new", str(tmp_path / "no" / "such" / "parent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_mkdocs_settings_are_the_base_with_the_project_over_it(tmp_path):
    own = ("site_url: !ENV [STABREPORT_TEST_URL, 'https://example.org/r/']\n"
           "theme: {features: [navigation.tabs]}\n"
           "extra:\n  analytics: none\n  emoji: !!python/name:material.extensions.emoji.twemoji\n")
    (tmp_path / "mkdocs.yml").write_text(own)
    settings = Project(tmp_path).mkdocs_settings()
    assert settings["site_url"] == "https://example.org/r/"
    assert settings["theme"]["name"] == "material"  # the base's, kept where not overridden
    assert settings["theme"]["features"] == ["navigation.tabs"]  # a list replaces
    assert settings["extra"]["analytics"] == "none" and settings["extra"]["polyfills"]
    assert "pymdownx.arithmatex" in json.dumps(settings["markdown_extensions"])
    # What MkDocs reads: the project's file as written (every tag kept), inheriting the base.
    written = Project(tmp_path).write_mkdocs_config()
    assert written.name == ".stabreport-mkdocs.yml" and written.read_text().endswith(own)
    from stabreport.project import BASE_MKDOCS

    assert f"INHERIT: {json.dumps(str(BASE_MKDOCS))}\n" in written.read_text()


@pytest.mark.parametrize("own,said", [
    ("plugins: [search]\n", "plugins got ['search']; allowed: a list that keeps stabreport"),
    ("INHERIT: base.yml\n", "INHERIT got 'base.yml'; allowed: no INHERIT"),
    ("docs_dir: pages\n", "docs_dir got 'pages'; allowed: docs_dir left out"),
    ("site_url: [unclosed\n", "not valid YAML"),
])
def test_mkdocs_settings_that_would_break_the_site_are_one_clear_line(tmp_path, own, said):
    from stabreport.errors import ConfigError

    (tmp_path / "mkdocs.yml").write_text(own)
    with pytest.raises(ConfigError) as error:
        Project(tmp_path).write_mkdocs_config()
    assert said in str(error.value) and "\n" not in str(error.value), str(error.value)
    assert not (tmp_path / ".stabreport-mkdocs.yml").exists()


def test_new_starts_a_report_in_the_empty_folder_it_is_run_in(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir(mode=0o750)
    monkeypatch.chdir(here)
    assert main(["new", "."]) == 0
    assert (here / "stabreport.yml").is_file() and (here / "templates" / "index.md.j2").is_file()
    assert here.stat().st_mode & 0o777 == 0o750  # the user's folder, as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"]


def test_the_public_api_imports_no_mkdocs_markdown_pydantic_or_scipy_stats():
    done = subprocess.run([sys.executable, "-c", "import json, sys, stabreport.api; "
                           "print(json.dumps(sorted(sys.modules)))"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    heavy = [m for m in loaded if m.split(".")[0] in ("mkdocs", "markdown", "pydantic", "material")
             or m == "scipy.stats" or m.startswith("scipy.stats.")]
    assert heavy == [], heavy
