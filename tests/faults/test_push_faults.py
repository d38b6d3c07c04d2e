"""Safe change under faults, against the lab: kills, signals, stalls and drops at every step of a
push and a rollback, and brownfield configs. Each run ends in a state its record names."""

from __future__ import annotations

import json
import signal
import time

import pexpect
import pytest

from lab.devices.control import ControlClient
from mspctl.drift.configtext import parse
from mspctl.errors import ExitCode
from mspctl.push.service import config_digest
from tests.conftest import by_device, wait_until
from tests.faults.conftest import MSPCTL, Proc, Start

EOS, IOS = "acme-dist-sw1", "acme-core-sw1"  # seeded drift: one logging line, two ntp lines
PUSH = ("config", "push", "-c", "acme", "--apply", "--yes", "--force", "-o", "json")


def _lines(text: str) -> list[tuple[str, ...]]:
    return sorted(p for line in parse(text) for p in line.paths())


def _status(run: dict) -> dict[str, str]:
    return {d["device"]: d["status"] for d in run["devices"]}


def _device(run: dict, name: str) -> dict:
    return next(d for d in run["devices"] if d["device"] == name)


@pytest.fixture
def ctl(lab_network) -> ControlClient:
    return ControlClient(lab_network.control)


# -- 1. A push that is killed, interrupted or stalls ---------------------------------------------
@pytest.mark.parametrize("device", [EOS, IOS])
@pytest.mark.parametrize("kill_after", ["intent", "snapshot", "sent", "confirmed"])
def test_sigkill_at_each_step_is_found_unfinished_and_rolled_back_exactly(start: Start, net, ctl, device,
                                                                          kill_after) -> None:
    before = ctl.config(device)
    ctl.set_knobs(device, command_delay=0.3)  # every step takes a while: the kill lands inside the push
    proc = start("config", "push", "-c", "acme", "-l", device, "--apply", "--yes", "--force")
    run_id = proc.wait_for(device, kill_after)
    proc.kill()
    ctl.set_knobs(device, command_delay=0)

    shown = net("runs", "show", run_id, "-o", "json")  # the next mspctl run finds it
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["params"]["unfinished"] is True
    assert by_device(record)[device]["status"] == "unfinished"
    assert by_device(record)[device]["last_event"] == kill_after
    assert f"run {run_id} (push) did not finish" in shown.stderr

    undo = net("config", "rollback", "--run", run_id, "--apply", "--yes", "-o", "json")
    assert undo.exit_code == 0, undo.output
    status = _status(json.loads(undo.stdout))[device]
    # Up to the confirm, the device's own revert (or nothing having been sent) leaves nothing to
    # restore; after it, the change is confirmed on the device and the snapshot brings it back.
    assert status == ("applied" if kill_after == "confirmed" else "compliant")
    assert _lines(ctl.config(device)) == _lines(before), "the device is exactly as before the push"
    assert ctl.info(device)["pending_revert"] is None  # no timer left to fire later


@pytest.mark.parametrize("device", [EOS, IOS])
def test_a_rollback_killed_midway_is_found_unfinished_and_the_next_one_restores_exactly(start: Start, net, ctl,
                                                                                       device) -> None:
    before = ctl.config(device)
    pushed = net("config", "push", "-c", "acme", "-l", device, "--apply", "--yes", "--force", "-o", "json")
    assert pushed.exit_code == 0, pushed.output
    push_id = json.loads(pushed.stdout)["run_id"]
    assert _lines(ctl.config(device)) != _lines(before)
    ctl.set_knobs(device, command_delay=0.3)
    proc = start("config", "rollback", "--run", push_id, "--apply", "--yes")
    rollback_id = proc.wait_for(device, "intent", kind="rollback-")  # killed once it starts on the device
    proc.kill()
    ctl.set_knobs(device, command_delay=0)
    shown = net("runs", "show", rollback_id, "-o", "json")
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["kind"] == "rollback" and record["params"]["unfinished"] is True
    assert by_device(record)[device]["status"] == "unfinished"
    again = net("config", "rollback", "--run", push_id, "--apply", "--yes", "-o", "json")
    assert again.exit_code == 0, again.output
    assert _status(json.loads(again.stdout))[device] in ("applied", "compliant")  # whatever the kill left
    assert _lines(ctl.config(device)) == _lines(before)
    assert ctl.info(device)["pending_revert"] is None


