"""`mspctl config push` and `rollback`: change devices safely.

Per device: read the live config (the pre-change backup), work out the remediation of the
drifted features, and, only with ``apply``: send it, save, and check compliance again. A device
error, a lost connection or a failed post-check rolls the device back to its pre-change
config (for the features touched) and says so. Every push is a run record; a completed push
can be undone later with `rollback_run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mspctl.adapters.netmiko import DeviceCommandError, DeviceError, DeviceSession, DeviceTarget
from mspctl.backup.scrub import MASK, Scrubber
from mspctl.drift.compare import FeatureResult, remediation
from mspctl.drift.configtext import clean, parse
from mspctl.drift.features import Feature
from mspctl.drift.service import evaluate
from mspctl.executor import Event, Executor, TaskContext
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset
from mspctl.records import RecordStore, RunRecord, new_run_id
from mspctl.redact import redact
from mspctl.render.service import RenderResult
from mspctl.settings import Settings

PushStatus = Literal["compliant", "planned", "applied", "rolled_back", "rollback_failed", "failed", "refused",
                     "skipped"]
FAILED = ("rolled_back", "rollback_failed", "failed", "refused")


@dataclass
class DevicePush:
    asset: Asset
    status: PushStatus
    features: list[str] = field(default_factory=list)  # the drifted features this push fixes
    commands: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    rollback_commands: list[str] = field(default_factory=list)
    post_check: list[FeatureResult] = field(default_factory=list)
    pre_config: str = ""  # scrubbed; what `rollback --run` restores

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.asset.name, "client": self.asset.client, "status": self.status,
                "features": self.features, "commands": self.commands, "error": self.error,
                "error_code": self.error_code, "rollback_commands": self.rollback_commands,
                "post_check": [{"feature": f.feature, "status": f.status} for f in self.post_check]}


@dataclass
class PushRun:
    run_id: str
    kind: Literal["push", "rollback"]
    applied: bool
    started_at: datetime
    finished_at: datetime
    devices: list[DevicePush]

    @property
    def summary(self) -> dict[str, int]:
        states = ("compliant", "planned", "applied", "rolled_back", "rollback_failed", "failed", "refused", "skipped")
        return {s: sum(d.status == s for d in self.devices) for s in states}

    @property
    def failed(self) -> bool:
        return any(d.status in FAILED for d in self.devices)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kind": self.kind, "applied": self.applied,
                "started_at": self.started_at.isoformat(), "finished_at": self.finished_at.isoformat(),
                "summary": self.summary, "devices": [d.to_dict() for d in self.devices]}


def _remediate(asset: Asset, features: Sequence[Feature], current: str, target: str) -> list[str]:
    cur, tgt = parse(current), parse(target)
    out: list[str] = []
    for f in features:
        if f.applies_to(asset):
            out.extend(remediation(asset.platform, f.select(cur), f.select(tgt)))
    return out


def _rollback(asset: Asset, target: DeviceTarget, timeout: float, pre: str, touched: Sequence[Feature],
              result: DevicePush, reason: str, code: str) -> DevicePush:
    """Put the touched features back as they were before the push, on a fresh session."""
    result.error, result.error_code = redact(reason), code
    try:
        with DeviceSession(target, timeout) as session:
            current = clean(session.running_config())
            result.rollback_commands = _remediate(asset, touched, current, pre)
            if result.rollback_commands:
                session.apply(result.rollback_commands)
                session.save()
            after = clean(session.running_config())
        left = [f for f in evaluate(asset, pre, after, touched) if f.status == "drift"]
        if left:
            result.status = "rollback_failed"
            result.error += f"; rollback left {', '.join(f.feature for f in left)} different from before"
        else:
            result.status = "rolled_back"
    except (DeviceError, OSError) as exc:
        result.status = "rollback_failed"
        result.error += f"; rollback failed: {redact(str(exc))}"
    return result


def push_device(asset: Asset, target: DeviceTarget, intended: str, features: Sequence[Feature], apply: bool,
                ctx: TaskContext, scrub: Scrubber) -> DevicePush:
    """One device's push. Raises (retryably) only before anything was changed."""
    with DeviceSession(target, ctx.timeout) as session:
        pre = clean(session.running_config())
        drifted = [f for f in evaluate(asset, intended, pre, features) if f.status == "drift"]
        result = DevicePush(asset, "compliant", pre_config=scrub(pre))
        if not drifted:
            return result
        touched = [f for f in features if f.name in {d.feature for d in drifted}]
        result.features = [f.name for f in touched]
        result.commands = [c for d in drifted for c in d.remediation]
        if not apply:
            result.status = "planned"
            return result
        try:
            session.apply(result.commands)
            session.save()
            post = clean(session.running_config())
        except DeviceCommandError as exc:
            return _rollback(asset, target, ctx.timeout, pre, touched, result, exc.message, exc.code)
        except (DeviceError, OSError) as exc:
            return _rollback(asset, target, ctx.timeout, pre, touched, result, f"connection lost mid-change: {exc}",
                             type(exc).__name__)
    result.post_check = evaluate(asset, intended, post, touched)
    still = [f.feature for f in result.post_check if f.status == "drift"]
    if still:
        return _rollback(asset, target, ctx.timeout, pre, touched, result,
                         f"post-change check failed: {', '.join(still)} still drifted", "MSP-PUSH-409")
    result.status = "applied"
    return result


