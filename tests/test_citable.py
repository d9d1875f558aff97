"""Figures people can take away and point to: downloads, BibTeX, CITATION.cff, stable ids,
and regenerate commands that reproduce a figure's data exactly."""
import json
import re
import shlex
import shutil
from html.parser import HTMLParser
from pathlib import Path

import bibtexparser
import jsonschema
import yaml
from helpers import PLUGIN_CONFIG
from PIL import Image

from stabreport.build import GENERATED, build_report
from stabreport.cli import main

SCHEMA = Path(__file__).parent / "data" / "citation-file-format-1.2.0.schema.json"
PAGES = ("products", "mlp", "alive", "theory", "phase", "near_identity")


class _Figures(HTMLParser):
    """Figure ids on a page, and the text of its code blocks."""

    def __init__(self):
        super().__init__()
        self.ids, self.code, self._in_code = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and attrs.get("id"):
            self.ids.append(attrs["id"])
        if tag == "code":
            self._in_code = True
            self.code.append("")

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.code[-1] += data


def _page(site, name) -> _Figures:
    parser = _Figures()
    parser.feed((site / "site" / f"{name}.html").read_text())
    return parser


def test_every_figure_has_all_downloads_consistent_with_it(site):
    seen = 0
    for page in PAGES:
        for figure_id in _page(site, page).ids:
            root = site / "site"
            svg = (root / "figures" / f"{figure_id}.svg").read_bytes()
            assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
            assert (root / "figures" / f"{figure_id}.pdf").read_bytes().startswith(b"%PDF")
            with Image.open(root / "figures" / f"{figure_id}.png") as png:
                assert png.format == "PNG"
                assert round(png.info["dpi"][0]) == 300 and png.size[0] >= 1600
            data = json.loads((root / "data" / f"{figure_id}.json").read_text())
            assert data["figure"] == figure_id
            csv_lines = (root / "data" / f"{figure_id}.csv").read_text().splitlines()
            assert csv_lines[0].split(",") == list(data["columns"])
            assert len(csv_lines) - 1 == len(next(iter(data["columns"].values())))
            for setting in data["settings"].values():
                assert {"experiment", "params", "runs", "seed"} <= set(setting)
            seen += 1
    assert seen >= 3 * 5 + 1


def test_bibtex_entries_parse_and_point_at_their_figure(site):
    entries = 0
    for page in PAGES:
        parsed = _page(site, page)
        blocks = [b for b in parsed.code if b.lstrip().startswith("@misc")]
        assert len(blocks) == len(parsed.ids)
        for figure_id, block in zip(parsed.ids, blocks):
            library = bibtexparser.parse_string(block)
            assert not library.failed_blocks, block
            (entry,) = library.entries
            fields = {f.key: f.value for f in entry.fields}
            assert fields["url"].endswith(f"/{page}.html#{figure_id}")
            assert re.fullmatch(r"\d{4}", fields["year"]) and fields["version"]
            assert fields["title"].startswith("Figure ")
            entries += 1
    cite = _page(site, "cite")
    (block,) = [b for b in cite.code if b.lstrip().startswith("@misc")]
    assert not bibtexparser.parse_string(block).failed_blocks
    assert entries >= 16


def test_bibtex_escapes_special_characters_from_the_config():
    from stabreport.cite import bibtex_escape

    text = bibtex_escape("50% of {units} & x_1 #2 ~ ^ \\")
    library = bibtexparser.parse_string("@misc{k, title = {" + text + "}}")
    assert not library.failed_blocks
    assert r"50\% of \{units\} \& x\_1 \#2" in text


def test_citation_cff_validates_against_the_schema(site):
    cff = yaml.safe_load((site / "site" / "CITATION.cff").read_text())
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(cff, schema)
    assert cff["url"].startswith("https://") and cff["title"]


def _commands(site, page: str, figure_id: str) -> tuple[str, list[str]]:
    """The figure command and the per-setting run commands printed under a figure."""
    parsed = _page(site, page)
    blocks = [b for b in parsed.code if "stabreport figure " + figure_id + "\n" in b + "\n"]
    assert len(blocks) == 1, f"{figure_id}: no printed figure command"
    index = parsed.code.index(blocks[0])
    runs = parsed.code[index + 1] if index + 1 < len(parsed.code) else ""
    return blocks[0].strip(), [line for line in runs.splitlines() if line.startswith("stabreport run")]


