"""The job format of distributed runs: what crosses the broker, and the operations workers know.

A run that may go to worker machines hands its executor a `RemoteTask` instead of a bare
closure. The task still runs locally as before (`local`), and it also says, as plain data, what
a worker must do: an *operation name* from `OPERATIONS`, the run's parameters, and per target a
*description* that names the target by its NetBox object and its credentials by reference.

**No secret ever crosses the broker.** `describe` drops the username, password and enable
secret of a `DeviceTarget` and keeps only the name of its credentials (``acme-netops``); the
worker resolves that name with its own `CredentialStore` (environment, credentials file,
keyring). What comes back is what the local task returns: scrubbed configs, versions, results.

A batch (`Batch`) is the unit a worker takes: the run's job id, a batch number and attempt,
the operation, its targets, and the MSP repository version the run was planned against. A
worker whose repository differs refuses the batch (MSP-EXEC-409 per target) rather than apply
other templates or baselines than the coordinator planned with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mspctl.settings import Settings

from mspctl.executor import TaskContext

# The keys of a DeviceTarget that never leave the machine that resolved them.
_SECRET_FIELDS = frozenset({"username", "password", "secret"})


@dataclass(frozen=True)
class RemoteTask[T]:
    """A task an executor may run here (`local`) or hand to workers (`operation` on `specs`).

    `specs`: per target key, its JSON description (see `describe`); `params`: the run's JSON
    parameters; `decode`: turns the operation's JSON value back into what `local` returns;
    `change`: the operation changes its targets (never re-run blindly, see docs/scale.md);
    `run_id`: the run the batches belong to (for the workers' logs and events)."""

    operation: str
    local: Callable[[TaskContext], T]
    specs: Mapping[str, Mapping[str, Any]]
    params: Mapping[str, Any] = field(default_factory=dict)
    decode: Callable[[Any], T] = field(default=lambda v: v)
    change: bool = False
    run_id: str = ""
    stop: Callable[[], bool] | None = None
    # A change's journal entries, as the worker makes them: (target, event, data), written by the
    # coordinator into the run's journal as they arrive.
    on_journal: Callable[[str, str, dict[str, Any]], None] | None = None

    def __call__(self, ctx: TaskContext) -> T:
        return self.local(ctx)

    def guarded(self, guard: Callable[[Callable[[TaskContext], T]], Callable[[TaskContext], T]],
                stop: Callable[[], bool] | None) -> RemoteTask[T]:
        """The same task with `local` wrapped by `guard` (e.g. `unless_stopped`) and `stop` kept
        for the coordinator, which stops sending batches once it is set."""
        return replace(self, local=guard(self.local), stop=stop)


def describe(target: Any, **extra: Any) -> dict[str, Any]:
    """A `DeviceTarget` (any dataclass) as JSON, without its secrets; `extra` is added (e.g. the
    platform). A worker refuses a description without a credentials reference."""
    spec = {f.name: getattr(target, f.name) for f in fields(target) if f.name not in _SECRET_FIELDS}
    return {**spec, **extra}


@dataclass(frozen=True)
class Batch:
    """One message on the broker: JSON only (the workers accept no pickle)."""

    job: str  # the run's job id: <run id>-<random>, the key of its events and claims
    number: int
    attempt: int
    operation: str
    targets: Sequence[Mapping[str, Any]]  # each a description with its "key"
    params: Mapping[str, Any]
    repository: str  # the MSP repository version the run was planned against
    change: bool
    timeout: float  # per target, all attempts included
    retries: int
    threads: int  # targets of this batch worked on at once

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "number": self.number, "attempt": self.attempt, "operation": self.operation,
                "targets": [dict(t) for t in self.targets], "params": dict(self.params),
                "repository": self.repository, "change": self.change, "timeout": self.timeout,
                "retries": self.retries, "threads": self.threads}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Batch:
        return cls(str(data["job"]), int(data["number"]), int(data["attempt"]), str(data["operation"]),
                   list(data["targets"]), dict(data["params"]), str(data["repository"]), bool(data["change"]),
                   float(data["timeout"]), int(data["retries"]), int(data["threads"]))


# -- what a worker's operation may use -----------------------------------------------------------
class _Here(threading.local):
    """The worker's side of the target an operation runs for (one thread per target): `emit`
    sends an event of it to the coordinator (kind, detail); `stop` tells the run was stopped."""

    emit: Callable[[str, str], None] | None = None
    stop: Callable[[], bool] | None = None


HERE = _Here()


class _Worker:
    settings: Settings | None = None


def worker_settings() -> Settings:
    """The settings of this `mspctl worker` (its MSP repository, its NetBox, its credentials)."""
    if _Worker.settings is None:
        raise RuntimeError("this operation runs in `mspctl worker` only")
    return _Worker.settings


def set_worker_settings(settings: Settings) -> None:
    _Worker.settings = settings


def journal(event: str, data: Mapping[str, Any]) -> None:
    """One journal entry of the current target, sent to the coordinator before this returns
    (it is in the broker's Redis when the worker goes on to touch the device)."""
    import json

    if HERE.emit is None:
        raise RuntimeError("no coordinator to journal to")
    HERE.emit("journal", json.dumps({"event": event, "data": dict(data)}))


def stopped() -> bool:
    return bool(HERE.stop and HERE.stop())


# -- the operations a worker can run -----------------------------------------------------------
# An operation: (the batch's params, one target's description, its TaskContext) -> a JSON value.
Operation = Callable[[Mapping[str, Any], Mapping[str, Any], TaskContext], Any]
OPERATIONS: dict[str, Operation] = {}
# A batch operation: one run over all of a batch's targets (ansible-runner over its hosts):
# (params, the targets' descriptions, progress(target, detail)) -> a JSON value per target key.
BatchOperation = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]], Callable[[str, str], None]],
                          Mapping[str, Any]]
BATCH_OPERATIONS: dict[str, BatchOperation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        return fn
    return register


def device_target(spec: Mapping[str, Any], store: Any = None) -> Any:
    """The `DeviceTarget` a description names, its credentials resolved here (on the worker)."""
    from mspctl.adapters.netmiko import DeviceTarget
    from mspctl.credentials import CredentialStore

    known = {f.name for f in fields(DeviceTarget)} - _SECRET_FIELDS
    if not spec.get("credentials"):
        raise ValueError(f"{spec.get('name')}: no credentials reference to resolve on this worker")
    creds = (store or CredentialStore()).get(str(spec["credentials"]), for_what=f"device {spec.get('name')}")
    return DeviceTarget(**{k: v for k, v in spec.items() if k in known}, username=creds.username,
                        password=creds.password, secret=creds.secret)


@operation("device.config")
def _device_config(params: Mapping[str, Any], spec: Mapping[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """A device's running config, cleaned and scrubbed (backup and live drift)."""
    from mspctl.backup.service import fetch_config

    text = fetch_config(device_target(spec), ctx.timeout, spec.get("platform"))
    return {"text": text, "at": datetime.now(UTC).isoformat()}


@operation("device.show")
def _device_show(params: Mapping[str, Any], spec: Mapping[str, Any], ctx: TaskContext) -> str:
    """The output of one read-only command (`params["command"]`, e.g. ``show version``)."""
    import contextlib

    from mspctl.devices import read_session

    command = str(params["command"])
    if not command.startswith("show "):
        raise ValueError(f"device.show runs show commands only, not {command!r}")
    with contextlib.closing(read_session(device_target(spec), ctx.timeout)) as session:
        return session.show(command)
