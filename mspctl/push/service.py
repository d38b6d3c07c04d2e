"""`mspctl config push` and `rollback`: change devices safely.

Per device: read the live config, work out the remediation of the drifted features, refuse a
plan that would remove interfaces or a large share of the config (unless allowed), and, only
with ``apply``:

1. journal the intent (the planned commands, a digest of the pre-change config) before the
   first command reaches the device;
2. snapshot the running config onto the device's own flash (`copy running-config flash:`),
   so a rollback is an exact `configure replace`: secrets, banners and deleted lines come back,
   and mspctl never stores the device's secrets;
3. send the commands in a self-reverting session where the platform has one (EOS
   `configure session` + `commit timer`, IOS `configure terminal revert timer`): a device
   that loses mspctl mid-change reverts on its own;
4. post-check compliance, confirm, write memory.

Any failure (a refused line, a lost session, a failed post-check, a stop signal mid-send)
puts the device back to its snapshot and verifies it. The record lists the commands the
device accepted. A run killed outright is sealed as `unfinished` by the next mspctl process
(see mspctl.records), and `rollback_run` restores its devices from their snapshots.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mspctl.adapters.netmiko import (
    ChangeInterrupted,
    DeviceCommandError,
    DeviceError,
    DeviceSession,
    DeviceTarget,
    SafeChange,
    safe_change_support,
)
from mspctl.drift.compare import FeatureResult, remediation
from mspctl.drift.configtext import clean, parse
from mspctl.drift.features import Feature
from mspctl.drift.service import evaluate
from mspctl.executor import Event, Executor, TaskContext
from mspctl.interrupts import stopped_by
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset
from mspctl.records import RecordStore, RunRecord, new_run_id
from mspctl.render.service import RenderResult
from mspctl.secrets import MASK, scrub, scrub_lines
from mspctl.settings import Settings

if TYPE_CHECKING:
    from mspctl.run import Outcome, Run

PushStatus = Literal["compliant", "planned", "applied", "rolled_back", "rollback_failed", "failed", "refused",
                     "skipped", "partial", "unfinished"]
STATES: tuple[PushStatus, ...] = ("compliant", "planned", "applied", "rolled_back", "rollback_failed", "failed",
                                  "refused", "skipped", "partial", "unfinished")
FAILED = ("rolled_back", "rollback_failed", "failed", "refused", "partial", "unfinished")
Journal = Callable[[str, dict[str, Any]], None]


def config_digest(text: str) -> str:
    """A digest of a config's meaning: its lines as paths, order-insensitive (a device may print
    the same config in another order after `configure replace`). Identifies, never stores."""
    paths = sorted("\x1f".join(p) for line in parse(text) for p in line.paths())
    return hashlib.sha256("\n".join(paths).encode()).hexdigest()


@dataclass(frozen=True)
class PushOptions:
    revert_minutes: int = 10
    max_remove_share: float = 0.2
    allow_destructive: bool = False


@dataclass
class DevicePush:
    asset: Asset
    status: PushStatus
    features: list[str] = field(default_factory=list)  # the drifted features this push fixes
    commands: list[str] = field(default_factory=list)  # planned (scrubbed for display)
    accepted: list[str] = field(default_factory=list)  # what the device took, in order (scrubbed)
    error: str | None = None
    error_code: str | None = None
    rollback_commands: list[str] = field(default_factory=list)
    post_check: list[FeatureResult] = field(default_factory=list)
    pre_config: str = ""  # scrubbed: for display and for records without a snapshot
    snapshot: str | None = None  # the pre-change config on the device's flash
    self_revert: str = ""  # the device's own revert mechanism used, if any
    pre_digest: str = ""
    post_digest: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.asset.name, "client": self.asset.client, "id": self.asset.key,
                "status": self.status, "features": self.features, "commands": self.commands,
                "accepted": self.accepted, "accepted_count": len(self.accepted), "error": self.error,
                "error_code": self.error_code, "rollback_commands": self.rollback_commands,
                "snapshot": self.snapshot, "self_revert": self.self_revert or None, "warnings": self.warnings,
                "post_check": [{"feature": f.feature, "status": f.status} for f in self.post_check]}


@dataclass
class PushRun:
    run_id: str
    kind: Literal["push", "rollback"]
    applied: bool
    started_at: datetime
    finished_at: datetime
    devices: list[DevicePush]
    interrupted: str = ""  # the signal that stopped the run, if one did
    recovered: list[str] = field(default_factory=list)  # earlier runs found unfinished when this one started

    @property
    def summary(self) -> dict[str, int]:
        from mspctl.run import count

        return count((d.status for d in self.devices), STATES)

    @property
    def failed(self) -> bool:
        return any(d.status in FAILED for d in self.devices)

    def to_run(self) -> Run:
        """The one run value (`mspctl.run`): a result per device, its diff the commands planned
        or sent."""
        from mspctl.errors import RunInterrupted
        from mspctl.run import TargetResult, new_run

        def outcome(status: str) -> Outcome:
            return ("failed" if status in FAILED else "skipped" if status == "skipped"
                    else "finding" if status == "planned" else "ok")

        def code(d: DevicePush) -> str | None:
            interrupted = self.interrupted and d.status == "skipped" and "interrupted" in (d.error or "")
            return RunInterrupted.code if interrupted and not d.error_code else d.error_code

        return new_run(self.run_id, self.kind, self.started_at, self.finished_at, [
            TargetResult(d.asset.key, d.asset.name, d.asset.client, d.status, outcome(d.status),
                         changed=bool(d.accepted), diff="\n".join(d.commands), error=d.error, error_code=code(d),
                         data=d.to_dict()) for d in self.devices],
            interrupted=self.interrupted, params={"applied": self.applied}, summary_keys=STATES,
            document=self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kind": self.kind, "applied": self.applied,
                "started_at": self.started_at.isoformat(), "finished_at": self.finished_at.isoformat(),
                "interrupted": self.interrupted or None, "recovered": self.recovered,
                "summary": self.summary, "devices": [d.to_dict() for d in self.devices]}


_INTERFACE_REMOVAL = re.compile(r"^\s*(?:no|default) interface (\S+)")


def destructive(commands: Sequence[str], current: str, max_remove_share: float) -> str | None:
    """Why a plan must not run without --allow-destructive, or None: it removes interfaces, or
    more than `max_remove_share` of the device's configuration lines."""
    gone = [m.group(1) for c in commands if (m := _INTERFACE_REMOVAL.match(c))]
    if gone:
        return f"the plan removes {len(gone)} interface(s): {', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''}"
    total = sum(1 for line in parse(current) for _ in line.paths())
    removed = sum(1 for c in commands if c.strip().startswith("no ") and c.strip() != "no shutdown")
    if total and removed / total > max_remove_share:
        return (f"the plan removes {removed} of the device's {total} configuration lines "
                f"({removed / total:.0%}, more than the {max_remove_share:.0%} allowed by [push] max_remove_share)")
    return None