@pytest.mark.parametrize("device", [EOS, IOS])
def test_a_device_that_loses_mspctl_mid_change_reverts_by_itself(start: Start, net, ctl, device) -> None:
    before = ctl.config(device)
    ctl.set_knobs(device, minute_seconds=1, command_delay=0.3)  # its revert timer: 4 "minutes" = 4 s
    proc = start("config", "push", "-c", "acme", "-l", device, "--apply", "--yes", "--force",
                 env={"MSPCTL_PUSH_REVERT_MINUTES": "4"})
    # killed once the change is live on the device but not yet confirmed
    run_id = proc.wait_for(device, "sent")
    proc.kill()
    ctl.set_knobs(device, command_delay=0)
    assert _lines(ctl.config(device)) != _lines(before)  # changed, unconfirmed
    wait_until(lambda: _lines(ctl.config(device)) == _lines(before), f"{device} to revert by itself", 60)
    assert ctl.info(device)["counters"]["reverts"] >= 1
    undo = net("config", "rollback", "--run", run_id, "--apply", "--yes", "-o", "json")
    assert undo.exit_code == 0, undo.output
    assert _status(json.loads(undo.stdout))[device] == "compliant"  # nothing left to undo


def test_ctrl_c_under_a_terminal_rolls_back_the_device_in_flight_and_starts_no_other(
        fault_env, records_path, net, ctl) -> None:
    before = {d: ctl.config(d) for d in (IOS, EOS, "acme-edge-rtr1")}
    ctl.set_knobs(IOS, command_delay=0.5)
    child = pexpect.spawn(MSPCTL[0], [*MSPCTL[1:], "config", "push", "-c", "acme", "--apply", "--yes", "--force"],
                          env={**fault_env, "MSPCTL_DEVICES_WORKERS": "1"}, encoding="utf-8", timeout=120,
                          dimensions=(40, 160))
    watcher = Proc(child, records_path)  # type: ignore[arg-type]
    try:
        run_id = _wait_journal(watcher, child, IOS, "snapshot")
        child.sendcontrol("c")  # the terminal turns it into SIGINT for mspctl's process group
        child.expect(pexpect.EOF)
    finally:
        child.close()
    ctl.set_knobs(IOS, command_delay=0)
    assert child.exitstatus == ExitCode.INTERRUPTED, child.before
    assert "SIGINT: stopping. No new device starts" in child.before
    assert "interrupted by SIGINT" in child.before
    record = json.loads(net("runs", "show", run_id, "-o", "json").stdout)
    assert record["params"]["interrupted"] == "SIGINT"
    assert by_device(record)[IOS]["status"] == "rolled_back"
    assert by_device(record)[IOS]["error_code"] == "MSP-PUSH-499"
    assert {by_device(record)[d]["status"] for d in (EOS, "acme-edge-rtr1")} == {"skipped"}
    for device, text in before.items():
        assert _lines(ctl.config(device)) == _lines(text), device


def _wait_journal(watcher, child, target: str, event: str) -> str:
    seen = ""
    end = time.monotonic() + 90
    while time.monotonic() < end:
        for run_id, t, e in watcher.events():
            if t == target and e == event:
                return run_id
        try:  # keep the terminal drained
            seen += child.read_nonblocking(65536, timeout=0.05)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            raise AssertionError(f"mspctl ended before {target} journaled {event}:\n{seen}") from None
    raise AssertionError(f"{target} never journaled {event}")


def test_sigterm_mid_send_rolls_back_and_records_interrupted(start: Start, net, ctl) -> None:
    before = ctl.config(EOS)
    ctl.set_knobs(EOS, command_delay=0.5)
    proc = start(*PUSH, env={"MSPCTL_DEVICES_WORKERS": "1"})
    run_id = proc.wait_for(EOS, "snapshot")
    proc.popen.send_signal(signal.SIGTERM)
    code, out, err = proc.finish()
    ctl.set_knobs(EOS, command_delay=0)
    assert code == ExitCode.INTERRUPTED, err
    run = json.loads(out)
    assert run["interrupted"] == "SIGTERM" and run["run_id"] == run_id
    assert _status(run)[EOS] == "rolled_back"
    assert _status(run)["acme-edge-rtr1"] == "skipped"
    assert _lines(ctl.config(EOS)) == _lines(before)


