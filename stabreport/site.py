"""`mkdocs build --strict` into site/, so that a failed or killed build never costs the last
good site: MkDocs writes into a temporary folder beside site/, which replaces site/ only when
the build succeeded. Skipped when nothing under docs/, nor mkdocs.yml, changed since site/ was
built. Standard library only; MkDocs runs in its own process.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import BuildError
from .fingerprint import tree_digest
from .lock import project_lock
from .paths import SITE, recover, swap_in

RECORD = ".stabreport-site.json"  # in site/: the digest of the inputs it was built from


def site_inputs_digest(root: Path) -> str:
    files = [p for p in (root / "docs").rglob("*") if p.is_file()]
    files += [root / "mkdocs.yml"]
    return hashlib.sha256(json.dumps({
        "inputs": tree_digest(files, root),
        "epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "site_url": os.environ.get("STABREPORT_SITE_URL")}).encode()).hexdigest()


def build_site(root: Path, stream=sys.stderr) -> bool:
    """Build site/ if its inputs changed; return whether it was built."""
    with project_lock(root, stream):
        return _build_site(root, stream)


def _build_site(root: Path, stream) -> bool:
    recover(root / SITE)
    site = root / SITE
    digest = site_inputs_digest(root)
    try:
        if json.loads((site / RECORD).read_text())["digest"] == digest:
            print(f"{SITE}/ is up to date", file=stream)
            return False
    except (OSError, ValueError, KeyError):
        pass
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{SITE.name}-new-"))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # Not --quiet: it would hide the warnings that --strict counts.
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "--site-dir", str(staging)], cwd=root, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        problems = [line for line in (done.stderr + done.stdout).splitlines()
                    if not line.startswith("INFO")]
        raise BuildError("mkdocs build --strict failed; site/ was left as it was:\n"
                         + "\n".join(problems).strip())
    (staging / RECORD).write_text(json.dumps({"digest": digest}) + "\n")
    swap_in(staging, site, "site-between-renames")
    print(f"built {SITE}/", file=stream)
    return True
