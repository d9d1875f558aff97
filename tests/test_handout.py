"""The printable handout, site/handout.pdf: one PDF of the whole report, printed by headless
Chromium when the site is built (the session's `site` fixture builds it), read back with pypdf."""
import io
import json
import re
import shutil
import unicodedata
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest
import yaml

from stabreport import __version__
from stabreport.publish.build import GENERATED
from stabreport.render.cite import site_url
from stabreport.cli import main
from stabreport.publish.fingerprint import changed_since_built
from stabreport.publish.handout import (HANDOUT, STYLESHEET, build_handout, page_numbers,
                                        reproducible)
from stabreport.paths import NAV
from stabreport.publish.site import RECORD, site_inputs_digest

SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl"})


class _Title(HTMLParser):
    """A built page's <h1> text, without its permalink mark."""

    def __init__(self):
        super().__init__()
        self.parts, self._in_h1, self._in_mark, self.done = [], False, False, False

    def handle_starttag(self, tag, attrs):
        if tag == "h1" and not self.done:
            self._in_h1 = True
        elif tag == "a" and self._in_h1 and "headerlink" in (dict(attrs).get("class") or ""):
            self._in_mark = True

    def handle_endtag(self, tag):
        if tag == "a":
            self._in_mark = False
        elif tag == "h1" and self._in_h1:
            self._in_h1, self.done = False, True

    def handle_data(self, data):
        if self._in_h1 and not self._in_mark:
            self.parts.append(data)


def _squeeze(text: str) -> str:
    """Text without whitespace: text extraction breaks lines and puts spaces around the
    superscripts of 10⁻⁷ (another font draws them), but keeps every other character (only a
    font's ligatures are spelled out)."""
    return re.sub(r"\s+", "", text.translate(LIGATURES))


def _words(text: str) -> str:
    return " ".join(text.translate(LIGATURES).split())


def _report_pages(root: Path) -> list[tuple[str, str]]:
    """(page, title as printed at its top) for each navigation page, in order."""
    nav = json.loads((root / GENERATED / NAV).read_text())["nav"]
    pages = []
    for _, file in nav:
        name = file[:-len(".md")]
        parser = _Title()
        parser.feed((root / "site" / f"{name}.html").read_text())
        pages.append((name, _words(unescape("".join(parser.parts)))))
    return pages


