"""`mspctl patch window --client X`: one client's unattended patch window, for scheduled CI jobs.

- The client's maintenance window (``inventory/clients.yml``, else the tenant's
  ``maintenance_window`` custom field in NetBox) must be open, unless forced; no new batch
  starts after its cutoff.
- A lock file per client: a second window for the same client is refused while one runs.
- Resumable: after each batch, the finished hosts are saved beside the lock. A killed run
  leaves that file; the next run for the client in the same window opening takes over its run
  id, re-reads every host's packages, keeps the saved result of a host only while the host
  still has what that result says (a host restored from a snapshot is patched again), and
  works on the rest. Resume state of another opening is sealed as an unfinished run record and
  not resumed. A finished run removes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mspctl.errors import ConfigError, RefusedError
from mspctl.files import path_in, private_file, write_atomic
from mspctl.interrupts import stopped_by
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import MaintenanceWindow
from mspctl.patch.service import (
    EventFn,
    HostResult,
    PatchRun,
    finish,
    patch_targets,
    plan_batches,
    rollout_gates,
    run_batches,
    scan_hosts,
)
from mspctl.records import RecordStore, new_run_id
from mspctl.settings import Settings
from mspctl.windows import WindowState, current_time, parse_window_text, window_state

if TYPE_CHECKING:
    from mspctl.adapters.ansible import AnsibleRunner

# Results a resumed window keeps; any other host is scanned (and patched) again.
KEEP_ON_RESUME = ("patched", "compliant")


@dataclass
class SavedWindow:
    """What an interrupted window left behind."""

    run_id: str
    started_at: datetime
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> HostResult.to_dict()
    opening: str | None = None  # the window occurrence (its start, UTC) the run belongs to
    # host -> {"batch": N, "scan": HostScan.to_dict()}: a batch about to start, with each host's
    # packages and boot id before it; what a kill leaves here is found again from the host.
    in_flight: dict[str, dict[str, Any]] = field(default_factory=dict)


class WindowLock:
    """An exclusive lock per client (``<state>/<client>.lock``) plus its resume file
    (``<state>/<client>.json``), the client's name encoded by `mspctl.files.path_in`. Raises
    PathEscapeError when a symbolic link in the state folder would take either outside it."""

    def __init__(self, state_dir: Path, client: str) -> None:
        self.lock_path = path_in(state_dir, client, suffix=".lock")
        self.resume_path = path_in(state_dir, client, suffix=".json")
        self.client = client
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        private_file(self.lock_path)
        fh = self.lock_path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RefusedError(f"a patch window for client {self.client} is already running ({holder})",
                               code="MSP-WIN-409",
                               hint=f"wait for it; the lock is {self.lock_path}") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def saved(self) -> SavedWindow | None:
        try:
            data = json.loads(self.resume_path.read_text())
            return SavedWindow(data["run_id"], datetime.fromisoformat(data["started_at"]), data["hosts"],
                               data.get("opening"), data.get("in_flight") or {})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{self.resume_path}: unreadable resume state ({exc})",
                              hint="delete it to start the window from scratch") from None

    def save(self, saved: SavedWindow) -> None:
        write_atomic(self.resume_path, json.dumps({"run_id": saved.run_id, "started_at": saved.started_at.isoformat(),
                                                   "hosts": saved.hosts, "opening": saved.opening,
                                                   "in_flight": saved.in_flight}, default=str))

    def finish(self) -> None:
        self.resume_path.unlink(missing_ok=True)


def _seal_expired(settings: Settings, tenant: str, saved: SavedWindow, opening: str | None) -> None:
    """Record the run a killed window of another opening left: what its hosts' saved results
    say, marked unfinished. Its id is never reused."""
    from mspctl.records import RunRecord

    results = {name: (str(data.get("status") or "unfinished"), data) for name, data in saved.hosts.items()}
    for name, flight in saved.in_flight.items():
        if name not in results:
            results[name] = ("unfinished", {"host": name, "batch": flight.get("batch"), "status": "unfinished",
                                            "error": "its batch was running when the window was killed, and no "
                                                     "run of that opening read the host again"})
    summary: dict[str, int] = {}
    for status, _ in results.values():
        summary[status] = summary.get(status, 0) + 1
    RecordStore(settings.records_location).save(RunRecord(
        saved.run_id, "patch-window", saved.started_at, datetime.now(UTC),
        {"client": tenant, "applied": True, "unfinished": True,
         "expired": f"its window opening {saved.opening} is over (now {opening})"}, summary, results))


@dataclass(frozen=True)
class Recovered:
    """What a host got from a killed window's batch, found on the host itself on resume."""

    batch: int | None
    installed: tuple[str, ...]
    rebooted: bool


