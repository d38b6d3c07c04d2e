"""The devices' own safe-change mechanisms, for real over SSH: flash snapshots and `configure
replace`, the IOS revert timer (with its archive), EOS configuration sessions with a commit
timer. Driven by netmiko and by mspctl's own device adapter (mspctl.adapters.netmiko)."""

from __future__ import annotations

import time

import pytest
from devlab import SECRET, DeviceLab

from mspctl.adapters.netmiko import DeviceCommandError, DeviceSession, DeviceTarget
from mspctl.drift.configtext import clean
from tests.conftest import wait_until

pytestmark = pytest.mark.lab

ARCHIVE = ["archive", "path flash:archive", "maximum 5"]


def _target(lab: DeviceLab, name: str) -> DeviceTarget:
    dev = lab.devices[name]
    return DeviceTarget(name, dev["host"], dev.get("port", 2222), dev["platform"], "admin", "admin", SECRET)


@pytest.mark.parametrize("name", ["r1", "sw1"])
def test_snapshot_and_configure_replace_restore_exactly(device_lab: DeviceLab, name: str) -> None:
    ctl = device_lab.control
    ctl.run(name, "configure terminal", "username ops privilege 15 secret 0 S3cret!", "end")
    before = ctl.config(name)
    with DeviceSession(_target(device_lab, name), 20) as s:
        where = s.snapshot("pre.cfg")
        assert where == "flash:pre.cfg"
        banner = (["banner motd ^CAuthorised use only^C"] if name == "r1"
                  else ["banner motd", "Authorised use only", "EOF"])
        accepted: list[str] = []
        s.send_config(["no username ops", *banner, "ntp server 192.0.2.77"], accepted)
        assert accepted == ["no username ops", *banner, "ntp server 192.0.2.77"]
        assert "S3cret!" not in ctl.config(name) and "Authorised use only" in ctl.config(name)
        s.restore(where)
    assert clean(ctl.config(name)) == clean(before)  # the change stamps aside
    assert "S3cret!" in ctl.config(name) and "Authorised use only" not in ctl.config(name)
    assert ctl.flash(name)["pre.cfg"].count("S3cret!") == 1


def test_a_missing_snapshot_is_an_error_line(device_lab: DeviceLab) -> None:
    with DeviceSession(_target(device_lab, "r1"), 20) as s, pytest.raises(DeviceCommandError, match="No such file"):
        s.restore("flash:nothing.cfg")


def test_ios_revert_timer_needs_an_archive_path(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    out = conn.send_command("configure terminal revert timer 5", expect_string=r"#")
    assert "Archive path is not configured" in out
    assert conn.find_prompt() == "r1#"  # not in configuration mode


def test_ios_revert_timer_reverts_a_change_nobody_confirmed(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    ctl.run("r1", "configure terminal", *ARCHIVE, "end")
    ctl.set_knobs("r1", minute_seconds=1)
    before = ctl.config("r1")
    with DeviceSession(_target(device_lab, "r1"), 20) as s:
        accepted: list[str] = []
        s.send_config(["hostname r1-renamed", "ntp server 192.0.2.50"], accepted, revert_minutes=2)
        assert s.running_config().count("hostname r1-renamed") == 1  # the prompt was re-read
    assert ctl.info("r1")["pending_revert"] is not None
    assert "archive-1" in ctl.flash("r1")
    wait_until(lambda: ctl.info("r1")["hostname"] == "r1", "the revert timer", 15)  # the client is gone: it reverts
    assert clean(ctl.config("r1")) == clean(before)
    assert ctl.info("r1")["counters"]["reverts"] == 1


def test_ios_configure_confirm_keeps_the_change(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    ctl.run("r1", "configure terminal", *ARCHIVE, "end")
    ctl.set_knobs("r1", minute_seconds=0.3)
    with DeviceSession(_target(device_lab, "r1"), 20) as s:
        s.send_config(["ntp server 192.0.2.51"], [], revert_minutes=2)
        s.confirm(None)
        with pytest.raises(DeviceCommandError, match="No Rollback Confirmed Change pending"):
            s.confirm(None)
    assert ctl.info("r1")["pending_revert"] is None
    time.sleep(1.0)  # longer than the timer would have been: nothing may revert now
    assert "ntp server 192.0.2.51" in ctl.config("r1")


def test_ios_configure_revert_now(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    ctl.run("r1", "configure terminal", *ARCHIVE, "end")
    with DeviceSession(_target(device_lab, "r1"), 20) as s:
        s.send_config(["ntp server 192.0.2.52"], [], revert_minutes=10)
        s.revert_now(None)
        assert "ntp server 192.0.2.52" not in s.running_config()


def test_eos_session_is_invisible_until_commit_and_abort_discards_it(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    before = ctl.config("sw1")
    conn = device_lab.connect("sw1")
    conn.enable()
    out = conn.send_config_set(["ntp server 192.0.2.60"], config_mode_command="configure session mspctl-a")
    assert "(config-s-mspctl)#" in out
    assert "ntp server 192.0.2.60" not in ctl.config("sw1")
    assert "mspctl-a" in conn.send_command("show configuration sessions")
    conn.send_command("configure session mspctl-a abort", expect_string=r"#")
    assert ctl.info("sw1")["sessions"] == [] and clean(ctl.config("sw1")) == clean(before)


def test_eos_commit_timer_reverts_unless_confirmed(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    ctl.set_knobs("sw1", minute_seconds=1)
    with DeviceSession(_target(device_lab, "sw1"), 20) as s:
        s.send_config(["hostname sw1-new", "ntp server 192.0.2.61"], [], session="mspctl-b")
        assert ctl.info("sw1")["hostname"] == "sw1"  # not committed yet
        s.commit("mspctl-b", 2)
        assert ctl.info("sw1")["hostname"] == "sw1-new"
        assert "hostname sw1-new" in s.running_config()  # the prompt followed the commit
    wait_until(lambda: ctl.info("sw1")["hostname"] == "sw1", "the commit timer", 15)
    assert "ntp server 192.0.2.61" not in ctl.config("sw1")
    with DeviceSession(_target(device_lab, "sw1"), 20) as s:
        s.send_config(["ntp server 192.0.2.62"], [], session="mspctl-c")
        s.commit("mspctl-c", 1)
        s.confirm("mspctl-c")
    time.sleep(1.5)
    assert "ntp server 192.0.2.62" in ctl.config("sw1") and ctl.info("sw1")["pending_revert"] is None


def test_a_refused_line_is_named_with_what_went_before(device_lab: DeviceLab) -> None:
    device_lab.control.set_knobs("r1", reject={"^ntp server 192.0.2.71": None})
    accepted: list[str] = []
    with DeviceSession(_target(device_lab, "r1"), 20) as s, pytest.raises(DeviceCommandError) as err:
        s.send_config(["ntp server 192.0.2.70", "ntp server 192.0.2.71", "ntp server 192.0.2.72"], accepted)
    assert accepted == ["ntp server 192.0.2.70"]
    assert err.value.line == "ntp server 192.0.2.71"
