"""The false-alarm rate of a build's statistical tests, measured over many seeds: theory against
measurement (median and KS) and path against path, all of a build judged together as one
family (report.claims.Family). Small runs, so that each seed costs a fraction of a second."""
from dataclasses import replace
import io
import math

import pytest

from stabreport.core.executors import LocalExecutor
from stabreport.publish.build import check, gather, run_experiments
from stabreport.report.claims import Family, KS_ALPHA, Z_LIMIT
from stabreport.report.config import load_report

# Four settings whose laws are exact (products of Gaussian matrices, a ReLU network's column
# length): three tests each (the median, a KS test against the law, the two paths' KS test).
CONFIG = """extends: none
title: False alarms
authors: ["Doe, Jane"]
seed: {seed}
languages: [en]
false_alarm_rate: {rate}
verdicts: {{vanishes_below: 1.0e-3, explodes_above: 1.0e+3}}
pages:
  - {{id: index, title: Home}}
  - {{id: checks, title: Checks, summary: "the site's own claims."}}
sections:
  - id: products
    title: Products
    experiment: products
    page: checks
    runs: 40
    norm_runs: 200
    settings:
      - {{id: p-a, params: {{scale: 0.5, k: 4, factors: 20}}}}
      - {{id: p-b, params: {{scale: 0.7, k: 4, factors: 20}}}}
  - id: relu
    title: ReLU
    experiment: mlp
    page: checks
    runs: 40
    norm_runs: 200
    params: {{activation: relu, width: 20, depth: 10}}
    settings:
      - {{id: r-a, params: {{scale: 0.3}}}}
      - {{id: r-b, params: {{scale: 0.2}}}}
sweeps: []
"""
SEEDS = 100
RATE = 0.2  # large enough for its frequency to be measured in SEEDS builds


def test_the_family_holds_each_test_to_its_share_of_the_rate():
    family = Family(12, 0.2, z_floor=0.0, ks_ceiling=1.0)
    assert family.level == pytest.approx(0.2 / 12)
    assert family.ks_alpha == pytest.approx(0.2 / 12)
    assert math.erfc(family.z_limit / math.sqrt(2)) == pytest.approx(0.2 / 12)  # two-sided
    default = Family(60)  # what a lecture build makes: never looser than the fixed limits
    assert default.z_limit >= Z_LIMIT and default.ks_alpha <= KS_ALPHA
    assert default.ks_alpha == pytest.approx(1e-3 / 60)
    assert Family(600).z_limit > Family(60).z_limit


@pytest.fixture(scope="module")
def builds():
    """The checks of SEEDS builds of the same report, one per seed: under the family at RATE
    with its floors lifted (so that RATE is what is tested), and as a build judges them."""
    lifted, default = [], []
    for seed in range(SEEDS):
        report = load_report(text=CONFIG.format(seed=seed, rate=RATE))
        runs = run_experiments(report, None, LocalExecutor(1), stream=io.StringIO())
        evidence = gather(report, runs, None, gains=False)
        lifted.append(check(report, evidence, adjust=lambda f: replace(f, z_floor=0.0, ks_ceiling=1.0)))
        default.append(check(report, evidence, adjust=lambda f: replace(f, rate=1e-3)))
    return lifted, default


def test_builds_of_correct_code_raise_false_alarms_at_most_at_the_stated_rate(builds):
    """Each of the 12 tests alone at level RATE would fail some build in nine seeds of ten; the
    family fails at most RATE of them (three binomial standard errors of slack)."""
    lifted, _ = builds
    assert lifted[0].family.tests == 12
    alarms = sum(bool(c.failed_site_claims) for c in lifted)
    assert alarms / SEEDS <= RATE + 3 * math.sqrt(RATE * (1 - RATE) / SEEDS), alarms
    # And the tests are not idle: a family at RATE does fail some builds (Bonferroni is
    # conservative, but not by a factor of ten here).
    assert alarms / SEEDS >= RATE / 10, alarms


def test_at_the_default_rate_no_seed_raises_a_false_alarm(builds):
    """At 10⁻³ per build, 100 seeds would see none with probability 0.90, three or more with
    probability 1.6 × 10⁻⁴."""
    _, default = builds
    alarms = [c for c in default if c.failed_site_claims]
    assert len(alarms) <= 2, [[claim.id for claim in c.failed_site_claims] for c in alarms]
