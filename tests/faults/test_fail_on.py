"""`--fail-on`, which scheduled CI jobs branch on (issue 9 §10): every value of `drift --fail-on`,
`patch scan --fail-on` and `patch os --fail-on`, against lab states with findings only, with a
failed (dropped or unreachable) target too, and with every target compliant.

The rule for each command (its --help): a failed target gives 3 (and wins over findings),
findings give 4, only with the strictest value; `failure` looks at failed targets alone;
`never` is 0 whatever the targets showed. The run is reported and recorded in every case."""

from __future__ import annotations

import json

import pytest

from lab.devices.control import ControlClient
from mspctl.errors import ExitCode

pytestmark = pytest.mark.faults

OK, PARTIAL, FINDINGS, NOTHING = ExitCode.OK, ExitCode.PARTIAL, ExitCode.FINDINGS, ExitCode.NOTHING_CHECKED


def _by(res, key: str, name: str = "device") -> dict[str, dict]:
    return {d[name]: d for d in json.loads(res.stdout)[key]}


# -- drift: initech-rtr1 carries seeded drift (snmp), initech-sw1 is compliant ---------------------

def test_drift_fail_on_with_drift_only(net) -> None:
    expected = {"drift": FINDINGS, "failure": OK, "never": OK}
    for value, code in expected.items():
        res = net("drift", "-c", "initech", "--fail-on", value, "-o", "json")
        assert res.exit_code == code, (value, res.output)
        devices = _by(res, "devices")
        assert (devices["initech-rtr1"]["status"], devices["initech-sw1"]["status"]) == ("drift", "compliant")


def test_drift_fail_on_with_every_device_compliant(net) -> None:
    for value in ("drift", "failure", "never"):
        res = net("drift", "-c", "initech", "-l", "initech-sw1", "--fail-on", value, "-o", "json")
        assert res.exit_code == OK, (value, res.output)
        assert [d["status"] for d in _by(res, "devices").values()] == ["compliant"]


def test_drift_fail_on_with_a_device_that_drops_its_session_and_drift_on_another(net, lab_network) -> None:
    ControlClient(lab_network.control).set_knobs("initech-sw1", drop_after=1)
    expected = {"drift": PARTIAL, "failure": PARTIAL, "never": OK}
    for value, code in expected.items():
        res = net("drift", "-c", "initech", "--fail-on", value, "-o", "json")
        assert res.exit_code == code, (value, res.output)
        devices = _by(res, "devices")
        assert devices["initech-sw1"]["status"] == "failed" and devices["initech-sw1"]["error"]
        assert devices["initech-rtr1"]["status"] == "drift"  # audited all the same
    # failed alone, nothing drifted: `failure` and `drift` both say 3, `never` 0
    for value, code in expected.items():
        res = net("drift", "-c", "initech", "-l", "initech-sw1", "--fail-on", value)
        assert res.exit_code == code, (value, res.output)


def test_drift_fail_on_when_nothing_was_audited(net) -> None:
    """acme-fw1 (offline in NetBox, Junos: no template) alone: every device skipped."""
    for value, code in {"drift": NOTHING, "failure": NOTHING, "never": OK}.items():
        res = net("drift", "-c", "acme", "--status", "offline", "--fail-on", value)
        assert res.exit_code == code, (value, res.output)
        assert "0 compliant, 0 drifted, 0 failed, 1 skipped" in res.output and "skipped" in res.stdout


def test_drift_fail_on_never_still_records_the_run(net) -> None:
    res = net("drift", "-c", "initech", "--fail-on", "never", "-o", "json")
    assert res.exit_code == OK
    run_id = json.loads(res.stdout)["run_id"]
    shown = json.loads(net("runs", "show", run_id, "-o", "json").stdout)
    assert shown["summary"]["drift"] == 1 and shown["summary"]["compliant"] == 1


# -- patch os: acme-core-sw1 runs an unapproved IOS XE, acme-dist-sw1 and acme-edge-rtr1 are approved --

def test_patch_os_fail_on_each_value(net, lab_network) -> None:
    states = {
        "findings": (("-c", "acme"), {"noncompliant": FINDINGS, "failure": OK, "never": OK}),
        "compliant": (("-c", "acme", "-l", "acme-dist-sw1,acme-edge-rtr1"),
                      {"noncompliant": OK, "failure": OK, "never": OK}),
    }
    for what, (scope, expected) in states.items():
        for value, code in expected.items():
            res = net("patch", "os", *scope, "--fail-on", value, "-o", "json")
            assert res.exit_code == code, (what, value, res.output)
    ControlClient(lab_network.control).set_knobs("acme-dist-sw1", bad_credentials=True)
    for value, code in {"noncompliant": PARTIAL, "failure": PARTIAL, "never": OK}.items():
        res = net("patch", "os", "-c", "acme", "--fail-on", value, "-o", "json")
        assert res.exit_code == code, (value, res.output)
        devices = _by(res, "devices")
        assert devices["acme-dist-sw1"]["state"] == "FAILED"
        assert devices["acme-core-sw1"]["state"] == "NON_COMPLIANT"  # a finding too: the failure wins


# -- patch scan: the host lab's acme servers (acme-backup01 non-compliant, acme-db01 compliant) --------

def test_patch_scan_fail_on_with_findings_and_with_every_host_compliant(patch, lab_servers) -> None:
    lab_servers.reset()
    states = {
        "findings": ("acme-backup01,acme-db01", {"noncompliant": FINDINGS, "failure": OK, "never": OK}),
        "compliant": ("acme-db01", {"noncompliant": OK, "failure": OK, "never": OK}),
    }
    for what, (limit, expected) in states.items():
        for value, code in expected.items():
            res = patch("patch", "scan", "-c", "acme", "-l", limit, "--fail-on", value, "-o", "json")
            assert res.exit_code == code, (what, value, res.output)
            hosts = _by(res, "hosts", "host")
            assert hosts["acme-db01"]["state"] == "COMPLIANT"
            if what == "findings":
                assert hosts["acme-backup01"]["state"] == "NON_COMPLIANT"


def test_patch_scan_fail_on_with_an_unreachable_host(patch, lab_servers) -> None:
    lab_servers.reset()  # the seeded packages: acme-backup01 has findings whatever ran before
    lab_servers.run("cut", "h2")  # acme-web01 goes dark
    try:
        for value, code in {"noncompliant": PARTIAL, "failure": PARTIAL, "never": OK}.items():
            res = patch("patch", "scan", "-c", "acme", "-l", "acme-web01,acme-backup01", "--fail-on", value,
                        "-o", "json")
            assert res.exit_code == code, (value, res.output)
            hosts = _by(res, "hosts", "host")
            assert hosts["acme-web01"]["state"] == "UNREACHABLE"
            assert hosts["acme-backup01"]["state"] == "NON_COMPLIANT"  # a finding too: the failure wins
    finally:
        lab_servers.run("restore", "h2")
