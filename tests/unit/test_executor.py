"""The executor: bounded workers, retries with jitter, timeouts, and partial failure as results."""

from __future__ import annotations

import threading
import time

from mspctl.executor import Event, TaskContext, ThreadExecutor


def test_results_in_target_order_and_failures_are_values() -> None:
    def task(ctx: TaskContext) -> str:
        if ctx.target == "bad":
            raise ValueError("device said no")
        return ctx.target.upper()

    results = ThreadExecutor(workers=3, retries=0).run(["a", "bad", "c"], task)
    assert [r.target for r in results] == ["a", "bad", "c"]
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert results[0].value == "A" and results[2].value == "C"
    assert results[1].error == "device said no" and results[1].error_type == "ValueError"


def test_bounded_workers() -> None:
    lock = threading.Lock()
    running = peak = 0

    def task(ctx: TaskContext) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    ThreadExecutor(workers=3).run([f"d{i}" for i in range(12)], task)
    assert peak == 3


def test_retryable_errors_are_retried_with_backoff() -> None:
    calls: dict[str, int] = {}
    sleeps: list[float] = []

    def task(ctx: TaskContext) -> int:
        calls[ctx.target] = ctx.attempt
        if ctx.attempt < 3:
            raise ConnectionResetError("dropped")
        return ctx.attempt

    events: list[Event] = []
    ex = ThreadExecutor(workers=1, retries=2, backoff=0.1, sleep=sleeps.append)
    (result,) = ex.run(["sw1"], task, events.append)
    assert result.ok and result.value == 3 and result.attempts == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2  # full jitter within the doubling cap
    assert [e.kind for e in events] == ["started", "retry", "retry", "finished"]


def test_non_retryable_errors_fail_at_once() -> None:
    def task(ctx: TaskContext) -> None:
        raise PermissionError("bad credentials")  # an OSError, but marked permanent below

    class Permanent(OSError):
        permanent = True

    def task2(ctx: TaskContext) -> None:
        raise Permanent("auth failed")

    ex = ThreadExecutor(retries=3, sleep=lambda _s: None, retry_on=(ConnectionError,))
    (r1,) = ex.run(["a"], task)
    assert r1.status == "failed" and r1.attempts == 1
    (r2,) = ThreadExecutor(retries=3, sleep=lambda _s: None).run(["a"], task2)
    assert r2.attempts == 1


def test_timeout_is_reported_and_does_not_hold_the_run() -> None:
    release = threading.Event()

    def task(ctx: TaskContext) -> str:
        if ctx.target == "stuck":
            release.wait(10)
        return "ok"

    results = ThreadExecutor(workers=2, timeout=0.2, retries=0).run(["stuck", "fine"], task)
    release.set()
    assert results[0].status == "timeout" and "no result within" in (results[0].error or "")
    assert results[1].ok


def test_timeout_error_raised_by_the_task_is_a_timeout() -> None:
    def task(ctx: TaskContext) -> None:
        raise TimeoutError("read timed out")

    (r,) = ThreadExecutor(retries=0).run(["a"], task)
    assert r.status == "timeout"


def test_errors_are_redacted() -> None:
    from mspctl.redact import register_secret

    register_secret("hunter2-enable")

    def task(ctx: TaskContext) -> None:
        raise RuntimeError("enable secret hunter2-enable rejected")

    (r,) = ThreadExecutor(retries=0).run(["a"], task)
    assert "hunter2" not in (r.error or "")


def test_empty_run() -> None:
    assert ThreadExecutor().run([], lambda ctx: None) == []
