"""Faults lose nothing: bad config, failing template or experiment, SIGKILL at any moment, two
builds at once. And two builds of the same inputs give the same bytes."""
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stabreport.publish.fingerprint import MANIFEST, read_manifest
from stabreport.project import shipped
from stabreport.publish.lock import project_lock
from stabreport.paths import GENERATED, SITE, TIMINGS, VOLATILE

from helpers import PLUGIN_CONFIG, SESSION_EPOCH, SMALL_CONFIG, copy_project

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
    return (set(files) - {MANIFEST, TIMINGS, VOLATILE} == listed and
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
    _run(root, "site", "--no-handout", env=_environment())
    return root


@contextlib.contextmanager
def _stylesheet_changed(project: Path):
    """The project's own copy of a shipped stylesheet, with a change: a change that needs a new
    site. Removed afterwards, so that the shipped one is back."""
    css = project / "docs" / "assets" / "stylesheets" / "extra.css"
    css.parent.mkdir(parents=True)
    css.write_text((shipped("assets") / "stylesheets" / "extra.css").read_text() + "/* a change */\n")
    try:
        yield
    finally:
        shutil.rmtree(project / "docs" / "assets")


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


def test_a_tree_set_aside_by_a_killed_command_is_put_back_by_the_next_command_of_either_kind(project):
    """Killed between its two renames, a build leaves docs/generated/ aside: the next `site` puts
    it back (and builds the site from it); killed the same way, a site build leaves site/ aside,
    and the next `build` puts it back."""
    generated, site = _tree(project / GENERATED), _tree(project / SITE)
    _set_seed(project, 78)
    done = _run(project, "build", env=_environment(STABREPORT_FAULT="generated-between-renames"), check=False)
    assert done.returncode == -signal.SIGKILL and not (project / GENERATED).exists()
    _set_seed(project, None)
    done = _run(project, "site", "--no-handout", env=_environment())
    assert _tree(project / GENERATED) == generated and "up to date" in done.stderr, done.stderr
    with _stylesheet_changed(project):
        done = _run(project, "site", "--no-handout", env=_environment(STABREPORT_FAULT="site-between-renames"),
                    check=False)
        assert done.returncode == -signal.SIGKILL and not (project / SITE).exists()
    done = _run(project, "build", "--strict", env=_environment())
    assert "up to date" in done.stderr and _tree(project / SITE) == site, done.stderr
    assert not list(project.glob(".site-*")) and not list((project / "docs").glob(".generated-*"))


def test_builds_killed_at_random_moments_leave_a_consistent_tree(project):
    for seed, delay in ((101, 0.6), (102, 1.5), (103, 3.0), (104, 5.0)):
        _set_seed(project, seed)
        process = subprocess.Popen([str(BIN / "stabreport"), "build", "--root", str(project)],
                                   env=_environment(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        _run(project, "site", "--no-handout", env=_environment())  # recovers any half-swapped tree first
        assert _consistent(project / GENERATED), f"inconsistent after a kill at {delay} s"
        assert (project / SITE / "index.html").is_file()
    _set_seed(project, None)
    _run(project, "build", "--strict", env=_environment())
    assert _consistent(project / GENERATED)


def test_a_site_build_killed_between_renames_keeps_the_last_site(project):
    index = (project / SITE / "index.html").read_bytes()
    with _stylesheet_changed(project):
        done = _run(project, "site", "--no-handout", env=_environment(STABREPORT_FAULT="site-between-renames"),
                    check=False)
        assert done.returncode == -signal.SIGKILL
        assert not (project / SITE).exists()  # killed with the old site set aside...
        _run(project, "site", "--no-handout", env=_environment())  # ...which the next run puts back first
    _run(project, "site", "--no-handout", env=_environment())
    assert (project / SITE / "index.html").read_bytes() == index
    assert not list(project.glob(".site-*-*"))


def test_a_failing_site_build_keeps_the_last_site(project):
    before = _tree(project / SITE)
    (project / "docs" / "broken.md").write_text("[a link to nowhere](nowhere.md)\n")
    try:
        done = _run(project, "site", "--no-handout", env=_environment(), check=False)
    finally:
        (project / "docs" / "broken.md").unlink()
    assert done.returncode == 1 and "mkdocs build --strict failed" in done.stderr
    assert _tree(project / SITE) == before


def test_a_setting_too_large_to_compute_fails_by_name_and_keeps_the_output(project):
    before = _tree(project / GENERATED)
    (project / "stabreport.yml").write_text(SMALL_CONFIG.replace(
        "  - id: relu-normal\n    runs: 20\n",
        "  - id: relu-normal\n    runs: 20\n    settings:\n"
        "      - {id: relu-normal-0.1, params: {width: 100000}}\n"))
    try:
        done = _run(project, "build", env=_environment(), check=False)
    finally:
        _set_seed(project, None)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("stabreport: error: relu-normal-0.1,") and "GiB of memory" in last
    # Refused before the cached settings are read out as progress lines (the cache is warm).
    progress = [line for line in done.stderr.splitlines() if re.match(r"\[\d+/\d+\]", line)]
    assert progress == [], done.stderr
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


def _pdf_text(data: bytes) -> list[str]:
    import io

    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


@pytest.mark.site
def test_two_builds_of_the_same_inputs_give_the_same_bytes(site, tmp_path):
    """The session's site (both editions, built in the test process on two workers, with the
    handouts) and the same inputs built again from nothing in another process on one worker:
    the same bytes."""
    root = copy_project(tmp_path / "again", PLUGIN_CONFIG)
    env = _environment(SOURCE_DATE_EPOCH=SESSION_EPOCH)  # 2023-11-14, as the session's
    _run(root, "build", "--strict", "--jobs", "1", env=env)
    _run(root, "site", env=env)
    trees = [(_tree(r / GENERATED, skip={TIMINGS, f"zh/{TIMINGS}", VOLATILE}),
              _tree(r / SITE, skip={"timings.html", "zh/timings.html", ".stabreport-site.json"}))
             for r in (site, root)]
    (generated_1, site_1), (generated_2, site_2) = trees
    assert generated_1.keys() == generated_2.keys()
    assert any(name.startswith("zh/figures/") for name in generated_1)  # both editions
    assert [n for n in generated_1 if generated_1[n] != generated_2[n]] == []
    # The handout: the same pages and words (its bytes can differ by a sub-pixel layout
    # between two Chromium sessions; see README, "Determinism").
    for handout in ("handout.pdf", "zh/handout.pdf"):
        assert _pdf_text(site_1.pop(handout)) == _pdf_text(site_2.pop(handout))
    assert site_1.keys() == site_2.keys()
    assert [n for n in site_1 if site_1[n] != site_2[n]] == []
    assert b"<lastmod>2023-11-14</lastmod>" in site_1["sitemap.xml"]
    assert b'"date": "2023-11-14"' in generated_1["provenance.json"]


# --- damaged output is never published ------------------------------------------------------------

def test_a_site_missing_a_file_or_with_an_edited_page_is_rebuilt(project):
    _run(project, "site", "--no-handout", env=_environment())
    figure = next((project / SITE / "figures").glob("*.png"))
    good_figure = figure.read_bytes()
    figure.unlink()
    done = _run(project, "site", "--no-handout", env=_environment())
    assert "rebuilding" in done.stderr and f"figures/{figure.name} is missing" in done.stderr
    assert figure.read_bytes() == good_figure
    page = project / SITE / "mlp.html"
    good_page = page.read_bytes()
    page.write_bytes(good_page.replace(b"<h1", b"<h1 data-edited", 1))
    done = _run(project, "site", "--no-handout", env=_environment())
    assert "mlp.html was altered" in done.stderr
    assert page.read_bytes() == good_page
    assert "is up to date" in _run(project, "site", "--no-handout", env=_environment()).stderr


def test_an_edited_timings_page_is_regenerated(project):
    _run(project, "build", "--strict", env=_environment())
    timings = project / GENERATED / TIMINGS
    timings.write_text(timings.read_text() + "| forged | full | 1 | 0.01 s |\n")
    done = _run(project, "build", "--strict", env=_environment())
    assert "up to date" not in done.stderr
    assert "forged" not in timings.read_text()
    assert _consistent(project / GENERATED)


def _rewrite_entries(cache: Path, part: str, change) -> int:
    """Change one part of every cache entry that has it, keeping the stale checksum."""
    changed = 0
    for entry in (p for p in cache.rglob("*") if p.is_file() and not p.name.startswith(".")):
        raw = entry.read_bytes()
        newline = raw.index(b"\n")
        header = json.loads(raw[:newline])
        names = [name for name, _ in header["parts"]]
        if part not in names:
            continue
        offset, parts = newline + 1, {}
        for name, size in header["parts"]:
            parts[name] = raw[offset:offset + size]
            offset += size
        parts[part] = change(parts[part])
        header["parts"] = [[name, len(parts[name])] for name in names]
        entry.write_bytes(json.dumps(header).encode() + b"\n" + b"".join(parts[n] for n in names))
        changed += 1
    return changed


def test_corrupt_figure_and_theory_entries_are_reported_and_recomputed(project):
    _set_seed(project, None)
    _run(project, "build", "--strict", env=_environment())
    before = _tree(project / GENERATED, skip={TIMINGS, VOLATILE})
    cache = project / ".stabreport-cache"
    assert _rewrite_entries(cache, ".png", lambda data: bytes(len(data))) >= 10  # zeroed PNGs
    assert _rewrite_entries(cache, "value.json", lambda data: re.sub(
        rb"\d\.\d+", b"0.999", data)) >= 10  # theory memos: critical scales, cells, curves
    shutil.rmtree(project / GENERATED)
    done = _run(project, "build", "--strict", env=_environment())
    assert "fails its checksum; recomputing" in done.stderr
    assert _tree(project / GENERATED, skip={TIMINGS, VOLATILE}) == before


def test_a_second_build_never_touches_the_first_builds_trees(project):
    """Recovery and clean-up happen under the lock: while one build is between its two renames
    (its new tree staged, the old one set aside), a second build waits, and then finds the
    first one's work whole."""
    _run(project, "build", env=_environment())
    generated = project / GENERATED
    staged = generated.parent / ".generated-new-held"
    aside = generated.parent / ".generated-old-held"
    release, held = threading.Event(), threading.Event()

    def first_build_between_renames():
        with project_lock(project, open(os.devnull, "w")):
            shutil.copytree(generated, staged)
            generated.rename(aside)
            held.set()
            release.wait(60)
            staged.rename(generated)
            shutil.rmtree(aside)

    first = threading.Thread(target=first_build_between_renames)
    first.start()
    held.wait(10)
    second = subprocess.Popen([str(BIN / "stabreport"), "build", "--root", str(project)],
                              env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    time.sleep(3)
    assert second.poll() is None and staged.is_dir() and aside.is_dir()  # waiting, untouched
    release.set()
    first.join()
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "waiting for another build" in err
    assert _consistent(generated) and not list(generated.parent.glob(".generated-*"))


# --- a killed build leaves nothing running ---------------------------------------------------------

def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("command", [["build", "--no-cache", "--jobs", "2"], ["site"]])
def test_a_killed_build_leaves_no_process_running(project, command):
    changes = contextlib.ExitStack()
    if command == ["site"]:
        changes.enter_context(_stylesheet_changed(project))
    _set_seed(project, 55)
    process = subprocess.Popen([str(BIN / "stabreport"), *command, "--root", str(project)],
                               env=_environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wanted = 3 if command[0] == "build" else 1  # two workers and their tracker; MkDocs
        deadline = time.monotonic() + 60
        while len(_descendants(process.pid)) < wanted and time.monotonic() < deadline:
            time.sleep(0.05)
        started = _descendants(process.pid)
        assert len(started) >= wanted, started
        process.kill()
        process.wait()
        deadline = time.monotonic() + 5
        while [p for p in started if _running(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in started if _running(p)] == [], "processes outlived the killed build"
    finally:
        changes.close()
        _set_seed(project, None)
    # The next build removes what the dead one staged, under the lock.
    _run(project, "build", "--strict", env=_environment())
    _run(project, "site", "--no-handout", env=_environment())
    assert not list(project.glob(".site-*")) and not list((project / "docs").glob(".generated-*"))


# --- input and output errors: one line, the path and the cause --------------------------------------

@pytest.mark.parametrize("fault,cause", [("disk-full", "No space left on device"),
                                         ("read-only", "Read-only file system")])
@pytest.mark.parametrize("command", ["build", "site"])
def test_a_full_disk_or_read_only_output_is_one_line_and_keeps_the_output(project, fault, cause,
                                                                          command):
    _run(project, "build", "--strict", env=_environment())
    _run(project, "site", "--no-handout", env=_environment())
    before = (_tree(project / GENERATED), _tree(project / SITE))
    if command == "build":
        _set_seed(project, 91)  # a change to write
    try:
        with _stylesheet_changed(project) if command == "site" else contextlib.nullcontext():
            done = _run(project, command, env=_environment(STABREPORT_FAULT=fault), check=False)
    finally:
        _set_seed(project, None)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[-1].startswith("stabreport: error: ") and lines[-1].endswith(cause), lines[-1]
    assert str(project) in lines[-1]  # the path it could not write
    assert (_tree(project / GENERATED), _tree(project / SITE)) == before
    assert not list(project.glob(".site-*")) and not list((project / "docs").glob(".generated-*"))


def _file_size_limit(limit: int):
    """A real write failure, as a full disk gives (root cannot fake one otherwise): no file of the
    command may grow beyond `limit` bytes, so the first larger write fails with EFBIG."""
    import resource

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


@pytest.mark.parametrize("command", ["build", "site"])
def test_a_write_that_really_fails_names_the_published_path_and_keeps_the_output(project, command):
    """Not the test hook: the kernel refuses the write itself. The build's cache says once that
    it goes on uncached; the command's last line names the file where it would have been
    published (not a staging tree, not MkDocs' traceback); both trees are as they were."""
    _run(project, "build", "--strict", env=_environment())
    _run(project, "site", "--no-handout", env=_environment())
    before = (_tree(project / GENERATED), _tree(project / SITE))
    if command == "build":
        _set_seed(project, 92)
    try:
        with _stylesheet_changed(project) if command == "site" else contextlib.nullcontext():
            # Figures of the small project reach ~300 kB, the site's bundled scripts ~1 MB.
            done = _run(project, command, env=_environment(), check=False,
                        preexec_fn=_file_size_limit(200_000 if command == "build" else 500_000))
    finally:
        _set_seed(project, None)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    published = str(project / (GENERATED if command == "build" else SITE)) + "/"
    assert lines[-1].startswith(f"stabreport: error: {published}"), lines[-1]
    assert lines[-1].endswith(": File too large"), lines[-1]
    warned = [line for line in lines if line.startswith("stabreport: warning: cache entry")]
    assert len(warned) == (command == "build"), done.stderr  # once, not once per entry
    assert (_tree(project / GENERATED), _tree(project / SITE)) == before
    assert not list(project.glob(".site-*")) and not list((project / "docs").glob(".generated-*"))


def test_a_cache_entry_replaced_by_a_folder_is_recomputed_and_replaced(tmp_path):
    from stabreport.core.cache import Store

    store = Store(tmp_path)
    key = "ab" + "0" * 62
    store.path(key).mkdir(parents=True)
    (store.path(key) / "stray").write_text("x")
    with pytest.warns(UserWarning, match="cannot be read"):
        assert store.get(key) is None
    store.put(key, {"value.json": b"1"})
    assert store.get(key) == {"value.json": b"1"}


def test_clean_waits_for_a_running_build(tmp_path):
    """`stabreport clean` takes the project's lock: while a build holds it, clean waits (and
    says so), and only then removes what the build made."""
    from helpers import copy_project

    root = copy_project(tmp_path / "project")
    generated = root / GENERATED
    generated.mkdir(parents=True)
    (generated / "index.md").write_text("# built\n")
    release, held = threading.Event(), threading.Event()

    def a_build():
        with project_lock(root, open(os.devnull, "w")):
            held.set()
            release.wait(60)

    build = threading.Thread(target=a_build)
    build.start()
    held.wait(10)
    cleaning = subprocess.Popen([str(BIN / "stabreport"), "clean", "--root", str(root)],
                                stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    try:
        assert cleaning.poll() is None and (generated / "index.md").exists()
    finally:
        release.set()
        build.join()
    _, err = cleaning.communicate(timeout=60)
    assert cleaning.returncode == 0 and "waiting for another build" in err
    assert not generated.exists()


@pytest.mark.site
def test_the_published_trees_are_readable_by_another_user(site):
    """site/ and docs/generated/ are swapped in from private temporary folders; they are
    published with a folder's usual mode, so a web server running as another user reads them."""
    umask = os.umask(0)
    os.umask(umask)
    for tree in (site / "site", site / GENERATED):
        assert tree.stat().st_mode & 0o777 == 0o777 & ~umask, (tree, oct(tree.stat().st_mode))
        assert tree.stat().st_mode & 0o005 == 0o005 & ~umask