def run_push(assets: Sequence[Asset], rendered: Mapping[str, RenderResult], features: Sequence[Feature],
             targets: Mapping[str, DeviceTarget], unreachable: Mapping[str, tuple[str, str]],
             refused: Mapping[str, str], apply: bool, executor: Executor, records: RecordStore,
             on_event: Callable[[Event], None] | None = None, scrub: Scrubber | None = None) -> PushRun:
    scrub = scrub or Scrubber()
    started = datetime.now(UTC)
    run_id = new_run_id("push", started)
    names = [a.name for a in assets if a.name in targets and a.name not in refused
             and rendered[a.name].status == "ok"]
    by_name = {a.name: a for a in assets}

    def task(ctx: TaskContext) -> DevicePush:
        a = by_name[ctx.target]
        return push_device(a, targets[a.name], rendered[a.name].text or "", features, apply, ctx, scrub)

    results = {r.target: r for r in executor.run(names, task, on_event)}
    devices: list[DevicePush] = []
    for a in assets:
        r = rendered[a.name]
        if r.status != "ok":
            devices.append(DevicePush(a, "skipped" if r.status == "skipped" else "failed", error=r.error,
                                      error_code=r.error_code))
        elif a.name in refused:
            devices.append(DevicePush(a, "refused", error=refused[a.name], error_code="MSP-WIN-423"))
        elif a.name in unreachable:
            devices.append(DevicePush(a, "failed", error=unreachable[a.name][0], error_code=unreachable[a.name][1]))
        else:
            res = results[a.name]
            devices.append(res.value if res.ok and res.value else
                           DevicePush(a, "failed", error=res.error, error_code=res.error_type))
    run = PushRun(run_id, "push", apply, started, datetime.now(UTC), devices)
    if apply:
        _record(records, run)
    return run


def _record(records: RecordStore, run: PushRun) -> None:
    records.save(RunRecord(run.run_id, run.kind, run.started_at, run.finished_at, {"applied": run.applied},
                           run.summary, {d.asset.name: (d.status, {**d.to_dict(), "pre_config": d.pre_config,
                                                                   "asset": d.asset.to_dict()})
                                         for d in run.devices}))


