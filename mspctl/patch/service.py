"""`mspctl patch scan|apply|status`: patch state and patch runs over the selected servers.

Scan: one ansible-runner run of ``playbooks/patch_scan.yml`` over the hosts, then each host's
evidence is compared with its baseline (compliance.py). Apply: the approved updates of each
non-compliant host are installed through ``playbooks/patch_apply.yml`` in batches (a canary
first), stopping once too many hosts failed or, in a window, once its cutoff has passed. The
apply playbook re-reads the host's packages at its end, so every host's result is checked
against its baseline again without another run. Each scan and apply is a run record; hosts'
results go back to NetBox (journal entry + custom fields).
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from mspctl.errors import MspctlError, NoMatchError
from mspctl.files import private_file
from mspctl.interrupts import stopped_by
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.platforms import PATCHABLE_FAMILIES, PlatformMap
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset
from mspctl.patch.model import HostCompliance, HostScan, PatchNote, changes_since
from mspctl.records import RecordStore, RunRecord, new_run_id
from mspctl.redact import redact
from mspctl.settings import Settings

if TYPE_CHECKING:
    from mspctl.adapters.ansible import AnsibleRunner, HostEvent, HostOutcome
    from mspctl.patch.baseline import BaselineChoice, LinuxBaseline
    from mspctl.run import Check, Outcome, Run, TargetResult

# What happened to a host in an apply run.
ApplyStatus = Literal[
    "compliant",    # nothing to do: already at its baseline
    "patched",      # updates installed (and rebooted per policy); compliant afterwards
    "planned",      # dry run: would be patched
    "failed",       # the run failed on the host (pre-check, install, reboot or post-check)
    "unreachable",  # no SSH session, before or during the run
    "incomplete",   # patched, but still not compliant afterwards (e.g. a pinned version not offered)
    "skipped",      # not started: the window's cutoff passed, or too many hosts had failed
    "no-baseline",  # no baseline assigned: nothing to patch to
]
APPLY_FAILED = ("failed", "unreachable", "incomplete")
EventFn = Callable[["HostEvent"], None]


@dataclass
class PatchHost:
    """One selected server: its NetBox record, inventory name and baseline."""

    asset: Asset
    choice: BaselineChoice[LinuxBaseline] | None
    inventory_name: str = ""  # mspctl.inventory.names: unique, and the Ansible host name

    @property
    def name(self) -> str:
        return self.inventory_name or self.asset.name

    @property
    def baseline(self) -> str | None:
        return f"{self.choice.current.name}@{self.choice.current.version}" if self.choice else None


@dataclass
class HostResult:
    """A host's line in a scan or apply run."""

    host: PatchHost
    compliance: HostCompliance            # after the run (apply) or as found (scan)
    before: HostCompliance | None = None  # apply: as found before patching
    status: ApplyStatus | None = None     # apply only
    batch: int | None = None
    installed: tuple[str, ...] = ()
    rebooted: bool = False
    failed_step: str | None = None
    error: str | None = None
    scan: HostScan | None = None
    patched_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        a = self.host.asset
        # `host` is the inventory name (unique; what -l and `inventory show` take), `name` NetBox's
        return {"host": self.host.name, "name": a.name, "client": a.client, "kind": a.kind, "id": a.id,
                "address": a.primary_ip,
                "baseline": self.host.baseline,
                "baseline_reason": self.host.choice.reason if self.host.choice else None,
                "state": self.compliance.state, "status": self.status, "batch": self.batch,
                "installed": list(self.installed), "rebooted": self.rebooted, "failed_step": self.failed_step,
                "error": self.error, "patched_at": self.patched_at.isoformat() if self.patched_at else None,
                "compliance": self.compliance.to_dict(),
                "before": self.before.to_dict() if self.before else None,
                "scan": self.scan.to_dict() if self.scan else None}

    @classmethod
    def restore(cls, host: PatchHost, data: dict[str, Any]) -> HostResult:
        """A result saved by an interrupted window (see window.py), for the resumed run's report."""
        return cls(host, HostCompliance.from_dict(data["compliance"]),
                   HostCompliance.from_dict(data["before"]) if data.get("before") else None,
                   data.get("status"), data.get("batch"), tuple(data.get("installed") or ()),
                   bool(data.get("rebooted")), data.get("failed_step"), data.get("error"),
                   HostScan.from_dict(data["scan"]) if data.get("scan") else None,
                   datetime.fromisoformat(data["patched_at"]) if data.get("patched_at") else None)


