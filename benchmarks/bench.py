"""stabreport's speed and memory, as ratios against baselines measured in the same run.

    make bench            # or: python benchmarks/bench.py [--quick] [--json PATH]

Prints one table and writes benchmarks/results/bench.json. Every target is a ratio, so the
numbers mean the same on a slower or faster machine; the core count is recorded with them.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from stabreport.core.engine import default_jobs, simulate_norms, simulate_setting
from stabreport.experiments import get_experiment
from stabreport.experiments.nn import ACTIVATIONS

ROOT = Path(__file__).resolve().parents[1]
PRODUCTS, MLP = get_experiment("products"), get_experiment("mlp")


@dataclass
class Row:
    name: str
    value: float
    unit: str
    target: str
    met: bool | None  # None: reported, no target
    detail: str


def best_time(run: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


# --- baselines: the lecture's own way, one run at a time ------------------------------------------

def lecture_products(k: int, factors: int, scale: float, runs: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(runs)
    for run in range(runs):
        y = np.eye(k)
        for _ in range(factors):
            y = rng.normal(0, scale, (k, k)) @ y
        out[run] = np.log10(np.abs(y).mean())
    return out


def lecture_mlp(width: int, depth: int, scale: float, runs: int, seed: int) -> np.ndarray:
    """The lecture's loop (ReLU): the full Jacobian per network; returns log10 ‖J e₁‖."""
    act = ACTIVATIONS["relu"]
    rng = np.random.default_rng(seed)
    out = np.empty(runs)
    for run in range(runs):
        h, jac = rng.standard_normal(width), np.eye(width)
        for _ in range(depth):
            w = rng.normal(0, scale, (width, width))
            z = w @ h
            jac = np.diag(act.derivative(z)) @ w @ jac
            h = act.fn(z)
        out[run] = np.log10(np.linalg.norm(jac[:, 0]))
    return out


# --- the machine's own rates ----------------------------------------------------------------------

def normal_rate() -> float:
    """Normals per second from Generator.standard_normal filling one large array."""
    rng = np.random.Generator(np.random.SFC64(0))
    out = np.empty(20_000_000)
    rng.standard_normal(out=out)
    return out.size / best_time(lambda: rng.standard_normal(out=out))


def gemm_rate() -> float:
    """Flops per second of np.matmul on one large square GEMM (all cores, as BLAS runs it)."""
    n = 2000
    a = np.random.default_rng(0).standard_normal((n, n))
    a @ a
    return 2 * n**3 / best_time(lambda: a @ a)


# --- the five benchmarks --------------------------------------------------------------------------

def engine_against_loop(quick: bool) -> list[Row]:
    rows = []
    runs = 500 if quick else 2000
    params = PRODUCTS.canonical_params({"k": 4, "factors": 100, "scale": 0.5})
    loop = best_time(lambda: lecture_products(4, 100, 0.5, runs, 1), 1)
    engine = best_time(lambda: simulate_setting(PRODUCTS, params, runs, 1))
    rows.append(Row("1a products k=4, engine vs per-run loop", loop / engine, "×", "≥ 20×",
                    loop / engine >= 20, f"{runs} runs: loop {loop:.2f} s, engine {engine:.3f} s"))
    nets = 40 if quick else 200
    params = MLP.canonical_params({"scale": 0.2})
    loop = best_time(lambda: lecture_mlp(100, 50, 0.2, nets, 1), 1)
    tangent = best_time(lambda: simulate_norms(MLP, params, nets, 1))
    rows.append(Row("1b gradient norms, width 100: tangent path vs loop", loop / tangent, "×",
                    "≥ 20×", loop / tangent >= 20,
                    f"{nets} networks × 50 layers: loop {loop:.2f} s, tangent {tangent:.3f} s"))
    full = best_time(lambda: simulate_setting(MLP, params, nets, 1), 1)
    rows.append(Row("1c full Jacobian, width 100: engine vs loop", loop / full, "×", "report",
                    None, f"{nets} networks: loop {loop:.2f} s, engine {full:.2f} s"))
    return rows


LECTURE_SCRIPT = """
import json, sys
import numpy as np
runs = int(sys.argv[1])
rng = np.random.default_rng(1)
out = []
for run in range(runs):
    y = np.eye(4)
    for _ in range(100):
        y = rng.normal(0, 0.5, (4, 4)) @ y
    out.append(float(np.log10(np.abs(y).mean())))
print(json.dumps(out))
"""


def process_time(argv: list[str], repeat: int = 3, env: dict | None = None, code: int = 0) -> float:
    """Best wall time of a whole process, start-up included (which must exit with `code`)."""
    def run() -> None:
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        if done.returncode != code:
            raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return best_time(run, repeat)