MM = 72 / 25.4  # PDF units in a millimetre
WHITE = ((1.0,), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0, 0.0))  # in gray, RGB and CMYK
STROKES = frozenset({b"S", b"s", b"B", b"B*", b"b", b"b*"})  # the operators that paint a path
FILLS = frozenset({b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"})


def _times(m: list[float], n: list[float]) -> list[float]:
    """The product m × n of two PDF matrices [a b c d e f]."""
    return [m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3],
            m[2] * n[0] + m[3] * n[2], m[2] * n[1] + m[3] * n[3],
            m[4] * n[0] + m[5] * n[2] + n[4], m[4] * n[1] + m[5] * n[3] + n[5]]


class _Ink:
    """The heights (PDF units, up from the page's bottom edge) at which a PDF page shows something,
    gathered from its content stream while pypdf extracts its text: each piece of text's baseline,
    each point of a path that is stroked or filled in a colour other than white (Chromium first
    fills the page's text area white), the corners of each image. A form (a drawing of its own)
    counts by its box, what it draws inside left out."""

    def __init__(self, page: pypdf.PageObject) -> None:
        self.xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        self.heights: list[float] = []
        self._path: list[float] = []
        self._colours = ((0.0,), (0.0,))  # (stroke, fill): black until set
        self._saved: list[tuple] = []  # the colours each q saved, for its Q
        self._placing: list[bool] = []  # for each Do under way: whether it places a form

    def _at(self, cm: list[float], points) -> list[float]:
        return [x * cm[1] + y * cm[3] + cm[5] for x, y in points]

    def before(self, operator: bytes, operands: list, cm: list[float], tm: list[float]) -> None:
        if any(self._placing):  # inside a form
            self._placing += [True] if operator == b"Do" else []
            return
        numbers = [float(v) for v in operands if isinstance(v, (int, float))]
        if operator == b"q":
            self._saved.append(self._colours)
        elif operator == b"Q" and self._saved:
            self._colours = self._saved.pop()
        elif operator in (b"RG", b"G", b"K", b"SC", b"SCN"):
            self._colours = (tuple(numbers), self._colours[1])
        elif operator in (b"rg", b"g", b"k", b"sc", b"scn"):
            self._colours = (self._colours[0], tuple(numbers))
        elif operator in (b"m", b"l", b"c", b"v", b"y"):
            self._path += self._at(cm, zip(numbers[::2], numbers[1::2]))
        elif operator == b"re":
            x, y, w, h = numbers
            self._path += self._at(cm, [(x, y), (x + w, y + h)])
        elif operator in STROKES | FILLS | {b"n"}:
            if (operator in STROKES and self._colours[0] not in WHITE
                    or operator in FILLS and self._colours[1] not in WHITE):
                self.heights += self._path
            self._path = []
        elif operator in (b"Tj", b"TJ", b"'", b'"'):
            self.heights.append(_times(tm, cm)[5])
        elif operator == b"Do":
            xobject = self.xobjects[operands[0]].get_object()
            form = xobject.get("/Subtype") == "/Form"
            self._placing.append(form)
            if form:
                x0, y0, x1, y1 = (float(v) for v in xobject["/BBox"])
                matrix = _times([float(v) for v in xobject.get("/Matrix", [1, 0, 0, 1, 0, 0])], cm)
                self.heights += self._at(matrix, [(x0, y0), (x1, y1), (x0, y1), (x1, y0)])
            else:  # an image fills the unit square
                self.heights += self._at(cm, [(0, 0), (0, 1), (1, 0), (1, 1)])

    def after(self, operator: bytes, operands: list, cm: list[float], tm: list[float]) -> None:
        if operator == b"Do" and self._placing:
            self._placing.pop()


def _text_area(css: str) -> tuple[float, float]:
    """The top and bottom margins of the handout's pages (PDF units), from its @page rule."""
    page = re.search(r"@page\s*\{[^}]*?\bmargin:\s*([^;]+);", css)[1].split()
    sizes = [float(re.fullmatch(r"([\d.]+)mm", size)[1]) * MM for size in page]
    return sizes[0], sizes[2 if len(sizes) > 2 else 0]


def _filled(page: pypdf.PageObject, heights: list[float], margins: tuple[float, float]) -> float:
    """How far down its text area a page shows something: 0 at its top, 1 at its bottom."""
    top, bottom = margins
    edge, area = float(page.mediabox.top), float(page.mediabox.height) - top - bottom
    below = [edge - y - top for y in heights if -1 <= edge - y - top <= area + 1]
    return min(1.0, max(below) / area) if below else 0.0


@dataclass(frozen=True)
class _Handout:
    data: bytes
    reader: pypdf.PdfReader
    texts: list[str]  # each PDF page's text, as extracted
    bodies: list[str]  # the same without the margin boxes, whitespace collapsed
    footer: str  # the address and version, below every page
    pages: list[tuple[str, str]]  # (report page, its title), in navigation order
    starts: dict[str, int]  # the PDF page (from 0) that each report page starts on
    filled: list[float]  # how far down its text area each PDF page shows something, 0 to 1


@pytest.fixture(scope="module")
def handout(site) -> _Handout:
    data = (site / "site" / HANDOUT).read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(data))
    margins = _text_area((site / "site" / STYLESHEET).read_text())
    texts, filled = [], []
    for page in reader.pages:
        ink = _Ink(page)
        texts.append(page.extract_text(visitor_operand_before=ink.before,
                                       visitor_operand_after=ink.after))
        filled.append(_filled(page, ink.heights, margins))
    title = yaml.safe_load((site / "site" / "CITATION.cff").read_text())["title"]
    footer = f"{site_url(site)} · version {__version__}"
    bodies = [_words(re.sub(r"Page \d+ of \d+", " ", text.replace(title, " ", 1).replace(footer, " ")))
              for text in texts]
    pages = _report_pages(site)
    # Each page after the previous one (after the cover, which shows the report's title too): a
    # page of the contents may start with a page's title too, where the contents fill two.
    starts, previous = {}, 0
    for name, page_title in pages:
        found = [i for i, body in enumerate(bodies) if i > previous and body.startswith(page_title)]
        assert found, f"no PDF page after {previous} starts with the title of {name}.html, {page_title!r}"
        starts[name] = previous = found[0]
    return _Handout(data, reader, texts, bodies, footer, pages, starts, filled)


