"""Config text is data: hostile strings in every text field of the config are published as the
literal text they are, with no link, image, script, attribute, formula or formatting made from
them, and the figures that draw them still build."""
import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import PLUGIN_SECTIONS, PLUGIN_SWEEPS, small_config

from stabreport.project import Project
from stabreport.publish.build import build_report
from stabreport.report.config import load_report
from stabreport.errors import ConfigError

BIN = Path(sys.executable).parent
HOSTILE = [
    "[x](javascript:alert(1))",
    "![i](javascript:alert(2))",
    "<script>alert(3)</script>",
    "<img src=x onerror=alert(4)>",
    "$\\href{javascript:alert(5)}{x}$",
    "{ onclick=alert(6) }",
    '" onmouseover="alert(7)',
    "`tick` *star* _under_ | pipe | # hash",
]


def _quoted(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def hostile_config() -> str:
    labels = "".join(f"      - {{id: hostile-{i}, label: {_quoted(t)}, params: {{scale: 0.{i + 1}}}}}\n"
                     for i, t in enumerate(HOSTILE))
    sections = (f"  - id: hostile\n    title: {_quoted('Section ' + HOSTILE[0] + ' ' + HOSTILE[5])}\n"
                f"    experiment: mlp\n    page: hostile-page\n    runs: 12\n    norm_runs: 40\n"
                f"    params: {{width: 16, depth: 6, activation: tanh}}\n    settings:\n{labels}")
    sweeps = (f"  - id: hostile-sweep\n    title: {_quoted(HOSTILE[1] + ' ' + HOSTILE[4])}\n"
              "    experiment: mlp\n    runs: 10\n    params: {activation: tanh, depth: 5}\n"
              "    grid: {scale: [0.5, 1.0, 2.0], width: [8, 16]}\n")
    extra = (f"title: {_quoted('Report ' + HOSTILE[0] + ' ' + HOSTILE[2])}\n"
             f"authors: [{_quoted(HOSTILE[3])}, {_quoted(HOSTILE[6])}]\n"
             f"pages:\n  - {{id: hostile-page, title: {_quoted(HOSTILE[0] + ' ' + HOSTILE[3])}, "
             f"summary: {_quoted(HOSTILE[1] + ' ' + HOSTILE[7])}}}\n"
             "claims:\n"
             f"  - id: hostile-claim\n    section: hostile\n    statement: {_quoted(HOSTILE[0] + ' ' + HOSTILE[4])}\n"
             f"    quote: {_quoted(HOSTILE[2] + ' ' + HOSTILE[5])}\n"
             "    checks: [{setting: hostile-0, not_verdict: explodes}]\n")
    return small_config(PLUGIN_SECTIONS + sections, PLUGIN_SWEEPS + sweeps, extra)


class _Elements(HTMLParser):
    """Elements and attributes as a browser builds them: the content of <title>, like that of
    <script> and <style>, is text (RCDATA), not markup."""

    CDATA_CONTENT_ELEMENTS = ("script", "style", "title")

    def __init__(self):
        super().__init__()
        self.problems, self.text = [], []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if value and re.match(r"\s*javascript:", value, re.I):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.problems.append("<img src=x>")

    def handle_data(self, data):
        self.text.append(data)

    def script_text(self):
        return "".join(self.text)


@pytest.fixture(scope="module")
def hostile_site(site, tmp_path_factory):
    """The session's project with hostile text in every text field (its cache reused)."""
    root = tmp_path_factory.mktemp("hostile") / "project"
    shutil.copytree(site, root, ignore=shutil.ignore_patterns("site", "serve-root"))
    (root / "stabreport.yml").write_text(hostile_config())
    build_report(root=root, stream=open(os.devnull, "w"))
    config = Project(root).write_mkdocs_config()  # the base configuration with the project's over it
    done = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "--config-file", config.name],
                          cwd=root, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr
    return root


