"""A simulated Arista EOS device driven by the real netmiko client over real SSH."""

from __future__ import annotations

import pytest
from devlab import DeviceLab

pytestmark = pytest.mark.lab


def test_login_enable_and_show_version(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("sw1")
    assert conn.find_prompt() == "sw1>"
    conn.enable()
    assert conn.find_prompt() == "sw1#"
    parsed = conn.send_command("show version", use_textfsm=True)
    assert isinstance(parsed, list)
    assert parsed[0]["model"] == "DCS-7050SX3-48YC8"
    assert parsed[0]["serial_number"] == "JPE19181234"
    assert parsed[0]["image"] == "4.28.3M"


def test_show_running_config_has_the_eos_header(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("sw1")
    conn.enable()
    text = conn.send_command("show running-config")
    assert text.startswith("! Command: show running-config")
    assert "! device: sw1 (DCS-7050SX3-48YC8, EOS-4.28.3M)" in text
    assert "\ninterface Ethernet1\n   description uplink\n   no switchport\n   ip address 10.3.0.1/31\n" in text


def test_config_set_with_eos_prompts_no_lines_and_save(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("sw1")
    conn.enable()
    output = conn.send_config_set([
        "interface Ethernet2",
        "description server",
        "shutdown",
        "interface Ethernet1",
        "no description",
        "router bgp 65003",
        "neighbor 10.3.0.0 description spine",
        "exit",
        "no ntp server 10.0.0.1",
    ])
    assert "% Invalid input" not in output
    assert "sw1(config-if-Et2)#" in output and "sw1(config-router-bgp)#" in output
    running = conn.send_command("show running-config")
    assert "\ninterface Ethernet2\n   description server\n   shutdown\n" in running
    assert "description uplink" not in running
    assert "   neighbor 10.3.0.0 description spine" in running
    assert "ntp server" not in running

    assert "ntp server 10.0.0.1" in conn.send_command("show startup-config")
    assert "Copy completed successfully." in conn.save_config()
    startup = conn.send_command("show startup-config")
    assert "ntp server" not in startup and "description server" in startup
    assert startup.startswith("! Startup-config last modified at")


def test_filters_and_errors(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("sw1")
    conn.enable()
    assert conn.send_command("show running-config | include ^interface").splitlines() == [
        "interface Ethernet1", "interface Management1"]
    assert conn.send_command("show running-config | section Management").splitlines() == [
        "interface Management1", "   ip address 10.1.0.2/24"]
    assert conn.send_command("show bogus").strip() == "% Invalid input"
    assert conn.send_command("show").strip() == "% Incomplete command"


def test_hostname_changes_the_prompt(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("sw1")
    conn.enable()
    conn.send_config_set(["hostname leaf-3"])
    assert conn.find_prompt() == "leaf-3#"


def test_terminal_commands_netmiko_may_send_are_harmless(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("sw2")
    conn.enable()
    for command in ("terminal length 0", "terminal width 511", "terminal pager 0", "no terminal pager"):
        assert "% Invalid input" not in conn.send_command(command)
