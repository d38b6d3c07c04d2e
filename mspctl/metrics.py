"""`mspctl metrics`: the run records as Prometheus metrics, per client (docs/metrics.md).

`compute` is pure: run records in, metric families out. It reads what the records say and
nothing else (no NetBox, no SSH), so it works with ``--offline``. `collect` opens the history
store for it; `exposition` and `write_textfile` turn the families into Prometheus's text format
through prometheus_client, the one place that library is used.

What the figures mean (each is documented in docs/metrics.md):

- a device's drift state is the status of its newest drift result; a host's patch state is the
  ``state`` of its newest patch-scan, patch-apply or patch-window result, or ``STALE`` when that
  evidence is older than ``[patch] stale_after``, or ``UNFINISHED`` when the newest result is
  from a run killed while it worked on the host (what the host has is then unknown);
- a run *succeeded* for a client when it was neither interrupted, unfinished, refused nor failed
  as a whole (a backup that could not commit, a patch run whose NetBox write-back failed), and
  none of that client's targets has a status the command itself counts as failed (its exit 3);
- series exist only for clients the records name: a client without records has none, rather
  than zeros that would read as "checked, nothing found".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from mspctl.errors import ExitCode, MspctlError, storage_error
from mspctl.patch.model import HostState

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from mspctl.history import ChainReport, RunRecord
    from mspctl.reports.client import SlaPolicy

TEXTFILE = "mspctl.prom"  # node_exporter's textfile collector reads `*.prom` only
NO_CLIENT = "no-client"  # an asset without a NetBox tenant (mspctl.inventory.names spells it so)

DEVICE_STATES = ("compliant", "drift", "failed", "skipped")  # mspctl.drift.service.DeviceStatus
UNFINISHED = "UNFINISHED"  # not an SSM state: a run was killed while it worked on the host
# Every state a host's patch result can carry, each its own series (NOT_APPLICABLE hosts are no
# patch targets: the records list them apart, never as a result).
HOST_STATES: tuple[str, ...] = (*(s for s in get_args(HostState) if s != "NOT_APPLICABLE"), UNFINISHED)
DRIFT_KINDS = ("drift",)
PATCH_KINDS = ("patch-scan", "patch-apply", "patch-window")

# Per kind, the target statuses its command counts as failed (the ones that make it exit 3).
# Kept beside the services' own lists by a unit test (tests/unit/test_metrics.py).
_PATCH_APPLY_FAILED = frozenset({"failed", "unreachable", "incomplete", "skipped", "unfinished"})
_PUSH_FAILED = frozenset({"rolled_back", "rollback_failed", "failed", "refused", "partial", "unfinished"})
FAILED_STATUSES: dict[str, frozenset[str]] = {
    "backup": frozenset({"failed", "unfinished"}),
    "drift": frozenset({"failed", "unfinished"}),
    "push": _PUSH_FAILED,
    "rollback": _PUSH_FAILED,
    "patch-scan": frozenset({"UNREACHABLE", "FAILED", "unfinished"}),
    "patch-os": frozenset({"UNREACHABLE", "FAILED", "unfinished"}),
    "patch-apply": _PATCH_APPLY_FAILED,
    "patch-window": _PATCH_APPLY_FAILED,
}
_FAILED_OTHER = frozenset({"failed", "FAILED", "unfinished"})  # a kind this mspctl does not know yet

HELP = {
    "mspctl_devices": "Network devices by the state of their newest drift result (compliant, drift, failed, "
                      "skipped).",
    "mspctl_hosts": "Servers by patch state (SSM states) from their newest patch-scan, patch-apply or "
                    "patch-window result; evidence older than [patch] stale_after counts as STALE, a host "
                    "a killed run was working on as UNFINISHED.",
    "mspctl_last_run_timestamp_seconds": "When the newest run of this kind for this client finished (Unix "
                                         "time).",
    "mspctl_last_success_timestamp_seconds": "When the newest successful run of this kind for this client "
                                             "finished (Unix time): not interrupted, unfinished or refused, and "
                                             "no failed target of the client. 0: runs were recorded, none "
                                             "succeeded.",
    "mspctl_runs_unfinished": "Run records of this kind for this client sealed as unfinished (a killed "
                              "process, an expired window), over the whole history.",
    "mspctl_sla_breaches": "SLA breaches over the last 30 days by area: security updates not in "
                           "effect within the client's tier's patch_days of becoming available (patch), drift not "
                           "fixed within its drift_days (drift); counted as `mspctl report` counts them.",
    "mspctl_records_chain_ok": "1 when the run records' hash chain verifies (mspctl runs verify), 0 when a "
                               "record was changed, removed or inserted behind mspctl's back.",
}
LABELS = {
    "mspctl_devices": ("client", "state"),
    "mspctl_hosts": ("client", "state"),
    "mspctl_last_run_timestamp_seconds": ("kind", "client"),
    "mspctl_last_success_timestamp_seconds": ("kind", "client"),
    "mspctl_runs_unfinished": ("kind", "client"),
    "mspctl_sla_breaches": ("client", "area"),
    "mspctl_records_chain_ok": (),
}
SLA_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Family:
    """One metric family: a gauge, its help text, label names and samples (label values -> value)."""

    name: str
    help: str
    labels: tuple[str, ...]
    samples: dict[tuple[str, ...], float] = field(default_factory=dict)


@dataclass(frozen=True)
class Metrics:
    """What `compute` found: the families, the clients they cover, and what could not be counted."""

    families: list[Family]
    clients: list[str]  # the clients with series, sorted
    chain: ChainReport
    unattributed: int = 0  # results no client could be found for (not counted anywhere)

    def family(self, name: str) -> Family:
        return next(f for f in self.families if f.name == name)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _order(r: RunRecord) -> tuple[datetime, datetime, str]:
    """Oldest first by the time a run ended (its record was written): a resumed window that began
    before a scan but ended after it is the newer run."""
    return _utc(r.finished_at), _utc(r.started_at), r.id


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _client_of(data: dict[str, Any]) -> str | None:
    """The client a result's data names: its asset's tenant slug, ``no-client`` for an asset
    without one (the key is there, empty), None when the result does not say (a journal stub)."""
    if "client" not in data:
        return None
    return str(data["client"]) if data["client"] else NO_CLIENT


class _Attribution:
    """Which client each result belongs to. A result that names none (a killed run's journal
    stub) takes its run's `client` parameter, else the client the target's other results name."""

    def __init__(self, records: list[RunRecord]) -> None:
        self.by_target: dict[str, str] = {}
        for r in records:  # oldest first: the newest result naming the target's client wins
            for target, (_, data) in r.results.items():
                client = _client_of(data)
                if client is not None:
                    self.by_target[target] = client

    def client(self, record: RunRecord, target: str, data: dict[str, Any]) -> str | None:
        own = _client_of(data)
        if own is not None:
            return own
        param = record.params.get("client") or record.params.get("tenant")
        return str(param) if param else self.by_target.get(target)


def _evidence_at(record: RunRecord, data: dict[str, Any]) -> datetime:
    """When the evidence behind a patch result was gathered: the scan its state was judged from,
    else the end of its run (a host that was never read, a killed run's journal stub)."""
    for part in ("compliance", "scan"):
        section = data.get(part)
        if isinstance(section, dict) and (at := _when(section.get("scanned_at"))) is not None:
            return at
    return _utc(record.finished_at)


def _host_state(status: str, data: dict[str, Any], evidence: datetime, now: datetime,
                stale_after: timedelta) -> str:
    """A host's state from one patch result: its recorded state, STALE when the evidence behind it
    is older than `stale_after`, UNFINISHED when the run was killed while it worked on the host."""
    if now - evidence > stale_after:
        return "STALE"
    state = data.get("state")
    if state:
        return str(state)
    return UNFINISHED if status == "unfinished" else str(status)


def _host_key(target: str, data: dict[str, Any], keys: dict[str, str]) -> str:
    """One host, whatever its inventory name was: its NetBox object (`vm:3`) when the result says."""
    if data.get("kind") and data.get("id") is not None:
        keys[target] = f"{data['kind']}:{data['id']}"
    return keys.get(target, target)


def _succeeded(record: RunRecord, statuses: Iterable[str]) -> bool:
    p = record.params
    if p.get("interrupted") or p.get("unfinished") or p.get("refused") or p.get("error"):
        return False
    if str(p.get("writeback") or "").startswith("failed"):
        return False
    failed = FAILED_STATUSES.get(record.kind, _FAILED_OTHER)
    return not any(s in failed for s in statuses)


def compute(records: Iterable[RunRecord], chain: ChainReport, *, now: datetime, stale_after: timedelta,
            clients: Collection[str] | None = None, policies: Mapping[str, SlaPolicy] | None = None,
            default_policy: SlaPolicy | None = None) -> Metrics:
    """The metric families of `records` (any order), for `clients` (None: every client they name).

    Pure: no I/O. `now` and `stale_after` decide which host evidence is STALE; `chain` is the
    history store's verify report. A result whose client cannot be found is counted in
    `Metrics.unattributed` and nowhere else. `policies`: each client's SLA (its tier's days), else
    `default_policy`; without either, no SLA series."""
    ordered = sorted(records, key=_order)
    who = _Attribution(ordered)
    now = _utc(now)
    wanted = set(clients) if clients is not None else None
    devices: dict[str, tuple[str, str]] = {}  # device target -> (client, state), newest wins
    hosts: dict[str, tuple[datetime, str, str]] = {}  # host key -> (evidence at, client, state), newest wins
    host_keys: dict[str, str] = {}
    last_run: dict[tuple[str, str], float] = {}
    last_ok: dict[tuple[str, str], float] = {}
    unfinished: dict[tuple[str, str], int] = {}
    unattributed = 0
    for r in ordered:
        per_client: dict[str, list[str]] = {}
        for c in r.clients():
            per_client.setdefault(c, [])
        for target, (status, data) in r.results.items():
            client = who.client(r, target, data)
            if client is None:
                unattributed += 1
                continue
            per_client.setdefault(client, []).append(status)
            if r.kind in DRIFT_KINDS:
                devices[target] = (client, status)
            elif r.kind in PATCH_KINDS:
                host, at = _host_key(target, data, host_keys), _evidence_at(r, data)
                if host not in hosts or at >= hosts[host][0]:  # the newest evidence; a tie: the later run
                    hosts[host] = (at, client, _host_state(status, data, at, now, stale_after))
        finished = _utc(r.finished_at).timestamp()
        for client, statuses in per_client.items():
            key = (r.kind, client)
            last_run[key] = max(last_run.get(key, 0.0), finished)
            last_ok.setdefault(key, 0.0)
            if _succeeded(r, statuses):
                last_ok[key] = max(last_ok[key], finished)
            unfinished[key] = unfinished.get(key, 0) + bool(r.params.get("unfinished"))

    def keep(client: str) -> bool:
        return wanted is None or client in wanted

    families = [
        _states("mspctl_devices", devices.values(), DEVICE_STATES, keep),
        _states("mspctl_hosts", ((c, s) for _, c, s in hosts.values()), HOST_STATES, keep),
        Family("mspctl_last_run_timestamp_seconds", HELP["mspctl_last_run_timestamp_seconds"],
               LABELS["mspctl_last_run_timestamp_seconds"], {k: v for k, v in sorted(last_run.items()) if keep(k[1])}),
        Family("mspctl_last_success_timestamp_seconds", HELP["mspctl_last_success_timestamp_seconds"],
               LABELS["mspctl_last_success_timestamp_seconds"],
               {k: v for k, v in sorted(last_ok.items()) if keep(k[1])}),
        Family("mspctl_runs_unfinished", HELP["mspctl_runs_unfinished"], LABELS["mspctl_runs_unfinished"],
               {k: float(v) for k, v in sorted(unfinished.items()) if keep(k[1])}),
        _sla_family(ordered, sorted({c for _, c in last_run if keep(c)}), now, policies or {}, default_policy),
        Family("mspctl_records_chain_ok", HELP["mspctl_records_chain_ok"], (), {(): 1.0 if chain.ok else 0.0}),
    ]
    return Metrics(families, sorted({c for _, c in last_run if keep(c)}), chain, unattributed)


def _sla_family(records: list[RunRecord], clients: list[str], now: datetime, policies: Mapping[str, SlaPolicy],
                default: SlaPolicy | None) -> Family:
    from mspctl.reports.client import sla_breaches

    samples: dict[tuple[str, ...], float] = {}
    for client in clients:
        policy = policies.get(client, default)
        if policy is None:
            continue
        for area, n in sla_breaches(records, client, now - SLA_WINDOW, now, policy).items():
            samples[(client, area)] = float(n)
    return Family("mspctl_sla_breaches", HELP["mspctl_sla_breaches"], LABELS["mspctl_sla_breaches"], samples)


def _states(name: str, found: Iterable[tuple[str, str]], known: tuple[str, ...],
            keep: Callable[[str], bool]) -> Family:
    """Counts by (client, state): every known state of a client with evidence (0 is a figure
    then), plus any other state the records carry; nothing for a client without evidence."""
    counts: dict[tuple[str, str], float] = {}
    for client, state in found:
        if keep(client):
            counts[(client, state)] = counts.get((client, state), 0.0) + 1
    for client in {c for c, _ in counts}:
        for state in known:
            counts.setdefault((client, state), 0.0)
    return Family(name, HELP[name], LABELS[name], dict(sorted(counts.items())))


def collect(location: Path | str, *, stale_after: timedelta, clients: Collection[str] | None = None,
            now: datetime | None = None, policies: Mapping[str, SlaPolicy] | None = None,
            default_policy: SlaPolicy | None = None) -> Metrics:
    """The metrics of the run records at `location` (a SQLite path or a database URL): every
    record, and the chain's verify report. Raises the store's errors (MSP-REC-*)."""
    from mspctl.history import RunQuery
    from mspctl.records import RecordStore

    store = RecordStore(location)
    try:
        records = store.find(RunQuery())
        chain = store.verify()
    finally:
        store.close()
    return compute(records, chain, now=now or datetime.now(UTC), stale_after=stale_after, clients=clients,
                   policies=policies, default_policy=default_policy)


def _registry(metrics: Metrics) -> CollectorRegistry:
    """A registry of mspctl's own (never the process-wide default, which holds process metrics)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import Collector

    class _Records(Collector):
        def collect(self) -> Iterable[GaugeMetricFamily]:
            for fam in metrics.families:
                gauge = GaugeMetricFamily(fam.name, fam.help, labels=list(fam.labels))
                for labels, value in fam.samples.items():
                    gauge.add_metric(list(labels), value)
                yield gauge

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Records())
    return registry


def exposition(metrics: Metrics) -> str:
    """Prometheus's text exposition format (0.0.4) of `metrics`."""
    from prometheus_client import generate_latest

    return generate_latest(_registry(metrics)).decode("utf-8")


def write_textfile(metrics: Metrics, directory: Path) -> Path:
    """Write `directory/mspctl.prom` for node_exporter's textfile collector, atomically (a
    temporary file beside it, then a rename: the collector reads the old file or the whole new
    one). Raises StorageError (MSP-IO-507) for a full or read-only disk, MspctlError
    (MSP-MET-403) when the file cannot be written otherwise (permissions)."""
    from prometheus_client import write_to_textfile

    path = directory / TEXTFILE
    try:
        write_to_textfile(str(path), _registry(metrics))
    except OSError as exc:
        raise storage_error(exc, f"{path}: cannot write the metrics") or MspctlError(
            f"{path}: cannot write the metrics: {exc.strerror or exc}", code="MSP-MET-403",
            exit_code=ExitCode.STORAGE,
            hint="give mspctl's user write access to the textfile directory (node_exporter "
                 "--collector.textfile.directory)") from None
    return path
