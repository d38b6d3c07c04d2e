"""What the run records say about a client's fleet, as time-ordered observations, and the
fleet's state at any moment (`mspctl status --at`, the report's summary and its trends).

Pure: run records in, values out (no NetBox, no SSH, no store). Every figure a report or the
status command prints comes from here, so they agree with each other:

- a device's configuration state at time T is its newest drift result recorded by T: its
  per-feature compliance, or ``failed``/``skipped`` when the audit could not compare;
- a host's patch state at T is the newest patch-scan, patch-apply or patch-window result by T
  (its SSM state; ``UNFINISHED`` when a killed run was working on it);
- a device's OS version at T is its newest ``patch os`` result by T;
- evidence older than the stale limit at T is ``STALE``, never its old state; a target the
  inventory lists that no record covers is ``NO_EVIDENCE``.

A record counts from the moment it was written (its run's end): a run still going at T is not
yet known at T. A result's evidence time is when its data was gathered (the drift's read of the
device, the scan of the host), else its run's end.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mspctl.history.model import RunRecord

NO_CLIENT = "no-client"
PATCH_KINDS = ("patch-scan", "patch-apply", "patch-window")
STALE = "STALE"
NO_EVIDENCE = "NO_EVIDENCE"
UNFINISHED = "UNFINISHED"
# Package states that mean a security update is not (yet) in effect on the host. A pending
# reboot counts as not in effect: the old code is still running.
NOT_IN_EFFECT = frozenset({"MISSING", "FAILED", "INSTALLED_PENDING_REBOOT"})


def utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class FeatureObs:
    feature: str
    status: str  # compliant | drift
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DriftObs:
    """One device's drift result. `features` is empty for a failed or skipped audit."""

    key: str  # the NetBox object: device:12
    name: str
    known_at: datetime  # the run's end: from when the record says so
    evidence_at: datetime  # when the device's config was read (or the run's end)
    status: str  # compliant | drift | failed | skipped | unfinished
    features: tuple[FeatureObs, ...] = ()
    error: str | None = None
    run_id: str = ""
    source: str | None = None


@dataclass(frozen=True, slots=True)
class PackageObs:
    name: str
    state: str
    installed: str | None
    required: str | None
    classification: str | None
    released: datetime | None = None  # when the update was published, when the repository says


@dataclass(frozen=True, slots=True)
class PatchObs:
    """One host's patch result. `packages` is empty when the host could not be read."""

    key: str  # the NetBox object: vm:3
    name: str
    known_at: datetime
    evidence_at: datetime
    state: str  # SSM host state, or UNFINISHED
    baseline: str | None
    packages: tuple[PackageObs, ...] = ()
    reachable: bool = True  # False: this result tells nothing of the host's packages (lost, failed, killed)
    error: str | None = None
    run_id: str = ""
    kind: str = ""


@dataclass(frozen=True, slots=True)
class OSObs:
    key: str
    name: str
    known_at: datetime
    evidence_at: datetime
    state: str
    version: str | None
    required: str | None
    baseline: str | None
    run_id: str = ""


@dataclass
class Timeline:
    """A client's observations, oldest first (by when they became known)."""

    client: str
    drift: list[DriftObs] = field(default_factory=list)
    patch: list[PatchObs] = field(default_factory=list)
    os: list[OSObs] = field(default_factory=list)
    run_ids: set[str] = field(default_factory=set)

    @property
    def first(self) -> datetime | None:
        found = [o[0].known_at for o in (self.drift, self.patch, self.os) if o]
        return min(found) if found else None


def _client_of(record: RunRecord, data: dict[str, Any]) -> str | None:
    if "client" in data:
        return str(data["client"]) if data["client"] else NO_CLIENT
    param = record.params.get("client") or record.params.get("tenant")
    return str(param) if param else None


def _features(data: dict[str, Any]) -> tuple[FeatureObs, ...]:
    # A year of daily audits holds hundreds of thousands of these: names interned, and a compliant
    # feature (no lines) is one shared value.
    out = []
    for f in data.get("features") or ():
        if isinstance(f, dict) and f.get("feature"):
            missing, extra = tuple(f.get("missing") or ()), tuple(f.get("extra") or ())
            name, status = sys.intern(str(f["feature"])), sys.intern(str(f.get("status")))
            out.append(_plain(name, status) if not missing and not extra else FeatureObs(name, status, missing, extra))
    return tuple(out)


@functools.cache
def _plain(name: str, status: str) -> FeatureObs:
    return FeatureObs(name, status)


# Host states that carry no package evidence when the result lists no package: the host (or the
# run) said nothing about what is installed.
_NO_PACKAGE_EVIDENCE = frozenset({"UNREACHABLE", "FAILED", UNFINISHED, "NO_BASELINE", STALE, "unfinished"})


