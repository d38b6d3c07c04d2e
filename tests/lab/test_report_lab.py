"""`mspctl report` and `mspctl status` from the real CLI against the lab: real drift audits of
acme's simulated devices, then the reports, the MSP-wide index, point-in-time state and accepted
risks from an MSP repository's own exceptions file."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from mspctl.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]


def _drift(net) -> dict:
    res = net("drift", "-c", "acme", "-o", "json")
    assert res.exit_code == ExitCode.FINDINGS, res.output  # the lab seeds drift on every acme device
    return json.loads(res.stdout)


def test_status_at_a_moment_shows_what_the_records_showed_then(net, lab_network, tmp_path: Path):
    before = datetime.now(UTC)
    res = net("status", "-c", "acme", "--at", before.isoformat(), "-o", "json")
    assert res.exit_code == ExitCode.NOTHING_CHECKED, res.output  # no record yet: nothing checked, not compliant
    assert {d["state"] for d in json.loads(res.stdout)["devices"]} == {"NO_EVIDENCE"}

    run = _drift(net)
    drifted = {d["id"]: d for d in run["devices"]}
    now = net("status", "-c", "acme", "-o", "json")
    assert now.exit_code == ExitCode.FINDINGS, now.output
    state = json.loads(now.stdout)
    assert {d["target"]: d["state"] for d in state["devices"]} == {k: d["status"] for k, d in drifted.items()}
    for d in state["devices"]:
        assert d["features"] == {f["feature"]: f["status"] for f in drifted[d["target"]]["features"]}
        assert d["run_id"] == run["run_id"] and d["age_seconds"] >= 0
    # the moment before the audit still shows no evidence; a moment 30 days on shows it STALE
    then = json.loads(net("status", "-c", "acme", "--at", before.isoformat(), "-o", "json").stdout)
    assert {d["state"] for d in then["devices"]} == {"NO_EVIDENCE"}
    later = (datetime.fromisoformat(run["finished_at"]).replace(year=2100)).isoformat()
    stale = json.loads(net("status", "-c", "acme", "--at", later, "-o", "json").stdout)
    assert {d["state"] for d in stale["devices"]} == {"STALE"}
    table = net("status", "-c", "acme")
    for d in state["devices"]:
        assert d["name"] in table.stdout  # names mspctl prints, given back by -l elsewhere


def test_report_formats_and_the_all_clients_index(net, lab_network, tmp_path: Path):
    run = _drift(net)
    out = tmp_path / "reports"
    res = net("report", "--all-clients", "--format", "json", "--out", str(out))
    # globex and initech have no record: their reports are written and say NO_EVIDENCE (exit 7)
    assert res.exit_code == ExitCode.NOTHING_CHECKED, res.output
    index = json.loads((out / "index.json").read_text())
    ranked = [e["client"] for e in index["clients"]]
    assert set(ranked) == {"acme", "globex", "initech"}
    acme_entry = next(e for e in index["clients"] if e["client"] == "acme")
    acme = json.loads((out / acme_entry["file"]).read_text())
    assert acme["summary"]["drift"]["counts"]["drift"] == sum(d["status"] == "drift" for d in run["devices"])
    assert run["run_id"] in {r["id"] for r in acme["runs"]}
    html = (out / "index.html").read_text()
    assert acme_entry["file"] in html and "Acme" in html
    for client in ("globex", "initech"):
        entry = next(e for e in index["clients"] if e["client"] == client)
        other = json.loads((out / entry["file"]).read_text())
        assert other["runs"] == [] and other["summary"]["drift"]["counts"]["compliant"] == 0

    one = tmp_path / "acme.md"
    res = net("report", "-c", "acme", "--format", "md", "--out", str(one))
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(one)
    text = one.read_text()
    assert text.startswith("# Audit report: Acme") and "## Configuration compliance" in text
    csv_dir = tmp_path / "csv"
    assert net("report", "-c", "acme", "--format", "csv", "--out", str(csv_dir)).exit_code == 0
    assert (csv_dir / "devices.csv").read_text().count("\n") == 1 + len(run["devices"])


def _repo_copy(tmp_path: Path, exceptions: str) -> Path:
    repo = tmp_path / "msp"
    (repo / "inventory").mkdir(parents=True)
    shutil.copy(REPO / "mspctl.toml", repo / "mspctl.toml")
    shutil.copy(REPO / "inventory" / "clients.yml", repo / "inventory" / "clients.yml")
    (repo / "inventory" / "exceptions.yml").write_text(exceptions)
    return repo / "mspctl.toml"


def test_accepted_risks_show_as_excepted_and_a_bad_entry_is_located(net, lab_network, tmp_path: Path):
    run = _drift(net)
    device = next(d for d in run["devices"] if d["status"] == "drift")
    feature = next(f["feature"] for f in device["features"] if f["status"] == "drift")
    others = [f["feature"] for f in device["features"] if f["status"] == "drift" and f["feature"] != feature]
    config = _repo_copy(tmp_path, f"""exceptions:
  - client: acme
    target: {device['device']}
    feature: {feature}
    reason: "change freeze until the new NTP servers are live"
    approved_by: "client CISO"
    expires: 2099-12-31
  - client: acme
    target: "*"
    package: mspdemo-nothing
    reason: old
    approved_by: me
    expires: 2020-01-01
""")
    out = tmp_path / "r.json"
    res = net("--config", str(config), "report", "-c", "acme", "--format", "json", "--out", str(out))
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    row = next(d for d in report["configuration"]["devices"] if d["target"] == device["id"])
    assert row["features"][feature] == "excepted"
    assert row["state"] == ("drift" if others else "excepted")
    assert report["summary"]["expired_exceptions"] == 1
    assert report["exceptions"]["expired"][0]["source"].endswith("exceptions.yml:8")

    bad = _repo_copy(tmp_path / "bad", "exceptions:\n  - client: acme\n    target: x\n    feature: ntp\n"
                                       "    reason: r\n    approved_by: me\n    expires: someday\n")
    res = net("--config", str(bad), "report", "-c", "acme", "--format", "json", "--out", str(tmp_path / "no.json"))
    assert res.exit_code == ExitCode.CONFIG
    assert "MSP-EXC-422" in res.output and "exceptions.yml:7:" in res.output
    assert not (tmp_path / "no.json").exists()
