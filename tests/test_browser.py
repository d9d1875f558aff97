"""The built site in a real browser: headless Chromium (Debian's package) driven by Playwright,
serving site/ on 127.0.0.1 with every other address blocked. Screenshots go to test-output/."""
import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import urljoin

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    """(base URL, path prefix) of the built site, served under site_url's path."""
    from stabreport.render.cite import site_url
    from urllib.parse import urlsplit

    prefix = urlsplit(site_url(site)).path  # e.g. /stabreport/
    root = site / "serve-root"
    if not root.exists():
        (root / prefix.strip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / prefix.strip("/")).symlink_to(site / "site", target_is_directory=True)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}{prefix}", site / "site"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _page(browser, problems, site="http://127.0.0.1"):
    """A page that may only request addresses under `site` (the served site, or "file://" for
    the site opened from disk); anything else, and any error, is a problem."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def block_outside(route):
        if route.request.url.startswith(site):
            route.continue_()
        else:
            problems.append(f"request outside the site: {route.request.url}")
            route.abort()

    page.route("**/*", block_outside)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # A request that a navigation cancels (net::ERR_ABORTED: the favicon of a page left at once)
    # is not a fault of the site; a missing or unreadable file fails otherwise and is one.
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})")
            if "ERR_ABORTED" not in (r.failure or "") else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    return page


def _pages(site_dir: Path) -> list[str]:
    return sorted("" if p.name == "index.html" else p.name for p in site_dir.glob("*.html")
                  if p.name != "404.html")


def test_every_page_of_both_editions_loads_cleanly_with_its_images_and_math(served, browser):
    base, site_dir = served
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pages = _pages(site_dir)
    chinese = ["zh/" + path for path in _pages(site_dir / "zh")]
    assert len(pages) >= 8 and [p[3:] for p in chinese] == pages
    for path in pages + chinese:
        problems: list[str] = []
        page = _page(browser, problems)
        page.goto(base + path, wait_until="networkidle")
        language = page.evaluate("document.documentElement.lang")
        assert language == ("zh" if path.startswith("zh/") else "en"), (path, language)
        # Lazy images load when scrolled to; ask for all of them now, then wait.
        page.evaluate("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
        page.wait_for_function("[...document.images].every(i => i.complete)", timeout=20000)
        broken = page.evaluate("[...document.images].filter(i => i.naturalWidth === 0).map(i => i.src)")
        assert broken == [], f"{path}: images that did not load: {broken}"
        math = page.locator(".arithmatex").count()
        if math:
            page.wait_for_function("document.querySelectorAll('.katex').length > 0", timeout=10000)
            assert page.locator(".katex-error").count() == 0, path
            assert page.locator(".katex").count() >= math, f"{path}: math left untypeset"
        page.screenshot(path=str(OUTPUT / f"{path.strip('/').replace('/', '_') or 'home'}.png"),
                        full_page=False)
        page.close()
        assert problems == [], f"{path}: {problems}"


def test_only_the_sites_own_maths_is_typeset(served, browser):
    """Text outside arithmatex's elements (config text, a translation) is never typeset, even
    where it reads like maths: KaTeX is run on the site's formulas only."""
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    hostile = r'<p id="hostile">Report $\color{red}{\Huge TITLE}$ and $\rule{3000px}{3000px}$ \(x^2\)</p>'

    def with_hostile_text(route):
        response = route.fetch()
        body = response.text().replace("</h1>", "</h1>" + hostile, 1)
        route.fulfill(response=response, body=body)

    page.route("**/theory.html", with_hostile_text)
    page.goto(base + "theory.html", wait_until="networkidle")
    page.wait_for_function("document.querySelectorAll('.katex').length > 20", timeout=10000)
    assert page.locator("#hostile").count() == 1
    assert page.locator("#hostile .katex").count() == 0
    assert r"$\rule{3000px}{3000px}$" in page.locator("#hostile").inner_text()
    page.close()
    assert problems == []


def test_math_pages_typeset_offline(served, browser):
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base + "theory.html", wait_until="networkidle")
    page.wait_for_function("document.querySelectorAll('.katex').length > 20", timeout=10000)
    assert page.locator(".katex-display").count() >= 1
    assert problems == []