@dataclass
class PatchRun:
    """A scan or apply run: per-host results and why batches stopped, if they did."""

    run_id: str
    kind: Literal["patch-scan", "patch-apply", "patch-window"]
    started_at: datetime
    finished_at: datetime
    hosts: list[HostResult]
    applied: bool = False
    stopped: str | None = None  # why no further batch started
    params: dict[str, Any] = field(default_factory=dict)
    interrupted: str = ""  # the signal that stopped the run, if one did
    writeback_error: MspctlError | None = None  # NetBox write-back failed (the record says so; replayable)
    # Selected assets that are no patch target (state NOT_APPLICABLE, with the reason): never
    # contacted, never written back, no failure.
    not_applicable: list[HostResult] = field(default_factory=list)

    def status_of(self, r: HostResult) -> str:
        """A host's status in this run: what an apply did to it, or (a scan) its state."""
        return r.status if self.kind != "patch-scan" and r.status else r.compliance.state

    @property
    def summary(self) -> dict[str, int]:
        from mspctl.run import count

        return count([*(self.status_of(r) for r in self.hosts), *("NOT_APPLICABLE" for _ in self.not_applicable)])

    @property
    def failed(self) -> bool:
        """Some host could not be scanned or patched (exit code 3)."""
        if self.kind == "patch-scan":
            return any(r.compliance.state in ("UNREACHABLE", "FAILED") for r in self.hosts)
        return any(r.status in (*APPLY_FAILED, "skipped") for r in self.hosts)

    @property
    def noncompliant(self) -> bool:
        return any(r.compliance.state != "COMPLIANT" for r in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kind": self.kind, "applied": self.applied,
                "started_at": self.started_at.isoformat(), "finished_at": self.finished_at.isoformat(),
                "stopped": self.stopped, "interrupted": self.interrupted or None, "params": self.params,
                "summary": self.summary,
                "hosts": [r.to_dict() for r in self.hosts],
                "not_applicable": [r.to_dict() for r in self.not_applicable]}

    def to_run(self) -> Run:
        """The one run value (`mspctl.run`): a result per host, then per asset that is no patch
        target (NOT_APPLICABLE, no check); a failed NetBox write-back is the run's error."""
        from mspctl.run import new_run

        note = (f" (the run {self.run_id} is recorded; `mspctl patch writeback --run {self.run_id}` writes it to "
                f"NetBox again)")
        return new_run(self.run_id, self.kind, self.started_at, self.finished_at,
                       [*(self._target(r) for r in self.hosts), *(self._target(r, True) for r in self.not_applicable)],
                       interrupted=self.interrupted, params=self.params, error=self.writeback_error,
                       error_note=note if self.writeback_error is not None else "", document=self.to_dict())

    def _outcome(self, r: HostResult) -> Outcome:
        state = r.compliance.state
        if self.kind == "patch-scan" or r.status is None:
            return "ok" if state == "COMPLIANT" else "failed" if state in ("UNREACHABLE", "FAILED") else "finding"
        if r.status in (*APPLY_FAILED, "skipped"):
            return "failed"
        return "ok" if r.status in ("compliant", "patched") else "finding"

    def _target(self, r: HostResult, not_applicable: bool = False) -> TargetResult:
        from mspctl.errors import RunInterrupted
        from mspctl.run import TargetResult

        c = r.compliance
        error = r.error or (c.reason if not_applicable else None)
        code = RunInterrupted.code if (self.interrupted and r.status == "skipped" and "interrupted" in (error or "")) \
            else None
        installs = r.installed if r.installed or self.applied else c.install
        status = "NOT_APPLICABLE" if not_applicable else self.status_of(r)
        return TargetResult(
            r.host.asset.key, r.host.name, r.host.asset.client, status,
            "not_applicable" if not_applicable else self._outcome(r), changed=bool(r.installed) or r.rebooted,
            diff="\n".join(f"+{p}" for p in installs), error=error, error_code=code, finished_at=r.patched_at,
            evidence_source=None if not_applicable else str(self.params.get("source") or "scan"),
            evidence_at=c.scanned_at, evidence_age=c.evidence_age_seconds,
            checks=[] if not_applicable else [_host_check(r)], data=r.to_dict())

    def record(self) -> RunRecord:
        skipped = {r.host.name: r.compliance.reason for r in self.not_applicable}
        return RunRecord(self.run_id, self.kind, self.started_at, self.finished_at,
                         {**self.params, "applied": self.applied, "stopped": self.stopped,
                          **({"interrupted": self.interrupted} if self.interrupted else {}),
                          **({"not_applicable": skipped} if skipped else {})}, self.summary,
                         {r.host.name: (r.status or r.compliance.state, r.to_dict()) for r in self.hosts})


