"""mspctl/inventory/platforms.py: the one platform normaliser. NetBox platform slug -> canonical
platform, Netmiko and Ansible connection settings, and a server's OS family."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspctl.inventory.platforms import PATCHABLE_FAMILIES, UNKNOWN, PlatformInfo, PlatformMap, os_family
from mspctl.settings import load_settings

NETWORK_CLI = "ansible.netcommon.network_cli"


@pytest.mark.parametrize(("slug", "netmiko", "network_os"), [
    ("cisco_ios", "cisco_ios", "cisco.ios.ios"),
    ("arista_eos", "arista_eos", "arista.eos.eos"),
    ("juniper_junos", "juniper_junos", "junipernetworks.junos.junos"),
    ("cisco_nxos", "cisco_nxos", "cisco.nxos.nxos"),
])
def test_network_platform_defaults_from_netutils(slug: str, netmiko: str, network_os: str) -> None:
    assert PlatformMap().resolve(slug) == PlatformInfo(netmiko, network_os, NETWORK_CLI, True, None, netmiko)


def test_defaults_agree_with_netutils_lib_mapper() -> None:
    from netutils.lib_mapper import ANSIBLE_LIB_MAPPER_REVERSE, NETMIKO_LIB_MAPPER_REVERSE

    info = PlatformMap().resolve("cisco_ios")
    assert info.netmiko == NETMIKO_LIB_MAPPER_REVERSE["cisco_ios"]
    assert info.ansible_network_os == ANSIBLE_LIB_MAPPER_REVERSE["cisco_ios"]


@pytest.mark.parametrize("slug", ["cisco-ios", "Cisco_IOS", "CISCO-IOS"])
def test_netbox_style_slugs_are_normalised(slug: str) -> None:
    assert PlatformMap().resolve(slug) == PlatformMap().resolve("cisco_ios")


@pytest.mark.parametrize(("slug", "family"), [("debian", "debian"), ("ubuntu", "debian"), ("linux", None),
                                              ("rhel", "redhat"), ("Ubuntu", "debian")])
def test_linux_servers_use_ssh_and_are_not_network_gear(slug: str, family: str | None) -> None:
    info = PlatformMap().resolve(slug)
    assert info == PlatformInfo("linux", None, "ssh", False, family, family or "linux")
    assert info.server and not info.network


# What a NetBox nobody here wrote calls its platforms (issue 9, section 8).
@pytest.mark.parametrize(("slug", "canonical"), [
    ("cisco-ios", "cisco_ios"), ("Cisco IOS", "cisco_ios"), ("cisco_ios", "cisco_ios"), ("CISCO-IOS", "cisco_ios"),
    ("ios", "cisco_ios"), ("arista-eos", "arista_eos"), ("eos", "arista_eos"), ("Arista EOS", "arista_eos"),
    ("junos", "juniper_junos"), ("juniper-junos", "juniper_junos"), ("nxos", "cisco_nxos"),
    ("cisco-ios-xe", "cisco_xe"),
])
def test_network_spellings_have_one_canonical_platform(slug: str, canonical: str) -> None:
    pm = PlatformMap()
    info = pm.resolve(slug)
    assert info.network and info.name == canonical == pm.canonical(slug)
    assert info.netmiko == canonical  # the Netmiko device_type is what templates/<platform>/ is named by
    assert info.os_family is None


@pytest.mark.parametrize(("slug", "family"), [
    ("ubuntu-linux-20-04", "debian"), ("Ubuntu Linux 22.04", "debian"), ("debian-12", "debian"),
    ("debian-bookworm", "debian"), ("rhel-9", "redhat"), ("rocky-linux-9", "redhat"), ("almalinux-9", "redhat"),
    ("red-hat-enterprise-linux-8", "redhat"), ("centos-stream-9", "redhat"), ("oracle-linux-8", "redhat"),
    ("sles-15", "suse"), ("opensuse-leap-15", "suse"), ("alpine-3-19", "alpine"),
])
def test_server_platforms_resolve_to_their_os_family(slug: str, family: str) -> None:
    info = PlatformMap().resolve(slug)
    assert info == PlatformInfo("linux", None, "ssh", False, family, family)
    assert os_family(slug) == family


def test_only_apt_and_dnf_families_are_patched() -> None:
    assert {"debian", "redhat"} == PATCHABLE_FAMILIES


@pytest.mark.parametrize("slug", ["windows-server-2022", "hp-printer-os", "apc-pdu", "patch-panel"])
def test_platforms_that_are_neither_network_gear_nor_linux_are_unknown(slug: str) -> None:
    info = PlatformMap().resolve(slug)
    assert info == UNKNOWN and not info.server and info.name is None


def test_an_override_wins_over_the_normaliser() -> None:
    pm = PlatformMap({"cisco-ios": {"netmiko": "cisco_ios_telnet"}, "ubuntu-linux-20-04": {"os_family": "redhat"},
                      "appliance-os": {"netmiko": "linux", "os_family": "debian"}})
    # the canonical platform (its templates) stays cisco_ios; only the driver changes
    assert pm.resolve("cisco-ios") == PlatformInfo("cisco_ios_telnet", "cisco.ios.ios", NETWORK_CLI, True, None,
                                                   "cisco_ios")
    assert pm.resolve("ubuntu-linux-20-04").os_family == "redhat"
    assert pm.resolve("appliance-os") == PlatformInfo("linux", None, "ssh", False, "debian", "debian")
    assert pm.resolve("cisco_ios") == PlatformMap().resolve("cisco_ios")  # overrides are by exact slug


@pytest.mark.parametrize("slug", ["no-such-os", None, ""])
def test_unknown_or_missing_platform(slug: str | None) -> None:
    info = PlatformMap().resolve(slug)
    assert info == UNKNOWN
    assert (info.netmiko, info.ansible_network_os, info.ansible_connection, info.network) == (None, None, None, False)


def test_partial_override_keeps_the_other_defaults() -> None:
    pm = PlatformMap({"cisco_ios": {"netmiko": "cisco_ios_telnet"}})
    assert pm.resolve("cisco_ios") == PlatformInfo("cisco_ios_telnet", "cisco.ios.ios", NETWORK_CLI, True, None,
                                                   "cisco_ios")
    # other platforms are untouched
    assert pm.resolve("arista_eos") == PlatformMap().resolve("arista_eos")


def test_override_of_connection_only_for_a_server() -> None:
    pm = PlatformMap({"debian": {"ansible_connection": "paramiko"}})
    assert pm.resolve("debian") == PlatformInfo("linux", None, "paramiko", False, "debian", "debian")


def test_full_override_defines_an_unknown_platform() -> None:
    pm = PlatformMap({"routeros": {"netmiko": "mikrotik_routeros",
                                   "ansible_network_os": "community.routeros.routeros",
                                   "ansible_connection": "ansible.netcommon.network_cli"}})
    assert pm.resolve("routeros") == PlatformInfo("mikrotik_routeros", "community.routeros.routeros",
                                                  NETWORK_CLI, True, None, "mikrotik_routeros")


def test_override_with_network_os_defaults_the_connection_to_network_cli() -> None:
    pm = PlatformMap({"vyos-custom": {"netmiko": "vyos", "ansible_network_os": "vyos.vyos.vyos"}})
    assert pm.resolve("vyos-custom") == PlatformInfo("vyos", "vyos.vyos.vyos", NETWORK_CLI, True, None, "vyos")


def test_overrides_from_settings_file(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text('[platforms.cisco_ios]\nnetmiko = "cisco_xe"\n\n'
                   '[platforms.opnsense]\nnetmiko = "linux"\nansible_connection = "ssh"\n', encoding="utf-8")
    settings = load_settings(config_file=cfg, env={}, cwd=tmp_path)
    pm = PlatformMap(settings.platforms)
    assert pm.resolve("cisco_ios") == PlatformInfo("cisco_xe", "cisco.ios.ios", NETWORK_CLI, True, None, "cisco_ios")
    assert pm.resolve("opnsense") == PlatformInfo("linux", None, "ssh", False, None, "linux")
    assert pm.resolve("arista_eos").netmiko == "arista_eos"


@pytest.mark.parametrize("slug", ["alcatel_aos", "brocade_fastiron"])
def test_network_cli_is_only_set_with_a_network_os(slug: str) -> None:
    info = PlatformMap().resolve(slug)
    assert info.netmiko is not None  # Netmiko does know the platform
    assert info.ansible_connection != NETWORK_CLI or info.ansible_network_os is not None


@pytest.mark.parametrize(("slug", "template"), [
    ("cisco-ios", "cisco_ios/main.j2"), ("Cisco IOS", "cisco_ios/main.j2"), ("cisco_ios", "cisco_ios/main.j2"),
    ("arista-eos", "arista_eos/main.j2"), ("eos", "arista_eos/main.j2"),
    ("my-own-os", "my-own-os/main.j2"),  # unknown: the slug's own folder, as before
])
def test_render_looks_templates_up_by_the_canonical_platform(slug: str, template: str) -> None:
    from mspctl.render.engine import TemplateEngine

    repo = Path(__file__).resolve().parents[2] / "templates"
    engine = TemplateEngine(repo)
    assert engine.template_for(slug) == template
    assert engine.has_template(slug) == (repo / template).is_file()
    assert not engine.has_template(None) and engine.template_for(None) == "(no platform)/main.j2"


def test_render_template_lookup_follows_a_settings_override(tmp_path: Path) -> None:
    from mspctl.render.engine import TemplateEngine

    engine = TemplateEngine(tmp_path, platforms=PlatformMap({"edge-os": {"netmiko": "cisco_ios",
                                                                         "ansible_network_os": "cisco.ios.ios"}}))
    assert engine.template_for("edge-os") == "cisco_ios/main.j2"