def test_search_finds_xavier_and_opens_the_mlp_page(served, browser):
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base, wait_until="networkidle")
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially("Xavier", delay=30)  # Material listens for key events, not fill()
    # Other pages mention Xavier too (the training page trains it): the MLP page must be among
    # the results, and its result must open it.
    result = page.locator('.md-search-result__item a[href*="mlp.html"]').first
    result.wait_for(timeout=10000)
    result.click()
    page.wait_for_load_state("networkidle")
    assert "/mlp.html" in page.url, page.url
    assert "Xavier" in page.locator("article").inner_text()
    page.screenshot(path=str(OUTPUT / "search-xavier.png"))
    assert problems == []


def test_light_dark_toggle_switches_the_scheme(served, browser):
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base + "mlp.html", wait_until="networkidle")
    scheme = lambda: page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    before = scheme()
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function(f"document.body.getAttribute('data-md-color-scheme') !== '{before}'")
    after = scheme()
    assert {before, after} == {"default", "slate"}
    page.screenshot(path=str(OUTPUT / f"mlp-{after}.png"))
    # Each figure shows its drawing for the scheme: the dark one on slate, the light one else.
    shown = page.evaluate("""[...document.querySelectorAll('figure img')]
        .filter(i => getComputedStyle(i).display !== 'none').map(i => i.getAttribute('src'))""")
    dark = after == "slate"
    assert shown and all(src.endswith("-dark.svg#only-dark") == dark for src in shown), shown
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function(f"document.body.getAttribute('data-md-color-scheme') === '{before}'")
    assert problems == []


def test_every_download_link_resolves(served, browser):
    base, site_dir = served
    problems: list[str] = []
    page = _page(browser, problems)
    checked = set()
    for path in [edition + page for edition in ("", "zh/") for page in
                 ("products.html", "mlp.html", "theory.html", "figures.html", "cite.html")]:
        page.goto(base + path, wait_until="networkidle")
        hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
        for href in hrefs:
            if any(part in href for part in ("figures/", "data/", "CITATION.cff")) and "#" not in href:
                url = urljoin(base + path, href)
                if url not in checked:
                    response = page.request.get(url)
                    assert response.status == 200 and response.body(), url
                    checked.add(url)
    assert len(checked) >= 2 * 16 * 5
    assert problems == []


def test_the_language_switcher_keeps_the_reader_on_the_same_page(served, browser):
    base, site_dir = served
    problems: list[str] = []
    page = _page(browser, problems)
    figure = page_figure = None
    for path in _pages(site_dir):
        figure = re.search(r'<figure[^>]* id="([^"]+)"', (site_dir / (path or "index.html")).read_text())
        if figure:
            page_figure = path, figure.group(1)
            break
    assert page_figure is not None
    path, anchor = page_figure
    page.goto(f"{base}{path}#{anchor}", wait_until="networkidle")
    for language, expected in (("zh", f"zh/{path}#{anchor}"), ("en", f"{path}#{anchor}")):
        page.locator(".md-header__option .md-select").hover()
        page.locator(f"a.md-select__link[hreflang='{language}']").click()
        page.wait_for_url(base + expected)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.lang") == language
        assert page.locator(f"[id='{anchor}']").count() == 1
    # Every page of either edition links its counterpart in the other.
    for path in _pages(site_dir):
        name = path or "index.html"
        assert f'href="zh/{name}" hreflang="zh"' in (site_dir / name).read_text(), name
        assert f'href="../{name}" hreflang="en"' in (site_dir / "zh" / name).read_text(), name
    assert problems == []


def test_a_chinese_search_finds_chinese_pages(served, browser):
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base + "zh/index.html", wait_until="networkidle")
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially("梯度", delay=50)  # typed as text: no key events, as an IME gives
    search.press("End")  # ... but a real keyboard's last key (Material searches on keyup)
    result = page.locator(".md-search-result__item a").first
    result.wait_for(timeout=10000)
    links = page.evaluate("[...document.querySelectorAll('.md-search-result__item a')].map(a => a.href)")
    assert len(links) >= 3 and all("/zh/" in link for link in links), links
    result.click()
    page.wait_for_load_state("networkidle")
    assert "/zh/" in page.url and "梯度" in page.locator("article").inner_text()
    page.screenshot(path=str(OUTPUT / "search-zh.png"))
    assert problems == []


