"""End to end: `stabreport build` then `mkdocs build --strict` on a small copy of the project.

One site is built per test session and shared by every test here.
"""
import hashlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stabreport.publish.build import GENERATED, build_report
from stabreport.render.cite import site_url
from stabreport.cli import main


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []  # (url, whether the browser loads it with the page)

    def handle_starttag(self, tag, attrs):
        rel = dict(attrs).get("rel") or ""
        for name, value in attrs:
            if value and ((tag in ("a", "link") and name == "href") or
                          (tag in ("img", "script") and name == "src")):
                # A canonical or alternate <link> names a page; it is not fetched.
                loaded = tag in ("img", "script") or (tag == "link" and rel not in ("canonical", "alternate"))
                self.urls.append((value, loaded))


def _tree_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(directory).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_generated_pages_hold_tables_and_figures(site):
    generated = site / GENERATED
    for page in ("index.md", "products.md", "mlp.md", "method.md"):
        assert (generated / page).is_file()
    mlp = (generated / "mlp.md").read_text()
    for section in ("relu-normal", "relu-init", "sigmoid", "scaled-sigmoid"):
        assert f"{{ #{section} }}" in mlp
        for kind in ("trajectory", "distribution", "law"):
            assert f"](figures/{section}-{kind}.svg)" in mlp
            assert (generated / "figures" / f"{section}-{kind}.svg").is_file()
            assert (generated / "figures" / f"{section}-{kind}.png").is_file()
    assert mlp.count("| Setting | Median per run | Theory |") == 4
    assert mlp.count("Theory against measurement") == 4


def test_every_link_and_image_in_the_built_site_resolves(site):
    site_dir = site / "site"
    prefix = urlsplit(site_url(site)).path
    pages = sorted(site_dir.rglob("*.html"))
    assert len(pages) >= 5
    checked = 0
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text())
        for url, loaded in parser.urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                # A plain outbound link (Material's credit) is fine; a resource from a CDN is not.
                assert not loaded, f"{page.relative_to(site_dir)} loads {url} from outside the site"
                continue
            if not parts.path:
                continue  # a same-page anchor
            path = unquote(parts.path)
            if path.startswith("/"):  # 404.html links absolutely, under site_url's path
                assert path.startswith(prefix), f"{page.relative_to(site_dir)}: {url}"
                target = (site_dir / path[len(prefix):]).resolve()
            else:
                target = (page.parent / path).resolve()
            if target.is_dir():
                target = target / "index.html"
            assert target.is_file(), f"{page.relative_to(site_dir)}: {url} does not resolve"
            checked += 1
    assert checked > 100


def test_math_assets_are_shipped_with_the_site(site):
    html = (site / "site" / "mlp.html").read_text()
    assert "assets/katex/katex.min.js" in html and "cdn" not in html.lower()
    assert 'class="arithmatex"' in html


def test_bad_config_exits_2_and_leaves_previous_output_intact(site, capsys):
    before = _tree_digest(site / GENERATED)
    config = site / "stabreport.yml"
    good = config.read_text()
    try:
        config.write_text(good + "seed: -4\n")
        code = main(["build", "--root", str(site)])
        err = capsys.readouterr().err
    finally:
        config.write_text(good)
    assert code == 2
    assert "seed" in err and "-4" in err
    assert _tree_digest(site / GENERATED) == before


def test_failing_template_leaves_previous_output_intact(site, capsys):
    """A project's own copy of a page's template, broken: the build names the project's file and
    line, and the last good output stays; without the copy, the shipped template is back."""
    from stabreport.project import shipped

    before = _tree_digest(site / GENERATED)
    template = site / "templates" / "products.md.j2"
    template.parent.mkdir()
    try:
        template.write_text((shipped("templates") / "products.md.j2").read_text()
                            + "\n{{ no_such_value }}\n")
        code = main(["build", "--root", str(site)])
        err = capsys.readouterr().err
    finally:
        template.unlink()
        template.parent.rmdir()
    assert code == 1
    assert "templates/products.md.j2:" in err and "no_such_value" in err, err
    assert _tree_digest(site / GENERATED) == before


def test_rebuild_from_cache_changes_nothing_but_the_timings(site):
    generated = site / GENERATED
    before = {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    summary = build_report(root=site, strict=True)
    assert summary.from_cache == summary.settings
    after = {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    assert before.keys() == after.keys()
    changed = sorted(p.relative_to(generated).as_posix() for p in before if before[p] != after[p])
    # only the timings (of each edition) may change
    assert set(changed) <= {".volatile.json", "timings.md", "zh/timings.md"}, changed
