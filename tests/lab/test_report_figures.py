"""The client report's figures after real runs against the lab, recomputed from the raw rows.

A real drift audit of acme's devices, a real patch scan of its servers, a real patch window
(inside acme's window by MSPCTL_NOW), the servers put back to their seeded packages and scanned
again, and a real network OS check; then `mspctl report --client acme` in JSON, Markdown and
HTML. Every figure the test compares is computed here from the records file's `runs` and
`results` rows with plain sqlite3 and json, never through mspctl's report code: the summary's
counts and scores per area, open drifts, the security updates not in effect per host (with their
days available), the patch SLA's episodes. The JSON is validated against
mspctl/reports/schema/report.schema.json; the Markdown and HTML must show the same summary.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mspctl.reports.formats import SCHEMA
from tests.lab.demo_facts import ACME, ACME_SERVERS

INSIDE = "2026-11-28T22:30:00+01:00"  # inside acme's window (Saturday 22:00 Berlin, 4 h)
STALE_AFTER = timedelta(days=7)  # mspctl.toml [patch] stale_after
NETWORK = ACME - set(ACME_SERVERS) - {"acme-fw1"}  # acme-fw1 is offline: no device run takes it
PATCH_KINDS = ("patch-scan", "patch-apply", "patch-window")
NOT_IN_EFFECT = ("MISSING", "FAILED", "INSTALLED_PENDING_REBOOT")


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def ran(lab_netbox: Any, lab_network: Any, lab_servers: Any, patch_home: Path,
        tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The runs, then the three reports; returns their texts and the records file."""
    from click.testing import CliRunner

    from mspctl.cli import main
    from tests.conftest import REPO, lab_env

    out = tmp_path_factory.mktemp("report")
    env = {**lab_env(lab_netbox, out), "MSPCTL_SSH_CONFIG": lab_servers.ssh_config,
           "MSPCTL_CREDENTIALS_FILE": lab_network.credentials_file, "MSPCTL_DEVICE_PORT": lab_network.device_port,
           "XDG_CACHE_HOME": str(patch_home / "cache"), "XDG_STATE_HOME": str(patch_home / "state")}
    mp = pytest.MonkeyPatch()
    mp.chdir(REPO)
    for var in [v for v in os.environ if v.startswith(("MSPCTL_", "NETBOX_"))]:
        mp.delenv(var)
    runner = CliRunner()

    def run(*args: str, code: int, extra: dict[str, str] | None = None) -> str:
        res = runner.invoke(main, list(args), env={**env, **(extra or {})}, catch_exceptions=False)
        assert res.exit_code == code, (args, res.output)
        return res.stdout

    try:
        lab_network.reset()
        lab_servers.reset()
        run("drift", "-c", "acme", code=4)  # the demo network's seeded drift
        run("patch", "scan", "-c", "acme", code=4)  # seeded security updates missing
        run("patch", "window", "-c", "acme", "--yes", code=0, extra={"MSPCTL_NOW": INSIDE})
        lab_servers.reset()  # the seeded packages again: missing once more
        run("patch", "scan", "-c", "acme", code=4)
        run("patch", "os", "-c", "acme", code=4)  # acme-core-sw1 runs an old IOS XE
        texts = {}
        for fmt in ("json", "md", "html"):
            path = out / f"acme.{fmt}"
            run("report", "--client", "acme", "--format", fmt, "--out", str(path), code=0)
            texts[fmt] = path.read_text()
    finally:
        lab_servers.reset()
        lab_network.reset()
        mp.undo()
    records = patch_home / "cache" / "mspctl" / "records.sqlite"
    assert records.is_file()
    return {"texts": texts, "records": records}


# -- the figures, from the raw rows ---------------------------------------------------------------