def test_the_handout_parses_and_gives_each_report_page_its_own_pdf_pages(site, handout):
    order = [handout.starts[name] for name, _ in handout.pages]
    assert order == sorted(order) and len(set(order)) == len(order), handout.starts
    assert order[0] >= 2  # a cover and the contents first
    assert handout.bodies[1].startswith("Contents")
    cover = _squeeze(handout.texts[0])
    provenance = json.loads((site / "site" / "provenance.json").read_text())
    for fact in (site_url(site), __version__, provenance["date"], str(provenance["seed"])):
        assert _squeeze(fact) in cover, fact


def test_no_pdf_page_is_left_half_blank_but_the_last_of_a_report_page(handout):
    """A figure, table row or box that does not fit in what is left of a PDF page moves whole to
    the next one: the figures are small enough (two to a page) that what that leaves empty is less
    than half the page. Only the last PDF page of a report page (each starts a new one), of the
    cover and of the contents may end higher up."""
    # The measurement sees short pages short and full ones full: the explorer's is one line.
    assert handout.filled[handout.starts["explore"]] < 0.2 < 0.9 < max(handout.filled), handout.filled
    parts = {0: "the cover", 1: "the contents"}  # by the PDF page each starts on
    parts |= {start: f"{name}.html" for name, start in handout.starts.items()}
    half_blank = []
    for number, filled in enumerate(handout.filled):
        part = parts[max(start for start in parts if start <= number)]
        if filled < 0.5 and number + 1 < len(handout.filled) and number + 1 not in parts:
            half_blank.append(f"PDF page {number + 1} ({part}) ends {filled:.0%} of the way down")
    assert not half_blank, half_blank


def test_the_home_page_offers_the_handout(site, handout):
    home = (site / "site" / "index.html").read_text()
    assert '<a href="handout.pdf" download>' in home
    assert (site / "site" / "handout.pdf").read_bytes() == handout.data


def test_the_contents_give_each_report_page_its_pdf_page_number(handout):
    contents = " ".join(handout.bodies[1:min(handout.starts.values())])
    for name, title in handout.pages:
        page = handout.starts[name] + 1
        assert re.search(re.escape(title) + rf" {page}\b", contents), (name, title, page)


def test_every_pdf_page_shows_the_address_the_version_and_its_number(handout):
    for number, text in enumerate(handout.texts, start=1):
        assert handout.footer in text, (number, text[:300])
        assert f"Page {number} of {len(handout.texts)}" in text, (number, text[:300])


def test_the_key_findings_numbers_are_printed_on_the_home_pages(site, handout):
    lines = (site / GENERATED / "index.md").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("|") and "Live median" in line)
    column = next(i for i, cell in enumerate(lines[header].split("|")) if "Live median" in cell)
    medians = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cell = re.sub(r"\\(.)", r"\1", line.split("|")[column]).strip()
        medians.append(cell.split(" (")[0])
    assert medians and all("×" in m for m in medians), medians
    starts = [handout.starts[name] for name, _ in handout.pages]
    home = starts[[name for name, _ in handout.pages].index("index")]
    text = _squeeze(" ".join(handout.texts[home:min((s for s in starts if s > home), default=None)]))
    for median in medians:  # the whole number: 9.9 × 10⁻⁷ is not found inside 9.9 × 10⁻⁷⁰
        pattern = rf"(?<![0-9.]){re.escape(_squeeze(median))}(?![0-9{SUPERSCRIPT_DIGITS}])"
        assert re.search(pattern, text), f"{median!r} is not on the home page's PDF pages"


def test_math_is_typeset_by_katex(handout):
    for number, text in enumerate(handout.texts, start=1):
        for raw in ("\\(", "\\)", "\\[", "\\]", "$$"):
            assert raw not in text, f"page {number} holds raw math {raw!r}: {text[:300]}"
    fonts = {str(font.get_object().get("/BaseFont")) for page in handout.reader.pages
             for font in ((page.get("/Resources") or {}).get("/Font") or {}).values()}
    assert any("KaTeX_Math" in font for font in fonts), fonts


