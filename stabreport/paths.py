"""Where stabreport reads and writes, relative to the project root (standard library only)."""
from __future__ import annotations

from pathlib import Path

GENERATED = Path("docs") / "generated"  # generated pages, figures and data; git ignores it
CACHE = Path(".stabreport-cache")  # results and drawn figures, keyed by content hashes
SITE = Path("site")  # the built website
FOOTER = ".footer.html"  # provenance line for every page's footer; a dot file, so not published
TIMINGS = "timings.md"  # the one generated page that varies between builds of the same inputs
LOCK = ".stabreport.lock"  # held while a build writes, so that two builds never interleave

CONFIG = "stabreport.yml"  # the report config's overrides, next to mkdocs.yml


def find_config(root: str | Path, explicit: str | None) -> Path | None:
    """The config to read: the one named on the command line, else ./stabreport.yml if present."""
    if explicit is not None:
        return Path(explicit)
    candidate = Path(root) / CONFIG
    return candidate if candidate.exists() else None