def test_a_slow_device_within_a_short_budget_completes_and_records_what_it_accepted(net, ctl) -> None:
    ctl.set_knobs(EOS, command_delay=2)  # ~13 commands: far beyond the 15 s budget
    res = net("config", "push", "-c", "acme", "-l", EOS, "--apply", "--yes", "--force", "-o", "json",
              env={"MSPCTL_DEVICES_TIMEOUT": "15", "MSPCTL_DEVICES_RETRIES": "0"})
    ctl.set_knobs(EOS, command_delay=0)
    assert res.exit_code == 0, res.output
    dev = _device(json.loads(res.stdout), EOS)
    assert dev["status"] == "applied"
    assert dev["accepted"] == dev["commands"] == ["no logging host 192.0.2.66"]
    assert dev["snapshot"].startswith("flash:mspctl-push-") and dev["self_revert"] == "commit-timer"
    assert "logging host 192.0.2.66" not in ctl.config(EOS)
    assert "logging host 192.0.2.66" not in ctl.config(EOS, "startup")


def test_a_session_dropped_mid_change_is_restored_and_the_record_counts_what_arrived(net, ctl) -> None:
    before = ctl.config(IOS)
    ctl.set_knobs(IOS, drop_on="^ntp server 198")  # the second of its two commands
    res = net(*PUSH)
    assert res.exit_code == ExitCode.PARTIAL
    dev = _device(json.loads(res.stdout), IOS)
    assert dev["status"] == "rolled_back" and dev["error_code"] == "MSP-PUSH-504"
    assert dev["accepted"] == ["no ntp server 192.0.2.99"] and dev["accepted_count"] == 1
    assert any("may or may not have taken 'ntp server 198.51.100.2'" in w for w in dev["warnings"])
    assert _lines(ctl.config(IOS)) == _lines(before)


def test_ios_without_an_archive_is_restored_from_its_flash_snapshot(net, ctl) -> None:
    ctl.run(IOS, "configure terminal", "no archive", "end")
    before = ctl.config(IOS)
    ctl.set_knobs(IOS, reject={"^ntp server 198": None})
    res = net(*PUSH)
    dev = _device(json.loads(res.stdout), IOS)
    assert dev["self_revert"] is None and dev["status"] == "rolled_back"
    assert dev["rollback_commands"] == [f"configure replace {dev['snapshot']}"]
    assert _lines(ctl.config(IOS)) == _lines(before)


# -- 2. Brownfield configs -----------------------------------------------------------------------
def test_a_hostname_change_is_pushed_saved_and_rolled_back(net, ctl) -> None:
    device = "acme-edge-rtr1"
    ctl.run(device, "configure terminal", "hostname EDGE-LEGACY", "end", "write memory")
    pushed = net("config", "push", "-c", "acme", "-l", device, "--feature", "hostname", "--apply", "--yes",
                 "--force", "-o", "json")
    assert pushed.exit_code == 0, pushed.output
    run = json.loads(pushed.stdout)
    assert _status(run)[device] == "applied"
    assert ctl.info(device)["hostname"] == device
    assert "hostname acme-edge-rtr1" in ctl.config(device, "startup")
    undo = net("config", "rollback", "--run", run["run_id"], "--apply", "--yes", "-o", "json")
    assert undo.exit_code == 0, undo.output
    assert ctl.info(device)["hostname"] == "EDGE-LEGACY"


