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
from helpers import PLUGIN_CONFIG, PROJECT
from PIL import Image

from stabreport.publish.build import GENERATED, build_report
from stabreport.cli import main

SCHEMA = Path(__file__).parent / "data" / "citation-file-format-1.2.0.schema.json"
PAGES = ("products", "mlp", "alive", "theory", "phase", "near_identity")


class _Figures(HTMLParser):
    """Figure ids on a page, their images' sources and alt texts, and the text of its code
    blocks."""

    def __init__(self):
        super().__init__()
        self.ids, self.code, self._in_code = [], [], False
        self.images: dict[str, list[tuple[str, str]]] = {}  # figure id -> [(src, alt)]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and attrs.get("id"):
            self.ids.append(attrs["id"])
            self.images[attrs["id"]] = []
        if tag == "img" and self.ids:
            self.images[self.ids[-1]].append((attrs["src"], attrs.get("alt", "")))
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


def _corner(path: Path) -> tuple[int, ...]:
    with Image.open(path) as png:
        return png.convert("RGBA").getpixel((2, 2))


def test_every_figure_has_a_dark_and_a_transparent_variant_of_the_same_drawing(site):
    """Dark SVG and PNG on a dark background, a transparent PNG, the light drawing on white; all
    four show the same data (the same text), and no text is smaller than 10 pt (a slide)."""
    root, seen = site / "site" / "figures", 0
    for page in PAGES:
        parsed = _page(site, page)
        for figure_id in parsed.ids:
            light, dark = (root / f"{figure_id}.svg").read_text(), (root / f"{figure_id}-dark.svg").read_text()
            assert light != dark
            texts = lambda svg: re.findall(r"<text[^>]*>([^<]*)</text>", svg)
            assert texts(light) == texts(dark) and texts(light)
            sizes = [float(x) for x in re.findall(r"font-size: ?([\d.]+)px", light + dark)]
            assert sizes and min(sizes) >= 10, (figure_id, min(sizes))
            assert _corner(root / f"{figure_id}.png")[:3] == (255, 255, 255)
            assert sum(_corner(root / f"{figure_id}-dark.png")[:3]) < 3 * 60
            assert _corner(root / f"{figure_id}-transparent.png")[3] == 0
            # The page shows both drawings, one per colour scheme.
            sources = [src for src, _ in parsed.images[figure_id]]
            assert sources == [f"figures/{figure_id}.svg#only-light",
                               f"figures/{figure_id}-dark.svg#only-dark"], sources
            seen += 1
    assert seen >= 16


def _signed(value: float) -> str:
    text = f"{value:+.1f}"
    return ("0.0" if float(text) == 0 else text).replace("-", "−")


def test_alt_text_states_what_each_figure_shows_in_numbers(site):
    """Each figure's alt text carries its title and its result, computed from the figure's own
    data: every setting's final median for a trajectory, every curve's last median for a depth
    sweep."""
    checked = 0
    for page in PAGES:
        parsed = _page(site, page)
        for figure_id in parsed.ids:
            data = json.loads((site / "site" / "data" / f"{figure_id}.json").read_text())
            ((_, alt), (_, dark_alt)) = parsed.images[figure_id]
            assert alt == dark_alt and alt.startswith(data["title"]) and len(alt) > len(data["title"]) + 20
            assert "$" not in alt and "^" not in alt and "^" not in data["caption"]
            columns = data["columns"]
            if figure_id.endswith("-trajectory"):
                last = {}
                for setting, median in zip(columns["setting"], columns["median"]):
                    last[setting] = median
                for setting, median in last.items():
                    assert f"{_signed(median)} for " in alt, (figure_id, median, alt)
                checked += 1
            if figure_id.startswith("depth-"):
                axis = next(k for k in columns if k not in ("series", "q05", "median", "q95",
                                                             "theory", "dead_fraction"))
                ends = {}
                for series, x, median in zip(columns["series"], columns[axis], columns["median"]):
                    if median != "" and x >= ends.get(series, (-1, 0))[0]:
                        ends[series] = (x, median)
                for x, median in ends.values():
                    assert f"{_signed(median)} at {x}" in alt, (figure_id, median, alt)
                checked += 1
    assert checked >= 6


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
    assert "author       = {{The stabreport authors}}" in block  # an organisation, kept whole
    assert entries >= 16


def test_bibtex_escapes_special_characters_from_the_config():
    from stabreport.render.cite import bibtex_escape

    text = bibtex_escape("50% of {units} & x_1 #2 ~ ^ \\")
    library = bibtexparser.parse_string("@misc{k, title = {" + text + "}}")
    assert not library.failed_blocks
    assert r"50\% of \{units\} \& x\_1 \#2" in text


def test_bibtex_keeps_an_organisation_whole_and_splits_a_person():
    """BibTeX reads "The stabreport authors" as first name "The", last name "authors" unless it
    is braced; a person written "Family, Given" must stay splittable."""
    from bibtexparser.middlewares import SeparateCoAuthors, SplitNameParts

    from stabreport.render.cite import bibtex_authors

    field = bibtex_authors(["The stabreport authors", "Doe, Jane", "R&D Lab"])
    library = bibtexparser.parse_string("@misc{k, author = {" + field + "}}",
                                        append_middleware=[SeparateCoAuthors(), SplitNameParts()])
    first, person, lab = library.entries[0]["author"]
    assert first.last == ["{The stabreport authors}"] and first.first == []
    assert person.last == ["Doe"] and person.first == ["Jane"]
    assert lab.last == [r"{R\&D Lab}"]


def test_citation_cff_validates_against_the_schema(site):
    cff = yaml.safe_load((site / "site" / "CITATION.cff").read_text())
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(cff, schema)
    assert cff["url"].startswith("https://") and cff["title"]


def test_the_repository_cites_itself():
    """The root CITATION.cff (GitHub's "Cite this repository") is valid and names the
    package's version, with the authors as an entity."""
    from stabreport import __version__

    cff = yaml.safe_load((PROJECT / "CITATION.cff").read_text())
    jsonschema.validate(cff, json.loads(SCHEMA.read_text()))
    assert str(cff["version"]) == __version__
    assert all(set(author) == {"name"} for author in cff["authors"])


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
