"""The one concurrency abstraction: run a task per target with bounded workers.

Every long operation (backup, drift, push, patch) goes through an `Executor`:

- bounded workers;
- a timeout per target (the task also gets it, to pass to its own I/O: a thread cannot be
  killed, so the socket timeouts inside the task are what actually stop a stuck device);
- retries with exponential backoff and full jitter, for errors the caller marks retryable;
- progress events (started, retry, finished) for the CLI's progress bar;
- one failing target never stops the others: its exception becomes a failed `TargetResult`.

`ThreadExecutor` runs the targets on threads of this process; `ProcessSpreadExecutor` deals them
over one forked process per core, each with a `ThreadExecutor` (for read-only tasks such as
backups, whose SSH sessions are GIL-bound in one process). A distributed backend would implement
the same `Executor` protocol.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, cast

from mspctl.redact import redact

Status = Literal["ok", "failed", "timeout"]
EventKind = Literal["started", "retry", "finished"]


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    target: str
    done: int
    total: int
    detail: str = ""


@dataclass(slots=True)
class TargetResult[T]:
    target: str
    status: Status
    value: T | None = None
    error: str | None = None
    error_type: str | None = None
    attempts: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a task knows about its run: the target, its attempt, and its time budget."""

    target: str
    attempt: int
    timeout: float


class Executor(Protocol):
    def run[T](self, targets: Sequence[str], task: Callable[[TaskContext], T],
               on_event: Callable[[Event], None] | None = None) -> list[TargetResult[T]]: ...


@dataclass
class ThreadExecutor:
    workers: int = 8
    timeout: float = 60.0  # seconds per target, all attempts included
    retries: int = 1  # extra attempts after the first, for retryable errors
    backoff: float = 0.5  # base seconds; attempt n waits uniform(0, backoff * 2**n)
    retry_on: tuple[type[BaseException], ...] = (OSError, TimeoutError)
    sleep: Callable[[float], None] = time.sleep
    # False for changes: a target past its budget is waited for, never abandoned mid-change
    # (its own per-command timeouts bound it); the budget then only bounds retries.
    abandon: bool = True

    def run[T](self, targets: Sequence[str], task: Callable[[TaskContext], T],
               on_event: Callable[[Event], None] | None = None) -> list[TargetResult[T]]:
        """Run `task` once per target; results come back in the order of `targets`."""
        if not targets:
            return []
        total = len(targets)
        emit = on_event or (lambda _e: None)
        results: dict[str, TargetResult[T]] = {}
        starts: dict[str, float] = {}  # written by the worker threads when an attempt begins
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.workers, total)), thread_name_prefix="mspctl")
        try:
            futures = {pool.submit(self._attempts, t, task, emit, total, starts): t for t in targets}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    results[futures[fut]] = fut.result()
                    emit(Event("finished", futures[fut], len(results), total, results[futures[fut]].status))
                now = time.monotonic()
                for fut in [f for f in pending if self.abandon and futures[f] in starts]:
                    target = futures[fut]
                    if now - starts[target] > self.timeout + 1.0:
                        # The thread runs on until its own I/O times out; the run does not wait for it.
                        results[target] = TargetResult(target, "timeout", error=f"no result within {self.timeout:.0f}s",
                                                       error_type="TimeoutError", duration=now - starts[target])
                        emit(Event("finished", target, len(results), total, "timeout"))
                        pending.discard(fut)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return [results[t] for t in targets]

    def _attempts[T](self, target: str, task: Callable[[TaskContext], T], emit: Callable[[Event], None],
                     total: int, starts: dict[str, float]) -> TargetResult[T]:
        started_at = datetime.now(UTC)
        t0 = starts[target] = time.monotonic()
        emit(Event("started", target, 0, total))
        attempt = 0
        while True:
            attempt += 1
            remaining = self.timeout - (time.monotonic() - t0)
            try:
                value = task(TaskContext(target, attempt, max(1.0, remaining)))
                return TargetResult(target, "ok", value=value, attempts=attempt, started_at=started_at,
                                    duration=time.monotonic() - t0)
            except Exception as exc:  # one target's failure is a result, never the run's end
                retryable = isinstance(exc, self.retry_on) and not getattr(exc, "permanent", False)
                delay = random.uniform(0, self.backoff * 2 ** (attempt - 1))  # noqa: S311 - jitter, not crypto
                if retryable and attempt <= self.retries and time.monotonic() - t0 + delay < self.timeout:
                    emit(Event("retry", target, 0, total, redact(f"{type(exc).__name__}: {exc}")))
                    self.sleep(delay)
                    continue
                status: Status = "timeout" if isinstance(exc, TimeoutError) else "failed"
                return TargetResult(target, status, error=redact(str(exc) or type(exc).__name__),
                                    error_type=type(exc).__name__, attempts=attempt, started_at=started_at,
                                    duration=time.monotonic() - t0)


