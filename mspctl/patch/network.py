"""`mspctl patch os`: network OS versions against network-OS baselines.

Each selected device is asked ``show version`` over SSH (Netmiko); the running version is read
from it and judged by the device's network-OS baseline (platform rule, or its device type's).
Upgrading network OS images is not automated: the report says which devices need which release.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mspctl.executor import Event, TaskContext
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset
from mspctl.patch.model import HostCompliance
from mspctl.records import RecordStore, RunRecord, new_run_id
from mspctl.scale.jobs import RemoteTask, describe
from mspctl.settings import Settings

if TYPE_CHECKING:
    from mspctl.run import Run

# The version as each platform's `show version` prints it (the lab's simulator prints the same).
_VERSION = {
    "cisco_ios": re.compile(r"^Cisco IOS.*?, Version ([^,\s]+)", re.M),
    "cisco_xe": re.compile(r"^Cisco IOS.*?, Version ([^,\s]+)", re.M),
    "arista_eos": re.compile(r"^Software image version:\s*(\S+)", re.M),
    "juniper_junos": re.compile(r"^Junos:\s*(\S+)", re.M),
}
_ANY = re.compile(r"\bVersion:?\s+([0-9][\w.()\-]*)", re.I)


def parse_version(driver: str, output: str) -> str | None:
    """The OS version in a device's ``show version`` output (None when it cannot be found)."""
    own = _VERSION.get(driver)
    m = (own.search(output) if own else None) or _ANY.search(output)
    return m.group(1) if m else None


@dataclass
class DeviceOS:
    asset: Asset
    compliance: HostCompliance
    version: str | None

    def to_dict(self) -> dict[str, Any]:
        a = self.asset
        return {"device": a.name, "client": a.client, "platform": a.platform, "device_type": a.device_type,
                "version": self.version, "state": self.compliance.state, "baseline": self.compliance.baseline,
                "required": next((p.required for p in self.compliance.packages), None),
                "reason": self.compliance.reason}


@dataclass
class OSRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    devices: list[DeviceOS]

    @property
    def summary(self) -> dict[str, int]:
        from mspctl.run import count

        return count(d.compliance.state for d in self.devices)

    @property
    def failed(self) -> bool:
        return any(d.compliance.state in ("UNREACHABLE", "FAILED") for d in self.devices)

    @property
    def noncompliant(self) -> bool:
        return any(d.compliance.state != "COMPLIANT" for d in self.devices)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kind": "patch-os", "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(), "summary": self.summary,
                "devices": [d.to_dict() for d in self.devices]}

    def to_run(self) -> Run:
        """The one run value (`mspctl.run`): a result per device, its evidence its `show version`."""
        from mspctl.run import TargetResult, new_run

        def outcome(state: str) -> Any:
            return "ok" if state == "COMPLIANT" else "failed" if state in ("UNREACHABLE", "FAILED") else "finding"

        return new_run(self.run_id, "patch-os", self.started_at, self.finished_at, [
            TargetResult(d.asset.key, d.asset.name, d.asset.client, d.compliance.state, outcome(d.compliance.state),
                         error=d.compliance.reason if outcome(d.compliance.state) == "failed" else None,
                         evidence_source="live", evidence_at=d.compliance.scanned_at,
                         evidence_age=d.compliance.evidence_age_seconds, data=d.to_dict())
            for d in self.devices], document=self.to_dict())


def os_compliance(settings: Settings, inventory: InventoryService, flt: AssetFilter, mode: Mode = "auto",
                  on_event: Callable[[Event], None] | None = None, driver: str | None = None) -> OSRun:
    """Read every selected network device's OS version and judge it against its baseline.
    `driver`: the read driver for every device (--driver), else each platform's. Raises
    UnknownPluginError (MSP-PLUG-404) for a driver that is not installed."""
    from mspctl.devices import executor_for, network_devices, plan, read_session
    from mspctl.inventory.platforms import PlatformMap
    from mspctl.patch.baseline import load_baselines
    from mspctl.patch.compliance import evaluate_network

    started = datetime.now(UTC)
    run_id = new_run_id("patch-os", started)
    baselines = load_baselines(settings.path(settings.patch.baselines))
    assets = inventory.with_config_contexts(network_devices(inventory, flt, mode, PlatformMap(settings.platforms)))
    targets, unreachable = plan(settings, inventory, assets, driver=driver)

    def task(ctx: TaskContext) -> str:
        with contextlib.closing(read_session(targets[ctx.target], ctx.timeout)) as session:
            return session.show("show version")

    remote = RemoteTask("device.show", task, {k: describe(t, platform=t.device_type) for k, t in targets.items()},
                        {"command": "show version"}, decode=str, run_id=run_id)
    results = {r.target: r for r in executor_for(settings).run(list(targets), remote, on_event)}
    stale = timedelta(seconds=settings.patch.stale_after)
    devices = []
    for a in assets:
        choice = baselines.for_network_device(a, today=started.date())
        baseline = choice.current if choice else None
        res = results.get(a.key)  # targets are keyed by NetBox object (kind:id), like plan() returns them
        now = datetime.now(UTC)
        version = None
        if res is None:
            reason = unreachable.get(a.key, ("not reachable", ""))[0]
            comp = evaluate_network(a.name, a.platform, a.device_type, None, baseline, scanned_at=now, now=now,
                                    stale_after=stale, reachable=False, error=reason)
        elif not res.ok or res.value is None:
            comp = evaluate_network(a.name, a.platform, a.device_type, None, baseline, scanned_at=now, now=now,
                                    stale_after=stale, reachable=res.error_type != "DeviceConnectionError",
                                    error=res.error or "show version failed")
        else:
            version = parse_version(targets[a.key].device_type, res.value)
            comp = evaluate_network(a.name, a.platform, a.device_type, version, baseline, scanned_at=res.started_at,
                                    now=now, stale_after=stale)
        devices.append(DeviceOS(a, comp, version))
    run = OSRun(run_id, started, datetime.now(UTC), devices)
    RecordStore(settings.records_location).save(RunRecord(
        run.run_id, "patch-os", started, run.finished_at, {"filter": flt.describe()}, run.summary,
        {d.asset.key: (d.compliance.state, {**d.to_dict(), "compliance": d.compliance.to_dict()})
         for d in devices}))
    return run