def _host_check(r: HostResult) -> Check:
    """A host's JUnit testcase: a failure when not compliant, an error when unreachable or
    failed, skipped when not started or not applicable."""
    from mspctl.run import Check

    c = r.compliance
    props = (("baseline", r.host.baseline or ""), ("state", c.state), ("status", r.status or ""),
             ("installed", " ".join(r.installed)), ("rebooted", str(r.rebooted).lower()),
             ("scanned_at", c.scanned_at.isoformat() if c.scanned_at else ""))
    if r.status == "skipped" or c.state == "NOT_APPLICABLE":
        return Check(r.host.name, "skipped", message=r.error or c.reason or "not started", properties=props)
    if c.state in ("UNREACHABLE", "FAILED") or r.status in ("failed", "unreachable"):
        return Check(r.host.name, "error", message=r.error or c.reason or c.state, detail=r.error, type=c.state,
                     properties=props)
    if c.state != "COMPLIANT":
        body = "\n".join(f"- {p.name}: {p.state} (installed {p.installed or '-'}, required {p.required or '-'}) "
                         f"{p.reason}" for p in c.packages if p.state != "INSTALLED")
        return Check(r.host.name, "failure", message=f"{c.state} against {c.baseline}", detail=body, type=c.state,
                     properties=props)
    return Check(r.host.name, properties=props)


# -- selection ---------------------------------------------------------------------------------


def not_a_target(asset: Asset, platforms: PlatformMap) -> str | None:
    """Why `asset` is no patch target, or None when it is one: a server whose platform resolves
    (mspctl.inventory.platforms) to an OS family the patch playbooks support (apt, dnf)."""
    slug = asset.platform
    if not slug:
        return ("no platform in NetBox: not known to be a server (a PDU, a patch panel, a switch?); "
                "set its platform to patch it")
    info = platforms.resolve(slug)
    if info.network:
        return f"network device (platform {slug}): its OS is checked with `mspctl patch os`"
    if not info.server:
        return f"platform {slug!r} is not a Linux server OS mspctl knows; map it with [platforms.{slug}] os_family"
    if info.os_family not in PATCHABLE_FAMILIES:
        return (f"platform {slug!r} is OS family {info.os_family or 'unknown'}: mspctl patches "
                f"{' and '.join(sorted(PATCHABLE_FAMILIES))} (apt, dnf); or set [platforms.{slug}] os_family")
    return None


def patch_targets(settings: Settings, inventory: InventoryService, flt: AssetFilter,
                  mode: Mode = "auto") -> tuple[list[PatchHost], list[HostResult]]:
    """The selected servers with their baselines (config context and custom fields read live),
    and the selected assets that are no patch target, each NOT_APPLICABLE with its reason.
    Without a --status filter only `active` assets: an offline or planned server is not scanned
    or patched unless asked. Raises NoMatchError when the filter selects nothing at all."""
    from mspctl.patch.baseline import load_baselines

    if not flt.statuses:
        flt = replace(flt, statuses=("active",))
    selected = inventory.select(flt, mode, allow_empty=True).assets
    if not selected:
        raise NoMatchError(f"no device or VM matches {flt.describe()}",
                           hint="add --status for non-active servers; `mspctl inventory list` shows the selection")
    platforms = PlatformMap(settings.platforms)
    names = inventory.names(mode)
    servers: list[Asset] = []
    skipped: list[HostResult] = []
    for a in selected:
        why = not_a_target(a, platforms)
        if why is None:
            servers.append(a)
            continue
        host = PatchHost(a, None, names.get(a.key, a.name))
        skipped.append(HostResult(host, HostCompliance(host.name, "NOT_APPLICABLE", None, reason=why)))
    hosts: list[PatchHost] = []
    if servers:
        baselines = load_baselines(settings.path(settings.patch.baselines))
        day = datetime.now(UTC).date()
        for a in inventory.with_config_contexts(servers):
            cs = inventory.client_settings.get(a.client or "")
            hosts.append(PatchHost(a, baselines.for_asset(a, client_default=cs.baseline if cs else None, today=day),
                                   names.get(a.key, a.name)))
    return hosts, skipped


def patch_hosts(settings: Settings, inventory: InventoryService, flt: AssetFilter,
                mode: Mode = "auto") -> list[PatchHost]:
    """The selected patch targets with their baselines (see `patch_targets`)."""
    return patch_targets(settings, inventory, flt, mode)[0]


