"""Three brownfield running configs (lab/brownfield/configs) loaded verbatim into the simulator,
driven by the real netmiko client over real SSH: the devices print every line back, keep the
hostname of the config, take the config pasted back into configuration mode without a change,
and restore it exactly with ``configure replace``.

The lab is this module's own: its own spec and MSPCTL_LAB_HOME, so a refused line here cannot
leak into the shared session lab.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import pytest
from devlab import REPO, SECRET, DeviceLab, free_block, lab_cli
from netmiko import BaseConnection

from lab.devices import config_tree
from lab.devices.control import ControlClient
from lab.devices.runner import Instance

pytestmark = pytest.mark.lab

CONFIGS = REPO / "lab" / "brownfield" / "configs"
# NetBox name -> (config file, platform, hostname in the config)
DEVICES = {
    "hooli-core-sw1": ("hq-core-01.cfg", "cisco_ios", "HQ-CORE-01"),
    "hooli-wan-rtr1": ("hq-wan-gw.cfg", "cisco_ios", "hq-wan-gw"),
    "hooli-leaf1": ("dc1-leaf1a.cfg", "arista_eos", "DC1-LEAF1A"),
}
# Lines that hold a credential or key material: each must come back character for character.
_SECRET = re.compile(r"\b(?:secret|password|key 7|key-string|key-hash|ssh-key|server-key|isakmp key|community"
                     r"|auth sha|md5)\b")
# What a device prints around its configuration, never typed back (IOS header, EOS header, end).
_NOT_TYPED = re.compile(r"^(?:Building configuration\.\.\.|Current configuration :|end$)")
_ERROR = re.compile(r"^% ", re.M)

# Per device: a new line, a ``no`` of an interface line, a changed MOTD banner.
CHANGES = {
    "hooli-core-sw1": ["ntp server 10.1.1.3", "interface GigabitEthernet1/0/10", "no spanning-tree portfast", "exit",
                       "banner motd ^CChanged by the brownfield test^C"],
    "hooli-wan-rtr1": ["ntp server 10.1.1.3", "interface Tunnel0", "no tunnel protection ipsec profile IPSEC-DC1",
                       "exit", "banner motd ^CChanged by the brownfield test^C"],
    "hooli-leaf1": ["ntp server vrf MGMT 10.1.1.3", "interface Ethernet10", "no mtu 9214", "exit",
                    "banner motd", "Changed by the brownfield test", "EOF"],
}
GONE = {"hooli-core-sw1": ("interface GigabitEthernet1/0/10", "spanning-tree portfast"),
        "hooli-wan-rtr1": ("interface Tunnel0", "tunnel protection ipsec profile IPSEC-DC1"),
        "hooli-leaf1": ("interface Ethernet10", "mtu 9214")}


def config_text(name: str) -> str:
    return (CONFIGS / DEVICES[name][0]).read_text()


def tree(text: str) -> list[tuple[int, str]]:
    """Every configuration line with its depth, in order; decoration and spacing left out."""
    return [(depth, node.text) for depth, node in config_tree.parse(text).walk()]


def children(lines: list[tuple[int, str]], header: str) -> list[str]:
    """The lines right below the top-level section ``header``."""
    at = lines.index((0, header)) + 1
    end = next((n for n in range(at, len(lines)) if lines[n][0] == 0), len(lines))
    return [text for depth, text in lines[at:end] if depth == 1]


@pytest.fixture(scope="module")
def brownfield_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceLab]:
    home = tmp_path_factory.mktemp("brownfield-home")
    env = {**os.environ, "MSPCTL_LAB_HOME": str(home), "PYTHONPATH": str(REPO)}
    block = free_block()
    devices = {name: {"platform": platform, "host": f"{block}.{n}", "running_config": config_text(name)}
               for n, (name, (_, platform, _)) in enumerate(DEVICES.items(), 1)}
    spec = {"defaults": {"username": "admin", "password": "admin", "enable_secret": SECRET},
            "devices": [{"name": name, **dev} for name, dev in devices.items()]}
    spec_path = tmp_path_factory.mktemp("brownfield-spec") / "brownfield.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    lab_cli("up", "--spec", str(spec_path), env=env)
    lab = DeviceLab(spec_path, devices, ControlClient(Instance.of(spec_path, str(home)).control), env)
    try:
        yield lab
    finally:
        lab.close_all()
        lab_cli("down", "--spec", str(spec_path), env=env, check=False)


@pytest.fixture
def brownfield(brownfield_lab: DeviceLab) -> Iterator[DeviceLab]:
    """The module's lab with every device back at its brownfield config."""
    brownfield_lab.control.reset()
    yield brownfield_lab
    brownfield_lab.close_all()


def privileged(lab: DeviceLab, name: str) -> BaseConnection:
    conn = lab.connect(name)
    conn.enable()
    return conn


def running(conn: BaseConnection) -> str:
    return str(conn.send_command("show running-config", read_timeout=60))


def paste(conn: BaseConnection, lines: list[str]) -> str:
    """Paste ``lines`` into configuration mode in one go, as a person pastes into a terminal, then
    ``end``; returns the transcript up to the exec prompt. (netmiko's send_config_set turns off
    echo checks for a config holding a banner and then sleeps 50 ms per line.)"""
    conn.config_mode()
    conn.write_channel("".join(line + conn.RETURN for line in [*lines, "end"]))
    return str(conn.read_until_pattern(pattern=re.escape(conn.base_prompt) + r"#\s*$", read_timeout=120))


