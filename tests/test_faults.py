"""Faults lose nothing: bad config, failing template or experiment, SIGKILL at any moment, two
builds at once. And two builds of the same inputs give the same bytes."""
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stabreport.fingerprint import MANIFEST, read_manifest
from stabreport.lock import project_lock
from stabreport.paths import GENERATED, SITE, TIMINGS

from helpers import SMALL_CONFIG, copy_project

BIN = Path(sys.executable).parent


def _run(root, *args, env=None, check=True, **kwargs):
    done = subprocess.run([str(BIN / "stabreport"), *args, "--root", str(root)], env=env,
                          capture_output=True, text=True, **kwargs)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def _environment(**extra):
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1", **extra}


def _consistent(generated: Path) -> bool:
    """The tree is exactly what one build wrote: every file matches that build's manifest."""
    manifest = read_manifest(generated)
    if manifest is None:
        return False
    files = {p.relative_to(generated).as_posix(): p for p in generated.rglob("*") if p.is_file()}
    listed = set(manifest["files"])
    return (set(files) - {MANIFEST, TIMINGS} == listed and
            all(hashlib.sha256(files[n].read_bytes()).hexdigest() == d
                for n, d in manifest["files"].items()))


def _tree(folder: Path, skip=()) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).as_posix() not in skip}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small project with a good build and site, shared by the fault tests (each restores it)."""
    root = copy_project(tmp_path_factory.mktemp("faults"))
    _run(root, "build", "--strict", env=_environment())
    _run(root, "site", env=_environment())
    return root


def _set_seed(root: Path, seed: int | None) -> None:
    """Another seed forces a real build; None restores the project's own config."""
    (root / "stabreport.yml").write_text(SMALL_CONFIG + (f"seed: {seed}\n" if seed else ""))


@pytest.mark.parametrize("fault", ["generated-half-written", "generated-between-renames"])
def test_a_build_killed_while_writing_leaves_the_previous_output(project, fault):
    before = _tree(project / GENERATED)
    _set_seed(project, 77)
    done = _run(project, "build", env=_environment(STABREPORT_FAULT=fault), check=False)
    assert done.returncode == -signal.SIGKILL
    # The next build puts the old tree back if it was moved away, and finds it up to date.
    _set_seed(project, None)
    done = _run(project, "build", "--strict", env=_environment())
    assert "up to date" in done.stderr, done.stderr
    assert _tree(project / GENERATED) == before
    assert not list((project / "docs").glob(".generated-*"))


def test_builds_killed_at_random_moments_leave_a_consistent_tree(project):
    for seed, delay in ((101, 0.6), (102, 1.5), (103, 3.0), (104, 5.0)):
        _set_seed(project, seed)
        process = subprocess.Popen([str(BIN / "stabreport"), "build", "--root", str(project)],
                                   env=_environment(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        _run(project, "site", env=_environment())  # recovers any half-swapped tree first
        assert _consistent(project / GENERATED), f"inconsistent after a kill at {delay} s"
        assert (project / SITE / "index.html").is_file()
    _set_seed(project, None)
    _run(project, "build", "--strict", env=_environment())
    assert _consistent(project / GENERATED)


def test_a_site_build_killed_between_renames_keeps_the_last_site(project):
    index = (project / SITE / "index.html").read_bytes()
    css = project / "docs" / "assets" / "stylesheets" / "extra.css"
    original = css.read_text()
    css.write_text(original + "/* a change that needs a new site */\n")
    try:
        done = _run(project, "site", env=_environment(STABREPORT_FAULT="site-between-renames"),
                    check=False)
        assert done.returncode == -signal.SIGKILL
        assert not (project / SITE).exists()  # killed with the old site set aside...
        _run(project, "site", env=_environment())  # ...which the next run puts back first
    finally:
        css.write_text(original)
    _run(project, "site", env=_environment())
    assert (project / SITE / "index.html").read_bytes() == index
    assert not list(project.glob(".site-*-*"))


def test_a_failing_site_build_keeps_the_last_site(project):
    before = _tree(project / SITE)
    (project / "docs" / "broken.md").write_text("[a link to nowhere](nowhere.md)\n")
    try:
        done = _run(project, "site", env=_environment(), check=False)
    finally:
        (project / "docs" / "broken.md").unlink()
    assert done.returncode == 1 and "mkdocs build --strict failed" in done.stderr
    assert _tree(project / SITE) == before


def test_an_experiment_that_cannot_be_computed_fails_by_name_and_keeps_the_output(project):
    before = _tree(project / GENERATED)
    (project / "stabreport.yml").write_text(SMALL_CONFIG.replace(
        "  - id: relu-normal\n    runs: 20\n",
        "  - id: relu-normal\n    runs: 20\n    settings:\n"
        "      - {id: relu-normal-0.1, params: {width: 1, depth: 40}}\n"))
    try:
        done = _run(project, "build", env=_environment(), check=False)
    finally:
        _set_seed(project, None)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("stabreport: error: setting relu-normal-0.1:") and "all-zero" in last
    assert _tree(project / GENERATED) == before


def test_a_second_build_waits_for_the_first(project):
    release = threading.Event()
    held = threading.Event()

    def hold():
        with project_lock(project, open(os.devnull, "w")):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    process = subprocess.Popen([str(BIN / "stabreport"), "build", "--no-cache", "--root", str(project)],
                               env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    time.sleep(2.0)
    assert process.poll() is None, "the second build did not wait"
    release.set()
    holder.join()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "waiting for another build" in err
    assert _consistent(project / GENERATED)


def test_two_builds_of_the_same_inputs_give_the_same_bytes(tmp_path):
    trees = []
    for jobs in ("1", "2"):
        root = copy_project(tmp_path / f"jobs-{jobs}")
        env = _environment(SOURCE_DATE_EPOCH="1700000000")  # 2023-11-14
        _run(root, "build", "--strict", "--jobs", jobs, env=env)
        _run(root, "site", env=env)
        trees.append((_tree(root / GENERATED, skip={TIMINGS}),
                      _tree(root / SITE, skip={"timings/index.html", ".stabreport-site.json"})))
    (generated_1, site_1), (generated_2, site_2) = trees
    assert generated_1.keys() == generated_2.keys()
    assert [n for n in generated_1 if generated_1[n] != generated_2[n]] == []
    assert [n for n in site_1 if site_1.get(n) != site_2.get(n)] == []
    assert b"<lastmod>2023-11-14</lastmod>" in site_1["sitemap.xml"]
    assert b'"date": "2023-11-14"' in generated_1["provenance.json"]
