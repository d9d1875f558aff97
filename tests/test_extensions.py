"""Figure kinds and statistics are plug-ins too: the example package examples/gain_spread adds a
figure kind (`gain-spread`) and a statistic (`median_gain`) through entry points, and the
session's site (see conftest) uses them on a page of its own, in both editions, with the same
downloads, citation, alt text and reproduce command as a built-in figure. Unknown names are
refused when the config is read, with the registered ones."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stabreport.errors import ConfigError
from stabreport.paths import GENERATED

BIN = Path(sys.executable).parent
FIGURE = "relu-gains-gain-spread"


def test_the_extension_is_registered_from_its_package(plugin):
    from stabreport.render.kinds import FIGURES, kinds
    from stabreport.report.statistics import SETTING_STATISTICS

    assert "gain-spread" in kinds("section") and FIGURES.package("gain-spread").startswith(
        "stabreport-gain-spread")
    assert SETTING_STATISTICS.package("median_gain") == "stabreport-gain-spread 0.1.0"


def test_its_figure_and_column_are_on_its_page_in_both_editions(site):
    generated = site / GENERATED
    for prefix, words in (("", "gain per step, run by run"), ("zh/", "逐次运行的每步增益")):
        page = (generated / f"{prefix}gain-spread.md").read_text()
        assert f'<figure markdown="span" id="{FIGURE}">' in page
        alt = re.search(rf'src="figures/{FIGURE}.svg#only-light" alt="([^"]*)"', page).group(1)
        assert words in alt
        # The alt text states the figure's own numbers: each setting's median gain.
        data = np.genfromtxt(generated / "data" / f"{FIGURE}.csv", delimiter=",", names=True,
                             dtype=None, encoding="utf-8")
        median = float(np.median(data["log10_value"][data["setting"] == "gain-spread-0.2"]))
        assert f"{median:+.3f}".replace("-", "−") in alt
        for suffix in (".svg", "-dark.svg", ".png", ".pdf", "-transparent.png"):
            assert (generated / f"{prefix}figures/{FIGURE}{suffix}").stat().st_size > 1000
        # The statistic is a column of the section's table, in the edition's words.
        header = next(line for line in page.splitlines() if line.startswith("| ") and "gain-spread" not in line
                      and ("Verdict" in line or "判定" in line))
        assert ("Median gain per step (log₁₀)" if not prefix else "每步增益的中位数（log₁₀）") in header
    english = (generated / "gain-spread.md").read_text()
    assert f"@misc{{stabreport:{FIGURE}," in english  # its BibTeX entry
    assert f"stabreport figure {FIGURE}" in english
    # Its claim (a bound on the plug-in's statistic) holds, and says what it found in the
    # statistic's declared words, not its identifier.
    claim = english.split("At He&#39;s scale the median gain per layer is one")[1].split("!!!")[0]
    assert "Median gain per step (log₁₀) between −0.05 and 0.05" in claim and "median_gain" not in claim
    assert "This site&#39;s claim: holds" in english
    assert json.loads((generated / "data" / f"{FIGURE}.json").read_text())["figure"] == FIGURE


def test_its_column_is_the_median_of_the_figure_s_own_numbers(site):
    """The table's median gain and the figure's per-run values come from the same runs."""
    generated = site / GENERATED
    data = np.genfromtxt(generated / "data" / f"{FIGURE}.csv", delimiter=",", names=True,
                         dtype=None, encoding="utf-8")
    page = (generated / "gain-spread.md").read_text()
    for setting in ("gain-spread-0.1", "gain-spread-0.2"):
        row = next(line for line in page.splitlines() if f'<span id="{setting}"></span>' in line)
        shown = float(row.split(" decades |")[0].rsplit("| ", 1)[1].replace("−", "-"))
        median = float(np.median(data["log10_value"][data["setting"] == setting]))
        assert shown == pytest.approx(median, abs=6e-4)  # three decimals of the same median


def test_its_reproduce_command_prints_the_csv_download_byte_for_byte(site):
    done = subprocess.run([str(BIN / "stabreport"), "figure", FIGURE], capture_output=True,
                          cwd=site, env={**os.environ})
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == (site / GENERATED / "data" / f"{FIGURE}.csv").read_bytes()


def test_an_unknown_figure_kind_or_statistic_is_refused_with_the_registered_ones(plugin):
    from stabreport.report.config import load_report

    text = ("sections:\n  - id: relu-normal\n    figures: [trajectory, gain-spreed]\n"
            "claims:\n  - id: x\n    section: relu-normal\n    statement: s\n"
            "    checks: [{setting: relu-normal-0.1, statistic: median_gian, at_most: 0}]\n")
    with pytest.raises(ConfigError) as caught:
        load_report(text=text)
    lines = str(caught.value).splitlines()
    figure = next(line for line in lines if "gain-spreed" in line)
    assert "figures[1]" in figure and "gain-spread" in figure and "trajectory" in figure
    statistic = next(line for line in lines if "median_gian" in line)
    assert "median_gain" in statistic and "sv_spread" in statistic
