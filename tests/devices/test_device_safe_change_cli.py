"""The devices' own snapshot and self-revert mechanisms, typed by the plain netmiko client over
real SSH: flash files and ``configure replace``, the IOS archive and revert timer, EOS
configuration sessions with a commit timer. (mspctl's adapter over the same mechanisms is
tested in test_safe_change_device.py.)

Timers run on ``minute_seconds`` (a knob: real seconds per timer minute). Waiting for a timer is
a poll of the control socket with a generous deadline; no assertion depends on wall-clock time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from devlab import DeviceLab
from netmiko import BaseConnection

pytestmark = pytest.mark.lab

ARCHIVE = ["archive", "path flash:archive", "maximum 5"]
# Lines a device prints around its configuration that change with every change or second.
_VOLATILE = re.compile(r"^(?:! Last configuration change|! NVRAM config|! Time:|Current configuration :)")


def stable(config: str) -> list[str]:
    """The configuration as printed, without the change stamps and clock lines."""
    return [ln for ln in config.splitlines() if not _VOLATILE.match(ln)]


def wait_for(check: Callable[[], bool], what: str, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.05)


def send(conn: BaseConnection, command: str, **kwargs: Any) -> str:
    """netmiko's send_command, typed: these commands are never parsed (no TextFSM)."""
    return str(conn.send_command(command, **kwargs))


def answer(conn: BaseConnection, command: str, question: str, reply: str = "") -> str:
    """Type ``command``, wait for the device's ``question`` (a regex), answer it, read to the prompt."""
    out = send(conn, command, expect_string=question)
    conn.write_channel(reply + conn.RETURN)
    return out + str(conn.read_until_pattern(pattern=r"[>#]\s*$"))


def privileged(lab: DeviceLab, name: str) -> BaseConnection:
    conn = lab.connect(name)
    conn.enable()
    return conn


def vanish(conn: BaseConnection) -> None:
    """The client goes away without a word: its TCP connection just closes."""
    assert conn.remote_conn_pre is not None
    transport = conn.remote_conn_pre.get_transport()
    assert transport is not None
    transport.close()


# -- flash and configure replace ------------------------------------------------------------------
def test_ios_snapshot_to_flash_and_configure_replace_restore_exactly(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "r1")
    conn.send_config_set(["username ops privilege 15 secret 0 S3cret!"])
    before = send(conn, "show running-config")
    out = answer(conn, "copy running-config flash:pre.cfg", r"Destination filename \[pre\.cfg\]\? ")
    snapshot = ctl.flash("r1")["pre.cfg"]
    assert snapshot.rstrip("\n") == before  # exactly what show running-config printed
    size = len(snapshot.encode())
    assert f"{size} bytes copied in 0.010 secs ({size} bytes/sec)" in out
    listing = send(conn, "dir flash:")
    assert re.search(rf"\b{size}\s+pre\.cfg$", listing, re.M)
    assert stable(send(conn, "more flash:pre.cfg")) == stable(before)

    out = conn.send_config_set(["no username ops", "banner motd ^CAuthorised use only^C", "ntp server 192.0.2.77"])
    assert "% " not in out
    changed = send(conn, "show running-config")
    assert "S3cret!" not in changed and "Authorised use only" in changed

    out = answer(conn, "configure replace flash:pre.cfg", r"proceed\. \? \[no\]: ", "y")
    assert "Total number of passes: 1" in out and "Rollback Done" in out
    after = send(conn, "show running-config")
    assert stable(after) == stable(before)
    assert "username ops privilege 15 secret 0 S3cret!" in after and "banner" not in after

    # ``force`` asks nothing; an answer other than y/yes changes nothing.
    conn.send_config_set(["ntp server 192.0.2.78"])
    out = answer(conn, "configure replace flash:pre.cfg", r"\[no\]: ", "no")
    assert "Rollback Done" not in out and "192.0.2.78" in send(conn, "show running-config")
    out = send(conn, "configure replace flash:pre.cfg force")
    assert "Rollback Done" in out and stable(send(conn, "show running-config")) == stable(before)


def test_eos_snapshot_to_flash_and_configure_replace_restore_exactly(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "sw1")
    conn.send_config_set(["username ops privilege 15 secret S3cret!"])
    before = send(conn, "show running-config")
    assert send(conn, "copy running-config flash:pre.cfg").strip() == "Copy completed successfully."
    assert stable(ctl.flash("sw1")["pre.cfg"]) == stable(before)
    assert "pre.cfg" in send(conn, "dir flash:")

    out = conn.send_config_set(["no username ops", "banner motd", "Authorised use only", "EOF",
                                "ntp server 192.0.2.77"])
    assert "% " not in out
    changed = send(conn, "show running-config")
    assert "S3cret!" not in changed and "Authorised use only" in changed

    assert send(conn, "configure replace flash:pre.cfg").strip() == ""
    after = send(conn, "show running-config")
    assert stable(after) == stable(before)
    assert "username ops privilege 15 secret S3cret!" in after and "Authorised" not in after


