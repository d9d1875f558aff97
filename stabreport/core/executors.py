"""Where tasks run: local worker processes or a Dask distributed cluster, behind one interface,
with one progress reporter. Builds and sweeps both go through `run_tasks`, which reads what the
cache holds, hands the rest to an executor and stores each result as it arrives; results come
back in task order and are identical whichever executor computed them.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
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
              on_done: Callable[[Task, Outcome], None] | None = None,
              on_start: Callable[[int], None] | None = None, stream=None) -> list[Outcome]:
    """Every task's result, in task order: those the cache holds are read, the others computed
    by `executor` (local processes by default) and stored as each one arrives. `on_start(cached)`
    once the cache is read and every task to compute is known to fit in memory, before any
    `on_done`; with `stream`, reading the cache is a phase that says how it goes."""
    results = read_cached(tasks, store, stream)
    missing = [index for index, result in enumerate(results) if result is None]
    for index in missing:  # refuse what would not fit before anything runs or is reported
        task = tasks[index]
        check_memory(get_experiment(task.experiment), task.params, task.runs, task.path,
                     label=task.name)
    if on_start:
        on_start(len(tasks) - len(missing))
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


def read_cached(tasks: Sequence[Task], store: Store | None, stream=None) -> list[Outcome | None]:
    """Each task's result from `store`, or None; with `stream`, as a phase counted in tasks."""
    if store is None or not tasks:
        return [None] * len(tasks)
    with Phase(stream, f"looking up {counted(len(tasks), 'task')} in the cache", len(tasks),
               "task", "cache") as phase:
        results = []
        for task in tasks:
            results.append(load_result(store, task))
            phase.advance()
    return results


def counted(count: int, noun: str) -> str:
    """'1 figure', '27 figures', '1,703 tasks'."""
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


HEARTBEAT_SECONDS = 5.0  # in a log, a phase at work is never silent longer than this
MILESTONES = 10  # in a log, the task counter says where it is at least at every tenth
REFRESH_SECONDS = 1.0  # on a terminal, the line's time spent ticks this often