def rollback_run(record: RunRecord, features: Sequence[Feature], targets: Mapping[str, DeviceTarget],
                 apply: bool, executor: Executor, records: RecordStore,
                 on_event: Callable[[Event], None] | None = None) -> PushRun:
    """Undo a completed push: restore the pushed features of each applied device to its pre-change state."""
    started = datetime.now(UTC)
    applied = {t: data for t, (status, data) in record.results.items() if status == "applied"}
    by_feature = {f.name: f for f in features}

    def task(ctx: TaskContext) -> DevicePush:
        data = applied[ctx.target]
        asset = Asset.from_dict(data["asset"])
        touched = [by_feature[n] for n in data["features"] if n in by_feature]
        result = DevicePush(asset, "compliant", features=[f.name for f in touched])
        with DeviceSession(targets[ctx.target], ctx.timeout) as session:
            current = clean(session.running_config())
            result.commands = _remediate(asset, touched, current, data["pre_config"])
            if any(MASK in c for c in result.commands):
                result.status, result.error_code = "refused", "MSP-PUSH-451"
                result.error = "the pre-change config of these lines was scrubbed of secrets; restore them by hand"
                return result
            if not result.commands:
                return result
            if not apply:
                result.status = "planned"
                return result
            session.apply(result.commands)
            session.save()
            after = clean(session.running_config())
        left = [f.feature for f in evaluate(asset, data["pre_config"], after, touched) if f.status == "drift"]
        result.status = "failed" if left else "applied"
        if left:
            result.error = f"{', '.join(left)} still differ from the pre-change config"
        return result

    names = [t for t in applied if t in targets]
    results = executor.run(names, task, on_event)
    devices = [r.value if r.ok and r.value else
               DevicePush(Asset.from_dict(applied[r.target]["asset"]), "failed", error=r.error,
                          error_code=r.error_type) for r in results]
    devices += [DevicePush(Asset.from_dict(applied[t]["asset"]), "failed", error="device no longer reachable "
                           "(not in the inventory or no credentials)", error_code="MSP-DEV-404")
                for t in applied if t not in targets]
    run = PushRun(new_run_id("rollback", started), "rollback", apply, started, datetime.now(UTC), devices)
    if apply:
        _record(records, run)
    return run


def push(settings: Settings, inventory: InventoryService, flt: AssetFilter, feature_names: Sequence[str] = (),
         apply: bool = False, force: bool = False, mode: Mode = "auto", now: datetime | None = None,
         on_event: Callable[[Event], None] | None = None) -> PushRun:
    """Plan (and with `apply`, make) the changes that bring devices to their intended config."""
    from mspctl.devices import executor_for, network_devices, plan
    from mspctl.drift.features import select_features
    from mspctl.inventory.platforms import PlatformMap
    from mspctl.render.service import render_intended
    from mspctl.windows import current_time, window_state

    features = select_features(settings.path(settings.config.features), feature_names)
    assets = network_devices(inventory, flt, mode, PlatformMap(settings.platforms))
    rendered = render_intended(settings, inventory, assets, mode)
    targets, unreachable = plan(settings, inventory, assets)
    refused: dict[str, str] = {}
    now = now or current_time()
    if apply and not force:
        for a in assets:
            cs = inventory.client_settings.get(a.client or "")
            if cs is not None and cs.maintenance_window is not None:
                state = window_state(cs.maintenance_window, now)
                if not state.open:
                    refused[a.name] = f"client {a.client}'s change window is {state.reason} (--force overrides)"
    # Changes are not retried: only the read before any change may be, and push_device raises only there.
    executor = executor_for(settings)
    return run_push(assets, rendered, features, targets, unreachable, refused, apply, executor,
                    RecordStore(settings.config.records), on_event)


def rollback(settings: Settings, inventory: InventoryService, run_id: str, apply: bool = False,
             mode: Mode = "auto", on_event: Callable[[Event], None] | None = None) -> PushRun:
    """Undo the push run `run_id` (dry run unless `apply`)."""
    from mspctl.devices import executor_for, plan
    from mspctl.errors import UsageError

    records = RecordStore(settings.config.records)
    record = records.get(run_id)
    if record.kind != "push":
        raise UsageError(f"run {run_id} is a {record.kind} run; only push runs can be rolled back")
    inv = inventory.load(mode)
    names = {t for t, (status, _) in record.results.items() if status == "applied"}
    assets = [a for a in inv.assets if a.name in names]
    targets, _ = plan(settings, inventory, assets)
    from mspctl.drift.features import select_features

    features = select_features(settings.path(settings.config.features))
    return rollback_run(record, features, targets, apply, executor_for(settings), records, on_event)