def raw_figures(records: Path, end: datetime) -> dict[str, Any]:
    """The report's figures recomputed from the `runs` and `results` tables (acme's results)."""
    with sqlite3.connect(records) as db:
        rows = db.execute("SELECT r.id, r.kind, r.finished_at, s.target, s.status, s.data FROM runs r "
                          "JOIN results s ON s.run_id = r.id ORDER BY r.finished_at, r.id").fetchall()
    drift: list[tuple[datetime, str, dict[str, Any]]] = []
    patch: list[tuple[datetime, datetime, dict[str, Any]]] = []
    os_: dict[str, tuple[str, datetime]] = {}
    for _, kind, finished, _target, status, text in rows:
        data = json.loads(text)
        known = _when(finished)
        assert known is not None
        if data.get("client") != "acme" or known > end:
            continue
        if kind == "drift":
            drift.append((_when(data.get("evidence_at")) or known, status, data))
        elif kind in PATCH_KINDS:
            comp, scan = data.get("compliance") or {}, data.get("scan") or {}
            evidence = _when(comp.get("scanned_at")) or _when(scan.get("scanned_at")) or known
            patch.append((known, evidence, data))
        elif kind == "patch-os":
            os_[data["device"]] = (data["state"], known)

    def stale(state: str, evidence: datetime) -> str:
        return "STALE" if end - evidence > STALE_AFTER else state

    devices: dict[str, str] = {}
    episodes: dict[tuple[str, str], bool] = {}  # (device, feature) -> open
    for evidence, status, data in drift:
        devices[data["device"]] = stale(status, evidence)
        for f in data["features"]:
            k = (data["device"], f["feature"])
            if f["status"] == "drift":
                episodes[k] = True
            elif f["status"] == "compliant" and k in episodes:
                episodes[k] = False
    hosts: dict[str, tuple[str, dict[str, Any], datetime]] = {}
    updates: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (host, package) -> its episodes
    for _, evidence, data in patch:
        name = data["host"]
        hosts[name] = (stale(data["state"], evidence), data, evidence)
        comp = data.get("compliance") or {}
        if not comp.get("packages") and data["state"] in ("UNREACHABLE", "FAILED"):
            continue  # says nothing about the packages
        released = {n: u.get("released") for n, u in ((data.get("scan") or {}).get("updates") or {}).items()}
        out = {p["name"]: p for p in comp.get("packages") or () if p["state"] in NOT_IN_EFFECT}
        for (host, pkg), eps in updates.items():
            if host == name and eps[-1]["fixed"] is None and pkg not in out:
                eps[-1]["fixed"] = evidence
        for pkg, p in out.items():
            if p.get("classification") != "security":
                continue
            eps = updates.setdefault((name, pkg), [])
            if not eps or eps[-1]["fixed"] is not None:
                day = _when(released.get(pkg))
                eps.append({"available": min(day, evidence) if day else evidence, "fixed": None})
    missing = {}
    for name, (state, data, _) in hosts.items():
        if state == "STALE":
            continue
        for p in (data.get("compliance") or {}).get("packages") or ():
            if p["state"] in NOT_IN_EFFECT and (p.get("classification") == "security" or (name, p["name"]) in updates):
                ep = updates[(name, p["name"])][-1]
                missing[(name, p["name"])] = round((end - ep["available"]).total_seconds() / 86400, 1)
    for name in NETWORK - set(devices):
        devices[name] = "NO_EVIDENCE"
    host_states = {n: s for n, (s, _, _) in hosts.items()}
    for name in set(ACME_SERVERS) - set(host_states):
        host_states[name] = "NO_EVIDENCE"
    os_states = {d: stale(s, k) for d, (s, k) in os_.items()}
    for name in NETWORK - set(os_states):
        os_states[name] = "NO_EVIDENCE"
    return {"drift": devices, "patches": host_states, "os": os_states,
            "open_drifts": sum(episodes.values()), "missing": missing,
            "patch_episodes": [(h, p, e["available"], e["fixed"]) for (h, p), eps in updates.items() for e in eps]}


def score(states: dict[str, str]) -> float | None:
    good = sum(1 for s in states.values() if s in ("compliant", "COMPLIANT"))
    return round(100.0 * good / len(states), 1) if states else None


# -- the JSON report ---------------------------------------------------------------------------------

def test_the_json_report_is_valid_against_its_schema(ran: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        json.loads(ran["texts"]["json"]))


def test_the_json_reports_figures_are_the_raw_records_figures(ran: dict[str, Any]) -> None:
    rep = json.loads(ran["texts"]["json"])
    start, end = _when(rep["period"]["from"]), _when(rep["period"]["to"])
    assert start is not None and end is not None
    raw = raw_figures(ran["records"], end)
    for area in ("drift", "patches", "os"):
        got = rep["summary"][area]
        assert {k: v for k, v in got["counts"].items() if v} == dict(Counter(raw[area].values())), area
        assert (got["total"], got["score"]) == (len(raw[area]), score(raw[area])), area
    rows = {"drift": rep["configuration"]["devices"], "patches": rep["patches"]["hosts"], "os": rep["os"]["devices"]}
    for area, items in rows.items():
        assert {r["name"]: r["state"] for r in items} == raw[area], area
    # what the lab seeded: acme's three devices drift, its servers miss security updates, one IOS is old
    assert raw["drift"] == dict.fromkeys(NETWORK, "drift")
    assert raw["os"]["acme-core-sw1"] == "NON_COMPLIANT"
    assert rep["summary"]["open_drifts"] == raw["open_drifts"] > 0
    assert sum(1 for d in rep["configuration"]["drifts"] if d["open"]) == raw["open_drifts"]
    got_missing = {(m["host"], m["package"]): m["days_available"] for m in rep["patches"]["missing_security"]}
    assert got_missing == raw["missing"]
    assert rep["summary"]["missing_security_updates"] == len(raw["missing"]) > 0
    per_host = Counter(h for h, _ in raw["missing"])
    for h in rep["patches"]["hosts"]:
        assert h["security_updates_not_in_effect"] == per_host.get(h["name"], 0), h["name"]
    # the window put the first scan's updates in effect: those episodes are in the patch SLA, met
    sla, days = rep["sla"]["patch"], timedelta(days=rep["sla"]["patch"]["days"])
    eligible = [(a, f) for _, _, a, f in raw["patch_episodes"]
                if (f is not None and start <= f <= end) or (a + days <= end and (f is None or f >= start))]
    assert any(f is not None for _, f in eligible)
    met = sum(1 for a, f in eligible if f is not None and f <= a + days)
    assert (sla["eligible"], sla["met"]) == (len(eligible), met)


