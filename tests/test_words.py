"""What a reader reads is words, not identifiers: no built page of either edition shows a declared
identifier (a metric, a statistic, an activation, an initialisation, a parameter with an
underscore) or a config slug (a section's, a setting's, a sweep's or a figure's id) in its text.
Code (commands, the method page's reproduction tables, BibTeX) is where identifiers belong, and
is not read here; nor are attributes (links, ids) or scripts."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from stabreport.experiments import experiments
from stabreport.experiments.nn import ACTIVATIONS, INITIALISERS
from stabreport.report.statistics import CELL_STATISTICS, SETTING_STATISTICS

SKIPPED = {"code", "pre", "script", "style", "kbd", "samp", "template", "svg", "annotation"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class _Text(HTMLParser):
    """The text of a page's content (Material's `.md-content`), outside code and scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, starts the content)
        self.depth_in_content = 0
        self.skipping = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        content = "md-content" in classes
        self.stack.append((tag, content))
        self.depth_in_content += content
        self.skipping += tag in SKIPPED

    def handle_endtag(self, tag):
        while self.stack:
            name, content = self.stack.pop()
            self.depth_in_content -= content
            self.skipping -= name in SKIPPED
            if name == tag:
                break

    def handle_data(self, data):
        if self.depth_in_content > 0 and not self.skipping:
            self.text.append(data)


def page_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join(parser.text)


def _identifiers(site: Path) -> set[str]:
    """Every identifier a page could leak: declared names that are not plain words (they hold an
    underscore), and the report's slugs that hold a hyphen or a digit."""
    from stabreport.report.config import load_report

    names = {m.name for e in experiments() for m in e.all_metrics}
    names |= {p.name for e in experiments() for p in e.params}
    names |= set(SETTING_STATISTICS.names()) | set(CELL_STATISTICS.names())
    names |= set(ACTIVATIONS) | set(INITIALISERS)
    report = load_report(site / "stabreport.yml")
    slugs = {s.id for s in report.settings} | {s.id for s in report.sections} | \
        {w.id for w in report.sweeps}
    # a slug that the report's own words also use ("near-identity") is a word there
    words = " ".join(str(t) for t in [*(s.title for s in report.sections), *(s.label for s in report.settings),
                                      *(w.title for w in report.sweeps)]).lower()
    return {n for n in names if "_" in n} | {s for s in slugs if re.search(r"[-\d]", s)
                                               and s not in words}


def test_no_page_shows_an_identifier_where_a_reader_expects_words(site):
    identifiers = _identifiers(site)
    assert "scaled_sigmoid" in identifiers and "sv_spread" in identifiers  # the scan's reach
    pages = sorted((site / "site").glob("*.html")) + sorted((site / "site" / "zh").glob("*.html"))
    assert len(pages) >= 16
    found = []
    for path in pages:
        if path.name == "404.html":
            continue
        text = page_text(path)
        for name in identifiers:
            # the identifier as a word of its own: not inside a longer slug or identifier
            for match in re.finditer(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text):
                context = text[max(0, match.start() - 40):match.end() + 40].replace("\n", " ")
                found.append(f"{path.relative_to(site / 'site')}: {name!r} in …{context}…")
    assert found == [], "\n".join(found[:20])


def test_the_scan_reads_text_and_passes_over_code(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<div class="md-content"><p>the sv_spread is</p><pre><code>scaled_sigmoid'
                    '</code></pre><a href="x#relu-normal-0.1">scale 0.1</a><br><img src="a">'
                    "<p>after</p></div><p>outside dead_fraction</p>")
    text = page_text(page)
    assert "sv_spread" in text and "after" in text and "scale 0.1" in text
    assert "scaled_sigmoid" not in text and "relu-normal-0.1" not in text
    assert "dead_fraction" not in text  # outside the page's content (navigation, footer)
