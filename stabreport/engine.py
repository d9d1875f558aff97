"""Running settings: seeding, batching into blocks, parallel workers and the on-disk cache.

Seeding: one integer seed, expanded with SeedSequence. A setting's stream is keyed by a hash of
its identity (experiment, canonical parameters and path), and each block of runs gets its own
child stream. Block sizes depend on the parameters only, so a setting's numbers never depend on
which other settings run, in what order, in how many processes, or how memory is chunked.

Two paths compute a setting:
- "full": every matrix is formed; gives the lecture's statistic (mean |M_ij|) and the norms;
- "tangent": only the column length ‖M u‖, with O(k) random numbers per step (Gaussian weights).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import ComputeError, ConfigError
from .experiments import EXPERIMENTS, METRICS, Experiment
from .experiments.tangent import mlp_norms, products_norms, supports_tangent
from .results import NormResult, Result

ENGINE_VERSION = "1"
TANGENT_VERSION = "tangent-1"
TANGENT_BLOCK = 2048  # runs per random stream on the tangent path


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def setting_key(experiment: Experiment, params: Mapping[str, Any], path: str = "full") -> tuple[int, ...]:
    """Four 32-bit words identifying (experiment, params, path): the SeedSequence spawn key."""
    identity: dict[str, Any] = {"experiment": experiment.name, "params": dict(params)}
    if path != "full":  # the full path's key predates the others: keep its numbers
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


def _dead_runs_error(label: str, dead: int, runs: int) -> ComputeError:
    return ComputeError(
        f"setting {label}: {dead} of {runs} runs ended with an all-zero matrix (every unit "
        "inactive at some layer), so log10 of its size is undefined; use a wider network or "
        "another activation")


def _map_blocks(compute: Callable[[int, int], Any], blocks: list[tuple[int, int]],
                threads: int) -> list[Any]:
    """compute(index, size) for every block, in block order. numpy releases the GIL while it
    draws, multiplies and maps arrays, so blocks on separate threads run on separate cores."""
    def guarded(block: tuple[int, int]) -> Any:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            return compute(*block)

    if threads <= 1 or len(blocks) <= 1:
        return [guarded(block) for block in blocks]
    with ThreadPoolExecutor(max_workers=min(threads, len(blocks))) as pool:
        return list(pool.map(guarded, blocks))


def simulate_setting(experiment: Experiment, params: Mapping[str, Any], runs: int, seed: int,
                     name: str | None = None, threads: int | None = None) -> Result:
    """Run `runs` independent draws of one setting on the full path, block by block."""
    validate_run_options(runs, seed)
    started = time.perf_counter()
    key = setting_key(experiment, params)
    parts = _map_blocks(
        lambda index, size: experiment.simulate(params, size, block_generator(seed, key, index)),
        _blocks(runs, experiment.block_runs(params)), threads or default_jobs())
    metrics = {m: np.concatenate([p.metrics[m] for p in parts]) for m in METRICS}
    trajectory = np.concatenate([p.trajectory for p in parts])
    dead = ~np.isfinite(metrics["log10_mean_abs"])
    if dead.any():
        raise _dead_runs_error(name or f"{experiment.name} {canonical_json(dict(params))}",
                               int(dead.sum()), runs)
    return Result(experiment.name, dict(params), seed, runs, metrics, trajectory,
                  elapsed=time.perf_counter() - started)


def simulate_norms(experiment: Experiment, params: Mapping[str, Any], runs: int, seed: int,
                   name: str | None = None, threads: int | None = None) -> NormResult:
    """Column lengths ‖M_l u‖ of `runs` draws on the O(k) tangent path (Gaussian weights only)."""
    validate_run_options(runs, seed)
    if not supports_tangent(experiment.name, params):
        raise ConfigError(f"init {params.get('init')!r} has no tangent path; allowed: Gaussian inits")
    started = time.perf_counter()
    key = setting_key(experiment, params, "tangent")
    simulate = products_norms if experiment.name == "products" else mlp_norms
    parts = _map_blocks(lambda index, size: simulate(params, size, block_generator(seed, key, index)),
                        _blocks(runs, TANGENT_BLOCK), threads or default_jobs())
    trajectory = np.concatenate(parts)
    dead = ~np.isfinite(trajectory[:, -1])
    if dead.any():
        raise _dead_runs_error(name or experiment.name, int(dead.sum()), runs)
    return NormResult(experiment.name, dict(params), seed, runs, trajectory,
                      elapsed=time.perf_counter() - started)


# --- tasks, the cache and parallel execution ------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """One computation: a setting on one path. Plain data, so it can cross to a worker process."""

    path: str  # "full" or "tangent"
    experiment: str
    params: Mapping[str, Any]
    runs: int
    seed: int
    name: str

    def cache_payload(self) -> dict[str, Any]:
        experiment = EXPERIMENTS[self.experiment]
        code = experiment.version if self.path == "full" else TANGENT_VERSION
        return {"engine": ENGINE_VERSION, "path": self.path, "experiment": self.experiment,
                "code": code, "params": dict(self.params), "runs": self.runs,
                "seed": self.seed, "numpy": np.__version__}


def execute(task: Task, threads: int = 1) -> Result | NormResult:
    experiment = EXPERIMENTS[task.experiment]
    simulate = simulate_setting if task.path == "full" else simulate_norms
    return simulate(experiment, task.params, task.runs, task.seed, task.name, threads)


def _from_arrays(task: Task, arrays: Mapping[str, np.ndarray]) -> Result | NormResult:
    if task.path == "full":
        return Result(task.experiment, dict(task.params), task.seed, task.runs,
                      {m: arrays[m] for m in METRICS}, arrays["trajectory"], cached=True)
    return NormResult(task.experiment, dict(task.params), task.seed, task.runs,
                      arrays["trajectory"], cached=True)


class ResultCache:
    """Results on disk, keyed by a hash of exactly what they depend on: the engine and experiment
    code versions, the path, the parameters, runs, seed and numpy's version."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def key(self, task: Task) -> str:
        return hashlib.sha256(canonical_json(task.cache_payload()).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def load(self, task: Task) -> Result | NormResult | None:
        path = self.path(self.key(task))
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                digest = str(data["checksum"])
                arrays = {name: data[name] for name in data.files if name != "checksum"}
        except Exception as error:  # a truncated or foreign file: recompute
            warnings.warn(f"cache entry {path.name} is unreadable ({type(error).__name__}); "
                          "recomputing", stacklevel=2)
            return None
        if digest != _checksum(arrays):
            warnings.warn(f"cache entry {path.name} fails its checksum; recomputing", stacklevel=2)
            return None
        try:
            return _from_arrays(task, arrays)
        except KeyError:
            warnings.warn(f"cache entry {path.name} lacks arrays; recomputing", stacklevel=2)
            return None

    def store(self, task: Task, result: Result | NormResult) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays = {name: np.asarray(value) for name, value in result.arrays().items()}
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, checksum=np.array(_checksum(arrays)), **arrays)
            os.replace(tmp, self.path(self.key(task)))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


