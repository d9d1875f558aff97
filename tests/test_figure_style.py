"""Every figure of the built site, read in a real renderer: what the shared figure style
(stabreport.render.figures) promises for every figure kind, plug-ins' included.

Each SVG drawing (both editions, the light and the dark look) is opened in headless Chromium,
which lays its text out: within one axes no two tick labels of one axis overlap or touch, an axis that is
labelled at all carries at least two labels (a log axis labelled only "10" cannot be read), no
axis carries an offset or multiplier label ("1e−5", "+3.2": each tick label says its own value),
and no two series of one axes look alike (the same stroke colour, dashes and marker).
"""
import itertools
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# px: two labels collide when they come closer than this (touching labels read as one number:
# "−16.28−16.26"), measured between the boxes the renderer gives their glyphs.
GAP = 0.5

# What one drawing holds, read in the page that shows it. Matplotlib's SVG: an axes is a
# <g id="axes_N">, its axes <g id="matplotlib.axis_N"> with a <g id="xtick_N">/<g id="ytick_N">
# per tick holding the label's <g id="text_N">; text drawn as glyph outlines (the Chinese edition)
# keeps its words in a comment. A drawn series is a <g id="line2d_N"> (or the style's
# gid "series-…") with its path and, for markers, <use> elements pointing at a marker shape.
READ = r"""() => {
  const words = (g) => {
    for (const node of g.childNodes) if (node.nodeType === 8) return node.data.trim();
    return g.textContent.trim();
  };
  const box = (g) => { const r = g.getBoundingClientRect();
                       return [r.left, r.top, r.right, r.bottom].map(v => Math.round(v * 100) / 100); };
  const own = (axes, selector) => [...axes.querySelectorAll(selector)]
      .filter(e => e.closest('g[id^="axes_"]') === axes);
  const out = [];
  for (const axes of document.querySelectorAll('g[id^="axes_"]')) {
    const entry = {axes: axes.id, ticks: {x: [], y: []}, loose: [], series: []};
    for (const axis of ['x', 'y']) {
      for (const tick of own(axes, `g[id^="${axis}tick_"]`)) {
        const label = tick.querySelector('g[id^="text_"]');
        if (!label) continue;
        const b = box(label);
        if (b[2] - b[0] <= 0 && b[3] - b[1] <= 0) continue;  // an empty label
        entry.ticks[axis].push({tick: tick.id, label: words(label), box: b});
      }
    }
    for (const axis of own(axes, 'g[id^="matplotlib.axis_"]'))  // axis label, offset text
      for (const text of axis.querySelectorAll(':scope > g[id^="text_"]'))
        entry.loose.push({axis: axis.id, label: words(text)});
    for (const el of own(axes, 'g[id^="line2d_"], g[id^="series-"]')) {
      if (el.parentElement.closest('g[id^="xtick_"], g[id^="ytick_"], g[id^="legend_"], ' +
                                   'g[id^="matplotlib.axis_"], g[id^="line2d_"], g[id^="series-"]'))
        continue;
      const path = el.querySelector(':scope > path');
      const style = path ? getComputedStyle(path) : null;
      const vertices = path ? ((path.getAttribute('d') || '').match(/[MLQC]/g) || []).length : 0;
      const uses = [...el.querySelectorAll('use')];
      const shape = uses.length ? document.getElementById(
          (uses[0].getAttribute('xlink:href') || uses[0].getAttribute('href')).slice(1)) : null;
      entry.series.push({
        id: el.id, vertices: vertices, markers: uses.length,
        stroke: style && vertices ? style.stroke : 'none',
        dashes: style && vertices ? style.strokeDasharray : 'none',
        marker: shape ? [shape.getAttribute('d'), uses[0].style.fill, uses[0].style.stroke].join(' | ') : 'none'});
    }
    out.push(entry);
  }
  return out;
}"""

NUMBER = re.compile(r"^[+−\-]?(\d+(\.\d*)?|\.\d+)?([eE][+−\-]?\d+)?$|×\s*10|\\times|^1e", re.UNICODE)


