"""Where tasks run: local worker processes or a Dask distributed cluster, behind one interface,
with one progress reporter. Builds and sweeps both go through `run_tasks`, which reads what the
cache holds, hands the rest to an executor and stores each result as it arrives; results come
back in task order and are identical whichever executor computed them.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Callable, Iterator, Mapping, Sequence

from .cache import Store
from .engine import Task, check_memory, default_jobs, execute, load_result, store_result
from ..errors import ConfigError
from ..experiments import get_experiment
from .processes import die_with_parent
from .results import NormResult, Result


def worker_start(parent: int) -> None:
    """A worker dies with the build, and leaves Ctrl-C to it: SIGINT reaches the whole process
    group, and the build stops its workers itself (a worker's KeyboardInterrupt would only add
    tracebacks)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes and drop what is queued, without waiting."""
    # concurrent.futures has no public way before Python 3.14 (terminate_workers).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)

Outcome = Result | NormResult
Done = Callable[[int, Outcome], None]  # (index into the tasks given, result)

BLAS_SINGLE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                             "MKL_NUM_THREADS")}


class Executor:
    """Computes tasks and calls `done(index, result)` as each one finishes, in any order."""

    name = "executor"

    def compute(self, tasks: Sequence[Task], done: Done) -> None:
        raise NotImplementedError


class LocalExecutor(Executor):
    """`jobs` worker processes on this machine (spawned, one BLAS thread each); with one job, or
    one task, the work runs here, its blocks on `jobs` threads."""

    name = "local"

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs or default_jobs()

    def compute(self, tasks: Sequence[Task], done: Done) -> None:
        if self.jobs <= 1 or len(tasks) <= 1:
            for index, task in enumerate(tasks):
                done(index, execute(task, threads=self.jobs))
            return
        # spawn, not fork: a forked BLAS thread pool can deadlock in the child.
        context = multiprocessing.get_context("spawn")
        # Workers die with this process: a killed build leaves nothing computing.
        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(tasks)), mp_context=context,
                                   initializer=worker_start, initargs=(os.getpid(),))
        try:
            # Longest first, so that the last task to start is a short one. Workers start while
            # tasks are submitted: give them one BLAS thread each, or they fight for the cores.
            order = sorted(range(len(tasks)), key=lambda i: -tasks[i].cost())
            with _environment(BLAS_SINGLE_THREAD):
                futures = {pool.submit(execute, tasks[i]): i for i in order}
            for future in as_completed(futures):
                done(futures[future], future.result())
        except BaseException:
            # Ctrl-C, a failed task, a time limit: what still computes is stopped now, not
            # waited for (a task that never returns would hold the build forever).
            stop_workers(pool)
            raise
        pool.shutdown(wait=True)


class DaskExecutor(Executor):
    """The same tasks on a Dask distributed cluster: a running scheduler at `scheduler`
    (tcp://HOST:PORT), or a LocalCluster of this machine's cores when none is given. A task lost
    with a worker is rerun by Dask."""

    name = "dask"

    def __init__(self, scheduler: str | None = None) -> None:
        self.scheduler = scheduler or os.environ.get("STABREPORT_SCHEDULER")

    def compute(self, tasks: Sequence[Task], done: Done) -> None:
        try:
            from dask.distributed import Client, LocalCluster, as_completed as dask_completed
        except ImportError:
            raise ConfigError("--executor dask needs dask.distributed; allowed: `pip install "
                              "'dask[distributed]'`, or --executor local") from None
        cluster = None
        try:
            if self.scheduler:
                client = Client(self.scheduler, timeout="30s")
            else:
                cluster = LocalCluster(n_workers=default_jobs(), threads_per_worker=1,
                                       processes=True, dashboard_address=None)
                client = Client(cluster)
        except OSError as error:
            raise ConfigError(f"--scheduler got {self.scheduler!r} but no Dask scheduler answered "
                              f"({error}); allowed: the address of a running scheduler") from None
        try:
            futures = {client.submit(execute, task, 1, key=f"stabreport-{task.key}", pure=True): i
                       for i, task in enumerate(tasks)}
            for future in dask_completed(futures):
                done(futures[future], future.result())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


EXECUTORS = {"local": LocalExecutor, "dask": DaskExecutor}


def make_executor(name: str = "local", jobs: int | None = None,
                  scheduler: str | None = None) -> Executor:
    if name not in EXECUTORS:
        raise ConfigError(f"--executor got {name!r}; allowed: " + ", ".join(EXECUTORS))
    return LocalExecutor(jobs) if EXECUTORS[name] is LocalExecutor else DaskExecutor(scheduler)


def run_tasks(tasks: Sequence[Task], store: Store | None = None, executor: Executor | None = None,
              on_done: Callable[[Task, Outcome], None] | None = None) -> list[Outcome]:
    """Every task's result, in task order: those the cache holds are read, the others computed
    by `executor` (local processes by default) and stored as each one arrives."""
    results: list[Outcome | None] = [load_result(store, task) for task in tasks]
    missing = [index for index, result in enumerate(results) if result is None]
    for index in missing:  # refuse what would not fit before anything runs or is reported
        task = tasks[index]
        check_memory(get_experiment(task.experiment), task.params, task.runs, task.path,
                     label=task.name)
    if on_done:
        for task, result in zip(tasks, results):
            if result is not None:
                on_done(task, result)

    def finish(position: int, result: Outcome) -> None:
        index = missing[position]
        results[index] = result
        store_result(store, tasks[index], result)
        if on_done:
            on_done(tasks[index], result)

    if missing:
        (executor or LocalExecutor()).compute([tasks[i] for i in missing], finish)
    return results  # type: ignore[return-value]


class Progress:
    """One progress reporter for builds and sweeps: on a terminal, a bar with the time left
    (tqdm); otherwise plain lines, one per task whose `line` is not None, or with `milestones`,
    one per tenth of the work with the time spent and left."""

    def __init__(self, total: int, what: str, stream=sys.stderr,
                 line: Callable[[int, Task, Outcome], str | None] | None = None,
                 milestones: bool = False) -> None:
        from tqdm import tqdm

        self.total, self.done, self.cached, self.what = total, 0, 0, what
        self.stream, self.line, self.milestones = stream, line, milestones
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self.bar = tqdm(total=total, desc=what, unit="task", file=stream,
                        disable=not self.interactive, dynamic_ncols=True)
        self.started = time.monotonic()

    def __call__(self, task: Task, result: Outcome) -> None:
        self.done += 1
        self.cached += result.cached
        self.bar.update()
        self.bar.set_postfix_str(f"{self.cached} cached, {task.name}", refresh=False)
        if self.interactive:
            return
        text = self.line(self.done, task, result) if self.line is not None else None
        if text is None and self.milestones and self.total >= 10 and \
                self.done * 10 // self.total != (self.done - 1) * 10 // self.total:
            spent = time.monotonic() - self.started
            left = spent * (self.total - self.done) / self.done
            text = (f"{self.what}: {self.done}/{self.total} ({self.done / self.total:.0%}), "
                    f"{spent:.0f} s spent, about {left:.0f} s left")
        if text:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
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