class Memo:
    """Small JSON values on disk, keyed by a hash of their inputs plus a code version: for
    derived numbers that are slow to compute and pure (e.g. theory per sweep cell)."""

    def __init__(self, directory: Path | None, version: str) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.version = version

    def get(self, parts: Any, compute: Callable[[], Any]) -> Any:
        if self.directory is None:
            return compute()
        key = hashlib.sha256(canonical_json([self.version, parts]).encode()).hexdigest()
        path = self.directory / f"{key}.json"
        try:
            return json.loads(path.read_text())["value"]
        except (OSError, ValueError, KeyError):
            pass
        value = compute()
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump({"value": value}, handle)
        os.replace(tmp, path)
        return value


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def split_cached(tasks: Sequence[Task], cache: ResultCache | None,
                 on_done: Callable[[Task, Result | NormResult], None] | None
                 ) -> tuple[list[Result | NormResult | None], list[int]]:
    """Results read from the cache (None where missing), and the indices still to compute."""
    results: list[Result | NormResult | None] = [None] * len(tasks)
    missing = []
    for index, task in enumerate(tasks):
        results[index] = cache.load(task) if cache else None
        if results[index] is None:
            missing.append(index)
        elif on_done:
            on_done(task, results[index])
    return results, missing


def run_tasks(tasks: Sequence[Task], cache: ResultCache | None = None, jobs: int = 1,
              on_done: Callable[[Task, Result | NormResult], None] | None = None
              ) -> list[Result | NormResult]:
    """Every task's result, in task order, whatever `jobs` is: cached ones read, the others
    computed here (jobs = 1) or in `jobs` worker processes."""
    results, missing = split_cached(tasks, cache, on_done)

    def finish(index: int, result: Result | NormResult) -> None:
        results[index] = result
        if cache:
            cache.store(tasks[index], result)
        if on_done:
            on_done(tasks[index], result)

    if jobs <= 1 or len(missing) <= 1:
        for index in missing:  # one process: its blocks may still use `jobs` threads
            finish(index, execute(tasks[index], threads=jobs))
    else:
        # spawn, not fork: a forked BLAS thread pool can deadlock in the child.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(missing)), mp_context=context) as pool:
            # Longest first, so that the last task to start is a short one. Workers start while
            # tasks are submitted: give them one BLAS thread each, or they fight for the cores.
            order = sorted(missing, key=lambda i: -_cost(tasks[i]))
            with _environment(BLAS_SINGLE_THREAD):
                futures = {pool.submit(execute, tasks[i]): i for i in order}
            for future in as_completed(futures):
                finish(futures[future], future.result())
    return results  # type: ignore[return-value]


BLAS_SINGLE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                             "MKL_NUM_THREADS")}


@contextmanager
def _environment(values: Mapping[str, str]):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _cost(task: Task) -> float:
    experiment = EXPERIMENTS[task.experiment]
    width = experiment.width(task.params)
    per_step = width * width if task.path == "full" else width
    return task.runs * experiment.steps(task.params) * per_step


def run_setting(experiment: Experiment, params: Mapping[str, Any], runs: int, seed: int,
                cache: ResultCache | None = None, name: str | None = None,
                jobs: int | None = None) -> Result:
    """One setting's full-path result, from the cache when it holds exactly this computation."""
    task = Task("full", experiment.name, dict(params), runs, seed, name or experiment.name)
    return run_tasks([task], cache, jobs or default_jobs())[0]  # type: ignore[return-value]
