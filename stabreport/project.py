"""A report project: its folder, and the package's files under it (standard library and PyYAML).

stabreport ships everything a build needs as package data: the templates (stabreport.templates,
the repository's top-level templates/), the site's assets (stabreport/assets/: KaTeX, Vega, the
iframe-worker shim with their licences, stylesheets, scripts), the editions' catalogues
(stabreport/locales/), the base MkDocs configuration (stabreport/publish/mkdocs.yml) and the
default report. A project is a folder with a stabreport.yml and whatever it overrides, by the
same relative path, the way MkDocs themes are overridden with `custom_dir`:
templates/sections/relu-normal.md.j2 in a project replaces the shipped one; docs/assets/… replaces
the shipped asset of the same path; locales/zh_CN/LC_MESSAGES/messages.po the shipped catalogue.
Everything the project does not override comes from the package.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError
from .paths import CONFIG

PACKAGE = Path(__file__).resolve().parent
MKDOCS = "mkdocs.yml"  # a project's own MkDocs settings (optional): they override the base
EFFECTIVE_MKDOCS = ".stabreport-mkdocs.yml"  # what MkDocs reads: the base with the project's over it
BASE_MKDOCS = PACKAGE / "publish" / "mkdocs.yml"

# The kinds of file a project can override: where the project keeps them, relative to its root.
KINDS = {"templates": Path("templates"), "assets": Path("docs") / "assets", "locales": Path("locales")}


@lru_cache(maxsize=None)
def shipped(kind: str) -> Path:
    """The package's folder of `kind` (templates, assets, locales)."""
    if kind == "templates":  # a package of its own: setuptools maps the top-level templates/
        return Path(str(resources.files("stabreport.templates"))).resolve()
    return PACKAGE / kind


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.name != "__init__.py"}


@dataclass(frozen=True)
class Project:
    """A project root and the package's defaults under it."""

    root: Path

    def own(self, kind: str) -> Path | None:
        """The project's folder of `kind`, unless it is the package's own (in this repository,
        whose top-level templates/ is the package's templates)."""
        folder = self.root / KINDS[kind]
        if not folder.is_dir() or folder.resolve() == shipped(kind):
            return None
        return folder

    def folders(self, kind: str) -> list[Path]:
        """Where files of `kind` are looked up, first match wins: the project's, then the package's."""
        own = self.own(kind)
        return ([own] if own is not None else []) + [shipped(kind)]

    def files(self, kind: str) -> dict[str, Path]:
        """Every file of `kind` by its relative path, each from where it is used."""
        merged: dict[str, Path] = {}
        for folder in reversed(self.folders(kind)):
            merged.update(_files(folder))
        return dict(sorted(merged.items()))

    def find(self, kind: str, relative: str) -> Path | None:
        for folder in self.folders(kind):
            candidate = folder / relative
            if candidate.is_file():
                return candidate
        return None

    def origin(self, path: Path) -> str:
        """Where a file found by `files` or `find` comes from: "project" or "stabreport"."""
        return "stabreport" if any(path.is_relative_to(shipped(k)) for k in KINDS) else "project"

    # --- MkDocs ---------------------------------------------------------------------------------

    def mkdocs_settings(self) -> dict[str, Any]:
        """The MkDocs configuration the site is built with, as stabreport reads it (the site's
        address, its scripts and stylesheets): the package's base, with the project's
        mkdocs.yml over it (mappings merge key by key, anything else replaces, as MkDocs'
        INHERIT does); `!ENV` tags are resolved, tags only MkDocs resolves (`!!python/name:`,
        `!relative`) read as None."""
        return merge(_load_yaml(BASE_MKDOCS), self._own_mkdocs()[1])

    def _own_mkdocs(self) -> tuple[str, dict[str, Any]]:
        """The project's mkdocs.yml as written and as read ("" and {} where it has none)."""
        own = self.root / MKDOCS
        if not own.is_file():
            return "", {}
        project = _load_yaml(own)
        if not isinstance(project, dict):
            raise ConfigError(f"{own}: got a {type(project).__name__}; allowed: a mapping of "
                              "MkDocs settings such as site_url")
        return own.read_text(encoding="utf-8"), project

    def write_mkdocs_config(self) -> Path:
        """The configuration MkDocs reads, beside the project's own (so that its relative paths,
        docs_dir and watch, are the project's): the project's mkdocs.yml as written, inheriting
        the package's base (MkDocs' own INHERIT, which keeps every tag MkDocs knows); written
        only when its bytes change. A project's settings that would break the site are refused."""
        own = self.root / MKDOCS
        text, project = self._own_mkdocs()
        if "INHERIT" in project:
            raise ConfigError(f"{own}: INHERIT got {project['INHERIT']!r}; allowed: no INHERIT (the "
                              "base configuration stabreport ships is inherited already)")
        if project.get("docs_dir", "docs") not in ("docs", "docs/"):
            raise ConfigError(f"{own}: docs_dir got {project['docs_dir']!r}; allowed: docs_dir left "
                              "out (stabreport writes docs/generated)")
        plugins = merge(_load_yaml(BASE_MKDOCS), project).get("plugins") or []
        names = [next(iter(p)) if isinstance(p, dict) else p for p in plugins]
        if "stabreport" not in names:
            raise ConfigError(f"{own}: plugins got {names}; allowed: a list that keeps stabreport "
                              "(with search and offline, as the base has them: a list replaces "
                              "the base's)")
        lines = ["# Written by stabreport: this project's mkdocs.yml over the base configuration",
                 "# stabreport ships; edit mkdocs.yml instead (`stabreport list --files`).",
                 f"INHERIT: {json.dumps(str(BASE_MKDOCS))}"]
        # `mkdocs serve` re-renders when the report's own files change (the plugin rebuilds).
        watched = [name for name in ("templates", "locales", CONFIG, MKDOCS) if (self.root / name).exists()]
        if watched and "watch" not in project:
            lines.append(f"watch: {json.dumps(watched)}")
        effective = "\n".join(lines) + "\n" + text
        path = self.root / EFFECTIVE_MKDOCS
        if not path.is_file() or path.read_text(encoding="utf-8") != effective:
            staging = path.with_name(f"{path.name}.tmp-{os.getpid()}")
            staging.write_text(effective, encoding="utf-8")
            staging.replace(path)
        return path


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: nested mappings merge key by key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _load_yaml(path: Path) -> Any:
    """A MkDocs YAML file with `!ENV` tags resolved as MkDocs resolves them (its own constructor,
    from pyyaml-env-tag, without importing MkDocs); any other tag (`!!python/name:…`,
    `!relative`) reads as None: stabreport reads none of the settings that use them."""
    import yaml
    from yaml_env_tag import construct_env_tag

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!ENV", construct_env_tag)
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=Loader) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]}); allowed: a "
                          "MkDocs configuration") from None


