"""Where stabreport reads and writes, relative to the project root (standard library only)."""
from __future__ import annotations

from pathlib import Path

GENERATED = Path("docs") / "generated"  # generated pages, figures and data; git ignores it
CACHE = Path(".stabreport-cache")  # results and drawn figures, keyed by content hashes
SITE = Path("site")  # the built website
FOOTER = ".footer.html"  # provenance line for every page's footer; a dot file, so not published
NAV = ".nav.json"  # the navigation, from the page registry, for the MkDocs plugin
TIMINGS = "timings.md"  # the one generated page that varies between builds of the same inputs
LOCK = ".stabreport.lock"  # held while a build writes, so that two builds never interleave

CONFIG = "stabreport.yml"  # the report config's overrides, next to mkdocs.yml


def find_config(root: str | Path, explicit: str | None) -> Path | None:
    """The config to read: the one named on the command line, else ./stabreport.yml if present."""
    if explicit is not None:
        return Path(explicit)
    candidate = Path(root) / CONFIG
    return candidate if candidate.exists() else None


def fault_point(name: str) -> None:
    """Test hook: die here, as SIGKILL would, when STABREPORT_FAULT names this point. The fault
    tests use it to stop a build at the moments a random kill would rarely hit."""
    import os
    import signal

    if os.environ.get("STABREPORT_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def recover(directory: Path) -> None:
    """Undo what a writer killed mid-swap left beside `directory`: the old tree, renamed to
    .<name>-old-*, goes back if nothing replaced it; half-written .<name>-new-* trees go."""
    import shutil

    for old in sorted(directory.parent.glob(f".{directory.name}-old-*")):
        if not directory.exists():
            old.rename(directory)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for new in directory.parent.glob(f".{directory.name}-new-*"):
        shutil.rmtree(new, ignore_errors=True)


def swap_in(staging: Path, directory: Path, fault: str) -> None:
    """Replace `directory` by the complete tree `staging` with two renames; the old tree waits
    beside it as .<name>-old-* in between (see `recover`)."""
    import shutil
    import tempfile

    if not directory.exists():
        staging.rename(directory)
        return
    old = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-old-"))
    old.rmdir()
    directory.rename(old)
    fault_point(fault)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