def _remediate(asset: Asset, features: Sequence[Feature], current: str, target: str) -> list[str]:
    cur, tgt = parse(current), parse(target)
    out: list[str] = []
    for f in features:
        if f.applies_to(asset):
            out.extend(remediation(asset.platform, *reversed(f.owned(tgt, cur))))
    return out


@dataclass
class _Change:
    """One device's change in progress: what is needed to undo it."""

    session: DeviceSession | None
    target: DeviceTarget
    support: SafeChange
    name: str  # the EOS session name, and the snapshot file's stem
    revert_minutes: int | None  # the device's own revert timer, when one is running
    timeout: float = 60.0
    pending_revert: bool = False  # sent but not yet confirmed: the device may still revert itself
    saved: bool = False


def _undo(change: _Change, asset: Asset, pre: str, touched: Sequence[Feature], result: DevicePush, reason: str,
          code: str, journal: Journal) -> DevicePush:
    """Put the device back as it was before the push and verify it; on the open session if it
    still works, else on a fresh one."""
    result.error, result.error_code = scrub(reason, asset.platform), code
    journal("rolling_back", {"reason": result.error, "accepted": result.accepted})

    def attempt(session: DeviceSession) -> str:
        if change.pending_revert:
            # The device's own mechanism first: it knows exactly what it changed. Its timer may
            # have fired already; the digest below tells.
            with contextlib.suppress(DeviceError):
                session.revert_now(change.name if change.support.self_revert == "commit-timer" else None)
        after = clean(session.running_config())
        if config_digest(after) != result.pre_digest:
            if result.snapshot:
                session.restore(result.snapshot)
                result.rollback_commands = [f"configure replace {result.snapshot}"]
            else:  # no snapshot on this platform: undo the touched features line by line
                commands = _remediate(asset, touched, after, pre)
                result.rollback_commands = scrub_lines(commands, asset.platform)
                if commands:
                    session.apply(commands)
            after = clean(session.running_config())
        if change.saved or result.rollback_commands:
            session.save()  # the startup config follows, as it did before the push
        return after

    try:
        if change.session is not None:
            try:
                after = attempt(change.session)
            except (DeviceError, OSError):
                change.session = None
        if change.session is None:
            with DeviceSession(change.target, change.timeout) as fresh:
                after = attempt(fresh)
        result.post_digest = config_digest(after)
        if result.snapshot or not touched:
            ok = result.post_digest == result.pre_digest
        else:
            ok = not [f for f in evaluate(asset, pre, after, touched) if f.status == "drift"]
        result.status = "rolled_back" if ok else "rollback_failed"
        if not ok:
            result.error += "; after the rollback the device still differs from its pre-change config"
    except (DeviceError, OSError) as exc:
        result.status = "rollback_failed"
        result.error += f"; rollback failed: {scrub(str(exc), asset.platform)}"
        if change.pending_revert and change.revert_minutes:
            result.error += (f"; the device reverts by itself within {change.revert_minutes} min "
                             f"({change.support.self_revert})")
    journal("done", {"status": result.status, "error": result.error, "accepted": result.accepted})
    return result


