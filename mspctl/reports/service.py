"""`mspctl report` and `mspctl status`: the history store and the inventory in, report values out.

The inventory is read through the cache (it works ``--offline``: the cache's age is then the
asset summary's evidence); the figures come from the run records only (mspctl.reports.client).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mspctl.errors import UsageError
from mspctl.history import HistoryStore
from mspctl.history.model import ChainReport
from mspctl.history.walk import ChainWalk
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.platforms import PlatformMap
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset, Client
from mspctl.reports.client import ClientReport, ReportInput, SlaPolicy, build
from mspctl.reports.evidence import FleetState, Timeline, state_at, timelines, utc
from mspctl.reports.exceptions import FILE as EXCEPTIONS_FILE
from mspctl.reports.exceptions import RiskException, load_exceptions
from mspctl.settings import Settings


@dataclass(frozen=True)
class Scope:
    """One client's inventory as the report sees it."""

    client: Client
    assets: list[Asset]
    network_devices: list[tuple[str, str]]
    patch_hosts: list[tuple[str, str]]
    names: dict[str, str]


def _scope(settings: Settings, inventory: InventoryService, client: Client, mode: Mode) -> Scope:
    from mspctl.patch.service import not_a_target

    platforms = PlatformMap(settings.platforms)
    assets = inventory.select(AssetFilter(clients=(client.slug,)), mode, allow_empty=True).assets
    names = inventory.names(mode)
    active = [a for a in assets if (a.status or "active") == "active"]
    devices = [(a.key, names.get(a.key, a.name)) for a in active
               if a.kind == "device" and platforms.resolve(a.platform).network]
    hosts = [(a.key, names.get(a.key, a.name)) for a in active if not_a_target(a, platforms) is None]
    return Scope(client, assets, devices, hosts, {a.key: names.get(a.key, a.name) for a in assets})


def policy_for(settings: Settings, client: Client) -> SlaPolicy:
    """The client's SLA: its NetBox tenant's ``sla_tier`` custom field, looked up in `[sla]`."""
    tier = client.custom_fields.get("sla_tier")
    name, patch_days, drift_days = settings.sla.for_tier(str(tier) if tier else None)
    return SlaPolicy(name, patch_days, drift_days)


def exceptions(settings: Settings, inventory: InventoryService) -> list[RiskException]:
    keys = {s.key: s.tenant for s in inventory.client_settings.values()}
    return load_exceptions(settings.path(EXCEPTIONS_FILE), keys)


def read_timelines(location: Path | str, clients: Sequence[str],
                   until: datetime) -> tuple[dict[str, Timeline], ChainReport]:
    """Each client's timeline of the records written by `until`, and the chain's verdict, from one
    streamed pass over the history (`ChainWalk`: a chunk of records in memory at a time)."""
    store = HistoryStore(location)
    try:
        walk = ChainWalk(store)
        per_client = timelines((r for r in walk if utc(r.finished_at) <= until), clients)
    finally:
        store.close()
    assert walk.report is not None  # the walk ran to its end
    return per_client, walk.report


def _version(settings: Settings) -> str:
    from mspctl.provenance import repository_version

    return repository_version(settings.repo)


def client_reports(settings: Settings, inventory: InventoryService, clients: Sequence[str], start: datetime,
                   end: datetime, mode: Mode = "auto", now: datetime | None = None) -> list[ClientReport]:
    """One report per client (clients.yml keys or tenant slugs) over `start`..`end`, from one
    read of the history. Raises UnknownClientError, ExceptionsFileError (file:line), the store's
    MSP-REC-* errors."""
    if end <= start:
        raise UsageError(f"the period is empty: {start.isoformat()} is not before {end.isoformat()}")
    known = inventory.clients(mode)
    slugs = inventory.resolve_clients(clients, known)
    by_slug = {c.slug: c for c in known}
    risks = exceptions(settings, inventory)
    per_client, chain = read_timelines(settings.records_location, slugs, end)
    generated = now or datetime.now(UTC)
    version = _version(settings)
    out = []
    for slug in slugs:
        scope = _scope(settings, inventory, by_slug[slug], mode)
        inp = ReportInput(client=slug, client_name=by_slug[slug].name, start=start, end=end, generated_at=generated,
                          stale_after=timedelta(seconds=settings.patch.stale_after),
                          policy=policy_for(settings, by_slug[slug]), repository_version=version, chain=chain,
                          assets=scope.assets, network_devices=scope.network_devices, patch_hosts=scope.patch_hosts,
                          names=scope.names, exceptions=risks)
        out.append(build(per_client[slug], inp))
    return out


