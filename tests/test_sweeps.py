"""Sweeps: the same cells whoever computes them — local processes or a Dask cluster, with a
worker killed midway, or resumed after an interruption."""
import math
import os
import signal
import threading

import numpy as np
import pytest

from stabreport.cache import Store
from stabreport.config import Sweep
from stabreport.errors import ConfigError
from stabreport.executors import DaskExecutor, LocalExecutor, run_tasks
from stabreport.experiments import get_experiment
from stabreport.phase import phase_diagram
from stabreport.sweeps import cell_theory, parse_grid, summarise, sweep_tasks

MLP, PRODUCTS = get_experiment("mlp"), get_experiment("products")


def _sweep(runs=100, widths="32,128", scales="scale=0.05:0.5:5:log", depth=10):
    axes = (parse_grid(MLP, scales), parse_grid(MLP, f"width={widths}"))
    return Sweep("test", "test", MLP, {"depth": depth}, axes, runs, seed=3)


def run_on_dask(tasks, store, address, on_done=None):
    return run_tasks(tasks, store, DaskExecutor(address), on_done)


def _same(a, b):
    for x, y in zip(a, b):
        for name, array in x.arrays().items():
            np.testing.assert_array_equal(array, y.arrays()[name])


def test_grids_parse_linear_log_and_lists_and_refuse_bad_ones():
    assert parse_grid(MLP, "scale=0.1:1:3:log").values == (0.1, 0.316228, 1.0)
    assert parse_grid(MLP, "width=16,64").values == (16, 64)
    assert parse_grid(MLP, "depth=10:30:3").values == (10, 20, 30)
    assert parse_grid(PRODUCTS, "factors=1:1000:4:log").values == (1, 10, 100, 1000)
    for bad in ("scale=0:1:3:log", "width=0,4", "scale=a:b:3", "bogus=1:2:2", "scale",
                "scale=0.1:1:3:lin", "activation=relu"):
        with pytest.raises(ConfigError, match="allowed"):
            parse_grid(MLP, bad)


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_local_cluster_gives_exactly_the_local_results(cluster):
    tasks = sweep_tasks(_sweep())
    local = run_tasks(tasks, executor=LocalExecutor(1))
    on_dask = run_on_dask(tasks, None, cluster.scheduler_address)
    _same(local, on_dask)


def test_a_worker_killed_mid_sweep_loses_and_duplicates_no_cell(cluster, tmp_path):
    from dask.distributed import Client

    tasks = sweep_tasks(_sweep(runs=400, widths="64,256,512", scales="scale=0.05:0.5:8:log", depth=30))
    local = run_tasks(tasks, executor=LocalExecutor(2))
    with Client(cluster.scheduler_address) as client:
        pids = list(client.run(os.getpid).values())
    seen = []
    killed = threading.Event()

    def on_done(task, result):
        seen.append(task.name)
        if len(seen) == 3 and not killed.is_set():
            os.kill(pids[0], signal.SIGKILL)  # the nanny restarts it; its tasks are rerun
            killed.set()

    results = run_on_dask(tasks, Store(tmp_path), cluster.scheduler_address, on_done)
    assert killed.is_set()
    assert sorted(seen) == sorted(t.name for t in tasks)  # every cell once
    _same(local, results)


def test_an_interrupted_sweep_resumes_from_the_cells_it_finished(tmp_path):
    cache = Store(tmp_path)
    tasks = sweep_tasks(_sweep())

    class Stop(Exception):
        pass

    finished = []

    def stop_after_four(task, result):
        finished.append(task.name)
        if len(finished) == 4:
            raise Stop

    with pytest.raises(Stop):
        run_tasks(tasks, cache, LocalExecutor(1), on_done=stop_after_four)
    computed = []
    results = run_tasks(tasks, cache, LocalExecutor(1),
                        on_done=lambda t, r: None if r.cached else computed.append(t.name))
    assert len(computed) == len(tasks) - 4
    _same(run_tasks(tasks, executor=LocalExecutor(1)), results)
    # Extending the grid computes only the new cells.
    wider = sweep_tasks(_sweep(widths="32,128,512"))
    new = []
    run_tasks(wider, cache, LocalExecutor(1), on_done=lambda t, r: None if r.cached else new.append(t.name))
    assert len(new) == len(wider) - len(tasks)


def test_measured_relu_critical_scale_agrees_with_he_within_the_grid_resolution():
    sweep = _sweep(runs=300, widths="32,128,512", scales="scale=0.03:0.5:16:log", depth=30)
    tasks = sweep_tasks(sweep)
    cells = [summarise(t, r, cell_theory(t)) for t, r in zip(tasks, run_tasks(tasks, executor=LocalExecutor(2)))]
    diagram = phase_diagram(sweep, cells, MLP.theory.critical_scale)
    for row in diagram.rows:
        he = math.sqrt(2 / row.value)
        assert row.measured_critical is not None
        step = row.step
        assert abs(math.log(row.measured_critical / he)) <= math.log(step), (row, he)
        assert row.agrees, row


def test_cli_sweep_json_and_dask_executor_agree(capsys, cluster):
    import json

    from stabreport.cli import main

    argv = ["sweep", "products", "--grid", "scale=0.4:0.8:3", "--grid", "k=2,4", "--runs", "50",
            "--no-cache", "--json"]
    assert main(argv) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(argv + ["--executor", "dask", "--scheduler", cluster.scheduler_address]) == 0
    assert json.loads(capsys.readouterr().out) == local
    assert len(local["cells"]) == 6 and local["axes"] == {"scale": [0.4, 0.6, 0.8], "k": [2, 4]}
    assert main(["sweep", "mlp", "--grid", "scale=0.1:1:3", "--executor", "spark"]) == 2
    assert main(["sweep", "mlp", "--grid", "scale=0.1:1:3", "--executor", "dask",
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