# -- Markdown and HTML -------------------------------------------------------------------------------

def _summary_of_json(rep: dict[str, Any]) -> dict[str, Any]:
    s = rep["summary"]
    return {"areas": [(s[a]["score"], s[a]["total"], {k: v for k, v in s[a]["counts"].items() if v})
                      for a in ("drift", "patches", "os")],
            "open_drifts": s["open_drifts"], "missing": s["missing_security_updates"], "breaches": s["sla_breaches"]}


def _pct(text: str) -> float | None:
    text = text.strip()
    return None if text == "n/a" else float(text.removesuffix("%").strip())


def test_the_markdown_report_shows_the_same_summary(ran: dict[str, Any]) -> None:
    rep = json.loads(ran["texts"]["json"])
    raw = raw_figures(ran["records"], datetime.fromisoformat(rep["period"]["to"]))
    text = ran["texts"]["md"]
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    table = [line for line in summary.splitlines() if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    areas = []
    for line in table[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        counts = {h.replace("\\_", "_"): int(c) for h, c in zip(header[3:], cells[3:], strict=True) if c and c != "0"}
        areas.append((_pct(cells[1]), int(cells[2]), counts))
    m = re.search(r"Open drifts: (\d+); security updates not in effect: (\d+); SLA breaches: (\d+)", summary)
    assert m is not None, summary
    got = {"areas": areas, "open_drifts": int(m[1]), "missing": int(m[2]), "breaches": int(m[3])}
    assert got == _summary_of_json(rep)
    assert areas == [(score(raw[a]), len(raw[a]), dict(Counter(raw[a].values()))) for a in ("drift", "patches", "os")]


class _Summary(HTMLParser):
    """The HTML report's summary section: each area's score, total and counts by state, and the
    summary's figures (data-field / data-state attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.scores: list[str] = []
        self.totals: list[str] = []
        self.counts: list[dict[str, int]] = []
        self.fields: dict[str, str] = {}
        self._field: str | None = None
        self._state: str | None = None
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._in_summary = a.get("id") == "summary"
        if not self._in_summary:
            return
        self._field = a.get("data-field")
        self._state = a.get("data-state")
        if self._field == "total":
            self.counts.append({})

    def handle_data(self, data: str) -> None:
        if not self._in_summary or not data.strip():
            return
        if self._field == "score":
            self.scores.append(data.strip())
        elif self._field == "total":
            self.totals.append(data.strip())
        elif self._field:
            self.fields[self._field] = data.strip()
        elif self._state:
            state, n = data.strip().rsplit(" ", 1)
            assert state == self._state
            self.counts[-1][state] = int(n)
        self._field = self._state = None


def test_the_html_report_shows_the_same_summary(ran: dict[str, Any]) -> None:
    rep = json.loads(ran["texts"]["json"])
    raw = raw_figures(ran["records"], datetime.fromisoformat(rep["period"]["to"]))
    p = _Summary()
    p.feed(ran["texts"]["html"])
    areas = [(_pct(s), int(t), {k: v for k, v in c.items() if v})
             for s, t, c in zip(p.scores, p.totals, p.counts, strict=True)]
    got = {"areas": areas, "open_drifts": int(p.fields["open-drifts"]), "missing": int(p.fields["missing-security"]),
           "breaches": int(p.fields["sla-breaches"])}
    assert got == _summary_of_json(rep)
    assert areas == [(score(raw[a]), len(raw[a]), dict(Counter(raw[a].values()))) for a in ("drift", "patches", "os")]
    assert int(p.fields["open-drifts"]) == raw["open_drifts"]
    assert int(p.fields["missing-security"]) == len(raw["missing"])