def ansible_inventory(settings: Settings, hosts: Sequence[PatchHost]) -> dict[str, Any]:
    """The hosts as an Ansible YAML inventory (the same host vars `inventory export` writes), with
    each host's SSH host key pinned to its NetBox object (see `host_key_alias`)."""
    from mspctl.inventory.ansible import to_ansible_yaml_tree

    tree = to_ansible_yaml_tree([h.asset for h in hosts], PlatformMap(settings.platforms),
                                {h.asset.key: h.name for h in hosts})
    pin_host_keys(settings, tree)
    return tree


def pin_host_keys(settings: Settings, tree: dict[str, Any]) -> None:
    """With ``host_keys = "pin"``, make each host of `tree` check its key against this machine's
    pins, under its NetBox object (`host_key_alias`)."""
    if settings.patch.host_keys != "pin":
        return
    pins = private_file(settings.patch.known_hosts)
    for hv in tree["all"]["hosts"].values():
        alias = host_key_alias(settings, hv["mspctl_kind"], hv["mspctl_id"])
        # ssh takes the first value of an option: these win over any ssh_config
        hv["ansible_ssh_extra_args"] = (f"-o HostKeyAlias={alias} -o UserKnownHostsFile={shlex.quote(str(pins))} "
                                        "-o StrictHostKeyChecking=accept-new")


def host_key_alias(settings: Settings, kind: str, object_id: int) -> str:
    """The name a host's SSH key is pinned under: its NetBox object, not its address, so a host
    whose address now answers with another machine's key is refused (MSP-PATCH-408)."""
    netbox = hashlib.sha256((settings.netbox.url or "").encode()).hexdigest()[:8]
    return f"mspctl-{netbox}-{kind}-{object_id}"


_HOST_KEY_CHANGED = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")


def wrong_host_key(settings: Settings, host: PatchHost, scan: HostScan) -> str | None:
    """Why `host` was refused by SSH for its host key, or None."""
    if scan.reachable or not any(m in (scan.error or "") for m in _HOST_KEY_CHANGED):
        return None
    a = host.asset
    if settings.patch.host_keys == "pin":
        alias = host_key_alias(settings, a.kind, a.id)
        return (f"MSP-PATCH-408: the SSH host key at {a.primary_ip} is not the one pinned for {host.name} at first "
                f"contact; nothing was read or changed on it (the address may now be another machine). If "
                f"{host.name} was reinstalled, remove the pin: ssh-keygen -R {alias} -f {settings.patch.known_hosts}")
    return (f"MSP-PATCH-408: the SSH host key at {a.primary_ip} is unknown or not the one known_hosts has for "
            f"{host.name}; nothing was read or changed on it (check the SSH config's known_hosts)")


@contextlib.contextmanager
def runner_for(settings: Settings, runner: AnsibleRunner | None = None) -> Iterator[AnsibleRunner]:
    """`runner`, or one for these settings that is closed (its SSH masters ended) afterwards."""
    if runner is not None:
        yield runner
        return
    if settings.executor.backend == "celery":  # each batch of hosts runs on a worker (docs/scale.md)
        from mspctl.scale.celery_backend import CELERY, CeleryExecutor
        from mspctl.scale.patching import CeleryRunner

        executor = CELERY.executor(settings, change=True)
        assert isinstance(executor, CeleryExecutor)
        yield CeleryRunner(settings, executor)  # type: ignore[misc]
        return
    from mspctl import product
    from mspctl.adapters.ansible import AnsibleRunner

    p = settings.patch
    # the repository's playbooks and modules where it has them, else mspctl's own (mspctl.product)
    with AnsibleRunner(settings.path(p.playbooks), forks=p.forks, ssh_config=p.ssh_config,
                       connect_timeout=p.connect_timeout,
                       product=product.root()) as own:
        yield own


# -- scan --------------------------------------------------------------------------------------


def evaluate_scans(settings: Settings, hosts: Sequence[PatchHost], scans: dict[str, HostScan], now: datetime,
                   stale_after: timedelta) -> list[HostResult]:
    from mspctl.patch.compliance import evaluate

    out = []
    for h in hosts:
        s = scans[h.name]
        wrong = wrong_host_key(settings, h, s) or wrong_machine(h, s)
        if wrong:  # another machine's packages are not this host's evidence: not recorded, not patched
            out.append(HostResult(h, HostCompliance(h.name, "FAILED", h.baseline, reason=wrong)))
            continue
        out.append(HostResult(h, evaluate(s, h.choice, now=now, stale_after=stale_after), scan=s))
    return out


