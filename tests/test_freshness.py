"""What decides that a build or a site is up to date: an edit to the code (the MkDocs plugin
among it), a template, an asset, a catalogue, the config or mkdocs.yml is a new build and a new
site; an edit to anything else is neither. Checked on the records' inputs, without building."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import copy_project
from stabreport.project import KINDS, Project, shipped
from stabreport.publish import fingerprint
from stabreport.publish.fingerprint import build_fingerprint
from stabreport.publish.site import site_inputs_digest


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    # A copy of the package's code, so that its MkDocs plugin can be edited.
    package = tmp_path / "package"
    shutil.copytree(fingerprint.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "PACKAGE", package)
    return copy_project(tmp_path / "project")


def _records(root: Path) -> tuple[str, str]:
    return build_fingerprint(root, root / "stabreport.yml", strict=True), site_inputs_digest(root)


def _own(root: Path, kind: str, relative: str) -> Path:
    """The project's copy of a shipped file, to be edited."""
    target = root / KINDS[kind] / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped(kind) / relative, target)
    return target


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


EDITS = {
    "the MkDocs plugin": lambda root: _append(fingerprint.PACKAGE / "mkdocs_plugin.py", "\n# edited\n"),
    "a template": lambda root: _append(_own(root, "templates", "index.md.j2"), "\n{# edited #}\n"),
    "a catalogue": lambda root: _append(
        _own(root, "locales", "zh_CN/LC_MESSAGES/messages.po"), '\nmsgid "edited"\nmsgstr "改"\n'),
    "the project's config words": lambda root: _append(
        root / "locales" / "zh_CN" / "LC_MESSAGES" / "report.po", '\nmsgid "edited"\nmsgstr "改"\n'),
    "the config": lambda root: _append(root / "stabreport.yml", "\n# edited\n"),
    "mkdocs.yml": lambda root: _append(root / "mkdocs.yml", "\n# edited\n"),
}
SITE_ONLY = {
    "an asset": lambda root: _append(_own(root, "assets", "stylesheets/extra.css"), "\n/* edited */\n"),
    "a page of docs/": lambda root: (root / "docs").mkdir(exist_ok=True) or
        (root / "docs" / "notes.md").write_text("# Notes\n"),
}
NEITHER = {
    "a file beside the project's": lambda root: (root / "NOTES.txt").write_text("to do\n"),
    "a compiled module": lambda root: (fingerprint.PACKAGE / "__pycache__").mkdir(exist_ok=True) or
        (fingerprint.PACKAGE / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_to_an_input_is_a_new_build_and_a_new_site(project, edit):
    build, site = _records(project)
    EDITS[edit](project)
    new_build, new_site = _records(project)
    assert new_build != build and new_site != site


@pytest.mark.parametrize("edit", sorted(SITE_ONLY))
def test_an_edit_to_what_only_the_site_reads_is_a_new_site(project, edit):
    build, site = _records(project)
    SITE_ONLY[edit](project)
    new_build, new_site = _records(project)
    assert new_build == build and new_site != site


@pytest.mark.parametrize("edit", sorted(NEITHER))
def test_nothing_else_is_a_rebuild(project, edit):
    before = _records(project)
    NEITHER[edit](project)
    assert _records(project) == before


def test_the_records_are_stable(project):
    assert _records(project) == _records(project)
    assert Project(project).own("templates") is None  # the package's templates until one is copied


def test_a_new_site_address_in_the_environment_is_a_new_build_and_a_new_site(project, monkeypatch):
    """STABREPORT_SITE_URL (the address the project's mkdocs.yml reads with !ENV) changes the
    canonical links, CITATION.cff, the BibTeX and the explorer: it is in both records."""
    monkeypatch.setenv("STABREPORT_SITE_URL", "https://one.example/report/")
    before = _records(project)
    monkeypatch.setenv("STABREPORT_SITE_URL", "https://two.example/report/")
    after = _records(project)
    assert after[0] != before[0] and after[1] != before[1]