def _recover_in_flight(saved: SavedWindow, scanned: list[HostResult]) -> dict[str, Recovered]:
    """For each host a killed run was patching, what it got: its packages and boot id now against
    those saved before the batch started. Hosts that cannot be read now stay in flight."""
    from mspctl.patch.model import HostScan, changes_since

    out: dict[str, Recovered] = {}
    for r in scanned:
        flight = saved.in_flight.get(r.host.name)
        if flight is None or r.scan is None or not r.scan.reachable:
            continue
        installed, rebooted = changes_since(HostScan.from_dict(flight["scan"]), r.scan)
        out[r.host.name] = Recovered(flight.get("batch"), installed, rebooted)
    return out


@contextlib.contextmanager
def locked(state_dir: Path, client: str) -> Iterator[WindowLock]:
    lock = WindowLock(state_dir, client)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def client_window(inventory: InventoryService, client: str, mode: Mode) -> tuple[str, MaintenanceWindow, str]:
    """(tenant slug, window, where it is defined) of a client given by tenant slug or clients.yml key."""
    known = inventory.clients(mode)
    (tenant,) = inventory.resolve_clients([client], known)
    cs = inventory.client_settings.get(tenant)
    if cs is not None and cs.maintenance_window is not None:
        return tenant, cs.maintenance_window, cs.source or "inventory/clients.yml"
    record = next((c for c in known if c.slug == tenant), None)
    text = (record.custom_fields or {}).get("maintenance_window") if record else None
    if not text:
        raise ConfigError(f"client {tenant} has no maintenance window",
                          hint="set maintenance_window in inventory/clients.yml or the tenant's custom field "
                               "in NetBox (e.g. `sat 22:00-02:00 Europe/Berlin`)")
    where = f"NetBox tenant {tenant} custom field maintenance_window"
    return tenant, parse_window_text(str(text), where), where