def wrong_machine(host: PatchHost, scan: HostScan) -> str | None:
    """Why the machine that answered at `host`'s address is not the one NetBox pins, or None.
    NetBox's custom field ``machine_id`` pins it (written at the first patch run that saw it);
    a host without a pin, or a scan that could not read one, is not checked."""
    pinned = str(host.asset.custom_fields.get("machine_id") or "").strip()
    if not pinned or not scan.reachable or not scan.machine_id or scan.machine_id == pinned:
        return None
    return (f"MSP-PATCH-409: the machine at {host.asset.primary_ip} is not {host.name}: its machine id "
            f"{scan.machine_id[:8]}... differs from the {pinned[:8]}... NetBox pins (custom field machine_id); "
            "nothing was read or changed on it (fix the address in NetBox, or clear the pin after a reinstall)")


def scan(settings: Settings, inventory: InventoryService, flt: AssetFilter, mode: Mode = "auto",
         on_event: EventFn | None = None, runner: AnsibleRunner | None = None) -> PatchRun:
    """Scan the selected servers and compare each with its baseline. The run is recorded."""
    started = datetime.now(UTC)
    hosts, skipped = patch_targets(settings, inventory, flt, mode)
    results: list[HostResult] = []
    if hosts:  # nothing applicable: no Ansible run, no SSH to anything
        with runner_for(settings, runner) as r:
            results = scan_hosts(settings, hosts, r, on_event)
    run = PatchRun(new_run_id("patch-scan", started), "patch-scan", started, datetime.now(UTC), results,
                   params={"filter": flt.describe()}, not_applicable=skipped)
    RecordStore(settings.records_location).save(run.record())
    return run


def scan_hosts(settings: Settings, hosts: Sequence[PatchHost], runner: AnsibleRunner,
               on_event: EventFn | None = None) -> list[HostResult]:
    scans = runner.scan(ansible_inventory(settings, hosts), [h.name for h in hosts], on_event=on_event)
    now = datetime.now(UTC)
    return evaluate_scans(settings, hosts, scans, now, timedelta(seconds=settings.patch.stale_after))


def status(settings: Settings, inventory: InventoryService, flt: AssetFilter, mode: Mode = "auto") -> PatchRun:
    """Compliance from the recorded evidence only (no SSH): each host's newest scan or patch
    result, judged against its baseline today. Evidence older than [patch] stale_after is STALE;
    a host never scanned is STALE too."""
    from mspctl.patch.compliance import evaluate

    now = datetime.now(UTC)
    hosts, skipped = patch_targets(settings, inventory, flt, mode)
    store = RecordStore(settings.records_location)
    names = [h.name for h in hosts]
    newest: dict[str, HostScan] = {}
    for kind in ("patch-scan", "patch-apply", "patch-window"):
        for name, (_, _, data) in store.latest(kind, names).items():
            if data.get("scan"):
                s = HostScan.from_dict(data["scan"])
                if s.reachable and (name not in newest or s.scanned_at > newest[name].scanned_at):
                    newest[name] = s
    stale = timedelta(seconds=settings.patch.stale_after)
    results = []
    for h in hosts:
        last = newest.get(h.name)
        if last is None:
            comp = HostCompliance(h.name, "STALE", h.baseline, reason="never scanned: run `mspctl patch scan`")
        else:
            comp = evaluate(last, h.choice, now=now, stale_after=stale)
        results.append(HostResult(h, comp, scan=last))
    return PatchRun(new_run_id("patch-status", now), "patch-scan", now, now, results,
                    params={"filter": flt.describe(), "source": "records"}, not_applicable=skipped)


# -- apply -------------------------------------------------------------------------------------


@dataclass
class ApplyPlan:
    """Hosts that need work, in batches, and those that do not (with their result)."""

    batches: list[list[HostResult]]
    done: list[HostResult]