def test_figures_are_printed_as_vectors_with_their_numbers(site, handout):
    """matplotlib writes the figures' text as SVG text: it is text in the PDF only if the
    figure was drawn as vectors, not pasted in as a picture."""
    text = _squeeze(" ".join(handout.texts))
    for name in ("products", "mlp"):
        html = (site / "site" / f"{name}.html").read_text()
        captions = re.findall(r"<figcaption>(Figure \d+\.)", html)
        assert captions
        for caption in captions:
            assert _squeeze(caption) in text
        sources = set(re.findall(r'<img[^>]* src="(figures/[^"#]+\.svg)(?:#only-light)?"', html))
        for source in sorted(sources):
            svg = (site / "site" / source).read_text()
            labels = [unescape(re.sub(r"<[^>]+>", "", content)) for attributes, content
                      in re.findall(r"<text\b([^>]*)>(.*?)</text>", svg, re.S)
                      if not re.search(r"rotate\(-?90", attributes)]  # read across, not up
            label = max(labels, key=len)
            assert len(label) >= 5 and _squeeze(label) in text, (source, label)


def test_links_stay_in_the_handout_or_point_at_the_public_site(site, handout):
    internal, external = 0, []
    for page in handout.reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if "/Dest" in annotation:
                internal += 1
            elif "/A" in annotation and "/URI" in annotation["/A"]:
                external.append(str(annotation["/A"]["/URI"]))
    assert internal > 20
    assert external and all(uri.startswith(("https://", "http://", "mailto:")) for uri in external), \
        [uri for uri in external if not uri.startswith(("https://", "http://", "mailto:"))][:5]
    assert any(uri.startswith(site_url(site) + "data/") for uri in external)


def test_interactive_and_varying_pages_become_pointers_and_copy_blocks_are_left_out(site, handout):
    text = _words(" ".join(handout.texts))
    explore = handout.bodies[handout.starts["explore"]]
    assert f"{site_url(site)}explore.html" in explore and len(explore) < 400, explore
    timings = handout.bodies[handout.starts["timings"]]
    assert f"{site_url(site)}timings.html" in timings and len(timings) < 400, timings
    assert "Cite or reproduce figure" not in text  # on the site, collapsed
    assert "Theory against measurement" in text  # collapsed on the site, printed open


def test_printing_the_same_site_again_gives_the_same_pages_and_words(site, handout, tmp_path):
    date = json.loads((site / "site" / "provenance.json").read_text())["date"].replace("-", "")
    metadata = handout.reader.metadata
    assert metadata["/CreationDate"] == metadata["/ModDate"] == f"D:{date}000000+00'00'"
    again = shutil.copytree(site / "site", tmp_path / "site")
    (again / HANDOUT).unlink()
    # The same pages and words, and dates. Not always the same bytes: two Chromium sessions can lay
    # a page out a fraction of a pixel apart (seen under load in a clean clone).
    printed = pypdf.PdfReader(io.BytesIO(build_handout(site, again).read_bytes()))
    assert [p.extract_text() for p in printed.pages] == handout.texts
    assert printed.metadata["/CreationDate"] == metadata["/CreationDate"]


