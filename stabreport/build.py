"""The site build as a short sequence of named steps.

    load_config → run_settings → predict → check → make_figures → render → write_generated

Each step takes what the previous one produced. Nothing is written until every page has rendered
(and, under --strict, every claim of the site's own holds), so a bad config, a failing
experiment, a failing template or a failed claim leaves the previous output as it was.
Files are written only when their bytes change (temporary name, compare, replace).
"""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

from tqdm import tqdm

import numpy as np

from . import __version__
from .cite import citation_cff, site_info
from .claims import Agreement, ClaimResult, agreement, evaluate_claim, theory_claim
from .config import Report, find_config, load_report
from .engine import ResultCache, run_setting
from .errors import BuildError
from .experiments import EXPERIMENTS
from .figures import Figure, gain_figure, section_figures
from .render import figure_views, make_environment, render_pages, section_views
from .results import Result
from .theory import GainCurve, Prediction, curve_key, effective_scale, gain_curve, predict as predict_setting

GENERATED = Path("docs") / "generated"
FOOTER = ".footer.html"  # provenance line for every page's footer; a dot file, so not published
CACHE = Path(".stabreport-cache")
PACKAGES = ("numpy", "scipy", "matplotlib", "jinja2", "mkdocs", "mkdocs-material", "pyyaml")


@dataclass(frozen=True)
class BuildSummary:
    settings: int
    from_cache: int
    pages: int
    figures: int
    files_written: int
    seconds: float


def load_config(root: Path, config_path: str | None) -> Report:
    return load_report(find_config(root, config_path))


def run_settings(report: Report, cache: ResultCache | None, stream=sys.stderr) -> dict[str, Result]:
    """Every setting's result; a progress bar on a terminal, plain lines otherwise."""
    settings = report.settings
    results: dict[str, Result] = {}
    interactive = stream.isatty()
    bar = tqdm(settings, desc="settings", unit="setting", file=stream, disable=not interactive)
    for index, setting in enumerate(bar, start=1):
        bar.set_postfix_str(setting.id)
        result = run_setting(setting.experiment, setting.params, setting.runs, report.seed,
                             cache=cache, name=setting.id)
        results[setting.id] = result
        if not interactive:
            source = "cache" if result.cached else f"{result.elapsed:.1f} s"
            print(f"[{index}/{len(settings)}] {setting.id}: {setting.runs} runs ({source})",
                  file=stream)
    return results


def predict(report: Report) -> dict[str, Prediction]:
    return {s.id: predict_setting(s.experiment, s.params) for s in report.settings}


@dataclass(frozen=True)
class Checks:
    agreements: dict[str, Agreement]
    claims: list[ClaimResult]  # the lecture's and the site's, in config order
    theory_claims: list[ClaimResult]  # theory against measurement, one per setting
    lecture_statistic: dict[str, float]  # setting id → median of the lecture's statistic

    @property
    def failed_site_claims(self) -> list[ClaimResult]:
        return [c for c in [*self.claims, *self.theory_claims] if c.source == "site" and not c.holds]


def lecture_statistic_median(setting, result: Result) -> float:
    grouped = result.grouped_log10_of_mean(setting.lecture_averages)
    return float(np.median(grouped)) if len(grouped) else result.summary.log10_of_mean


def check(report: Report, results: Mapping[str, Result],
          predictions: Mapping[str, Prediction]) -> Checks:
    statistic = {s.id: lecture_statistic_median(s, results[s.id]) for s in report.settings}
    agreements = {s.id: agreement(results[s.id], predictions[s.id], report.theory_tolerance)
                  for s in report.settings}
    claims = []
    for spec in report.claims:
        claim = evaluate_claim(spec, report, statistic)
        claims.append(ClaimResult(claim.id, spec.source, claim.section, claim.statement,
                                  claim.quote, claim.checks))
    theory_claims = [theory_claim(s, agreements[s.id]) for s in report.settings]
    return Checks(agreements, claims, theory_claims, statistic)


def make_figures(report: Report, results: Mapping[str, Result],
                 predictions: Mapping[str, Prediction], gains: GainSummary) -> dict[str, list[Figure]]:
    """Figures by the section (or page) they belong to."""
    figures = {section.id: section_figures(section, results, predictions)
               for section in report.sections}
    figures["theory"] = [gain_figure(gains.curves, gains.points)]
    return figures


@dataclass(frozen=True)
class GainSummary:
    curves: list[GainCurve]
    points: list[tuple[str, str, float, float]]  # curve label, setting id, scale, measured gain


def gain_summary(report: Report, results: Mapping[str, Result]) -> GainSummary:
    """Theory curves of gain per step against scale, one per distinct (experiment, width, steps,
    activation), and each setting's measured gain at its effective scale."""
    members: dict[tuple, list] = {}
    for setting in report.settings:
        members.setdefault(curve_key(setting.experiment, setting.params), []).append(setting)
    curves, points = [], []
    for key, settings in members.items():
        scales = [effective_scale(s.experiment, s.params) for s in settings]
        grid = np.geomspace(min(scales) / 3, max(scales) * 3, 48)
        curve = gain_curve(key, grid)
        curves.append(curve)
        for setting, scale in zip(settings, scales):
            median = float(np.median(results[setting.id].metrics["log10_norm_u"]))
            points.append((curve.label, setting.id, scale,
                           median / setting.experiment.steps(setting.params)))
    return GainSummary(curves, points)