def plan_batches(results: Sequence[HostResult], canary: int, batch_size: int) -> ApplyPlan:
    """Split the hosts that need patching into a canary batch and the rest (``batch_size`` 0: one
    batch). Unreachable, failed or baseline-less hosts are not attempted."""
    todo: list[HostResult] = []
    done: list[HostResult] = []
    for r in results:
        state = r.compliance.state
        if state == "UNREACHABLE":
            done.append(replace(r, status="unreachable", error=r.scan.error if r.scan else None))
        elif state == "FAILED":
            done.append(replace(r, status="failed", failed_step="scan", error=r.compliance.reason))
        elif state == "NO_BASELINE":
            done.append(replace(r, status="no-baseline"))
        elif r.compliance.install or r.compliance.reboot or state == "PENDING_REBOOT":
            todo.append(r)
        elif state == "NON_COMPLIANT":  # nothing installable would fix it (e.g. a pin not offered)
            done.append(replace(r, status="incomplete", error=r.compliance.reason))
        else:
            done.append(replace(r, status="compliant"))
    batches: list[list[HostResult]] = []
    if todo:
        first = todo[:max(canary, 0)] if canary and len(todo) > canary else []
        rest = todo[len(first):]
        size = batch_size if batch_size > 0 else len(rest) or 1
        batches = ([first] if first else []) + [rest[i:i + size] for i in range(0, len(rest), size)]
    return ApplyPlan(batches, done)


def host_vars_for(r: HostResult) -> dict[str, Any]:
    """What the apply playbook needs for one host: exact versions and the reboot policy."""
    policy = r.host.choice.current.reboot if r.host.choice else "if-needed"
    return {"mspctl_install": list(r.compliance.install), "mspctl_reboot": policy}


def apply_batch(settings: Settings, runner: AnsibleRunner, batch: Sequence[HostResult], batch_no: int,
                on_event: EventFn | None = None) -> list[HostResult]:
    """Patch one batch; every host gets a result, judged against its baseline from the
    post-patch package state the playbook reports."""
    from mspctl.patch.compliance import evaluate

    inventory = ansible_inventory(settings, [r.host for r in batch])
    outcomes: dict[str, HostOutcome] = runner.apply(
        inventory, [r.host.name for r in batch], {r.host.name: host_vars_for(r) for r in batch}, on_event=on_event)
    now = datetime.now(UTC)
    stale = timedelta(seconds=settings.patch.stale_after)
    reread = _read_again(settings, runner, [r for r in batch if outcomes[r.host.name].after is None])
    out = []
    for r in batch:
        o = outcomes[r.host.name]
        after: HostScan | None = o.after
        installed, rebooted, note = o.installed, o.rebooted, ""
        if after is None and r.scan is not None:
            again = reread.get(r.host.name)
            if again is not None and again.reachable:
                # what the host got before it failed or went dark, found on the host itself
                found, booted = changes_since(r.scan, again)
                installed, rebooted, after = installed or found, rebooted or booted, again
            else:
                note = " (it could not be read again: packages it got before that are unknown)"
        comp = (evaluate(after, r.host.choice, now=now, stale_after=stale) if after is not None else
                HostCompliance(r.host.name, "UNREACHABLE" if o.status == "unreachable" else "FAILED",
                               r.host.baseline, reason=redact(o.error or "")))
        if o.status == "unreachable":
            status: ApplyStatus = "unreachable"
        elif o.status == "failed":
            status = "failed"
        elif comp.state == "COMPLIANT":
            status = "patched" if (o.changed or o.rebooted) else "compliant"
        else:
            status = "incomplete"
        error = redact(o.error) + note if o.error else (comp.reason if status == "incomplete" else None)
        out.append(replace(r, before=r.compliance, compliance=comp, status=status, batch=batch_no,
                           installed=installed, rebooted=rebooted, failed_step=o.failed_step, error=error,
                           scan=after or r.scan,
                           patched_at=now if (o.changed or rebooted or installed) else None))
    return out


def _read_again(settings: Settings, runner: AnsibleRunner, results: Sequence[HostResult]) -> dict[str, HostScan]:
    """Scans of hosts whose patch run ended before it read their after-state (a failed step, a
    cut connection), so the record says what they really got. Hosts not readable are left out."""
    hosts = [r.host for r in results if r.scan is not None and r.scan.reachable]
    if not hosts:
        return {}
    scans = runner.scan(ansible_inventory(settings, hosts), [h.name for h in hosts])
    return {name: s for name, s in scans.items() if s.reachable}


# Decides between batches whether another one may start: (stop reason or None).
GateFn = Callable[[list[HostResult]], str | None]


def max_failures_gate(total: int, max_fail_percent: int) -> GateFn:
    def gate(results: list[HostResult]) -> str | None:
        failed = sum(r.status in APPLY_FAILED for r in results)
        if total and failed * 100 > max_fail_percent * total:
            return f"{failed} of {total} hosts failed, above the {max_fail_percent}% limit"
        return None
    return gate