def all_client_slugs(inventory: InventoryService, mode: Mode = "auto") -> list[str]:
    """Every client with a clients.yml entry, else every tenant with assets."""
    known = inventory.clients(mode)
    configured = {s.tenant for s in inventory.client_settings.values()}
    slugs = [c.slug for c in known if c.slug in configured] or [c.slug for c in known if c.device_count + c.vm_count]
    return sorted(slugs)


def fleet_status(settings: Settings, inventory: InventoryService, client: str, at: datetime | None = None,
                 mode: Mode = "auto") -> tuple[FleetState, ChainReport]:
    """The client's fleet as the records show it at `at` (default: now): per device compliance by
    feature and OS version, per host patch state, each with its evidence's age; old evidence is
    STALE (`[patch] stale_after`)."""
    at = at or datetime.now(UTC)
    known = inventory.clients(mode)
    (slug,) = inventory.resolve_clients([client], known)
    scope = _scope(settings, inventory, next(c for c in known if c.slug == slug), mode)
    per_client, chain = read_timelines(settings.records_location, [slug], at)
    state = state_at(per_client[slug], at, timedelta(seconds=settings.patch.stale_after),
                     scope.network_devices, scope.patch_hosts)
    names = scope.names
    return replace(state, devices=[replace(d, name=names.get(d.key, d.name)) for d in state.devices],
                   hosts=[replace(h, name=names.get(h.key, h.name)) for h in state.hosts],
                   os=[replace(o, name=names.get(o.key, o.name)) for o in state.os]), chain


def default_out(directory: Path, report: ClientReport, fmt: str) -> Path:
    """``<dir>/<client>-<YYYY-MM-DD>.<ext>`` (the period's last day; a folder of that name for
    CSV, one file per table). The client's slug is made one safe path component (NetBox data)."""
    from mspctl.files import path_in
    from mspctl.plugins import REPORT_FORMATS

    day = (report.inp.end - timedelta(microseconds=1)).date().isoformat()
    return path_in(directory, f"{report.inp.client}-{day}", suffix=REPORT_FORMATS.get(fmt).suffix)


@dataclass(frozen=True)
class Written:
    """What `write_reports` wrote: each client's report path(s), and the index (all clients)."""

    reports: dict[str, list[Path]]
    index: Path | None = None


def _write(report: ClientReport, fmt: str, out: Path) -> list[Path]:
    """The report in the ``mspctl.report_formats`` plugin `fmt` (built-in or third-party)."""
    from mspctl.plugins import REPORT_FORMATS

    return REPORT_FORMATS.get(fmt).write(report.to_dict(), out)


def write_reports(reports: Sequence[ClientReport], fmt: str, out: Path | None, *, index: bool = False,
                  cwd: Path | None = None) -> Written:
    """Write each report in `fmt`. One report: to `out` when it names a file (a folder for CSV),
    or into the folder `out` (default: the current folder) under `default_out`'s name. `index`:
    several reports into the folder `out`, plus ``index.html`` ranking the clients by score.
    Every file is written atomically (never half-written). Raises StorageError (MSP-IO-507)."""
    from mspctl.files import write_atomic
    from mspctl.reports import formats

    base = out or cwd or Path.cwd()
    written: dict[str, list[Path]] = {}
    from mspctl.plugins import REPORT_FORMATS

    folder_format = not REPORT_FORMATS.get(fmt).suffix
    for r in reports:
        into_folder = index or out is None or out.is_dir()
        target = default_out(base, r, fmt) if into_folder else base
        written[r.inp.client] = _write(r, fmt, target)
    if not index:
        return Written(written)
    entries = []
    for r in reports:
        data = r.to_dict()
        s = data["summary"]
        first = written[r.inp.client][0]
        rel = (first.parent if folder_format else first).relative_to(base).as_posix()
        entries.append({"client": r.inp.client, "name": r.inp.client_name, "file": rel,
                        "score": formats.overall(data), "drift": s["drift"]["score"], "patches": s["patches"]["score"],
                        "os": s["os"]["score"], "breaches": s["sla_breaches"]})
    entries.sort(key=lambda e: (e["score"] is None, e["score"] if e["score"] is not None else 0.0, e["client"]))
    first_report = reports[0].inp if reports else None
    period = {"from": first_report.start.isoformat() if first_report else None,
              "to": first_report.end.isoformat() if first_report else None}
    generated = first_report.generated_at.isoformat() if first_report else datetime.now(UTC).isoformat()
    path = base / "index.html"
    write_atomic(path, formats.render_index(entries, generated, period))
    write_atomic(base / "index.json", formats.render_json({"schema_version": 1, "period": period,
                                                           "generated_at": generated, "clients": entries}))
    return Written(written, path)
