"""A client's audit report as one value (`ClientReport`), built from the run records alone.

Pure: `build` takes the records, the client's inventory (for the asset summary and for targets
no record covers), the SLA policy and the accepted risks, and returns every figure the report
formats print (mspctl.reports.formats). docs/reports.md defines each figure; in short:

- the summary counts every target once, in exactly one state: pending reboot, failed,
  unreachable, stale, unfinished, no baseline and no evidence are each their own count, never
  folded into compliant; an area's score is the compliant share of its targets, excepted ones
  (accepted risks) left out of both sides;
- a drift *episode* is one device feature from the first drift result that found it drifted to
  the first later result that found it compliant; mean time to remediate is over the episodes
  fixed inside the period;
- a security update is *available* from its release date (when the repository states it) or
  else from the first scan that found it missing, and *in effect* from the first result that
  no longer finds it missing, failed or waiting for a reboot;
- the SLA counts the episodes due inside the period (found + N or M days <= the period's end)
  or fixed inside it: met when fixed by their due time; each other one is a breach.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from mspctl.history.model import ChainReport, RunRecord
from mspctl.model import Asset
from mspctl.reports.evidence import (
    NO_EVIDENCE,
    NOT_IN_EFFECT,
    STALE,
    UNFINISHED,
    Cursor,
    DriftObs,
    FleetState,
    OSObs,
    PackageObs,
    PatchObs,
    Timeline,
    timeline,
    utc,
)
from mspctl.reports.exceptions import RiskException

SCHEMA_VERSION = 1
DRIFT_STATES = ("compliant", "drift", "excepted", "failed", "skipped", "unfinished", STALE, NO_EVIDENCE)
HOST_STATES = ("COMPLIANT", "NON_COMPLIANT", "PENDING_REBOOT", "EXCEPTED", "UNREACHABLE", "FAILED", STALE,
               "NO_BASELINE", UNFINISHED, NO_EVIDENCE)
OS_STATES = ("COMPLIANT", "NON_COMPLIANT", "UNREACHABLE", "FAILED", STALE, "NO_BASELINE", NO_EVIDENCE)
_NOT_COMPLIANT_PACKAGE = frozenset({"MISSING", "FAILED", "INSTALLED_REJECTED"})


@dataclass(frozen=True)
class SlaPolicy:
    """How fast the client's SLA tier wants security updates in effect and drift fixed."""

    tier: str
    patch_days: int
    drift_days: int


@dataclass(frozen=True)
class ReportInput:
    """What `build` needs beyond the records."""

    client: str  # tenant slug
    client_name: str
    start: datetime
    end: datetime
    generated_at: datetime
    stale_after: timedelta
    policy: SlaPolicy
    repository_version: str
    chain: ChainReport
    assets: Sequence[Asset] = ()
    network_devices: Sequence[tuple[str, str]] = ()  # (key, name): the targets of drift and OS checks
    patch_hosts: Sequence[tuple[str, str]] = ()  # (key, name): the servers mspctl patches
    names: dict[str, str] = field(default_factory=dict)  # key -> the name mspctl prints
    exceptions: Sequence[RiskException] = ()
    os_baseline: dict[str, str] = field(default_factory=dict)  # platform -> required version (informative)


@dataclass
class Area:
    """One area's figures: counts by state (adding up to `total`) and the score."""

    counts: dict[str, int]
    excepted: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def compliant(self) -> int:
        return self.counts.get("compliant", 0) + self.counts.get("COMPLIANT", 0)

    @property
    def score(self) -> float | None:
        """The compliant share in percent of the targets that are not excepted (None: none)."""
        base = self.total - self.excepted
        return round(100.0 * self.compliant / base, 1) if base > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "total": self.total, "compliant": self.compliant, "excepted": self.excepted,
                "counts": dict(self.counts)}


@dataclass
class DriftEpisode:
    key: str
    name: str
    feature: str
    first_seen: datetime
    first_run: str
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    fixed_at: datetime | None = None
    fixed_run: str | None = None
    excepted: bool = False

    def duration(self, end: datetime) -> timedelta:
        return (self.fixed_at or end) - self.first_seen


