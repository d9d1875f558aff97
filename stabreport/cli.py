"""The command line: a thin layer over the library that maps errors to exit codes."""
from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .core.results import FULL, PATHS, TANGENT
from .errors import ConfigError, StabreportError
from .render.kinds import DEFAULT_SWEEP_FIGURE, FIGURES


LONG_RUN_SECONDS = 3.0  # a run predicted to take longer shows a progress bar with the time left
LONG_ESTIMATE_SECONDS = 60.0  # and longer still, its estimated time first


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:.0f} s"
MAX_SWEEP_CELLS = 100_000  # a larger grid is a mistake or a job to split


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        choice = re.match(r"(argument [^:]+): invalid choice: (\S+) \(choose from (.*)\)$", message)
        if choice:
            message = f"{choice[1]}: got {choice[2]}; allowed: {choice[3].replace(chr(39), '')}"
        elif "allowed" not in message:
            message += f"; allowed: see `{self.prog} --help`"
        raise ConfigError(message)


def _whole_number(text: str) -> int:
    from .core.params import whole_number

    try:
        return whole_number(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an integer") from None


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a finite number > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stabreport", description=__doc__)
    parser.add_argument("--version", action="version", version=f"stabreport {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="every experiment, where it comes from, and its "
                                  "parameters; or the files a project's build uses")
    shown = listing.add_mutually_exclusive_group()
    shown.add_argument("--templates", action="store_true",
                       help="every template the build uses, and whether the project's own or the "
                            "one stabreport ships")
    shown.add_argument("--files", action="store_true",
                       help="every template, asset and catalogue the build uses, and from where")
    listing.add_argument("--root", default=".", help="project root (with --templates, --files)")

    new = commands.add_parser("new", help="start a report project in a new folder")
    new.add_argument("directory", help="the folder to create (it must not exist, or be empty)")
    new.add_argument("--from-default", action="store_true",
                     help="the whole lecture report (its config and its pages' prose) to edit, "
                          "instead of a small report of one page, one section and one sweep")

    run = commands.add_parser("run", help="run one setting and print its results")
    run.add_argument("experiment", help="an experiment's name (see `stabreport list`)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter (repeatable)")
    run.add_argument("--runs", type=_whole_number, help="independent runs (default: per experiment)")
    run.add_argument("--seed", type=_whole_number, default=0, help="integer seed (default 0)")
    run.add_argument("--path", choices=PATHS, default=FULL,
                     help="full: form every matrix (default); tangent: the fast path for ‖M u‖")
    run.add_argument("--per-step", action="store_true",
                     help="with --json: add the median and 5–95 %% quantiles after every step")
    run.add_argument("--spectrum", action="store_true",
                     help="also track the singular values (full path, experiments that can; a QR "
                          "factorisation every few steps, from the same draws)")
    run.add_argument("--no-spectrum", action="store_true", help=argparse.SUPPRESS)  # the default
    run.add_argument("--json", action="store_true", help="print exactly one JSON object")

    sweep = commands.add_parser("sweep", help="run a grid of settings (cells) locally or on Dask")
    sweep.add_argument("experiment", help="an experiment's name (see `stabreport list`)")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=START:STOP:N[:log]",
                       help="an axis of the grid (repeatable); KEY=V1,V2,… lists values")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="fix a parameter for every cell (repeatable)")
    sweep.add_argument("--runs", type=_whole_number, default=200,
                       help="runs per cell, or at most this many with --standard-error (default 200)")
    sweep.add_argument("--standard-error", type=_positive_float, metavar="SE",
                       help="size each cell by the theory for this standard error of what --figure "
                            "plots (as the report's sweeps do); default: --runs in every cell")
    sweep.add_argument("--figure", choices=FIGURES.select(lambda k: k.scope == "sweep"),
                       default=DEFAULT_SWEEP_FIGURE,
                       help="the sweep figure whose plotted statistic --standard-error is of (the "
                            f"registered sweep figures; default {DEFAULT_SWEEP_FIGURE})")
    sweep.add_argument("--seed", type=_whole_number, default=0, help="integer seed (default 0)")
    sweep.add_argument("--json", action="store_true", help="print exactly one JSON object")
    _add_executor_options(sweep)
    sweep.add_argument("--no-cache", action="store_true", help="recompute every cell")
    sweep.add_argument("--root", default=".", help="project root holding the cache")

    build = commands.add_parser("build", help="run every setting of the report and render docs/")
    build.add_argument("--config", default=None, help="report config (default: ./stabreport.yml if present)")
    build.add_argument("--root", default=".", help="project root holding templates/ and docs/")
    build.add_argument("--no-cache", action="store_true", help="recompute every setting")
    build.add_argument("--strict", action="store_true", help="fail when a claim of the site does not hold or a config text has no translation")
    _add_executor_options(build)

    figure = commands.add_parser("figure", help="print one figure's CSV download, recomputed")
    figure.add_argument("id", help="the figure's id, as under the figure and in the figure index")
    figure.add_argument("--config", default=None, help="report config (default: ./stabreport.yml if present)")
    figure.add_argument("--root", default=".", help="project root holding the cache")
    figure.add_argument("--no-cache", action="store_true", help="recompute every result it needs")
    figure.add_argument("--jobs", type=_whole_number, default=None,
                        help="worker processes (default: all cores)")

    words = commands.add_parser("translations", help="list the config text each language of the "
                                "report lacks a translation of (exit 1 if any)")
    words.add_argument("--config", default=None, help="report config (default: ./stabreport.yml if present)")
    words.add_argument("--root", default=".", help="project root holding locales/")

    commands.add_parser("clean", help="remove generated docs, the built site and the cache").add_argument(
        "--root", default=".", help="project root")
    site = commands.add_parser("site", help="mkdocs build --strict into site/, with the PDF handout "
                               "(site/handout.pdf, printed by Chromium), atomically; skipped when "
                               "docs/ and mkdocs.yml are unchanged")
    site.add_argument("--root", default=".", help="project root")
    site.add_argument("--no-handout", action="store_true",
                      help="leave the PDF handout out (for a machine without Chromium)")
    serve = commands.add_parser("serve", help="build docs/, then preview the site with `mkdocs "
                                "serve`, re-rendering when a template or the config changes")
    serve.add_argument("--root", default=".", help="project root")
    serve.add_argument("--dev-addr", default="127.0.0.1:8000", metavar="IP:PORT",
                       help="where to serve (default 127.0.0.1:8000)")
    return parser