@pytest.mark.parametrize(("name", "error"), [
    ("r1", "%Error opening flash:nothing.cfg (No such file or directory)"),
    ("sw1", "% Error: File not found: flash:nothing.cfg"),
])
def test_missing_flash_files_and_delete(device_lab: DeviceLab, name: str, error: str) -> None:
    conn = privileged(device_lab, name)
    for command in ("more flash:nothing.cfg", "configure replace flash:nothing.cfg", "delete flash:nothing.cfg"):
        assert send(conn, command).strip() == error
    device_lab.control.run(name, "copy running-config flash:a.cfg", "", "copy running-config flash:b.cfg", "")
    assert set(device_lab.control.flash(name)) == {"a.cfg", "b.cfg"}
    if name == "r1":  # IOS asks twice; empty answers confirm
        out = send(conn, "delete flash:a.cfg", expect_string=r"Delete filename \[a\.cfg\]\? ")
        out += send(conn, "", expect_string=r"Delete flash:/a\.cfg\? \[confirm\]", cmd_verify=False)
        conn.write_channel(conn.RETURN)
        conn.read_until_pattern(pattern=r"#\s*$")
        send(conn, "delete /force flash:b.cfg")
    else:  # EOS asks nothing
        send(conn, "delete flash:a.cfg")
        send(conn, "delete flash:b.cfg")
    assert device_lab.control.flash(name) == {}
    assert device_lab.control.info(name)["flash"] == []


# -- IOS: archive and revert timer ----------------------------------------------------------------
def test_ios_revert_timer_is_refused_without_an_archive_path(device_lab: DeviceLab) -> None:
    conn = privileged(device_lab, "r1")
    out = send(conn, "configure terminal revert timer 5", expect_string=r"r1[>#(]")
    assert out.strip() == '% Archive path is not configured; configure "archive" and "path" first'
    assert conn.find_prompt() == "r1#"
    with pytest.raises(ValueError, match="Failed to enter configuration mode"):
        conn.send_config_set(["ntp server 192.0.2.40"], config_mode_command="configure terminal revert timer 5")
    assert device_lab.control.info("r1")["pending_revert"] is None
    assert "192.0.2.40" not in device_lab.control.config("r1")


def test_ios_revert_timer_reverts_by_itself_after_the_client_leaves(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "r1")
    conn.send_config_set(ARCHIVE)
    before = send(conn, "show running-config")
    ctl.set_knobs("r1", minute_seconds=1)
    out = conn.send_config_set(["hostname r1-trial", "ntp server 192.0.2.50"],
                               config_mode_command="configure terminal revert timer 1")
    assert "Enter configuration commands" in out
    assert "r1-trial(config)#" in out  # the change was live while the timer ran
    conn.disconnect()
    wait_for(lambda: ctl.info("r1")["counters"]["reverts"] == 1, "the revert timer")
    info = ctl.info("r1")
    assert info["hostname"] == "r1" and info["pending_revert"] is None
    assert stable(ctl.config("r1")) == stable(before)
    assert stable(ctl.flash("r1")["archive-1"]) == stable(before)  # the archived snapshot


def test_ios_configure_confirm_keeps_the_change(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "r1")
    conn.send_config_set(ARCHIVE)
    ctl.set_knobs("r1", minute_seconds=2)
    conn.send_config_set(["ntp server 192.0.2.51"], config_mode_command="conf t revert timer 1")
    left = ctl.info("r1")["pending_revert"]
    assert left is not None and 0 < left <= 2
    assert send(conn, "configure confirm").strip() == ""
    assert ctl.info("r1")["pending_revert"] is None
    assert send(conn, "configure confirm").strip() == "% No Rollback Confirmed Change pending"
    conn.disconnect()
    time.sleep(left + 0.3)  # past the deadline the timer had: nothing may revert
    assert "ntp server 192.0.2.51" in ctl.config("r1")
    assert ctl.info("r1")["counters"]["reverts"] == 0


def test_ios_configure_revert_now_and_timer(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "r1")
    conn.send_config_set(ARCHIVE)
    before = send(conn, "show running-config")
    assert send(conn, "configure revert now").strip() == "% No Rollback Confirmed Change pending"
    conn.send_config_set(["ntp server 192.0.2.52"], config_mode_command="configure terminal revert timer idle 10")
    assert ctl.info("r1")["pending_revert"] > 60 * 9
    send(conn, "configure revert timer 120")
    assert ctl.info("r1")["pending_revert"] > 60 * 119
    send(conn, "configure revert now")
    assert ctl.info("r1")["pending_revert"] is None
    assert stable(send(conn, "show running-config")) == stable(before)