@dataclass
class PatchEpisode:
    key: str
    name: str
    package: str
    required: str | None
    installed: str | None
    available_at: datetime
    availability: str  # "released" (the repository's date) or "first_seen" (the first scan that found it)
    first_seen: datetime
    in_effect_at: datetime | None = None
    excepted: bool = False


@dataclass
class ClientReport:
    """Everything the report formats print; `to_dict` is the JSON report (schema_version 1)."""

    inp: ReportInput
    state: FleetState
    drift: Area
    patches: Area
    os: Area
    device_rows: list[dict[str, Any]]
    feature_rows: list[dict[str, Any]]
    host_rows: list[dict[str, Any]]
    os_rows: list[dict[str, Any]]
    drift_episodes: list[DriftEpisode]
    patch_episodes: list[PatchEpisode]
    missing_security: list[dict[str, Any]]
    sla: dict[str, Any]
    assets: dict[str, Any]
    trends: list[dict[str, Any]]
    exceptions_active: list[RiskException]
    exceptions_expired: list[RiskException]
    runs: list[dict[str, Any]]

    @property
    def mttr_hours(self) -> float | None:
        fixed = self._fixed_in_period()
        if not fixed:
            return None
        return round(sum(e.duration(self.inp.end).total_seconds() for e in fixed) / len(fixed) / 3600, 2)

    def _fixed_in_period(self) -> list[DriftEpisode]:
        start, end = self.inp.start, self.inp.end
        return [e for e in self.drift_episodes if e.fixed_at is not None and start <= e.fixed_at <= end]

    def to_dict(self) -> dict[str, Any]:
        i = self.inp

        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "schema_version": SCHEMA_VERSION,
            "client": {"slug": i.client, "name": i.client_name, "sla_tier": i.policy.tier},
            "period": {"from": iso(i.start), "to": iso(i.end)},
            "generated_at": iso(i.generated_at),
            "repository_version": i.repository_version,
            "chain": {"ok": i.chain.ok, "head": i.chain.head, "records": i.chain.records,
                      "broken_run": i.chain.broken_run},
            "stale_after_seconds": i.stale_after.total_seconds(),
            "summary": {"drift": self.drift.to_dict(), "patches": self.patches.to_dict(), "os": self.os.to_dict(),
                        "open_drifts": sum(1 for e in self.drift_episodes if e.fixed_at is None and not e.excepted),
                        "missing_security_updates": sum(1 for m in self.missing_security if not m["excepted"]),
                        "sla_breaches": len(self.sla["patch"]["breaches"]) + len(self.sla["drift"]["breaches"]),
                        "expired_exceptions": len(self.exceptions_expired)},
            "configuration": {
                "devices": self.device_rows, "features": self.feature_rows,
                "drifts": [{"target": e.key, "name": e.name, "feature": e.feature, "first_seen": iso(e.first_seen),
                            "first_run": e.first_run, "fixed_at": iso(e.fixed_at), "fixed_run": e.fixed_run,
                            "open": e.fixed_at is None, "excepted": e.excepted,
                            "days": round(e.duration(i.end).total_seconds() / 86400, 2),
                            "missing": list(e.missing), "extra": list(e.extra)}
                           for e in self.drift_episodes],
                "fixed_in_period": len(self._fixed_in_period()),
                "mttr_hours": self.mttr_hours,
            },
            "patches": {"hosts": self.host_rows, "missing_security": self.missing_security},
            "sla": self.sla,
            "os": {"devices": self.os_rows, "baseline": dict(i.os_baseline)},
            "assets": self.assets,
            "trends": self.trends,
            "exceptions": {"active": [e.to_dict() for e in self.exceptions_active],
                           "expired": [e.to_dict() for e in self.exceptions_expired]},
            "runs": self.runs,
        }


# -- building ------------------------------------------------------------------------------------

