"""The site build as a short sequence of named steps.

    load_report → run_settings → predict → check → make_figures → render → write_generated

Each step takes what the previous one produced. Nothing is written until every page has rendered
(and, under --strict, every claim of the site's own holds), so a bad config, a failing
experiment, a failing template or a failed claim leaves the previous output as it was.
Files are written only when their bytes change (temporary name, compare, replace).
"""
from __future__ import annotations

import csv
import io
import json
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from . import __version__
from .cite import citation_cff, site_info
from .claims import (
    Agreement,
    ClaimResult,
    agreement,
    evaluate_claim,
    path_claim,
    theory_claim,
)
from .config import Report, load_report
from .engine import Memo, ResultCache, Task, default_jobs, run_tasks
from .errors import BuildError
from .experiments import EXPERIMENTS
from .experiments.tangent import supports_tangent
from .figures import (Figure, FigureCache, cached_gain_figure, cached_phase_figure,
                      cached_section_figures)
from .phase import PhaseDiagram, phase_diagram
from .sweeps import cell_theory, summarise
from .theory import critical_scale_at
from .fingerprint import (
    MANIFEST,
    build_date,
    build_fingerprint,
    git_commit,
    manifest_text,
    versions,
)
from .lock import project_lock
from .paths import (CACHE, FOOTER, GENERATED, TIMINGS, fault_point, find_config, recover,
                    swap_in)
from .render import figure_views, make_environment, render_pages, section_views
from .results import NormResult, Result
from .theory import GainCurve, Prediction, curve_key, effective_scale, gain_curve
from .theory import predict as predict_setting


@dataclass(frozen=True)
class BuildSummary:
    settings: int
    from_cache: int
    pages: int
    figures: int
    files_written: int
    seconds: float


@dataclass(frozen=True)
class Runs:
    """What the experiments produced: the full path per setting, and the column lengths from the
    tangent path where the weights are Gaussian (else from the full path)."""

    full: dict[str, Result]
    norms: dict[str, NormResult | None]
    sweeps: dict[str, list[Result | NormResult]] = field(default_factory=dict)  # by sweep id

    def log10_norm_u(self, setting_id: str) -> np.ndarray:
        norms = self.norms.get(setting_id)
        return norms.log10_norm_u if norms is not None else self.full[setting_id].metrics["log10_norm_u"]


def setting_tasks(report: Report) -> list[Task]:
    tasks = []
    for s in report.settings:
        tasks.append(Task("full", s.experiment.name, dict(s.params), s.runs, report.seed, s.id))
        if supports_tangent(s.experiment.name, s.params):
            tasks.append(Task("tangent", s.experiment.name, dict(s.params), s.norm_runs,
                              report.seed, s.id))
    return tasks


def run_settings(report: Report, cache: ResultCache | None, stream=sys.stderr,
                 jobs: int = 1) -> Runs:
    """Every setting on both paths, and every sweep cell, in one pool of tasks; a progress bar
    on a terminal, plain lines otherwise (one per setting, one per finished sweep)."""
    setting_part = setting_tasks(report)
    sweep_part = {sweep.id: sweep.tasks() for sweep in report.sweeps}
    tasks = setting_part + [t for part in sweep_part.values() for t in part]
    sweep_of = {id(t): sweep_id for sweep_id, part in sweep_part.items() for t in part}
    left = {sweep_id: len(part) for sweep_id, part in sweep_part.items()}
    interactive = stream.isatty()
    bar = tqdm(total=len(tasks), desc="experiments", unit="task", file=stream,
               disable=not interactive)
    counts = {"done": 0, "cached": 0}

    def report_progress(task: Task, result) -> None:
        counts["done"] += 1
        counts["cached"] += result.cached
        bar.update()
        bar.set_postfix_str(f"{counts['cached']} cached, {task.name}")
        if interactive:
            return
        sweep_id = sweep_of.get(id(task))
        if sweep_id is None:
            source = "cache" if result.cached else f"{result.elapsed:.1f} s"
            print(f"[{counts['done']}/{len(tasks)}] {task.name} ({task.path} path): {task.runs} "
                  f"runs ({source})", file=stream)
        else:
            left[sweep_id] -= 1
            if left[sweep_id] == 0:
                print(f"[{counts['done']}/{len(tasks)}] sweep {sweep_id}: "
                      f"{len(sweep_part[sweep_id])} cells done", file=stream)

    results = run_tasks(tasks, cache, jobs, report_progress)
    bar.close()
    by_task = dict(zip(map(id, tasks), results))
    full = {t.name: by_task[id(t)] for t in setting_part if t.path == "full"}
    norms = {t.name: by_task[id(t)] for t in setting_part if t.path == "tangent"}
    sweeps = {sweep_id: [by_task[id(t)] for t in part] for sweep_id, part in sweep_part.items()}
    return Runs(full, {s.id: norms.get(s.id) for s in report.settings}, sweeps)