def provenance(root: Path) -> dict[str, Any]:
    """What built this site: versions, commit, date (SOURCE_DATE_EPOCH when set)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    versions = {"stabreport": __version__, "python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {"versions": versions, "commit": _git_commit(root), "date": when.strftime("%Y-%m-%d")}


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, check=True,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def render(root: Path, report: Report, results: Mapping[str, Result],
           predictions: Mapping[str, Prediction], checks: Checks, gains: GainSummary,
           figures: Mapping[str, Sequence[Figure]], build_info: Mapping[str, Any]) -> dict[str, str]:
    sections = section_views(report, results, figures, predictions, checks.agreements, checks.claims)
    context = {
        "curves": gains.curves,
        "claims": checks.claims,
        "theory_claims": checks.theory_claims,
        "page_figures": {"theory": figure_views(figures.get("theory", ()), 1, "theory")},
        "site": site_info(root, report, build_info["date"]),
        "report": report,
        "sections": sections,
        "pages": {name: [s for s in sections if s.experiment == name] for name in EXPERIMENTS},
        "settings": {s.id: s for section in sections for s in section.settings},
        "experiments": list(EXPERIMENTS.values()),
        "build": build_info,
    }
    env = make_environment(root / "templates", report)
    pages = render_pages(env, context)
    pages[FOOTER] = env.get_template("partials/footer.html.j2").render(context).strip() + "\n"
    return pages


def data_files(figure: Figure, report: Report) -> dict[str, bytes]:
    """The numbers behind a figure, as CSV and as JSON with the settings that made them."""
    names = list(figure.columns)
    rows = zip(*(figure.columns[n] for n in names))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    settings = {}
    for setting_id in sorted(figure.settings):
        setting = report.setting(setting_id)
        settings[setting_id] = {"experiment": setting.experiment.name, "params": dict(setting.params),
                                "runs": setting.runs, "seed": report.seed}
    payload = {"figure": figure.id, "title": figure.title, "caption": figure.caption,
               "settings": settings, "columns": {n: list(figure.columns[n]) for n in names}}
    return {"csv": text.getvalue().encode(), "json": (json.dumps(payload, indent=1) + "\n").encode()}


def output_files(report: Report, pages: Mapping[str, str],
                 figures: Mapping[str, Sequence[Figure]], extra: Mapping[str, str]) -> dict[str, bytes]:
    files = {name: text.encode() for name, text in {**pages, **extra}.items()}
    for group in figures.values():
        for figure in group:
            for fmt, content in figure.files.items():
                files[f"figures/{figure.id}.{fmt}"] = content
            for fmt, content in data_files(figure, report).items():
                files[f"data/{figure.id}.{fmt}"] = content
    return files


def write_generated(directory: Path, files: Mapping[str, bytes]) -> int:
    """Make `directory` hold exactly `files`, touching only files whose bytes changed."""
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for relative, content in sorted(files.items()):
        target = directory / relative
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, target)
        written += 1
    for path in sorted(directory.rglob("*"), reverse=True):
        relative = path.relative_to(directory).as_posix()
        if path.is_file() and relative not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return written


def render_site(root: Path, report: Report, results: Mapping[str, Result], strict: bool = False,
                with_figures: bool = True) -> tuple[dict[str, str], dict[str, list[Figure]]]:
    """Every step after the experiments: predict, check, draw, render. Writes nothing."""
    predictions = predict(report)
    checks = check(report, results, predictions)
    if strict and checks.failed_site_claims:
        raise BuildError("claims of the site that do not hold (--strict):\n" + "\n".join(
            f"{c.id}: {c.statement} Found: " + "; ".join(
                f"{x.label}: {x.observed} (log10 {x.log10_value:.2f})" for x in c.checks)
            for c in checks.failed_site_claims))
    gains = gain_summary(report, results)
    figures = make_figures(report, results, predictions, gains) if with_figures else {}
    pages = render(root, report, results, predictions, checks, gains, figures, provenance(root))
    return pages, figures


def build_report(root: str | Path = ".", config_path: str | None = None, use_cache: bool = True,
                 strict: bool = False, stream=sys.stderr) -> BuildSummary:
    started = time.perf_counter()
    root = Path(root)
    report = load_config(root, config_path)
    cache = ResultCache(root / CACHE) if use_cache else None
    results = run_settings(report, cache, stream)
    pages, figures = render_site(root, report, results, strict=strict)
    about = provenance(root)
    extra = {"CITATION.cff": citation_cff(site_info(root, report, about["date"])),
             "provenance.json": json.dumps({**about, "seed": report.seed}, indent=1,
                                           sort_keys=True) + "\n"}
    written = write_generated(root / GENERATED, output_files(report, pages, figures, extra))
    summary = BuildSummary(
        settings=len(results), from_cache=sum(r.cached for r in results.values()),
        pages=sum(name.endswith(".md") for name in pages), figures=sum(len(f) for f in figures.values()), files_written=written,
        seconds=time.perf_counter() - started)
    print(f"built {summary.pages} pages and {summary.figures} figures from {summary.settings} "
          f"settings ({summary.from_cache} from the cache) in {summary.seconds:.1f} s; "
          f"{summary.files_written} files changed in {GENERATED}", file=stream)
    return summary


def clean(root: str | Path = ".") -> None:
    root = Path(root)
    for path in (root / GENERATED, root / CACHE, root / "site"):
        shutil.rmtree(path, ignore_errors=True)