def _add_executor_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--executor", default="local", help="local (default) or dask")
    command.add_argument("--scheduler", default=None,
                         help="Dask scheduler, tcp://HOST:PORT (default: $STABREPORT_SCHEDULER, "
                              "else a LocalCluster)")
    command.add_argument("--jobs", type=_whole_number, default=None,
                         help="local worker processes (default: all cores); results are the same "
                              "for any number")


def _executor(args: argparse.Namespace):
    from .core.executors import make_executor

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs got {args.jobs}; allowed: an integer ≥ 1")
    return make_executor(args.executor, args.jobs, args.scheduler)


def cmd_list(args: argparse.Namespace) -> None:
    if args.templates or args.files:
        from .paths import project_root
        from .project import KINDS, Project

        from .experiments import experiments

        project = Project(project_root(args.root))
        for kind in ("templates",) if args.templates else tuple(KINDS):
            files = project.files(kind)
            for name, path in files.items():
                origin = project.origin(path)
                where = KINDS[kind] / name if origin == "project" else path
                print(f"{kind}/{name}  {origin}  {where}")
            if kind == "templates":  # what plug-in experiments ship, where nothing above has it
                for experiment in experiments():
                    for name in sorted(set(experiment.templates) - set(files)):
                        print(f"templates/{name}  plug-in  {experiment.source}")
        return
    from .experiments import experiments

    for experiment in experiments():
        print(f"{experiment.name} (from {experiment.source}): {experiment.summary}")
        print(f"  runs: default {experiment.default_runs}; theory: "
              + ("yes" if experiment.theory else "none (published as measured only)")
              + "; fast path: " + ("yes" if experiment.tangent else "no")
              + (f"; sweep axes: {', '.join(experiment.sweep_axes)}" if experiment.sweep_axes else ""))
        for p in experiment.params:
            print(f"  {p.name} ({p.type_name}, default {p.default_shown}): {p.help}; allowed: {p.allowed}")
        print("  metrics: " + ", ".join(m.name for m in experiment.metrics))
        print()