def _wrong_machine(session: DeviceSession, asset: Asset) -> str | None:
    """Why the device at this address is not the one NetBox names, or None. Its serial number
    must appear in `show version` (when NetBox has one): a stale IP must not get another
    device's change."""
    if not asset.serial:
        return None
    version = session.show("show version")
    if asset.serial.lower() in version.lower():
        return None
    return (f"the device at {asset.primary_ip} is not {asset.name}: NetBox's serial {asset.serial} is not in its "
            "`show version`; nothing was changed (fix the primary IP or the serial in NetBox)")


def push_device(asset: Asset, target: DeviceTarget, intended: str, features: Sequence[Feature], apply: bool,
                ctx: TaskContext, run_id: str = "", journal: Journal | None = None,
                options: PushOptions | None = None, stop: Callable[[], bool] = lambda: False) -> DevicePush:
    """One device's push. Raises (retryably) only before anything was changed. The real lines
    (the pre-change config, the commands) stay in memory: the result, the journal and so the
    record and the output hold them scrubbed of secrets."""
    journal = journal or (lambda _event, _data: None)
    options = options or PushOptions()
    with DeviceSession(target, ctx.timeout) as session:
        pre = clean(session.running_config())
        drifted = [f for f in evaluate(asset, intended, pre, features) if f.status == "drift"]
        platform = asset.platform
        result = DevicePush(asset, "compliant", pre_config=scrub(pre, platform))
        if not drifted:
            return result
        touched = [f for f in features if f.name in {d.feature for d in drifted}]
        result.features = [f.name for f in touched]
        commands = [c for d in drifted for c in d.remediation]
        result.commands = scrub_lines(commands, platform)
        why = destructive(commands, pre, options.max_remove_share)
        if why and not options.allow_destructive:
            result.status, result.error_code = "refused", "MSP-PUSH-413"
            result.error = f"{why}; NetBox may not model what it would delete (--allow-destructive to push anyway)"
            return result
        if why:
            result.warnings.append(why)
        if not apply:
            result.status = "planned"
            return result
        wrong = _wrong_machine(session, asset)
        if wrong:
            result.status, result.error_code, result.error = "refused", "MSP-PUSH-421", wrong
            return result
        if stop():
            result.status, result.error = "skipped", "the run was interrupted before this device started"
            return result
        support = safe_change_support(target.device_type, pre)
        tag = f"mspctl-{run_id or new_run_id('push')}"
        result.pre_digest = config_digest(pre)
        result.self_revert = support.self_revert
        revert = options.revert_minutes if support.self_revert else None
        change = _Change(session, target, support, tag, revert, ctx.timeout)
        journal("intent", {**_named(asset), "features": result.features, "commands": result.commands,
                           "pre_digest": result.pre_digest, "self_revert": support.self_revert or None,
                           "snapshot": f"flash:{tag}.cfg" if support.snapshot else None,
                           "pre_config": result.pre_config})
        if support.snapshot:
            try:
                result.snapshot = session.snapshot(f"{tag}.cfg")
            except (DeviceError, OSError) as exc:  # nothing changed yet: fail without touching it
                result.status, result.error_code = "failed", "MSP-PUSH-424"
                result.error = f"could not save the pre-change snapshot on the device: {scrub(str(exc), platform)}"
                journal("done", {"status": result.status, "error": result.error})
                return result
            journal("snapshot", {"snapshot": result.snapshot})
        session_name = tag if support.self_revert == "commit-timer" else None
        sent: list[str] = []
        try:
            change.pending_revert = support.self_revert == "revert-timer"
            session.send_config(commands, sent, session=session_name, revert_minutes=revert, stop=stop)
            result.accepted = scrub_lines(sent, platform)
            if session_name:
                change.pending_revert = True
                session.commit(session_name, revert or options.revert_minutes)
            journal("sent", {"accepted": result.accepted})
            post = clean(session.running_config())
        except DeviceCommandError as exc:
            result.accepted = scrub_lines(sent, platform)
            # The adapter names the line scrubbed already; a line named verbatim is scrubbed here too.
            message = exc.message.replace(exc.line, scrub(exc.line, platform)) if exc.line else exc.message
            return _undo(change, asset, pre, touched, result, message, exc.code, journal)
        except ChangeInterrupted as exc:
            result.accepted = scrub_lines(exc.accepted, platform)
            if exc.in_flight is not None:
                taken = scrub(exc.in_flight, platform).strip()
                result.warnings.append(f"the device may or may not have taken {taken!r}")
            if stop() and exc.in_flight is None:
                reason, code = "the run was interrupted mid-change", "MSP-PUSH-499"
            else:
                reason, code = f"connection lost mid-change: {exc.message}", "MSP-PUSH-504"
            return _undo(change, asset, pre, touched, result, reason, code, journal)
        except (DeviceError, OSError) as exc:
            result.accepted = scrub_lines(sent, platform)
            change.session = None
            return _undo(change, asset, pre, touched, result, f"connection lost mid-change: {exc}", "MSP-PUSH-504",
                         journal)
        result.post_check = evaluate(asset, intended, post, touched)
        still = [f.feature for f in result.post_check if f.status == "drift"]
        if still:
            return _undo(change, asset, pre, touched, result,
                         f"post-change check failed: {', '.join(still)} still drifted", "MSP-PUSH-409", journal)
        try:
            if change.pending_revert:
                session.confirm(session_name)
                change.pending_revert = False
            journal("confirmed", {})
            change.saved = True
            session.save()
        except (DeviceError, OSError) as exc:
            change.session = None
            return _undo(change, asset, pre, touched, result, f"could not confirm and save the change: {exc}",
                         "MSP-PUSH-504", journal)
    result.post_digest = config_digest(post)
    result.status = "applied"
    journal("done", {"status": "applied", "accepted": result.accepted, "post_digest": result.post_digest})
    return result


