"""The command line: a thin layer over the library that maps errors to exit codes."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__
from .engine import run_setting, validate_run_options
from .errors import ConfigError, StabreportError
from .experiments import EXPERIMENTS, METRIC_LABELS, METRICS, get_experiment
from .fingerprint import build_fingerprint, up_to_date
from .formatting import pow10
from .paths import GENERATED, find_config, recover


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _non_negative_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an integer") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stabreport", description=__doc__)
    parser.add_argument("--version", action="version", version=f"stabreport {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="every experiment and its parameters")

    run = commands.add_parser("run", help="run one setting and print its results")
    run.add_argument("experiment", help="one of " + ", ".join(EXPERIMENTS))
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter (repeatable)")
    run.add_argument("--runs", type=_non_negative_int, help="independent runs (default: per experiment)")
    run.add_argument("--seed", type=_non_negative_int, default=0, help="integer seed (default 0)")
    run.add_argument("--json", action="store_true", help="print exactly one JSON object")

    sweep = commands.add_parser("sweep", help="run a grid of settings (cells) locally or on Dask")
    sweep.add_argument("experiment", help="one of " + ", ".join(EXPERIMENTS))
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=START:STOP:N[:log]",
                       help="an axis of the grid (repeatable); KEY=V1,V2,… lists values")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="fix a parameter for every cell (repeatable)")
    sweep.add_argument("--runs", type=_non_negative_int, default=200, help="runs per cell (default 200)")
    sweep.add_argument("--seed", type=_non_negative_int, default=0, help="integer seed (default 0)")
    sweep.add_argument("--json", action="store_true", help="print exactly one JSON object")
    sweep.add_argument("--executor", default="local", help="local (default) or dask")
    sweep.add_argument("--scheduler", default=None,
                       help="Dask scheduler, tcp://HOST:PORT (default: $STABREPORT_SCHEDULER, "
                            "else a LocalCluster)")
    sweep.add_argument("--jobs", type=_non_negative_int, default=None,
                       help="local worker processes (default: all cores)")
    sweep.add_argument("--no-cache", action="store_true", help="recompute every cell")
    sweep.add_argument("--root", default=".", help="project root holding the cache")

    _add_build_commands(commands)
    return parser


def _add_build_commands(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="run every setting of the report and render docs/")
    build.add_argument("--config", default=None, help="report config (default: ./stabreport.yml if present)")
    build.add_argument("--root", default=".", help="project root holding templates/ and docs/")
    build.add_argument("--no-cache", action="store_true", help="recompute every setting")
    build.add_argument("--strict", action="store_true", help="fail when a claim of the site does not hold")
    build.add_argument("--jobs", type=_non_negative_int, default=None,
                       help="worker processes (default: all cores); results are the same for any N")
    commands.add_parser("clean", help="remove generated docs, the built site and the cache").add_argument(
        "--root", default=".", help="project root")
    commands.add_parser("site", help="mkdocs build --strict into site/, atomically; skipped when "
                        "docs/ and mkdocs.yml are unchanged").add_argument(
        "--root", default=".", help="project root")


def cmd_list() -> None:
    for experiment in EXPERIMENTS.values():
        print(f"{experiment.name}: {experiment.summary}")
        print(f"  runs: default {experiment.default_runs}")
        for p in experiment.params:
            print(f"  {p.name} ({p.type_name}, default {p.default!r}): {p.help}; allowed: {p.allowed}")
        print()


def cmd_run(args: argparse.Namespace) -> None:
    experiment = get_experiment(args.experiment)
    params = experiment.canonical_params(experiment.parse_overrides(args.set), "--set: ")
    runs = experiment.default_runs if args.runs is None else args.runs
    validate_run_options(runs, args.seed, "--")
    result = run_setting(experiment, params, runs, args.seed)
    if args.json:
        from .theory import predict  # imported here: scipy is needed only for this

        payload = result.to_json()
        payload["theory"] = predict(experiment, params).as_json()
        print(json.dumps(payload))
        return
    summary = result.summary
    print(f"experiment  {experiment.name}")
    print("params      " + " ".join(f"{k}={v}" for k, v in params.items()))
    print(f"seed        {args.seed}")
    print(f"runs        {runs}")
    print()
    print(f"{'per-run statistic':<26}{'median':>10}{'5 %':>10}{'95 %':>10}")
    for name in METRICS:
        q05, q50, q95 = np.quantile(result.metrics[name], [0.05, 0.5, 0.95])
        print(f"{METRIC_LABELS[name]:<26}{q50:>10.3f}{q05:>10.3f}{q95:>10.3f}")
    print()
    print(f"mean over runs of mean |M_ij| (the lecture's statistic): {pow10(summary.log10_of_mean)}"
          f"  (log10 {summary.log10_of_mean:.3f})")


def cmd_sweep(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from .engine import ResultCache, default_jobs
    from .paths import CACHE
    from .sweeps import Sweep, parse_grid, run_sweep_tasks, summarise

    experiment = get_experiment(args.experiment)
    if not args.grid:
        raise ConfigError("--grid is missing; allowed: at least one KEY=START:STOP:N[:log]")
    axes = tuple(parse_grid(experiment, text) for text in args.grid)
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--grid names {keys}; allowed: each key once")
    fixed = experiment.parse_overrides(args.set)
    for key in keys:
        if key in fixed:
            raise ConfigError(f"--set {key} and --grid {key}; allowed: one or the other")
    validate_run_options(args.runs, args.seed, "--")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs got {args.jobs}; allowed: an integer ≥ 1")
    sweep = Sweep("sweep", "sweep", experiment, fixed, axes, args.runs, args.seed)
    tasks = sweep.tasks()  # validates every cell's parameters before anything runs
    cache = None if args.no_cache else ResultCache(Path(args.root) / CACHE)
    bar = tqdm(total=len(tasks), desc="cells", unit="cell", file=sys.stderr,
               disable=not sys.stderr.isatty())
    counts = {"cached": 0}

    def progress(task, result) -> None:
        counts["cached"] += result.cached
        bar.update()
        bar.set_postfix_str(f"{counts['cached']} cached")

    results = run_sweep_tasks(tasks, cache, args.executor, args.jobs or default_jobs(),
                              args.scheduler, progress)
    bar.close()
    cells = [summarise(t, r) for t, r in zip(tasks, results)]
    print(f"{len(cells)} cells, {counts['cached']} from the cache", file=sys.stderr)
    if args.json:
        print(json.dumps({"experiment": experiment.name, "params": dict(fixed),
                          "axes": {a.key: list(a.values) for a in axes}, "seed": args.seed,
                          "runs": args.runs, "cells": [c.as_json() for c in cells]}))
        return
    measured = "log10 mean|Y|" if experiment.name == "products" else "log10 ‖J u‖"
    print("  ".join(f"{k:>8}" for k in keys) + f"  {measured + ' median':>20} {'5 %':>9} {'95 %':>9}"
          f" {'gain/step':>10} {'theory':>10}")
    for cell in cells:
        print("  ".join(f"{cell.params[k]:>8}" for k in keys)
              + f"  {cell.median:>20.3f} {cell.q05:>9.3f} {cell.q95:>9.3f}"
                f" {cell.log10_gain_per_step:>10.4f} {cell.theory_gain_per_step:>10.4f}")


def cmd_build(args: argparse.Namespace) -> None:
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs got {args.jobs}; allowed: an integer ≥ 1")
    root = Path(args.root)
    config = find_config(root, args.config)
    if config is not None and not config.is_file():
        raise ConfigError(f"--config got {args.config!r}; allowed: an existing file")
    recover(root / GENERATED)  # a build killed mid-swap left the old tree aside: restore it
    if not args.no_cache and up_to_date(root / GENERATED, build_fingerprint(root, config, args.strict)):
        print(f"{GENERATED} is up to date (nothing it depends on changed)", file=sys.stderr)
        return
    from .build import (
        build_report,  # imported here: numpy, scipy, matplotlib load slowly
    )

    build_report(root=root, config_path=args.config, use_cache=not args.no_cache,
                 strict=args.strict, jobs=args.jobs)


def cmd_site(args: argparse.Namespace) -> None:
    from .site import build_site

    build_site(Path(args.root))


def cmd_clean(args: argparse.Namespace) -> None:
    from .build import clean

    clean(args.root)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        {"list": lambda: cmd_list(), "run": lambda: cmd_run(args), "build": lambda: cmd_build(args),
         "sweep": lambda: cmd_sweep(args),
         "site": lambda: cmd_site(args), "clean": lambda: cmd_clean(args)}[args.command]()
    except StabreportError as error:
        print(f"stabreport: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0