def cmd_run(args: argparse.Namespace) -> None:
    from .experiments import get_experiment

    experiment = get_experiment(args.experiment)  # an unknown name costs no numpy
    params = experiment.canonical_params(experiment.parse_overrides(args.set), "--set: ")
    from .core.engine import check_memory, default_jobs, run_setting, validate_run_options

    runs = experiment.default_runs if args.runs is None else args.runs
    validate_run_options(runs, args.seed, "--")
    if args.path == TANGENT and not experiment.has_tangent(params):
        raise ConfigError(f"--path got {TANGENT!r} but {experiment.name} with these parameters has "
                          f"no fast path; allowed: --path {FULL}" +
                          (f" (the fast path needs {experiment.tangent_needs})" if experiment.tangent else ""))
    # Refused before anything runs if it would not fit; a bar with the time left if it is long.
    spectrum = args.path == FULL and experiment.spectrum and args.spectrum
    values = len(experiment.all_metrics) if args.path == FULL else 1
    cost = check_memory(experiment, params, runs, args.path, default_jobs(),
                        per_run_output=64 * values if args.json else 0, spectrum=spectrum)
    bar = None
    if cost.seconds > LONG_ESTIMATE_SECONDS:  # one block can hold every run: a bar would wait
        print(f"{experiment.name}: about {_duration(cost.seconds)} by its declaration's "
              "estimate (Ctrl-C stops it)", file=sys.stderr, flush=True)
    if cost.seconds > LONG_RUN_SECONDS:
        from tqdm import tqdm

        bar = tqdm(total=runs, unit="run", desc=experiment.name, file=sys.stderr, dynamic_ncols=True)
    # With --json, stdout is the JSON object alone: what an experiment's code prints goes to
    # stderr (at the file descriptor, so a print from C or a child process too).
    with _stdout_to_stderr() if args.json else contextlib.nullcontext():
        try:
            result = run_setting(experiment, params, runs, args.seed, path=args.path,
                                 progress=bar.update if bar else None, spectrum=spectrum)
        finally:
            if bar is not None:
                bar.close()
        theory = None
        if args.json and experiment.has_theory(params):
            theory = _theory_json(experiment, params)
        elif args.json and experiment.metric_theory(params):
            theory = {"metrics": {name: prediction.as_json()
                                  for name, prediction in experiment.metric_theory(params).items()}}
    if args.json:
        from .core.results import per_step_quantiles

        payload = result.to_json(experiment) if args.path == FULL else result.to_json()
        if args.per_step:
            payload["per_step"] = per_step_quantiles(result.trajectory)
        payload["theory"] = theory
        print(json.dumps(payload))
        return
    _print_table(experiment, params, args.seed, runs, result)


@contextlib.contextmanager
def _stdout_to_stderr():
    import os

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _theory_json(experiment, params) -> dict:
    """The theory's prediction, memoised in the user's cache: computing it imports scipy and
    inverts characteristic functions (about a second), reading it back takes milliseconds. The
    key hashes the source of the theory's packages, so an edited theory is recomputed."""
    from .core.cache import Store, memo_json
    from .paths import user_cache

    directory = user_cache()
    return memo_json(Store(directory) if directory else None, "run-theory",
                     experiment.theory_modules,
                     {"experiment": experiment.name, "params": dict(params)},
                     lambda: experiment.theory.predict(params).as_json())


def _print_table(experiment, params, seed: int, runs: int, result) -> None:
    import numpy as np

    from .render.formatting import pow10

    print(f"experiment  {experiment.name}")
    print("params      " + " ".join(f"{k}={v}" for k, v in params.items()))
    print(f"seed        {seed}")
    print(f"runs        {runs}" + (f" ({result.dead} died: their matrix ended exactly zero)"
                                     if result.dead else ""))
    print()
    if result.alive == 0:
        print("every run died: there are no statistics of the runs that lived")
        return
    print(f"{'per-run statistic':<26}{'median':>10}{'5 %':>10}{'95 %':>10}")
    for metric in experiment.all_metrics:
        if metric.name not in result.metrics:
            continue
        values = np.asarray(result.metrics[metric.name], dtype=float)
        if metric.kind == "flag":
            print(f"{metric.label:<26}{f'{int(values.sum())} of {len(values)} runs':>30}")
            continue
        values = values[np.isfinite(values)]
        if len(values) == 0:
            print(f"{metric.label:<26}{'— (no run has one)':>30}")
            continue
        q05, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
        print(f"{metric.label:<26}{q50:>10.4g}{q05:>10.4g}{q95:>10.4g}" if metric.kind != "log10"
              else f"{metric.label:<26}{q50:>10.3f}{q05:>10.3f}{q95:>10.3f}")
    summary = getattr(result, "summary", None)
    if summary is not None and result.primary == "log10_mean_abs":
        print()
        print(f"mean over runs of mean |M_ij| (the lecture's statistic): {pow10(summary.log10_of_mean)}"
              f"  (log10 {summary.log10_of_mean:.3f})")