def whole_process(quick: bool) -> list[Row]:
    """`stabreport run` as a user runs it, against the lecture's loop as a script: both whole
    processes, start-up included; the theory read back from the user cache as on any run after
    the first (the first one's time is reported beside it)."""
    runs = 4000 if quick else 20000
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "STABREPORT_USER_CACHE": cache}
        argv = [str(bin_dir / "stabreport"), "run", "products", "--set", "k=4", "--set", "scale=0.5",
                "--runs", str(runs), "--json"]
        first = process_time(argv, 1, env)
        engine = process_time(argv, 3, env)
    loop = process_time([sys.executable, "-c", LECTURE_SCRIPT, str(runs)], 1)
    return [Row("1d products k=4, whole process vs lecture loop script", loop / engine, "×", "≥ 15×",
                loop / engine >= 15,
                f"{runs} runs: loop {loop:.2f} s, stabreport run --json {engine:.2f} s "
                f"(the very first run, theory not yet in the user cache: {first:.2f} s)")]


def command_line_latency() -> list[Row]:
    """Start-up: stabreport's commands against `python -c "import numpy"` in this environment."""
    bin_dir = Path(sys.executable).parent
    numpy_time = process_time([sys.executable, "-c", "import numpy"], 7)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "STABREPORT_USER_CACHE": cache}
        run = [str(bin_dir / "stabreport"), "run", "products", "--runs", "10", "--json"]
        first = process_time(run, 1, env)
        for name, argv, target in (
                ("7a stabreport run products --runs 10 --json", run, 2.5),
                ("7b stabreport list", [str(bin_dir / "stabreport"), "list"], 1.5),
                ("7c stabreport --help", [str(bin_dir / "stabreport"), "--help"], None),
                ("7d stabreport run with a bad argument", [str(bin_dir / "stabreport"), "run", "nope"],
                 None)):
            took = process_time(argv, 7, env, code=2 if "nope" in argv else 0)
            detail = f"{took * 1000:.0f} ms against import numpy {numpy_time * 1000:.0f} ms"
            if argv is run:
                detail += (f"; theory read back from the user cache (the first run, computing it "
                           f"with scipy: {first * 1000:.0f} ms, {first / numpy_time:.1f}×)")
            rows.append(Row(name, took / numpy_time, "× import numpy",
                            f"≤ {target}×" if target else "report",
                            took / numpy_time <= target if target else None, detail))
    return rows


def full_path_against_bound(normals_per_s: float, flops_per_s: float, quick: bool) -> list[Row]:
    runs, k, depth = (200 if quick else 800), 100, 50
    params = MLP.canonical_params({"scale": 0.2})
    took = best_time(lambda: simulate_setting(MLP, params, runs, 1), 1)
    normals = runs * (depth * k * k + k)
    flops = runs * (depth - 1) * 2 * k**3
    bound = normals / normals_per_s + flops / flops_per_s
    return [Row("2 full Jacobian vs machine bound (draws + GEMM)", took / bound, "× bound", "≤ 1.5×",
                took / bound <= 1.5,
                f"{runs} networks, width 100, depth 50: {took:.2f} s; bound {bound:.2f} s = "
                f"{normals / 1e6:.0f} M normals at {normals_per_s / 1e6:.0f} M/s + "
                f"{flops / 1e9:.0f} GFlop at {flops_per_s / 1e9:.0f} GFlop/s")]


def tangent_path(normals_per_s: float, quick: bool) -> list[Row]:
    rows = []
    runs, width, depth = (2000 if quick else 20000), 100, 50
    params = MLP.canonical_params({"scale": 0.2})
    took = best_time(lambda: simulate_norms(MLP, params, runs, 1), 2)
    consumed = runs * (depth * 2 * width + width) / took
    rows.append(Row("3a tangent path: normals consumed vs standard_normal fill",
                    consumed / normals_per_s, "of fill rate", "≥ 50 %",
                    consumed / normals_per_s >= 0.5,
                    f"{consumed / 1e6:.0f} M/s against {normals_per_s / 1e6:.0f} M/s "
                    f"({runs} networks, width 100, depth 50)"))
    for width, depth, nets in ((100, 50, 100), (1000, 10, 4), (4000, 3, 1)):
        params = MLP.canonical_params({"width": width, "depth": depth, "init": "he_normal"})
        full = best_time(lambda: simulate_setting(MLP, params, nets, 1), 1)
        tangent = best_time(lambda: simulate_norms(MLP, params, nets, 1), 3)
        rows.append(Row(f"3b tangent vs full path, width {width}", full / tangent, "× faster",
                        "report", None,
                        f"{nets} networks × {depth} layers: full {full:.3f} s, tangent {tangent:.4f} s"))
    return rows