def run_push(assets: Sequence[Asset], rendered: Mapping[str, RenderResult], features: Sequence[Feature],
             targets: Mapping[str, DeviceTarget], unreachable: Mapping[str, tuple[str, str]],
             refused: Mapping[str, str], apply: bool, executor: Executor, records: RecordStore,
             on_event: Callable[[Event], None] | None = None,
             options: PushOptions | None = None, stop: Callable[[], bool] = lambda: False) -> PushRun:
    started = datetime.now(UTC)
    run_id = new_run_id("push", started)
    keys = [a.key for a in assets if a.key in targets and a.key not in refused
            and rendered[a.key].status == "ok"]
    by_key = {a.key: a for a in assets}
    if apply:  # on disk before any device is touched
        records.start(run_id, "push", started, {"applied": True, "devices": keys})

    def task(ctx: TaskContext) -> DevicePush:
        a = by_key[ctx.target]

        def journal(event: str, data: dict[str, Any]) -> None:
            if apply:
                records.journal(run_id, a.key, event, data)

        return push_device(a, targets[a.key], rendered[a.key].text or "", features, apply, ctx, run_id,
                           journal, options, stop)

    from mspctl.scale.jobs import RemoteTask, describe
    from mspctl.scale.pushing import intended_digest, push_from_json

    def forwarded(target: str, event: str, data: dict[str, Any]) -> None:  # a worker's journal entry
        if apply:
            records.journal(run_id, target, event, data)

    opts = options or PushOptions()
    remote = RemoteTask("device.push", task,
                        {k: describe(targets[k], platform=by_key[k].platform, asset=by_key[k].to_dict(),
                                     intended_digest=intended_digest(rendered[k].text or "")) for k in keys},
                        params={"apply": apply, "run_id": run_id, "features": [f.name for f in features],
                                "options": {"revert_minutes": opts.revert_minutes,
                                            "max_remove_share": opts.max_remove_share,
                                            "allow_destructive": opts.allow_destructive}},
                        decode=push_from_json, change=apply, run_id=run_id, stop=stop, on_journal=forwarded)
    results = {r.target: r for r in executor.run(keys, remote, on_event)}
    devices: list[DevicePush] = []
    for a in assets:
        r = rendered[a.key]
        if r.status != "ok":
            devices.append(DevicePush(a, "skipped" if r.status == "skipped" else "failed", error=r.error,
                                      error_code=r.error_code))
        elif a.key in refused:
            devices.append(DevicePush(a, "refused", error=refused[a.key], error_code="MSP-WIN-423"))
        elif a.key in unreachable:
            devices.append(DevicePush(a, "failed", error=unreachable[a.key][0], error_code=unreachable[a.key][1]))
        else:
            res = results[a.key]
            if res.ok and res.value:
                devices.append(res.value)
            elif res.error_type == "Unfinished":  # a worker took it and was lost: never pushed twice
                devices.append(_unfinished(a, res.error or "", records, run_id, apply))
            else:
                devices.append(DevicePush(a, "failed", error=res.error, error_code=res.error_type))
    run = PushRun(run_id, "push", apply, started, datetime.now(UTC), devices,
                  interrupted=stopped_by(stop),
                  recovered=[r.id for r in records.recovered])
    if apply:
        _record(records, run)
    return run