def cmd_sweep(args: argparse.Namespace) -> None:
    from .core.cache import Store
    from .report.model import Sweep
    from .core.engine import validate_run_options
    from .core.executors import Phase, Progress, counted, run_tasks
    from .experiments import get_experiment
    from .paths import CACHE
    from .core.sweeps import cell_theory, parse_grid, summarise, sweep_tasks

    experiment = get_experiment(args.experiment)
    if not args.grid:
        raise ConfigError("--grid is missing; allowed: at least one KEY=START:STOP:N[:log]")
    axes = tuple(parse_grid(experiment, text) for text in args.grid)
    cells = 1
    for axis in axes:
        cells *= len(axis.values)
    if cells > MAX_SWEEP_CELLS:
        raise ConfigError(f"--grid gives {cells:,} cells; allowed: at most {MAX_SWEEP_CELLS:,} per "
                          "sweep (split the grid into several sweeps)")
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--grid names {keys}; allowed: each key once")
    fixed = experiment.parse_overrides(args.set)
    for key in keys:
        if key in fixed:
            raise ConfigError(f"--set {key} and --grid {key}; allowed: one or the other")
    validate_run_options(args.runs, args.seed, "--")
    executor = _executor(args)
    from .paths import project_root

    store = None if args.no_cache else Store(project_root(args.root) / CACHE)
    sweep = Sweep("sweep", "sweep", experiment, fixed, axes, args.runs, args.seed,
                  figure=args.figure, standard_error=args.standard_error)
    sized = sys.stderr if args.standard_error is not None else None
    with Phase(sized, f"sizing {counted(cells, 'cell')} by their theory", cells, "cell",
               "sizing") as phase:
        # validates every cell's parameters before anything runs
        tasks = sweep_tasks(sweep, store, lambda done, total: phase.advance())
    progress = Progress(len(tasks), "cells", sys.stderr, begin=False)
    start = lambda cached: progress.begin(f"running {counted(len(tasks), 'cell')}: {cached:,} "
                                          f"from the cache, {len(tasks) - cached:,} to compute")
    try:
        results = run_tasks(tasks, store, executor, progress, start, sys.stderr)
    finally:
        progress.close()
    cells = [summarise(t, r, cell_theory(experiment, t.params, store)) for t, r in zip(tasks, results)]
    print(f"{len(cells)} cells, {progress.cached} from the cache", file=sys.stderr)
    if args.json:
        print(json.dumps({"experiment": experiment.name, "params": dict(fixed),
                          "axes": {a.key: list(a.values) for a in axes}, "seed": args.seed,
                          "runs": args.runs, "standard_error": args.standard_error,
                          "figure": args.figure, "cells": [c.as_json() for c in cells]}))
        return
    measured = experiment.metric(experiment.sweep_metric).label
    print("  ".join(f"{k:>8}" for k in keys) + f"  {measured + ' median':>26} {'5 %':>9} {'95 %':>9}"
          f" {'gain/step':>10} {'theory':>10} {'runs':>6}")
    for cell in cells:
        theory = f"{cell.theory_gain_per_step:>10.4f}" if cell.theory_gain_per_step is not None else f"{'—':>10}"
        print("  ".join(f"{cell.params[k]:>8}" for k in keys)
              + f"  {cell.median:>26.3f} {cell.q05:>9.3f} {cell.q95:>9.3f}"
                f" {cell.log10_gain_per_step:>10.4f} {theory} {cell.runs:>6}")