def phase_diagrams(report: Report, runs: Runs, memo: Memo) -> list[PhaseDiagram]:
    """Sweep results as phase diagrams; the theory per cell and per row comes from `memo`."""
    def critical(*key):
        return memo.get(["critical", *key], lambda: critical_scale_at(*key))

    diagrams = []
    for sweep in report.sweeps:
        results = runs.sweeps.get(sweep.id)
        if results is None:  # not run (a render from synthetic results)
            continue
        cells = [summarise(t, r, memo.get(["cell", t.cache_payload()], lambda t=t: cell_theory(t)))
                 for t, r in zip(sweep.tasks(), results)]
        diagrams.append(phase_diagram(sweep, cells, critical))
    return diagrams


def lecture_points(report: Report, diagram: PhaseDiagram) -> list[tuple[float, int, str]]:
    """The report's settings that sit on this diagram: same experiment and fixed parameters."""
    sweep, points = diagram.sweep, []
    for setting in report.settings:
        if setting.experiment is not sweep.experiment or setting.params.get("scale") is None:
            continue
        if all(setting.params.get(k) == v for k, v in sweep.params.items()):
            points.append((setting.params["scale"], setting.params[diagram.row_key], setting.label))
    return points


def predict(report: Report) -> dict[str, Prediction]:
    return {s.id: predict_setting(s.experiment, s.params) for s in report.settings}


@dataclass(frozen=True)
class Checks:
    agreements: dict[str, Agreement]
    claims: list[ClaimResult]  # the lecture's and the site's, in config order
    theory_claims: list[ClaimResult]  # theory against measurement, one per setting

    @property
    def failed_site_claims(self) -> list[ClaimResult]:
        return [c for c in [*self.claims, *self.theory_claims] if c.source == "site" and not c.holds]


def lecture_statistic_median(setting, result: Result) -> float:
    grouped = result.grouped_log10_of_mean(setting.lecture_averages)
    return float(np.median(grouped)) if len(grouped) else result.summary.log10_of_mean


def check(report: Report, runs: Runs, predictions: Mapping[str, Prediction]) -> Checks:
    statistic = {s.id: lecture_statistic_median(s, runs.full[s.id]) for s in report.settings}
    agreements = {s.id: agreement(runs.full[s.id], runs.norms[s.id], predictions[s.id],
                                  report.theory_tolerance) for s in report.settings}
    claims = []
    for spec in report.claims:
        claim = evaluate_claim(spec, report, statistic)
        claims.append(ClaimResult(claim.id, spec.source, claim.section, claim.statement,
                                  claim.quote, claim.checks))
    theory_claims = [theory_claim(s, agreements[s.id]) for s in report.settings]
    theory_claims += [path_claim(s, agreements[s.id]) for s in report.settings
                      if agreements[s.id].path_ks_pvalue is not None]
    return Checks(agreements, claims, theory_claims)


def make_figures(report: Report, runs: Runs, predictions: Mapping[str, Prediction],
                 gains: GainSummary, diagrams: Sequence[PhaseDiagram],
                 cache: FigureCache | None = None) -> dict[str, list[Figure]]:
    """Figures by the section (or page) they belong to; drawn only when their inputs changed."""
    norm_u = {s.id: runs.log10_norm_u(s.id) for s in report.settings}
    figures = {section.id: cached_section_figures(cache, section, runs.full, predictions, norm_u)
               for section in report.sections}
    figures["theory"] = [cached_gain_figure(cache, gains.curves, gains.points)]
    figures["phase"] = [cached_phase_figure(cache, d, lecture_points(report, d)) for d in diagrams]
    return figures


@dataclass(frozen=True)
class GainSummary:
    curves: list[GainCurve]
    points: list[tuple[str, str, float, float]]  # curve label, setting id, scale, measured gain


def gain_summary(report: Report, runs: Runs) -> GainSummary:
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
            median = float(np.median(runs.log10_norm_u(setting.id)))
            points.append((curve.label, setting.id, scale,
                           median / setting.experiment.steps(setting.params)))
    return GainSummary(curves, points)


def provenance(root: Path) -> dict[str, Any]:
    """What built this site: versions, commit, date (SOURCE_DATE_EPOCH when set)."""
    return {"versions": {"stabreport": __version__, "python": platform.python_version(), **versions()},
            "commit": git_commit(root), "date": build_date()}