# -- EOS: configuration sessions ------------------------------------------------------------------
def test_eos_session_edits_are_invisible_until_commit(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "sw1")
    before = ctl.config("sw1")
    out = conn.send_config_set(["hostname sw1-staged", "interface Ethernet1", "description staged"],
                               config_mode_command="configure session mspctl-abc")
    assert "sw1(config-s-mspctl)#" in out and "sw1(config-s-mspctl-if-Et1)#" in out  # no new hostname yet
    assert stable(ctl.config("sw1")) == stable(before) and conn.find_prompt() == "sw1#"
    sessions = send(conn, "show configuration sessions")
    assert re.search(r"^\s+mspctl-abc\s+pending\b", sessions, re.M)
    # Re-entering the same name continues the same private copy.
    conn.send_config_set(["ntp server 192.0.2.63"], config_mode_command="configure session mspctl-abc")
    assert "192.0.2.63" not in ctl.config("sw1")
    send(conn, "configure session mspctl-abc commit", expect_string=r"#\s*$")
    conn.set_base_prompt()
    assert conn.find_prompt() == "sw1-staged#"
    running = ctl.config("sw1")
    assert "   description staged" in running and "ntp server 192.0.2.63" in running
    assert ctl.info("sw1")["sessions"] == [] and ctl.info("sw1")["pending_revert"] is None
    assert send(conn, "configure session mspctl-abc commit").startswith("%")  # it is gone


def test_eos_session_commit_inside_and_abort(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "sw1")
    before = ctl.config("sw1")
    conn.send_config_set(["ntp server 192.0.2.64", "abort"], config_mode_command="configure session s1",
                         exit_config_mode=False)
    assert conn.find_prompt() == "sw1#" and ctl.info("sw1")["sessions"] == []
    conn.send_config_set(["ntp server 192.0.2.65"], config_mode_command="configure session s2")
    assert send(conn, "configure session s2 abort").strip() == ""
    assert stable(ctl.config("sw1")) == stable(before)
    assert send(conn, "configure session nope abort").startswith("%")
    conn.send_config_set(["ntp server 192.0.2.66", "commit"], config_mode_command="configure session s3",
                         exit_config_mode=False)
    assert conn.find_prompt() == "sw1#" and "ntp server 192.0.2.66" in ctl.config("sw1")


def test_eos_commit_timer_reverts_by_itself_after_the_client_vanishes(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "sw1")
    before = ctl.config("sw1")
    ctl.set_knobs("sw1", minute_seconds=1)
    conn.send_config_set(["hostname sw1-trial", "ntp server 192.0.2.67"], config_mode_command="configure session t1")
    out = send(conn, "configure session t1 commit timer 00:01:00", expect_string=r"#\s*$",
                            strip_prompt=False)
    assert "sw1-trial#" in out  # committed: the prompt follows the new hostname
    vanish(conn)
    wait_for(lambda: ctl.info("sw1")["counters"]["reverts"] == 1, "the commit timer")
    info = ctl.info("sw1")
    assert info["hostname"] == "sw1" and info["pending_revert"] is None and info["sessions"] == []
    assert stable(ctl.config("sw1")) == stable(before)


def test_eos_configure_session_commit_confirms_the_commit_timer(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "sw1")
    ctl.set_knobs("sw1", minute_seconds=2)
    conn.send_config_set(["ntp server 192.0.2.68"], config_mode_command="configure session t2")
    send(conn, "configure session t2 commit timer 00:01:00")
    left = ctl.info("sw1")["pending_revert"]
    assert left is not None and ctl.info("sw1")["pending_session"] == "t2"
    assert re.search(r"^\s+t2\s+pendingCommitTimer\s+00:0[01]:\d\d$", send(conn, "show configuration sessions"),
                     re.M)
    assert send(conn, "configure session t2").startswith("%")  # no edits while the timer runs
    assert send(conn, "configure session t2 commit").strip() == ""
    assert ctl.info("sw1")["pending_revert"] is None
    vanish(conn)
    time.sleep(left + 0.3)  # past the deadline the timer had: nothing may revert
    assert "ntp server 192.0.2.68" in ctl.config("sw1") and ctl.info("sw1")["counters"]["reverts"] == 0


def test_eos_abort_of_a_pending_commit_timer_reverts_now(device_lab: DeviceLab) -> None:
    ctl = device_lab.control
    conn = privileged(device_lab, "sw1")
    before = ctl.config("sw1")
    conn.send_config_set(["ntp server 192.0.2.69"], config_mode_command="configure session t3")
    send(conn, "configure session t3 commit timer 00:10:00")
    assert "ntp server 192.0.2.69" in ctl.config("sw1")
    send(conn, "configure session t3 abort")
    assert stable(ctl.config("sw1")) == stable(before) and ctl.info("sw1")["pending_revert"] is None
