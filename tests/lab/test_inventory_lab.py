"""Client inventories against the lab's real NetBox: clients, list, filters, show, export."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from demo_facts import ACME, CLIENTS, PCI, ROUTERS


def _names(result_output: str) -> set[str]:
    return {a["name"] for a in json.loads(result_output)["assets"]}


def test_clients_lists_tenants_with_counts(mspctl):
    res = mspctl("clients", "-o", "json")
    assert res.exit_code == 0, res.output
    clients = {c["slug"]: c for c in json.loads(res.output)}
    for slug, (devices, vms) in CLIENTS.items():
        assert clients[slug]["device_count"] == devices
        assert clients[slug]["vm_count"] == vms
        assert clients[slug]["group"] == "managed-clients"
    # the MSP repository's settings (inventory/clients.yml) are joined in
    assert clients["acme"]["settings"]["credentials"] == "acme-netops"
    assert clients["acme"]["settings"]["maintenance_window"]["timezone"] == "Europe/Berlin"


def test_clients_table(mspctl):
    res = mspctl("clients")
    assert res.exit_code == 0, res.output
    assert "Acme Manufacturing" in res.output and "gold" in res.output


def test_list_one_client_cold_then_cached(mspctl):
    cold = mspctl("inventory", "list", "--client", "acme", "-o", "json")
    assert cold.exit_code == 0, cold.output
    data = json.loads(cold.output)
    assert {a["name"] for a in data["assets"]} == ACME
    assert data["evidence"]["source"] == "netbox"
    assert all(a["client"] == "acme" for a in data["assets"])
    warm = mspctl("inventory", "list", "--client", "acme", "-o", "json")
    assert json.loads(warm.output)["evidence"]["source"] == "cache"
    assert _names(warm.output) == ACME


def test_list_table_and_yaml(mspctl):
    table = mspctl("inventory", "list", "-c", "acme")
    assert table.exit_code == 0
    assert "acme-core-sw1" in table.output and "127.20.1.1" in table.output
    as_yaml = yaml.safe_load(mspctl("inventory", "list", "-c", "acme", "-o", "yaml").output)
    assert {a["name"] for a in as_yaml["assets"]} == ACME


def test_filters(mspctl):
    assert _names(mspctl("inventory", "list", "-A", "--role", "router", "-o", "json").output) == ROUTERS
    assert _names(mspctl("inventory", "list", "-A", "--tag", "pci", "-o", "json").output) == PCI
    assert _names(mspctl("inventory", "list", "-A", "--status", "planned", "-o", "json").output) == {"globex-acc-sw9"}
    assert _names(mspctl("inventory", "list", "-c", "acme", "--kind", "vm", "-o", "json").output) == {
        "acme-web01", "acme-db01", "acme-app01", "acme-mail01"}
    assert _names(mspctl("inventory", "list", "-c", "acme", "-c", "initech", "--platform", "cisco_ios",
                         "-o", "json").output) == {"acme-core-sw1", "acme-edge-rtr1", "initech-rtr1", "initech-sw1"}
    assert _names(mspctl("inventory", "list", "-c", "acme", "--site", "acme-plant", "-o", "json").output) == {
        "acme-dist-sw1"}


def test_limit_patterns(mspctl):
    out = mspctl("inventory", "list", "-A", "--limit", "acme-*,&platform_cisco_ios", "-o", "json")
    assert _names(out.output) == {"acme-core-sw1", "acme-edge-rtr1"}
    out = mspctl("inventory", "list", "-c", "acme", "--limit", "all:!kind_vm:!role_server", "-o", "json")
    assert _names(out.output) == {"acme-core-sw1", "acme-edge-rtr1", "acme-dist-sw1", "acme-fw1"}
    out = mspctl("inventory", "list", "-A", "--limit", "~-(web|db)0[0-9]$", "-o", "json")
    assert _names(out.output) == {"acme-web01", "acme-db01"}


def test_show_merges_config_context_by_weight(mspctl):
    res = mspctl("inventory", "show", "acme-db01", "-o", "json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    ctx = rec["config_context"]
    assert ctx["ntp_servers"] == ["198.51.100.1", "198.51.100.2"]  # acme override (weight 2000)
    assert ctx["syslog_servers"] == ["192.0.2.50"]  # MSP baseline (weight 1000)
    assert ctx["pci"] is True  # tag-scoped context
    assert rec["custom_fields"]["patch_group"] == "servers-b"
    assert rec["tags"] == ["critical", "pci"]
    globex = json.loads(mspctl("inventory", "show", "globex-app01", "-o", "json").output)["config_context"]
    assert globex["syslog_servers"] == ["198.51.100.50", "198.51.100.51"]
    assert globex["ntp_servers"] == ["192.0.2.123", "192.0.2.124"]
    assert "pci" not in globex


def test_show_table(mspctl):
    res = mspctl("inventory", "show", "acme-core-sw1")
    assert res.exit_code == 0, res.output
    assert "FCW2231L0AC" in res.output and "ntp_servers" in res.output


def test_export_ansible_json_shape(mspctl):
    res = mspctl("inventory", "export", "-c", "acme", "--format", "ansible")
    assert res.exit_code == 0, res.output
    inv = json.loads(res.stdout)
    hv = inv["_meta"]["hostvars"]
    assert set(hv) == ACME
    assert hv["acme-core-sw1"]["ansible_host"] == "127.20.1.1"
    assert hv["acme-core-sw1"]["netmiko_device_type"] == "cisco_ios"
    assert hv["acme-core-sw1"]["ansible_network_os"] == "cisco.ios.ios"
    assert hv["acme-fw1"]["ansible_network_os"] == "junipernetworks.junos.junos"
    assert hv["acme-web01"]["ansible_connection"] == "ssh"
    assert set(inv["client_acme"]["hosts"]) == ACME
    assert set(inv["role_router"]["hosts"]) == {"acme-edge-rtr1"}
    assert "tag_pci" in inv["all"]["children"]


def test_export_writes_file_atomically(mspctl, tmp_path: Path):
    out = tmp_path / "out" / "acme.yml"
    res = mspctl("inventory", "export", "-c", "acme", "--format", "ansible-yaml", "--out", str(out))
    assert res.exit_code == 0, res.output
    tree = yaml.safe_load(out.read_text())
    assert set(tree["all"]["hosts"]) == ACME
    assert [p.name for p in out.parent.iterdir()] == ["acme.yml"]  # no temp file left behind


def test_list_and_export_with_config_context(mspctl):
    res = mspctl("inventory", "list", "-c", "globex", "--config-context", "-o", "json")
    assert res.exit_code == 0, res.output
    by = {a["name"]: a for a in json.loads(res.output)["assets"]}
    assert by["globex-app01"]["config_context"]["syslog_servers"] == ["198.51.100.50", "198.51.100.51"]
    assert by["globex-core-sw1"]["config_context"]["ntp_servers"] == ["192.0.2.123", "192.0.2.124"]
    plain = json.loads(mspctl("inventory", "export", "-c", "globex").stdout)
    assert "config_context" not in plain["_meta"]["hostvars"]["globex-app01"]
    inv = json.loads(mspctl("inventory", "export", "-c", "globex", "--config-context").stdout)
    assert inv["_meta"]["hostvars"]["globex-app01"]["config_context"]["snmp"]["location"] == "Globex DC1"
