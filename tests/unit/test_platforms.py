"""mspctl/inventory/platforms.py: NetBox platform slug -> Netmiko and Ansible connection settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspctl.inventory.platforms import UNKNOWN, PlatformInfo, PlatformMap
from mspctl.settings import load_settings

NETWORK_CLI = "ansible.netcommon.network_cli"


@pytest.mark.parametrize(("slug", "netmiko", "network_os"), [
    ("cisco_ios", "cisco_ios", "cisco.ios.ios"),
    ("arista_eos", "arista_eos", "arista.eos.eos"),
    ("juniper_junos", "juniper_junos", "junipernetworks.junos.junos"),
    ("cisco_nxos", "cisco_nxos", "cisco.nxos.nxos"),
])
def test_network_platform_defaults_from_netutils(slug: str, netmiko: str, network_os: str) -> None:
    assert PlatformMap().resolve(slug) == PlatformInfo(netmiko, network_os, NETWORK_CLI, True)


def test_defaults_agree_with_netutils_lib_mapper() -> None:
    from netutils.lib_mapper import ANSIBLE_LIB_MAPPER_REVERSE, NETMIKO_LIB_MAPPER_REVERSE

    info = PlatformMap().resolve("cisco_ios")
    assert info.netmiko == NETMIKO_LIB_MAPPER_REVERSE["cisco_ios"]
    assert info.ansible_network_os == ANSIBLE_LIB_MAPPER_REVERSE["cisco_ios"]


@pytest.mark.parametrize("slug", ["cisco-ios", "Cisco_IOS", "CISCO-IOS"])
def test_netbox_style_slugs_are_normalised(slug: str) -> None:
    assert PlatformMap().resolve(slug) == PlatformMap().resolve("cisco_ios")


@pytest.mark.parametrize("slug", ["debian", "ubuntu", "linux", "rhel", "Ubuntu"])
def test_linux_servers_use_ssh_and_are_not_network_gear(slug: str) -> None:
    assert PlatformMap().resolve(slug) == PlatformInfo("linux", None, "ssh", False)


@pytest.mark.parametrize("slug", ["no-such-os", "ios", None, ""])
def test_unknown_or_missing_platform(slug: str | None) -> None:
    info = PlatformMap().resolve(slug)
    assert info == UNKNOWN
    assert (info.netmiko, info.ansible_network_os, info.ansible_connection, info.network) == (None, None, None, False)


def test_partial_override_keeps_the_other_defaults() -> None:
    pm = PlatformMap({"cisco_ios": {"netmiko": "cisco_ios_telnet"}})
    assert pm.resolve("cisco_ios") == PlatformInfo("cisco_ios_telnet", "cisco.ios.ios", NETWORK_CLI, True)
    # other platforms are untouched
    assert pm.resolve("arista_eos") == PlatformMap().resolve("arista_eos")


def test_override_of_connection_only_for_a_server() -> None:
    pm = PlatformMap({"debian": {"ansible_connection": "paramiko"}})
    assert pm.resolve("debian") == PlatformInfo("linux", None, "paramiko", False)


def test_full_override_defines_an_unknown_platform() -> None:
    pm = PlatformMap({"routeros": {"netmiko": "mikrotik_routeros",
                                   "ansible_network_os": "community.routeros.routeros",
                                   "ansible_connection": "ansible.netcommon.network_cli"}})
    assert pm.resolve("routeros") == PlatformInfo("mikrotik_routeros", "community.routeros.routeros",
                                                  NETWORK_CLI, True)


def test_override_with_network_os_defaults_the_connection_to_network_cli() -> None:
    pm = PlatformMap({"vyos-custom": {"netmiko": "vyos", "ansible_network_os": "vyos.vyos.vyos"}})
    assert pm.resolve("vyos-custom") == PlatformInfo("vyos", "vyos.vyos.vyos", NETWORK_CLI, True)


def test_overrides_from_settings_file(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text('[platforms.cisco_ios]\nnetmiko = "cisco_xe"\n\n'
                   '[platforms.opnsense]\nnetmiko = "linux"\nansible_connection = "ssh"\n', encoding="utf-8")
    settings = load_settings(config_file=cfg, env={}, cwd=tmp_path)
    pm = PlatformMap(settings.platforms)
    assert pm.resolve("cisco_ios") == PlatformInfo("cisco_xe", "cisco.ios.ios", NETWORK_CLI, True)
    assert pm.resolve("opnsense") == PlatformInfo("linux", None, "ssh", False)
    assert pm.resolve("arista_eos").netmiko == "arista_eos"


@pytest.mark.parametrize("slug", ["alcatel_aos", "brocade_fastiron"])
def test_network_cli_is_only_set_with_a_network_os(slug: str) -> None:
    info = PlatformMap().resolve(slug)
    assert info.netmiko is not None  # Netmiko does know the platform
    assert info.ansible_connection != NETWORK_CLI or info.ansible_network_os is not None