def _packages(comp: dict[str, Any], released: dict[str, datetime | None]) -> tuple[PackageObs, ...]:
    return tuple(PackageObs(str(p.get("name")), str(p.get("state")), p.get("installed"), p.get("required"),
                            p.get("classification"), _when(p.get("released")) or released.get(str(p.get("name"))))
                 for p in comp.get("packages") or () if isinstance(p, dict))


def _patch_obs(record: RunRecord, target: str, status: str, data: dict[str, Any]) -> list[PatchObs]:
    """A patch result's observations: for an apply or window, what its own scan found before
    patching (`before`), then what the host had afterwards; for a scan, what it found."""
    key = f"{data['kind']}:{data['id']}" if data.get("kind") and data.get("id") is not None else target
    comp: dict[str, Any] = data["compliance"] if isinstance(data.get("compliance"), dict) else {}
    scan: dict[str, Any] = data["scan"] if isinstance(data.get("scan"), dict) else {}
    known = utc(record.finished_at)
    released = {n: _when(u.get("released")) for n, u in (scan.get("updates") or {}).items() if isinstance(u, dict)}
    name = str(data.get("host") or target)
    out: list[PatchObs] = []
    before = data.get("before")
    if isinstance(before, dict) and before.get("state") and _when(before.get("scanned_at")):
        b_state = str(before["state"])
        b_packages = _packages(before, released)
        out.append(PatchObs(key, name, known, _when(before.get("scanned_at")) or known, b_state,
                            before.get("baseline"), b_packages, bool(b_packages) or b_state not in _NO_PACKAGE_EVIDENCE,
                            None, record.id, record.kind))
    packages = _packages(comp, released)
    state = str(data.get("state") or comp.get("state") or (UNFINISHED if status == "unfinished" else status))
    evidence = _when(comp.get("scanned_at")) or _when(scan.get("scanned_at")) or known
    if out and evidence < out[0].evidence_at:
        evidence = known  # the after-state is newer than the pre-patch scan, whenever it was judged
    # A host lost during a run (UNREACHABLE, FAILED, a killed run) with no package listed says
    # nothing about its packages, whatever an earlier scan of the same run found.
    has_packages = bool(packages) or state not in _NO_PACKAGE_EVIDENCE
    out.append(PatchObs(key, name, known, evidence, state, data.get("baseline") or comp.get("baseline"), packages,
                        has_packages,
                        data.get("error") or (comp.get("reason") if state in ("UNREACHABLE", "FAILED") else None),
                        record.id, record.kind))
    return out


def timelines(records: Iterable[RunRecord], clients: Iterable[str]) -> dict[str, Timeline]:
    """The observations of each of `clients` (tenant slugs) in `records` (any order, streamed: only
    the small observations are kept), in one pass."""
    out = {c: Timeline(c) for c in clients}
    for r in records:
        known = utc(r.finished_at)
        for target, (status, data) in r.results.items():
            if not isinstance(data, dict):
                continue
            tl = out.get(_client_of(r, data) or "")
            if tl is None:
                continue
            if r.kind == "drift":
                key = str(data.get("id") or target)
                tl.drift.append(DriftObs(key, str(data.get("device") or target), known,
                                         _when(data.get("evidence_at")) or known, status, _features(data),
                                         data.get("error"), r.id, data.get("source")))
            elif r.kind in PATCH_KINDS:
                tl.patch.extend(_patch_obs(r, target, status, data))
            elif r.kind == "patch-os":
                tl.os.append(OSObs(target, str(data.get("device") or target), known, known,
                                   str(data.get("state") or status), data.get("version"), data.get("required"),
                                   data.get("baseline"), r.id))
            else:
                continue
            tl.run_ids.add(r.id)
    for tl in out.values():  # oldest first; a stable sort keeps a window's pre-patch scan before its after-state
        for items in (tl.drift, tl.patch, tl.os):
            items.sort(key=lambda o: (o.known_at, o.run_id))
    return out


def timeline(records: Iterable[RunRecord], client: str) -> Timeline:
    """The observations of `client` (a tenant slug) in `records` (any order)."""
    return timelines(records, [client])[client]


# -- the state at one moment ---------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceState:
    key: str
    name: str
    state: str  # compliant | drift | failed | skipped | unfinished | STALE | NO_EVIDENCE
    features: dict[str, str]  # feature -> compliant | drift (from the newest comparison)
    evidence_at: datetime | None
    age_seconds: float | None
    run_id: str | None
    observation: DriftObs | None = None


@dataclass(frozen=True)
class HostState:
    key: str
    name: str
    state: str  # SSM state | UNFINISHED | STALE | NO_EVIDENCE
    baseline: str | None
    evidence_at: datetime | None
    age_seconds: float | None
    run_id: str | None
    observation: PatchObs | None = None


@dataclass(frozen=True)
class OSState:
    key: str
    name: str
    state: str
    version: str | None
    required: str | None
    evidence_at: datetime | None
    age_seconds: float | None
    run_id: str | None


