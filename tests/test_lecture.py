"""The lecture's quoted numbers against the spread of the same statistic over many seeded runs.

The lecture shows one draw of each statistic and reads off its order of magnitude ("about 1e-9"),
so a quote is allowed one decade of rounding on top of the statistic's own spread.
"""
import numpy as np
import pytest

from stabreport.report.config import load_report
from stabreport.core.engine import simulate_setting

QUOTE_RESOLUTION = 1.0  # decades: the lecture quotes exponents, not mantissas
REPETITIONS = 12  # repetitions of the lecture's statistic per setting

QUOTED = [s for s in load_report().settings if s.lecture_log10 is not None]


@pytest.mark.parametrize("setting", QUOTED, ids=[s.id for s in QUOTED])
def test_lecture_quote_lies_within_the_statistics_spread(setting):
    runs = REPETITIONS * setting.lecture_averages if setting.lecture_averages > 1 else 2000
    result = simulate_setting(setting.experiment, setting.params, runs, seed=20261129)
    statistic = result.grouped_log10_of_mean(setting.lecture_averages)
    centre, spread = np.median(statistic), np.std(statistic, ddof=1)
    # 3.3 standard deviations: a single draw falls outside with probability ~1e-3.
    allowed = 3.3 * spread + QUOTE_RESOLUTION
    assert abs(setting.lecture_log10 - centre) <= allowed, (
        f"{setting.id}: lecture log10 {setting.lecture_log10:.2f}, measured median {centre:.2f}, "
        f"sd {spread:.2f} over {len(statistic)} repetitions")
