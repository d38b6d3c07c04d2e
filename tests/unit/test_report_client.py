"""The client report's figures from hand-made run records (mspctl.reports.client, .evidence,
.exceptions, .formats): each expected figure is worked out here from the records the test wrote."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mspctl.history.model import ChainReport, RunRecord
from mspctl.model import Asset
from mspctl.reports import formats
from mspctl.reports.client import ReportInput, SlaPolicy, build
from mspctl.reports.evidence import state_at, timeline
from mspctl.reports.exceptions import ExceptionsFileError, RiskException, load_exceptions
from mspctl.settings import load_settings

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CHAIN = ChainReport(True, 3, "ab" * 32)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def drift_run(at: datetime, devices: dict[str, dict[str, str] | str], client: str = "acme") -> RunRecord:
    """`devices`: key -> {feature: compliant|drift} (a comparison), or a status (failed)."""
    results: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, feats in devices.items():
        name = f"dev{key.split(':')[1]}"
        if isinstance(feats, str):
            results[key] = (feats, {"device": name, "id": key, "client": client, "status": feats, "features": [],
                                    "evidence_at": None, "error": "connection refused"})
            continue
        status = "drift" if "drift" in feats.values() else "compliant"
        results[key] = (status, {"device": name, "id": key, "client": client, "status": status, "source": "live",
                                 "evidence_at": at.isoformat(),
                                 "features": [{"feature": f, "status": s,
                                               "missing": [f"{f} line"] if s == "drift" else [], "extra": []}
                                              for f, s in feats.items()]})
    return RunRecord(f"drift-{at:%Y%m%dT%H%M%S}-{len(devices)}", "drift", at - timedelta(minutes=1), at,
                     {"source": "live"}, {}, results)


def patch_run(at: datetime, hosts: dict[str, tuple[str, list[tuple[str, str]]]], client: str = "acme",
              released: datetime | None = None) -> RunRecord:
    """`hosts`: name -> (host state, [(package, package state)]); every package a security update."""
    results: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, (state, pkgs) in sorted(hosts.items()):
        results[name] = (state, {
            "host": name, "name": name, "client": client, "kind": "vm", "id": 100 + int(name[4:]), "state": state,
            "baseline": "debian-security@1",
            "compliance": {"state": state, "scanned_at": at.isoformat(), "baseline": "debian-security@1",
                           "packages": [{"name": p, "state": s, "installed": "1", "required": "2",
                                         "classification": "security"} for p, s in pkgs]},
            "scan": {"scanned_at": at.isoformat(), "reachable": state != "UNREACHABLE",
                     "updates": {p: {"released": (released or at).date().isoformat()} for p, _ in pkgs}}})
    return RunRecord(f"patch-scan-{at:%Y%m%dT%H%M%S}", "patch-scan", at - timedelta(minutes=1), at, {}, {}, results)


def inp(start: datetime, end: datetime, **kw: Any) -> ReportInput:
    base: dict[str, Any] = {
        "client": "acme", "client_name": "Acme", "start": start, "end": end, "generated_at": end,
        "stale_after": timedelta(days=7), "policy": SlaPolicy("gold", 7, 2), "repository_version": "git:" + "0" * 40,
        "chain": CHAIN}
    base.update(kw)
    return ReportInput(**base)


def test_drift_episodes_mttr_and_sla() -> None:
    records = [
        drift_run(day(1), {"device:1": {"ntp": "drift", "dns": "compliant"}, "device:2": {"ntp": "drift"}}),
        drift_run(day(2), {"device:1": {"ntp": "drift", "dns": "compliant"}, "device:2": {"ntp": "compliant"}}),
        drift_run(day(4), {"device:1": {"ntp": "compliant", "dns": "drift"}, "device:2": {"ntp": "compliant"}}),
    ]
    report = build(records, inp(day(0), day(5))).to_dict()
    drifts = {(d["target"], d["feature"]): d for d in report["configuration"]["drifts"]}
    assert set(drifts) == {("device:1", "ntp"), ("device:2", "ntp"), ("device:1", "dns")}
    assert drifts[("device:1", "ntp")]["fixed_at"] == day(4).isoformat()  # 3 days
    assert drifts[("device:2", "ntp")]["fixed_at"] == day(2).isoformat()  # 1 day
    assert drifts[("device:1", "dns")]["open"] is True
    # MTTR over the two fixed episodes: (3 d + 1 d) / 2 = 48 h
    assert report["configuration"]["mttr_hours"] == 48.0
    assert report["configuration"]["fixed_in_period"] == 2
    # SLA 2 days: device:2 met (1 d), device:1 ntp breached (3 d); the open dns drift (found day 4)
    # is due on day 6, after the period: not counted yet
    sla = report["sla"]["drift"]
    assert (sla["eligible"], sla["met"], sla["share"]) == (2, 1, 50.0)
    assert [(b["target"], b["feature"]) for b in sla["breaches"]] == [("device:1", "ntp")]
    assert report["summary"]["open_drifts"] == 1


def test_an_open_drift_past_its_due_date_is_a_breach() -> None:
    records = [drift_run(day(1), {"device:1": {"ntp": "drift"}}), drift_run(day(5), {"device:1": {"ntp": "drift"}})]
    sla = build(records, inp(day(0), day(6))).to_dict()["sla"]["drift"]
    assert (sla["eligible"], sla["met"]) == (1, 0)
    assert sla["breaches"][0]["fixed"] is None and sla["breaches"][0]["days"] == 5.0


def test_counts_add_up_and_nothing_folds_into_compliant() -> None:
    records = [
        drift_run(day(1), {"device:1": {"ntp": "compliant"}}),  # stale by day 10
        drift_run(day(9), {"device:2": {"ntp": "compliant"}, "device:3": "failed"}),
        patch_run(day(9), {"host1": ("COMPLIANT", []),
                           "host2": ("PENDING_REBOOT", [("openssl", "INSTALLED_PENDING_REBOOT")]),
                           "host3": ("UNREACHABLE", []), "host4": ("NON_COMPLIANT", [("curl", "MISSING")])}),
    ]
    devices = [("device:1", "dev1"), ("device:2", "dev2"), ("device:3", "dev3"), ("device:4", "dev4")]
    hosts = [("vm:101", "host1"), ("vm:102", "host2"), ("vm:103", "host3"), ("vm:104", "host4"), ("vm:105", "host5")]
    report = build(records, inp(day(0), day(10), network_devices=devices, patch_hosts=hosts)).to_dict()
    d = report["summary"]["drift"]
    assert d["total"] == 4 == sum(d["counts"].values())
    assert (d["counts"]["compliant"], d["counts"]["STALE"], d["counts"]["failed"], d["counts"]["NO_EVIDENCE"]) == \
        (1, 1, 1, 1)
    assert d["score"] == 25.0
    p = report["summary"]["patches"]
    assert p["total"] == 5 == sum(p["counts"].values())
    assert {k: v for k, v in p["counts"].items() if v} == {"COMPLIANT": 1, "PENDING_REBOOT": 1, "UNREACHABLE": 1,
                                                          "NON_COMPLIANT": 1, "NO_EVIDENCE": 1}
    assert p["score"] == 20.0
    # a pending reboot is not in effect: both updates are still missing, each listed
    missing = {(m["host"], m["package"]) for m in report["patches"]["missing_security"]}
    assert missing == {("host2", "openssl"), ("host4", "curl")}


def test_security_update_sla_counts_from_release() -> None:
    released = day(0)
    records = [
        patch_run(day(2), {"host1": ("NON_COMPLIANT", [("openssl", "MISSING")]),
                           "host2": ("NON_COMPLIANT", [("openssl", "MISSING")])}, released=released),
        patch_run(day(5), {"host1": ("COMPLIANT", [("openssl", "INSTALLED")]),
                           "host2": ("NON_COMPLIANT", [("openssl", "MISSING")])}, released=released),
        patch_run(day(10), {"host1": ("COMPLIANT", [("openssl", "INSTALLED")]),
                            "host2": ("COMPLIANT", [("openssl", "INSTALLED")])}, released=released),
    ]
    report = build(records, inp(day(0), day(11))).to_dict()
    sla = report["sla"]["patch"]
    # 7 days from release (day 0): host1 in effect on day 5 (met), host2 on day 10 (breach)
    assert (sla["eligible"], sla["met"], sla["share"]) == (2, 1, 50.0)
    assert sla["breaches"][0]["name"] == "host2" and sla["breaches"][0]["availability"] == "released"
    assert sla["breaches"][0]["days"] == 10.0
    assert report["patches"]["missing_security"] == []


def test_days_available_uses_the_release_date() -> None:
    records = [patch_run(day(3), {"host1": ("NON_COMPLIANT", [("openssl", "MISSING")])}, released=day(1))]
    (m,) = build(records, inp(day(0), day(4))).to_dict()["patches"]["missing_security"]
    assert m["available_since"] == day(1).isoformat() and m["days_available"] == 3.0 and m["availability"] == "released"


def test_exceptions_show_as_excepted_and_expired_ones_are_findings() -> None:
    records = [drift_run(day(1), {"device:1": {"ntp": "drift"}, "device:2": {"snmp": "drift"}}),
               patch_run(day(1), {"host1": ("NON_COMPLIANT", [("openssl", "MISSING")])})]
    risks = [RiskException("acme", "dev1", "vendor case", "CISO", date(2026, 12, 31), feature="ntp"),
             RiskException("acme", "dev2", "old", "CISO", date(2026, 11, 1), feature="snmp"),  # expired
             RiskException("acme", "*", "legacy app", "CISO", date(2027, 1, 1), package="openssl")]
    report = build(records, inp(day(0), day(2), exceptions=risks)).to_dict()
    rows = {r["target"]: r for r in report["configuration"]["devices"]}
    assert rows["device:1"]["state"] == "excepted" and rows["device:1"]["features"] == {"ntp": "excepted"}
    assert rows["device:2"]["state"] == "drift"  # its exception expired: a finding again
    d = report["summary"]["drift"]
    assert (d["counts"]["excepted"], d["counts"]["compliant"], d["excepted"], d["score"]) == (1, 0, 1, 0.0)
    assert report["summary"]["expired_exceptions"] == 1
    assert [e["target"] for e in report["exceptions"]["expired"]] == ["dev2"]
    assert report["summary"]["patches"]["counts"]["EXCEPTED"] == 1
    assert report["summary"]["patches"]["score"] is None  # the only host is excepted
    assert report["patches"]["missing_security"][0]["excepted"] is True
    assert report["summary"]["missing_security_updates"] == 0


def test_exceptions_file_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "exceptions.yml"
    f.write_text("exceptions:\n  - client: acme\n    target: dev1\n    feature: ntp\n    reason: r\n"
                 "    approved_by: me\n    expires: 2026-12-31\n"
                 "  - client: acme\n    target: dev2\n    reason: r\n    approved_by: me\n    expires: soon\n"
                 "    package: openssl\n")
    with pytest.raises(ExceptionsFileError) as exc:
        load_exceptions(f)
    assert exc.value.message.startswith(f"{f}:12:") and exc.value.code == "MSP-EXC-422"
    f.write_text("exceptions:\n  - client: acme\n    target: dev1\n    reason: r\n    approved_by: me\n"
                 "    expires: 2026-12-31\n")
    with pytest.raises(ExceptionsFileError, match=rf"{f}:2: exception: give exactly one of feature or package"):
        load_exceptions(f)
    f.write_text("exceptions:\n  - client: acme\n    target: dev1\n    feature: ntp\n    reason: r\n"
                 "    approved_by: me\n    expires: 2026-12-31\n    colour: red\n")
    with pytest.raises(ExceptionsFileError, match=rf"{f}:8: exception: unknown key 'colour'"):
        load_exceptions(f)
    f.write_text("exceptions:\n  - client: acme\n    target: dev1\n    feature: ntp\n    reason: r\n"
                 "    approved_by: me\n    expires: 2026-12-31\n")
    (x,) = load_exceptions(f, {"acme": "acme-tenant"})
    assert (x.client, x.expires, x.source) == ("acme-tenant", date(2026, 12, 31), f"{f}:2")


def test_state_at_is_the_newest_evidence_by_then_and_stale_later() -> None:
    records = [drift_run(day(1), {"device:1": {"ntp": "drift"}}), drift_run(day(3), {"device:1": {"ntp": "compliant"}})]
    tl = timeline(records, "acme")
    week = timedelta(days=7)
    assert state_at(tl, day(0.5), week).devices == []  # nothing known yet
    assert state_at(tl, day(2), week).devices[0].state == "drift"
    assert state_at(tl, day(3), week).devices[0].state == "compliant"
    later = state_at(tl, day(11), week).devices[0]
    assert later.state == "STALE" and later.features == {"ntp": "compliant"}
    assert state_at(tl, day(2), week, [("device:9", "dev9")]).devices[1].state == "NO_EVIDENCE"


def test_trends_one_value_per_day_none_before_evidence() -> None:
    records = [drift_run(day(2.5), {"device:1": {"ntp": "drift"}, "device:2": {"ntp": "compliant"}}),
               drift_run(day(3.5), {"device:1": {"ntp": "compliant"}, "device:2": {"ntp": "compliant"}})]
    trends = build(records, inp(day(0), day(5))).to_dict()["trends"]
    assert [t["date"] for t in trends] == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert [t["drift"] for t in trends] == [None, None, 50.0, 100.0, 100.0]


def test_other_clients_records_are_not_counted() -> None:
    records = [drift_run(day(1), {"device:1": {"ntp": "drift"}}, client="globex")]
    report = build(records, inp(day(0), day(2))).to_dict()
    assert report["summary"]["drift"]["total"] == 0 and report["runs"] == []


def _hostile_report() -> dict[str, Any]:
    records = [drift_run(day(1), {"device:1": {"ntp": "drift"}})]
    asset = Asset("device", 1, "<script>alert(1)</script>", "acme", site="=HYPERLINK(\"http://x\")", serial="S1")
    return build(records, inp(day(0), day(2), assets=[asset], names={"device:1": "<script>alert(1)</script>\nx"},
                              network_devices=[("device:1", "<script>alert(1)</script>\nx")])).to_dict()


def test_html_is_self_contained_and_escapes_netbox_names() -> None:
    html = formats.render_html(_hostile_report())
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;\\nx" in html
    # the only URLs: the SVG namespace, and the hostile site name shown as text
    assert html.count("http://") == html.count("http://www.w3.org/2000/svg") + html.count("HYPERLINK(&#34;http://x")
    assert "<link" not in html and "src=" not in html and "@import" not in html
    for anchor, _ in formats.sections():
        assert f'id="{anchor}"' in html


def test_csv_cells_never_run_as_formulas_and_markdown_escapes() -> None:
    report = _hostile_report()
    tables = formats.csv_tables(report)
    assert "'=HYPERLINK" in tables["assets.csv"]
    assert set(tables) >= {"summary.csv", "devices.csv", "drifts.csv", "hosts.csv", "sla_breaches.csv", "trends.csv"}
    md = formats.render_markdown(report)
    assert "<script>" not in md and "\\<script\\>" in md


def test_the_json_report_matches_its_schema() -> None:
    schema = json.loads(formats.SCHEMA.read_text())
    report = build([drift_run(day(1), {"device:1": {"ntp": "drift"}}),
                    patch_run(day(1), {"host1": ("NON_COMPLIANT", [("openssl", "MISSING")])})],
                   inp(day(0), day(2))).to_dict()
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(report)
    report["summary"]["drift"]["score"] = 101
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(report)


def test_sla_tiers_from_settings(tmp_path: Path) -> None:
    f = tmp_path / "mspctl.toml"
    f.write_text("[sla]\npatch_days = 10\n\n[sla.tiers.platinum]\npatch_days = 3\ndrift_days = 1\n")
    s = load_settings(f, env={})
    assert s.sla.for_tier("platinum") == ("platinum", 3, 1)
    assert s.sla.for_tier("gold") == ("gold", 7, 2)  # the built-in tiers stay
    assert s.sla.for_tier(None) == ("default", 10, 7)
    f.write_text("[sla.tiers.platinum]\npatch_days = 3\nfix_days = 1\n")
    from mspctl.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"{f}:3: unknown key sla.tiers.platinum.fix_days"):
        load_settings(f, env={})


def test_metrics_count_sla_breaches_as_the_report_does() -> None:
    from mspctl.metrics import compute

    now = day(10)
    records = [drift_run(day(1), {"device:1": {"ntp": "drift"}, "device:2": {"ntp": "drift"}}),
               drift_run(day(2), {"device:1": {"ntp": "drift"}, "device:2": {"ntp": "compliant"}}),
               patch_run(day(1), {"host1": ("NON_COMPLIANT", [("openssl", "MISSING")])}, released=day(0))]
    gold = SlaPolicy("gold", 7, 2)
    m = compute(records, CHAIN, now=now, stale_after=timedelta(days=30), policies={"acme": gold})
    report = build(records, inp(now - timedelta(days=30), now, policy=gold)).to_dict()["sla"]
    expected = {("acme", a): float(len(report[a]["breaches"])) for a in ("patch", "drift")}
    assert m.family("mspctl_sla_breaches").samples == expected == {("acme", "patch"): 1.0, ("acme", "drift"): 1.0}
    # no policy known, no default: no SLA series rather than zeros
    assert compute(records, CHAIN, now=now, stale_after=timedelta(days=30)).family("mspctl_sla_breaches").samples == {}
