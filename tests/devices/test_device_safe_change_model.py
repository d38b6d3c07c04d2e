"""Flash, configure replace, the IOS revert timer and EOS sessions in the device model (no SSH, fast).

Timers are driven by moving a pending revert's deadline into the past and calling ``tick()``,
exactly what the lab's periodic task does when the time has really come.
"""

from __future__ import annotations

import pytest
from devlab import EOS_SEED, IOS_SEED

from lab.devices.cli_session import CliSession, Mode
from lab.devices.device import Device
from lab.devices.spec import Knobs, SpecError, parse_spec


def device(platform: str = "cisco_ios", config: str = IOS_SEED) -> Device:
    return Device(parse_spec([{"name": "r1", "platform": platform, "running_config": config}]).devices[0])


def cli(dev: Device, user: str = "tester") -> CliSession:
    session = CliSession(dev, user)
    session.mode = Mode.PRIV
    return session


def typed(session: CliSession, *lines: str) -> str:
    return "".join(session.handle(line).output for line in lines)


def expire(dev: Device) -> None:
    assert dev.pending is not None
    dev.pending.deadline = 0.0
    dev.tick()


def body(dev: Device) -> list[str]:
    return dev.platform.body(dev.running)


def test_minute_seconds_knob_is_validated() -> None:
    assert Knobs().minute_seconds == 60.0
    assert Knobs().updated({"minute_seconds": 0.5}).minute_seconds == 0.5
    for bad in (0, -1, True, "1"):
        with pytest.raises(SpecError, match="minute_seconds"):
            Knobs().updated({"minute_seconds": bad})


def test_copy_prompts_and_the_startup_copy_is_unchanged() -> None:
    dev = device()
    ios = cli(dev)
    assert typed(ios, "copy running-config flash:a") == ""
    assert ios.prompt == "Destination filename [a]? "
    out = typed(ios, "flash:b")  # another name answers with that name
    assert out.endswith(" bytes/sec)\n") and set(dev.flash) == {"b"}
    typed(ios, "copy run start")
    assert ios.prompt == "Destination filename [startup-config]? "
    assert typed(ios, "") == "Building configuration...\n[OK]\n"
    assert "% Invalid input" in typed(ios, "copy running-config tftp://10.0.0.1/x")
    assert typed(ios, "copy running-config") == "% Incomplete command.\n\n"
    eos = cli(device("arista_eos", EOS_SEED))
    assert typed(eos, "copy running-config flash:/s.cfg") == "Copy completed successfully.\n"
    assert set(eos.device.flash) == {"s.cfg"}


def test_configure_replace_restores_banners_and_secrets_exactly() -> None:
    dev = device()
    ios = cli(dev)
    typed(ios, "conf t", "username ops secret 5 $1$abc$xyz", "banner login ^C", "line one", "  two", "^C", "end")
    snapshot = body(dev)
    typed(ios, "copy running-config flash:pre", "")
    typed(ios, "conf t", "no username ops", "no banner login", "banner motd ^Cnew^C", "hostname other", "end")
    assert typed(ios, "configure replace flash:pre force") == "Total number of passes: 1\nRollback Done\n\n"
    assert body(dev) == snapshot and ios.prompt == "r1#"
    assert dev.changed_by == "tester"


def test_a_configure_replace_or_revert_closes_sub_modes_of_the_old_config() -> None:
    dev = device()
    editor, other = cli(dev), cli(dev, "other")
    typed(other, "copy running-config flash:pre", "")
    typed(editor, "conf t", "interface Gi0/1")
    typed(other, "configure replace flash:pre force")
    # The old tree's interface section is gone: an interface line is now a global line (refused)
    # instead of an edit lost in a tree nobody runs.
    assert "% Invalid input" in typed(editor, "description lost?")
    assert editor.prompt == "r1(config)#"
    typed(editor, "interface Gi0/1", "description lands in the new tree")
    assert " description lands in the new tree" in body(dev)


def test_ios_archive_section_and_its_files() -> None:
    dev = device()
    ios = cli(dev)
    typed(ios, "conf t", "archive")
    assert ios.prompt == "r1(config-archive)#"
    typed(ios, "log config")
    assert ios.prompt == "r1(config-archive-log-cfg)#"
    typed(ios, "logging enable", "exit", "path flash:arch", "maximum 2", "maximum 3", "write-memory", "end")
    assert "\n".join(body(dev)).count("archive\n log config\n  logging enable\n path flash:arch\n maximum 3\n"
                                      " write-memory\n") == 1
    for _ in range(4):
        typed(ios, "write memory")  # write-memory: each save is archived too
    assert sorted(dev.flash) == ["arch-2", "arch-3", "arch-4"]  # maximum 3: the oldest went