def render(root: Path, report: Report, runs: Runs,
           predictions: Mapping[str, Prediction], checks: Checks, gains: GainSummary,
           diagrams: Sequence[PhaseDiagram], figures: Mapping[str, Sequence[Figure]],
           build_info: Mapping[str, Any]) -> dict[str, str]:
    sections = section_views(report, runs.full, figures, predictions, checks.agreements, checks.claims)
    timings = [{"setting": s.id, "path": path, "runs": result.runs, "cached": result.cached,
                "seconds": result.elapsed}
               for s in report.settings
               for path, result in (("full", runs.full[s.id]), ("tangent", runs.norms[s.id]))
               if result is not None]
    context = {
        "timings": timings,
        "curves": gains.curves,
        "claims": checks.claims,
        "theory_claims": checks.theory_claims,
        "page_figures": {"theory": figure_views(figures.get("theory", ()), 1, "theory"),
                         "phase": figure_views(figures.get("phase", ()), 1, "phase")},
        "phases": list(diagrams),
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
    try:  # a NaN or an infinity never reaches a data file
        encoded = json.dumps(payload, indent=1, allow_nan=False) + "\n"
    except ValueError:
        raise BuildError(f"figure {figure.id}: its data holds a NaN or an infinity") from None
    return {"csv": text.getvalue().encode(), "json": encoded.encode()}


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
    """Make `directory` hold exactly `files`, all at once: the new tree is written beside it and
    swapped in by renaming, so a build killed at any moment leaves the old tree or the new one,
    never a mix. Nothing is touched when no byte would change. Returns the files changed."""
    recover(directory)
    existing = {p.relative_to(directory).as_posix(): p for p in directory.rglob("*")
                if p.is_file()} if directory.is_dir() else {}
    changed = sum(1 for name, content in files.items()
                  if name not in existing or existing[name].read_bytes() != content)
    changed += len(set(existing) - set(files))
    if changed == 0:
        return 0
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-new-"))
    try:
        for index, (name, content) in enumerate(sorted(files.items())):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            if index == len(files) // 2:
                fault_point("generated-half-written")
        swap_in(staging, directory, "generated-between-renames")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return changed


def render_site(root: Path, report: Report, runs: Runs, strict: bool = False,
                with_figures: bool = True, figure_cache: FigureCache | None = None
                ) -> tuple[dict[str, str], dict[str, list[Figure]]]:
    """Every step after the experiments: predict, check, draw, render. Writes nothing."""
    predictions = predict(report)
    checks = check(report, runs, predictions)
    if strict and checks.failed_site_claims:
        raise BuildError("claims of the site that do not hold (--strict):\n" + "\n".join(
            f"{c.id}: {c.statement} Found: " + "; ".join(
                f"{x.label}: {x.observed} (log10 {x.log10_value:.2f})" for x in c.checks)
            for c in checks.failed_site_claims))
    gains = gain_summary(report, runs)
    diagrams = phase_diagrams(report, runs, Memo(
        figure_cache.directory.parent / "theory" if figure_cache else None, FigureCache.CODE))
    figures = make_figures(report, runs, predictions, gains, diagrams, figure_cache) \
        if with_figures else {}
    pages = render(root, report, runs, predictions, checks, gains, diagrams, figures,
                   provenance(root))
    return pages, figures


def build_report(root: str | Path = ".", config_path: str | None = None, use_cache: bool = True,
                 strict: bool = False, stream=sys.stderr, jobs: int | None = None) -> BuildSummary:
    root = Path(root)
    with project_lock(root, stream):
        return _build_report(root, config_path, use_cache, strict, stream, jobs)


def _build_report(root: Path, config_path: str | None, use_cache: bool, strict: bool, stream,
                  jobs: int | None) -> BuildSummary:
    started = time.perf_counter()
    config_file = find_config(root, config_path)
    fingerprint = build_fingerprint(root, config_file, strict)
    report = load_report(config_file)
    cache = ResultCache(root / CACHE) if use_cache else None
    runs = run_settings(report, cache, stream, jobs or default_jobs())
    figure_cache = FigureCache(root / CACHE / "figures") if use_cache else None
    pages, figures = render_site(root, report, runs, strict=strict, figure_cache=figure_cache)
    about = provenance(root)
    extra = {"CITATION.cff": citation_cff(site_info(root, report, about["date"])),
             "provenance.json": json.dumps({**about, "seed": report.seed}, indent=1,
                                           sort_keys=True) + "\n"}
    files = output_files(report, pages, figures, extra)
    # The timings page is the one output that honestly varies: the manifest leaves it out.
    files[MANIFEST] = manifest_text(fingerprint, {n: c for n, c in files.items() if n != TIMINGS}).encode()
    written = write_generated(root / GENERATED, files)
    summary = BuildSummary(
        settings=len(runs.full), from_cache=sum(r.cached for r in runs.full.values()),
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
