"""`mspctl config backup`: read running configs over SSH, store them in git, one commit per run.

Each device's config is cleaned of volatile lines (timestamps, byte counts) and scrubbed of
secrets (`mspctl.secrets`, by the device's platform) before it is written, so an unchanged
device makes no commit and no secret reaches the repository: not its files, not the commit
message. A failed device keeps its previous backup; the run still commits the rest.

Interrupted (SIGINT/SIGTERM, `mspctl.interrupts`): no new device starts, the ones in flight
finish, and what they gave is committed as usual; the others are `skipped` (`MSP-RUN-499`) and
the record and commit message say `interrupted`. A signal never lands between a file and its
commit: the signal only sets the flag.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mspctl.adapters.git import GitRepo
from mspctl.adapters.netmiko import DeviceTarget
from mspctl.drift.configtext import clean
from mspctl.errors import PathEscapeError, RefusedError, RunInterrupted, StorageError
from mspctl.escape import escape_text
from mspctl.executor import Event, Executor, TargetResult, TaskContext
from mspctl.files import path_in, write_atomic
from mspctl.interrupts import stopped_by, unless_stopped
from mspctl.model import Asset
from mspctl.records import RecordStore, RunRecord, new_run_id
from mspctl.scale.jobs import RemoteTask, describe
from mspctl.secrets import scrub

if TYPE_CHECKING:
    from mspctl.run import Run

BackupStatus = Literal["changed", "unchanged", "new", "failed", "skipped"]
STATUSES: tuple[BackupStatus, ...] = ("new", "changed", "unchanged", "failed", "skipped")


@dataclass
class DeviceBackup:
    asset: Asset
    status: BackupStatus
    path: str | None = None
    error: str | None = None
    error_code: str | None = None
    duration: float = 0.0
    attempts: int = 0


@dataclass
class BackupRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    devices: list[DeviceBackup]
    commit: str | None
    repo: Path
    summary: dict[str, int] = field(default_factory=dict)
    interrupted: str = ""  # the signal that stopped the run, if one did

    def to_run(self, names: dict[str, str] | None = None) -> Run:
        """The one run value (`mspctl.run`): a result per device; `names`: the name each is
        printed by (the inventory's, which `-l` takes back), by NetBox key."""
        from mspctl.run import TargetResult as Result
        from mspctl.run import new_run

        names = names or {}
        devices: list[dict[str, Any]] = [
            {"device": d.asset.name, "id": d.asset.key, "name": names.get(d.asset.key, d.asset.name),
             "client": d.asset.client, "status": d.status, "path": d.path, "error": d.error,
             "error_code": d.error_code, "attempts": d.attempts, "seconds": round(d.duration, 2)}
            for d in self.devices]
        outcome = {"new": "ok", "changed": "ok", "unchanged": "ok", "failed": "failed", "skipped": "skipped"}
        return new_run(self.run_id, "backup", self.started_at, self.finished_at, [
            Result(d.asset.key, data["name"], d.asset.client, d.status, outcome[d.status],  # type: ignore[arg-type]
                   changed=d.status in ("new", "changed"), error=d.error, error_code=d.error_code,
                   duration=d.duration, data=data)
            for d, data in zip(self.devices, devices, strict=True)],
            interrupted=self.interrupted, params={"repo": str(self.repo), "commit": self.commit},
            summary_keys=STATUSES, document={"run_id": self.run_id, "commit": self.commit, "repo": str(self.repo),
                                             "summary": self.summary, "interrupted": self.interrupted or None,
                                             "devices": devices})


def backup_file(repo: Path, asset: Asset, shared: bool = False) -> Path:
    """``<repo>/<client>/<device>.cfg``, the names encoded by `mspctl.files.path_in` (ordinary
    names unchanged; a device without a client goes under ``no-client``). A name that two devices
    of one client share (`shared`) is a folder holding each one's ``<kind>-<id>.cfg``: two
    devices never share a file. Raises PathEscapeError when a symbolic link in the repository
    would take the file outside it."""
    if shared:
        return path_in(repo, asset.client or "no-client", asset.name, f"{asset.kind}-{asset.id}", suffix=".cfg")
    return path_in(repo, asset.client or "no-client", asset.name, suffix=".cfg")


def fetch_config(target: DeviceTarget, timeout: float, platform: str | None) -> str:
    """The device's running config as it is stored: cleaned and scrubbed. Read through the
    target's driver plugin (`target.driver`: netmiko, scrapli); raises its DeviceErrors."""
    from mspctl.devices import read_session

    with contextlib.closing(read_session(target, timeout)) as session:
        return scrub(clean(session.running_config()), platform)


def run_backup(assets: Sequence[Asset], targets: dict[str, DeviceTarget], unreachable: dict[str, tuple[str, str]],
               repo: GitRepo, executor: Executor, records: RecordStore,
               on_event: Callable[[Event], None] | None = None, stop: Callable[[], bool] | None = None,
               shared: frozenset[str] = frozenset()) -> BackupRun:
    """Back up `targets` (the reachable ones of `assets`) and commit them to `repo` under its lock.
    `stop` (a `mspctl.interrupts.StopFlag`): once set, no new device starts. Raises RefusedError
    (MSP-GIT-409, recorded) when another run keeps the repository busy."""
    started = datetime.now(UTC)
    run_id = new_run_id("backup", started)
    keys = [a.key for a in assets if a.key in targets]
    platforms = {a.key: a.platform for a in assets}

    def task(ctx: TaskContext) -> str:
        return fetch_config(targets[ctx.target], ctx.timeout, platforms[ctx.target])

    remote = RemoteTask("device.config", task, {k: describe(targets[k], platform=platforms[k]) for k in keys},
                        decode=lambda v: str(v["text"]), run_id=run_id)
    results = {r.target: r for r in executor.run(keys, unless_stopped(stop, remote), on_event)}
    try:
        with repo.locked(LOCK_WAIT):
            return _store(assets, results, unreachable, repo, records, run_id, started, stopped_by(stop), shared)
    except RefusedError as exc:  # another run holds the repository: recorded, nothing written
        records.save(RunRecord(run_id, "backup", started, datetime.now(UTC),
                               {"repo": str(repo.path), "refused": f"{exc.code}: {exc.message}"}, {}, {}))
        raise
    except StorageError as exc:  # the repository's disk is full: no commit; recorded where records live
        with contextlib.suppress(StorageError):
            records.save(RunRecord(run_id, "backup", started, datetime.now(UTC),
                                   {"repo": str(repo.path), "error": f"{exc.code}: {exc.message}"},
                                   {"read": sum(r.ok for r in results.values()), "committed": 0},
                                   {a.key: ("failed", {"device": a.name, "client": a.client,
                                                       "error": f"not stored: {exc.message}",
                                                       "error_code": exc.code}) for a in assets}))
        raise


def _dest(repo: GitRepo, asset: Asset, shared: bool) -> Path | PathEscapeError:
    """The asset's backup file, or the error of a name that would escape the repository."""
    try:
        return backup_file(repo.path, asset, shared)
    except PathEscapeError as exc:
        return exc


# How long a backup waits for another run on the same repository before it gives up (seconds).
LOCK_WAIT = 120.0


def _store(assets: Sequence[Asset], results: dict[str, TargetResult[str]], unreachable: dict[str, tuple[str, str]],
           repo: GitRepo, records: RecordStore, run_id: str, started: datetime, interrupted: str = "",
           shared: frozenset[str] = frozenset()) -> BackupRun:
    """Write this run's configs and commit them (under the repository lock). A device's status is
    judged against the last commit, not the working tree, so a file a killed run left behind is
    this run's change only if it still differs from HEAD, and the commit holds only this run's files."""
    devices: list[DeviceBackup] = []
    dests = {a.key: _dest(repo, a, a.key in shared) for a in assets}
    committed = repo.committed_all([  # one git process for the run, not one a device
        d.relative_to(repo.path).as_posix() for k, d in dests.items()
        if isinstance(d, Path) and k in results and results[k].ok])
    for asset in assets:
        dest = dests[asset.key]
        if isinstance(dest, PathEscapeError):
            devices.append(DeviceBackup(asset, "failed", None, dest.message, dest.code))
            continue
        rel = dest.relative_to(repo.path).as_posix()
        if asset.key in unreachable:
            reason, code = unreachable[asset.key]
            devices.append(DeviceBackup(asset, "skipped" if code == "MSP-DEV-415" else "failed", rel, reason, code))
            continue
        res = results[asset.key]
        if res.error_type == RunInterrupted.__name__:  # never started: its previous backup stays
            devices.append(DeviceBackup(asset, "skipped", rel, f"not backed up: the run was interrupted by "
                                        f"{interrupted or 'a signal'}", RunInterrupted.code))
            continue
        if not res.ok or res.value is None:
            devices.append(DeviceBackup(asset, "failed", rel, res.error, res.error_type, res.duration, res.attempts))
            continue
        old = committed[rel] if rel in committed else repo.committed(rel)
        # Scrubbed in the worker already; again here, where the secrets registered in this
        # process (the credentials it resolved) are certainly known.
        text = scrub(res.value, asset.platform)
        status: BackupStatus = "new" if old is None else ("unchanged" if old == text else "changed")
        if not dest.exists() or dest.read_text(encoding="utf-8") != text:
            write_atomic(dest, text)
        devices.append(DeviceBackup(asset, status, rel, duration=res.duration, attempts=res.attempts))
    summary: dict[str, int] = {s: sum(d.status == s for d in devices) for s in STATUSES}
    message = (f"backup {run_id}: {summary['new']} new, {summary['changed']} changed, "
               f"{summary['unchanged']} unchanged, {summary['failed']} failed" +
               (f"; interrupted by {interrupted}, {summary['skipped']} skipped" if interrupted else "") + "\n\n" +
               "".join(f"failed: {escape_text(d.asset.name)}: {escape_text(d.error or '')}\n"
                       for d in devices if d.status == "failed"))
    commit = repo.commit_paths([d.path for d in devices if d.path and d.status in ("new", "changed")],
                               scrub(message))
    finished = datetime.now(UTC)
    records.save(RunRecord(run_id, "backup", started, finished,
                           {"repo": str(repo.path), "interrupted": interrupted or None},
                           {**summary, "commit": commit},
                           {d.asset.key: (d.status, {"device": d.asset.name, "client": d.asset.client, "path": d.path,
                                                     "error": d.error, "error_code": d.error_code,
                                                     "duration": d.duration, "attempts": d.attempts})
                            for d in devices}))
    return BackupRun(run_id, started, finished, devices, commit, repo.path, summary, interrupted)
