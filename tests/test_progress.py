"""A build says what it is doing (issue 26, item 9): every phase of `stabreport build` and
`stabreport site` announces itself as it starts, a log (stderr a pipe, not a terminal) is never
silent for long, and the [i/N] task counter advances through a sweep cell by cell instead of
jumping when a whole sweep finishes. Progress goes to stderr: --json's stdout stays one object."""
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import copy_project

from stabreport.core import executors
from stabreport.core.executors import Phase, counted

BIN = Path(sys.executable).parent

# As small as a build with a sweep gets: an MLP of width 10 (its theory is fast), two settings
# without figures of their own, a sweep of 20 cells drawn as one phase diagram, English only.
CONFIG = """extends: none
title: Progress
authors: ["Doe, Jane"]
seed: 1
languages: [en]
verdicts: {vanishes_below: 1.0e-3, explodes_above: 1.0e+3}
pages:
  - {id: index, title: Home}
  - {id: relu, title: ReLU, summary: "a ReLU network at two scales."}
  - {id: phase, title: Phase diagram, summary: "a sweep of the scale."}
  - {id: method, title: Method, summary: "how it was computed."}
sections:
  - id: relu
    title: ReLU
    experiment: mlp
    page: relu
    runs: 20
    norm_runs: 50
    figures: []
    params: {width: 10, depth: 5, activation: relu, init: normal}
    settings:
      - {id: relu-0.3, label: "scale 0.3", params: {scale: 0.3}}
      - {id: relu-0.5, label: "scale 0.5", params: {scale: 0.5}}
sweeps:
  - id: relu-sweep
    title: "ReLU: scale against depth"
    experiment: mlp
    page: phase
    runs: 30
    params: {width: 10, activation: relu, init: normal}
    grid: {scale: {start: 0.2, stop: 1.0, num: 10, log: true}, depth: [3, 6]}
"""

# What each phase of a build says as it starts, in order (a log's lines, without the counts that
# depend on the machine).
BUILD_PHASES = [
    "building docs/generated from stabreport.yml: 2 settings, 1 sweep, 1 edition (en)…",
    "sizing 20 sweep cells by their theory…",
    "looking up 24 tasks in the cache…",
    "running 24 tasks (4 for 2 settings, 20 sweep cells in 1 sweep): 0 from the cache, 24 to compute",
    "computing the theory: 20 sweep cells, 2 settings, 1 gain curve, the critical scales of the "
    "phase diagrams…",
    "checking the theory against the measurements; the data of 1 figure…",
    "rendering the pages, notebooks and downloads of 1 edition (en)…",
    "drawing 1 figure in 1 edition (en): ",
    "writing docs/generated: ",
    "built 4 pages and 1 figures",
]
SITE_PHASES = ["building site/ with MkDocs: 1 edition (en)…", "built site/"]
# The heartbeat is 5 s; a loaded machine may take a few seconds more between two phases.
SILENCE = executors.HEARTBEAT_SECONDS + 4
COUNTER = re.compile(r"^\[(\d+)/(\d+)\] ")


def _timed(*args: str, cwd: Path) -> tuple[list[tuple[float, str]], float, str, int]:
    """stderr's lines as they arrive (seconds since the start, text), the seconds to the exit,
    stdout, and the exit code: stderr is a pipe, as in a log."""
    started = time.monotonic()
    process = subprocess.Popen([str(BIN / "stabreport"), *args], cwd=cwd, text=True, bufsize=1,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stderr]
    out = process.stdout.read()
    code = process.wait()
    return lines, time.monotonic() - started, out, code


def _in_order(lines: list[str], expected: list[str]) -> list[str]:
    """The expected beginnings missing from `lines`, or out of order."""
    missing, position = [], 0
    for beginning in expected:
        found = next((i for i in range(position, len(lines)) if lines[i].startswith(beginning)), None)
        if found is None:
            missing.append(beginning)
        else:
            position = found + 1
    return missing


def _gaps(times: list[float], end: float) -> list[float]:
    points = [0.0, *times, end]
    return [b - a for a, b in zip(points, points[1:])]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("progress"), CONFIG)
    lines, seconds, out, code = _timed("build", cwd=root)
    assert code == 0, "\n".join(text for _, text in lines)
    return root, lines, seconds, out


def test_every_phase_of_a_build_says_what_it_does_as_it_starts(built):
    _, lines, _, out = built
    texts = [text for _, text in lines]
    assert _in_order(texts, BUILD_PHASES) == [], "\n".join(texts)
    assert out == ""  # every word of progress on stderr


