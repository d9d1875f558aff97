"""Is the output already up to date? Answered with the standard library only, before numpy,
scipy, matplotlib or MkDocs are imported, so that a rebuild with nothing changed costs a blink.

A build's fingerprint hashes everything its output depends on: the stabreport source and its
embedded config, the user's config, the templates, mkdocs.yml (site_url), the versions of the
packages named on the pages, the git commit and the build date. A manifest written after a
successful build records the fingerprint and the hash of every file written; the build is
skipped only when both still match.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..paths import TIMINGS, VOLATILE
from ..project import MKDOCS, Project

PACKAGE = Path(__file__).resolve().parents[1]  # the stabreport package
MANIFEST = ".manifest.json"
VERSIONED = ("numpy", "scipy", "matplotlib", "jinja2", "mkdocs", "mkdocs-material", "pyyaml")


def tree_digest(paths: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts] \
        if folder.is_dir() else []


def build_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%d")


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, check=True,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    found = {}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def plugin_packages() -> list[Path]:
    """The source folders of packages that register anything under a `stabreport.*` entry-point
    group (experiments, figure kinds, statistics, ...; stabreport itself excluded), found from
    their entry points without importing them: their code, templates and catalogues."""
    import importlib.util

    folders = set()
    entries = [entry for dist in metadata.distributions() for entry in dist.entry_points
               if entry.group.startswith("stabreport.")]
    for entry in entries:
        top = entry.value.partition(":")[0].partition(".")[0]
        if top == "stabreport":
            continue
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            origin = Path(spec.origin)
            folders.add(origin.parent if origin.name == "__init__.py" else origin)
    return sorted(folders)


def files_digest(files: Mapping[str, Path]) -> str:
    """One hash of files named by their relative paths (where they are read from aside)."""
    digest = hashlib.sha256()
    for name, path in sorted(files.items()):
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def project_files(root: Path, *kinds: str) -> dict[str, Path]:
    """The files of `kinds` a project's build uses (its own, else the package's), as
    "<kind>/<relative path>"."""
    project = Project(root)
    return {f"{kind}/{name}": path for kind in kinds for name, path in project.files(kind).items()}


def mkdocs_digest(root: Path) -> str:
    """The project's mkdocs.yml as written and its settings as read (`!ENV` resolved): a new
    address in STABREPORT_SITE_URL is a new build and a new site."""
    own = root / MKDOCS
    return hashlib.sha256(json.dumps({
        "text": own.read_text(encoding="utf-8") if own.is_file() else None,
        "settings": Project(root).mkdocs_settings()}, sort_keys=True, default=str).encode()).hexdigest()


def software_digest() -> dict[str, Any]:
    """The one hash of the code a build or a site is made by: every file of the stabreport
    package (its modules, the MkDocs plugin, the handout's printer, the base configuration, the
    shipped templates, assets and catalogues) and of every plug-in package."""
    return {"stabreport": tree_digest(_files(PACKAGE), PACKAGE),
            "plugins": {str(folder): tree_digest(_files(folder) if folder.is_dir() else [folder],
                                                 folder.parent) for folder in plugin_packages()}}


def build_fingerprint(root: Path, config: Path | None, strict: bool) -> str:
    parts = {
        "code": software_digest(),
        # The templates and the editions' words used, the project's or the package's.
        "project": files_digest(project_files(root, "templates", "locales")),
        "config": hashlib.sha256(config.read_bytes()).hexdigest() if config and config.is_file() else None,
        # The site's settings as the build reads them (site_url with its !ENV resolved).
        "mkdocs": mkdocs_digest(root),
        "versions": versions(), "commit": git_commit(root), "date": build_date(), "strict": strict,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read_manifest(folder: Path, name: str = MANIFEST) -> Mapping | None:
    try:
        return json.loads((folder / name).read_text())
    except (OSError, ValueError):
        return None


def changed_since_built(folder: Path, fingerprint: str, manifest: str = MANIFEST,
                        skip: Iterable[str] = ()) -> str | None:
    """Why `folder` does not hold exactly what the build with this fingerprint wrote (its inputs
    changed, or a file is missing, altered or added since), or None when it does."""
    recorded = read_manifest(folder, manifest)
    if not recorded or recorded.get("fingerprint") != fingerprint:
        return "its inputs changed"
    ignore = {manifest, *skip}
    files = {p.relative_to(folder).as_posix(): p for p in _files(folder)
             if p.relative_to(folder).as_posix() not in ignore}
    listed = recorded.get("files", {})
    for name in sorted(set(listed) - set(files)):
        return f"{name} is missing"
    for name in sorted(set(files) - set(listed)):
        return f"{name} was added"
    for name, digest in sorted(listed.items()):
        if hashlib.sha256(files[name].read_bytes()).hexdigest() != digest:
            return f"{name} was altered"
    return None


def up_to_date(folder: Path, fingerprint: str) -> bool:
    """True when docs/generated holds exactly what the build with this fingerprint wrote: every
    file of the manifest unaltered, none added, and the timings page as that build left it."""
    volatile = (read_manifest(folder, VOLATILE) or {}).get("files", {})
    if changed_since_built(folder, fingerprint, skip=(TIMINGS, VOLATILE, *volatile)) is not None:
        return False
    try:
        return bool(volatile) and all(
            hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
            for name, digest in volatile.items())
    except OSError:
        return False


def manifest_text(fingerprint: str, files: Mapping[str, bytes]) -> str:
    return json.dumps({"fingerprint": fingerprint,
                       "files": {name: hashlib.sha256(content).hexdigest()
                                 for name, content in sorted(files.items())}},
                      indent=1, sort_keys=True) + "\n"
