import re

import pytest
from helpers import PROJECT, synthetic_results

from stabreport.publish.build import render_site
from stabreport.report.config import load_report
from stabreport.errors import BuildError
from stabreport.render.figures import draw
from stabreport.render.kinds.trajectory import trajectory_data
from stabreport.render.formatting import markdown_literal, orders, pow10, signed
from stabreport.render.views import make_environment, render_pages


@pytest.mark.parametrize("log10_value,text", [
    (-8.87, "1.3 × 10⁻⁹"), (6.0, "1.0 × 10⁶"), (0.0, "1.0 × 10⁰"), (-0.0001, "1.0 × 10⁰"),
    (1579.6, "4.0 × 10¹⁵⁷⁹"), (-4000.2, "6.3 × 10⁻⁴⁰⁰¹"), (2.9999999, "1.0 × 10³")])
def test_pow10_formats_log10_values_beyond_float64(log10_value, text):
    text = text.replace(" ", "\u00a0")  # a number is one word: no-break spaces around the ×
    assert pow10(log10_value) == text


def test_formatters_refuse_non_finite_values():
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            pow10(bad)
        with pytest.raises(ValueError):
            signed(bad)


def test_orders_and_signed_read_naturally():
    assert orders(6.8) == "about 7 orders of magnitude"
    assert orders(-1.2) == "about 1 order of magnitude"
    assert orders(0.3) == "less than one order of magnitude"
    assert signed(-0.1404, 3) == "−0.140" and signed(0.0) == "0.0"


def _pages(final=None, config_text=None):
    report = load_report(text=config_text) if config_text else load_report()
    results = synthetic_results(report, final)
    return render_site(PROJECT, report, results, with_figures=False).pages


def _setting_sentence(page: str, label: str) -> str:
    """The verdict the section's one summary sentence ("The gradient **vanishes** at a, b;
    **explodes** at c.") gives the setting `label`."""
    label = markdown_literal(label)  # config text is escaped for Markdown on the page
    for line in page.splitlines():
        if not line.startswith("The gradient **"):
            continue
        for group in line.removeprefix("The gradient ").removesuffix(".").split("; "):
            verdict, _, members = group.partition(" at ")
            if label in members.split(", "):
                return verdict.strip("*")
    raise AssertionError(f"no summary sentence names {label}")


def test_every_page_renders_with_tables_and_no_leftover_markup():
    pages = _pages()
    assert set(pages) >= {"index.md", "products.md", "mlp.md", "method.md", "theory.md"}
    for name, text in pages.items():
        # Jinja's delimiters left in the output (outside BibTeX, where {{Organisation}} is one
        # braced name).
        prose = re.sub(r"```bibtex.*?```", "", text, flags=re.S)
        assert "{{" not in prose and "{%" not in prose, name
    assert "| Setting | Median per run |" in pages["mlp.md"]
    assert pages["index.md"].count("](mlp.md#") >= 2 * 14


def test_moving_a_scale_across_the_critical_point_flips_the_wording():
    vanishing = _pages({"relu-normal-0.1": -9.0})["mlp.md"]
    exploding = _pages({"relu-normal-0.1": +9.0})["mlp.md"]
    assert _setting_sentence(vanishing, "scale 0.1") == "vanishes"
    assert _setting_sentence(exploding, "scale 0.1") == "explodes"


def test_sigmoid_summary_sentence_follows_the_numbers():
    all_small = {f"sigmoid-{s}": -10.0 for s in ("0.1", "0.2", "0.4", "0.8")}
    text = _pages(all_small)["mlp.md"]
    assert "At **every** scale tried here the gradient vanishes" in text
    one_fine = {**all_small, "sigmoid-0.8": -1.0}
    text = _pages(one_fine)["mlp.md"]
    assert "The gradient vanishes at 3 of the 4 scales" in text


def test_best_relu_scale_is_read_from_the_data():
    text = _pages({"relu-normal-0.1": -0.5, "relu-normal-0.2": 6.0, "relu-normal-0.4": 21.0,
                   "relu-normal-0.8": 36.0})["mlp.md"]
    assert f"**{markdown_literal('scale 0.1')}** keeps the gradient closest to 1" in " ".join(text.split())


class _Page:
    def __init__(self, id):
        self.id = id