def test_a_build_in_a_log_is_never_silent_for_long(built):
    _, lines, seconds, _ = built
    gaps = _gaps([t for t, _ in lines], seconds)
    log = "\n".join(f"{t:6.2f} {text}" for t, text in lines)
    assert max(gaps) < SILENCE, log
    # A phase that lasted more than 2 s said so as it started (the line before every long gap
    # is a phase's own: its announcement, a count or its status; the last gap is the exit).
    for (_, before), gap in zip(lines, gaps[1:-1]):
        if gap > 2:
            assert before.endswith("…") or COUNTER.match(before) or "so far" in before, log


def test_the_task_counter_advances_through_a_sweep_cell_by_cell(built):
    _, lines, _, _ = built
    counts = [(int(m[1]), int(m[2])) for _, text in lines if (m := COUNTER.match(text))]
    totals = {total for _, total in counts}
    assert totals == {24}, counts
    done = [d for d, _ in counts]
    assert done == sorted(done) and done[-1] == 24, done
    steps = [b - a for a, b in zip([0, *done], done)]
    assert max(steps) <= 0.15 * 24, done  # not one line when the whole sweep is done
    texts = [text for _, text in lines]
    assert any("sweep relu-sweep: " in t and "/20 cells" in t for t in texts), texts
    assert any(t.endswith("sweep relu-sweep: 20 cells done") for t in texts), texts


def test_the_site_build_says_what_it_does(built):
    root = built[0]
    lines, seconds, _, code = _timed("site", "--no-handout", cwd=root)
    texts = [text for _, text in lines]
    assert code == 0, "\n".join(texts)
    assert _in_order(texts, SITE_PHASES) == [], texts
    assert max(_gaps([t for t, _ in lines], seconds)) < SILENCE, lines


def test_a_sweeps_progress_leaves_its_json_alone(tmp_path):
    lines, _, out, code = _timed("sweep", "mlp", "--grid", "scale=0.2:1.0:10:log", "--set",
                                 "width=10", "--set", "depth=3", "--runs", "20", "--jobs", "1",
                                 "--no-cache", "--json", cwd=tmp_path)
    texts = [text for _, text in lines]
    assert code == 0, texts
    assert len(json.loads(out)["cells"]) == 10  # stdout: exactly the JSON
    assert texts[0] == "running 10 cells: 0 from the cache, 10 to compute…", texts
    counts = [int(m[1]) for t in texts if (m := COUNTER.match(t))]
    assert counts == list(range(1, 11)), texts  # a line at each tenth


# --- the reporter itself, on streams of its own --------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_phase_in_a_log_says_it_starts_and_is_never_silent(monkeypatch):
    monkeypatch.setattr(executors, "HEARTBEAT_SECONDS", 0.2)
    log = io.StringIO()
    with Phase(log, "drawing 3 figures", 3, "figure", "figures") as phase:
        time.sleep(0.7)
        phase.advance()
        phase.describe("zh edition")
        time.sleep(0.35)
    lines = log.getvalue().splitlines()
    assert lines[0] == "drawing 3 figures…"
    assert len(lines) >= 3 and lines[1].startswith("figures: 0/3 figures, "), lines
    assert any(line.startswith("figures: 1/3 figures (zh edition), ") for line in lines), lines
    assert all("so far" in line for line in lines[1:]), lines


def test_a_short_phase_is_one_line_and_a_phase_without_a_stream_says_nothing():
    log = io.StringIO()
    with Phase(log, "reading stabreport.yml", 100, "file") as phase:
        for _ in range(100):
            phase.advance()
    assert log.getvalue() == "reading stabreport.yml…\n"
    with Phase(None, "silent", 3) as phase:
        phase.advance(3)
        phase.say("nothing")


def test_the_counter_says_where_it_is_at_each_tenth_and_when_asked():
    log = io.StringIO()
    progress = executors.Progress(50, "tasks", log, begin=False)
    progress.begin("running 50 tasks")
    for done in range(1, 51):
        progress.advance(1, "a setting" if done == 7 else None, detail=f"sweep s: {done}/50 cells")
    progress.close()
    lines = log.getvalue().splitlines()
    assert lines[0] == "running 50 tasks…"
    assert "[7/50] a setting" in lines
    done = [int(COUNTER.match(line)[1]) for line in lines[1:]]
    assert done == [5, 7, 10, 15, 20, 25, 30, 35, 40, 45, 50], lines
    assert lines[-1] == "[50/50] sweep s: 50/50 cells"


def test_on_a_terminal_a_phase_is_one_updating_line():
    screen = Terminal()
    with Phase(screen, "drawing 2 figures", 2, "figure", "figures") as phase:
        phase.advance(2)
        phase.say("printed site/handout.pdf in 1.0 s")
    text = screen.getvalue()
    assert "drawing 2 figures…" not in text and "\r" in text and "figures: 100%" in text, text
    assert "printed site/handout.pdf in 1.0 s\n" in text


def test_counted_says_one_and_many():
    assert counted(1, "figure") == "1 figure"
    assert counted(1703, "task") == "1,703 tasks"
    assert counted(2, "sweep cell") == "2 sweep cells"