# --- the explorer ---------------------------------------------------------------------------------

def _explorer_data(site_dir: Path) -> dict:
    import json

    text = (site_dir / "data" / "explorer.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("{"):text.rindex(";")])


def _shown(page, previous: tuple[str, list[int]] | None = None) -> tuple[str, list[int]]:
    """The experiment and grid indices of the cell the page shows, once it has drawn it (and,
    given the `previous` one, once it has moved away from it)."""
    old = "" if previous is None else f"{previous[0]}:{','.join(map(str, previous[1]))}"
    page.wait_for_function("([e, old]) => e && e.getAttribute('data-rendered') === "
                           "e.getAttribute('data-cell') && e.getAttribute('data-cell') !== old",
                           arg=[page.query_selector("#explorer"), old], timeout=15000)
    name, index = page.get_attribute("#explorer", "data-cell").split(":")
    return name, [int(i) for i in index.split(",")]


def _readout_matches(page, data, name, index):
    import html
    import re

    experiment = next(e for e in data["experiments"] if e["name"] == name)
    cell = experiment["cells"][",".join(map(str, index))]
    expected = html.unescape(re.sub(r"<[^>]+>", "", cell["readout"]))
    assert page.inner_text("#explorer-readout").split() == expected.split()
    assert page.inner_text("#explorer-command") == cell["command"]
    assert page.locator("#explorer-trajectory svg").count() == 1
    assert page.locator("#explorer-distribution svg").count() == 1
    return experiment, cell


def test_explorer_restores_a_fragment_and_follows_every_control(served, browser):
    base, site_dir = served
    data = _explorer_data(site_dir)
    mlp = next(e for e in data["experiments"] if e["name"] == "mlp")
    keys = [c["key"] for c in mlp["controls"]]
    problems: list[str] = []
    page = _page(browser, problems)
    # 0.11 is not on the grid: it snaps to the nearest value, 0.1.
    page.goto(base + "explore.html#experiment=mlp&activation=sigmoid&init=normal&scale=0.11&width=100"
              "&depth=25", wait_until="networkidle")
    name, index = _shown(page)
    chosen = {k: mlp["controls"][i]["values"][index[i]] for i, k in enumerate(keys)}
    assert name == "mlp" and chosen == {"activation": "sigmoid", "init": "normal", "scale": 0.1,
                                        "width": 100, "depth": 25}
    _readout_matches(page, data, name, index)
    page.screenshot(path=str(OUTPUT / "explore.png"), full_page=True)
    # Every control moves to the precomputed cell it names, and the address follows.
    for i, control in enumerate(mlp["controls"]):
        if len(control["values"]) < 2:
            continue
        target = (index[i] + 1) % len(control["values"])
        if control["kind"] == "log":
            page.locator(f"#explorer-{control['key']}").fill(str(target))
        else:
            page.select_option(f"#explorer-{control['key']}", str(target))
        name, index = _shown(page, (name, index))
        assert index[i] == target, control["key"]
        _readout_matches(page, data, name, index)
        value = control["values"][target]
        assert f"{control['key']}={value}" in page.evaluate("decodeURIComponent(location.hash)")
    # Another experiment, with its own controls.
    page.select_option("#explorer-experiment", "products")
    name, index = _shown(page, (name, index))
    assert name == "products"
    _readout_matches(page, data, name, index)
    assert problems == []


def test_explorer_passes_over_a_malformed_or_impossible_fragment(served, browser):
    """A fragment part that is not valid percent-encoding ("%", "%E0") or a number that is no
    place on the grid (1e999, -1) is passed over: the controls and the readout still show, and
    the rest of the fragment still counts, as if the bad part were not there."""
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    shown = {}
    for fragment in ["experiment=mlp&activation=sigmoid",
                     "experiment=mlp&%E0=x&activation=sigmoid&scale=1e999",
                     "experiment=mlp&activation=sigmoid&scale=-1&width=%",
                     "experiment=%&x=%%"]:
        page.goto(base + "explore.html#" + fragment, wait_until="networkidle")
        shown[fragment] = _shown(page)
        assert page.locator("#explorer-experiment").is_visible(), fragment
        page.goto("about:blank")
    first, *others = shown.values()
    assert others[0] == first and others[1] == first, shown
    assert problems == []


def test_explorer_works_by_keyboard_alone_and_cites_the_view(served, browser):
    base, site_dir = served
    data = _explorer_data(site_dir)
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base + "explore.html#experiment=mlp&activation=relu&scale=0.1&width=25&depth=10",
              wait_until="networkidle")
    name, before = _shown(page)
    mlp = next(e for e in data["experiments"] if e["name"] == "mlp")
    scale_index = next(i for i, c in enumerate(mlp["controls"]) if c["key"] == "scale")
    for _ in range(80):  # Tab from the top of the page until the scale slider has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "explorer-scale":
            break
    else:
        pytest.fail("the scale slider cannot be reached with Tab")
    page.keyboard.press("ArrowRight")
    name, after = _shown(page, (name, before))
    assert after[scale_index] == before[scale_index] + 1
    _readout_matches(page, data, name, after)
    page.keyboard.press("Tab")  # the width menu, operated by the arrow keys
    assert page.evaluate("document.activeElement.id") == "explorer-width"
    page.keyboard.press("ArrowDown")
    name, moved = _shown(page, (name, after))
    assert moved != after
    _readout_matches(page, data, name, moved)
    for _ in range(20):
        if page.evaluate("document.activeElement.id") == "explorer-cite":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    bibtex = page.inner_text("#explorer-bibtex")
    assert page.is_visible("#explorer-bibtex") and bibtex.startswith("@misc{")
    fragment = page.evaluate("location.hash")
    assert "explore.html" + fragment in bibtex and "stabreport run mlp" in bibtex
    assert problems == []


def test_explorer_on_a_phone_and_in_dark_mode(served, browser):
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "explore.html#experiment=resnet", wait_until="networkidle")
    name, index = _shown(page)
    assert name == "resnet"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    widths = page.evaluate("[...document.querySelectorAll('#explorer svg')].map(s => s.getBoundingClientRect().right)")
    assert widths and max(widths) <= 390
    page.screenshot(path=str(OUTPUT / "explore-phone.png"), full_page=True)
    # Switching to the dark palette redraws the charts in its colours.
    before = page.inner_html("#explorer-trajectory")
    page.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
    page.wait_for_function(f"document.getElementById('explorer-trajectory').innerHTML.length > 0 && "
                           f"document.getElementById('explorer-trajectory').innerHTML !== {before!r}")
    page.screenshot(path=str(OUTPUT / "explore-dark.png"), full_page=True)
    assert problems == []