@dataclass(frozen=True)
class FleetState:
    """A client's fleet as the records show it at `at`."""

    client: str
    at: datetime
    stale_after: timedelta
    devices: list[DeviceState]
    hosts: list[HostState]
    os: list[OSState]

    def to_dict(self) -> dict[str, Any]:
        def when(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "client": self.client, "at": self.at.isoformat(), "stale_after_seconds": self.stale_after.total_seconds(),
            "devices": [{"target": d.key, "name": d.name, "state": d.state, "features": d.features,
                         "evidence_at": when(d.evidence_at), "age_seconds": _round(d.age_seconds),
                         "run_id": d.run_id} for d in self.devices],
            "hosts": [{"target": h.key, "name": h.name, "state": h.state, "baseline": h.baseline,
                       "evidence_at": when(h.evidence_at), "age_seconds": _round(h.age_seconds),
                       "run_id": h.run_id} for h in self.hosts],
            "os": [{"target": o.key, "name": o.name, "state": o.state, "version": o.version,
                    "required": o.required, "evidence_at": when(o.evidence_at), "age_seconds": _round(o.age_seconds),
                    "run_id": o.run_id} for o in self.os],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class Cursor:
    """Walks a timeline forward in time, holding each target's newest observation: the state at
    successive moments (the report's daily trend) costs one pass over the history."""

    def __init__(self, tl: Timeline) -> None:
        self.tl = tl
        self._i = [0, 0, 0]
        self.drift: dict[str, DriftObs] = {}
        self.drift_compared: dict[str, DriftObs] = {}  # the newest result that compared features
        self.patch: dict[str, PatchObs] = {}
        self.os: dict[str, OSObs] = {}

    def advance(self, at: datetime) -> None:
        """Take in every observation known by `at` (inclusive)."""
        lists: tuple[Sequence[Any], ...] = (self.tl.drift, self.tl.patch, self.tl.os)
        helds: tuple[dict[str, Any], ...] = (self.drift, self.patch, self.os)
        for n, (items, held) in enumerate(zip(lists, helds, strict=True)):
            i = self._i[n]
            while i < len(items) and items[i].known_at <= at:
                o = items[i]
                if n == 1 and o.key in held and o.evidence_at < held[o.key].evidence_at:
                    i += 1  # an older scan recorded late (a resumed window) does not replace a newer one
                    continue
                held[o.key] = o
                if n == 0 and o.features:
                    self.drift_compared[o.key] = o
                i += 1
            self._i[n] = i

    def state(self, at: datetime, stale_after: timedelta, devices: Sequence[tuple[str, str]] = (),
              hosts: Sequence[tuple[str, str]] = ()) -> FleetState:
        """The state at `at` (the cursor must have advanced to `at`). `devices`/`hosts`: the
        inventory's (key, name) pairs, so a target no record covers shows as NO_EVIDENCE."""
        out_devices: list[DeviceState] = []
        for key, name in _targets(self.drift, devices):
            o = self.drift.get(key)
            if o is None:
                out_devices.append(DeviceState(key, name, NO_EVIDENCE, {}, None, None, None))
                continue
            compared = self.drift_compared.get(key)
            feats = {f.feature: f.status for f in compared.features} if compared else {}
            age = (at - o.evidence_at).total_seconds()
            state = STALE if age > stale_after.total_seconds() else o.status
            out_devices.append(DeviceState(key, o.name, state, feats, o.evidence_at, age, o.run_id, o))
        out_hosts: list[HostState] = []
        for key, name in _targets(self.patch, hosts):
            p = self.patch.get(key)
            if p is None:
                out_hosts.append(HostState(key, name, NO_EVIDENCE, None, None, None, None))
                continue
            age = (at - p.evidence_at).total_seconds()
            state = STALE if age > stale_after.total_seconds() else p.state
            out_hosts.append(HostState(key, p.name, state, p.baseline, p.evidence_at, age, p.run_id, p))
        out_os: list[OSState] = []
        for key, name in _targets(self.os, devices):
            s = self.os.get(key)
            if s is None:
                out_os.append(OSState(key, name, NO_EVIDENCE, None, None, None, None, None))
                continue
            age = (at - s.evidence_at).total_seconds()
            state = STALE if age > stale_after.total_seconds() else s.state
            out_os.append(OSState(key, s.name, state, s.version, s.required, s.evidence_at, age, s.run_id))
        return FleetState(self.tl.client, at, stale_after, out_devices, out_hosts, out_os)


def _targets(held: dict[str, Any], listed: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Every target the records or the inventory know, sorted by name then key."""
    names = {k: o.name for k, o in held.items()}
    for key, name in listed:
        names.setdefault(key, name)
    return sorted(names.items(), key=lambda kv: (kv[1], kv[0]))


def state_at(tl: Timeline, at: datetime, stale_after: timedelta, devices: Sequence[tuple[str, str]] = (),
             hosts: Sequence[tuple[str, str]] = ()) -> FleetState:
    """The fleet state of `tl`'s client at `at` (see the module)."""
    cursor = Cursor(tl)
    cursor.advance(at)
    return cursor.state(at, stale_after, devices, hosts)