# Below this many targets per process, forking costs more than the second core gives.
MIN_TARGETS_PER_PROCESS = 25


@dataclass
class ProcessSpreadExecutor:
    """`inner` (a ThreadExecutor) in each of `processes` forked worker processes, targets dealt
    round-robin. One process's SSH sessions are capped by its GIL at about one core of client
    CPU (paramiko's crypto and Netmiko's polling; bench/backup measured 84 % of a core while the
    machine was 59 % busy). Only for tasks whose sole effect is their (picklable) return value:
    anything a task changes in memory stays in its worker process. Events and results come back
    over a pipe per worker; a worker that dies leaves its unfinished targets `failed`.
    """

    processes: int
    inner: ThreadExecutor

    def run[T](self, targets: Sequence[str], task: Callable[[TaskContext], T],
               on_event: Callable[[Event], None] | None = None) -> list[TargetResult[T]]:
        if self.processes <= 1 or len(targets) < MIN_TARGETS_PER_PROCESS * self.processes:
            return self.inner.run(targets, task, on_event)
        import multiprocessing
        from multiprocessing.connection import Connection
        from multiprocessing.connection import wait as wait_ready

        emit = on_event or (lambda _e: None)
        ctx = multiprocessing.get_context("fork")  # the task is a closure: inherited, never pickled
        total = len(targets)
        workers: list[tuple[Any, Connection]] = []
        for i in range(self.processes):
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_spread_worker, args=(self.inner, list(targets[i::self.processes]), task, writer),
                               daemon=True)
            proc.start()
            writer.close()
            workers.append((proc, reader))
        results: dict[str, TargetResult[T]] = {}
        finished = 0
        readers = [r for _, r in workers]
        while readers:
            for ready in wait_ready(readers):
                conn = cast(Connection, ready)
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    readers.remove(conn)
                    continue
                if kind == "results":
                    results.update({r.target: r for r in payload})
                elif payload.kind == "finished":
                    finished += 1
                    emit(Event("finished", payload.target, finished, total, payload.detail))
                else:
                    emit(Event(payload.kind, payload.target, 0, total, payload.detail))
        for proc, _ in workers:
            proc.join(timeout=5)
        for t in targets:
            if t not in results:
                results[t] = TargetResult(t, "failed", error="its worker process died", error_type="WorkerDied")
        return [results[t] for t in targets]


def _spread_worker[T](inner: ThreadExecutor, targets: list[str], task: Callable[[TaskContext], T],
                      conn: Any) -> None:
    """A forked worker: run its share, stream events, send the results, and leave without running
    the parent's exit handlers (they belong to the parent)."""
    import os
    import threading

    lock = threading.Lock()  # events come from the pool's threads; a Connection is not thread-safe

    def send(message: tuple[str, Any]) -> None:
        with lock:
            conn.send(message)

    code = 0
    try:
        send(("results", inner.run(targets, task, lambda e: send(("event", e)))))
    except BaseException:
        code = 1
    finally:
        conn.close()
        os._exit(code)