def test_the_site_opened_from_disk_navigates_searches_and_typesets(served, browser):
    """site/index.html opened as a file: every navigation link opens its page (not a folder
    listing), with its images and math, and search finds "Xavier"."""
    _, site_dir = served
    problems: list[str] = []
    page = _page(browser, problems, site="file://")
    home = (site_dir / "index.html").as_uri()
    page.goto(home, wait_until="load")
    links = page.evaluate("""[...document.querySelectorAll('.md-nav--primary a.md-nav__link[href]')]
        .map(a => a.href)""")
    targets = sorted({link.split("#")[0] for link in links})
    assert len(targets) == len(_pages(site_dir)), targets
    for target in targets:
        assert target.startswith("file://") and target.endswith(".html"), target
        page.goto(target, wait_until="load")
        assert page.locator("article h1").count() == 1, f"{target}: not a page of the site"
        page.evaluate("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
        page.wait_for_function("[...document.images].every(i => i.complete)", timeout=20000)
        broken = page.evaluate("[...document.images].filter(i => i.naturalWidth === 0).map(i => i.src)")
        assert broken == [], f"{target}: {broken}"
        if page.locator(".arithmatex").count():
            page.wait_for_function("document.querySelectorAll('.katex').length > 0", timeout=10000)
            assert page.locator(".katex-error").count() == 0, target
    page.goto(home, wait_until="load")
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially("Xavier", delay=30)
    # Other pages mention Xavier too (the training page trains it): the MLP page must be among
    # the results, and its result must open it.
    result = page.locator('.md-search-result__item a[href*="mlp.html"]').first
    result.wait_for(timeout=10000)
    result.click()
    page.wait_for_load_state("load")
    assert page.url.startswith("file://") and "/mlp.html" in page.url, page.url
    page.screenshot(path=str(OUTPUT / "from-disk-search.png"))
    assert problems == []


# Everything wider than the viewport that no scrolling box of its own holds, and every table
# cell that a clipping box hides even after scrolling (reflowed tables' hidden headers aside).
_OVERFLOW = """() => {
  const vw = document.documentElement.clientWidth, wide = [], hidden = [];
  const holder = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX !== 'visible') { const a = p.getBoundingClientRect();
        if (a.left >= -1 && a.right <= vw + 1) return p; } }
    return null; };
  for (const el of document.querySelectorAll('.md-content *')) {
    if (el.closest('.katex-mathml')) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 1 || r.left < -1) && !holder(el))
      wide.push(`${el.tagName}.${el.className}: ${Math.round(r.left)}…${Math.round(r.right)}`);
  }
  for (const cell of document.querySelectorAll('.md-content tbody td, .md-content tbody th')) {
    for (let p = cell.parentElement; p && !p.classList.contains('md-content'); p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === 'visible') continue;
      const box = p.getBoundingClientRect(), c = cell.getBoundingClientRect();
      const scrolls = s.overflowX === 'auto' || s.overflowX === 'scroll';
      const reach = scrolls ? box.left - p.scrollLeft + p.scrollWidth : box.right;
      if (c.right > reach + 2 || c.left < box.left - p.scrollLeft - 2 || c.width === 0) {
        hidden.push(cell.textContent.trim().slice(0, 40));
        break;
      }
    }
  }
  return {wide, hidden, page: document.documentElement.scrollWidth, vw};
}"""


# Every table cell's look and text: its padding and rules (the cell's own border or its row's),
# and any two neighbouring cells whose text boxes overlap (a number running into the next one).
_TABLES = """() => {
  const shown = el => el.checkVisibility() && el.getClientRects().length > 0;
  const unstyled = [], overlapping = [];
  // the boxes of a cell's visible text (KaTeX's MathML copy for screen readers is clipped away)
  const textBox = cell => { const boxes = [], walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      if (node.parentElement.closest('.katex-mathml') || !node.textContent.trim()) continue;
      const range = document.createRange(); range.selectNodeContents(node);
      boxes.push(...[...range.getClientRects()].filter(r => r.width > 0 && r.height > 0));
    }
    return boxes; };
  const px = (style, side) => parseFloat(style[side]) || 0;
  for (const row of document.querySelectorAll('.md-content table tr')) {
    const cells = [...row.children].filter(shown);
    for (const cell of cells) {
      const s = getComputedStyle(cell), r = getComputedStyle(row);
      const padded = px(s, 'paddingLeft') + px(s, 'paddingRight') > 0;
      // a body cell has its own rule or its row's; the header row sits under the table's border
      const t = getComputedStyle(cell.closest('table'));
      const ruled = ['borderTopWidth', 'borderBottomWidth'].some(side =>
        px(s, side) > 0 || px(r, side) > 0) || (cell.closest('thead') && px(t, 'borderTopWidth') > 0);
      if (!padded || !ruled) unstyled.push(`${cell.tagName} "${cell.textContent.trim().slice(0, 30)}"`
        + ` padding ${s.paddingLeft}/${s.paddingRight}, rules ${s.borderTopWidth}/${s.borderBottomWidth}`);
    }
    for (let i = 0; i + 1 < cells.length; i++) {
      for (const a of textBox(cells[i])) for (const b of textBox(cells[i + 1])) {
        const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (x > 0.5 && y > 0.5) overlapping.push(
          `"${cells[i].textContent.trim().slice(0, 30)}" / "${cells[i + 1].textContent.trim().slice(0, 30)}"`);
      }
    }
  }
  return {unstyled, overlapping: [...new Set(overlapping)]};
}"""

# Visible text that is TeX or KaTeX source: a backslash command, a math delimiter, or a sub- or
# superscript group, outside code (where a command is what the reader should see).
_TEX = r"""() => {
  const found = [], walker = document.createTreeWalker(document.querySelector('.md-content'),
    NodeFilter.SHOW_TEXT);
  const tex = /\\[A-Za-z]{2,}|\\[()[\]]|\$\$|[_^]\{/;
  for (let node; (node = walker.nextNode());) {
    const el = node.parentElement;
    if (!el || el.closest('code, pre, script, style, .katex-mathml, annotation')) continue;
    if (!el.checkVisibility() || !tex.test(node.textContent)) continue;
    found.push(node.textContent.trim().slice(0, 60));
  }
  return found;
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_of_both_editions_reads_at_desktop_and_phone_width(served, browser, width):
    """At 1280 px and at 390 px, in English and in Chinese: no page scrolls sideways, nothing is
    wider than the screen outside a scrolling box, every table cell can be seen (wide tables
    reflow into cards on a phone), every cell has padding and a rule in Material's table style
    and no cell's text runs into its neighbour's, and no visible text is TeX source."""
    base, site_dir = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.set_viewport_size({"width": width, "height": 844})
    paths = _pages(site_dir) + ["zh/" + path for path in _pages(site_dir / "zh")]
    tables = 0
    for path in paths:
        page.goto(base + path, wait_until="networkidle")
        if page.locator(".arithmatex").count():
            page.wait_for_function("document.querySelectorAll('.katex').length > 0", timeout=10000)
        where = f"{path or 'home'} at {width} px"
        found = page.evaluate(_OVERFLOW)
        assert found["page"] <= found["vw"], f"{where}: the page scrolls sideways"
        assert found["wide"] == [], f"{where}: {found['wide'][:5]}"
        assert found["hidden"] == [], f"{where}: cells out of sight {found['hidden'][:5]}"
        styled = page.evaluate(_TABLES)
        assert styled["unstyled"] == [], f"{where}: cells without Material's style {styled['unstyled'][:5]}"
        assert styled["overlapping"] == [], f"{where}: cells whose text overlaps {styled['overlapping'][:5]}"
        assert page.evaluate(_TEX) == [], f"{where}: TeX source shown {page.evaluate(_TEX)[:5]}"
        tables += page.locator(".md-content table[data-reflow]").count()
    assert tables > 0  # the wide tables were among those checked
    page.goto(base + "theory.html", wait_until="networkidle")
    page.locator("table[data-reflow]").first.scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / f"theory-table-{width}.png"))
    assert problems == []


def test_the_first_releases_addresses_forward_with_their_fragment(served, browser):
    """Citations given out as /<page>/#<figure> (directory URLs) land on the figure."""
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base + "mlp/#relu-normal-trajectory", wait_until="networkidle")
    assert page.url == base + "mlp.html#relu-normal-trajectory", page.url
    assert page.locator("figure#relu-normal-trajectory").count() == 1
    # The forwarding page's own load may be reported as failed: the redirect cut it short.
    assert [p for p in problems if p != f"failed request: {base}mlp/"] == []


def test_the_training_page_shows_every_setting_its_loss_figures_and_its_claims(served, browser):
    """"Does it train?" in both editions: a table row per setting, each section's loss figure
    loaded, and every claim of the page holding (the session's site builds with --strict)."""
    base, site_dir = served
    from stabreport.report.config import load_report
    from helpers import PLUGIN_CONFIG

    report = load_report(text=PLUGIN_CONFIG)
    sections = [s for s in report.sections if s.page == "train"]
    assert sections
    for prefix in ("", "zh/"):
        problems: list[str] = []
        page = _page(browser, problems)
        page.goto(base + prefix + "train.html", wait_until="networkidle")
        for section in sections:
            for setting in section.settings:
                assert page.locator(f"tr:has(#{setting.id.replace('.', chr(92) + '.')})").count() == 1, \
                    (prefix, setting.id)
            figure = page.locator(f"#{section.id}-loss img").first
            figure.scroll_into_view_if_needed()
            page.wait_for_function(f"document.querySelector('#{section.id}-loss img').complete")
            assert figure.evaluate("i => i.naturalWidth") > 0, (prefix, section.id)
        assert page.locator(".admonition.success").count() >= 8
        assert page.locator(".admonition.failure").count() == 0
        page.close()
        assert problems == [], problems
