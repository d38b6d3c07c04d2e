"""ProcessSpreadExecutor: targets dealt over forked worker processes, results and events back."""

from __future__ import annotations

import os

from mspctl.executor import Event, ProcessSpreadExecutor, TaskContext, ThreadExecutor


def _task(ctx: TaskContext) -> str:
    if ctx.target == "t13":
        raise ValueError("device t13 refused")
    return f"{ctx.target}:{os.getpid()}"


def test_spreads_over_processes_and_keeps_order_results_and_events():
    targets = [f"t{i}" for i in range(60)]
    events: list[Event] = []
    results = ProcessSpreadExecutor(2, ThreadExecutor(workers=4, retries=0)).run(targets, _task, events.append)
    assert [r.target for r in results] == targets
    assert results[13].status == "failed" and results[13].error == "device t13 refused"
    ok = [r for r in results if r.status == "ok"]
    assert len(ok) == 59
    pids = {r.value.split(":")[1] for r in ok if r.value}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # two workers, neither is this process
    finished = [e for e in events if e.kind == "finished"]
    assert [e.done for e in finished] == list(range(1, 61)) and {e.total for e in finished} == {60}
    assert {e.target for e in finished} == set(targets)


def test_small_runs_stay_in_process():
    results = ProcessSpreadExecutor(2, ThreadExecutor(workers=4)).run(["a", "b"], _task)
    assert {r.value.split(":")[1] for r in results if r.value} == {str(os.getpid())}


def _dies(ctx: TaskContext) -> str:
    if ctx.target == "t1":  # t1, t3, t5 ... share a worker with it
        os._exit(3)
    return ctx.target


def test_a_dead_worker_fails_only_its_unfinished_targets():
    targets = [f"t{i}" for i in range(60)]
    results = ProcessSpreadExecutor(2, ThreadExecutor(workers=1)).run(targets, _dies)
    by = {r.target: r for r in results}
    assert by["t1"].status == "failed" and by["t1"].error_type == "WorkerDied"
    assert all(by[f"t{i}"].status == "ok" for i in range(0, 60, 2))  # the other worker finished its share