# --- a new project ------------------------------------------------------------------------------

SKELETON = PACKAGE / "report" / "skeleton"  # what `stabreport new` writes (gitignore → .gitignore)
DEFAULT_PROSE = ("*.md.j2", "sections/*.md.j2")  # what --from-default copies: the pages' prose


def new_project(target: Path, from_default: bool = False) -> Path:
    """Start a report project in `target` (a new or empty folder): a small report of one page,
    one section and one sweep, or (`from_default`) the lecture's whole report with its pages'
    and sections' prose copied into templates/ to edit. Written into a staging folder first, so
    that a failure leaves nothing half-written."""
    import shutil
    import tempfile

    from .report.config import default_text

    given, target = str(target), target.resolve()  # "." and "$PWD" name the folder itself
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "a file" if not target.is_dir() else "a folder that is not empty"
        raise ConfigError(f"new got {given!r}: {what}; allowed: a new folder, or an empty one")
    parent = target.parent
    if not parent.is_dir():
        raise ConfigError(f"new got {given!r}: {parent} does not exist; allowed: a folder "
                          "whose parent exists")
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}-new-"))
    try:
        for path in sorted(SKELETON.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                name = path.relative_to(SKELETON).as_posix()
                if from_default and name.startswith("templates/"):
                    continue
                out = staging / (".gitignore" if name == "gitignore" else name)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, out)
        if from_default:
            (staging / CONFIG).write_text(
                "# The lecture's whole report, to edit. `extends: none`: every key below is this\n"
                "# project's own (it was stabreport's default report, whose comments follow).\n"
                "extends: none\n" + default_text(), encoding="utf-8")
            templates = shipped("templates")
            for pattern in DEFAULT_PROSE:
                for path in sorted(templates.glob(pattern)):
                    out = staging / "templates" / path.relative_to(templates)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, out)
        (staging / "docs").mkdir()
        (staging / "docs" / ".gitignore").write_text("/generated/\n", encoding="utf-8")
        if target.exists():  # an empty folder of the user's: it keeps its mode and owner
            moved = []
            try:
                for child in sorted(staging.iterdir()):
                    child.rename(target / child.name)
                    moved.append(target / child.name)
            except BaseException:
                for path in moved:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                raise
            staging.rmdir()
        else:
            umask = os.umask(0)
            os.umask(umask)
            staging.chmod(0o777 & ~umask)  # a folder as mkdir makes it (mkdtemp's is private)
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