def test_a_banner_added_by_a_push_is_removed_by_its_rollback(net, ctl) -> None:
    device = next(d for d in ("acme-edge-rtr1", IOS, "globex-rtr1", "initech-rtr1")
                  if "banner motd" in ctl.config(d))
    client = device.split("-")[0]
    ctl.run(device, "configure terminal", "no banner motd", "end")
    before = ctl.config(device)
    pushed = net("config", "push", "-c", client, "-l", device, "--feature", "banner", "--apply", "--yes", "--force",
                 "-o", "json")
    assert _status(json.loads(pushed.stdout))[device] == "applied", pushed.output
    assert "banner motd" in ctl.config(device)
    undo = net("config", "rollback", "--run", json.loads(pushed.stdout)["run_id"], "--apply", "--yes", "-o", "json")
    assert undo.exit_code == 0, undo.output
    assert "banner motd" not in ctl.config(device)
    assert _lines(ctl.config(device)) == _lines(before)


def test_rollback_restores_secrets_it_never_stored(net, ctl, records_path, tmp_path) -> None:
    device = "acme-edge-rtr1"
    ctl.run(device, "configure terminal", "username legacy privilege 15 secret 0 Br0wnf1eld!", "end")
    ctl.set_knobs("acme-dist-sw1", reject={"^no logging host": None})  # a refused line is reported too
    before = ctl.config(device)
    pushed = net(*PUSH)
    ctl.set_knobs("acme-dist-sw1", reject={})
    run = json.loads(pushed.stdout)
    assert _status(run)[device] == "applied", pushed.output
    ctl.run(device, "configure terminal", "no username legacy", "end")  # changed since: needs --force
    undo = net("config", "rollback", "--run", run["run_id"], "--apply", "--yes", "--force", "-o", "json")
    assert undo.exit_code == 0, undo.output
    assert _lines(ctl.config(device)) == _lines(before)
    assert "Br0wnf1eld!" in ctl.config(device)
    # the secret lives on the device only: not in the records, cache, state or output
    shown = net("runs", "show", run["run_id"], "-o", "json")
    printed = "".join(r.stdout + r.stderr for r in (pushed, undo, shown))
    assert "Br0wnf1eld!" not in printed and "acme-lab-pw" not in printed
    written = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert records_path in written
    for f in written:
        assert b"Br0wnf1eld!" not in f.read_bytes() and b"acme-lab-pw" not in f.read_bytes(), f


def test_a_device_changed_since_the_push_is_not_overwritten_without_force(net, ctl) -> None:
    pushed = json.loads(net(*PUSH).stdout)
    ctl.run("acme-edge-rtr1", "configure terminal", "ntp server 192.0.2.123", "end")
    undo = net("config", "rollback", "--run", pushed["run_id"], "--apply", "--yes", "-o", "json")
    assert undo.exit_code == ExitCode.PARTIAL
    dev = _device(json.loads(undo.stdout), "acme-edge-rtr1")
    assert dev["status"] == "refused" and dev["error_code"] == "MSP-PUSH-452"
    assert "ntp server 192.0.2.123" in ctl.config("acme-edge-rtr1")


BROWNFIELD_EXTRAS = ["interface GigabitEthernet0/2", " description legacy-port", " speed 100", " duplex full",
                     "interface Null0", " no ip unreachables", "interface GigabitEthernet0/1.100",
                     " encapsulation dot1Q 100", "interface GigabitEthernet0/1", " negotiation auto", "exit"]


def test_default_features_leave_interfaces_netbox_does_not_model_alone(net, ctl) -> None:
    device = "acme-edge-rtr1"
    ctl.run(device, "configure terminal", *BROWNFIELD_EXTRAS, "end")
    before = ctl.config(device)
    drift = net("drift", "-c", "acme", "-l", device, "-o", "json")
    assert "interfaces" not in {f["feature"] for d in json.loads(drift.stdout)["devices"] for f in d["features"]
                                if f["status"] == "drift"}, drift.output
    res = net("config", "push", "-c", "acme", "-l", device, "--apply", "--yes", "--force", "-o", "json")
    assert res.exit_code == 0, res.output
    assert not any("interface" in c for c in _device(json.loads(res.stdout), device)["commands"])
    after = ctl.config(device)
    for line in ("interface GigabitEthernet0/2", "interface Null0", "interface GigabitEthernet0/1.100",
                 " negotiation auto", " speed 100"):
        assert line in after, line
    assert len([ln for ln in _lines(after) if ln[0].startswith("interface")]) == \
        len([ln for ln in _lines(before) if ln[0].startswith("interface")])


