"""A generated year of run records (lab/history_year.py) through the client report
(mspctl.reports.client.build) and the point-in-time state (mspctl.reports.evidence.state_at),
checked against the generator's ground truth.

The history is written through `RecordStore.save` into a SQLite file and read back with the
store, like the report reads it. Every expected figure is computed here from the truth (what
the simulation did and what each run recorded per target, never the records), following the
definitions of mspctl/reports/client.py's docstring: states with the STALE rule, drift
episodes and MTTR, the SLA (eligible, met, breaches), the security updates not in effect and
for how long, one trend value per day.

The main history leaves out two things real runs have, each with a test of its own below
(expected to fail until the report handles them): hosts lost in the middle of a window, and
updates that only a window's own pre-patch scan finds first (`YearSpec.window_cuts`,
`window_first_sightings`).
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from lab.history_year import STALE_AFTER, HostSighting, Truth, UpdateEpisode, YearSpec, write_year
from mspctl.history import HistoryStore, RunQuery
from mspctl.history.model import ChainReport, RunRecord
from mspctl.reports.client import ReportInput, SlaPolicy, build
from mspctl.reports.evidence import state_at, timeline

CLIENT = "acme"
POLICY = SlaPolicy("gold", patch_days=7, drift_days=2)
Y = datetime(2026, 1, 1, tzinfo=UTC)
# The main history: two clients (the report of one must not see the other's), the outage of
# 16-28 July, neither window cuts nor first sightings by a window's own scan.
SPEC = YearSpec(clients=("acme", "globex"), devices=8, hosts=12, seed=7, window_cuts=False,
                window_first_sightings=False, full_package_lists=False)
SMALL = replace(SPEC, clients=("acme",), devices=3, hosts=4)


def utc(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


PERIODS = {
    "year": (Y, utc(2027, 1, 1)),
    "quarter": (utc(2026, 4, 1), utc(2026, 7, 1)),
    "july": (utc(2026, 7, 1), utc(2026, 8, 1)),  # the outage inside
    "30d-to-the-outage": (utc(2026, 6, 27), utc(2026, 7, 27)),  # ends 11 days into it: STALE
}


@dataclass(frozen=True)
class Year:
    records: list[RunRecord]
    truth: Truth  # the whole truth (both clients)
    chain: ChainReport

    @property
    def mine(self) -> Truth:
        return self.truth.of(CLIENT)

    def known(self, run_id: str | None) -> datetime:
        """When a run's record was written (its end): from then on the report knows it (no run:
        never)."""
        return datetime.max.replace(tzinfo=UTC) if run_id is None else self._ends[run_id]

    @property
    def _ends(self) -> dict[str, datetime]:
        return {r.id: r.finished_at for r in self.truth.runs}


def _read(location: str | Path) -> tuple[list[RunRecord], ChainReport]:
    store = HistoryStore(location)
    try:
        return store.find(RunQuery()), store.verify()
    finally:
        store.close()


def _year(location: str | Path, spec: YearSpec) -> Year:
    truth = write_year(location, spec)
    records, chain = _read(location)
    return Year(records, truth, chain)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Year:
    return _year(tmp_path_factory.mktemp("year") / "records.sqlite", SPEC)


def report_input(y: Year, start: datetime, end: datetime) -> ReportInput:
    mine = y.mine
    return ReportInput(
        client=CLIENT, client_name="Acme Corp", start=start, end=end, generated_at=end, stale_after=STALE_AFTER,
        policy=POLICY, repository_version="git:" + "1" * 40, chain=y.chain, assets=y.truth.assets(CLIENT),
        network_devices=[(t.key, t.name) for t in mine.targets if t.network],
        patch_hosts=[(t.key, t.name) for t in mine.targets if not t.network],
        names={t.key: t.name for t in mine.targets})


def report(y: Year, period: str) -> dict[str, Any]:
    return build(y.records, report_input(y, *PERIODS[period])).to_dict()


# -- the expected figures, from the truth ---------------------------------------------------------

def expected_states(y: Year, at: datetime, inventory: bool = True) -> dict[str, dict[str, str]]:
    """Per area, each target's state at `at`: its newest result written by then, STALE when that
    evidence is older than the limit, NO_EVIDENCE for an inventory target no result covers
    (`inventory` False: only the targets the records know, as the trends count them)."""
    t = y.mine
    out: dict[str, dict[str, str]] = {"drift": {}, "patches": {}, "os": {}}

    def newest(rows: list[Any]) -> dict[str, Any]:
        got: dict[str, Any] = {}
        for s in rows:
            if s.known_at <= at and (s.key not in got or s.evidence_at >= got[s.key].evidence_at):
                got[s.key] = s
        return got

    drift = newest(t.drift)
    hosts = newest([s for s in t.hosts if s.recorded])
    os_ = newest(t.os)
    for area, got, network in (("drift", drift, True), ("patches", hosts, False), ("os", os_, True)):
        keys = set(got) | ({x.key for x in t.targets if x.network == network} if inventory else set())
        for key in keys:
            s = got.get(key)
            if s is None:
                out[area][key] = "NO_EVIDENCE"
            else:
                out[area][key] = "STALE" if at - s.evidence_at > STALE_AFTER else s.status if area == "drift" \
                    else s.state
    return out


def score(states: dict[str, str]) -> float | None:
    """The compliant share in percent, to one decimal (None: no target)."""
    good = sum(1 for s in states.values() if s in ("compliant", "COMPLIANT"))
    return round(100.0 * good / len(states), 1) if states else None


def expected_drifts(y: Year, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The drift episodes the report covers: first seen by `end`, not fixed before `start`."""
    out = []
    for e in y.mine.drift_episodes:
        if y.known(e.first_run) > end:
            continue
        fixed = e.fixed_at if y.known(e.fixed_run) <= end else None
        if fixed is not None and fixed < start:
            continue
        out.append({"key": e.key, "feature": e.feature, "first_seen": e.first_seen, "fixed": fixed})
    return out