def fresh_project(source: Path, project: Path) -> Path:
    """What a site build of `source` reads beside its installed package, with no generated
    output and no cache: its mkdocs.yml (the templates, assets and catalogues are package data),
    and at commits from before they were, its templates, hand-written docs and catalogues."""
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "mkdocs.yml", project / "mkdocs.yml")
    if not (source / "templates" / "__init__.py").exists():
        shutil.copytree(source / "templates", project / "templates")
        shutil.copytree(source / "docs", project / "docs", ignore=shutil.ignore_patterns("generated"))
        if (source / "locales").is_dir():
            shutil.copytree(source / "locales", project / "locales")
    return project


def docs_build_times() -> list[Row]:
    """`make docs`' two commands (stabreport build --strict; stabreport site) on a fresh copy:
    cold, warm, and after a template-only edit."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        project = fresh_project(ROOT, Path(tmp))

        def make_docs() -> float:
            started = time.perf_counter()
            for command in (["stabreport", "build", "--strict"], ["stabreport", "site"]):
                subprocess.run([str(bin_dir / command[0]), *command[1:]], cwd=project, env=env,
                               check=True, capture_output=True)
            return time.perf_counter() - started

        cold = make_docs()
        warm = make_docs()
        template = project / "templates" / "index.md.j2"  # the project's own copy, edited
        if not template.exists():
            template.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / "templates" / "index.md.j2", template)
        template.write_text(template.read_text() + "\nOne more sentence from a template edit.\n")
        edited = make_docs()
    return [
        Row("4a make docs, warm (nothing changed) vs cold", warm / cold, "of cold", "≤ 10 %",
            warm / cold <= 0.10, f"cold {cold:.1f} s, warm {warm:.1f} s (at 9da313f: 0.7 %)"),
        Row("4b make docs, template-only edit vs cold", edited / cold, "of cold", "≤ 10 %",
            edited / cold <= 0.10, f"cold {cold:.1f} s, after editing a template {edited:.1f} s "
            "(at 9da313f: 8.6 %)"),
    ]


BASELINE_COMMIT = "9da313f2d0e16185645741a34b1548bf7ea41489"  # issue 13 was filed against it
BASELINE = ROOT / ".bench-baseline"  # a git worktree of it, with its own environment


def baseline_bin() -> Path:
    """The baseline commit's `stabreport`, set up once (a worktree and a virtual environment)."""
    if not (BASELINE / ".venv" / "bin" / "stabreport").exists():
        if not (BASELINE / ".git").exists():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(BASELINE),
                            BASELINE_COMMIT], check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "venv", str(BASELINE / ".venv")], check=True)
        subprocess.run([str(BASELINE / ".venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-e", str(BASELINE)], check=True)
    return BASELINE / ".venv" / "bin"


def cold_build(bin_dir: Path, source: Path) -> float:
    """`stabreport build --no-cache` and `stabreport site` on a fresh copy of `source`'s report."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        project = fresh_project(source, Path(tmp))
        started = time.perf_counter()
        for command in (["build", "--no-cache"], ["site"]):
            subprocess.run([str(bin_dir / "stabreport"), *command], cwd=project, env=env, check=True,
                           capture_output=True)
        return time.perf_counter() - started


def cold_against_baseline() -> list[Row]:
    old = baseline_bin()
    before = cold_build(old, BASELINE)
    after = cold_build(Path(sys.executable).parent, ROOT)
    return [Row("6 cold build (build --no-cache + site) vs commit 9da313f", after / before,
                "of baseline", "≤ 35 %", after / before <= 0.35,
                f"this commit {after:.1f} s, 9da313f {before:.1f} s, back to back; this commit's "
                "report has more pages, settings and sweeps")]


PEAK_SCRIPT = """
import sys
from stabreport.core.engine import simulate_norms, simulate_setting
from stabreport.experiments import get_experiment
kind, runs = sys.argv[1], int(sys.argv[2])
products, mlp = get_experiment("products"), get_experiment("mlp")
if kind == "products":
    simulate_setting(products, products.canonical_params({}), runs, 1)
elif kind == "mlp-tangent":
    simulate_norms(mlp, mlp.canonical_params({"scale": 0.2}), runs, 1)
else:
    simulate_setting(mlp, mlp.canonical_params({"scale": 0.2}), runs, 1)
# VmHWM is this process's own peak; ru_maxrss would include the parent's, inherited at fork.
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def peak_memory(quick: bool) -> list[Row]:
    def peak(kind: str, runs: int) -> float:
        out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, kind, str(runs)], check=True,
                             capture_output=True, text=True).stdout
        return int(out.split()[-1]) / 1024  # KiB → MiB

    baseline = peak("products", 1)
    rows = []
    for kind, runs in (("products", 100_000), ("mlp-tangent", 100_000),
                       ("mlp-full", 1_000 if quick else 4_000)):
        mib = peak(kind, runs)
        rows.append(Row(f"5 peak memory, {kind}, {runs:,} runs", mib, "MiB", "< 1536 MiB",
                        mib < 1536, f"process floor (1 run) {baseline:.0f} MiB"))
    return rows


