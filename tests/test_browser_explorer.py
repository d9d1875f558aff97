"""The explorer as a reader sees it, in both editions, on a desktop and on a phone: every control
and readout writes its numbers as a person would (0.0354, not 0.0353553), the legends name only
what the charts draw (no theory for an experiment without one), the theory's law is a curve, the
reproduce command breaks only between words, and no two labels of a chart touch. Headless
Chromium on the session's site, as tests/test_browser.py drives it."""
import math
import re

import pytest
from test_browser import _explorer_data, _page, _shown, browser, served  # noqa: F401 - fixtures

EDITIONS = ("", "zh/")
WIDTHS = (1280, 390)

# A number as a reader writes it: at most 4 significant digits after a decimal point (an integer
# may have more), optionally × 10ⁿ; a raw float such as 0.0353553 or 0.282842712475 is not one.
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _raw_numbers(text: str) -> list[str]:
    """The numbers in `text` written with more than 4 significant digits after a point."""
    raw = []
    for match in _NUMBER.finditer(text):
        number = match.group()
        if "." in number and len(number.replace(".", "").lstrip("0")) > 4:
            raw.append(number)
    return raw


_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def _value_of(label: str) -> float:
    """The number a label writes: '0.0354', '1.13', '2.50 × 10⁻⁵', '−0.5'."""
    text = label.replace("−", "-").strip()
    if "×" in text:
        mantissa, power = text.split("×")
        return float(mantissa) * 10 ** int(power.strip()[2:].translate(_SUPERSCRIPT))
    return float(text)


