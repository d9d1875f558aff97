"""Notebooks for the classroom: one Jupyter notebook per page that holds settings, which reruns
every setting of the page as the build ran it (`stabreport.api.run`) and prints the numbers the
page shows, and a zip of them all.

What a notebook says and does comes from templates/notebook/page.py.j2 (cells marked as in the
"percent" format); this module hands the template the page's settings and the build's tasks,
splits what it renders into cells and writes them as nbformat v4 without outputs. The same report
and templates give the same bytes: cell ids count up, the zip's entries are sorted and dated 1980.
"""
from __future__ import annotations

import io
import zipfile
from typing import Any, Iterable, Mapping, Sequence

import jinja2
import nbformat
from markupsafe import Markup

from ..report.model import Page, Report
from ..core.engine import FULL, Task
from ..errors import BuildError, ConfigError

FOLDER = "notebooks"  # under docs/generated, so served at <site>/notebooks/
ARCHIVE = "stabreport-notebooks.zip"
TEMPLATE = "notebook/page.py.j2"
MARKDOWN_MARK, CODE_MARK = "# %% [markdown]", "# %%"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build time in the bytes
OWN = __name__.partition(".")[0]  # experiments from elsewhere are named for the reader to install


def notebook_pages(report: Report) -> list[Page]:
    """The pages that get a notebook: those holding settings, each of which forms a matrix (a
    notebook prints a matrix's statistics: the training page has none), in navigation order."""
    holding = {section.page for section in report.sections if section.settings}
    other = {section.page for section in report.sections for s in section.settings
             if not s.experiment.forms_matrix(s.params)}
    return [page for page in report.pages if page.id in holding - other]


def notebook_files(env: jinja2.Environment, report: Report, tasks: Iterable[Task],
                   site_url: str) -> dict[str, bytes]:
    """notebooks/<page>.ipynb for every page with settings and notebooks/stabreport-notebooks.zip,
    by file name under docs/generated. `tasks` are the build's full-path tasks, one per setting:
    each notebook cell runs exactly one of them."""
    full = {task.name: task for task in tasks if task.path == FULL}
    overlay = env.overlay(cache_size=0)  # its own templates: "py" is a filter of the overlay only
    overlay.filters = {**env.filters, "py": _python_literal, "comment": _comment}
    try:
        template = overlay.get_template(TEMPLATE)
    except jinja2.TemplateError as error:
        raise BuildError(f"templates/{TEMPLATE}: {error}") from None
    notebooks, problems = {}, []
    for page in notebook_pages(report):
        sections = [s for s in report.sections if s.page == page.id and s.settings]
        shown = {}
        for setting in (s for section in sections for s in section.settings):
            task = full.get(setting.id)
            if task is None:
                problems.append(f"notebook {page.id}: setting {setting.id} has no task to run")
                continue
            shown[setting.id] = _shown_params(setting.experiment, task, problems)
        sources = sorted({section.experiment.source for section in sections
                          if _distribution(section.experiment.source) != OWN})
        try:
            text = template.render(page=page, sections=sections, tasks=full, shown=shown,
                                   sources=sources, report=report, site_url=site_url)
        except Exception as error:  # noqa: BLE001 - named by the template, collected
            problems.append(f"templates/{TEMPLATE} (page {page.id}): {type(error).__name__}: {error}")
            continue
        notebooks[f"{page.id}.ipynb"] = notebook_bytes(split_cells(text))
    if problems:
        raise BuildError("\n".join(problems))
    files = {f"{FOLDER}/{name}": content for name, content in notebooks.items()}
    if notebooks:
        files[f"{FOLDER}/{ARCHIVE}"] = zip_bytes(
            {f"{ARCHIVE.removesuffix('.zip')}/{name}": content for name, content in notebooks.items()})
    return files


def _shown_params(experiment: Any, task: Task, problems: list[str]) -> dict[str, Any]:
    """The parameters a cell writes: the task's, without those that do not apply (None). They
    must give back the task's parameters, or the notebook would run another setting."""
    shown = {key: value for key, value in task.params.items() if value is not None}
    try:
        same = experiment.canonical_params(shown) == dict(task.params)
    except ConfigError:
        same = False
    if not same:
        problems.append(f"notebook: setting {task.name}: the parameters {shown} do not give back "
                        f"{dict(task.params)}; allowed: parameters that canonicalise to themselves")
    return shown


def _distribution(source: str) -> str:
    """The distribution's name in an experiment's `source` ("name version", or a module path)."""
    return source.partition(" ")[0].partition(".")[0]


def _python_literal(value: Any) -> Markup:
    """A Python literal for a code cell (config text stays text: repr quotes and escapes it)."""
    if isinstance(value, str):
        value = str(value)  # ConfigText's repr is a plain string's
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise BuildError(f"notebook: {value!r} is not a number, a string or None; allowed: those")
    return Markup(repr(value))


def _comment(value: Any) -> Markup:
    """Text for a Python comment: one line (every line break and control character a space), so
    that nothing after the '#' can become code."""
    import unicodedata

    return Markup("".join(" " if unicodedata.category(c).startswith(("C", "Z")) and c != " " else c
                          for c in str(value)))


def split_cells(text: str) -> list[tuple[str, str]]:
    """(kind, source) of every cell of a rendered template: "markdown" or "code", blank lines at
    either end of a cell dropped, empty cells left out."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.rstrip() in (MARKDOWN_MARK, CODE_MARK):
            cells.append(("markdown" if line.rstrip() == MARKDOWN_MARK else "code", []))
        elif cells:
            cells[-1][1].append(line.rstrip())
        elif line.strip():
            raise BuildError(f"templates/{TEMPLATE}: text before the first cell mark "
                             f"({MARKDOWN_MARK!r} or {CODE_MARK!r}): {line.strip()!r}")
    out = [(kind, "\n".join(lines).strip("\n")) for kind, lines in cells]
    return [(kind, source) for kind, source in out if source.strip()]


def notebook_bytes(cells: Sequence[tuple[str, str]]) -> bytes:
    """An nbformat v4 notebook without outputs, its cells numbered cell-1, cell-2, ..."""
    made = [nbformat.v4.new_markdown_cell(source, id=f"cell-{i}") if kind == "markdown"
            else nbformat.v4.new_code_cell(source, id=f"cell-{i}")
            for i, (kind, source) in enumerate(cells, start=1)]
    notebook = nbformat.v4.new_notebook(cells=made, metadata={
        "kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    text = nbformat.writes(notebook, version=4)
    return (text if text.endswith("\n") else text + "\n").encode()


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of `files` that depends on their names and bytes only: sorted, fixed dates and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, wherever it is built
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()