def _names(inp: ReportInput, key: str, recorded: str) -> tuple[str, ...]:
    """Every name an exception may use for a target: the printed name, the recorded one, the key."""
    return tuple({inp.names.get(key, recorded), recorded, key})


def _covered(inp: ReportInput, at: datetime, key: str, name: str, *, feature: str | None = None,
             package: str | None = None) -> bool:
    names = _names(inp, key, name)
    return any(x.covers(inp.client, names, feature=feature, package=package, at=at) for x in inp.exceptions)


def _drift_area(inp: ReportInput, state: FleetState, at: datetime) -> tuple[Area, list[dict[str, Any]]]:
    counts = dict.fromkeys(DRIFT_STATES, 0)
    rows = []
    excepted = 0
    for d in state.devices:
        feats: dict[str, str] = {}
        for feat, status in sorted(d.features.items()):
            covered = status == "drift" and _covered(inp, at, d.key, d.name, feature=feat)
            feats[feat] = "excepted" if covered else status
        st = d.state
        if st == "drift" and feats and all(s != "drift" for s in feats.values()):
            st = "excepted"
            excepted += 1
        counts[st] = counts.get(st, 0) + 1
        rows.append({"target": d.key, "name": inp.names.get(d.key, d.name), "state": st, "features": feats,
                     "evidence_at": d.evidence_at.isoformat() if d.evidence_at else None,
                     "age_seconds": None if d.age_seconds is None else round(d.age_seconds, 1),
                     "source": d.observation.source if d.observation else None, "run_id": d.run_id,
                     "error": d.observation.error if d.observation and d.state not in ("compliant", "drift") else None})
    return Area(counts, excepted), rows


def _security_names(tl: Timeline) -> dict[str, frozenset[str]]:
    """Per host, the packages any of its results classified as a security update. A security
    update waiting for a reboot is recorded unclassified (it is no longer offered once installed):
    it is still the security update it was."""
    out: dict[str, set[str]] = {}
    for o in tl.patch:
        for p in o.packages:
            if p.classification == "security":
                out.setdefault(o.key, set()).add(p.name)
    return {k: frozenset(v) for k, v in out.items()}


def _is_security(p: PackageObs, host: str, security: dict[str, frozenset[str]]) -> bool:
    return p.classification == "security" or p.name in security.get(host, ())


def _host_area(inp: ReportInput, state: FleetState, at: datetime,
               security: dict[str, frozenset[str]]) -> tuple[Area, list[dict[str, Any]]]:
    counts = dict.fromkeys(HOST_STATES, 0)
    rows = []
    excepted = 0
    for h in state.hosts:
        st = h.state
        packages = h.observation.packages if h.observation else ()
        bad = [p for p in packages if p.state in _NOT_COMPLIANT_PACKAGE]
        if st == "NON_COMPLIANT" and bad and all(_covered(inp, at, h.key, h.name, package=p.name) for p in bad):
            st = "EXCEPTED"
            excepted += 1
        counts[st] = counts.get(st, 0) + 1
        missing_sec = sum(1 for p in packages if _is_security(p, h.key, security) and p.state in NOT_IN_EFFECT)
        rows.append({"target": h.key, "name": inp.names.get(h.key, h.name), "state": st, "baseline": h.baseline,
                     "evidence_at": h.evidence_at.isoformat() if h.evidence_at else None,
                     "age_seconds": None if h.age_seconds is None else round(h.age_seconds, 1),
                     "security_updates_not_in_effect": missing_sec if h.state != STALE else None,
                     "packages": _package_counts(packages) if h.state != STALE else {},
                     "error": h.observation.error if h.observation else None, "run_id": h.run_id})
    return Area(counts, excepted), rows


