"""`drift --source backup` against the lab, with devices changed after their backup (issue 9 §10):
the audit reports the backup's state, never the live one; the evidence is the backup's commit
time and its age; a device without a backup fails alone with MSP-BAK-404."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from lab.devices.control import ControlClient
from mspctl.errors import ExitCode

pytestmark = pytest.mark.faults

# The backup is committed as if taken on this date: its age is then months, whenever the test runs.
BACKED_UP = "2026-06-01T12:00:00+00:00"
OLD = {"GIT_COMMITTER_DATE": BACKED_UP, "GIT_AUTHOR_DATE": BACKED_UP}
SNMP_CONTACT = "snmp-server contact noc@northwind-msp.example"  # the line lab/network.py removed from initech-rtr1
ROGUE_LOG = "logging host 192.0.2.77"


def _devices(res) -> dict[str, dict]:
    return {d["device"]: d for d in json.loads(res.stdout)["devices"]}


def _drifted(device: dict) -> dict[str, tuple[list[str], list[str]]]:
    return {f["feature"]: (f["missing"], f["extra"]) for f in device["features"] if f["status"] == "drift"}


def _logins(ctl: ControlClient, device: str) -> int:
    counters = ctl.info(device)["counters"]
    return int(counters["logins_ok"]) + int(counters["logins_failed"])


def test_drift_from_a_backup_reports_the_backup_not_the_changed_device(net, lab_network) -> None:
    ctl = ControlClient(lab_network.control)
    backup = net("config", "backup", "-c", "initech", "-o", "json", env=OLD)
    assert backup.exit_code == 0, backup.output
    assert json.loads(backup.stdout)["summary"]["new"] == 2
    # After the backup: initech-rtr1's seeded drift is fixed, initech-sw1 gains a logging host.
    ctl.run("initech-rtr1", "configure terminal", SNMP_CONTACT, "end")
    ctl.run("initech-sw1", "configure terminal", ROGUE_LOG, "end")
    logins = {d: _logins(ctl, d) for d in ("initech-rtr1", "initech-sw1")}

    res = net("drift", "-c", "initech", "--source", "backup", "-o", "json")
    assert res.exit_code == ExitCode.FINDINGS, res.output
    from_backup = _devices(res)
    assert {d: _logins(ctl, d) for d in logins} == logins  # no device was read
    assert from_backup["initech-rtr1"]["status"] == "drift"  # as backed up, before the fix
    assert _drifted(from_backup["initech-rtr1"]) == {"snmp": ([SNMP_CONTACT], [])}
    assert from_backup["initech-sw1"]["status"] == "compliant"  # as backed up, before the rogue line
    now = datetime.now(UTC)
    for d in from_backup.values():
        assert d["source"] == "backup"
        assert datetime.fromisoformat(d["evidence_at"]) == datetime.fromisoformat(BACKED_UP)
        # the age is the backup's, measured at the audit: at least the months since BACKED_UP
        assert d["age_seconds"] >= (now - datetime.fromisoformat(BACKED_UP)).total_seconds() - 3600

    live = _devices(net("drift", "-c", "initech", "-o", "json"))  # the contrast: the devices as they are now
    assert live["initech-rtr1"]["status"] == "compliant"
    assert _drifted(live["initech-sw1"]) == {"logging": ([], [ROGUE_LOG])}
    assert {d["source"] for d in live.values()} == {"live"}

    table = net("drift", "-c", "initech", "--source", "backup")
    assert table.exit_code == ExitCode.FINDINGS
    ages = [int(a) for a in re.findall(r"\bbackup (\d+)s\b", table.stdout)]
    assert len(ages) == 2 and min(ages) > 86400, table.stdout  # shown, and months old


def test_a_device_without_a_backup_fails_alone_with_its_documented_error(net, lab_network) -> None:
    ctl = ControlClient(lab_network.control)
    assert net("config", "backup", "-c", "initech", "-l", "initech-rtr1").exit_code == 0
    logins = _logins(ctl, "initech-sw1")
    res = net("drift", "-c", "initech", "--source", "backup", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL, res.output  # a failed device wins over drift
    devices = _devices(res)
    sw1 = devices["initech-sw1"]
    assert (sw1["status"], sw1["error_code"], sw1["source"]) == ("failed", "MSP-BAK-404", "backup")
    assert sw1["error"].startswith("no backup of initech-sw1 in ")
    assert _logins(ctl, "initech-sw1") == logins  # not read live instead
    rtr1 = devices["initech-rtr1"]  # the other device is still audited, from its backup
    assert rtr1["status"] == "drift" and _drifted(rtr1) == {"snmp": ([SNMP_CONTACT], [])}
    assert rtr1["source"] == "backup" and rtr1["age_seconds"] is not None
    # the run record keeps both results
    run_id = json.loads(res.stdout)["run_id"]
    shown = json.loads(net("runs", "show", run_id, "-o", "json").stdout)
    statuses = sorted(r["status"] for r in shown["results"].values())
    assert statuses == ["drift", "failed"]
