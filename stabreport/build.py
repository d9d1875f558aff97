"""The site build as a short sequence of named steps.

    load_config → run_settings → make_figures → render → write_generated

Each step takes what the previous one produced. Nothing is written until every page has rendered,
so a bad config, a failing experiment or a failing template leaves the previous output as it was.
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

from . import __version__
from .config import Report, find_config, load_report
from .engine import ResultCache, run_setting
from .experiments import EXPERIMENTS
from .figures import Figure, section_figures
from .render import make_environment, render_pages, section_views
from .results import Result

GENERATED = Path("docs") / "generated"
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


def make_figures(report: Report, results: Mapping[str, Result]) -> dict[str, list[Figure]]:
    return {section.id: section_figures(section, results) for section in report.sections}


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
           figures: Mapping[str, Sequence[Figure]], build_info: Mapping[str, Any]) -> dict[str, str]:
    sections = section_views(report, results, figures)
    context = {
        "report": report,
        "sections": sections,
        "pages": {name: [s for s in sections if s.experiment == name] for name in EXPERIMENTS},
        "settings": {s.id: s for section in sections for s in section.settings},
        "experiments": list(EXPERIMENTS.values()),
        "build": build_info,
    }
    return render_pages(make_environment(root / "templates", report), context)


def data_files(figure: Figure, report: Report) -> dict[str, bytes]:
    """The numbers behind a figure, as CSV and as JSON with the settings that made them."""
    names = list(figure.columns)
    rows = zip(*(figure.columns[n] for n in names))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    setting_ids = sorted(set(figure.columns["setting"]))
    settings = {}
    for setting_id in setting_ids:
        setting = report.setting(setting_id)
        settings[setting_id] = {"experiment": setting.experiment.name, "params": dict(setting.params),
                                "runs": setting.runs, "seed": report.seed}
    payload = {"figure": figure.id, "title": figure.title, "caption": figure.caption,
               "settings": settings, "columns": {n: list(figure.columns[n]) for n in names}}
    return {"csv": text.getvalue().encode(), "json": (json.dumps(payload, indent=1) + "\n").encode()}


def output_files(report: Report, pages: Mapping[str, str],
                 figures: Mapping[str, Sequence[Figure]]) -> dict[str, bytes]:
    files = {name: text.encode() for name, text in pages.items()}
    for section_figures_ in figures.values():
        for figure in section_figures_:
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


def build_report(root: str | Path = ".", config_path: str | None = None, use_cache: bool = True,
                 strict: bool = False, stream=sys.stderr) -> BuildSummary:
    started = time.perf_counter()
    root = Path(root)
    report = load_config(root, config_path)
    cache = ResultCache(root / CACHE) if use_cache else None
    results = run_settings(report, cache, stream)
    figures = make_figures(report, results)
    pages = render(root, report, results, figures, provenance(root))
    written = write_generated(root / GENERATED, output_files(report, pages, figures))
    summary = BuildSummary(
        settings=len(results), from_cache=sum(r.cached for r in results.values()),
        pages=len(pages), figures=sum(len(f) for f in figures.values()), files_written=written,
        seconds=time.perf_counter() - started)
    print(f"built {summary.pages} pages and {summary.figures} figures from {summary.settings} "
          f"settings ({summary.from_cache} from the cache) in {summary.seconds:.1f} s; "
          f"{summary.files_written} files changed in {GENERATED}", file=stream)
    return summary


def clean(root: str | Path = ".") -> None:
    root = Path(root)
    for path in (root / GENERATED, root / CACHE, root / "site"):
        shutil.rmtree(path, ignore_errors=True)