def available(e: UpdateEpisode) -> datetime:
    """A security update is available from its release date (the scans state it), else from
    the first scan that found it missing."""
    assert e.first_seen is not None
    return e.released if e.released <= e.first_seen else e.first_seen


def expected_updates(y: Year, start: datetime, end: datetime) -> list[dict[str, Any]]:
    out = []
    for e in y.mine.update_episodes:
        if e.first_seen is None or y.known(e.first_run) > end:
            continue
        in_effect = e.in_effect_at if y.known(e.in_effect_run) <= end else None
        if in_effect is not None and in_effect < start:
            continue
        out.append({"key": e.key, "package": e.package, "available": available(e), "fixed": in_effect})
    return out


def expected_sla(items: list[dict[str, Any]], found: str, days: int, start: datetime,
                 end: datetime) -> dict[str, Any]:
    """Episodes due inside the period (found + `days` <= end) or fixed inside it; met when fixed
    by their due time, each other one a breach."""
    eligible, met, breaches = 0, 0, Counter[tuple[str, str, str]]()
    for i in items:
        due = i[found] + timedelta(days=days)
        fixed = i["fixed"]
        if not ((fixed is not None and start <= fixed <= end) or (due <= end and (fixed is None or fixed >= start))):
            continue
        eligible += 1
        if fixed is not None and fixed <= due:
            met += 1
        else:
            breaches[(i["key"], i.get("feature") or i.get("package"), i[found].isoformat())] += 1
    return {"eligible": eligible, "met": met, "breaches": breaches}


def _breaches(sla: dict[str, Any]) -> Counter[tuple[str, str, str]]:
    return Counter((b["target"], b.get("feature") or b["package"], b.get("first_seen") or b["available_at"])
                   for b in sla["breaches"])


def latest_host_sightings(y: Year, at: datetime) -> dict[str, HostSighting]:
    got: dict[str, HostSighting] = {}
    for s in y.mine.hosts:
        if s.recorded and s.known_at <= at and (s.key not in got or s.evidence_at >= got[s.key].evidence_at):
            got[s.key] = s
    return got