def test_ios_revert_timer_grammar() -> None:
    dev = device()
    ios = cli(dev)
    assert typed(ios, "configure terminal revert timer 5").startswith("% Archive path is not configured")
    assert ios.mode is Mode.PRIV and dev.pending is None
    typed(ios, "conf t", "archive", "path flash:archive", "end")
    assert "% Invalid input" in typed(ios, "configure terminal revert timer 121")
    assert "% Invalid input" in typed(ios, "configure terminal revert timer 0")
    assert typed(ios, "configure terminal revert timer") == "% Incomplete command.\n\n"
    assert "% Invalid input" in typed(ios, "configure session x")
    assert "% Invalid input" in typed(ios, "show configuration sessions")
    assert typed(ios, "conf t rev tim 5") == "Enter configuration commands, one per line.  End with CNTL/Z.\n"
    assert ios.prompt == "r1(config)#" and dev.pending is not None and "archive-1" in dev.flash
    typed(ios, "hostname changed", "end")
    assert typed(ios, "configure terminal revert timer 5").startswith("% A Rollback Confirmed Change is already")
    expire(dev)
    assert dev.hostname == "r1" and dev.counters.reverts == 1 and ios.prompt == "r1#"
    assert typed(ios, "configure revert timer 3") == "% No Rollback Confirmed Change pending\n"


def test_eos_sessions_grammar_and_states() -> None:
    dev = device("arista_eos", EOS_SEED)
    eos = cli(dev)
    assert "% Invalid input" in typed(eos, "configure confirm")
    assert typed(eos, "configure session") == "% Incomplete command\n"
    typed(eos, "configure session mspctl-1234", "hostname staged", "interface Ethernet1")
    assert eos.prompt == "sw1(config-s-mspctl-if-Et1)#"
    assert typed(eos, "commit timer 1:00") == "% Invalid input\n"  # hh:mm:ss
    assert typed(eos, "commit timer 00:00:00") == "% Invalid input\n"
    typed(eos, "end")
    assert dev.hostname == "sw1" and dev.sessions
    other = cli(dev, "other")
    typed(other, "configure session other", "ntp server 192.0.2.9", "commit timer 00:05:00")
    assert dev.pending is not None and dev.pending.session == "other"
    # One commit timer at a time: a second one is refused, the session stays pending.
    assert typed(eos, "configure session mspctl-1234 commit timer 00:05:00").startswith("% Session other is pending")
    assert "mspctl-1234" in dev.sessions
    table = typed(eos, "show configuration sessions")
    assert "mspctl-1234" in table and "pendingCommitTimer" in table
    typed(other, "configure session other commit timer 00:10:00")  # a new deadline, still pending
    assert dev.pending is not None and dev.pending.deadline > 0
    expire(dev)
    assert "ntp server 192.0.2.9" not in "\n".join(body(dev)) and dev.counters.reverts == 1
    assert typed(eos, "configure session mspctl-1234 commit") == ""
    assert dev.hostname == "staged" and dev.sessions == {} and dev.pending is None


def test_an_eos_session_committed_elsewhere_ends_its_editor() -> None:
    dev = device("arista_eos", EOS_SEED)
    editor, other = cli(dev), cli(dev, "other")
    typed(editor, "configure session s1", "ntp server 192.0.2.10")
    typed(other, "configure session s1 commit")
    assert "ntp server 192.0.2.10" in body(dev)
    out = typed(editor, "ntp server 192.0.2.11")
    assert out.startswith("% Configuration session s1 was committed or aborted elsewhere")
    assert editor.mode is Mode.PRIV and "ntp server 192.0.2.11" not in body(dev)


def test_reset_clears_flash_sessions_and_timers() -> None:
    dev = device("arista_eos", EOS_SEED)
    eos = cli(dev)
    typed(eos, "copy running-config flash:x", "configure session a", "ntp server 192.0.2.1", "end",
          "configure session b", "ntp server 192.0.2.2", "commit timer 01:00:00")
    assert dev.flash and dev.sessions and dev.pending is not None
    dev.reset()
    assert dev.flash == {} and dev.sessions == {}
    assert dev.pending is None
    info = dev.describe()
    assert info["pending_revert"] is None and info["flash"] == [] and info["counters"]["reverts"] == 0