def _unfinished(asset: Asset, error: str, records: RecordStore, run_id: str, apply: bool) -> DevicePush:
    """A device whose change batch was lost with its worker (MSP-EXEC-425): what the journal says
    was done to it (the worker's entries, forwarded as they were made), and a journal entry that
    names it, for `rollback --run` or an engineer to resolve."""
    facts: dict[str, Any] = {}
    events: list[str] = []
    if apply:
        for e in records.entries(run_id):
            if e.target == asset.key:
                facts.update(e.data)
                events.append(e.event)
        records.journal(run_id, asset.key, "unfinished", {**_named(asset), "error": error, "events": events})
    return DevicePush(asset, "unfinished", features=list(facts.get("features") or []),
                      commands=list(facts.get("commands") or []), error=error, error_code="MSP-EXEC-425",
                      pre_config=str(facts.get("pre_config") or ""), snapshot=facts.get("snapshot"),
                      self_revert=str(facts.get("self_revert") or ""), pre_digest=str(facts.get("pre_digest") or ""))


def _record(records: RecordStore, run: PushRun) -> None:
    records.save(RunRecord(run.run_id, run.kind, run.started_at, run.finished_at,
                           {"applied": run.applied, "interrupted": run.interrupted or None},
                           run.summary, {d.asset.key: (d.status, {**d.to_dict(), "pre_config": d.pre_config,
                                                                   "pre_digest": d.pre_digest,
                                                                   "post_digest": d.post_digest,
                                                                   "asset": d.asset.to_dict()})
                                         for d in run.devices}))


def _named(asset: Asset) -> dict[str, Any]:
    """What a journal's intent says of its device: the NetBox object and, for reading, its name."""
    return {"device": asset.name, "client": asset.client, "asset": asset.to_dict()}


# Device states of a push record that `rollback --run` may undo.
UNDOABLE = ("applied", "unfinished", "rollback_failed", "partial")


def undoable(record: RunRecord) -> dict[str, tuple[str, dict[str, Any]]]:
    """The devices of a push record that a rollback may undo, by asset key (`kind:id`), taken from
    the asset each result holds: records written before targets were keys name them by device
    name, which two clients may share."""
    return {Asset.from_dict(data["asset"]).key: (status, data) for status, data in record.results.values()
            if status in UNDOABLE and "asset" in data}