class Phase:
    """A phase of a build that says what it is doing, on a terminal and in a log alike.

    On a terminal: one updating line (tqdm), with the count and the time left where the phase
    counts its items, the time spent where it does not. In a log (a stream that is not a
    terminal): a line when it starts (`title`), a line for an item that `advance` is given one
    for, and the phase's status whenever HEARTBEAT_SECONDS pass without a line, so that a log
    never falls silent while work goes on, and a phase of a few seconds is one line. With
    `counter` (the tasks: the one count a build's lines share), lines begin with [done/total]
    and the status is also said at each tenth of the total, so that the count never jumps.
    Without a stream it says nothing. Use it as a context manager; with `begin=False`, the
    phase starts at `begin()` (or at its first item)."""

    def __init__(self, stream, title: str, total: int | None = None, unit: str = "item",
                 label: str | None = None, counter: bool = False, begin: bool = True) -> None:
        self.stream, self.title, self.total, self.unit = stream, title, total, unit
        self.label, self.counter = label or title, counter
        self.done, self.note = 0, ""
        self.interactive = stream is not None and hasattr(stream, "isatty") and stream.isatty()
        self.started = self.last_line = time.monotonic()
        self.bar = None
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._begun = False
        if begin:
            self.begin()

    def begin(self, title: str | None = None) -> None:
        """Say that the phase starts (once; `title` instead of the one given before)."""
        with self._lock:
            if self._begun:
                return
            self._begun = True
            self.title = title or self.title
            self.started = time.monotonic()
            if self.stream is None:
                return
            if self.interactive:
                from tqdm import tqdm

                self.bar = tqdm(total=self.total, desc=self.label, unit=self.unit, file=self.stream,
                                dynamic_ncols=True, leave=True,
                                bar_format=None if self.total else "{desc}: {elapsed}{postfix}")
                self.bar.update(self.done)
            else:
                self._print(self.title + "…")
        threading.Thread(target=self._tick, daemon=True, name="stabreport-progress").start()

    def __enter__(self) -> "Phase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def spent(self) -> float:
        return time.monotonic() - self.started

    def _prefix(self) -> str:
        return f"[{self.done}/{self.total}] " if self.counter and self.total else ""

    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self.stream, flush=True)
            self.last_line = time.monotonic()

    def status(self) -> str:
        """Where the phase is, as a log line says it: the count, the time spent and (once there
        is something to go by) the time left."""
        note = f" ({self.note})" if self.note else ""
        spent = self.spent
        left = "" if not self.total or not self.done or self.done >= self.total or spent < 2 else \
            f", about {spent * (self.total - self.done) / self.done:.0f} s left"
        count = "" if not self.total or self.counter else \
            f": {self.done:,}/{self.total:,} {self.unit}s"
        return f"{self._prefix()}{self.label}{count}{note}, {spent:.0f} s so far{left}"

    def advance(self, count: int = 1, line: str | None = None, postfix: str | None = None,
                detail: str | None = None) -> None:
        """`count` more items done; `line`: what a log says of them now; `detail`: what it says of
        them if it says something anyway (at a tenth of the count), instead of the status;
        `postfix`: what the terminal's line says after the count."""
        if not self._begun:
            self.begin()
        with self._lock:
            before, self.done = self.done, self.done + count
            if self.stream is None:
                return
            if self.bar is not None:
                if postfix is not None:
                    self.bar.set_postfix_str(postfix, refresh=False)
                self.bar.update(count)
                return
            if line is not None:
                self._print(self._prefix() + line)
            elif self.counter and self.total and \
                    self.done * MILESTONES // self.total != before * MILESTONES // self.total:
                self._print(self._prefix() + detail if detail is not None else self.status())

    def say(self, text: str) -> None:
        """A line of its own, in a log and on a terminal alike (above the updating line)."""
        with self._lock:
            if self.stream is None:
                return
            if self.bar is not None:
                self.bar.write(text, file=self.stream)
            else:
                self._print(text)

    def describe(self, note: str) -> None:
        """What the phase is at now (an edition, a step), in its next lines."""
        with self._lock:
            self.note = note
            if self.bar is not None:
                self.bar.set_postfix_str(note, refresh=True)

    def _tick(self) -> None:
        while not self._closed.wait(REFRESH_SECONDS if self.interactive
                                    else min(0.5, HEARTBEAT_SECONDS / 4)):
            with self._lock:
                if self._closed.is_set():
                    return
                if self.bar is not None:
                    self.bar.refresh()
                elif time.monotonic() - self.last_line >= HEARTBEAT_SECONDS:
                    self._print(self.status())

    def close(self) -> None:
        with self._lock:
            self._begun = True  # a phase closed before it began never begins
            if self._closed.is_set():
                return
            self._closed.set()
            if self.bar is not None:
                self.bar.close()


class Progress(Phase):
    """The tasks of a build or a sweep, a phase with the counter: on a terminal, a bar with the
    time left; in a log, a line [done/total] per task whose `line(done, task, result)` is not
    None, and at each tenth of the tasks and after HEARTBEAT_SECONDS of silence a line of where
    the tasks are (`detail(task, result)` of the last one, else the status)."""

    def __init__(self, total: int, what: str, stream=sys.stderr,
                 line: Callable[[int, Task, Outcome], str | None] | None = None,
                 title: str | None = None, begin: bool = True,
                 detail: Callable[[Task, Outcome], str | None] | None = None) -> None:
        self.cached, self.line, self.detail = 0, line, detail
        super().__init__(stream, title or f"running {total:,} {what}", total, "task", what,
                         counter=True, begin=begin)

    def __call__(self, task: Task, result: Outcome) -> None:
        self.cached += result.cached
        text = self.line(self.done + 1, task, result) if self.line is not None else None
        detail = self.detail(task, result) if self.detail is not None else None
        self.advance(1, text, f"{self.cached} cached, {task.name}", detail)


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