def _package_counts(packages: Iterable[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in packages:
        out[p.state] = out.get(p.state, 0) + 1
    return dict(sorted(out.items()))


def _os_area(inp: ReportInput, state: FleetState) -> tuple[Area, list[dict[str, Any]]]:
    counts = dict.fromkeys(OS_STATES, 0)
    rows = []
    for o in state.os:
        counts[o.state] = counts.get(o.state, 0) + 1
        rows.append({"target": o.key, "name": inp.names.get(o.key, o.name), "state": o.state, "version": o.version,
                     "required": o.required, "evidence_at": o.evidence_at.isoformat() if o.evidence_at else None,
                     "age_seconds": None if o.age_seconds is None else round(o.age_seconds, 1), "run_id": o.run_id})
    return Area(counts), rows


def _drift_episodes(inp: ReportInput, tl: Timeline) -> list[DriftEpisode]:
    open_: dict[tuple[str, str], DriftEpisode] = {}
    done: list[DriftEpisode] = []
    for o in tl.drift:
        if o.known_at > inp.end:
            break
        for f in o.features:
            k = (o.key, f.feature)
            if f.status == "drift":
                ep = open_.get(k)
                if ep is None:
                    open_[k] = DriftEpisode(o.key, inp.names.get(o.key, o.name), f.feature, o.evidence_at, o.run_id,
                                            f.missing, f.extra)
                else:
                    ep.missing, ep.extra = f.missing, f.extra
            elif f.status == "compliant" and k in open_:
                ep = open_.pop(k)
                ep.fixed_at, ep.fixed_run = o.evidence_at, o.run_id
                done.append(ep)
    out = [e for e in done + list(open_.values()) if (e.fixed_at is None or e.fixed_at >= inp.start)]
    for e in out:
        e.excepted = e.fixed_at is None and _covered(inp, inp.end, e.key, e.name, feature=e.feature)
    return sorted(out, key=lambda e: (e.first_seen, e.name, e.feature))


def _patch_episodes(inp: ReportInput, tl: Timeline, security: dict[str, frozenset[str]]) -> list[PatchEpisode]:
    open_: dict[tuple[str, str], PatchEpisode] = {}
    done: list[PatchEpisode] = []
    newest: dict[str, datetime] = {}
    for o in tl.patch:
        if o.known_at > inp.end:
            break
        if not o.packages and not o.reachable:
            continue  # a host that could not be read (or was lost mid-run) says nothing about its packages
        if o.key in newest and o.evidence_at < newest[o.key]:
            continue  # an older scan recorded late
        newest[o.key] = o.evidence_at
        seen = {p.name: p for p in o.packages}
        for p in o.packages:
            if not _is_security(p, o.key, security) or p.state not in NOT_IN_EFFECT:
                continue
            k = (o.key, p.name)
            ep = open_.get(k)
            if ep is None:
                released = p.released
                available = min(released, o.evidence_at) if released else o.evidence_at
                open_[k] = PatchEpisode(o.key, inp.names.get(o.key, o.name), p.name, p.required, p.installed,
                                        available, "released" if released and released <= o.evidence_at
                                        else "first_seen", o.evidence_at)
            else:
                ep.required, ep.installed = p.required, p.installed
        if o.packages or o.reachable:  # (always, past the skip above)
            for k in [k for k in open_ if k[0] == o.key]:
                now = seen.get(k[1])
                if now is None or now.state not in NOT_IN_EFFECT:
                    ep = open_.pop(k)
                    ep.in_effect_at = o.evidence_at
                    done.append(ep)
    out = [e for e in done + list(open_.values()) if e.in_effect_at is None or e.in_effect_at >= inp.start]
    for e in out:
        e.excepted = e.in_effect_at is None and _covered(inp, inp.end, e.key, e.name, package=e.package)
    return sorted(out, key=lambda e: (e.available_at, e.name, e.package))


def _sla_part(items: Iterable[tuple[datetime, datetime | None, bool, dict[str, Any]]], days: int,
              inp: ReportInput) -> dict[str, Any]:
    """`items`: (found/available, fixed/in effect, excepted, row). Due = found + `days`."""
    eligible = met = 0
    breaches = []
    allowed = timedelta(days=days)
    for found, fixed, excepted, row in items:
        if excepted:
            continue
        due = found + allowed
        fixed_in_period = fixed is not None and inp.start <= fixed <= inp.end
        due_in_period = due <= inp.end and (fixed is None or fixed >= inp.start)
        if not (fixed_in_period or due_in_period):
            continue
        eligible += 1
        if fixed is not None and fixed <= due:
            met += 1
        else:
            breaches.append({**row, "due": due.isoformat(), "fixed": fixed.isoformat() if fixed else None,
                             "days": round(((fixed or inp.end) - found).total_seconds() / 86400, 2)})
    return {"days": days, "eligible": eligible, "met": met,
            "share": round(100.0 * met / eligible, 1) if eligible else None, "breaches": breaches}


def _sla(inp: ReportInput, drifts: list[DriftEpisode], patches: list[PatchEpisode]) -> dict[str, Any]:
    return {
        "tier": inp.policy.tier,
        "patch": _sla_part(((e.available_at, e.in_effect_at, e.excepted,
                             {"target": e.key, "name": e.name, "package": e.package, "required": e.required,
                              "available_at": e.available_at.isoformat(), "availability": e.availability})
                            for e in patches), inp.policy.patch_days, inp),
        "drift": _sla_part(((e.first_seen, e.fixed_at, e.excepted,
                             {"target": e.key, "name": e.name, "feature": e.feature,
                              "first_seen": e.first_seen.isoformat()}) for e in drifts), inp.policy.drift_days, inp),
    }


def _missing_security(inp: ReportInput, state: FleetState, episodes: list[PatchEpisode],
                      security: dict[str, frozenset[str]]) -> list[dict[str, Any]]:
    """The security updates not in effect at the period's end, per host (stale hosts: unknown)."""
    by_key = {(e.key, e.package): e for e in episodes}
    out = []
    for h in state.hosts:
        if h.state == STALE or h.observation is None:
            continue
        for p in h.observation.packages:
            if not _is_security(p, h.key, security) or p.state not in NOT_IN_EFFECT:
                continue
            e = by_key.get((h.key, p.name))
            available = e.available_at if e else h.evidence_at or inp.end
            out.append({"target": h.key, "host": inp.names.get(h.key, h.name), "package": p.name,
                        "state": p.state, "installed": p.installed, "required": p.required,
                        "available_since": available.isoformat(),
                        "availability": e.availability if e else "first_seen",
                        "days_available": round((inp.end - available).total_seconds() / 86400, 1),
                        "excepted": _covered(inp, inp.end, h.key, h.name, package=p.name)})
    return sorted(out, key=lambda m: (-m["days_available"], m["host"], m["package"]))


def _assets(inp: ReportInput) -> dict[str, Any]:
    def count(attr: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in inp.assets:
            k = getattr(a, attr) or "-"
            out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))

    items = [{"target": a.key, "name": inp.names.get(a.key, a.name), "kind": a.kind, "site": a.site, "role": a.role,
              "platform": a.platform, "device_type": a.device_type, "serial": a.serial or None, "status": a.status}
             for a in inp.assets]
    return {"total": len(inp.assets), "by_kind": count("kind"), "by_site": count("site"), "by_role": count("role"),
            "by_platform": count("platform"), "items": sorted(items, key=lambda x: (x["kind"], x["name"]))}


def _days(start: datetime, end: datetime) -> list[datetime]:
    """The end of each UTC day of the period (the last one: the period's end)."""
    out = []
    day = start.astimezone(UTC).date()
    while True:
        at = datetime.combine(day + timedelta(days=1), time(), UTC)
        if at >= end:
            out.append(end)
            return out
        out.append(at)
        day += timedelta(days=1)


def _trends(inp: ReportInput, tl: Timeline, security: dict[str, frozenset[str]]) -> list[dict[str, Any]]:
    """Each day's scores, as the records showed them at the day's end (targets the records knew
    by then; exceptions as they stood that day)."""
    cursor = Cursor(tl)
    out = []
    for at in _days(inp.start, inp.end):
        cursor.advance(at)
        st = cursor.state(at, inp.stale_after)
        drift, _ = _drift_area(inp, st, at)
        hosts, _ = _host_area(inp, st, at, security)
        os_area, _ = _os_area(inp, st)
        out.append({"date": (at - timedelta(microseconds=1)).date().isoformat(), "at": at.isoformat(),
                    "drift": drift.score, "patches": hosts.score, "os": os_area.score})
    return out


def _feature_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[str, dict[str, int]] = {}
    for r in rows:
        for feat, st in r["features"].items():
            counts = by.setdefault(feat, {"compliant": 0, "drift": 0, "excepted": 0})
            counts[st] = counts.get(st, 0) + 1
    return [{"feature": f, **c} for f, c in sorted(by.items())]


def build(records: Iterable[RunRecord] | Timeline, inp: ReportInput) -> ClientReport:
    """The report of `inp.client` over `inp.start`..`inp.end` from `records` (every record up to
    the period's end may matter: a drift first seen before the period, a host's last scan), or
    from the client's `Timeline` of them (`evidence.timelines`: many clients in one pass)."""
    tl = records if isinstance(records, Timeline) else timeline(records, inp.client)
    cursor = Cursor(tl)
    cursor.advance(inp.end)
    state = cursor.state(inp.end, inp.stale_after, inp.network_devices, inp.patch_hosts)
    drift, device_rows = _drift_area(inp, state, inp.end)
    security = _security_names(tl)
    hosts, host_rows = _host_area(inp, state, inp.end, security)
    os_area, os_rows = _os_area(inp, state)
    drifts = _drift_episodes(inp, tl)
    patches = _patch_episodes(inp, tl, security)
    active = [x for x in inp.exceptions if x.client == inp.client and not x.expired(inp.end)]
    expired = [x for x in inp.exceptions if x.client == inp.client and x.expired(inp.end)]
    observed: list[DriftObs | PatchObs | OSObs] = [*tl.drift, *tl.patch, *tl.os]
    runs = sorted({(o.run_id, o.known_at) for o in observed if inp.start <= o.known_at <= inp.end},
                  key=lambda r: (r[1], r[0]))
    kinds = {o.run_id: "drift" for o in tl.drift} | {o.run_id: o.kind for o in tl.patch} | \
        {o.run_id: "patch-os" for o in tl.os}
    return ClientReport(
        inp, state, drift, hosts, os_area, device_rows, _feature_rows(device_rows), host_rows, os_rows, drifts,
        patches, _missing_security(inp, state, patches, security), _sla(inp, drifts, patches), _assets(inp),
        _trends(inp, tl, security), active, expired,
        [{"id": rid, "kind": kinds.get(rid, ""), "finished_at": at.isoformat()} for rid, at in runs])


def period_of(end: datetime, days: int) -> tuple[datetime, datetime]:
    end = utc(end)
    return end - timedelta(days=days), end


def sla_of(records: Iterable[RunRecord], client: str, start: datetime, end: datetime, policy: SlaPolicy,
           exceptions: Sequence[RiskException] = ()) -> dict[str, Any]:
    """The SLA section of `client`'s report over `start`..`end` (no trends, no inventory): for
    `mspctl metrics` and the SLA-breach notifications, counted as the report counts them."""
    inp = ReportInput(client=client, client_name=client, start=start, end=end, generated_at=end,
                      stale_after=timedelta(0), policy=policy, repository_version="", chain=ChainReport(True, 0, None),
                      exceptions=exceptions)
    tl = timeline(records, client)
    return _sla(inp, _drift_episodes(inp, tl), _patch_episodes(inp, tl, _security_names(tl)))


def sla_breaches(records: Iterable[RunRecord], client: str, start: datetime, end: datetime, policy: SlaPolicy,
                 exceptions: Sequence[RiskException] = ()) -> dict[str, int]:
    """The number of SLA breaches per area (``patch``, ``drift``); see `sla_of`."""
    result = sla_of(records, client, start, end, policy, exceptions)
    return {area: len(result[area]["breaches"]) for area in ("patch", "drift")}
