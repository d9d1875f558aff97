"""The printable handout: the whole report as one PDF, site/handout.pdf, for the classroom.

Made at site-build time from the pages MkDocs has just written, so that it shows what the site
shows: a cover (title, address, version, build date, seed), the contents with page numbers, then
each navigation page's <article> in navigation order, each from a new PDF page, styled by the
site's own stylesheets (not the theme's) and docs/assets/stylesheets/handout.css, with its SVG
figures (vector in the PDF) and its math typeset by the KaTeX copy the site ships. Links between
pages become links inside the PDF and every other link points at the public site.
Interactive-only parts are left out: collapsed copy-and-paste blocks go, other collapsed blocks
are printed open, and a page that runs scripts (the explorer) or differs between builds of the
same inputs (the timings) becomes one line pointing at the site.

Headless Chromium prints it, driven over its DevTools pipe (standard library only, no network:
every file is the site's own): one load, a first print that finds the page of every heading, and
the final print with those numbers in the contents. Chromium stamps the moment of printing into
the PDF: the stamps become the site's build date, and a document /ID, if any, a hash of the
content, each at its own length, so that the PDF stays valid and the same site gives the same
bytes.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import html as html_module
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import yaml
from ..report.model import HOME
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..render import i18n
from ..errors import BuildError, ConfigError
from ..paths import GENERATED, NAV, SITE, TIMINGS, write_file
from ..project import Project
from ..core.processes import die_with_parent

HANDOUT = "handout.pdf"  # in the site's root, beside index.html
PRINT_PAGE = ".handout.html"  # the page Chromium prints: in the staging tree while it prints
STYLESHEET = "assets/stylesheets/handout.css"  # docs/assets/stylesheets/handout.css, published
# Where Chromium is looked for: $STABREPORT_CHROMIUM, else these names on PATH (Debian's first).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_SECONDS = 120  # the longest wait for one answer (a print of the report takes seconds)
# Collapsed blocks of these kinds (pymdownx.details' `???`) hold copy-and-paste material, BibTeX
# and commands, which the site serves: the handout leaves them out and prints the others open.
DROPPED_DETAILS = frozenset({"quote"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


class ChromiumMissing(ConfigError):
    """The handout needs a browser to print it, and none was found."""


def find_chromium() -> Path:
    """The Chromium (or Chrome) that prints the handout; ChromiumMissing, one line saying how to
    get one, when there is none."""
    chosen = os.environ.get("STABREPORT_CHROMIUM")
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise ChromiumMissing(f"STABREPORT_CHROMIUM is {chosen!r}, which is not an executable; "
                                  "allowed: the path of Chromium or Chrome")
        return Path(found)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ChromiumMissing("the PDF handout needs Chromium, and none is installed (looked for "
                          + ", ".join(CHROMIUM_NAMES) + " on PATH, and $STABREPORT_CHROMIUM): "
                          "install it with `sudo apt-get install chromium` (`make docs` does), "
                          "or build the site without the handout: `stabreport site --no-handout`")


# --- the pages, as they were built -----------------------------------------------------------------

@dataclass(frozen=True)
class HandoutPage:
    name: str  # the built file's stem (index, mlp, ...), and its anchor in the handout
    title: Markup  # its <h1>'s content (the navigation title when it has none)
    content: Markup  # its article after the <h1>, rewritten; empty when reduced
    sections: tuple[tuple[str, Markup], ...]  # (anchor, title) of each <h2>, for the contents
    reduced: str | None  # why only the title and a pointer are printed: interactive, varies


@dataclass(frozen=True)
class _Href:
    """A link's target as the built page has it: rewritten once every page's ids are known."""

    href: str


Parts = list["str | _Href"]


class _Article(HTMLParser):
    """One built page's <article>, written out again with its ids made unique in the handout
    (prefixed with the page's name), and permalink marks, scripts, dropped blocks and dark-mode
    images left out; other <details> are opened and lazy images made eager (a print loads nothing
    more once it starts). Links are left as _Href parts, for `_joined` to rewrite."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=False)
        self.page = page
        self.out: Parts = []
        self.title: Parts | None = None  # the first <h1>'s content
        self.sections: list[tuple[str, Parts]] = []
        self.ids: set[str] = set()
        self.scripts = False
        self.found = False  # whether the page has an <article>
        self._depth = 0  # inside <article> while > 0
        self._skip: list[str] = []  # the tags of the open elements being left out
        self._capture: str | None = None  # "h1" or "h2" while its content is read

    def _emit(self, text: str | _Href) -> None:
        if not self._depth or self._skip:
            return
        if self._capture == "h1":  # the title is printed by the handout's own heading
            self.title.append(text)
            return
        self.out.append(text)
        if self._capture == "h2":
            self.sections[-1][1].append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if tag == "article":
            self._depth += 1
            self.found = True
            return
        if not self._depth:
            return
        if self._skip:
            if tag == self._skip[0] and not closed and tag not in VOID:
                self._skip.append(tag)
            return
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        self.scripts = self.scripts or tag == "script"
        if (tag == "script" or (tag == "a" and "headerlink" in classes)
                or (tag == "details" and DROPPED_DETAILS.intersection(classes))
                or (tag == "img" and (values.get("src") or "").endswith("#only-dark"))):
            if not closed and tag not in VOID:
                self._skip.append(tag)
            return
        if tag == "h1" and self.title is None:
            self.title, self._capture = [], "h1"  # its id is the page's: links go to the page
            return
        if values.get("id"):
            self.ids.add(values["id"])
        self._emit(f"<{tag}")
        for name, value in attrs:
            if value is None:
                self._emit(f" {name}")
            elif name == "id":
                self._emit(f' id="{escape(self.page)}--{escape(value)}"')
            elif name == "href":
                self._emit(' href="')
                self._emit(_Href(value))
                self._emit('"')
            elif not (name == "loading" and tag == "img"):
                self._emit(f' {name}="{escape(value)}"')
        if tag == "details" and "open" not in values:
            self._emit(" open")
        self._emit(" />" if closed else ">")
        if tag == "h2" and values.get("id"):  # an entry of the contents
            self.sections.append((f"{self.page}--{values['id']}", []))
            self._capture = "h2"

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._depth -= 1
            return
        if self._skip:
            if tag == self._skip[0]:
                self._skip.pop()
            return
        if tag == self._capture:
            self._capture = None
            if tag == "h1":
                return
        self._emit(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        self._emit(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._emit(f"&#{name};")


def _article(path: Path, page: str) -> _Article:
    parser = _Article(page)
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    if not parser.found:
        raise BuildError(f"{path.name} has no <article>: the handout cannot find its content")
    return parser


def _joined(parts: Parts, link: Callable[[str], str]) -> Markup:
    return Markup("".join(escape(link(p.href)) if isinstance(p, _Href) else p for p in parts))


def _linker(page: str, site_url: str, ids: dict[str, set[str]]) -> Callable[[str], str]:
    """Rewrites a link of `page`: to a page of the handout, or an id on it → an anchor in the
    handout; to anything else of the site → its public address; to other sites → unchanged."""

    def link(href: str) -> str:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            return href
        if not parts.path:
            name = page
        elif parts.path in (".", "./", "index.html"):
            name = HOME
        else:
            name = parts.path[:-len(".html")] if parts.path.endswith(".html") else None
        if name in ids:
            return f"#{name}--{parts.fragment}" if parts.fragment in ids[name] else f"#{name}"
        return urljoin(site_url, href)

    return link


def _site_info(root: Path, staging: Path, language: str = "en") -> tuple[Any, dict[str, Any]]:
    """The site's identity (a cite.SiteInfo) and provenance, from the files the build published
    beside the pages; the title and address of the `language` edition."""
    from ..render.cite import SiteInfo, site_url

    def read(name: str) -> str:
        if not (staging / name).is_file():
            raise BuildError(f"the handout needs {GENERATED}/{name}: run `stabreport build` first")
        return (staging / name).read_text(encoding="utf-8")

    about = json.loads(read("provenance.json"))
    cff = yaml.safe_load(read("CITATION.cff"))
    authors = tuple(a.get("name") or f"{a.get('given-names', '')} {a.get('family-names', '')}".strip()
                    for a in cff.get("authors", []))
    title = str(cff["title"])
    url = site_url(root)
    if language != i18n.SOURCE:
        title = html_module.unescape(_edition(root, language)["site_name"])
        url = url.rstrip("/") + f"/{language}/"
    return SiteInfo(url, title, title, str(cff["version"]), about["date"], authors), about


def _edition(root: Path, language: str) -> dict[str, Any]:
    """What the build recorded of an edition: its site name, navigation and languages."""
    folder = root / GENERATED if language == i18n.SOURCE else root / GENERATED / language
    try:
        return json.loads((folder / NAV).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BuildError(f"the handout needs {folder / NAV}: run `stabreport build` first") from None


def _site_assets(root: Path) -> tuple[list[str], list[str]]:
    """The site's own stylesheets and scripts (extra_css and extra_javascript of the site's
    MkDocs configuration): KaTeX, how the site calls it, and the site's styling of figures. Not
    the theme's."""
    config = Project(root).mkdocs_settings()

    def paths(key: str) -> list[str]:
        return [item if isinstance(item, str) else item["path"] for item in config.get(key) or []]

    return paths("extra_css"), paths("extra_javascript")


# --- the print page --------------------------------------------------------------------------------

PRINT_TEMPLATE = "handout.html.j2"  # in the project's templates/: the handout's own words


def _css_string(text: str) -> str:
    """Text as a quoted CSS string, for the margin boxes' content."""
    return '"' + re.sub(r'["\\\n]', lambda m: "\\A " if m[0] == "\n" else "\\" + m[0], str(text)) + '"'


def print_page(root: Path, staging: Path, language: str = "en") -> tuple[str, list[str]]:
    """The handout as one HTML page for the root of the site MkDocs built into `staging` (the
    `language` edition), and the anchors whose page numbers the contents show."""
    nav = _edition(root, language)["nav"]
    names = [file[:-len(".md")] for _, file in nav]
    missing = [f"{name}.html" for name in names if not (staging / f"{name}.html").is_file()]
    if missing:
        raise BuildError("the handout cannot find the built pages " + ", ".join(missing))
    articles = {name: _article(staging / f"{name}.html", name) for name in names}
    varies = TIMINGS[:-len(".md")]
    reduced = {name: "interactive" if article.scripts else "varies" if name == varies else None
               for name, article in articles.items()}
    # Links land only on what the handout prints: a reduced page keeps its title only.
    ids = {name: article.ids if reduced[name] is None else set()
           for name, article in articles.items()}
    site, about = _site_info(root, staging, language)
    pages = []
    for (nav_title, _), (name, article) in zip(nav, articles.items()):
        link = _linker(name, site.url, ids)
        kept = reduced[name] is None
        pages.append(HandoutPage(
            name, _joined(article.title, link) if article.title else Markup(nav_title),
            _joined(article.out, link) if kept else Markup(""),
            tuple((anchor, _joined(parts, link)) for anchor, parts in article.sections)
            if kept else (), reduced[name]))
    stylesheets, scripts = _site_assets(root)
    env = Environment(loader=FileSystemLoader([str(p) for p in Project(root).folders("templates")]),
                      autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True,
                      extensions=["jinja2.ext.i18n"])
    i18n.install(env)
    env.filters["css_string"] = _css_string
    with i18n.speaking(root, language):
        html = env.get_template(PRINT_TEMPLATE).render(
            site=site, seed=about.get("seed"), commit=about.get("commit"), pages=pages,
            stylesheets=stylesheets + [STYLESHEET], scripts=scripts)
    return html, [p.name for p in pages] + [anchor for p in pages for anchor, _ in p.sections]


# --- Chromium, over its DevTools pipe --------------------------------------------------------------

# Run in the print page once it has loaded: what did not render (math KaTeX refused, images that
# did not load), after the fonts have loaded.
CHECK_PAGE = """document.body.offsetHeight, document.fonts.ready.then(() => ({
  math: [...document.querySelectorAll(".arithmatex")].filter(e => !e.querySelector(".katex"))
    .map(e => e.textContent.trim().slice(0, 80)),
  images: [...document.images].filter(i => !i.complete || !i.naturalWidth)
    .map(i => i.getAttribute("src"))
}))"""
# Fills the contents' page numbers (a JSON object anchor → page follows).
FILL_NUMBERS = """(numbers => { for (const cell of document.querySelectorAll("[data-page-of]"))
  cell.textContent = numbers[cell.dataset.pageOf] || ""; })"""


class _Chromium:
    """Headless Chromium with its own profile in a temporary folder, spoken to over the DevTools
    pipe (file descriptors 3 and 4, messages ending in NUL). It never reaches the network, and
    it dies with this process."""

    def __init__(self, executable: Path, scratch: Path) -> None:
        to_browser, from_browser = os.pipe(), os.pipe()
        # Above 3 and 4, so that placing them there in the child cannot overwrite one another.
        ends = [fcntl.fcntl(to_browser[0], fcntl.F_DUPFD_CLOEXEC, 10),
                fcntl.fcntl(from_browser[1], fcntl.F_DUPFD_CLOEXEC, 10)]
        os.close(to_browser[0])
        os.close(from_browser[1])
        self._write, self._read = to_browser[1], from_browser[0]
        self._log = scratch / "chromium.log"
        parent = os.getpid()

        def child() -> None:
            die_with_parent(parent)
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        try:
            with self._log.open("wb") as log:
                self.process = subprocess.Popen(
                    [str(executable), "--headless", "--no-sandbox", "--disable-gpu",
                     "--remote-debugging-pipe", f"--user-data-dir={scratch / 'profile'}",
                     "--allow-file-access-from-files",  # the site's fonts and figures, over file://
                     "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing leaves the machine
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-extensions", "--no-first-run", "about:blank"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
                    preexec_fn=child, start_new_session=True)
        finally:
            for end in ends:
                os.close(end)
        self._buffer, self._sent, self._events = b"", 0, []
        self._session: str | None = None  # the page's, once Chromium has started

    def __enter__(self) -> _Chromium:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        try:  # asked first, Chromium ends its helpers itself
            os.write(self._write, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever is left of it
        except ProcessLookupError:
            pass
        self.process.wait()
        for end in (self._write, self._read):
            try:
                os.close(end)
            except OSError:  # closed already
                pass

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._sent += 1
        message = {"id": self._sent, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._write, data):]
        except BrokenPipeError:
            self._failed("closed its pipe")
        while True:
            answer = self._receive()
            if answer.get("id") == self._sent:
                if "error" in answer:
                    raise BuildError(f"Chromium refused {method}: {answer['error'].get('message')}")
                return answer["result"]
            self._events.append(answer)

    def wait_for(self, event: str) -> dict[str, Any]:
        while True:
            for index, message in enumerate(self._events):
                if message.get("method") == event:
                    return self._events.pop(index)
            self._events.append(self._receive())

    def load(self, url: str) -> None:
        if self._session is None:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.call("Target.attachToTarget", targetId=target,
                                      flatten=True)["sessionId"]
            self.call("Page.enable", session=True)
        done = self.call("Page.navigate", session=True, url=url)
        if done.get("errorText"):
            raise BuildError(f"Chromium could not open {url}: {done['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        done = self.call("Runtime.evaluate", session=True, expression=expression,
                         awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in done:
            raise BuildError("the handout's page failed in Chromium: "
                             + done["exceptionDetails"].get("text", ""))
        return done["result"].get("value")

    def pdf(self, tagged: bool) -> bytes:
        done = self.call("Page.printToPDF", session=True, preferCSSPageSize=True,
                         printBackground=True, generateTaggedPDF=tagged,
                         generateDocumentOutline=tagged)
        return base64.b64decode(done["data"])

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + CHROMIUM_SECONDS
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                self._failed(f"did not answer within {CHROMIUM_SECONDS} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                self._failed("stopped")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def _failed(self, what: str) -> None:
        self.process.poll()
        lines = [line for line in self._log.read_text(errors="replace").splitlines()
                 if "ERROR" in line or "FATAL" in line][-5:]
        raise BuildError(f"Chromium {what} while printing the handout (exit code "
                         f"{self.process.returncode}):\n" + "\n".join(lines))


# --- the PDF ---------------------------------------------------------------------------------------

def _objects(pdf: bytes) -> Callable[[int], bytes]:
    """Reads an object's dictionary (what comes before any stream) through the classic
    cross-reference table that Chromium's PDF library (Skia) writes."""
    start = int(pdf[pdf.rindex(b"startxref") + len(b"startxref"):].split()[0])
    table = re.match(rb"xref\s+(\d+) (\d+)\s+", pdf[start:])
    if table is None:
        raise BuildError("the printed handout has no cross-reference table that this code reads")
    first, entries = int(table[1]), start + table.end()

    def read(number: int) -> bytes:
        offset = int(pdf[entries + 20 * (number - first):entries + 20 * (number - first) + 10])
        body = pdf[offset:pdf.index(b"endobj", offset)]
        # The stream keyword only where the dictionary ends: a name like /mlp--downstream is not one.
        return re.split(rb">>\s*stream\r?\n", body, maxsplit=1)[0]

    return read


def page_numbers(pdf: bytes, anchors: list[str]) -> dict[str, int]:
    """The PDF page (from 1) that each anchor is on, from the PDF's named destinations (Chromium
    writes one for each element that a link points at)."""
    read = _objects(pdf)
    trailer = pdf[pdf.rindex(b"trailer"):]
    catalog = read(int(re.search(rb"/Root\s+(\d+) 0 R", trailer)[1]))
    order: list[int] = []

    def walk(number: int) -> None:
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", read(number))
        if kids is None:
            order.append(number)
        for kid in re.findall(rb"(\d+) 0 R", kids[1]) if kids else ():
            walk(int(kid))

    walk(int(re.search(rb"/Pages\s+(\d+) 0 R", catalog)[1]))
    pages = {number: index + 1 for index, number in enumerate(order)}
    dests = re.search(rb"/Dests\s+(\d+) 0 R", catalog)
    found = {}
    for name, page in re.findall(rb"/([^\s/\[\]<>()]+)\s*\[\s*(\d+) 0 R",
                                 read(int(dests[1])) if dests else b""):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), name).decode()
        found[name] = pages[int(page)]
    missing = [anchor for anchor in anchors if anchor not in found]
    if missing:
        raise BuildError("the printed handout names no page for " + ", ".join(missing[:5])
                         + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                         + ": the contents would have no page numbers")
    return {anchor: found[anchor] for anchor in anchors}


def reproducible(pdf: bytes, date: str) -> bytes:
    """Chromium's PDF with the moment of printing replaced by the build date (midnight UTC) and a
    document /ID, if it has one, by a hash of the content: each at its own length, so that the
    offsets in the cross-reference table still hold."""
    stamp = f"D:{date.replace('-', '')}000000+00'00'".encode()

    def dated(match: re.Match) -> bytes:
        if len(match[2]) != len(stamp):
            raise BuildError(f"the printed handout has a date this code does not know: {match[0]!r}")
        return match[1] + stamp

    pdf = re.sub(rb"(/(?:CreationDate|ModDate)\s*\()([^)]*)", dated, pdf)
    digest = hashlib.sha256(re.sub(rb"/ID\s*\[[^\]]*\]", b"", pdf)).hexdigest().encode()
    return re.sub(rb"/ID\s*\[[^\]]*\]", lambda match: re.sub(
        rb"<([0-9A-Fa-f]*)>", lambda m: b"<" + (digest * 4)[:len(m[1])] + b">", match[0]), pdf)


def build_handout(root: Path, staging: Path, language: str = "en") -> Path:
    """Print the handout of the `language` edition MkDocs built into `staging` to
    staging/handout.pdf."""
    chromium = find_chromium()
    page = staging / PRINT_PAGE
    # Chromium's profile in the project, named like a staged site: a print killed with the
    # build leaves it where the next site build's recovery removes it (not in /tmp, for good).
    with tempfile.TemporaryDirectory(prefix=f".{SITE.name}-new-handout-", dir=root) as scratch, \
            _Chromium(chromium, Path(scratch)) as browser:  # it starts while the page is made
        html, anchors = print_page(root, staging, language)
        write_file(page, html)
        try:
            browser.load(page.resolve().as_uri())
            problems = browser.evaluate(CHECK_PAGE)
            if problems["math"] or problems["images"]:
                raise BuildError("the handout did not render: " + "; ".join(
                    [f"math KaTeX could not typeset: {m!r}" for m in problems["math"][:5]]
                    + [f"an image that did not load: {src}" for src in problems["images"][:5]]))
            # A first print finds each heading's page; the final one shows them in the contents,
            # in a column of fixed width, so that nothing moves (checked).
            numbers = page_numbers(browser.pdf(tagged=False), anchors)
            for _ in range(2):
                browser.evaluate(f"{FILL_NUMBERS}({json.dumps(numbers)})")
                pdf = browser.pdf(tagged=True)  # tagged: read aloud, with bookmarks
                found = page_numbers(pdf, anchors)
                if found == numbers:
                    break
                numbers = found
            else:
                raise BuildError("the handout's page numbers did not settle in three prints")
        finally:
            page.unlink(missing_ok=True)
    _, about = _site_info(root, staging, language)
    target = staging / HANDOUT
    write_file(target, reproducible(pdf, about["date"]))
    return target
