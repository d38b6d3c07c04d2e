"""Safe push against the lab: dry run, apply with post-check, rollback on failure, windows, undo."""

from __future__ import annotations

import json

from lab.devices.control import ControlClient
from lab.network import EXPECTED_DRIFT
from mspctl.drift.configtext import parse
from mspctl.errors import ExitCode


def _lines(text: str) -> list[tuple[str, ...]]:
    """A config's lines as paths, order-insensitive: a simulator appends where IOS would sort."""
    return sorted(p for line in parse(text) for p in line.paths())


def _run(res) -> dict:
    return json.loads(res.stdout)


def _status(run: dict) -> dict[str, str]:
    return {d["device"]: d["status"] for d in run["devices"]}


def test_dry_run_shows_the_diff_and_changes_nothing(net, lab_network):
    ctl = ControlClient(lab_network.control)
    before = ctl.config("acme-core-sw1")
    res = net("config", "push", "-c", "acme")
    assert res.exit_code == 0, res.output
    assert "--- acme-core-sw1 (acme): would send [ntp]" in res.stdout
    assert "  no ntp server 192.0.2.99\n  ntp server 198.51.100.2" in res.stdout
    assert "dry run: nothing was changed" in res.stderr
    assert ctl.config("acme-core-sw1") == before


def test_apply_fixes_drift_and_post_check_reports_compliant(net, lab_network):
    res = net("config", "push", "-c", "acme", "-c", "initech", "--apply", "--yes", "--force", "-o", "json")
    assert res.exit_code == 0, res.output
    run = _run(res)
    expected = {d for d in EXPECTED_DRIFT if d.startswith(("acme", "initech"))}
    assert {d for d, s in _status(run).items() if s == "applied"} == expected
    assert _status(run)["initech-sw1"] == "compliant"  # nothing to change there
    for d in run["devices"]:
        if d["status"] == "applied":
            assert d["post_check"] and all(p["status"] == "compliant" for p in d["post_check"])
    after = net("drift", "-c", "acme", "-c", "initech")
    assert after.exit_code == 0, after.output  # compliant now
    assert "0 drifted" in after.stderr
    ctl = ControlClient(lab_network.control)
    for device in expected:  # written to memory: startup is the new running config
        assert _lines(ctl.config(device, "startup")) == _lines(ctl.config(device)), device


def test_connection_drop_mid_change_rolls_back_that_device_only(net, lab_network):
    ctl = ControlClient(lab_network.control)
    before = ctl.config("acme-core-sw1")
    ctl.set_knobs("acme-core-sw1", drop_on="^ntp server 198")  # the 2nd of its 2 commands
    res = net("config", "push", "-c", "acme", "--apply", "--yes", "--force", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL
    run = _run(res)
    status = _status(run)
    assert status == {"acme-core-sw1": "rolled_back", "acme-dist-sw1": "applied", "acme-edge-rtr1": "applied"}
    core = next(d for d in run["devices"] if d["device"] == "acme-core-sw1")
    assert "connection lost mid-change" in core["error"]
    assert core["accepted"] == ["no ntp server 192.0.2.99"]  # what reached the device before the drop
    assert core["self_revert"] == "revert-timer"  # restored by its own `configure revert now`
    assert _lines(ctl.config("acme-core-sw1")) == _lines(before)  # as before the push


def test_device_error_rolls_back(net, lab_network):
    ctl = ControlClient(lab_network.control)
    before = ctl.config("globex-rtr1")
    ctl.set_knobs("globex-rtr1", reject={"^ transport input ssh|^transport input ssh": None})
    res = net("config", "push", "-c", "globex", "--feature", "vty", "--apply", "--yes", "--force", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL
    rtr = next(d for d in _run(res)["devices"] if d["device"] == "globex-rtr1")
    assert rtr["status"] == "rolled_back"
    assert "device refused 'transport input ssh'" in rtr["error"]
    assert _lines(ctl.config("globex-rtr1")) == _lines(before)


def test_change_window_is_respected_unless_forced(net, lab_network):
    ctl = ControlClient(lab_network.control)
    before = ctl.config("acme-core-sw1")
    # acme's window (inventory/clients.yml) is Saturday night in Berlin; the test pins "now" outside it
    res = net("config", "push", "-c", "acme", "--apply", "--yes", "-o", "json",
              env={"MSPCTL_NOW": "2026-11-26T12:00:00+01:00"})
    assert res.exit_code == ExitCode.PARTIAL
    run = _run(res)
    assert set(_status(run).values()) == {"refused"}
    assert "change window is closed; next window 2026-11-28 21:00 UTC" in run["devices"][0]["error"]
    assert ctl.config("acme-core-sw1") == before
    inside = net("config", "push", "-c", "acme", "--apply", "--yes", "-o", "json",
                 env={"MSPCTL_NOW": "2026-11-28T23:00:00+01:00"})
    assert inside.exit_code == 0 and "refused" not in _status(_run(inside)).values()


def test_apply_asks_for_confirmation(net, lab_network, runner):
    ctl = ControlClient(lab_network.control)
    before = ctl.config("initech-rtr1")
    res = net("config", "push", "-c", "initech", "--apply", "--force")  # no --yes, stdin answers nothing
    assert res.exit_code == 1 and "Aborted" in res.output
    assert ctl.config("initech-rtr1") == before


def test_rollback_a_completed_push_by_run_id(net, lab_network):
    ctl = ControlClient(lab_network.control)
    before = {d: ctl.config(d) for d in ("acme-core-sw1", "acme-dist-sw1", "acme-edge-rtr1")}
    pushed = _run(net("config", "push", "-c", "acme", "--apply", "--yes", "--force", "-o", "json"))
    assert set(_status(pushed).values()) == {"applied"}
    dry = net("config", "rollback", "--run", pushed["run_id"], "-o", "json")
    assert set(_status(_run(dry)).values()) == {"planned"}
    undo = net("config", "rollback", "--run", pushed["run_id"], "--apply", "--yes", "-o", "json")
    assert undo.exit_code == 0, undo.output
    assert set(_status(_run(undo)).values()) == {"applied"}
    for device, text in before.items():
        assert _lines(ctl.config(device)) == _lines(text), device
    missing = net("config", "rollback", "--run", "push-nosuchrun")
    assert missing.exit_code == ExitCode.NOT_FOUND and "MSP-REC-404" in missing.stderr