def expected_missing(y: Year, end: datetime, which: str) -> set[tuple[str, str, float]]:
    """(host, package, days available) of the security updates not in effect at `end` on hosts
    whose evidence is not stale: `which` "missing" (not installed) or "pending_reboot"."""
    open_ = {(u["key"], u["package"]): u for u in expected_updates(y, end, end) if u["fixed"] is None}
    names = {t.key: t.name for t in y.mine.targets}
    out = set()
    for key, s in latest_host_sightings(y, end).items():
        if end - s.evidence_at > STALE_AFTER:
            continue
        for p in getattr(s, which):
            out.add((names[key], p, round((end - open_[(key, p)]["available"]).total_seconds() / 86400, 1)))
    return out


# -- the history itself -----------------------------------------------------------------------------

def test_the_generated_history_has_every_case_the_report_must_handle(year: Year) -> None:
    t = year.mine
    states = Counter(s.state for s in t.hosts if s.recorded)
    assert {"COMPLIANT", "NON_COMPLIANT", "PENDING_REBOOT", "UNREACHABLE"} <= set(states), states
    assert Counter(s.status for s in t.drift).keys() >= {"compliant", "drift", "failed"}
    assert {s.state for s in t.os} >= {"COMPLIANT", "NON_COMPLIANT"}
    took = [e.fixed_at - e.first_seen for e in t.drift_episodes if e.fixed_at is not None]
    assert any(d <= timedelta(days=2) for d in took) and any(d > timedelta(days=2) for d in took)
    assert any(e.fixed_at is None for e in t.drift_episodes)
    seen = [e for e in t.update_episodes if e.in_effect_at is not None and e.first_seen is not None]
    delays = [e.in_effect_at - e.released for e in seen if e.in_effect_at is not None]
    assert any(d <= timedelta(days=7) for d in delays) and any(d > timedelta(days=7) for d in delays)
    assert any(e.rebooted_at is not None and e.installed_at is not None
               and e.rebooted_at - e.installed_at > timedelta(days=1) for e in seen)  # a DBA's reboot, days later
    # what the main history leaves out
    assert not any(e.first_seen_by_window_scan or e.in_effect_by_window_scan or e.cut_before_install
                   for e in t.update_episodes)
    # the two clients' records are apart: every record names its clients, acme's truth only acme's targets
    assert {t.client for t in year.truth.targets} == {"acme", "globex"}
    assert all(r.clients() for r in year.records)
    assert year.chain.ok and year.chain.records == len(year.truth.runs) == len(year.records)


# -- the report over a period -----------------------------------------------------------------------

@pytest.mark.parametrize("period", PERIODS)
def test_counts_by_state_and_scores_at_the_periods_end(year: Year, period: str) -> None:
    rep = report(year, period)
    want = expected_states(year, PERIODS[period][1])
    for area in ("drift", "patches", "os"):
        got = rep["summary"][area]
        assert {k: v for k, v in got["counts"].items() if v} == dict(Counter(want[area].values())), area
        assert got["total"] == len(want[area])
        assert got["score"] == score(want[area]), area
    rows = {r["target"]: r["state"] for r in rep["configuration"]["devices"]}
    assert rows == want["drift"]
    assert {r["target"]: r["state"] for r in rep["patches"]["hosts"]} == want["patches"]
    assert {r["target"]: r["state"] for r in rep["os"]["devices"]} == want["os"]


def test_the_period_ending_in_the_outage_shows_stale_not_the_last_state(year: Year) -> None:
    rep = report(year, "30d-to-the-outage")
    audited_devices = sum(1 for t in year.mine.targets if t.network and t.audited)
    audited_hosts = sum(1 for t in year.mine.targets if not t.network and t.audited)
    assert rep["summary"]["drift"]["counts"]["STALE"] == audited_devices
    assert rep["summary"]["patches"]["counts"]["STALE"] == audited_hosts
    assert rep["summary"]["drift"]["score"] == 0.0
    # their last real state before the outage was not all stale: some were compliant, some drifted
    before = expected_states(year, year.truth.outage[0])
    assert {"compliant", "drift"} <= set(before["drift"].values())
    # stale hosts say nothing about their packages
    assert rep["patches"]["missing_security"] == []


