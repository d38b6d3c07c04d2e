"""Fault knobs, set in the spec or flipped at runtime through the control socket, seen by netmiko."""

from __future__ import annotations

import time

import pytest
from devlab import DeviceLab
from netmiko import BaseConnection, NetmikoAuthenticationException, ReadTimeout

from lab.devices.control import ControlError

pytestmark = pytest.mark.lab

# What netmiko raises on a dead session: a write to a closed paramiko channel raises OSError,
# a read that never sees the prompt raises ReadTimeout, a half-read buffer EOFError.
DEAD_SESSION = (OSError, EOFError, ReadTimeout)


def _wait_dead(conn: BaseConnection, limit: float = 10.0) -> None:
    """Let paramiko notice the server hung up, so the next command fails on its write."""
    deadline = time.monotonic() + limit
    while conn.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_bad_credentials_from_the_spec(device_lab: DeviceLab) -> None:
    with pytest.raises(NetmikoAuthenticationException):
        device_lab.connect("locked")
    assert device_lab.control.info("locked")["counters"]["logins_failed"] >= 1


def test_bad_credentials_flipped_at_runtime(device_lab: DeviceLab) -> None:
    device_lab.control.set_knobs("r2", bad_credentials=True)
    with pytest.raises(NetmikoAuthenticationException):
        device_lab.connect("r2")
    device_lab.control.set_knobs("r2", bad_credentials=False)
    assert device_lab.connect("r2").find_prompt() == "r2>"


def test_a_wrong_password_is_rejected_without_any_knob(device_lab: DeviceLab) -> None:
    with pytest.raises(NetmikoAuthenticationException):
        device_lab.connect("r2", password="guess")


def test_command_delay_still_answers(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("slow")  # command_delay 0.2 s from the spec
    conn.enable()
    assert "Arista" in conn.send_command("show version")
    device_lab.control.set_knobs("r2", command_delay=0.3)
    conn = device_lab.connect("r2")
    assert "Cisco IOS Software" in conn.send_command("show version")


def test_drop_after_n_commands_kills_the_next_command(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r2")
    conn.enable()
    # Login sent "terminal width", "terminal length" and "enable": the next command is the 4th.
    device_lab.control.set_knobs("r2", drop_after=4)
    assert "UTC" in conn.send_command("show clock")
    _wait_dead(conn)
    with pytest.raises(DEAD_SESSION):
        conn.send_command("show clock")
    assert device_lab.control.info("r2")["counters"]["drops"] == 1


def test_drop_on_a_pattern_cuts_the_session_mid_command(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r2")
    conn.enable()
    device_lab.control.set_knobs("r2", drop_on=r"^show running-config")
    assert "UTC" in conn.send_command("show clock")  # other commands still work
    with pytest.raises(DEAD_SESSION):
        conn.send_command("show running-config", read_timeout=2)
    _wait_dead(conn)
    with pytest.raises(DEAD_SESSION):
        conn.send_command("show clock")


def test_reject_with_the_platform_error_or_a_custom_one(device_lab: DeviceLab) -> None:
    device_lab.control.set_knobs("r1", reject={"^show clock": None, "^ntp server": "% NTP server limit reached"})
    conn = device_lab.connect("r1")
    conn.enable()
    assert "% Invalid input detected at '^' marker." in conn.send_command("show clock")
    output = conn.send_config_set(["ntp server 10.0.0.99"])
    assert "% NTP server limit reached" in output
    assert "10.0.0.99" not in conn.send_command("show running-config")


def test_reset_restores_seeded_config_and_spec_knobs(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    ctl.set_knobs("r1", command_delay=0.1)
    ctl.run("r1", "configure terminal", "hostname changed", "end")
    assert "hostname changed" in ctl.config("r1")
    assert ctl.reset("r1") == ["r1"]
    assert "hostname r1" in ctl.config("r1")
    assert ctl.info("r1")["knobs"]["command_delay"] == 0
    assert ctl.info("slow")["knobs"]["command_delay"] == 0.2


def test_control_reads_running_and_startup_separately(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    output = ctl.run("sw2", "configure", "ntp server 10.7.7.7", "end")
    assert "% Invalid input" not in output
    assert "ntp server 10.7.7.7" in ctl.config("sw2", "running")
    assert "ntp server 10.7.7.7" not in ctl.config("sw2", "startup")
    ctl.run("sw2", "write memory")
    assert "ntp server 10.7.7.7" in ctl.config("sw2", "startup")


def test_out_of_band_change_is_seen_by_netmiko(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    device_lab.control.run("r1", "configure terminal", "logging host 10.9.9.9", "end")
    assert "logging host 10.9.9.9" in conn.send_command("show running-config | include logging")


def test_disconnect_cuts_open_sessions(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("sw2")
    assert device_lab.control.call("disconnect", device="sw2")["closed"] == 1
    _wait_dead(conn)
    with pytest.raises(DEAD_SESSION):
        conn.send_command("show version")


def test_bad_knob_changes_are_refused_whole(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    with pytest.raises(ControlError, match="unknown knob"):
        ctl.set_knobs("r1", explode=True)
    with pytest.raises(ControlError, match="bad regex"):
        ctl.set_knobs("r1", drop_on="(")
    with pytest.raises(ControlError, match="no device named"):
        ctl.set_knobs("nope", command_delay=1)
    assert ctl.info("r1")["knobs"]["drop_on"] is None
    ctl.call("set_knobs", device="*", knobs={"command_delay": 0.05})
    assert {d["knobs"]["command_delay"] for d in ctl.call("list")["devices"]} == {0.05}
