"""A simulated Cisco IOS device driven by the real netmiko client over real SSH."""

from __future__ import annotations

import re

import pytest
from devlab import DeviceLab

pytestmark = pytest.mark.lab


def test_login_lands_in_user_mode_and_enable_asks_for_the_secret(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    assert conn.find_prompt() == "r1>"
    conn.enable()
    assert conn.find_prompt() == "r1#"
    assert conn.send_command("show privilege").strip() == "Current privilege level is 15"


def test_wrong_enable_secret_fails_to_enter_enable_mode(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1", secret="not-the-secret")
    with pytest.raises(ValueError, match="enable mode"):
        conn.enable()
    assert conn.find_prompt() == "r1>"


def test_show_version_reports_the_spec_and_parses_with_textfsm(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    text = conn.send_command("show version")
    assert "Version 15.9(3)M7" in text
    assert "Processor board ID FDO2140A0XY" in text
    parsed = conn.send_command("show version", use_textfsm=True)
    assert isinstance(parsed, list)
    assert parsed[0]["hostname"] == "r1"
    assert parsed[0]["version"] == "15.9(3)M7"
    assert parsed[0]["hardware"] == ["ISR4331"]
    assert parsed[0]["serial"] == ["FDO2140A0XY"]


def test_show_running_config_has_the_ios_header_and_sections(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    text = conn.send_command("show running-config")
    assert text.startswith("Building configuration...")
    assert re.search(r"^Current configuration : \d+ bytes$", text, re.M)
    assert re.search(r"^! Last configuration change at \d\d:\d\d:\d\d UTC ", text, re.M)
    assert ("\ninterface GigabitEthernet0/1\n description uplink\n ip address 10.2.0.1 255.255.255.252\n"
            " shutdown\n") in text
    assert "\nline vty 0 4\n login local\n" in text
    assert text.rstrip().endswith("end")


def test_config_set_with_sub_modes_and_no_lines_then_save(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    output = conn.send_config_set([
        "interface GigabitEthernet0/1",
        "description core link",
        "no shutdown",
        "ip address 10.9.0.1 255.255.255.0",
        "interface Loopback0",  # a new section straight from another sub-mode, as IOS allows
        "ip address 192.0.2.1 255.255.255.255",
        "exit",
        "no ntp server 10.0.0.1",
        "ntp server 10.0.0.2",
        "router bgp 65001",
        "no neighbor 10.2.0.2 remote-as 65002",
        "neighbor 10.9.0.2 remote-as 65009",
        "line vty 0 4",
        "exec-timeout 5 0",
    ])
    assert "Invalid input" not in output
    assert "r1(config-if)#" in output and "r1(config-router)#" in output and "r1(config-line)#" in output

    running = conn.send_command("show running-config")
    assert "\ninterface GigabitEthernet0/1\n description core link\n ip address 10.9.0.1 255.255.255.0\n!" in running
    assert "\ninterface Loopback0\n ip address 192.0.2.1 255.255.255.255\n" in running
    assert "ntp server 10.0.0.1" not in running and "ntp server 10.0.0.2" in running
    assert "neighbor 10.2.0.2" not in running and " neighbor 10.9.0.2 remote-as 65009" in running
    assert " exec-timeout 5 0" in running

    startup = conn.send_command("show startup-config")
    assert startup.startswith("Using ")
    assert "ntp server 10.0.0.1" in startup and "ntp server 10.0.0.2" not in startup

    assert "[OK]" in conn.save_config()
    startup = conn.send_command("show startup-config")
    assert _body(startup) == _body(conn.send_command("show running-config"))


def test_copy_running_config_asks_for_the_destination(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    conn.send_config_set(["snmp-server location rack 7"])
    output = conn.save_config(cmd="copy running-config startup-config", confirm=True)
    assert "Destination filename [startup-config]?" in output
    assert "[OK]" in output
    assert "snmp-server location rack 7" in conn.send_command("show startup-config")


def test_no_removes_a_whole_section(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    conn.send_config_set(["no router bgp 65001", "no interface GigabitEthernet0/1"])
    running = conn.send_command("show running-config")
    assert "router bgp" not in running and "neighbor" not in running
    assert "GigabitEthernet0/1" not in running and "interface GigabitEthernet0/0" in running


def test_include_and_section_filters(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    assert conn.send_command("show running-config | include ^interface").splitlines() == [
        "interface GigabitEthernet0/0", "interface GigabitEthernet0/1"]
    assert conn.send_command("show running-config | section bgp").splitlines() == [
        "router bgp 65001", " bgp log-neighbor-changes", " neighbor 10.2.0.2 remote-as 65002"]
    assert conn.send_command("sh run | sec uplink").splitlines() == [
        "interface GigabitEthernet0/1", " description uplink"]


def test_invalid_and_incomplete_commands_use_ios_wording(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    output = conn.send_command("show bogus", strip_command=False)
    lines = output.splitlines()
    assert "% Invalid input detected at '^' marker." in lines
    caret = lines[lines.index("% Invalid input detected at '^' marker.") - 1]
    assert caret.index("^") == len("r1#show ")  # under the first bad word
    assert "% Incomplete command." in conn.send_command("show")
    output = conn.send_config_set(["interface"], error_pattern="")
    assert "% Incomplete command." in output
    output = conn.send_config_set(["frobnicate everything"])
    assert "% Invalid input detected at '^' marker." in output


def test_user_mode_cannot_configure(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    output = conn.send_command("configure terminal", expect_string=r"r1[>#]")
    assert "% Invalid input detected at '^' marker." in output


def test_hostname_changes_the_prompt(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    conn.send_config_set(["hostname edge-7"])
    assert conn.find_prompt() == "edge-7#"
    conn.set_base_prompt()
    assert "hostname edge-7" in conn.send_command("show running-config | include hostname")


def test_abbreviations_expand_like_the_real_cli(device_lab: DeviceLab) -> None:
    conn = device_lab.connect("r1")
    conn.enable()
    conn.send_config_set(["int gi0/0", "desc management"], config_mode_command="conf t")
    assert " description management" in conn.send_command("sh run int Gi0/0")
    assert "interface GigabitEthernet0/0" in conn.send_command("sh run int Gi0/0")


def _body(config: str) -> list[str]:
    """The configuration lines without the volatile header a device prints around them."""
    return [ln for ln in config.splitlines()
            if ln and not ln.startswith(("!", "Building configuration", "Current configuration", "Using "))]
