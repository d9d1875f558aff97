import pytest
from helpers import PROJECT, SMALL_CONFIG

from stabreport.publish.build import check, gather, render_site, run_experiments
from stabreport.core.cache import Store
from stabreport.report.config import load_report
from stabreport.errors import BuildError
from stabreport.render.formatting import markdown_literal


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("cache"))


def run_settings(report, cache, stream):
    return run_experiments(report, cache, stream=stream, sweeps=())


def _claims(config_text, cache):
    report = load_report(text=config_text)
    runs = run_settings(report, cache, open("/dev/null", "w"))
    checks = check(report, gather(report, runs, cache))
    return report, runs, {c.id: c for c in checks.claims}


def test_default_report_claims_read_the_lecture_as_the_data_says(cache):
    _, _, claims = _claims(SMALL_CONFIG, cache)
    for holding in ("products-sensitive-to-scale", "relu-small-scale-vanishes",
                    "relu-large-scales-explode", "relu-0.2-least-extreme", "xavier-still-vanishes",
                    "he-does-not-vanish", "sigmoid-always-vanishes", "scaled-sigmoid-stable-at-0.1"):
        assert claims[holding].holds, claims[holding]
    # The lecture calls these fine; at width 100 they are not.
    assert not claims["relu-0.2-reasonable"].holds
    assert not claims["scaled-sigmoid-fine-at-0.4-and-0.8"].holds


def test_moving_settings_across_their_critical_scales_flips_the_verdicts(cache):
    moved = SMALL_CONFIG.replace("  - id: relu-normal\n    runs: 20\n", """  - id: relu-normal
    runs: 20
    settings:
      - {id: relu-normal-0.1, params: {scale: 0.3}}
      - {id: relu-normal-0.2, params: {scale: 0.143}}
""").replace("  - id: sigmoid\n    runs: 20\n", """  - id: sigmoid
    runs: 20
    settings:
      - {id: sigmoid-0.8, params: {scale: 3.0}}
""").replace("  - id: relu-init\n    runs: 20\n", """  - id: relu-init
    runs: 20
    settings:
      - {id: relu-xavier-uniform, params: {init: he_normal}}
""")
    report, _, claims = _claims(moved, cache)
    assert report.setting("relu-normal-0.1").params["scale"] == 0.3
    assert not claims["relu-small-scale-vanishes"].holds  # 0.3 is above the critical 0.143
    assert claims["relu-0.2-reasonable"].holds  # 0.143 is critical at width 100
    assert not claims["sigmoid-always-vanishes"].holds  # 3.0 is above the sigmoid's 1.09
    assert not claims["xavier-still-vanishes"].holds
    failing = [c for c in claims["sigmoid-always-vanishes"].checks if not c.holds]
    assert [c.setting for c in failing] == ["sigmoid-0.8"]


def test_strict_build_refuses_a_site_claim_that_does_not_hold(cache):
    config = SMALL_CONFIG + """claims:
  - id: wrong-on-purpose
    section: relu-normal
    source: site
    statement: Scale 0.1 makes the ReLU gradient explode.
    checks:
      - {setting: relu-normal-0.1, verdict: explodes}
"""
    report = load_report(text=config)
    runs = run_settings(report, cache, open("/dev/null", "w"))
    with pytest.raises(BuildError, match=r"wrong-on-purpose.*scale 0.1: vanishes"):
        render_site(PROJECT, report, runs, strict=True, with_figures=False)
    pages = render_site(PROJECT, report, runs, strict=False, with_figures=False).pages
    assert markdown_literal("Scale 0.1 makes the ReLU gradient explode.") in pages["mlp.md"]