def check_window(client: str, window: MaintenanceWindow, where: str, now: datetime, force: bool) -> WindowState:
    """The window's state now; raises RefusedError when it is not open and `force` is not given."""
    state = window_state(window, now)
    if not state.open and not force:
        raise RefusedError(f"client {client}'s maintenance window ({where}) is {state.reason}; "
                           f"now is {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                           hint="run it inside the window, or pass --force to patch now")
    return state


def run_window(settings: Settings, inventory: InventoryService, client: str, *, force: bool = False,
               mode: Mode = "auto", writeback: bool = True, on_event: EventFn | None = None,
               runner: AnsibleRunner | None = None, stop: Callable[[], bool] | None = None) -> PatchRun:
    """One client's patch window: refuse outside it (unless `force`), lock, resume what a killed
    run left, scan, patch in batches until done, the cutoff or the failure limit, record, and
    write each host's result to NetBox. Raises RefusedError (closed window, lock held)."""
    from mspctl.patch.service import ordered, runner_for

    now = current_time()
    tenant, window, where = client_window(inventory, client, mode)
    state = check_window(tenant, window, where, now, force)
    with locked(settings.patch.state, tenant) as lock, contextlib.ExitStack() as stack:
        opening = state.starts_at.isoformat() if state.starts_at else None
        saved = lock.saved()
        if saved is not None and saved.opening != opening:
            _seal_expired(settings, tenant, saved, opening)  # another opening's run: recorded, not resumed
            lock.finish()
            saved = None
        run_id = saved.run_id if saved else new_run_id("patch-window", now)
        started = saved.started_at if saved else datetime.now(UTC)
        saved = saved or SavedWindow(run_id, started, opening=opening)
        hosts, skipped = patch_targets(settings, inventory, AssetFilter(clients=(tenant,)), mode)
        p = settings.patch
        own = stack.enter_context(runner_for(settings, runner))
        # Every host is read again, kept ones included: a saved result is trusted only while the
        # host still has what it says (a VM rolled back to a snapshot has not).
        scanned = scan_hosts(settings, hosts, own, on_event) if hosts else []
        kept: list[HostResult] = []
        found: list[HostResult] = []
        rejected: list[str] = []
        recovered = _recover_in_flight(saved, scanned)
        for r in scanned:
            data = saved.hosts.get(r.host.name)
            if data is not None and data.get("status") in KEEP_ON_RESUME:
                if r.compliance.state == "COMPLIANT":
                    kept.append(replace(HostResult.restore(r.host, data), compliance=r.compliance, scan=r.scan))
                    continue
                rejected.append(r.host.name)
            got = recovered.get(r.host.name)
            if got is not None and r.compliance.state == "COMPLIANT" and (got.installed or got.rebooted):
                # patched by the killed run's batch in flight: that is this run's result for it
                done = replace(r, status="patched", batch=got.batch, installed=got.installed, rebooted=got.rebooted,
                               patched_at=r.scan.scanned_at if r.scan else datetime.now(UTC))
                kept.append(done)
                saved.hosts[r.host.name] = done.to_dict()
                saved.in_flight.pop(r.host.name, None)
                continue
            found.append(r)
        if recovered:
            lock.save(saved)
        kept_names = {r.host.name for r in kept}
        plan = plan_batches(found, p.canary, p.batch_size)
        gates = rollout_gates(settings, len(hosts), stop)
        if state.open and state.cutoff_at is not None:
            cutoff = state.cutoff_at

            def before_cutoff(_: list[HostResult]) -> str | None:
                at = current_time()
                return f"the window's cutoff passed ({cutoff:%H:%M} UTC)" if at >= cutoff else None
            gates.insert(0, before_cutoff)

        def take_off(no: int, batch: list[HostResult]) -> None:
            for r in batch:  # a host read again on resume keeps the state before the first attempt
                if r.scan is not None:
                    saved.in_flight.setdefault(r.host.name, {"batch": no, "scan": r.scan.to_dict()})
            lock.save(saved)

        def persist(batch: list[HostResult]) -> None:
            for r in batch:
                got = recovered.get(r.host.name)
                if got is not None:  # what the killed attempt got counts too
                    r.installed = tuple(sorted(set(r.installed) | set(got.installed)))
                    r.rebooted = r.rebooted or got.rebooted
                    r.patched_at = r.patched_at or (datetime.now(UTC) if got.installed or got.rebooted else None)
                saved.in_flight.pop(r.host.name, None)
            saved.hosts.update({r.host.name: r.to_dict() for r in batch})
            lock.save(saved)

        patched, stopped = run_batches(settings, own, plan, gates, on_event, persist, take_off)
        unread = sorted(set(saved.in_flight) - set(recovered))
        for r in plan.done:
            if r.host.name in unread:  # a host the killed run was patching, and unreadable now
                r.error = (f"{r.error}; " if r.error else "") + (
                    "it was being patched when the window this run resumes was killed: what it got is unknown "
                    "until it can be read")
        run = PatchRun(run_id, "patch-window", started, datetime.now(UTC), ordered(kept + plan.done + patched),
                       applied=True, stopped=stopped,
                       params={"client": tenant, "window": where, "window_state": state.reason, "forced": force,
                               "resumed_hosts": sorted(kept_names), "resume_rejected": sorted(rejected),
                               "recovered": {n: {"batch": g.batch, "installed": list(g.installed),
                                                 "rebooted": g.rebooted} for n, g in sorted(recovered.items())},
                               "in_flight_unread": unread,
                               "canary": p.canary,
                               "batch_size": p.batch_size, "max_fail_percent": p.max_fail_percent},
                       interrupted=stopped_by(stop), not_applicable=skipped)
        # Recorded whatever the write-back does, before the resume state goes: an interrupted
        # window is a finished run too (the next one rescans every host it did not finish).
        finish(settings, inventory, run, writeback)
        lock.finish()
    return run