def test_hostile_text_makes_no_link_script_attribute_or_element(hostile_site):
    pages = sorted((hostile_site / "site").rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        html = page.read_text()
        parser = _Elements()
        parser.feed(html)
        assert parser.problems == [], f"{page.relative_to(hostile_site)}: {parser.problems}"
        assert "<script>alert(3)" not in html, page


def test_hostile_text_is_shown_literally_where_it_was_written(hostile_site):
    page = (hostile_site / "site" / "hostile-page.html").read_text()
    parser = _Elements()
    parser.feed(page)
    text = parser.script_text()
    for label in HOSTILE:
        assert label in text, label  # every label, as written, in the page's text
    # No formatting came from it: no emphasis or code made from the label's markup.
    assert "<em>star</em>" not in page and "<code>tick</code>" not in page
    assert "<strong>star" not in page
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
    own = heading.split('<a class="headerlink"')[0]  # the heading's text, before its permalink
    assert "[x](javascript:alert(1))" in own and "<" not in own.replace("&lt;", "")
    # The "$…$" of a label did not become a formula.
    assert "\\href" not in "".join(re.findall(r'class="arithmatex">(.*?)<', page))
    home = (hostile_site / "site" / "index.html").read_text()
    assert "Report [x](javascript:alert(1)) &lt;script&gt;alert(3)&lt;/script&gt;" in home
    # Alt text carries the labels as written (the browser decodes what the page encodes).
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', page)
    assert alts and any(HOSTILE[0] in html.unescape(alt) for alt in alts)
    # The report's title is also the site's name: the browser tab and the header, literally.
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert title.endswith("Report [x](javascript:alert(1)) &lt;script&gt;alert(3)&lt;/script&gt;"), title
    header = re.search(r'<span class="md-ellipsis">\s*(.*?)\s*</span>', home, re.S).group(1)
    assert header == "Report [x](javascript:alert(1)) &lt;script&gt;alert(3)&lt;/script&gt;", header


def test_hostile_labels_are_drawn_as_plain_text_in_figures(hostile_site):
    figures = hostile_site / "site" / "figures"
    import xml.etree.ElementTree as ElementTree

    for kind in ("trajectory", "distribution", "law"):
        svg = (figures / f"hostile-{kind}.svg").read_text()
        assert "[x](javascript:alert(1))" in svg  # the labels are drawn, as text
        elements = list(ElementTree.fromstring(svg).iter())
        assert not [e.tag for e in elements if e.tag.endswith("script")]
        assert not [a for e in elements for a in e.attrib if a.lower().startswith("on")]
    assert (figures / "phase-hostile-sweep.png").stat().st_size > 10_000


@pytest.mark.parametrize("text", ["line one\nline two", "tab\there", "bell\x07"])
def test_text_with_control_characters_is_refused_on_its_line(text):
    config = f"sections:\n  - id: sigmoid\n    title: {_quoted(text)}\n"
    with pytest.raises(ConfigError) as caught:
        load_report(text=config)
    (line,) = str(caught.value).splitlines()
    # The entry named by its id: after merging with the lecture, "sections[3]" is no place in the file.
    assert line.startswith("stabreport.yml:3: sections[sigmoid].title:") and "one line" in line


def test_overlong_text_is_refused():
    with pytest.raises(ConfigError, match=r"stabreport.yml:1: title: .*at most 500 characters"):
        load_report(text="title: " + "x" * 501 + "\n")


# --- translations never become script, markup or code -------------------------------------------

SHIPPED_PO = Path(__file__).resolve().parents[1] / "stabreport" / "locales" / "zh_CN" / "LC_MESSAGES" / "messages.po"
# (message, hostile translation, what the refusal names): each would land in a page, a heading,
# a notebook's code or a formatted sentence.
HOSTILE_TRANSLATIONS = [
    ("holds", "成立<IMG SRC=x ONERROR=alert(document.domain)>", "markup"),
    ("Median per run:", '中位数", __import__("os").system("touch pwned"), "', "'\"'"),
    ("Median per run:", "中位数\nimport os", "'\\n'"),
    ("5–95 %% of runs:", "5–95 % 的运行：", "placeholders"),
    ("every run died (%(dead)s of %(runs)s runs)", "全部死亡", "placeholders"),
    ("holds", "成立 {{ 7*7 }}", "'{'"),
    ("holds", r"成立 $\rule{3000px}{3000px}$", "markup"),
    ("holds", "成立 | 表格", "'|'"),
]


def _catalogue_with(tmp_path: Path, message: str, translation: str) -> Path:
    from babel.messages.pofile import read_po, write_po

    with SHIPPED_PO.open("rb") as handle:
        catalog = read_po(handle)
    catalog[message].string = translation
    target = tmp_path / "locales" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write_po(handle, catalog)
    return target


@pytest.mark.parametrize("message,translation,named", HOSTILE_TRANSLATIONS)
def test_a_hostile_translation_is_refused_in_one_line_naming_the_entry(tmp_path, message, translation, named):
    from babel.messages.pofile import read_po
    from stabreport.render import i18n

    path = _catalogue_with(tmp_path, message, translation)
    with path.open("rb") as handle:
        entry = read_po(handle)[message]
    with pytest.raises(ConfigError) as caught:
        i18n.translations(tmp_path, "zh")
    text = str(caught.value)
    assert "\n" not in text.strip() and f"{path}:{entry.lineno}:" in text and repr(message) in text
    assert named in text and "allowed:" in text, text
    # The shipped catalogue itself passes the same check.
    assert i18n.translations(Path(__file__).parent, "zh").gettext("holds") == "成立"


def test_a_build_with_a_hostile_catalogue_stops_before_running_and_writes_nothing(tmp_path):
    from helpers import copy_project

    root = copy_project(tmp_path / "project", small_config(languages="languages: [en, zh]\n"))
    _catalogue_with(root, "holds", "成立<script>alert(1)</script>")
    done = subprocess.run([sys.executable, "-m", "stabreport", "build", "--root", str(root)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "messages.po:" in lines[0] and "'holds'" in lines[0], done.stderr
    assert not (root / "docs" / "generated").exists()


def test_no_translation_becomes_code_in_a_notebook(monkeypatch):
    """Defence in depth: even a translation that slipped past the catalogue check lands in a
    notebook's code as a string literal or a one-line comment, never as code."""
    import ast

    from stabreport.publish.build import setting_tasks
    from stabreport.render import i18n
    from stabreport.render.cite import site_url
    from stabreport.render.notebooks import notebook_files, split_cells
    from stabreport.render.views import make_environment

    payload = '", __import__("os").system("touch pwned"), "\n__import__("os").system("x") # {x} """'
    monkeypatch.setattr(i18n, "_", lambda message: (payload + message) if message else message)
    root = Path(__file__).resolve().parents[1]
    report = load_report(None)
    env = make_environment(Project(root).folders("templates"), report)
    files = notebook_files(env, report, setting_tasks(report, paths=("full",)), site_url(root))
    checked = 0
    for name, content in files.items():
        if not name.endswith(".ipynb"):
            continue
        notebook = json.loads(content)
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            tree = ast.parse("".join(cell["source"]))
            calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
            assert "__import__" not in calls, name
            checked += 1
    assert checked > 10


# --- ids never collide with the site's files or with each other's anchors --------------------------

@pytest.mark.parametrize("config,said", [
    ('pages:\n  - {id: "404", title: Lost}\n', "page id '404' is the site's not-found page"),
    ("sections:\n  - id: products\n    settings:\n      - {id: products-law, label: x, params: {scale: 0.6}}\n",
     "'products-law' is also the id of a setting"),
    ("claims:\n  - id: relu-init\n    section: relu-init\n    statement: A claim named like its section.\n"
     "    checks:\n      - {setting: relu-he-normal, verdict: stays moderate}\n",
     "claim id 'relu-init' is also the id of a section"),
])
def test_an_id_that_takes_a_sites_file_or_anchor_is_refused(config, said):
    with pytest.raises(ConfigError) as caught:
        load_report(text=config)
    (line,) = str(caught.value).splitlines()
    assert line.startswith("stabreport.yml:") and said in line and "allowed:" in line, line
