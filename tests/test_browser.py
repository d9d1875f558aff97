"""The built site in a real browser: headless Chromium (Debian's package) driven by Playwright,
serving site/ on 127.0.0.1 with every other address blocked. Screenshots go to test-output/."""
import functools
import http.server
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
    from stabreport.cite import site_url
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


def _page(browser, problems):
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def block_outside(route):
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            problems.append(f"request outside the site: {route.request.url}")
            route.abort()

    page.route("**/*", block_outside)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    return page


def _pages(site_dir: Path) -> list[str]:
    return sorted(p.parent.relative_to(site_dir).as_posix() + "/" if p.parent != site_dir else ""
                  for p in site_dir.rglob("index.html"))


def test_every_page_loads_cleanly_with_its_images_and_math(served, browser):
    base, site_dir = served
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pages = _pages(site_dir)
    assert len(pages) >= 8
    for path in pages:
        problems: list[str] = []
        page = _page(browser, problems)
        page.goto(base + path, wait_until="networkidle")
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


def test_math_pages_typeset_offline(served, browser):
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base + "theory/", wait_until="networkidle")
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
    result = page.locator(".md-search-result__item a").first
    result.wait_for(timeout=10000)
    result.click()
    page.wait_for_load_state("networkidle")
    assert "/mlp/" in page.url, page.url
    assert "Xavier" in page.locator("article").inner_text()
    page.screenshot(path=str(OUTPUT / "search-xavier.png"))
    assert problems == []


def test_light_dark_toggle_switches_the_scheme(served, browser):
    base, _ = served
    problems: list[str] = []
    page = _page(browser, problems)
    page.goto(base + "mlp/", wait_until="networkidle")
    scheme = lambda: page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    before = scheme()
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function(f"document.body.getAttribute('data-md-color-scheme') !== '{before}'")
    after = scheme()
    assert {before, after} == {"default", "slate"}
    page.screenshot(path=str(OUTPUT / f"mlp-{after}.png"))
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function(f"document.body.getAttribute('data-md-color-scheme') === '{before}'")
    assert problems == []


def test_every_download_link_resolves(served, browser):
    base, site_dir = served
    problems: list[str] = []
    page = _page(browser, problems)
    checked = set()
    for path in ("products/", "mlp/", "theory/", "figures/", "cite/"):
        page.goto(base + path, wait_until="networkidle")
        hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
        for href in hrefs:
            if any(part in href for part in ("figures/", "data/", "CITATION.cff")) and "#" not in href:
                url = urljoin(base + path, href)
                if url not in checked:
                    response = page.request.get(url)
                    assert response.status == 200 and response.body(), url
                    checked.add(url)
    assert len(checked) >= 16 * 5
    assert problems == []