def _printed(moment: bytes, identifier: bytes, dests: bytes = b"<< >>") -> bytes:
    """A one-page PDF as Chromium writes one: a classic cross-reference table, the moment of
    printing in its information dictionary, named destinations and a document /ID."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R /Dests 5 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>",
               b"<< /Producer (Skia/PDF m156) /CreationDate (D:%s+00'00') /ModDate (D:%s+00'00') >>"
               % (moment, moment), dests]
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1, identifier, identifier)
    return pdf + b"startxref\n%d\n%%%%EOF\n" % table


def test_page_numbers_read_every_named_destination_even_one_named_like_a_stream():
    dests = b"<< /mlp--downstream [3 0 R /XYZ 0 100 0] /mlp--zeta [3 0 R /XYZ 0 50 0] >>"
    pdf = _printed(b"20261129151208", b"0123456789abcdef" * 2, dests)
    assert page_numbers(pdf, ["mlp--downstream", "mlp--zeta"]) == {"mlp--downstream": 1, "mlp--zeta": 1}


def test_reproducible_replaces_dates_and_the_document_id_keeping_the_pdf_valid():
    first = _printed(b"20261129151208", b"0123456789abcdef" * 2)
    second = _printed(b"20270101000001", b"fedcba9876543210" * 2)
    assert pypdf.PdfReader(io.BytesIO(first), strict=True).metadata["/CreationDate"].startswith("D:2026")
    fixed = reproducible(first, "2023-11-14")
    assert fixed == reproducible(second, "2023-11-14") and len(fixed) == len(first)
    reader = pypdf.PdfReader(io.BytesIO(fixed), strict=True)  # the offsets still hold
    assert len(reader.pages) == 1
    assert reader.metadata["/CreationDate"] == reader.metadata["/ModDate"] == "D:20231114000000+00'00'"
    assert len(reader.trailer["/ID"]) == 2 and b"0123456789abcdef" not in fixed


def test_without_chromium_the_site_fails_in_one_line_and_no_handout_opts_out(site, tmp_path,
                                                                             monkeypatch, capsys):
    root = shutil.copytree(site, tmp_path / "project",
                           ignore=shutil.ignore_patterns("site", ".stabreport-cache", "serve-root"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    monkeypatch.delenv("STABREPORT_CHROMIUM", raising=False)
    assert main(["site", "--root", str(root)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Chromium" in lines[0], lines
    assert "apt-get install chromium" in lines[0] and "--no-handout" in lines[0], lines[0]
    assert not (root / "site").exists() and not list(root.glob(".site-*"))

    assert main(["site", "--root", str(root), "--no-handout"]) == 0
    assert (root / "site" / "index.html").is_file() and not (root / "site" / HANDOUT).exists()
    assert "handout.pdf" not in (root / "site" / "index.html").read_text()  # no link to nothing
    # With a browser again, the site is not up to date: it lacks its handout.
    assert changed_since_built(root / "site", site_inputs_digest(root), RECORD) == "its inputs changed"


def test_the_chinese_edition_has_its_own_handout_in_chinese(site, handout):
    """site/zh/handout.pdf: the same report pages, in order, in Chinese, with the Chinese
    edition's address on every page (its fonts embedded, so it prints anywhere)."""
    data = (site / "site" / "zh" / HANDOUT).read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(data))
    texts = [page.extract_text() for page in reader.pages]
    assert abs(len(texts) - len(handout.texts)) <= len(handout.texts) // 4
    assert all(f"{site_url(site)}zh/" in text for text in texts)
    han = sum(len(re.findall(r"[\u4e00-\u9fff]", text)) for text in texts)
    assert han > 2000, han
    # Text extraction gives some characters as their radical forms (the font draws both with
    # one glyph): NFKC undoes the Kangxi radicals, the table the simplified ones it leaves.
    radicals = str.maketrans("⻚⻓⻛⻔⻜⻢⻉⻋⻅⻘⻝⻣⻦⻬⻰⻳⻥⻩⻤⻮", "页长风门飞马贝车见青食骨鸟齐龙龟鱼黄鬼齿")
    body = _squeeze(" ".join(texts)).translate(radicals)
    body = "".join(unicodedata.normalize("NFKC", c) if "\u2f00" <= c <= "\u2fdf" else c for c in body)
    nav = json.loads((site / GENERATED / "zh" / NAV).read_text())["nav"]
    assert f"第{len(texts)}页，共{len(texts)}页" in body
    for title, file in nav:  # each page under its title (the home page under the report's)
        if file != "index.md":
            assert _squeeze(unescape(title)) in body, title
    # The Chinese glyphs travel with the PDF: every font is embedded (Chromium writes Noto Sans
    # CJK, a CFF font in a collection, as a Type 3 font: its glyphs as outlines).
    def embedded(font) -> bool:
        if font.get("/Subtype") == "/Type3":
            return True
        for descendant in font.get("/DescendantFonts", [font]):
            descriptor = descendant.get_object().get("/FontDescriptor")
            if descriptor is None or not any(k in descriptor.get_object()
                                             for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                return False
        return True

    fonts = [f.get_object() for page in reader.pages
             for f in (page.get("/Resources", {}).get("/Font", {}) or {}).values()]
    assert fonts and all(embedded(font) for font in fonts)
