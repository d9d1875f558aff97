"""The classroom notebooks: one per page that holds settings, each rerunning the page's settings
through stabreport.api and printing the numbers the page shows, stored without outputs and built
byte for byte the same. Uses the session's small site (its plug-in page included)."""
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from stabreport.publish.build import GENERATED
from stabreport.report.config import load_report
from stabreport.render.notebooks import ARCHIVE, FOLDER, notebook_pages

pytestmark = pytest.mark.site

CELL_TIMEOUT = 300  # seconds; the small site's settings take a second or two each
_ROW_SPLIT = re.compile(r"(?<!\\)\|")  # a table's cell separator; config text escapes its own "|"
_ANCHOR = re.compile(r'^<span id="([^"]+)"></span>')
_LINK = re.compile(r"\(([^()#]+)\.md#([^()]+)\)$")


@pytest.fixture(scope="module")
def report(site):
    return load_report(site / "stabreport.yml")


@pytest.fixture(scope="module")
def pages(report) -> dict[str, list[str]]:
    """Page id -> the ids of its settings, for every page that should have a notebook."""
    return {page.id: [s.id for section in report.sections if section.page == page.id
                      for s in section.settings]
            for page in notebook_pages(report)}


@pytest.fixture(scope="module")
def executed(site, pages, tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """Every generated notebook, run in a fresh kernel of this environment's Python (the plug-in
    importable through PYTHONPATH, as the `plugin` fixture set it), from an empty folder."""
    folder = tmp_path_factory.mktemp("notebooks-run")
    out = {}
    for page in pages:
        notebook = nbformat.reads((site / GENERATED / FOLDER / f"{page}.ipynb").read_text(), 4)
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(folder)}})
        client.execute(env=dict(os.environ))
        out[page] = notebook
    return out


def _printed(notebook) -> dict[str, dict[str, str]]:
    """What `show` printed: setting id -> {line's name: value}."""
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        for line in text.splitlines():
            if not line.startswith(" "):
                current = blocks.setdefault(line.partition(": ")[0], {})
            elif line.strip().startswith("every run died"):
                current["every run died"] = line.strip()
            else:
                key, _, value = line.strip().partition(": ")
                current["Lecture's statistic" if key.startswith("Lecture's statistic") else key] = value
    return blocks


def _rows(markdown: str, key_of) -> dict[str, dict[str, str]]:
    """Rows of the Markdown tables (not indented) whose cells `key_of` names: id -> {header: cell}."""
    rows, header = {}, None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in _ROW_SPLIT.split(line.strip())[1:-1]]
        if header is None:
            header = cells
        elif not all(set(c) <= set("-: ") for c in cells):
            key = key_of(cells)
            if key is not None:
                rows[key] = dict(zip(header, cells))
    return rows


def _setting_rows(markdown: str) -> dict[str, dict[str, str]]:
    """A page's setting tables: setting id -> row, the lecture's statistic column by one name."""
    rows = _rows(markdown, lambda cells: m.group(1) if (m := _ANCHOR.match(cells[0])) else None)
    return {sid: {("Lecture's statistic" if k.startswith("Lecture's statistic") else k): v
                  for k, v in row.items()} for sid, row in rows.items()}


def _key_findings(markdown: str) -> dict[str, dict[str, str]]:
    """The home page's key findings: setting id -> row."""
    return _rows(markdown, lambda cells: m.group(2) if len(cells) > 1 and (m := _LINK.search(cells[1]))
                 else None)


