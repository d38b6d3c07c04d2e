"""mspctl/inventory/ansible.py and groups.py: the Ansible inventory built from assets.

The last tests hand the YAML export to the real ``ansible-inventory`` to prove Ansible
accepts it and sees the same hosts, groups and variables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mspctl.cli.output import to_yaml
from mspctl.inventory.ansible import build_groups, host_names, host_vars, to_ansible_list, to_ansible_yaml_tree
from mspctl.inventory.groups import group_names, safe_group
from mspctl.inventory.platforms import PlatformMap
from mspctl.model import Asset

MakeAsset = Callable[..., Asset]
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NETWORK_CLI = "ansible.netcommon.network_cli"


@pytest.fixture
def assets(make_asset: MakeAsset) -> list[Asset]:
    return [
        make_asset("rtr1", id=1, site="acme-hq.1", role="core-router", platform="cisco_ios", status="active",
                   primary_ip="192.0.2.1", serial="FTX123", device_type="ISR4331", tags=("pci-dss", "edge"),
                   custom_fields={"contract": "gold"}),
        make_asset("web1", id=2, kind="vm", site="acme-dc", role="server", platform="debian", status="active",
                   primary_ip="192.0.2.10", cluster="prod", config_context={"ntp": ["192.0.2.123"]}),
        make_asset("rtr1", id=3, client="beta", platform="arista_eos", status="planned", primary_ip="198.51.100.1"),
        make_asset("printer", id=4, client="beta", platform="hp-printer-os"),
    ]


# -- groups -----------------------------------------------------------------------------------

def test_safe_group_makes_identifiers() -> None:
    assert safe_group("site", "acme-hq.1") == "site_acme_hq_1"
    assert safe_group("tag", "pci dss/v4") == "tag_pci_dss_v4"


def test_group_names_of_one_asset(assets: list[Asset]) -> None:
    assert group_names(assets[0]) == ["kind_device", "client_acme", "site_acme_hq_1", "role_core_router",
                                      "platform_cisco_ios", "status_active", "tag_pci_dss", "tag_edge"]
    # missing attributes give no group
    assert group_names(assets[3]) == ["kind_device", "client_beta", "platform_hp_printer_os"]


def test_every_group_name_is_an_identifier(assets: list[Asset]) -> None:
    groups = build_groups(assets, host_names(assets))
    assert groups
    assert all(IDENTIFIER.fullmatch(g) for g in groups), list(groups)


# -- host names -------------------------------------------------------------------------------

def test_duplicate_names_get_the_client_suffix(assets: list[Asset]) -> None:
    assert host_names(assets) == ["rtr1@acme", "web1", "rtr1@beta", "printer"]


def test_duplicate_names_within_one_client_fall_back_to_the_id(make_asset: MakeAsset) -> None:
    twins = [make_asset("sw1", id=10), make_asset("sw1", id=11), make_asset("sw1", id=12, client="beta")]
    names = host_names(twins)
    # Both twins carry their id: which one came first must not decide a name (mspctl.inventory.names).
    assert names == ["sw1@acme#10", "sw1@acme#11", "sw1@beta"]
    assert len(set(names)) == len(names)


def test_unique_names_are_kept(make_asset: MakeAsset) -> None:
    assert host_names([make_asset("a"), make_asset("b", client="beta")]) == ["a", "b"]


# -- host vars --------------------------------------------------------------------------------

def test_hostvars_of_a_network_device(assets: list[Asset]) -> None:
    hv = host_vars(assets[0], PlatformMap())
    assert hv["ansible_host"] == "192.0.2.1"
    assert hv["netmiko_device_type"] == "cisco_ios"
    assert hv["ansible_network_os"] == "cisco.ios.ios"
    assert hv["ansible_connection"] == NETWORK_CLI
    assert (hv["mspctl_kind"], hv["mspctl_id"], hv["client"]) == ("device", 1, "acme")
    assert hv["custom_fields"] == {"contract": "gold"}


def test_hostvars_of_a_linux_server(assets: list[Asset]) -> None:
    hv = host_vars(assets[1], PlatformMap())
    assert hv["ansible_host"] == "192.0.2.10"
    assert hv["ansible_connection"] == "ssh"
    assert hv["netmiko_device_type"] == "linux"
    assert "ansible_network_os" not in hv
    assert hv["config_context"] == {"ntp": ["192.0.2.123"]}
    assert hv["cluster"] == "prod"


def test_hostvars_without_ip_or_known_platform(assets: list[Asset]) -> None:
    hv = host_vars(assets[3], PlatformMap())
    assert "ansible_host" not in hv
    assert not {"netmiko_device_type", "ansible_network_os", "ansible_connection"} & set(hv)
    assert hv["platform"] == "hp-printer-os"


def test_hostvars_honour_platform_overrides(assets: list[Asset]) -> None:
    pm = PlatformMap({"hp-printer-os": {"netmiko": "linux", "ansible_connection": "ssh"}})
    hv = host_vars(assets[3], pm)
    assert (hv["netmiko_device_type"], hv["ansible_connection"]) == ("linux", "ssh")


def test_hostvars_use_no_ansible_reserved_names(assets: list[Asset]) -> None:
    from ansible.vars.reserved import get_reserved_names

    reserved = set(get_reserved_names())
    used = {k for a in assets for k in host_vars(a, PlatformMap())}
    assert not used & reserved


# -- to_ansible_list / to_ansible_yaml_tree ---------------------------------------------------

def test_to_ansible_list_shape(assets: list[Asset]) -> None:
    out = to_ansible_list(assets, PlatformMap())
    names = ["rtr1@acme", "web1", "rtr1@beta", "printer"]
    assert list(out["_meta"]["hostvars"]) == names
    assert out["_meta"]["hostvars"]["rtr1@beta"]["client"] == "beta"
    groups = [g for g in out if g not in ("_meta", "all", "ungrouped")]
    assert out["all"]["children"] == ["ungrouped", *sorted(groups)]
    assert out["ungrouped"] == {"hosts": []}
    assert out["kind_device"] == {"hosts": ["rtr1@acme", "rtr1@beta", "printer"]}
    assert out["kind_vm"] == {"hosts": ["web1"]}
    assert out["client_acme"] == {"hosts": ["rtr1@acme", "web1"]}
    assert out["tag_pci_dss"] == {"hosts": ["rtr1@acme"]}
    assert out["status_planned"] == {"hosts": ["rtr1@beta"]}
    # every host is in at least one group, and every group lists only known hosts
    members = {h for g in groups for h in out[g]["hosts"]}
    assert members == set(names)
    json.dumps(out)  # plain JSON types only


def test_to_ansible_yaml_tree_shape(assets: list[Asset]) -> None:
    pm = PlatformMap()
    tree = to_ansible_yaml_tree(assets, pm)
    assert list(tree) == ["all"]
    assert set(tree["all"]) == {"hosts", "children"}
    listing = to_ansible_list(assets, pm)
    assert tree["all"]["hosts"] == listing["_meta"]["hostvars"]
    assert {g: list(body["hosts"]) for g, body in tree["all"]["children"].items()} == {
        g: listing[g]["hosts"] for g in listing if g not in ("_meta", "all", "ungrouped")}
    # group members are a YAML mapping with empty values; vars live once under all.hosts
    assert tree["all"]["children"]["kind_vm"] == {"hosts": {"web1": None}}


def test_empty_inventory() -> None:
    assert to_ansible_list([], PlatformMap()) == {"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped"]},
                                                  "ungrouped": {"hosts": []}}
    assert to_ansible_yaml_tree([], PlatformMap()) == {"all": {"hosts": {}, "children": {}}}


# -- the real ansible-inventory ---------------------------------------------------------------

def _ansible_inventory_list(inventory: Path, tmp_path: Path) -> tuple[dict[str, Any], str]:
    exe = Path(sys.executable).with_name("ansible-inventory")
    if not exe.exists():
        pytest.fail(f"{exe} not found: ansible-core belongs in the dev environment")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    (tmp_path / "home").mkdir()
    env.update({
        "HOME": str(tmp_path / "home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_INVENTORY_ENABLED": "yaml",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",  # otherwise a rejected file is only a warning
        "ANSIBLE_NOCOLOR": "1",
    })
    proc = subprocess.run([str(exe), "-i", str(inventory), "--list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_ansible_inventory_accepts_the_yaml_export(assets: list[Asset], tmp_path: Path) -> None:
    pm = PlatformMap()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(to_yaml(to_ansible_yaml_tree(assets, pm)), encoding="utf-8")
    assert yaml.safe_load(inventory.read_text(encoding="utf-8"))  # what mspctl wrote is YAML

    listed, stderr = _ansible_inventory_list(inventory, tmp_path)
    expected = to_ansible_list(assets, pm)

    assert "[WARNING]" not in stderr  # e.g. reserved variable names or invalid group names
    assert listed["_meta"]["hostvars"] == expected["_meta"]["hostvars"]
    assert set(listed["all"]["children"]) == set(expected["all"]["children"])
    groups = [g for g in expected if g not in ("_meta", "all", "ungrouped")]
    for g in groups:
        assert listed[g]["hosts"] == expected[g]["hosts"], g
    # Ansible finds no hosts outside the mspctl groups
    assert not listed.get("ungrouped", {}).get("hosts")