def sweeps(quick: bool) -> list[Row]:
    """Cells per second on local processes and on a two-worker LocalCluster (same cells, fresh
    each time), the cost of the default phase diagrams, and the cost per task that sizes a
    cluster for a large sweep."""
    from dask.distributed import LocalCluster

    from stabreport.report.config import Sweep, load_report
    from stabreport.core.engine import Task
    from stabreport.core.executors import DaskExecutor, LocalExecutor, run_tasks
    from stabreport.core.sweeps import parse_grid, sweep_tasks

    sweep = Sweep("bench", "bench", MLP, {"depth": 50},
                  (parse_grid(MLP, f"scale=0.05:1:{8 if quick else 24}:log"),
                   parse_grid(MLP, "width=64,256")), 200, 1)
    tasks = sweep_tasks(sweep)
    local = best_time(lambda: run_tasks(tasks, executor=LocalExecutor()), 1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        dask = DaskExecutor(cluster.scheduler_address)
        run_tasks(tasks[:2], executor=dask)  # workers warm
        on_dask = best_time(lambda: run_tasks(tasks, executor=dask), 1)
    rows = [Row("8a sweep cells/s, local processes", len(tasks) / local, "cells/s", "report", None,
                f"{len(tasks)} cells × 200 networks, width 64–256, depth 50: {local:.2f} s"),
            Row("8b sweep cells/s, LocalCluster (2 workers)", len(tasks) / on_dask, "cells/s",
                "report", None, f"same cells: {on_dask:.2f} s ({local / on_dask:.2f}× local's rate)")]
    report = load_report()
    default = [t for s in report.sweeps for t in sweep_tasks(s)]
    started = time.perf_counter()
    run_tasks(default, executor=LocalExecutor())
    phase = time.perf_counter() - started
    rows.append(Row("8c default phase-diagram sweeps, cold", phase, "s",
                    "within cold build", None,
                    f"{len(default)} cells on {default_jobs()} cores (the figures and page: seconds more)"))
    # One cell of the large sweep the README sizes: width 4096, depth 1000; time a slice of it.
    probe_runs, probe_depth = 20, 50
    probe = Task("tangent", "mlp", MLP.canonical_params({"width": 4096, "depth": probe_depth,
                                                         "scale": 0.02}), probe_runs, 1, "probe")
    took = best_time(lambda: run_tasks([probe], executor=LocalExecutor(1)), 1)
    per_cell = took * (10_000 / probe_runs) * (1000 / probe_depth)
    cells_large = 64 * 5
    workers = math.ceil(cells_large * per_cell / 600)
    rows.append(Row("8d cost of one 4096-wide, 1000-deep, 10,000-run cell (one core)", per_cell, "s",
                    "report", None,
                    f"from {probe_runs} networks × {probe_depth} layers in {took:.2f} s; a 64-scale × "
                    f"5-width grid ({cells_large} cells) needs about {workers} single-core workers "
                    "for ten minutes"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bench.json"))
    args = parser.parse_args()
    normals_per_s, flops_per_s = normal_rate(), gemm_rate()
    rows = [*engine_against_loop(args.quick), *whole_process(args.quick),
            *full_path_against_bound(normals_per_s, flops_per_s, args.quick),
            *tangent_path(normals_per_s, args.quick), *docs_build_times(),
            *([] if args.quick else cold_against_baseline()), *command_line_latency(),
            *peak_memory(args.quick), *sweeps(args.quick)]
    machine = {"cores": default_jobs(), "python": platform.python_version(), "numpy": np.__version__,
               "normals_per_s": normals_per_s, "gemm_flops_per_s": flops_per_s}
    print(f"stabreport benchmarks on {machine['cores']} cores "
          f"(standard_normal {normals_per_s / 1e6:.0f} M/s, GEMM {flops_per_s / 1e9:.0f} GFlop/s)")
    print(f"{'benchmark':<52} {'value':>10}  {'unit':<14} {'target':<10} met")
    for row in rows:
        value = f"{row.value:.0%}" if row.unit.startswith("of") else f"{row.value:.3g}"
        met = "—" if row.met is None else ("yes" if row.met else "NO")
        print(f"{row.name:<52} {value:>10}  {row.unit:<14} {row.target:<10} {met}")
        print(f"    {row.detail}")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine, "rows": [asdict(r) for r in rows]}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
