"""Ansible accepts mspctl's inventories: the exported files and the live inventory plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from demo_facts import ACME

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_INVENTORY = str(Path(sys.executable).parent / "ansible-inventory")


def _ansible_inventory(args: list[str], lab_netbox, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSPCTL_", "NETBOX_", "ANSIBLE_"))}
    env.update({"NETBOX_API": lab_netbox.url, "NETBOX_TOKEN": lab_netbox.token,
                "MSPCTL_CACHE_PATH": str(tmp_path / "cache"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
                "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
    proc = subprocess.run([ANSIBLE_INVENTORY, *args, "--list"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Failed to parse" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def _plain(value):
    """Inventory-plugin data is marked unsafe (never templated); `--list` shows that as a wrapper."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _hosts(listing: dict) -> set[str]:
    return set(listing["_meta"]["hostvars"])


def test_exported_yaml_is_accepted_by_ansible(mspctl, lab_netbox, tmp_path):
    path = tmp_path / "acme.yml"
    assert mspctl("inventory", "export", "-c", "acme", "-f", "ansible-yaml", "--out", str(path)).exit_code == 0
    listing = _ansible_inventory(["-i", str(path)], lab_netbox, tmp_path)
    assert _hosts(listing) == ACME
    assert listing["_meta"]["hostvars"]["acme-edge-rtr1"]["ansible_host"] == "127.20.1.2"
    assert set(listing["platform_cisco_ios"]["hosts"]) == {"acme-core-sw1", "acme-edge-rtr1"}


def test_exported_json_is_accepted_by_ansible_as_script(mspctl, lab_netbox, tmp_path):
    res = mspctl("inventory", "export", "-c", "acme", "-f", "ansible")
    data = tmp_path / "acme.json"
    data.write_text(res.stdout)
    script = tmp_path / "acme_inventory.sh"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = --host ] && echo '{{}}' && exit 0\ncat {data}\n")
    script.chmod(0o755)
    listing = _ansible_inventory(["-i", str(script)], lab_netbox, tmp_path)
    assert listing["_meta"]["hostvars"] == json.loads(res.stdout)["_meta"]["hostvars"]


def test_inventory_plugin_lists_the_same_hosts_as_export(mspctl, lab_netbox, tmp_path):
    export = json.loads(mspctl("inventory", "export", "-A", "-f", "ansible").stdout)
    listing = _ansible_inventory(["-i", str(REPO / "inventory" / "all-clients.mspctl.yml")], lab_netbox, tmp_path)
    assert _hosts(listing) == set(export["_meta"]["hostvars"])
    for host, hv in export["_meta"]["hostvars"].items():
        plugin_vars = _plain(listing["_meta"]["hostvars"][host])
        assert {k: plugin_vars[k] for k in hv} == hv, host
    groups = {g for g in export if g not in ("_meta", "all", "ungrouped")}
    for group in groups:
        assert set(listing[group]["hosts"]) == set(export[group]["hosts"]), group


def test_inventory_plugin_one_client(lab_netbox, tmp_path):
    listing = _ansible_inventory(["-i", str(REPO / "inventory" / "acme.mspctl.yml")], lab_netbox, tmp_path)
    assert _hosts(listing) == ACME
    # group_vars from the MSP repository's inventory/ apply
    assert listing["_meta"]["hostvars"]["acme-core-sw1"]["ansible_become"] is False