def _settle(session: DeviceSession, data: dict[str, Any]) -> None:
    """After a push that was killed: end what it may have left pending on the device (an EOS
    session never committed, an IOS revert timer whose archive is the config as it is now), so
    no timer fires later. Errors mean there was nothing pending."""
    snapshot = str(data.get("snapshot") or "")
    name = snapshot.removeprefix("flash:").removesuffix(".cfg")
    if data.get("self_revert") == "commit-timer" and name:
        with contextlib.suppress(DeviceError):
            session.revert_now(name)
    elif data.get("self_revert") == "revert-timer":
        with contextlib.suppress(DeviceError):
            session.revert_now(None)


def rollback_device(data: dict[str, Any], status: str, features: Sequence[Feature], target: DeviceTarget,
                    apply: bool, ctx: TaskContext, force: bool = False,
                    journal: Journal | None = None) -> DevicePush:
    """Undo one device's push. With its snapshot on the device: an exact `configure replace`,
    refused when the device changed since the push (unless `force`). Records from before
    snapshots: the touched features back to the scrubbed pre-change config, lines that were
    scrubbed of secrets left to the operator (`partial`)."""
    journal = journal or (lambda _event, _data: None)
    asset = Asset.from_dict(data["asset"])
    result = DevicePush(asset, "compliant", features=list(data.get("features") or []))
    snapshot, pre_digest = data.get("snapshot"), data.get("pre_digest")
    with DeviceSession(target, ctx.timeout) as session:
        current = clean(session.running_config())
        if snapshot and pre_digest:
            result.snapshot, result.pre_digest = snapshot, pre_digest
            if status == "unfinished" and apply:
                _settle(session, data)  # first: the device's own revert may finish the job
                current = clean(session.running_config())
            if status == "unfinished" and "snapshot" not in data.get("events", []):
                result.warnings.append("the push stopped before it sent anything to this device")
                return result
            if config_digest(current) == pre_digest:
                return result  # as before the push already (it reverted itself, or was undone)
            if status == "applied" and data.get("post_digest") and config_digest(current) != data["post_digest"] \
                    and not force:
                result.status, result.error_code = "refused", "MSP-PUSH-452"
                result.error = ("the device changed since the push; restoring the snapshot would undo those changes "
                                "too (--force to restore it anyway)")
                return result
            result.commands = [f"configure replace {snapshot}"]
            if not apply:
                result.status = "planned"
                return result
            journal("intent", {**_named(asset), "commands": result.commands, "pre_digest": pre_digest,
                               "snapshot": snapshot})
            session.restore(snapshot)
            session.save()
            after = clean(session.running_config())
            result.accepted = list(result.commands)
            result.post_digest = config_digest(after)
            result.status = "applied" if result.post_digest == pre_digest else "failed"
            if result.status == "failed":
                result.error = "the device still differs from its snapshot after configure replace"
            journal("done", {"status": result.status})
            return result
        by_feature = {f.name: f for f in features}
        touched = [by_feature[n] for n in result.features if n in by_feature]
        commands = _remediate(asset, touched, current, data.get("pre_config") or "")
        masked = [c for c in commands if MASK in c]
        usable = [c for c in commands if MASK not in c]
        result.commands = scrub_lines(usable, asset.platform)  # `no` lines come from the live config
        if masked:
            shown = scrub_lines(masked[:5], asset.platform)
            result.warnings.append(f"{len(masked)} line(s) were scrubbed of secrets in the record and must be "
                                   f"restored by hand: {'; '.join(c.strip() for c in shown)}")
        if not usable:
            if masked:
                result.status, result.error_code = "partial", "MSP-PUSH-451"
                result.error = result.warnings[-1]
            return result
        if not apply:
            result.status = "planned"
            return result
        journal("intent", {**_named(asset), "commands": result.commands})
        session.apply(usable)
        session.save()
        result.accepted = list(result.commands)
        after = clean(session.running_config())
    left = [f.feature for f in evaluate(asset, data.get("pre_config") or "", after, touched) if f.status == "drift"]
    if masked:
        result.status, result.error_code = "partial", "MSP-PUSH-451"
        result.error = result.warnings[-1]
    elif left:
        result.status, result.error = "failed", f"{', '.join(left)} still differ from the pre-change config"
    else:
        result.status = "applied"
    journal("done", {"status": result.status})
    return result