def test_a_plan_removing_much_of_a_config_is_refused_first_in_the_dry_run(net, ctl) -> None:
    device = "acme-edge-rtr1"
    ctl.run(device, "configure terminal", *[f"ntp server 192.0.2.{i}" for i in range(10, 22)], "end")
    before = ctl.config(device)
    dry = net("config", "push", "-c", "acme", "-l", device)
    assert dry.exit_code == ExitCode.PARTIAL
    assert "refused" in dry.stdout and "--allow-destructive" in dry.stdout
    applied = net("config", "push", "-c", "acme", "-l", device, "--apply", "--yes", "--force", "-o", "json")
    dev = _device(json.loads(applied.stdout), device)
    assert dev["status"] == "refused" and dev["error_code"] == "MSP-PUSH-413"
    assert "removes 12 of the device's" in dev["error"]
    assert ctl.config(device) == before
    forced = net("config", "push", "-c", "acme", "-l", device, "--apply", "--yes", "--force", "--allow-destructive",
                 "-o", "json")
    assert _status(json.loads(forced.stdout))[device] == "applied", forced.output
    assert "ntp server 192.0.2.10" not in ctl.config(device)


# -- paths no test reached before ------------------------------------------------------------------
def test_push_and_rollback_prompts_answered_yes_and_no(net, ctl) -> None:
    device = "acme-edge-rtr1"
    before = ctl.config(device)
    no = net("config", "push", "-c", "acme", "-l", device, "--apply", "--force", input="n\n")
    assert no.exit_code == 1 and "Apply these changes to 1 device(s)?" in no.output and "Aborted" in no.output
    assert ctl.config(device) == before
    yes = net("config", "push", "-c", "acme", "-l", device, "--apply", "--force", input="y\n")
    assert yes.exit_code == 0, yes.output
    run_id = next(w for w in yes.output.split() if w.startswith("push-")).rstrip(":")
    assert ctl.config(device) != before
    no_rb = net("config", "rollback", "--run", run_id, "--apply", input="n\n")
    assert no_rb.exit_code == 1 and f"Roll back the changes of {run_id}?" in no_rb.output
    yes_rb = net("config", "rollback", "--run", run_id, "--apply", input="y\n")
    assert yes_rb.exit_code == 0, yes_rb.output
    assert _lines(ctl.config(device)) == _lines(before)


def test_rolling_back_a_run_that_is_not_a_push_is_a_usage_error(net) -> None:
    backup = json.loads(net("config", "backup", "-c", "initech", "-o", "json").stdout)
    res = net("config", "rollback", "--run", backup["run_id"])
    assert res.exit_code == ExitCode.USAGE and "MSP-PUSH-400" in res.stderr


def test_the_digest_of_a_restored_config_matches_the_pre_change_one(net, ctl) -> None:
    before = ctl.config(EOS)
    pushed = json.loads(net(*PUSH).stdout)
    net("config", "rollback", "--run", pushed["run_id"], "--apply", "--yes")
    assert config_digest(ctl.config(EOS)) == config_digest(before)


def test_a_device_that_is_not_the_one_netbox_names_is_never_changed(net, ctl, lab_netbox) -> None:
    import requests

    device = "acme-edge-rtr1"
    api = f"{lab_netbox.url}/api/dcim/devices/"
    headers = {"Authorization": f"Token {lab_netbox.token}", "Accept": "application/json"}
    found = requests.get(api, params={"name": device}, headers=headers, timeout=30).json()["results"][0]
    before = ctl.config(device)
    requests.patch(f"{api}{found['id']}/", json={"serial": "FDO0000WRONG"}, headers=headers,
                   timeout=30).raise_for_status()
    try:
        res = net("config", "push", "-c", "acme", "-l", device, "--apply", "--yes", "--force", "-o", "json")
    finally:
        requests.patch(f"{api}{found['id']}/", json={"serial": found["serial"]}, headers=headers,
                       timeout=30).raise_for_status()
    dev = _device(json.loads(res.stdout), device)
    assert res.exit_code == ExitCode.PARTIAL
    assert dev["status"] == "refused" and dev["error_code"] == "MSP-PUSH-421"
    assert "is not acme-edge-rtr1" in dev["error"]
    assert ctl.config(device) == before


