"""Turning a declaration and parameters into results: seeding, batching into blocks, and tasks.

Seeding: one integer seed, expanded with SeedSequence. A setting's stream is keyed by a hash of
its identity (experiment, canonical parameters and path), and each block of runs gets its own
child stream. Block sizes depend on the parameters only, so a setting's numbers never depend on
which other settings run, in what order, in how many processes, or how memory is chunked.

Two paths compute a setting:
- "full": the experiment's `simulate`, which forms every matrix (mean |M_ij| and the norms);
- "tangent": its fast path, only the column length ‖M u‖ after every step.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from .cache import Store, canonical_json, content_key
from ..errors import ComputeError, ConfigError, StabreportError
from ..experiments import Experiment, Simulation, get_experiment
from .results import FULL, PATHS, TANGENT, NormResult, Result  # noqa: F401 (re-exported)

TANGENT_BLOCK = 2048  # runs per random stream on the tangent path


def setting_key(experiment: Experiment, params: Mapping[str, Any], path: str = FULL) -> tuple[int, ...]:
    """Four 32-bit words identifying (experiment, params, path): the SeedSequence spawn key."""
    identity: dict[str, Any] = {"experiment": experiment.name, "params": dict(params)}
    if path != FULL:  # the full path's key predates the others: keep its numbers
        identity["path"] = path
    digest = hashlib.sha256(canonical_json(identity).encode()).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def block_generator(seed: int, key: tuple[int, ...], block: int) -> np.random.Generator:
    # SFC64 draws normals about three times faster than PCG64 here, with the same distribution.
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed, spawn_key=(*key, block))))


def validate_run_options(runs: Any, seed: Any, where: str = "") -> None:
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ConfigError(f"{where}runs got {runs!r}; allowed: an integer ≥ 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{where}seed got {seed!r}; allowed: an integer ≥ 0")


def _blocks(runs: int, size: int) -> list[tuple[int, int]]:
    return [(index, min(size, runs - start)) for index, start in enumerate(range(0, runs, size))]


def _map_blocks(compute: Callable[[int, int], Any], blocks: list[tuple[int, int]],
                threads: int, progress: Callable[[int], None] | None = None) -> list[Any]:
    """compute(index, size) for every block, in block order. numpy releases the GIL while it
    draws, multiplies and maps arrays, so blocks on separate threads run on separate cores.
    `progress(runs)` is called as each block finishes."""
    def guarded(block: tuple[int, int]) -> Any:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            out = compute(*block)
        if progress is not None:
            progress(block[1])
        return out

    # One BLAS thread, always: the blocks are the parallelism, and a float32 GEMM's rounding
    # depends on how many threads OpenBLAS splits it over (float64's happens not to), so the
    # same seed would otherwise give other bytes in a worker process than in this one.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if threads <= 1 or len(blocks) <= 1:
            return [guarded(block) for block in blocks]
        pool = ThreadPoolExecutor(max_workers=min(threads, len(blocks)))
        try:
            return list(pool.map(guarded, blocks))
        finally:
            # Not `with`: on Ctrl-C or a time limit, waiting for a block that never returns
            # would hang here; the command line ends the process instead (see cli.entry).
            pool.shutdown(wait=False, cancel_futures=True)


# --- what a setting will cost, known before it runs -------------------------------------------------

NORMALS_PER_SECOND = 1.0e8  # per core, conservative rates for estimates of time (make bench
FLOPS_PER_SECOND = 1.0e10  # measures this machine's)
# What one step of one block costs whatever its size: numpy's calls and the loop around them
# (about 90 µs per step of the MLP's full path, 70 µs of its fast path, 20 µs of a product
# of 2×2 matrices, measured with depth 100,000 and width 2). It is what a deep, narrow
# network's time is made of: 10⁸ layers of width 2 take hours, not seconds.
STEP_SECONDS = 1.0e-4
MEMORY_SHARE = 0.8  # of the memory available, at most this much for one computation


@dataclass(frozen=True)
class Estimate:
    normals: int  # random numbers drawn
    flops: int  # matrix products: 2k³ per step and run on the full path
    bytes: int  # peak memory: blocks in flight plus the results kept
    block_steps: int = 0  # steps times blocks: the fixed cost of every step of every block

    @property
    def seconds(self) -> float:
        return (self.normals / NORMALS_PER_SECOND + self.flops / FLOPS_PER_SECOND
                + self.block_steps * STEP_SECONDS)


def estimate(experiment: Experiment, params: Mapping[str, Any], runs: int, path: str,
             threads: int = 1, per_run_output: int = 0, spectrum: bool = False) -> Estimate:
    """Work and memory of one setting on one path, from the declaration alone. `per_run_output`
    adds bytes per run kept by the caller (for instance a JSON list of every run); the spectrum
    costs at most a k×k product and a QR factorisation (about 15 products' time) per step."""
    steps = experiment.steps(params)
    block = experiment.block_runs(params) if path == FULL else TANGENT_BLOCK
    in_flight = min(threads, -(-runs // block)) * experiment.working_bytes(params, min(block, runs), path)
    per_run = ((steps + 1) * 4 + 8 * len(experiment.metrics)) if path == FULL else (steps + 1) * 8
    # Each block's results, then their concatenation: twice what is kept.
    kept = runs * (2 * per_run + per_run_output)
    flops = (1 + 16 * spectrum) * experiment.flops(params, runs) if path == FULL else 0
    return Estimate(experiment.normals(params, runs, path), flops, in_flight + kept,
                    steps * -(-runs // block))


def available_memory() -> int | None:
    """Bytes this process may still use: the kernel's MemAvailable, or a cgroup limit if lower."""
    limits = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, open("/sys/fs/cgroup/memory.current") as used:
            text = limit.read().strip()
            if text != "max":
                limits.append(int(text) - int(used.read().strip()))
    except (OSError, ValueError):
        pass
    return min(limits) if limits else None


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_memory(experiment: Experiment, params: Mapping[str, Any], runs: int, path: str,
                 threads: int = 1, per_run_output: int = 0, label: str | None = None,
                 spectrum: bool = False) -> Estimate:
    """The estimate, or a refusal in one line when it would not fit in memory."""
    cost = estimate(experiment, params, runs, path, threads, per_run_output, spectrum)
    free = available_memory()
    if free is not None and cost.bytes > MEMORY_SHARE * free:
        raise ConfigError(f"{_label(experiment, params, label)}, {runs:,} runs on the {path} path, "
                          f"needs about {_size(cost.bytes)} of memory; allowed: at most "
                          f"{_size(MEMORY_SHARE * free)} here ({MEMORY_SHARE:.0%} of what is free): "
                          "fewer runs or a smaller width")
    return cost


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _label(experiment: Experiment, params: Mapping[str, Any], name: str | None) -> str:
    return name or f"{experiment.name} {canonical_json(dict(params))}"


# --- what an experiment returns, checked before it is counted, cached or published --------------

def _who(experiment: Experiment, name: str | None, params: Mapping[str, Any]) -> str:
    origin = "" if experiment.source == "stabreport" else f" (from {experiment.source})"
    return f"experiment {experiment.name}{origin}, setting {_label(experiment, params, name)}"


def _called(function: Callable[..., Any], experiment: Experiment, params: Mapping[str, Any],
            name: str | None, what: str) -> Callable[..., Any]:
    """`function` (an experiment's simulate or fast path), whose exceptions become one line
    naming the experiment and the setting. Errors meant for the user pass as they are."""
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (StabreportError, MemoryError):
            raise
        except Exception as error:  # noqa: BLE001 (any fault of a plug-in's code)
            raise ComputeError(f"{_who(experiment, name, params)}: its {what} raised "
                               f"{type(error).__name__}: {error}") from error
    return call


def _bad_values(array: np.ndarray, rows: np.ndarray) -> str | None:
    """What is wrong with the values of the runs `rows` (those that lived): NaN or +inf."""
    values = array[rows]
    per_run = tuple(range(1, values.ndim))
    for what, test in (("NaN", np.isnan), ("+inf", np.isposinf)):
        bad = test(values)
        if bad.any():
            return f"{what} in {int(bad.any(axis=per_run).sum())} run(s)"
    return None


def _checked_array(value: Any, shape: tuple[int, ...], what: str, who: str) -> np.ndarray:
    array = np.asarray(value)  # its own dtype: a float32 trajectory stays float32
    if array.dtype.kind not in "fiub":
        raise ComputeError(f"{who}: {what} is not an array of numbers ({array.dtype}); "
                           f"allowed: a float array of shape {shape}")
    if array.shape != shape:
        raise ComputeError(f"{who}: {what} has shape {array.shape}; allowed: {shape}")
    return array


def check_simulation(experiment: Experiment, params: Mapping[str, Any], size: int,
                     out: Any, name: str | None = None, spectrum: bool = False) -> Simulation:
    """One block of the full path as the experiment returned it, or one line saying what is
    wrong: not a Simulation, a metric or the trajectory of the wrong shape (a trajectory one
    step short would shift every per-step curve), or NaN or +inf in a run that lived. A run
    whose final mean |M_ij| is exactly zero (log10 −inf) died; it is counted, not checked."""
    who = _who(experiment, name, params)
    if not isinstance(out, Simulation):
        raise ComputeError(f"{who}: its simulate returned {type(out).__name__}; allowed: a "
                           "stabreport.experiments.Simulation")
    steps = experiment.steps(params)
    reported = experiment.setting_metrics(params, spectrum)
    wanted = {m.name for m in reported}
    missing = sorted(wanted - set(out.metrics))
    if missing:
        raise ComputeError(f"{who}: its simulate returned no {', '.join(missing)}; allowed: every "
                           "metric it declares")
    metrics = {key: _checked_array(value, (size,), f"metric {key}", who)
               for key, value in out.metrics.items()}
    trajectory = _checked_array(out.trajectory, (size, steps + 1), "the trajectory", who)
    primary = reported[0].name
    final = metrics[primary]
    living = np.isfinite(final)
    optional = {m.name for m in experiment.all_metrics if m.optional}
    named = [(f"metric {key}", array) for key, array in metrics.items() if key not in optional]
    ends = experiment.trajectory_metric is not None and experiment.trajectory_metric.optional
    for what, array, rows in ((f"metric {primary}", final, ~np.isneginf(final)),
                              *((what, array, living) for what, array in named),
                              *(() if ends else (("the trajectory", trajectory, living),))):
        problem = _bad_values(array, rows)
        if problem:
            raise ComputeError(f"{who}: its simulate returned {problem} ({what}); allowed: "
                               "finite values, or −inf in a run whose matrix died (exactly zero)")
    log10_sv = out.log10_sv
    if spectrum:
        log10_sv = _checked_array(log10_sv, (size, experiment.width(params)), "log10_sv", who)
    reach = None
    if experiment.has_reach(params):
        reach = _checked_array(out.reach, (size, steps + 1), "the gradient's reach", who)
        problem = _bad_values(reach, living)
        if problem:
            raise ComputeError(f"{who}: its simulate returned {problem} (the gradient's reach); "
                               "allowed: finite values, or −inf in a run whose matrix died")
    return Simulation(metrics=metrics, trajectory=trajectory, log10_sv=log10_sv, reach=reach)


def check_norms(experiment: Experiment, params: Mapping[str, Any], size: int, out: Any,
                name: str | None = None) -> np.ndarray:
    """One block of the fast path, or one line saying what is wrong (see check_simulation)."""
    who = _who(experiment, name, params)
    trajectory = _checked_array(out, (size, experiment.steps(params) + 1),
                                "its fast path's column lengths", who)
    problem = _bad_values(trajectory, ~np.isneginf(trajectory[:, -1]))
    if problem:
        raise ComputeError(f"{who}: its fast path returned {problem}; allowed: finite values, or "
                           "−inf in a run whose vector died (exactly zero)")
    return trajectory


# --- a time limit per task --------------------------------------------------------------------------

TIME_LIMIT_FLOOR = 300.0  # seconds: no task is stopped sooner
TIME_LIMIT_FACTOR = 30.0  # nor before this many times its estimated time
TIME_LIMIT_ENV = "STABREPORT_TIME_LIMIT"  # seconds for every task instead, or "none"


def time_limit(cost: Estimate) -> float | None:
    """Seconds a task may run before it is stopped: far beyond what its declaration predicts
    (a simulation that never returns must not hang a build), or what STABREPORT_TIME_LIMIT says."""
    chosen = os.environ.get(TIME_LIMIT_ENV, "").strip()
    if chosen.lower() == "none":
        return None
    if chosen:
        try:
            value = float(chosen)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{TIME_LIMIT_ENV} got {chosen!r}; allowed: a number of seconds > 0, "
                              "or none")
        return value
    return max(TIME_LIMIT_FLOOR, TIME_LIMIT_FACTOR * cost.seconds)


@contextmanager
def deadline(seconds: float | None, who: str, predicted: float = 0.0) -> Iterator[None]:
    """Stop the block of code after `seconds` with one line naming `who`: a SIGALRM timer,
    so only in a process's main thread (a build's workers, `stabreport run`); elsewhere (a Dask
    worker's thread) nothing is timed."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise ComputeError(f"{who} ran past its time limit of {seconds:,.0f} s (its declaration "
                           f"predicts {predicted:.2g} s); allowed: fewer runs, or another limit "
                           f"in {TIME_LIMIT_ENV} (seconds, or none)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def simulate_setting(experiment: Experiment, params: Mapping[str, Any], runs: int, seed: int,
                     name: str | None = None, threads: int | None = None,
                     progress: Callable[[int], None] | None = None,
                     spectrum: bool = False) -> Result:
    """Run `runs` independent draws of one setting on the full path, block by block (with the
    spectrum of every matrix if asked, from the same draws). Runs that died are counted."""
    validate_run_options(runs, seed)
    if spectrum and not experiment.tracks_spectrum(params):
        raise ConfigError(f"{experiment.name} does not track the spectrum of "
                          f"{experiment.words(params)}; allowed: a run without it"
                          + (", or a setting that forms a matrix" if experiment.spectrum else ""))
    threads = threads or default_jobs()
    check_memory(experiment, params, runs, FULL, threads, label=name)
    started = time.perf_counter()
    key = setting_key(experiment, params)
    extra = {"spectrum": True} if spectrum else {}
    simulate = _called(experiment.simulate, experiment, params, name, "simulate")
    parts = _map_blocks(
        lambda index, size: check_simulation(
            experiment, params, size,
            simulate(params, size, block_generator(seed, key, index), **extra), name, spectrum),
        _blocks(runs, experiment.block_runs(params)), threads, progress)
    primary = experiment.primary_metric(params)
    living = np.concatenate([np.isfinite(p.metrics[primary]) for p in parts])
    metrics = {name_: np.concatenate([p.metrics[name_] for p in parts])[living]
               for name_ in parts[0].metrics}
    trajectory = np.concatenate([p.trajectory for p in parts])[living]
    log10_sv = np.concatenate([p.log10_sv for p in parts])[living] if spectrum else None
    reach = np.concatenate([p.reach for p in parts])[living] if experiment.has_reach(params) else None
    return Result(experiment.name, dict(params), seed, runs, int((~living).sum()), metrics,
                  trajectory, log10_sv, reach, elapsed=time.perf_counter() - started)


def simulate_norms(experiment: Experiment, params: Mapping[str, Any], runs: int, seed: int,
                   name: str | None = None, threads: int | None = None,
                   progress: Callable[[int], None] | None = None) -> NormResult:
    """Column lengths ‖M_l u‖ of `runs` draws on the experiment's fast path."""
    validate_run_options(runs, seed)
    if not experiment.has_tangent(params):
        raise ConfigError(f"{_label(experiment, params, name)} has no tangent path; allowed: "
                          "--path full" + (f" (the fast path needs {experiment.tangent_needs})"
                                           if experiment.tangent is not None else ""))
    threads = threads or default_jobs()
    check_memory(experiment, params, runs, TANGENT, threads, label=name)
    started = time.perf_counter()
    key = setting_key(experiment, params, TANGENT)
    tangent = _called(experiment.tangent, experiment, params, name, "fast path")
    parts = _map_blocks(
        lambda index, size: check_norms(
            experiment, params, size, tangent(params, size, block_generator(seed, key, index)), name),
        _blocks(runs, TANGENT_BLOCK), threads, progress)
    trajectory = np.concatenate(parts)
    living = np.isfinite(trajectory[:, -1])
    return NormResult(experiment.name, dict(params), seed, runs, int((~living).sum()),
                      trajectory[living], elapsed=time.perf_counter() - started)


# --- tasks and their cache entries -----------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """One computation: a setting on one path. Plain data, so it can cross to a worker process."""

    path: str  # FULL or TANGENT
    experiment: str
    params: Mapping[str, Any]
    runs: int
    seed: int
    name: str  # a label for progress and errors; not part of what is computed
    spectrum: bool = False  # the full path also tracks M's singular values (same draws)

    def cache_payload(self) -> dict[str, Any]:
        """Exactly what the result depends on: the code that computes it (the experiment's
        module and every stabreport module it imports), parameters, runs, seed, numpy."""
        return {"path": self.path, "experiment": self.experiment,
                "params": dict(self.params), "runs": self.runs, "seed": self.seed,
                "spectrum": self.spectrum, "numpy": np.__version__}

    @property
    def key(self) -> str:
        experiment = get_experiment(self.experiment)
        return content_key("result", ("stabreport.core.engine", *experiment.modules),
                           self.cache_payload())

    def cost(self) -> float:
        """Relative work: random numbers drawn (k² per step on the full path, k on the tangent)."""
        experiment = get_experiment(self.experiment)
        width = experiment.width(self.params)
        return self.runs * experiment.steps(self.params) * (width * width if self.path == FULL else width)


def _compute(experiment: Experiment, task: Task, threads: int,
             progress: Callable[[int], None] | None = None) -> Result | NormResult:
    """The task's result, computed here on its path, within its time limit."""
    cost = estimate(experiment, task.params, task.runs, task.path, threads, spectrum=task.spectrum)
    with deadline(time_limit(cost), _who(experiment, task.name, task.params), cost.seconds):
        if task.path == FULL:
            return simulate_setting(experiment, task.params, task.runs, task.seed, task.name,
                                    threads, progress, task.spectrum)
        return simulate_norms(experiment, task.params, task.runs, task.seed, task.name, threads,
                              progress)


def execute(task: Task, threads: int = 1) -> Result | NormResult:
    """The task's result, computed here (in a worker or in-process), within its time limit."""
    return _compute(get_experiment(task.experiment), task, threads)


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # np.asarray keeps a 0-d array 0-d (np.ascontiguousarray would make it 1-d).
    np.lib.format.write_array(buffer, np.asarray(array, order="C"), allow_pickle=False)
    return buffer.getvalue()


def load_result(store: Store | None, task: Task) -> Result | NormResult | None:
    """The task's result from `store`, or None (missing, corrupt or from other code)."""
    if store is None:
        return None
    parts = store.get(task.key)
    if parts is None:
        return None
    try:
        arrays = {name: np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
                  for name, data in parts.items()}
        dead = int(arrays.pop("dead"))
        if task.path == FULL:
            experiment = get_experiment(task.experiment)
            names = [m.name for m in experiment.all_metrics if m.name in arrays]
            return Result(task.experiment, dict(task.params), task.seed, task.runs, dead,
                          {name: arrays[name] for name in names}, arrays["trajectory"],
                          arrays.get("log10_sv"), arrays.get("reach"), cached=True)
        return NormResult(task.experiment, dict(task.params), task.seed, task.runs, dead,
                          arrays["trajectory"], cached=True)
    except (KeyError, ValueError):
        return None


def store_result(store: Store | None, task: Task, result: Result | NormResult) -> None:
    if store is not None:
        store.put(task.key, {name: _array_bytes(value) for name, value in result.arrays().items()})


def run_setting(experiment: Experiment, params: Mapping[str, Any], runs: int, seed: int,
                store: Store | None = None, name: str | None = None, jobs: int | None = None,
                path: str = FULL, progress: Callable[[int], None] | None = None,
                spectrum: bool = False) -> Result | NormResult:
    """One setting's result on one path, from the cache when it holds exactly this computation."""
    task = Task(path, experiment.name, dict(params), runs, seed, name or experiment.name, spectrum)
    cached = load_result(store, task)
    if cached is not None:
        return cached
    result = _compute(experiment, task, jobs or default_jobs(), progress)
    store_result(store, task, result)
    return result