def test_missing_variable_fails_with_template_name_and_line(tmp_path):
    (tmp_path / "broken.md.j2").write_text("# Title\n\nfine line\n{{ report.nope }}\n")
    (tmp_path / "ok.md.j2").write_text("{{ report.seed }}\n")
    env = make_environment([tmp_path], load_report())
    with pytest.raises(BuildError) as caught:
        render_pages(env, {"report": load_report(), "pages": [_Page("ok"), _Page("broken")]})
    assert "templates/broken.md.j2:4" in str(caught.value)
    assert "nope" in str(caught.value)


def test_syntax_error_names_template_and_line(tmp_path):
    (tmp_path / "bad.md.j2").write_text("line\n{% for x in %}\n")
    with pytest.raises(BuildError, match=r"templates/bad.md.j2:2"):
        render_pages(make_environment([tmp_path], load_report()), {"pages": [_Page("bad")]})


def test_config_text_is_escaped_in_pages():
    config = ("sections:\n  - id: sigmoid\n    settings:\n"
              "      - {id: sigmoid-0.1, label: \"<script>alert(1)</script> | x\"}\n")
    text = _pages(config_text=config)["mlp.md"]
    assert "<script>" not in text
    assert "&lt;script&gt;" in text


def test_figures_are_byte_identical_across_calls():
    report = load_report()
    results = synthetic_results(report).full
    section = report.section("relu-normal")
    data = trajectory_data(section, results, {})
    assert draw(data).files == draw(data).files


def test_a_page_declared_in_the_config_appears_in_the_navigation_home_page_and_figure_index():
    config = """pages:
  - {id: extra, title: An extra page, summary: tanh at two scales.}
sections:
  - id: tanh
    title: Tanh
    experiment: mlp
    page: extra
    params: {activation: tanh}
    settings:
      - {id: tanh-0.1, params: {scale: 0.1}}
      - {id: tanh-0.2, params: {scale: 0.2}}
"""
    report = load_report(text=config)
    rendered = render_site(PROJECT, report, synthetic_results(report), with_figures=False)
    assert ("An extra page", "extra.md") in rendered.nav
    assert rendered.nav.index(("An extra page", "extra.md")) == len(report.pages) - 1
    assert "- [An extra page](extra.md): tanh at two scales\\." in rendered.pages["index.md"]
    extra = rendered.pages["extra.md"]  # no template of its own: the generic page of sections
    assert extra.startswith("# An extra page") and "## Tanh { #tanh }" in extra
    assert "Figure 1." in extra and "Figure 4." not in extra  # numbered on their own page
    index = rendered.pages["figures.md"]
    assert "## An extra page" in index and "](extra.md#tanh-trajectory)" in index
    # The key findings link to the page the section is on.
    assert "](extra.md#tanh-0.1)" in rendered.pages["index.md"]


def test_a_setting_whose_every_run_died_is_reported_plainly():
    report = load_report()
    runs = synthetic_results(report)
    dead = runs.full["relu-normal-0.1"]
    runs.full["relu-normal-0.1"] = type(dead)(
        dead.experiment, dead.params, dead.seed, dead.runs, dead.runs,
        {name: values[:0] for name, values in dead.metrics.items()}, dead.trajectory[:0])
    pages = render_site(PROJECT, report, runs, with_figures=False).pages
    mlp = pages["mlp.md"]
    assert f"Every one of the 40 runs of **{markdown_literal('scale 0.1')}** died" in mlp
    assert "every run died |" in mlp  # its row in the table
    assert "every run died |" in pages["index.md"]  # and in the key findings


def test_the_transparent_png_is_the_light_drawing_without_its_background():
    """The transparent look is saved from the light drawing: laid on white, it is the light PNG
    (to the few units of 255 by which 8-bit alpha rounds translucent bands and edges; a line or a
    word drawn differently is off by a hundred), and its background is fully transparent."""
    import io

    import numpy as np
    from PIL import Image

    report = load_report()
    section = report.section("relu-normal")
    files = draw(trajectory_data(section, synthetic_results(report).full, {})).files
    light = np.asarray(Image.open(io.BytesIO(files[".png"])).convert("RGB"), dtype=float)
    clear = np.asarray(Image.open(io.BytesIO(files["-transparent.png"])).convert("RGBA"), dtype=float)
    alpha = clear[..., 3:] / 255
    on_white = clear[..., :3] * alpha + 255 * (1 - alpha)
    assert light.shape == on_white.shape
    off = np.abs(on_white - light).max(axis=2)
    assert off.max() <= 6 and off.mean() < 0.5
    assert clear[2, 2, 3] == 0 and (alpha == 0).mean() > 0.5