def test_every_figures_printed_command_prints_exactly_its_csv_download(site, capsysbinary, monkeypatch):
    monkeypatch.chdir(site)  # a checkout of the same commit: the project the site was built in
    checked = []
    for page in PAGES:
        for figure_id in _page(site, page).ids:
            command, _ = _commands(site, page, figure_id)
            assert main(shlex.split(command)[1:]) == 0, command
            printed = capsysbinary.readouterr().out
            assert printed == (site / "site" / "data" / f"{figure_id}.csv").read_bytes(), command
            checked.append(figure_id)
    kinds = {i.rsplit("-", 1)[-1] for i in checked
             if not i.startswith(("phase-", "gain-", "depth-", "dead-"))}
    assert kinds == {"trajectory", "distribution", "law", "spectrum"}
    assert "depth-residual-depth" in checked and "dead-dying-relu" in checked
    assert "gain-vs-scale" in checked and any(i.startswith("phase-") for i in checked)
    assert "near-identity-trajectory" in checked and "phase-near-identity-scale-k" in checked


def test_a_figure_command_reproduces_its_csv_in_a_fresh_process_without_the_cache(site, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    checkout = tmp_path / "checkout"
    shutil.copytree(site, checkout, ignore=shutil.ignore_patterns("site", ".stabreport-cache",
                                                                  "serve-root"))
    command, _ = _commands(site, "mlp", "sigmoid-law")
    done = subprocess.run([str(Path(sys.executable).parent / "stabreport"), *shlex.split(command)[1:]],
                          cwd=checkout, capture_output=True, env={**os.environ})
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == (site / "site" / "data" / "sigmoid-law.csv").read_bytes()


def test_per_setting_run_commands_reproduce_the_runs_plotted(site, capsys, monkeypatch):
    monkeypatch.chdir(site)
    for page, figure_id in (("products", "products-distribution"), ("mlp", "sigmoid-law")):
        _, commands = _commands(site, page, figure_id)
        data = json.loads((site / "site" / "data" / f"{figure_id}.json").read_text())
        columns = data["columns"]
        assert len(commands) == len(data["settings"])
        for command in commands:
            assert main(shlex.split(command)[1:]) == 0
            payload = json.loads(capsys.readouterr().out)
            setting_id = next(i for i, s in data["settings"].items() if s["params"] == payload["params"])
            plotted = [v for s, k, v in zip(columns["setting"], columns["kind"], columns["log10_value"])
                       if s == setting_id and k == "run"]
            key = "log10_norm_u" if figure_id.endswith("-law") else "log10_mean_abs"
            assert plotted == [round(v, 6) for v in payload[key]]


def test_figure_ids_urls_and_files_do_not_move_when_a_figure_is_added(site, tmp_path):
    other = tmp_path / "project"
    shutil.copytree(site, other, ignore=shutil.ignore_patterns("site"))
    (other / "stabreport.yml").write_text(PLUGIN_CONFIG.replace("sections:\n", """sections:
  - id: tanh
    title: Tanh
    experiment: mlp
    runs: 20
    params: {activation: tanh}
    settings: [{id: tanh-0.2, params: {scale: 0.2}}]
""", 1))
    build_report(root=other, stream=open("/dev/null", "w"))
    before, after = site / GENERATED, other / GENERATED
    new = {p.relative_to(after).as_posix() for p in after.rglob("*") if p.is_file()}
    old = {p.relative_to(before).as_posix() for p in before.rglob("*") if p.is_file()}
    assert {"figures/tanh-trajectory.svg", "data/tanh-law.json"} <= new - old
    for name in sorted(old):
        if name.startswith(("data/", "figures/")) and "gain-vs-scale" not in name:
            assert (before / name).read_bytes() == (after / name).read_bytes(), name
    for page in ("products.md", "mlp.md"):
        anchors = lambda path: set(re.findall(r'<figure markdown="span" id="([^"]+)"', path.read_text()))
        assert anchors(before / page) <= anchors(after / page)