def rollback_run(record: RunRecord, features: Sequence[Feature], targets: Mapping[str, DeviceTarget],
                 apply: bool, executor: Executor, records: RecordStore,
                 on_event: Callable[[Event], None] | None = None, force: bool = False,
                 stop: Callable[[], bool] = lambda: False) -> PushRun:
    """Undo a push run: every device it applied, or may have changed (unfinished, failed rollback),
    back to its pre-change state."""
    started = datetime.now(UTC)
    run_id = new_run_id("rollback", started)
    todo = undoable(record)
    if apply:
        records.start(run_id, "rollback", started, {"applied": True, "of": record.id, "devices": sorted(todo)})

    def task(ctx: TaskContext) -> DevicePush:
        status, data = todo[ctx.target]
        if stop():
            return DevicePush(Asset.from_dict(data["asset"]), "skipped",
                              error="the run was interrupted before this device started")

        def journal(event: str, entry: dict[str, Any]) -> None:
            if apply:
                records.journal(run_id, ctx.target, event, entry)

        return rollback_device(data, status, features, targets[ctx.target], apply, ctx, force, journal)

    keys = [t for t in todo if t in targets]
    results = executor.run(keys, task, on_event)
    devices = [r.value if r.ok and r.value else
               DevicePush(Asset.from_dict(todo[r.target][1]["asset"]), "failed", error=r.error,
                          error_code=r.error_type) for r in results]
    devices += [DevicePush(Asset.from_dict(todo[t][1]["asset"]), "failed", error="device no longer reachable "
                           "(not in the inventory or no credentials)", error_code="MSP-DEV-404")
                for t in todo if t not in targets]
    run = PushRun(run_id, "rollback", apply, started, datetime.now(UTC), devices,
                  interrupted=stopped_by(stop),
                  recovered=[r.id for r in records.recovered])
    if apply:
        _record(records, run)
    return run


def push(settings: Settings, inventory: InventoryService, flt: AssetFilter, feature_names: Sequence[str] = (),
         apply: bool = False, force: bool = False, mode: Mode = "auto", now: datetime | None = None,
         on_event: Callable[[Event], None] | None = None, allow_destructive: bool = False,
         stop: Callable[[], bool] = lambda: False) -> PushRun:
    """Plan (and with `apply`, make) the changes that bring devices to their intended config."""
    from mspctl.devices import executor_for, network_devices, plan
    from mspctl.drift.features import select_features
    from mspctl.inventory.platforms import PlatformMap
    from mspctl.render.service import render_intended
    from mspctl.windows import current_time, window_state

    records = RecordStore(settings.records_location)  # first: seals runs an earlier process left unfinished
    features = select_features(settings.path(settings.config.features), feature_names,
                               PlatformMap(settings.platforms))
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
                    refused[a.key] = f"client {a.client}'s change window is {state.reason} (--force overrides)"
    options = PushOptions(settings.push.revert_minutes, settings.push.max_remove_share, allow_destructive)
    # Changes are not retried: only the read before any change may be, and push_device raises only there.
    return run_push(assets, rendered, features, targets, unreachable, refused, apply,
                    executor_for(settings, change=apply), records, on_event, options=options, stop=stop)


def rollback(settings: Settings, inventory: InventoryService, run_id: str, apply: bool = False,
             mode: Mode = "auto", on_event: Callable[[Event], None] | None = None, force: bool = False,
             stop: Callable[[], bool] = lambda: False) -> PushRun:
    """Undo the push run `run_id` (dry run unless `apply`)."""
    from mspctl.devices import executor_for, plan
    from mspctl.drift.features import select_features
    from mspctl.errors import UsageError

    records = RecordStore(settings.records_location)
    record = records.get(run_id)
    if record.kind != "push":
        raise UsageError(f"run {run_id} is a {record.kind} run; only push runs can be rolled back",
                         code="MSP-PUSH-400")
    inv = inventory.load(mode)
    keys = set(undoable(record))
    assets = [a for a in inv.assets if a.key in keys]
    targets, _ = plan(settings, inventory, assets)
    from mspctl.inventory.platforms import PlatformMap

    features = select_features(settings.path(settings.config.features), (), PlatformMap(settings.platforms))
    return rollback_run(record, features, targets, apply, executor_for(settings, change=apply), records, on_event,
                        force, stop)