@pytest.mark.parametrize("period", PERIODS)
def test_drift_episodes_open_drifts_and_mttr(year: Year, period: str) -> None:
    start, end = PERIODS[period]
    rep = report(year, period)
    want = expected_drifts(year, start, end)

    def at(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    got = {(d["target"], d["feature"], d["first_seen"], d["fixed_at"]) for d in rep["configuration"]["drifts"]}
    assert got == {(w["key"], w["feature"], at(w["first_seen"]), at(w["fixed"])) for w in want}
    assert len(rep["configuration"]["drifts"]) == len(want)
    assert all(d["open"] == (d["fixed_at"] is None) for d in rep["configuration"]["drifts"])
    assert rep["summary"]["open_drifts"] == sum(1 for w in want if w["fixed"] is None)
    fixed = [w for w in want if w["fixed"] is not None and start <= w["fixed"] <= end]
    assert rep["configuration"]["fixed_in_period"] == len(fixed)
    mttr = sum((w["fixed"] - w["first_seen"]).total_seconds() for w in fixed) / len(fixed) / 3600 if fixed else None
    assert rep["configuration"]["mttr_hours"] == (round(mttr, 2) if mttr is not None else None)


@pytest.mark.parametrize("period", PERIODS)
def test_sla_for_drift_and_security_updates(year: Year, period: str) -> None:
    start, end = PERIODS[period]
    rep = report(year, period)
    drift = expected_sla(expected_drifts(year, start, end), "first_seen", POLICY.drift_days, start, end)
    patch = expected_sla(expected_updates(year, start, end), "available", POLICY.patch_days, start, end)
    for area, want in (("drift", drift), ("patch", patch)):
        got = rep["sla"][area]
        assert (got["eligible"], got["met"]) == (want["eligible"], want["met"]), area
        assert got["share"] == (round(100.0 * want["met"] / want["eligible"], 1) if want["eligible"] else None)
        assert _breaches(got) == want["breaches"], area
    assert rep["summary"]["sla_breaches"] == drift["breaches"].total() + patch["breaches"].total()


def test_the_year_has_sla_breaches_and_met_episodes_in_both_areas(year: Year) -> None:
    rep = report(year, "year")
    for area in ("drift", "patch"):
        assert 0 < rep["sla"][area]["met"] < rep["sla"][area]["eligible"], area


@pytest.mark.parametrize("period", ["year", "quarter", "july"])
def test_missing_security_updates_with_days_available(year: Year, period: str) -> None:
    end = PERIODS[period][1]
    rep = report(year, period)
    got = {(m["host"], m["package"], m["days_available"]) for m in rep["patches"]["missing_security"]
           if m["state"] == "MISSING"}
    assert got == expected_missing(year, end, "missing")
    assert all(m["availability"] == "released" for m in rep["patches"]["missing_security"])
    # the per-host count (hosts waiting for a reboot: see the test further down)
    latest = latest_host_sightings(year, end)
    for row in rep["patches"]["hosts"]:
        s = latest.get(row["target"])
        if s is None or end - s.evidence_at > STALE_AFTER or s.pending_reboot:
            continue
        assert row["security_updates_not_in_effect"] == len(s.missing), row["name"]


@pytest.mark.parametrize("period", PERIODS)
def test_trends_one_value_per_day_as_the_records_showed_it(year: Year, period: str) -> None:
    start, end = PERIODS[period]
    trends = report(year, period)["trends"]
    days = []
    day = start.date()
    while datetime.combine(day, time(), UTC) < end:
        at = min(datetime.combine(day + timedelta(days=1), time(), UTC), end)
        days.append((day.isoformat(), at))
        day += timedelta(days=1)
    assert [(t["date"], t["at"]) for t in trends] == [(d, at.isoformat()) for d, at in days]
    for t, (_, at) in zip(trends, days, strict=True):
        want = expected_states(year, at, inventory=False)
        assert (t["drift"], t["patches"], t["os"]) == (score(want["drift"]), score(want["patches"]),
                                                       score(want["os"])), t["date"]


def test_a_day_inside_the_outage_shows_the_stale_effect(year: Year) -> None:
    trends = {t["date"]: t for t in report(year, "july")["trends"]}
    outage_start, outage_end = year.truth.outage
    deep = (outage_end - timedelta(days=2)).date().isoformat()  # 11 days without a run
    first = outage_start.date().isoformat()  # the outage's first day: evidence one day old
    assert trends[deep]["drift"] == 0.0 and trends[deep]["patches"] == 0.0
    assert trends[first]["drift"] == score(expected_states(year, outage_start + timedelta(days=1), False)["drift"])
    assert trends[first]["drift"] not in (None, 0.0)


def test_the_report_lists_the_runs_of_its_period(year: Year) -> None:
    start, end = PERIODS["quarter"]
    rep = report(year, "quarter")
    want = [(r.id, r.kind) for r in sorted(year.mine.runs, key=lambda r: (r.finished_at, r.id))
            if start <= r.finished_at <= end]
    assert [(r["id"], r["kind"]) for r in rep["runs"]] == want
    assert rep["chain"] == {"ok": True, "head": year.chain.head, "records": len(year.records), "broken_run": None}
    assert rep["assets"]["total"] == len(year.mine.targets)


# -- the state at one moment ------------------------------------------------------------------------

def _moments(y: Year) -> dict[str, datetime]:
    runs = sorted(y.mine.runs, key=lambda r: r.finished_at)
    mid = next(r for r in runs if r.kind == "drift" and r.started_at > utc(2026, 3, 10))
    window = next(r for r in runs if r.kind == "patch-window" and r.started_at > utc(2026, 5, 1))
    return {
        "before any record": Y - timedelta(days=1),
        "a quiet afternoon": utc(2026, 3, 10, 15),
        "inside a drift run": mid.started_at + (mid.finished_at - mid.started_at) / 2,  # read, not yet written
        "inside a window": window.started_at + (window.finished_at - window.started_at) / 2,
        "the outage's 9th day": y.truth.outage[0] + timedelta(days=9, hours=12),
        "the year's end": utc(2027, 1, 1),
    }


@pytest.mark.parametrize("moment", ["before any record", "a quiet afternoon", "inside a drift run",
                                    "inside a window", "the outage's 9th day", "the year's end"])
def test_the_state_at_a_moment(year: Year, moment: str) -> None:
    at = _moments(year)[moment]
    inp = report_input(year, at - timedelta(days=1), at)
    st = state_at(timeline(year.records, CLIENT), at, STALE_AFTER, inp.network_devices, inp.patch_hosts)
    want = expected_states(year, at)
    assert {d.key: d.state for d in st.devices} == want["drift"]
    assert {h.key: h.state for h in st.hosts} == want["patches"]
    assert {o.key: o.state for o in st.os} == want["os"]
    if moment == "inside a drift run":  # the run's reads are not known before its record is written
        assert any(s.evidence_at < at < s.known_at for s in year.mine.drift)
    if moment == "the outage's 9th day":
        assert {d.state for d in st.devices if d.evidence_at} == {"STALE"}
        assert {h.state for h in st.hosts if h.evidence_at} == {"STALE"}


# -- what the main history leaves out ------------------------------------------------------------------

@pytest.fixture(scope="module")
def year_with_cuts(tmp_path_factory: pytest.TempPathFactory) -> Year:
    return _year(tmp_path_factory.mktemp("cuts") / "records.sqlite",
                 replace(SPEC, clients=("acme",), devices=2, window_cuts=True, seed=11))


@pytest.fixture(scope="module")
def year_with_window_sightings(tmp_path_factory: pytest.TempPathFactory) -> Year:
    return _year(tmp_path_factory.mktemp("sightings") / "records.sqlite",
                 replace(SPEC, clients=("acme",), devices=2, window_first_sightings=True, seed=12))


def test_those_histories_have_what_they_are_for(year_with_cuts: Year, year_with_window_sightings: Year) -> None:
    assert any(e.cut_before_install for e in year_with_cuts.mine.update_episodes)
    assert any(e.first_seen_by_window_scan and e.in_effect_at is not None
               for e in year_with_window_sightings.mine.update_episodes)


def _patch_sla_matches(y: Year) -> None:
    start, end = PERIODS["year"]
    got = report(y, "year")["sla"]["patch"]
    want = expected_sla(expected_updates(y, start, end), "available", POLICY.patch_days, start, end)
    assert (got["eligible"], got["met"]) == (want["eligible"], want["met"])
    assert _breaches(got) == want["breaches"]


def test_a_host_lost_in_the_middle_of_a_window_keeps_its_updates_open(year_with_cuts: Year) -> None:
    _patch_sla_matches(year_with_cuts)


def test_an_update_only_the_windows_own_scan_found_counts_in_the_sla(year_with_window_sightings: Year) -> None:
    _patch_sla_matches(year_with_window_sightings)


def test_security_updates_waiting_for_a_reboot_are_listed_as_not_in_effect(year: Year) -> None:
    end = next(datetime.combine(s.evidence_at.date() + timedelta(days=1), time(), UTC)
               for s in year.mine.hosts if s.recorded and s.pending_reboot)
    want = expected_missing(year, end, "pending_reboot")
    assert want
    rep = build(year.records, report_input(year, end - timedelta(days=30), end)).to_dict()
    got = {(m["host"], m["package"], m["days_available"]) for m in rep["patches"]["missing_security"]
           if m["state"] == "INSTALLED_PENDING_REBOOT"}
    assert got == want
    latest = latest_host_sightings(year, end)
    for row in rep["patches"]["hosts"]:
        s = latest.get(row["target"])
        if s is not None and s.pending_reboot:
            assert row["security_updates_not_in_effect"] == len(s.missing) + len(s.pending_reboot), row["name"]


# -- the same history in PostgreSQL ----------------------------------------------------------------------

PG_ROLE = "mspctl_report_test"


@pytest.fixture
def records_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "records.sqlite")
        return
    from lab import services

    services.ensure_postgres()
    password = secrets.token_hex(12)
    services.psql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='{PG_ROLE}') THEN "
                  f"CREATE ROLE {PG_ROLE} LOGIN; END IF; END$$;")
    services.psql(f"ALTER ROLE {PG_ROLE} WITH LOGIN PASSWORD '{password}'")
    dbname = f"{PG_ROLE}_{secrets.token_hex(4)}"
    services.psql(f"CREATE DATABASE {dbname} OWNER {PG_ROLE}")
    try:
        yield f"postgresql+psycopg://{PG_ROLE}:{password}@127.0.0.1:5432/{dbname}"
    finally:
        services.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


@pytest.fixture(scope="module")
def small_year(tmp_path_factory: pytest.TempPathFactory) -> Year:
    return _year(tmp_path_factory.mktemp("small") / "records.sqlite", SMALL)


@pytest.mark.parametrize("records_location", ["sqlite", pytest.param("postgresql", marks=pytest.mark.lab)],
                         indirect=True)
def test_the_year_reads_back_to_the_same_report_from_either_store(small_year: Year, records_location: str) -> None:
    """The same year written into a fresh store and read back: the same chain head and report, and
    the report's figures are the truth's."""
    again = _year(records_location, SMALL)
    assert again.chain.ok and again.chain.head == small_year.chain.head
    assert [r.id for r in again.records] == [r.id for r in small_year.records]
    got = report(again, "year")
    assert json.dumps(got, sort_keys=True) == json.dumps(report(small_year, "year"), sort_keys=True)
    want = expected_states(again, PERIODS["year"][1])
    for area in ("drift", "patches", "os"):
        assert {k: v for k, v in got["summary"][area]["counts"].items() if v} == dict(Counter(want[area].values()))
    start, end = PERIODS["year"]
    assert got["summary"]["open_drifts"] == sum(1 for d in expected_drifts(again, start, end) if d["fixed"] is None)