def _collide(a, b) -> bool:
    """Boxes (left, top, right, bottom) that overlap or come within GAP of each other."""
    return (min(a[2], b[2]) - max(a[0], b[0]) > -GAP
            and min(a[3], b[3]) - max(a[1], b[1]) > -GAP)


def problems(name: str, drawing: list[dict]) -> list[str]:
    """What is wrong with one drawing, read by READ: one line per fault, naming the figure, the
    axes and what collides."""
    found = []
    for axes in drawing:
        where = f"{name} {axes['axes']}"
        for axis, ticks in axes["ticks"].items():
            for a, b in itertools.combinations(ticks, 2):
                if _collide(a["box"], b["box"]):
                    found.append(f"{where}: {axis} tick labels {a['label']!r} {a['box']} and "
                                 f"{b['label']!r} {b['box']} overlap or touch")
            if len(ticks) == 1:
                found.append(f"{where}: the {axis} axis has one tick label only "
                             f"({ticks[0]['label']!r}), so its scale cannot be read")
        for text in axes["loose"]:
            if text["label"] and NUMBER.search(text["label"]):
                found.append(f"{where}: {text['axis']} carries an offset or multiplier label "
                             f"{text['label']!r}; each tick label should say its own value")
        # A series: a line of more than two vertices (a reference line across the axes has two,
        # errorbar caps none), or markers the style drew as a series (its gid "series-…").
        series = [s for s in axes["series"] if s["vertices"] > 2
                  or (s["id"].startswith("series-") and s["markers"])]
        seen: dict[tuple, str] = {}
        for s in series:
            look = (s["stroke"], s["dashes"], s["marker"])
            if look == ("none", "none", "none"):
                continue  # a filled area: it goes with a line of its own
            if look in seen:
                found.append(f"{where}: series {seen[look]} and {s['id']} look alike (stroke "
                             f"{s['stroke']}, dashes {s['dashes']}, marker {s['marker'][:40]!r})")
            else:
                seen[look] = s["id"]
    return found


def drawings(root: Path) -> list[Path]:
    """Every SVG drawing of the built site: both editions, light and dark."""
    return sorted((root / "site").glob("figures/*.svg")) + sorted((root / "site").glob("*/figures/*.svg"))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def read_all(browser, files: list[Path]) -> dict[str, list[dict]]:
    page = browser.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
               else route.abort())
    out = {}
    for path in files:
        page.goto(path.as_uri())
        out[str(path)] = page.evaluate(READ)
    page.close()
    return out


def test_every_figure_has_readable_ticks_and_distinct_series(site, browser):
    files = drawings(site)
    names = {p.name for p in files}
    assert any(n.endswith("-dark.svg") for n in names) and any("/zh/" in str(p) for p in files)
    assert {"gain-vs-scale.svg", "dead-dying-relu.svg", "isometry-spectrum.svg"} <= names, names
    read = read_all(browser, files)
    found = []
    for path, drawing in read.items():
        assert drawing, f"{path}: no axes found"  # matplotlib's SVG layout changed?
        found += problems(str(Path(path).relative_to(site / "site")), drawing)
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)


# --- the style's helpers, without a site -----------------------------------------------------------

def test_the_series_styles_are_distinct_for_many_series():
    from stabreport.render.figures import INKS, series_styles

    for ink in INKS.values():
        styles = series_styles(ink, 24)
        looks = [look for s in styles for look in s.looks()]
        assert len(set(looks)) == len(looks), looks
        assert all(s.gid == f"series-{i}" for i, s in enumerate(styles))


def test_a_log_axis_over_one_decade_labels_its_values():
    """Widths 2 to 32 on a log axis: labelled in plain numbers, not only "10"."""
    import matplotlib

    from stabreport.render.figures import STYLE, log_x, new_figure

    with matplotlib.rc_context(STYLE):
        fig, ax = new_figure()
        widths = [2, 3, 4, 6, 8, 12, 16, 24, 32]
        ax.plot(widths, [0.1 * i for i in range(len(widths))])
        log_x(ax, widths)
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig).draw()
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) >= 4 and set(labels) <= {str(w) for w in widths}, labels
    assert "2" in labels and "32" in labels, labels
