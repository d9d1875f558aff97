"""Sweeps: the same cells whoever computes them — local processes or a Dask cluster, with a
worker killed midway, or resumed after an interruption."""
import math
import os
import signal
import threading

import numpy as np
import pytest

from stabreport.core.cache import Store
from stabreport.report.config import Sweep
from stabreport.errors import ConfigError
from stabreport.core.executors import DaskExecutor, LocalExecutor, run_tasks
from stabreport.experiments import get_experiment
from stabreport.render.phase import phase_diagram
from stabreport.core.sweeps import cell_theory, parse_grid, summarise, sweep_tasks

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
    cells = [summarise(t, r, cell_theory(MLP, t.params))
             for t, r in zip(tasks, run_tasks(tasks, executor=LocalExecutor(2)))]
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


@pytest.mark.parametrize("figure,target", [("phase", 0.004), ("dead", 0.03)])
def test_cells_sized_by_the_theory_reach_the_standard_error_they_were_sized_for(figure, target):
    # Each cell's runs come from the spread the theory predicts. The standard error implied by
    # the spread actually measured must then be near the target: above it only by the noise of
    # a standard deviation estimated from n runs (relative sd 1/sqrt(2n), under 13 % with 30+
    # runs: 3 of them allowed), and not far below it unless the cell sits at MIN_CELL_RUNS.
    from stabreport.core.sweeps import MEDIAN_EFFICIENCY, MIN_CELL_RUNS

    if figure == "dead":
        axes = (parse_grid(MLP, "scale=0.3:1.5:3:log"), parse_grid(MLP, "width=2,3"))
        params = {"depth": 10, "activation": "relu"}
    else:
        axes = (parse_grid(MLP, "scale=0.05:0.5:4:log"), parse_grid(MLP, "width=16,64"))
        params = {"depth": 10}
    sweep = Sweep("se", "se", MLP, params, axes, 4000, seed=5, figure=figure, standard_error=target)
    tasks = sweep_tasks(sweep)
    results = run_tasks(tasks, executor=LocalExecutor(2))
    cells = [summarise(t, r, cell_theory(MLP, t.params)) for t, r in zip(tasks, results)]
    assert len({c.runs for c in cells}) > 1  # sized per cell, not one count for all
    for cell, result in zip(cells, results):
        if figure == "dead":  # binomial: the share lies within 3 of its standard errors
            p = cell.theory_dead_fraction
            assert math.sqrt(p * (1 - p) / cell.runs) <= target
            assert abs(cell.dead_fraction - p) <= 3 * target, (cell.params, cell.runs)
            error, slack = math.sqrt(p * (1 - p) / cell.runs), 1
        else:
            values = result.metrics[MLP.sweep_metric]
            error = MEDIAN_EFFICIENCY * np.std(values, ddof=1) / math.sqrt(len(values)) / cell.steps
            slack = 1 + 3 / math.sqrt(2 * len(values))
        assert error <= slack * target, (cell.params, cell.runs, error)
        if cell.runs > MIN_CELL_RUNS:
            assert error >= target / 2, (cell.params, cell.runs, error)
    if figure == "phase":  # the distribution-free error the page prints agrees on average
        ratios = [c.standard_error("log10_gain_per_step") / target for c in cells]
        assert 0.7 <= float(np.median(ratios)) <= 1.3, ratios


def test_cli_sweep_sized_by_standard_error_matches_the_library(capsys):
    import json

    from stabreport.cli import main

    assert main(["sweep", "products", "--grid", "scale=0.5:1.5:3", "--set", "k=4", "--runs", "300",
                 "--standard-error", "0.002", "--no-cache", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    sweep = Sweep("sweep", "sweep", PRODUCTS, {"k": 4}, (parse_grid(PRODUCTS, "scale=0.5:1.5:3"),),
                  300, 0, standard_error=0.002)
    assert [c["runs"] for c in out["cells"]] == [t.runs for t in sweep_tasks(sweep)]
    assert all(30 <= c["runs"] < 300 for c in out["cells"])
    assert main(["sweep", "products", "--grid", "scale=0.5:1.5:3", "--standard-error", "-1"]) == 2


def test_crossing_error_is_the_spread_of_the_crossing_over_resampled_gains():
    # The delta-method error of the interpolated crossing against the spread of the crossing
    # itself when the two bracketing gains are redrawn with their standard errors: 4,000
    # redraws estimate a standard deviation to 1.1 %, so 5 % is a 4-sigma band.
    from types import SimpleNamespace

    from stabreport.render.phase import crossing_error, zero_crossing

    scales, gains, errors = [0.1, 0.2, 0.4], [-0.05, -0.02, 0.03], [0.001, 0.002, 0.003]
    cells = [SimpleNamespace(standard_error=lambda measure, e=e: e) for e in errors]
    error = crossing_error(cells, gains)
    rng = np.random.default_rng(11)
    redrawn = [zero_crossing(scales, list(np.array(gains) + rng.normal(0, errors)))
               for _ in range(4000)]
    spread = np.std(np.log(redrawn)) / math.log(2)  # in grid steps
    assert abs(spread / error - 1) < 0.05, (spread, error)
    assert crossing_error(cells, [0.01, 0.02, 0.03]) is None
