"""The distributed executor: batches of targets on `mspctl worker` machines, over Celery and Redis.

The coordinator (the `mspctl` command a person or a CI job runs) splits a run's targets into
batches (`[executor] batch_size`), sends each as one Celery task, and gathers the results as
they come; the CLI's progress bar follows the workers' events. Everything else of the run stays
with the coordinator: planning, records, the git commit of a backup, gates between the batches
of a patch window.

Delivery (docs/scale.md):

- acks are late and prefetch is 1: a worker acknowledges a batch only once it is done, and takes
  one batch at a time, so a worker that dies loses no other batch;
- the broker's visibility timeout (`[executor] visibility_timeout`) must exceed the longest
  batch: after it, a batch a worker took but never acknowledged (it died, or went dark) is
  delivered again, to whichever worker is free;
- a read (backup, drift, scan) delivered again simply runs again, and the coordinator keeps the
  first complete result of each batch: nothing is counted twice;
- a change is never run blindly twice: a worker claims a change batch in Redis before it starts,
  and a second delivery of a claimed batch returns its targets as `unfinished` (MSP-EXEC-425),
  which the run reports with what they were, for the change journal to resolve.

No secret crosses the broker (`mspctl.scale.jobs`): batches name credentials by reference, and
what comes back is what a local run would have recorded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mspctl.errors import BatchLost, ConfigError, ExecutorError, RunInterrupted
from mspctl.executor import Event, Executor, TargetResult, TaskContext, ThreadExecutor
from mspctl.redact import redact
from mspctl.scale.jobs import BATCH_OPERATIONS, HERE, OPERATIONS, Batch, RemoteTask, set_worker_settings

if TYPE_CHECKING:
    from celery import Celery

    from mspctl.settings import ExecutorSettings, Settings

LOG = logging.getLogger(__name__)
TASK = "mspctl.batch"
KEY_TTL = 86400  # seconds the coordination keys of a job outlive it in Redis
UNFINISHED = "MSP-EXEC-425"
READ_ATTEMPTS = 3  # a read batch is sent at most this often (a change batch once)
VERSION_MISMATCH = "MSP-EXEC-409"


def make_app(executor: ExecutorSettings) -> Celery:
    """The Celery application of these settings: JSON only, late acks, prefetch 1."""
    from celery import Celery

    if not executor.broker_url:
        raise ConfigError("executor.backend = 'celery' needs a broker",
                          hint="set [executor] broker_url or MSPCTL_BROKER_URL")
    app = Celery("mspctl", broker=executor.broker_url, backend=executor.broker_url, set_as_current=False)
    transport = {"visibility_timeout": executor.visibility_timeout,
                 # Workers look for batches past their visibility timeout this often (kombu's own
                 # default sweeps only every 10 x 10 s).
                 "unacked_restore_interval": restore_interval(executor), "unacked_restore_throttle": 1}
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"],
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        broker_transport_options=transport, result_backend_transport_options=transport,
        task_default_queue=executor.queue, result_expires=KEY_TTL, broker_connection_retry_on_startup=True,
        broker_connection_timeout=5, worker_hijack_root_logger=False, worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True)(_run_batch)
    return app


def restore_interval(executor: ExecutorSettings) -> int:
    """Seconds between a worker's sweeps for batches other workers took and never acknowledged."""
    return max(1, min(10, executor.visibility_timeout // 8))


def _keys(job: str) -> dict[str, str]:
    base = f"mspctl:job:{job}"
    return {"events": f"{base}:events", "stop": f"{base}:stop", "closed": f"{base}:closed", "claim": f"{base}:claim"}


def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


# -- the worker side ---------------------------------------------------------------------------
@dataclass
class WorkerState:
    """What a worker process knows: its settings, its MSP repository's version and its name."""

    settings: Settings
    repository: str
    name: str
    _redis: Any = field(default=None, repr=False)
    _pid: int = field(default=0, repr=False)

    def repository_now(self) -> str:
        """The repository's version as it is now (a `git pull` between two batches counts)."""
        from mspctl.provenance import repository_version

        self.repository = repository_version(self.settings.repo)
        return self.repository

    def redis(self) -> Any:
        if self._redis is None or self._pid != os.getpid():  # one client per (forked) process
            self._redis, self._pid = _redis(self.settings.executor.broker_url), os.getpid()
        return self._redis


class _This:
    """The worker state of this process (set once by `serve`, before the pool forks)."""

    worker: WorkerState | None = None


def serve(settings: Settings, *, concurrency: int | None = None, queues: Sequence[str] = (),
          hostname: str | None = None, pool: str = "prefork", ready_file: Path | None = None) -> None:
    """Run a Celery worker for these settings in the foreground until it is stopped. It resolves
    credentials from its own environment and files, and refuses batches planned against another
    version of the MSP repository."""
    from celery.signals import worker_ready

    import mspctl.scale.patching  # registers the patch batch operations
    import mspctl.scale.pushing  # noqa: F401 - registers the push operation
    from mspctl.credentials import CredentialStore
    from mspctl.provenance import repository_version

    CredentialStore().register_all()  # every secret it may meet is masked in its logs and results
    name = hostname or f"mspctl@{os.uname().nodename}"
    # What a worker runs, it runs here: its own runs of the operations never go to the broker again.
    settings = replace(settings, executor=replace(settings.executor, backend="local"))
    _This.worker = WorkerState(settings, repository_version(settings.repo), name)
    set_worker_settings(settings)
    app = make_app(settings.executor)
    if ready_file is not None:
        def ready(**_: Any) -> None:
            ready_file.write_text(json.dumps({"name": name, "pid": os.getpid()}), encoding="utf-8")
        worker_ready.connect(ready, weak=False)
    argv = ["worker", "--loglevel", "WARNING", "--hostname", name, "--pool", pool,
            "--queues", ",".join(queues or [settings.executor.queue]), "--without-gossip", "--without-mingle"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    app.worker_main(argv)


def _result(r: TargetResult[Any]) -> dict[str, Any]:
    return {"target": r.target, "status": r.status, "value": r.value, "error": r.error, "error_type": r.error_type,
            "attempts": r.attempts, "started_at": r.started_at.isoformat(), "duration": r.duration}


def _all(batch: Batch, error: str, error_type: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [{"target": t["key"], "status": "failed", "value": None, "error": error, "error_type": error_type,
             "attempts": 0, "started_at": now, "duration": 0.0} for t in batch.targets]


def _run_batch(self: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """The Celery task: run one batch's targets on this worker's threads, streaming events."""
    worker = _This.worker
    if worker is None:
        raise RuntimeError("mspctl.batch runs in `mspctl worker` only")
    batch = Batch.from_json(data)
    r = worker.redis()
    keys = _keys(batch.job)
    out: dict[str, Any] = {"worker": worker.name, "number": batch.number, "attempt": batch.attempt}

    def emit(kind: str, target: str = "", detail: str = "") -> None:
        r.rpush(keys["events"], json.dumps({"kind": kind, "target": target, "detail": detail,
                                            "batch": batch.number, "attempt": batch.attempt,
                                            "worker": worker.name}))
        r.expire(keys["events"], KEY_TTL)

    if r.exists(keys["closed"]):  # the run ended without this delivery (it was redelivered late)
        return {**out, "stale": True, "results": []}
    claim = f"{keys['claim']}:{batch.number}"
    if batch.change and not r.set(claim, worker.name, nx=True, ex=KEY_TTL):
        if _still_running(r, claim):
            # The broker handed the batch on while its holder still runs it (a change is not
            # bounded by the device timeout, so it can outlast the visibility timeout): the holder
            # reports it. Ignore: no result and no event from this delivery, the message acked.
            from celery.exceptions import Ignore

            LOG.warning("batch %d of job %s was delivered again while %s still runs it; left to it",
                        batch.number, batch.job, (r.get(claim) or b"its holder").decode())
            raise Ignore()
        emit("batch-start", detail=str(batch.attempt))
        holder = r.get(claim)
        out["results"] = _all(batch, f"{UNFINISHED}: unfinished: this change batch was taken before by "
                                     f"{(holder or b'another worker').decode()}, which did not finish it; "
                                     "never run twice", "Unfinished")
        emit("batch-done")
        return out
    emit("batch-start", detail=str(batch.attempt))
    if batch.change:
        with _heartbeat(r, claim):
            return _run_claimed(batch, worker, r, keys, emit, out)
    return _run_claimed(batch, worker, r, keys, emit, out)


# A change batch's holder refreshes ``<claim>:alive`` every HEARTBEAT seconds (it expires after
# HEARTBEAT_TTL): a second delivery of the batch tells a holder that still runs it from one that died.
HEARTBEAT = 2.0
HEARTBEAT_TTL = 6


@contextlib.contextmanager
def _heartbeat(r: Any, claim: str) -> Iterator[None]:
    """``<claim>:alive`` kept fresh while the batch runs, removed when it ends (a daemon thread)."""
    import threading

    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT):
            with contextlib.suppress(Exception):  # the broker away for a moment: the next beat tries again
                r.set(f"{claim}:alive", "1", ex=HEARTBEAT_TTL)

    r.set(f"{claim}:alive", "1", ex=HEARTBEAT_TTL)
    thread = threading.Thread(target=beat, name="mspctl-claim-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        with contextlib.suppress(Exception):
            r.delete(f"{claim}:alive")


def _still_running(r: Any, claim: str, wait: float = 2 * HEARTBEAT_TTL) -> bool:
    """Whether the holder of `claim` still runs its batch: its heartbeat is fresh for `wait`
    seconds (a holder that just died stops beating within HEARTBEAT_TTL)."""
    deadline = time.monotonic() + wait
    while r.exists(f"{claim}:alive"):
        if time.monotonic() >= deadline:
            return True
        time.sleep(HEARTBEAT / 2)
    return False


def _run_claimed(batch: Batch, worker: WorkerState, r: Any, keys: Mapping[str, str],
                 emit: Callable[..., None], out: dict[str, Any]) -> dict[str, Any]:
    """Run a batch this delivery may run (a read, or a change it claimed)."""
    here = worker.repository_now()
    if batch.repository != here:
        out["results"] = _all(batch, f"{VERSION_MISMATCH}: worker {worker.name}'s MSP repository is at "
                                     f"{here}, the run was planned at {batch.repository}",
                              "VersionMismatch")
        emit("batch-done")
        return out
    whole = BATCH_OPERATIONS.get(batch.operation)
    if whole is not None:  # one run over the whole batch (ansible-runner over its hosts)
        try:
            values = whole(batch.params, batch.targets, lambda target, detail: emit("progress", target, detail))
        except Exception as exc:  # the batch's targets fail with it; the other batches go on
            out["results"] = _all(batch, redact(f"{type(exc).__name__}: {exc}"), type(exc).__name__)
        else:
            now = datetime.now(UTC).isoformat()
            out["results"] = [{"target": str(t["key"]), "status": "ok", "value": values.get(str(t["key"])),
                               "error": None, "error_type": None, "attempts": 1, "started_at": now, "duration": 0.0}
                              for t in batch.targets]
        emit("batch-done")
        return out
    op = OPERATIONS.get(batch.operation)
    if op is None:
        out["results"] = _all(batch, f"worker {worker.name} knows no operation {batch.operation!r}", "UnknownOperation")
        emit("batch-done")
        return out
    specs = {str(t["key"]): t for t in batch.targets}

    def stop() -> bool:
        return bool(r.exists(keys["stop"]))

    def task(ctx: TaskContext) -> Any:
        if stop():
            raise RunInterrupted("not started: the run was interrupted")
        HERE.emit = lambda kind, detail: emit(kind, ctx.target, detail)
        HERE.stop = stop
        try:
            return op(batch.params, specs[ctx.target], ctx)
        finally:
            HERE.emit = HERE.stop = None

    def on_event(e: Event) -> None:
        emit(e.kind, e.target, e.detail)

    executor = ThreadExecutor(workers=max(1, batch.threads), timeout=batch.timeout, retries=batch.retries,
                              retry_on=(OSError,), abandon=not batch.change)
    out["results"] = [_result(x) for x in executor.run(list(specs), task, on_event)]
    emit("batch-done")
    return out


# -- the coordinator side ----------------------------------------------------------------------
@dataclass
class CeleryExecutor:
    """An `Executor` whose `RemoteTask`s run on workers; other tasks run on `local`."""

    settings: Settings
    local: Executor
    timeout: float
    retries: int
    threads: int
    change: bool = False
    poll: float = 0.5
    _app: Celery | None = field(default=None, repr=False)

    @property
    def app(self) -> Celery:
        if self._app is None:
            self._app = make_app(self.settings.executor)
        return self._app

    def run[T](self, targets: Sequence[str], task: Callable[[TaskContext], T],
               on_event: Callable[[Event], None] | None = None) -> list[TargetResult[T]]:
        if not targets:
            return []
        if not isinstance(task, RemoteTask):
            LOG.debug("this operation is not distributed: it runs on this machine")
            return self.local.run(targets, task, on_event)
        return self.dispatch(task, targets, on_event)

    def dispatch[T](self, task: RemoteTask[T], targets: Sequence[str], on_event: Callable[[Event], None] | None = None,
                    on_progress: Callable[[str, str], None] | None = None,
                    timeout: float | None = None) -> list[TargetResult[T]]:
        """Run `task` on the workers, in batches; `on_progress` sees a batch operation's own
        progress lines (target, detail); `timeout`: the longest a batch may take (default: the
        per-target timeout, all the batch's targets running at once)."""
        return _Coordination(self, task, list(targets), on_event or (lambda _e: None), on_progress,
                             timeout or self.timeout).run()


@dataclass
class _Pending:
    batch: Batch  # its latest attempt
    last_seen: float
    taken: bool = False  # a worker said it started the batch (else it waits in the queue)
    workers: list[str] = field(default_factory=list)  # who started it, in order (a redelivery adds one)
    task_ids: dict[int, str] = field(default_factory=dict)  # per attempt sent

    @property
    def task_id(self) -> str:
        return self.task_ids[self.batch.attempt]


class _Coordination[T]:
    """One distributed run: send the batches, follow the events, gather the results."""

    def __init__(self, ex: CeleryExecutor, task: RemoteTask[T], targets: list[str], emit: Callable[[Event], None],
                 on_progress: Callable[[str, str], None] | None, longest: float) -> None:
        from mspctl.provenance import repository_version

        self.ex, self.task, self.targets, self.emit, self.on_progress = ex, task, targets, emit, on_progress
        exs = ex.settings.executor
        # A batch's targets run `threads` at a time, each within `longest`: so many waves at most.
        size = min(exs.batch_size, max(1, len(targets)))
        self.longest = longest = longest * -(-size // max(1, min(ex.threads, size)))
        if exs.visibility_timeout <= longest + 5:
            raise ConfigError(f"executor.visibility_timeout = {exs.visibility_timeout} s is not longer than the "
                              f"longest batch ({longest:.0f} s)",
                              hint="raise [executor] visibility_timeout, or lower the run's timeout")
        self.redis = _redis(exs.broker_url)
        try:
            self.redis.ping()
        except Exception as exc:
            raise ExecutorError(f"broker {redact(exs.broker_url)} cannot be reached: {type(exc).__name__}",
                                hint="start Redis, or check [executor] broker_url / MSPCTL_BROKER_URL") from None
        if not ex.app.control.ping(timeout=exs.ping_timeout, limit=1):
            raise ExecutorError(f"no mspctl worker answers on {redact(exs.broker_url)} (queue {exs.queue!r})",
                                hint="start one: `mspctl worker` (docs/scale.md), or set [executor] backend = 'local'")
        self.job = f"{task.run_id or 'run'}-{secrets.token_hex(4)}"
        self.keys = _keys(self.job)
        self.repository = repository_version(ex.settings.repo)
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.results: dict[str, TargetResult[T]] = {}
        self.stop_sent = False

    def run(self) -> list[TargetResult[T]]:
        size = self.ex.settings.executor.batch_size
        pending: dict[int, _Pending] = {}
        try:
            for n, start in enumerate(range(0, len(self.targets), size)):
                keys = self.targets[start:start + size]
                batch = Batch(self.job, n, 1, self.task.operation,
                              [{**self.task.specs[k], "key": k} for k in keys], dict(self.task.params),
                              self.repository, self.task.change, self.ex.timeout, self.ex.retries,
                              min(self.ex.threads, len(keys)))
                pending[n] = _Pending(batch, time.monotonic())
                self._send(pending[n])
            self._follow(pending)
        finally:
            self.redis.set(self.keys["closed"], "1", ex=KEY_TTL)
            self.redis.delete(self.keys["events"])
        return [self.results[t] for t in self.targets]

    def _send(self, p: _Pending) -> None:
        p.task_ids[p.batch.attempt] = task_id = f"{self.job}.{p.batch.number}.{p.batch.attempt}"
        self.ex.app.send_task(TASK, args=[p.batch.to_json()], task_id=task_id, queue=self.ex.settings.executor.queue)

    def _resend(self, p: _Pending, silent: float) -> None:
        """Send a read batch again: its worker went silent, and the broker did not hand the batch
        on (a consumer cut off mid-delivery can swallow a message the broker gave it)."""
        LOG.warning("batch %d of run %s: nothing heard from %s for %.0f s; sent again (attempt %d, a read)",
                    p.batch.number, self.task.run_id or self.job, " then ".join(p.workers) or "its worker", silent,
                    p.batch.attempt + 1)
        p.batch = replace(p.batch, attempt=p.batch.attempt + 1)
        p.taken, p.last_seen = False, time.monotonic()
        self._send(p)

    def _follow(self, pending: dict[int, _Pending]) -> None:
        # A batch a worker took is lost when nothing was heard of it for longer than a redelivery
        # takes: the broker hands it on after the visibility timeout, and a batch runs within
        # `longest`. A batch still in the queue waits its turn, however long the queue is, as
        # long as the run hears from some batch; when none speaks for that long, no worker is
        # left to take it.
        exs = self.ex.settings.executor
        patience = exs.visibility_timeout + restore_interval(exs) + self.longest + 30
        heard = time.monotonic()
        while pending:
            if self.task.stop and not self.stop_sent and self.task.stop():
                self.redis.set(self.keys["stop"], "1", ex=KEY_TTL)
                self.stop_sent = True
            item = self.redis.blpop([self.keys["events"]], timeout=self.ex.poll)
            now = time.monotonic()
            if item is not None:
                event = json.loads(item[1])
                n = int(event.get("batch", -1))
                if n in pending:
                    heard = pending[n].last_seen = now
                    pending[n].taken = True
                    if event["kind"] == "batch-done":
                        ended = pending.pop(n)
                        self._collect(ended, int(event.get("attempt", ended.batch.attempt)))
                    elif event["kind"] == "batch-start":
                        self._started(pending[n], str(event.get("worker", "?")))
                    else:
                        self._progress(event)
                continue
            for n, p in list(pending.items()):
                done = next((a for a, t in p.task_ids.items() if self.ex.app.AsyncResult(t).ready()), None)
                if done is not None:  # done, its event missed (e.g. trimmed)
                    self._collect(pending.pop(n), done)
                elif p.taken and now - p.last_seen > patience:
                    if not p.batch.change and p.batch.attempt < READ_ATTEMPTS:
                        self._resend(p, now - p.last_seen)
                    else:
                        self._lost(pending.pop(n))
                elif not p.taken and now - heard > patience and self._give_up(p):
                    self._never_taken(pending.pop(n))

    def _progress(self, event: Mapping[str, Any]) -> None:
        target, kind = str(event["target"]), event["kind"]
        if target not in self.task.specs:
            return
        if kind == "progress":
            if self.on_progress is not None:
                self.on_progress(target, str(event.get("detail", "")))
        elif kind == "started" and target not in self.started:
            self.started.add(target)
            self.emit(Event("started", target, len(self.finished), len(self.targets)))
        elif kind == "journal" and self.task.on_journal is not None:
            entry = json.loads(str(event.get("detail") or "{}"))
            self.task.on_journal(target, str(entry["event"]), dict(entry.get("data") or {}))
        elif kind == "retry":
            self.emit(Event("retry", target, len(self.finished), len(self.targets), str(event.get("detail", ""))))
        elif kind == "finished" and target not in self.finished:  # a redelivered batch repeats its events
            self.finished.add(target)
            self.emit(Event("finished", target, len(self.finished), len(self.targets), str(event.get("detail", ""))))

    def _collect(self, p: _Pending, attempt: int) -> None:
        res = self.ex.app.AsyncResult(p.task_ids.get(attempt, p.task_id))
        try:
            data = res.get(timeout=30, propagate=True)
        except Exception as exc:  # the task itself raised: every target of the batch failed with it
            data = {"results": _all(p.batch, redact(f"worker error: {type(exc).__name__}: {exc}"), "WorkerError")}
        finally:
            res.forget()
        for item in data.get("results", []):
            target = str(item["target"])
            if target in self.results or target not in self.task.specs:
                continue
            ok = item["status"] == "ok"
            self.results[target] = TargetResult(
                target, item["status"], value=self.task.decode(item["value"]) if ok else None,
                error=item.get("error"), error_type=item.get("error_type"), attempts=int(item.get("attempts", 0)),
                started_at=datetime.fromisoformat(item["started_at"]), duration=float(item.get("duration", 0.0)))
            if target not in self.finished:
                self.finished.add(target)
                self.emit(Event("finished", target, len(self.finished), len(self.targets), item["status"]))
        for t in p.batch.targets:  # a result with a target missing (cannot happen; never silently lost)
            if str(t["key"]) not in self.results:
                self._fail(str(t["key"]), "the worker returned no result for it", "WorkerError")

    def _lost(self, p: _Pending) -> None:
        what = ("unfinished: the worker that took this change batch was lost; what it did is not known"
                if p.batch.change else "no worker finished its batch: each worker that took it died or went dark")
        code = UNFINISHED if p.batch.change else BatchLost.code
        for t in p.batch.targets:
            if str(t["key"]) not in self.results:
                self._fail(str(t["key"]), f"{code}: {what}", "Unfinished" if p.batch.change else "BatchLost")

    def _started(self, p: _Pending, worker: str) -> None:
        if p.workers and worker not in p.workers:
            keys = ", ".join(str(t["key"]) for t in p.batch.targets)
            LOG.warning("batch %d of run %s (%s) was taken again, by %s: %s did not finish it (it died or went "
                        "dark); %s", p.batch.number, self.task.run_id or self.job, keys, worker,
                        " then ".join(p.workers),
                        "a change is never run twice: its targets are unfinished" if p.batch.change
                        else "a read is simply done again")
        p.workers.append(worker)

    def _give_up(self, p: _Pending) -> bool:
        """Take back a batch no worker started: a change batch's claim is taken by the coordinator,
        so no worker starts it later (False: a worker claimed it just now; it is running)."""
        if p.batch.change and not self.redis.set(f"{self.keys['claim']}:{p.batch.number}", "coordinator",
                                                 nx=True, ex=KEY_TTL):
            p.taken, p.last_seen = True, time.monotonic()
            return False
        return True

    def _never_taken(self, p: _Pending) -> None:
        for t in p.batch.targets:
            if str(t["key"]) not in self.results:
                self._fail(str(t["key"]), f"{BatchLost.code}: no worker took its batch (not started)", "BatchLost")

    def _fail(self, target: str, error: str, error_type: str) -> None:
        self.results[target] = TargetResult(target, "failed", error=error, error_type=error_type)
        if target not in self.finished:
            self.finished.add(target)
            self.emit(Event("finished", target, len(self.finished), len(self.targets), "failed"))


@dataclass(frozen=True)
class CeleryBackend:
    """The `mspctl.executors` plugin ``celery``: device runs as batches on `mspctl worker`s."""

    name: str = "celery"

    def executor(self, settings: Settings, *, spread: bool = False, change: bool = False) -> Executor:
        d = settings.devices
        local = ThreadExecutor(workers=d.workers, timeout=d.timeout, retries=d.retries, retry_on=(OSError,),
                               abandon=not change)
        return CeleryExecutor(settings, local, timeout=d.timeout, retries=d.retries,
                              threads=min(d.workers, settings.executor.batch_size), change=change)


CELERY = CeleryBackend()