def cmd_build(args: argparse.Namespace) -> None:
    from .publish.fingerprint import build_fingerprint, up_to_date
    from .publish.lock import project_lock
    from .paths import GENERATED, PROJECT_FILES, find_config, project_root, recover_project

    executor = _executor(args)
    root = project_root(args.root, PROJECT_FILES)
    config = find_config(root, args.config)
    with project_lock(root):
        # Under the lock: a build killed mid-swap left the old tree aside, and only here is it
        # certain that no other build is between its renames.
        recover_project(root)
        fingerprint = build_fingerprint(root, config, args.strict)  # before the config is read
        if not args.no_cache and up_to_date(root / GENERATED, fingerprint):
            print(f"{GENERATED} is up to date (nothing it depends on changed)", file=sys.stderr)
            return
        # The config and its catalogues first: a mistake in them is one line, and the build says
        # what it builds before scipy and matplotlib load.
        from .core.executors import counted
        from .render import i18n
        from .report.config import load_report

        report = load_report(config)
        for language in report.languages:
            i18n.translations(root, language)
            i18n.report_translations(root, language)
        source = config.name if config is not None else "the default report"
        print(f"building {GENERATED} from {source}: "
              f"{counted(len(report.settings), 'setting')}, {counted(len(report.sweeps), 'sweep')}, "
              f"{counted(len(report.languages), 'edition')} ({', '.join(report.languages)})…",
              file=sys.stderr, flush=True)
        from .publish.build import build_locked  # imported here: scipy and matplotlib load slowly

        build_locked(root=root, config_path=args.config, use_cache=not args.no_cache,
                     strict=args.strict, executor=executor, report=report,
                     fingerprint=fingerprint)


def cmd_translations(args: argparse.Namespace) -> None:
    """Every config text without a translation, per language of the report; exit 1 if any."""
    from .paths import find_config, project_root
    from .publish.build import untranslated_lines
    from .report.config import load_report

    root = project_root(args.root)
    report = load_report(find_config(root, args.config))
    lines = []
    for language in report.languages[1:]:
        missing = untranslated_lines(root, report, [language])
        print(f"{language}: {len(missing)} config text{'s' if len(missing) != 1 else ''} "
              "without a translation", file=sys.stderr)
        lines += missing
    for line in lines:
        print(line)
    if lines:
        raise SystemExit(1)


def cmd_figure(args: argparse.Namespace) -> None:
    from .publish.build import figure_csv

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs got {args.jobs}; allowed: an integer ≥ 1")
    from .paths import project_root

    data = figure_csv(project_root(args.root), args.id, args.config, use_cache=not args.no_cache,
                      jobs=args.jobs)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def cmd_site(args: argparse.Namespace) -> None:
    from .publish.site import build_site

    build_site(Path(args.root), handout=not args.no_handout)


def cmd_new(args: argparse.Namespace) -> None:
    from .project import new_project

    created = new_project(Path(args.directory), from_default=args.from_default)
    print(f"created {created}: cd {created} && stabreport build && stabreport site", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> None:
    import os
    import subprocess

    from .paths import PROJECT_FILES, project_root
    from .project import Project
    from .publish.build import build_report

    root = project_root(args.root, PROJECT_FILES)
    build_report(root=root)
    config = Project(root).write_mkdocs_config()
    done = subprocess.run([sys.executable, "-m", "mkdocs", "serve", "--config-file", config.name,
                           "--dev-addr", args.dev_addr], cwd=root,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    if done.returncode:
        raise StabreportError(f"mkdocs serve stopped with exit code {done.returncode}")


def cmd_clean(args: argparse.Namespace) -> None:
    from .publish.build import clean
    from .paths import PROJECT_FILES, project_root

    clean(project_root(args.root, PROJECT_FILES))


COMMANDS = {"list": cmd_list, "new": cmd_new, "run": cmd_run, "build": cmd_build,
            "sweep": cmd_sweep, "figure": cmd_figure, "site": cmd_site, "serve": cmd_serve,
            "clean": cmd_clean, "translations": cmd_translations}


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"stabreport: warning: {message}", file=file or sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    warnings.showwarning = _one_line_warning  # a warning is a line for the user, not a source line
    try:
        args = build_parser().parse_args(argv)
        COMMANDS[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C: the workers are already stopped (see executors)
        print("stabreport: interrupted; the previous output was kept", file=sys.stderr)
        return 130
    except StabreportError as error:
        print(f"stabreport: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a full disk, a read-only folder: the path and the cause
        where = f"{error.filename}: " if error.filename else ""
        print(f"stabreport: error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except MemoryError:
        print("stabreport: error: out of memory; allowed: fewer runs, or a smaller width",
              file=sys.stderr)
        return 1
    return 0


def entry() -> None:
    """The `stabreport` command: main(), then out. After Ctrl-C or a time limit, a thread may
    still be inside an experiment's code that never returns; the interpreter would wait for it
    at exit, so the process ends here once its output is flushed."""
    import os
    import threading

    code = main()
    waiting = [thread for thread in threading.enumerate()
               if thread is not threading.main_thread() and not thread.daemon]
    for thread in waiting:
        thread.join(timeout=1.0)
    if any(thread.is_alive() for thread in waiting):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