def test_notebooks_print_the_numbers_of_their_page_and_of_the_key_findings(site, pages, executed):
    generated = site / GENERATED
    findings = _key_findings((generated / "index.md").read_text())
    assert {"products", "mlp", "alive", "near_identity"} <= set(pages)  # the plug-in's page too
    problems = []
    for page, ids in pages.items():
        printed = _printed(executed[page])
        table = _setting_rows((generated / f"{page}.md").read_text())
        for sid in ids:
            missing = [where for where, found in (("notebook output", printed), (f"{page}.md", table),
                                                  ("the key findings", findings)) if sid not in found]
            if missing:
                problems.append(f"{page}: setting {sid} missing from " + ", ".join(missing))
                continue
            shown, row, key = printed[sid], table[sid], findings[sid]
            if row.get("Verdict") == "every run died":
                expected = {"every run died": True, "Live median (5–95 %)": "—",
                            "Verdict": "every run died"}
                got = {"every run died": "every run died" in shown,
                       "Live median (5–95 %)": key.get("Live median (5–95 %)"), "Verdict": key.get("Verdict")}
            else:
                dead = shown.get("Runs that died")
                died = f" ({dead} runs died)" if dead else ""  # "3 of 20" -> "(3 of 20 runs died)"
                pairs = [("Median per run", shown.get("Median per run"), row.get("Median per run")),
                         ("5–95 % of runs", shown.get("5–95 % of runs"), row.get("5–95 % of runs")),
                         ("Verdict", (shown.get("Verdict") or "") + died, row.get("Verdict")),
                         ("key findings: Live median (5–95 %)", shown.get("Live median (5–95 %)"),
                          key.get("Live median (5–95 %)")),
                         ("key findings: Verdict", shown.get("Verdict"), key.get("Verdict"))]
                # Columns a section's table has only sometimes: compared where the page shows them.
                pairs += [(name, shown.get(name), row[name])
                          for name in ("Theory", "Lecture's statistic") if name in row]
                expected = {name: page_value for name, _, page_value in pairs}
                got = {name: notebook_value for name, notebook_value, _ in pairs}
            problems += [f"{page}: {sid}: {name}: notebook {got[name]!r}, page {expected[name]!r}"
                         for name in expected if got[name] != expected[name]]
        extra = set(printed) - set(ids)
        if extra:
            problems.append(f"{page}: the notebook printed settings not on the page: {sorted(extra)}")
    assert problems == []


def test_each_page_with_settings_links_its_notebook_and_the_zip(site, report, pages):
    generated = site / GENERATED
    line = ("Run this page as a notebook: [{0}.ipynb](notebooks/{0}.ipynb) · "
            "[all notebooks (zip)](notebooks/stabreport-notebooks.zip)")
    for page in report.pages:
        text = (generated / f"{page.id}.md").read_text()
        assert (line.format(page.id) in text) == (page.id in pages), page.id
    written = sorted(p.name for p in (generated / FOLDER).iterdir())
    assert written == sorted([f"{page}.ipynb" for page in pages] + [ARCHIVE])
    for name in written:  # MkDocs published them where the links point
        assert (site / "site" / FOLDER / name).read_bytes() == (generated / FOLDER / name).read_bytes()


def test_notebooks_are_stored_without_outputs_and_with_numbered_cells(site, pages):
    folder = site / GENERATED / FOLDER
    with zipfile.ZipFile(folder / ARCHIVE) as archive:
        entries = archive.infolist()
        assert [e.filename for e in entries] == sorted(f"stabreport-notebooks/{p}.ipynb" for p in pages)
        assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}
        zipped = {Path(e.filename).stem: archive.read(e) for e in entries}
    for page in pages:
        raw = (folder / f"{page}.ipynb").read_bytes()
        assert zipped[page] == raw
        notebook = nbformat.reads(raw.decode(), 4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3"
        assert [c.id for c in notebook.cells] == [f"cell-{i}" for i in range(1, len(notebook.cells) + 1)]
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and all(c.outputs == [] and c.execution_count is None for c in code), page


RENDER = """
import hashlib, json, sys
from pathlib import Path
from stabreport.publish.build import setting_tasks
from stabreport.render.cite import site_url
from stabreport.report.config import load_report
from stabreport.render.notebooks import notebook_files
from stabreport.project import Project
from stabreport.render.views import make_environment

root = Path(sys.argv[1])
report = load_report(root / "stabreport.yml")
env = make_environment(Project(root).folders("templates"), report)
files = notebook_files(env, report, setting_tasks(report, paths=("full",)), site_url(root))
again = notebook_files(env, report, setting_tasks(report, paths=("full",)), site_url(root))
assert again == files, "a second render in the same process gave other bytes"
print(json.dumps({name: hashlib.sha256(content).hexdigest() for name, content in files.items()}))
"""


def test_two_renders_in_two_processes_give_the_same_bytes(site):
    """The build's notebooks and zip (rendered in this process) against a render in a fresh
    process with another hash seed, from the same config and templates."""
    folder = site / GENERATED / FOLDER
    built = {f"{FOLDER}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    done = subprocess.run([sys.executable, "-c", RENDER, str(site)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == built