def test_a_failed_post_check_restores_the_device(net, ctl) -> None:
    before = ctl.config(IOS)
    ctl.set_knobs(IOS, ignore="^ntp server 198")  # taken without error, but not kept
    res = net(*PUSH)
    assert res.exit_code == ExitCode.PARTIAL
    dev = _device(json.loads(res.stdout), IOS)
    assert dev["status"] == "rolled_back" and dev["error_code"] == "MSP-PUSH-409"
    assert "post-change check failed: ntp still drifted" in dev["error"]
    assert _lines(ctl.config(IOS)) == _lines(before)


def test_a_device_lost_for_its_rollback_too_reverts_by_itself(net, ctl) -> None:
    before = ctl.config(IOS)
    ctl.set_knobs(IOS, minute_seconds=1, drop_on="^ntp server 198|^configure revert|^configure replace")
    res = net(*PUSH, env={"MSPCTL_PUSH_REVERT_MINUTES": "3"})
    dev = _device(json.loads(res.stdout), IOS)
    assert dev["status"] == "rollback_failed", dev
    assert "reverts by itself within 3 min (revert-timer)" in dev["error"]
    ctl.set_knobs(IOS, drop_on=None)
    wait_until(lambda: _lines(ctl.config(IOS)) == _lines(before), "the device's own revert", 60)


def test_rollback_of_a_record_from_before_snapshots_restores_all_but_the_scrubbed_lines(net, ctl, lab_netbox,
                                                                                       records_path,
                                                                                       tmp_path) -> None:
    """A push recorded by an earlier mspctl (no snapshot, a scrubbed pre-change config): the
    feature is restored line by line; the one scrubbed line is left to the operator. (The MSP's
    features here own whole vty sections, as the default did then.)"""
    from datetime import UTC, datetime

    import requests

    from mspctl.records import RecordStore, RunRecord
    from tests.conftest import REPO

    features = (REPO / "templates" / "features.yml").read_text()
    whole_vty = features.replace("    scope: intended\n    children: [exec-timeout, login, transport input]\n", "")
    assert whole_vty != features
    (tmp_path / "features.yml").write_text(whole_vty)
    (tmp_path / "xdg" / "mspctl").mkdir(parents=True, exist_ok=True)
    (tmp_path / "xdg" / "mspctl" / "mspctl.toml").write_text(f'[config]\nfeatures = "{tmp_path / "features.yml"}"\n')

    device = "acme-edge-rtr1"
    found = requests.get(f"{lab_netbox.url}/api/dcim/devices/", params={"name": device}, timeout=30,
                         headers={"Authorization": f"Token {lab_netbox.token}"}).json()["results"][0]
    now = datetime.now(UTC)
    pre = "line vty 0 4\n exec-timeout 5 0\n password 7 <removed>\n login local\n transport input ssh\n"
    RecordStore(records_path).save(RunRecord("push-20261101T000000Z-old1", "push", now, now, {"applied": True},
                                             {"applied": 1}, {device: ("applied", {
                                                 "asset": {"kind": "device", "id": found["id"], "name": device,
                                                           "client": "acme", "platform": "cisco_ios"},
                                                 "features": ["vty"], "pre_config": pre}),
                                                 "ghost-sw9": ("applied", {  # gone from NetBox since
                                                     "asset": {"kind": "device", "id": 999999, "name": "ghost-sw9",
                                                               "client": "acme"}, "features": ["ntp"]})}))
    res = net("config", "rollback", "--run", "push-20261101T000000Z-old1", "--apply", "--yes", "-o", "json")
    dev = _device(json.loads(res.stdout), device)
    assert res.exit_code == ExitCode.PARTIAL, res.output
    assert dev["status"] == "partial" and dev["error_code"] == "MSP-PUSH-451"
    assert "must be restored by hand: password 7 <removed>" in dev["error"]
    assert " exec-timeout 5 0" in ctl.config(device)  # the rest was restored
    ghost = _device(json.loads(res.stdout), "ghost-sw9")
    assert ghost["status"] == "failed" and ghost["error_code"] == "MSP-DEV-404"