def canary_gate(canary: int) -> GateFn:
    """Stop the rollout when any host of the canary batch (the first) failed: the canary exists
    to catch a bad baseline or repository before it reaches every host, whatever the share."""
    def gate(results: list[HostResult]) -> str | None:
        failed = [r.host.name for r in results if r.batch == 1 and r.status in APPLY_FAILED]
        if canary and failed:
            return f"the canary batch failed on {', '.join(failed)}"
        return None
    return gate


def rollout_gates(settings: Settings, total: int, stop: Callable[[], bool] | None = None) -> list[GateFn]:
    """The gates between batches: a stop signal, the canary (unless [patch] canary_must_pass is
    off), then the share of failed hosts."""
    p = settings.patch
    gates: list[GateFn] = []
    if stop is not None:
        gates.append(lambda _: f"interrupted by {stopped_by(stop)}" if stop() else None)
    if p.canary_must_pass and p.canary:
        gates.append(canary_gate(p.canary))
    return [*gates, max_failures_gate(total, p.max_fail_percent)]


def finish(settings: Settings, inventory: InventoryService, run: PatchRun, writeback: bool) -> PatchRun:
    """Write the results to NetBox (unless `writeback` is off), then record the run, whatever the
    write-back did: a failed write-back is recorded (params.writeback) and can be replayed with
    `mspctl patch writeback --run ID`; the error stays on the run for the CLI's exit code."""
    if writeback and run.applied:
        try:
            write_back(inventory, run)
            run.params["writeback"] = "done"
        except MspctlError as exc:
            run.writeback_error = exc
            run.params["writeback"] = f"failed: {exc.code}: {exc.message}"
    else:
        run.params["writeback"] = "off" if run.applied else None
    RecordStore(settings.records_location).save(run.record())
    return run


def replay_writeback(settings: Settings, inventory: InventoryService, run_id: str) -> PatchRun:
    """Write an applied patch run's recorded results to NetBox again (after a failed write-back)."""
    from mspctl.errors import UsageError

    record = RecordStore(settings.records_location).get(run_id)
    if record.kind not in ("patch-apply", "patch-window") or not record.params.get("applied"):
        raise UsageError(f"run {run_id} is a {record.kind} run that changed nothing; only applied patch runs "
                         "are written back", code="MSP-PATCH-400")
    hosts = [HostResult.restore(PatchHost(Asset(d["kind"], int(d["id"]), d["host"], d.get("client")), None), d)
             for _, d in record.results.values()]
    kind: Literal["patch-apply", "patch-window"] = "patch-window" if record.kind == "patch-window" else "patch-apply"
    run = PatchRun(record.id, kind, record.started_at, record.finished_at, hosts,
                   applied=True, stopped=record.params.get("stopped"), params=dict(record.params))
    write_back(inventory, run)
    return run


def run_batches(settings: Settings, runner: AnsibleRunner, plan: ApplyPlan, gates: Sequence[GateFn],
                on_event: EventFn | None = None,
                on_batch: Callable[[list[HostResult]], None] | None = None,
                before_batch: Callable[[int, list[HostResult]], None] | None = None,
                ) -> tuple[list[HostResult], str | None]:
    """Run the batches in order; before each, every gate may stop the run (the rest are skipped).
    `before_batch` sees each batch before its first host is touched (the intent is written down
    there), `on_batch` each finished batch's results (the window persists them for resuming)."""
    results: list[HostResult] = []
    stopped: str | None = None
    for no, batch in enumerate(plan.batches, 1):
        if stopped is None:
            for gate in gates:
                stopped = gate(results)
                if stopped:
                    break
        if stopped is not None:
            results += [replace(r, status="skipped", error=f"not started: {stopped}", batch=no) for r in batch]
            continue
        if before_batch is not None:
            before_batch(no, batch)
        done = apply_batch(settings, runner, batch, no, on_event)
        results += done
        if on_batch is not None:
            on_batch(done)
    return results, stopped