# -- the configs themselves ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "minimum"), [("hooli-core-sw1", 400), ("hooli-wan-rtr1", 250),
                                               ("hooli-leaf1", 300)])
def test_configs_are_full_running_configs(name: str, minimum: int) -> None:
    text = config_text(name)
    platform, hostname = DEVICES[name][1:]
    assert len(text.splitlines()) >= minimum
    if platform == "cisco_ios":
        assert text.startswith("Building configuration...\n\nCurrent configuration : ")
    else:
        assert text.startswith("! Command: show running-config\n! device: ")
    assert text.rstrip("\n").endswith("\nend")
    assert (0, f"hostname {hostname}") in tree(text)


# -- through SSH ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DEVICES)
def test_show_running_config_prints_every_line_of_the_file(brownfield: DeviceLab, name: str) -> None:
    text = config_text(name)
    shown = running(privileged(brownfield, name))
    assert tree(shown) == tree(text)
    if DEVICES[name][1] == "cisco_ios":
        assert shown.startswith("Building configuration...")
        assert re.search(r"^Current configuration : \d+ bytes$", shown, re.M)
        assert shown.count("\tquit") == text.count("\tquit") > 0  # each certificate's hex ends as on IOS
    else:
        assert shown.startswith("! Command: show running-config")
    assert shown.rstrip().endswith("end")


@pytest.mark.parametrize("name", DEVICES)
def test_banners_and_secrets_come_back_intact(brownfield: DeviceLab, name: str) -> None:
    text = config_text(name)
    shown = running(privileged(brownfield, name))
    banners = [n.text for n in config_tree.parse(text).children if n.text.startswith("banner ")]
    assert len(banners) >= 2
    for banner in banners:
        assert banner.count("\n") >= 2  # multi-line
        assert f"\n{banner}\n" in shown  # every line, in order, as the file has it
    secrets = [ln.strip() for ln in text.splitlines() if _SECRET.search(ln)]
    assert len(secrets) >= 8
    printed = {ln.strip() for ln in shown.splitlines()}
    assert [s for s in secrets if s not in printed] == []


@pytest.mark.parametrize("name", DEVICES)
def test_the_prompt_is_the_hostname_of_the_config(brownfield: DeviceLab, name: str) -> None:
    hostname = DEVICES[name][2]
    conn = brownfield.connect(name)
    assert conn.find_prompt() == f"{hostname}>"
    conn.enable()
    assert conn.find_prompt() == f"{hostname}#"
    assert name not in conn.find_prompt()


@pytest.mark.parametrize("name", DEVICES)
def test_pasting_the_file_back_changes_nothing(brownfield: DeviceLab, name: str) -> None:
    """Every section, however deep (pubkey-chain users, certificate hex up to ``quit``, police
    actions, EOS ``router bgp`` vlans), is entered where the file has it: no line is refused,
    none lands elsewhere, none replaces another."""
    text = config_text(name)
    conn = privileged(brownfield, name)
    lines = [ln for ln in text.splitlines() if not _NOT_TYPED.match(ln)]
    out = paste(conn, lines)
    assert _ERROR.findall(out) == []
    assert tree(running(conn)) == tree(text)


@pytest.mark.parametrize("name", DEVICES)
def test_configure_replace_restores_the_snapshot_exactly(brownfield: DeviceLab, name: str) -> None:
    text = config_text(name)
    conn = privileged(brownfield, name)
    if DEVICES[name][1] == "cisco_ios":
        out = str(conn.send_command("copy running-config flash:snap.cfg", expect_string=r"\[snap\.cfg\]\? "))
        conn.write_channel(conn.RETURN)
        out += str(conn.read_until_pattern(pattern=r"#\s*$"))
        assert "bytes copied" in out
    else:
        assert str(conn.send_command("copy running-config flash:snap.cfg")).strip() == "Copy completed successfully."
    assert tree(brownfield.control.flash(name)["snap.cfg"]) == tree(text)

    assert _ERROR.findall(str(conn.send_config_set(CHANGES[name]))) == []
    changed = tree(running(conn))
    assert changed != tree(text)
    assert (0, CHANGES[name][0]) in changed
    interface, line = GONE[name]
    assert line in children(tree(text), interface) and line not in children(changed, interface)
    assert any(t.startswith("banner motd") and "Changed by the brownfield test" in t for _, t in changed)

    replace = "configure replace flash:snap.cfg" + (" force" if DEVICES[name][1] == "cisco_ios" else "")
    out = str(conn.send_command(replace, read_timeout=60))
    assert _ERROR.findall(out) == []
    assert tree(running(conn)) == tree(text)


def test_one_interface_line_changes_only_that_line(brownfield: DeviceLab) -> None:
    name = "hooli-core-sw1"
    before = tree(config_text(name))
    conn = privileged(brownfield, name)
    assert _ERROR.findall(str(conn.send_config_set(["interface GigabitEthernet1/0/7", "description x"]))) == []
    at = before.index((0, "interface GigabitEthernet1/0/7")) + 1
    assert before[at] == (1, "description USER-HQ-1F-D107")
    expected = [*before[:at], (1, "description x"), *before[at + 1:]]
    assert tree(running(conn)) == expected
    section = str(conn.send_command("show running-config interface GigabitEthernet1/0/7"))
    assert "\n description x\n switchport access vlan 10\n" in section and "\n shutdown\n" in section
