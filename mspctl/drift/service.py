"""`mspctl drift`: intended configuration (rendered) against actual (live or last backup).

Every device result carries its evidence: where the actual configuration came from and how
old it was. A run is stored as an immutable record; history answers "since when".

Both sides are scrubbed of secrets (`mspctl.secrets`) before they are compared: a backup holds
none to compare, and the findings, remediation and reports then hold none either. A secret's
value is therefore not compared; `config push` compares the real lines.

Interrupted (SIGINT/SIGTERM, `mspctl.interrupts`): no new device is read, the ones in flight
finish and are compared; the others are `skipped` (`MSP-RUN-499`), and the run and its record
say `interrupted`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mspctl.adapters.git import GitRepo
from mspctl.adapters.netmiko import DeviceTarget
from mspctl.backup.service import backup_file, fetch_config
from mspctl.drift.compare import FeatureResult, compare_feature
from mspctl.drift.configtext import parse
from mspctl.drift.features import Feature
from mspctl.errors import PathEscapeError, RunInterrupted
from mspctl.executor import Event, Executor, TaskContext
from mspctl.interrupts import stopped_by, unless_stopped
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset
from mspctl.records import RecordStore, RunRecord, new_run_id
from mspctl.render.service import RenderResult
from mspctl.scale.jobs import RemoteTask, describe
from mspctl.secrets import scrub
from mspctl.settings import Settings

if TYPE_CHECKING:
    from mspctl.run import Check, Run, TargetResult

DeviceStatus = Literal["compliant", "drift", "failed", "skipped"]
ActualSource = Literal["live", "backup"]


@dataclass
class DeviceDrift:
    asset: Asset
    status: DeviceStatus
    features: list[FeatureResult] = field(default_factory=list)
    source: ActualSource | None = None
    evidence_at: datetime | None = None
    age_seconds: float | None = None
    error: str | None = None
    error_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.asset.name, "id": self.asset.key, "client": self.asset.client,
                "platform": self.asset.platform, "status": self.status, "source": self.source,
                "evidence_at": self.evidence_at.isoformat() if self.evidence_at else None,
                "age_seconds": None if self.age_seconds is None else round(self.age_seconds, 1),
                "error": self.error, "error_code": self.error_code,
                "features": [asdict(f) for f in self.features]}


@dataclass
class DriftRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    devices: list[DeviceDrift]
    interrupted: str = ""  # the signal that stopped the run, if one did

    @property
    def summary(self) -> dict[str, int]:
        from mspctl.run import count

        return {**count((d.status for d in self.devices), STATUSES), "features_drifted": self.features_drifted}

    @property
    def features_drifted(self) -> int:
        return sum(f.status == "drift" for d in self.devices for f in d.features)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(), "summary": self.summary,
                "interrupted": self.interrupted or None, "devices": [d.to_dict() for d in self.devices]}

    def to_run(self, names: Mapping[str, str] | None = None) -> Run:
        """The one run value (`mspctl.run`); `names`: the name each device is printed by (the
        inventory's, which `-l` takes back), by NetBox key."""
        from mspctl.run import new_run

        return new_run(self.run_id, "drift", self.started_at, self.finished_at,
                       [_target(d, (names or {}).get(d.asset.key, d.asset.name)) for d in self.devices],
                       interrupted=self.interrupted, summary_keys=STATUSES,
                       summary_extra={"features_drifted": self.features_drifted}, document=self.to_dict())


STATUSES: tuple[DeviceStatus, ...] = ("compliant", "drift", "failed", "skipped")
_OUTCOMES: dict[str, Any] = {"compliant": "ok", "drift": "finding", "failed": "failed", "skipped": "skipped"}


def _check(d: DeviceDrift, f: FeatureResult | None) -> Check:
    """One JUnit testcase: a feature of the device (the device itself when none applies)."""
    from mspctl.run import Check

    props: tuple[tuple[str, str], ...] = ()
    if d.source:
        props = (("evidence", d.source),) + ((("evidence_age_seconds", f"{d.age_seconds:.0f}"),)
                                             if d.age_seconds is not None else ())
    name, data = (f.feature, asdict(f)) if f else ("device", {})
    if d.status == "failed":
        return Check(name, "error", d.asset.name, d.error or "", d.error, d.error_code or "error", props, data)
    if d.status == "skipped":
        return Check(name, "skipped", d.asset.name, d.error or "no features apply", None, "", props, data)
    if f is not None and f.status == "drift":
        body = "\n".join([*(f"- missing: {m}" for m in f.missing), *(f"- extra: {x}" for x in f.extra),
                          "remediation:", *f.remediation])
        return Check(name, "failure", d.asset.name, f"{len(f.missing)} missing, {len(f.extra)} extra", body, "drift",
                     props, data)
    return Check(name, "passed", d.asset.name, properties=props, data=data)


def _cases(d: DeviceDrift) -> list[FeatureResult | None]:
    return [*d.features] or [None]


def _target(d: DeviceDrift, name: str) -> TargetResult:
    from mspctl.run import TargetResult

    diff = "\n".join(line for f in d.features if f.status == "drift" for line in
                     [f"@@ {f.feature}", *(f"+{m}" for m in f.missing), *(f"-{x}" for x in f.extra)])
    return TargetResult(d.asset.key, name, d.asset.client, d.status, _OUTCOMES[d.status], diff=diff, error=d.error,
                        error_code=d.error_code, evidence_source=d.source, evidence_at=d.evidence_at,
                        evidence_age=d.age_seconds, checks=[_check(d, f) for f in _cases(d)],
                        data=d.to_dict())


def evaluate(asset: Asset, intended: str, actual: str, features: Sequence[Feature]) -> list[FeatureResult]:
    """Compare every feature that applies to `asset`. Pure: no I/O."""
    want, have = parse(intended), parse(actual)
    return [compare_feature(f, asset.platform, want, have) for f in features if f.applies_to(asset)]


def run_drift(assets: Sequence[Asset], rendered: Mapping[str, RenderResult], features: Sequence[Feature],
              source: ActualSource, targets: Mapping[str, DeviceTarget], unreachable: Mapping[str, tuple[str, str]],
              executor: Executor, repo: GitRepo, records: RecordStore | None,
              on_event: Callable[[Event], None] | None = None, stop: Callable[[], bool] | None = None,
              shared: frozenset[str] = frozenset()) -> DriftRun:
    """Compare each asset's rendered intent with its actual config (live, or its committed backup),
    per feature, and record the run. `stop`: once set, no new device is read (see the module).
    `shared`: the keys of devices whose name another device of their client has (their backup
    files are per NetBox object, see `backup_file`)."""
    started = datetime.now(UTC)
    run_id = new_run_id("drift", started)
    todo = [a for a in assets if rendered[a.key].status == "ok"]
    actual: dict[str, tuple[str | None, datetime | None, str | None, str | None]] = {}
    platforms = {a.key: a.platform for a in assets}
    if source == "live":
        live = [a.key for a in todo if a.key in targets]

        def task(ctx: TaskContext) -> tuple[str, datetime]:
            text = fetch_config(targets[ctx.target], ctx.timeout, platforms[ctx.target])
            return text, datetime.now(UTC)

        remote = RemoteTask("device.config", task, {k: describe(targets[k], platform=platforms[k]) for k in live},
                            decode=lambda v: (str(v["text"]), datetime.fromisoformat(v["at"])), run_id=run_id)
        for res in executor.run(live, unless_stopped(stop, remote), on_event):
            text, when = res.value if res.ok and res.value else (None, None)
            actual[res.target] = (text, when, res.error, res.error_type)
    else:
        for a in todo:  # the committed backup: a file a killed backup left uncommitted is no evidence
            try:
                path = backup_file(repo.path, a, a.key in shared)
            except PathEscapeError as exc:
                actual[a.key] = (None, None, exc.message, exc.code)
                continue
            rel = path.relative_to(repo.path).as_posix()
            committed = repo.committed(rel) if (repo.path / ".git").is_dir() else None
            if committed is not None:
                actual[a.key] = (committed, repo.last_commit_time(rel), None, None)
            else:
                actual[a.key] = (None, None, f"no backup of {a.name} in {repo.path}", "MSP-BAK-404")
    devices: list[DeviceDrift] = []
    now = datetime.now(UTC)
    for asset in assets:
        r = rendered[asset.key]
        if r.status == "skipped":
            devices.append(DeviceDrift(asset, "skipped", error=r.error))
            continue
        if r.status == "failed":
            devices.append(DeviceDrift(asset, "failed", error=r.error, error_code=r.error_code))
            continue
        if source == "live" and asset.key in unreachable:
            reason, why = unreachable[asset.key]
            devices.append(DeviceDrift(asset, "failed", source=source, error=reason, error_code=why))
            continue
        text, when, error, code = actual[asset.key]
        if code == RunInterrupted.__name__:  # never read
            devices.append(DeviceDrift(asset, "skipped", source=source, error_code=RunInterrupted.code,
                                       error=f"not audited: the run was interrupted by {stopped_by(stop)}"))
            continue
        if text is None:
            devices.append(DeviceDrift(asset, "failed", source=source, error=error, error_code=code))
            continue
        # A backup written by an older mspctl may still hold secrets: scrubbed again (a no-op otherwise).
        results = evaluate(asset, scrub(r.text or "", asset.platform), scrub(text, asset.platform), features)
        status: DeviceStatus = "drift" if any(f.status == "drift" for f in results) else "compliant"
        if not results:
            status = "skipped"
        devices.append(DeviceDrift(asset, status, results, source, when,
                                   (now - when).total_seconds() if when else None))
    run = DriftRun(run_id, started, datetime.now(UTC), devices, stopped_by(stop))
    if records is not None:
        records.save(RunRecord(run_id, "drift", run.started_at, run.finished_at,
                               {"source": source, "interrupted": run.interrupted or None},
                               run.summary, {d.asset.key: (d.status, d.to_dict()) for d in devices}))
    return run


def audit(settings: Settings, inventory: InventoryService, flt: AssetFilter, source: ActualSource = "live",
          feature_names: Sequence[str] = (), mode: Mode = "auto",
          on_event: Callable[[Event], None] | None = None, stop: Callable[[], bool] | None = None,
          driver: str | None = None) -> DriftRun:
    """Render, fetch actual configs (live or backup), compare per feature, record the run.
    `stop`: once set, no new device is read (the run is then `interrupted`). `driver`: the read
    driver for live reads (--driver), else each platform's; raises UnknownPluginError
    (MSP-PLUG-404) for one that is not installed."""
    from mspctl.devices import executor_for, network_devices, plan
    from mspctl.drift.features import select_features
    from mspctl.inventory.platforms import PlatformMap
    from mspctl.render.service import render_intended

    features = select_features(settings.path(settings.config.features), feature_names,
                               PlatformMap(settings.platforms))
    assets = network_devices(inventory, flt, mode, PlatformMap(settings.platforms))
    rendered = render_intended(settings, inventory, assets, mode)
    targets, unreachable = plan(settings, inventory, assets, driver=driver) if source == "live" else ({}, {})
    return run_drift(assets, rendered, features, source, targets, unreachable, executor_for(settings),
                     GitRepo(settings.path(settings.config.backups)), RecordStore(settings.records_location),
                     on_event, stop, inventory.shared_in_client(mode) if source == "backup" else frozenset())