def apply(settings: Settings, inventory: InventoryService, flt: AssetFilter, *, dry_run: bool = True,
          mode: Mode = "auto", writeback: bool = True, on_event: EventFn | None = None,
          runner: AnsibleRunner | None = None, stop: Callable[[], bool] | None = None) -> PatchRun:
    """Scan, then patch the non-compliant servers to their baselines in batches (a canary first).

    A dry run only scans and plans. Hosts are not started once more than [patch]
    max_fail_percent of them failed. Each host's result goes to NetBox unless `writeback` is off.
    """
    started = datetime.now(UTC)
    hosts, skipped = patch_targets(settings, inventory, flt, mode)
    p = settings.patch
    if not hosts:  # nothing applicable: no Ansible run, nothing to record as applied
        return PatchRun(new_run_id("patch-apply", started), "patch-apply", started, datetime.now(UTC), [],
                        params={"filter": flt.describe(), "dry_run": dry_run}, not_applicable=skipped)
    with runner_for(settings, runner) as own:
        found = scan_hosts(settings, hosts, own, on_event)
        plan = plan_batches(found, p.canary, p.batch_size)
        if dry_run:
            planned = [replace(r, status="planned", batch=no) for no, b in enumerate(plan.batches, 1) for r in b]
            return PatchRun(new_run_id("patch-apply", started), "patch-apply", started, datetime.now(UTC),
                            ordered(plan.done + planned), params={"filter": flt.describe(), "dry_run": True},
                            not_applicable=skipped)
        run_id = new_run_id("patch-apply", started)
        params = {"filter": flt.describe(), "canary": p.canary, "batch_size": p.batch_size,
                  "max_fail_percent": p.max_fail_percent}
        # Started before any host is touched: a killed apply is sealed `unfinished` by the next
        # mspctl run, with the hosts each batch was about to patch (mspctl.records.recover).
        store = RecordStore(settings.records_location)
        store.start(run_id, "patch-apply", started, {**params, "applied": True})

        def intent(no: int, batch: list[HostResult]) -> None:
            for r in batch:
                store.journal(run_id, r.host.name, "intent", {"batch": no, "install": list(r.compliance.install),
                                                              "reboot": r.compliance.reboot})
        patched, stopped = run_batches(settings, own, plan, rollout_gates(settings, len(found), stop), on_event,
                                       before_batch=intent)
    run = PatchRun(run_id, "patch-apply", started, datetime.now(UTC), ordered(plan.done + patched), applied=True,
                   stopped=stopped, params=params, interrupted=stopped_by(stop), not_applicable=skipped)
    return finish(settings, inventory, run, writeback)


def ordered(results: list[HostResult]) -> list[HostResult]:
    """Results in the inventory's order (client, then name), however the batches ran."""
    return sorted(results, key=lambda r: (r.host.asset.client or "", r.host.name))


# -- NetBox ------------------------------------------------------------------------------------


def note_for(run: PatchRun, r: HostResult) -> PatchNote:
    """The journal entry and custom fields NetBox records for one host of a run."""
    level: Literal["info", "success", "warning", "danger"]
    if r.status in ("failed", "unreachable", "incomplete"):
        level = "danger"
    elif r.status == "skipped" or r.compliance.state != "COMPLIANT":
        level = "warning"
    else:
        level = "success" if r.status == "patched" else "info"
    lines = [f"**mspctl {run.kind}** `{run.run_id}`: **{r.status or r.compliance.state}**, "
             f"compliance **{r.compliance.state}** against `{r.host.baseline or 'no baseline'}`"]
    if r.installed:
        lines.append("Installed: " + ", ".join(f"`{p}`" for p in r.installed))
    if r.rebooted:
        lines.append("Rebooted.")
    missing = [p.name for p in r.compliance.packages if p.state == "MISSING"]
    if missing:
        lines.append("Still missing: " + ", ".join(f"`{m}`" for m in missing))
    if r.error:
        lines.append(f"Error{f' ({r.failed_step})' if r.failed_step else ''}: {r.error}")
    seen = r.scan.machine_id if r.scan is not None else ""
    pin = seen if seen and not r.host.asset.custom_fields.get("machine_id") else None
    return PatchNote(r.host.asset.kind, r.host.asset.id, r.host.name, r.compliance.state, level,
                     redact("\n\n".join(lines)), r.patched_at, pin)


def write_back(inventory: InventoryService, run: PatchRun) -> None:
    """Each host's result as a NetBox journal entry plus ``patch_compliance``/``last_patched``."""
    from mspctl.adapters.netbox import NetBoxSource

    source = inventory.source
    if source is None:  # offline: never a silent no-op; `finish` records it, the CLI names the replay
        from mspctl.errors import OfflineRefusedError

        raise OfflineRefusedError(f"run {run.run_id}: the results were not written to NetBox (--offline)",
                                  hint=f"`mspctl patch writeback --run {run.run_id}` writes them once NetBox is "
                                       "reachable")
    if isinstance(source, NetBoxSource):
        source.write_patch_notes([note_for(run, r) for r in run.hosts])