def _readable(label: str, value) -> list[str]:
    """What is wrong with `label` as the page's words for the grid value `value` (nothing: [])."""
    problems = [f"{label!r}: raw number {n}" for n in _raw_numbers(label)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            shown = _value_of(label)
        except ValueError:
            return problems + [f"{label!r} is not a number (for {value})"]
        if not math.isclose(shown, value, rel_tol=5e-3):
            problems.append(f"{label!r} is not {value}")
    elif label != (("true" if value else "false") if isinstance(value, bool) else str(value)):
        problems.append(f"{label!r} is not the choice {value!r}")
    return problems


# A theory-less experiment on the page: the example plug-in's when the build puts it there, else
# a copy of "products" without its theory, named as the plug-in (the page asks each cell whether it
# has a theory, never who it is, so that is what a plug-in experiment without theory looks like).
_WITHOUT_THEORY = """
(function () {
  var d = window.STABREPORT_EXPLORER;
  if (d.experiments.some(function (e) { return e.name === "near_identity"; })) return;
  var copy = JSON.parse(JSON.stringify(d.experiments.filter(function (e) { return e.name === "products"; })[0]));
  copy.name = "near_identity"; copy.title = "Products of near-identity matrices"; copy.lecture = [];
  Object.keys(copy.cells).forEach(function (k) { copy.cells[k].theory = null; });
  d.experiments.push(copy);
})();
"""


def _with_a_theoryless_experiment(page):
    def add(route):
        response = route.fetch()
        route.fulfill(response=response, body=response.text() + _WITHOUT_THEORY)

    page.route("**/data/explorer.js", add)


# Every text of a chart that is drawn (axis labels and titles, legend labels, the title): boxes of
# those Vega shows (labelOverlap hides the others with opacity 0), per chart.
_CHART_TEXTS = """(chart) => {
  const out = [];
  for (const text of chart.querySelectorAll('svg text')) {
    const group = text.closest('[class*="role-"]');
    const role = group ? [...group.classList].find(c => c.startsWith('role-')) : '';
    if (!/role-(axis-label|axis-title|legend-label|legend-title|title-text)/.test(role)) continue;
    let hidden = false;
    for (let e = text; e && e !== chart; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (e.getAttribute('opacity') === '0' || s.opacity === '0' || s.display === 'none' ||
          s.visibility === 'hidden') hidden = true;
    }
    const r = text.getBoundingClientRect();
    if (hidden || !text.textContent.trim() || r.width === 0) continue;
    const axis = text.closest('.role-axis');
    out.push({text: text.textContent, role, axis: axis ? [...chart.querySelectorAll('.role-axis')].indexOf(axis) : -1,
              left: r.left, right: r.right, top: r.top, bottom: r.bottom});
  }
  const box = chart.getBoundingClientRect();  // the chart's box on the page (it clips)
  return {texts: out, svg: {left: box.left, right: box.right, top: box.top, bottom: box.bottom}};
}"""


def _collisions(found) -> list[str]:
    """Pairs of a chart's drawn texts whose boxes overlap (by more than half a pixel each way),
    and texts outside the chart."""
    texts, svg, out = found["texts"], found["svg"], []
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            across = min(a["right"], b["right"]) - max(a["left"], b["left"])
            down = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if across > 0.5 and down > 0.5:
                out.append(f"{a['role']} {a['text']!r} on {b['role']} {b['text']!r}")
        if a["left"] < svg["left"] - 1 or a["right"] > svg["right"] + 1:
            out.append(f"{a['role']} {a['text']!r} outside the chart")
    return out


# Each word of the command (split at spaces) and the lines its box spans: a word on two lines
# was broken inside it. Over the text nodes with a Range, whatever elements hold them.
_COMMAND_WORDS = """(code) => {
  const nodes = [], walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
  const text = nodes.map(n => n.data).join('');
  const place = (offset, start) => {
    for (const node of nodes) {
      if (offset < node.data.length || (!start && offset === node.data.length)) return [node, offset];
      offset -= node.data.length;
    }
    const last = nodes[nodes.length - 1];
    return [last, last.data.length];
  };
  const words = [], lines = new Set(), pattern = /\\S+/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const range = document.createRange();
    range.setStart(...place(m.index, true));
    range.setEnd(...place(m.index + m[0].length, false));
    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    tops.forEach(t => lines.add(t));
    words.push({word: m[0], lines: tops.size});
  }
  return {words, lines: lines.size, text};
}"""


def _check_view(page, data, name, index, width) -> list[str]:
    """What is wrong with the view the page shows: its readout's numbers, its command, and its
    charts' labels."""
    problems = []
    readout = page.inner_text("#explorer-readout")
    problems += [f"readout: raw number {n} in {readout!r}" for n in _raw_numbers(readout)]
    command = page.evaluate(_COMMAND_WORDS, page.query_selector("#explorer-command"))
    experiment = next(e for e in data["experiments"] if e["name"] == name)
    cell = experiment["cells"][",".join(map(str, index))]
    assert command["text"] == cell["command"]  # exactly the values as configured
    problems += [f"command: {w['word']!r} broken over {w['lines']} lines" for w in command["words"]
                 if w["lines"] > 1]
    if width < 500:
        assert command["lines"] > 1, "the command fits one line at 390 px: nothing was tested"
    for chart in ("#explorer-trajectory", "#explorer-distribution"):
        found = page.evaluate(_CHART_TEXTS, page.query_selector(chart))
        labels = [t for t in found["texts"] if t["role"] == "role-axis-label"]
        assert len({t["axis"] for t in labels}) == 2, f"{chart}: not two labelled axes: {labels}"
        problems += [f"{chart}: {c}" for c in _collisions(found)]
    return problems


def _legends(page) -> dict[str, list[str]]:
    return {chart: page.evaluate("(c) => [...c.querySelectorAll('svg .role-legend-label text')]"
                                 ".map(t => t.textContent)", page.query_selector(chart))
            for chart in ("#explorer-trajectory", "#explorer-distribution")}


def _theory_words(data) -> list[str]:
    words = data["words"]
    return [words[k] for k in words if k.startswith("theory")]


# The charts' marks drawn in the theory's colour (explorer.js's THEORY).
_THEORY_MARKS = """() => [...document.querySelectorAll('#explorer svg [stroke], #explorer svg [fill]')]
    .filter(e => [e.getAttribute('stroke'), e.getAttribute('fill')]
      .some(c => (c || '').toLowerCase() === '#d55e00')).length"""


def _move(page, control, target, name, index):
    if control["kind"] == "log":
        page.locator(f"#explorer-{control['key']}").fill(str(target))
    else:
        page.select_option(f"#explorer-{control['key']}", str(target))
    return _shown(page, (name, index))


def _every_view(page, url, experiment):
    """Open `experiment` on the page at `url`, then move each control through every one of its
    values in turn: yields (name, index, i) for each view shown (i: the control just moved, or
    None for the first view), once the page has drawn it."""
    page.goto(f"{url}#experiment={experiment['name']}", wait_until="networkidle")
    name, index = _shown(page)
    assert name == experiment["name"]
    yield name, index, None
    for i, control in enumerate(experiment["controls"]):
        for target in range(len(control["values"])):
            if target != index[i]:
                name, index = _move(page, control, target, name, index)
            yield name, index, i


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("edition", EDITIONS)
def test_every_explorer_control_shows_human_readable_values(served, browser, edition, width):
    """Every option, slider readout (shown and spoken) and readout writes its numbers as the
    site does, for every value of every control of every experiment; the command under the
    charts is the cell's exact one, broken only between words; no chart's texts touch."""
    base, site_dir = served
    data = _explorer_data(site_dir / edition if edition else site_dir)
    problems: list[str] = []
    page = _page(browser, problems)
    page.set_viewport_size({"width": width, "height": 900})
    found: list[str] = []
    for experiment in data["experiments"]:
        for name, index, i in _every_view(page, f"{base}{edition}explore.html", experiment):
            found += _check_view(page, data, name, index, width)
            if i is None:
                options = page.evaluate("[...document.querySelectorAll('#explorer-experiment option')]"
                                        ".map(o => o.textContent)")
                found += [f"experiment menu: raw number in {o!r}" for o in options if _raw_numbers(o)]
                continue
            control = experiment["controls"][i]
            where = f"{edition or 'en/'} {width}px {name} {control['key']}"
            value = control["values"][index[i]]
            if control["kind"] == "log":
                shown = page.inner_text(f"#explorer-{control['key']}-value")
                spoken = page.get_attribute(f"#explorer-{control['key']}", "aria-valuetext")
                found += [f"{where}: {p}" for p in _readable(shown, value)]
                found += [f"{where} (aria-valuetext): {p}" for p in _readable(spoken, value)]
            else:
                texts = page.evaluate("(s) => [...s.options].map(o => o.textContent)",
                                      page.query_selector(f"#explorer-{control['key']}"))
                assert len(texts) == len(control["values"]), where
                found += [f"{where}: {p}" for t, v in zip(texts, control["values"]) for p in _readable(t, v)]
    # The grid as the page lists it under the explorer.
    listed = page.inner_text("#what-is-on-the-grid + ul")
    found += [f"the grid's list: raw number {n}" for n in _raw_numbers(listed)]
    page.screenshot(path=str(_screenshots() / f"explore-{edition.strip('/') or 'en'}-{width}.png"),
                    full_page=True)
    page.close()
    assert sorted(set(found)) == [], sorted(set(found))[:12]
    assert problems == []


@pytest.mark.parametrize("width", (320, 360))
def test_no_two_labels_of_a_chart_touch_on_the_narrowest_phones(served, browser, width):
    """Narrower than the phone above, every view's axis labels still keep apart (fewer ticks,
    not labels on top of each other: at 320 and 360 px the distribution chart's ticks
    −4.9 and −4.8 touched) and the command still breaks between words."""
    base, site_dir = served
    data = _explorer_data(site_dir)
    problems: list[str] = []
    page = _page(browser, problems)
    page.set_viewport_size({"width": width, "height": 900})
    found: list[str] = []
    for experiment in data["experiments"]:
        for name, index, _ in _every_view(page, f"{base}explore.html", experiment):
            found += [f"{name} {index}: {p}" for p in _check_view(page, data, name, index, width)]
    page.close()
    assert found == [], found[:12]
    assert problems == []


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("edition", EDITIONS)
def test_the_legends_name_a_theory_only_where_there_is_one(served, browser, edition, width):
    """The plug-in experiment without theory shows no theory in either chart's legend (and no
    theory mark); an experiment with an exact law shows it as a smooth curve through its 5 %,
    median and 95 %, named in the legend."""
    base, site_dir = served
    data = _explorer_data(site_dir / edition if edition else site_dir)
    theory = _theory_words(data)
    problems: list[str] = []
    page = _page(browser, problems)
    page.set_viewport_size({"width": width, "height": 900})
    _with_a_theoryless_experiment(page)
    page.goto(f"{base}{edition}explore.html#experiment=near_identity", wait_until="networkidle")
    name, index = _shown(page)
    assert name == "near_identity"
    legends = _legends(page)
    assert legends["#explorer-distribution"], "no legend for the measured quantiles"
    named = [label for labels in legends.values() for label in labels if label in theory]
    assert named == [], f"a theory in the legend of an experiment without one: {named}"
    marks = page.evaluate(_THEORY_MARKS)
    assert marks == 0, f"{marks} marks in the theory's colour for an experiment without one"
    # An experiment with an exact law: the law in the legend, drawn as a curve, not 3 points.
    page.goto(f"{base}{edition}explore.html#experiment=mlp", wait_until="networkidle")
    name, index = _shown(page, (name, index))
    cell = next(e for e in data["experiments"] if e["name"] == "mlp")["cells"][",".join(map(str, index))]
    assert cell["theory"]["exact"] and len(cell["theory"]["law"]["cdf"]) >= 50
    legends = _legends(page)
    assert data["words"]["theory_exact_law"] in legends["#explorer-distribution"], legends
    assert data["words"]["theory_median"] in legends["#explorer-trajectory"], legends
    # The theory's line on the distribution chart (its colour): the law's curve, many segments.
    points = page.evaluate("""() => [...document.querySelectorAll(
        '#explorer-distribution svg .mark-line path')]
        .filter(p => (p.getAttribute('stroke') || '').toLowerCase() === '#d55e00')
        .map(p => ((p.getAttribute('d') || '').match(/[MLCQ]/g) || []).length)""")
    assert points and max(points) >= 50, f"the theory's law is not drawn as a curve: {points}"
    assert page.evaluate(_THEORY_MARKS) > 0  # (the colour the check above looks for)
    page.close()
    assert problems == []


def _screenshots():
    from test_browser import OUTPUT

    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
