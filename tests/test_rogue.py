"""A plug-in's bad output, exceptions, prints and hangs: one line naming the plug-in and the
setting, nothing cached or published, a time limit per task; Ctrl-C ends every child within
seconds with one line (tests/data/rogue_plugin.py is the plug-in)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stabreport.paths import CACHE, GENERATED

BIN = Path(sys.executable).parent
DATA = Path(__file__).parent / "data"

PROJECT = """extends: none
title: A report with a plug-in
authors: ["Doe, Jane"]
seed: 1
languages: [en]
verdicts: {vanishes_below: 1.0e-3, explodes_above: 1.0e+3}
pages:
  - {id: index, title: Home}
  - {id: rogue, title: The plug-in, summary: "what it returns."}
  - {id: method, title: Method, summary: "how it was computed."}
sections:
  - id: rogue
    title: The plug-in
    experiment: rogue
    page: rogue
    runs: 200
    settings:
      - {id: rogue-a, label: "a", params: {scale: 0.5}}
      - {id: rogue-b, label: "b", params: {scale: 1.5}}
sweeps: []
"""


def _install(where: Path, record: bool = True) -> Path:
    """The plug-in as a distribution (rogue-plugin 1.0) in `where`: its module, its helper
    module and, with `record`, the RECORD that says both are its own."""
    where.mkdir(parents=True, exist_ok=True)
    for name in ("rogue_plugin.py", "rogue_helper.py"):
        shutil.copy(DATA / name, where)
    dist = where / "rogue_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rogue-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[stabreport.experiments]\nrogue = rogue_plugin:ROGUE\n")
    if record:
        (dist / "RECORD").write_text("rogue_plugin.py,,\nrogue_helper.py,,\n"
                                     f"{dist.name}/METADATA,,\n{dist.name}/RECORD,,\n")
    return where


@pytest.fixture(scope="module")
def rogue(tmp_path_factory) -> Path:
    """The plug-in on the PYTHONPATH of the commands run."""
    return _install(tmp_path_factory.mktemp("rogue"))


@pytest.mark.parametrize("record", [True, False], ids=["its-distribution", "beside-it"])
def test_an_edit_to_a_plugins_helper_module_is_a_new_result(tmp_path, project, record):
    """The helper is a top-level module of its own (not inside the plug-in's package): it is
    part of the code that decides the numbers when its distribution installs it, or when no
    distribution owns it and it sits beside the plug-in."""
    where = _install(tmp_path / "plugin", record)
    first = _stabreport(where, "", "build", "--strict", "--root", str(project))
    assert first.returncode == 0, first.stderr
    page = (project / GENERATED / "rogue.md").read_text()
    (where / "rogue_helper.py").write_text("SHIFT = 5.0\n")
    again = _stabreport(where, "", "build", "--strict", "--root", str(project))
    assert again.returncode == 0, again.stderr
    assert "up to date" not in again.stderr and "(0 from the cache)" in again.stderr, again.stderr
    assert (project / GENERATED / "rogue.md").read_text() != page


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "mkdocs.yml").write_text('site_url: "https://example.org/report/"\n')
    (tmp_path / "stabreport.yml").write_text(PROJECT)
    return tmp_path


def _env(rogue: Path, mode: str = "", **extra) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(rogue), os.environ.get("PYTHONPATH")])),
           "ROGUE_MODE": mode, "NO_MKDOCS_2_WARNING": "1", **extra}
    env.pop("STABREPORT_TIME_LIMIT", None) if "STABREPORT_TIME_LIMIT" not in extra else None
    return env


def _stabreport(rogue, mode, *args, **extra):
    return subprocess.run([str(BIN / "stabreport"), *args], capture_output=True, text=True,
                          env=_env(rogue, mode, **extra), timeout=300)


def _cached_results(project: Path) -> int:
    return sum(1 for p in (project / CACHE).rglob("*") if p.is_file()) if (project / CACHE).exists() else 0


@pytest.mark.parametrize("mode,path,problem", [
    ("nan", "full", "its simulate returned NaN in 1 run(s) (metric log10_mean_abs)"),
    ("inf", "full", "its simulate returned +inf in 1 run(s) (metric log10_mean_abs)"),
    ("short", "full", "the trajectory has shape (50, 4); allowed: (50, 5)"),
    ("raise", "full", "its simulate raised ValueError: the rogue plug-in's own bug"),
    ("short", "tangent", "its fast path's column lengths has shape (50, 4); allowed: (50, 5)"),
    ("nan", "tangent", "its fast path returned NaN in 1 run(s)"),
])
def test_a_plugins_bad_output_is_one_line_naming_it_and_the_setting(rogue, mode, path, problem):
    """Not "every run died", not a traceback, not a per-step curve shifted by one step."""
    done = _stabreport(rogue, mode, "run", "rogue", "--path", path, "--json")
    assert done.returncode == 1 and done.stdout == "", done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("stabreport: error: experiment rogue (from rogue-plugin 1.0), "
                               "setting rogue")
    assert problem in lines[0], lines[0]


def test_a_plugins_bad_output_in_a_build_is_neither_cached_nor_published(rogue, project):
    done = _stabreport(rogue, "nan", "build", "--root", str(project))
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "stabreport: error: experiment rogue (from rogue-plugin 1.0), setting rogue-")
    assert "Traceback" not in done.stderr
    assert not (project / GENERATED).exists() and _cached_results(project) == 0
    good = _stabreport(rogue, "", "build", "--root", str(project))  # the same plug-in, mended
    assert good.returncode == 0, good.stderr
    assert (project / GENERATED / "rogue.md").is_file() and _cached_results(project) > 0


def test_what_a_plugin_prints_stays_off_the_json_stdout(rogue):
    done = _stabreport(rogue, "print", "run", "rogue", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["experiment"] == "rogue"  # the one JSON object, alone
    assert "a word from the plug-in" in done.stderr and "and one from its C code" in done.stderr


def _session(sid: int) -> list[int]:
    """Processes of the session `sid` still running (not zombies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _left(sid: int, within: float = 3.0) -> list[str]:
    """The command lines of the session's processes still running `within` seconds from now (a
    killed worker's resource tracker takes a moment to see its parent gone)."""
    deadline = time.monotonic() + within
    while _session(sid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            for pid in _session(sid)]


# `run` computes in this process, its blocks on two threads; `build` and `sweep` in two
# worker processes.
COMMANDS = {
    "run": ["run", "rogue", "--runs", "200000"],
    "build": ["build", "--jobs", "2", "--root", "{project}"],
    "sweep": ["sweep", "rogue", "--grid", "scale=0.5,1,2", "--runs", "50", "--jobs", "2",
              "--no-cache", "--root", "{project}"],
}


def _command(name: str, project: Path) -> list[str]:
    return [str(BIN / "stabreport")] + [a.format(project=project) for a in COMMANDS[name]]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_plugin_that_never_returns_is_stopped_at_its_time_limit(rogue, project, command):
    started = time.monotonic()
    done = subprocess.Popen(_command(command, project), stderr=subprocess.PIPE, text=True,
                            env=_env(rogue, "hang", STABREPORT_TIME_LIMIT="3"), start_new_session=True)
    _, err = done.communicate(timeout=120)
    assert done.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("stabreport: error: experiment rogue (from "
                                                   "rogue-plugin 1.0), setting ")
    assert "ran past its time limit of 3 s" in err.strip().splitlines()[-1]
    assert time.monotonic() - started < 60
    assert _left(done.pid) == []  # no worker left computing
    assert not (project / GENERATED).exists() and _cached_results(project) == 0


def test_a_bad_time_limit_is_refused(rogue):
    done = _stabreport(rogue, "", "run", "rogue", STABREPORT_TIME_LIMIT="soon")
    assert done.returncode == 2
    assert done.stderr.strip() == ("stabreport: error: STABREPORT_TIME_LIMIT got 'soon'; allowed: "
                                   "a number of seconds > 0, or none")


# Slow but finite, with stabreport's own experiment: in this process, and in two workers.
FINITE = {
    "run mlp": ["run", "mlp", "--set", "width=200", "--runs", "40000"],
    "sweep mlp": ["sweep", "mlp", "--grid", "scale=0.1,0.2", "--set", "width=200", "--set", "depth=400", "--runs",
                  "40000", "--jobs", "2", "--no-cache", "--root", "{project}"],
}


@pytest.mark.parametrize("command", [*sorted(COMMANDS), *sorted(FINITE)])
def test_ctrl_c_ends_every_child_within_seconds_with_one_line(rogue, project, command):
    """SIGINT to the process group, as a terminal's Ctrl-C sends it, while an experiment
    computes: the plug-in that never returns, or stabreport's own, which would return later."""
    args = _command(command, project) if command in COMMANDS else \
        [str(BIN / "stabreport")] + [a.format(project=project) for a in FINITE[command]]
    done = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=_env(rogue, "hang", STABREPORT_TIME_LIMIT="none"))
    workers = 1 if command.startswith("run") else 3  # the command, and two workers
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_session(done.pid)) < workers:
        time.sleep(0.1)
    time.sleep(3.0)  # into the computation
    assert done.poll() is None, done.communicate()[1]
    os.killpg(done.pid, signal.SIGINT)
    sent = time.monotonic()
    _, err = done.communicate(timeout=60)
    took = time.monotonic() - sent
    assert took < 5, (took, err)
    assert done.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "stabreport: interrupted; the previous output was kept"
    assert _left(done.pid) == []
    assert not (project / GENERATED).exists()
