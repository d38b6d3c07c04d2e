"""A NetBox nobody here wrote (issue 9, section 8): client vandelay in the brownfield NetBox
(lab/seed_brownfield.py). Tenantless, unnamed and platformless devices, three patch panels of one
name, a virtual chassis, UI-style platform slugs (``cisco-ios``, ``ubuntu-linux-20-04``), a device
named like acme's router, and an empty second tenant.

Every name mspctl prints is given back to it and picks exactly that asset, whatever the filter;
render finds ``templates/cisco_ios/`` for ``cisco-ios``; the export gives the Ubuntu VM its
connection; patch runs call everything that is no Linux server NOT_APPLICABLE with its reason
and never try SSH to it; a run that checked nothing exits 7 and says why for each target."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mspctl.errors import ExitCode
from tests.conftest import REPO, LabBrownfield

pytestmark = [pytest.mark.lab, pytest.mark.faults]

CLIENT = "vandelay"
Invoke = Callable[..., Result]


@pytest.fixture
def nb(lab_brownfield: LabBrownfield, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """`mspctl` in-process against the brownfield NetBox, with a private cache, records and state.
    `ssh_probe` (in `tmp_path`) is an OpenSSH config whose every connection leaves a mark first."""
    from mspctl.cli import main

    monkeypatch.chdir(REPO)
    for var in list(os.environ):
        if var.startswith(("MSPCTL_", "NETBOX_")):
            monkeypatch.delenv(var)
    marks = tmp_path / "ssh-attempts"
    probe = tmp_path / "ssh_probe"
    # Any SSH session Ansible starts runs this ProxyCommand: it notes the host, then fails.
    probe.write_text(f"Host *\n  ProxyCommand sh -c 'echo %h >> {marks}; exit 1'\n  BatchMode yes\n")
    env = {**lab_brownfield.env(tmp_path), "MSPCTL_SSH_CONFIG": str(probe)}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    yield invoke


def _ssh_attempts(tmp_path: Path) -> list[str]:
    marks = tmp_path / "ssh-attempts"
    return marks.read_text().split() if marks.exists() else []


def _listing(res: Result) -> list[dict]:
    assert res.exit_code == 0, res.output
    assets: list[dict] = json.loads(res.stdout)["assets"]
    return assets


def test_every_name_listed_or_exported_picks_exactly_its_asset_through_show_and_limit(nb: Invoke) -> None:
    listed = _listing(nb("--refresh", "inventory", "list", "-A", "-o", "json"))
    mine = [a for a in listed if a["client"] in (CLIENT, None) or a["name"] == "acme-edge-rtr1"]
    names = {a["inventory_name"]: (a["kind"], a["id"]) for a in mine}
    # vandelay's 10 devices and its VM, the 2 devices without a tenant, and acme's router: one name each
    assert len(names) == len(mine) == 14
    # the made-up names of section 8, each unique over the whole inventory
    by_name: dict[str, list[str]] = {}
    for a in mine:
        by_name.setdefault(a["name"], []).append(a["inventory_name"])
    assert sorted(by_name["patch-panel"]) == sorted(
        [f"patch-panel@{CLIENT}#{a['id']}" for a in mine if a["name"] == "patch-panel" and a["client"]]
        + ["patch-panel@no-client"])
    assert sorted(by_name["acme-edge-rtr1"]) == ["acme-edge-rtr1@acme", f"acme-edge-rtr1@{CLIENT}"]
    unnamed = [a for a in mine if a["name"] == f"device-{a['id']}"]
    assert len(unnamed) == 1 and unnamed[0]["inventory_name"] == unnamed[0]["name"]
    assert "spare-sw1" in names and "vdl-rtr1" in names  # a unique name is the NetBox name

    exported = json.loads(nb("inventory", "export", "-A").stdout)["_meta"]["hostvars"]
    assert {n: (hv["mspctl_kind"], hv["mspctl_id"]) for n, hv in exported.items() if n in names} == names
    table = nb("inventory", "list", "-A").stdout.splitlines()[1:]
    assert {line.split()[0] for line in table} >= set(names)  # the table prints the same names

    for name, (kind, object_id) in names.items():
        shown = nb("inventory", "show", "-o", "json", "--", name)
        assert shown.exit_code == 0, (name, shown.output)
        assert (json.loads(shown.stdout)["kind"], json.loads(shown.stdout)["id"]) == (kind, object_id), name
        picked = _listing(nb("inventory", "list", "-A", "-l", name, "-o", "json"))
        assert [(a["kind"], a["id"]) for a in picked] == [(kind, object_id)], name


def test_names_do_not_change_with_the_filter(nb: Invoke) -> None:
    def hosts(*flt: str) -> dict[int, str]:
        res = nb(*(("--refresh",) if "-A" in flt else ()), "inventory", "export", *flt)
        assert res.exit_code == 0, res.output
        return {hv["mspctl_id"]: n for n, hv in json.loads(res.stdout)["_meta"]["hostvars"].items()
                if hv["mspctl_kind"] == "device"}

    whole = hosts("-A")
    client = hosts("-c", CLIENT)
    panels = hosts("-c", CLIENT, "-l", "patch-panel")
    one = hosts("-c", CLIENT, "--site", "vandelay-lab")
    assert len(panels) == 3 and len(one) >= 1
    for subset in (client, panels, one):
        assert {i: whole[i] for i in subset} == subset
    assert all(n.startswith(f"patch-panel@{CLIENT}#") for n in panels.values())
    assert "acme-edge-rtr1@vandelay" in client.values()  # even with acme's router out of the selection


def test_id_and_kind_id_pick_any_asset(nb: Invoke) -> None:
    listed = _listing(nb("--refresh", "inventory", "list", "-c", CLIENT, "-o", "json"))
    unnamed = next(a for a in listed if a["name"] == f"device-{a['id']}")
    vm = next(a for a in listed if a["kind"] == "vm")
    for args, want in ((("--id", str(unnamed["id"]), "--kind", "device"), unnamed),
                       ((f"device:{unnamed['id']}",), unnamed), ((f"vm:{vm['id']}",), vm),
                       (("--id", str(vm["id"]), "--kind", "vm"), vm)):
        res = nb("inventory", "show", "-o", "json", *args)
        assert res.exit_code == 0, (args, res.output)
        assert (json.loads(res.stdout)["kind"], json.loads(res.stdout)["id"]) == (want["kind"], want["id"])
    both = _listing(nb("inventory", "list", "-c", CLIENT, "-l", f"device:{unnamed['id']}:vm:{vm['id']}",
                       "-o", "json"))
    assert sorted((a["kind"], a["id"]) for a in both) == sorted([("device", unnamed["id"]), ("vm", vm["id"])])
    # a repeated -l is the union, not the last one
    union = _listing(nb("inventory", "list", "-c", CLIENT, "-l", "vdl-rtr1", "-l", "vdl-fw1", "-o", "json"))
    assert sorted(a["name"] for a in union) == ["vdl-fw1", "vdl-rtr1"]
    ambiguous = nb("inventory", "show", "patch-panel")
    assert ambiguous.exit_code == ExitCode.NOT_FOUND and "MSP-INV-409" in ambiguous.output
    assert f"patch-panel@{CLIENT}#" in ambiguous.output  # the error names what to give instead


def test_render_finds_the_cisco_ios_templates_for_a_cisco_dash_ios_device(nb: Invoke) -> None:
    res = nb("--refresh", "config", "render", "-c", CLIENT, "-l", "vdl-rtr1", "-o", "json")
    assert res.exit_code == 0, res.output
    (result,) = json.loads(res.stdout)
    assert (result["platform"], result["status"], result["template"]) == ("cisco-ios", "ok", "cisco_ios/main.j2")
    assert "hostname vdl-rtr1\n" in result["config"]


def test_the_ubuntu_vm_gets_its_ansible_connection_in_the_export(nb: Invoke) -> None:
    res = nb("--refresh", "inventory", "export", "-c", CLIENT, "-f", "ansible-yaml")
    assert res.exit_code == 0, res.output
    import yaml

    hosts = yaml.safe_load(res.stdout)["all"]["hosts"]
    assert hosts["vdl-app01"]["platform"] == "ubuntu-linux-20-04"
    assert hosts["vdl-app01"]["ansible_connection"] == "ssh"
    assert hosts["vdl-rtr1"]["ansible_network_os"] == "cisco.ios.ios"  # cisco-ios is Cisco IOS
    assert hosts["vdl-rtr1"]["ansible_connection"] == "ansible.netcommon.network_cli"
    assert "ansible_connection" not in hosts["vdl-pdu1"]  # no platform: nothing to guess


def test_patch_scan_calls_what_is_no_server_not_applicable_never_tries_ssh_and_exits_7(
        nb: Invoke, tmp_path: Path) -> None:
    res = nb("--refresh", "patch", "scan", "-c", CLIENT, "-o", "json")
    assert res.exit_code == ExitCode.NOTHING_CHECKED, res.output
    run = json.loads(res.stdout)
    assert run["hosts"] == []
    reasons = {h["host"]: h["compliance"]["reason"] for h in run["not_applicable"]}
    assert {h["compliance"]["state"] for h in run["not_applicable"]} == {"NOT_APPLICABLE"}
    assert len(reasons) == 10  # every active device of the client (the VM is offline)
    assert "no platform in NetBox" in reasons["vdl-pdu1"]
    assert "no platform in NetBox" in reasons["vdl-acc-stack1"] and "no platform in NetBox" in reasons["vdl-acc-stack2"]
    assert "network device" in reasons["vdl-rtr1"] and "network device" in reasons[f"acme-edge-rtr1@{CLIENT}"]
    assert sum(n.startswith(f"patch-panel@{CLIENT}#") for n in reasons) == 3
    assert run["summary"] == {"NOT_APPLICABLE": 10}
    assert _ssh_attempts(tmp_path) == []
    assert "skipped: vdl-pdu1: no platform in NetBox" in res.stderr and "exit 7" in res.stderr

    table = nb("patch", "scan", "-c", CLIENT)
    assert table.exit_code == ExitCode.NOTHING_CHECKED
    pdu = next(line for line in table.stdout.splitlines() if line.startswith("vdl-pdu1 "))
    assert "NOT_APPLICABLE" in pdu and "no platform in NetBox" in pdu  # the reason in the DETAIL column
    assert "UNREACHABLE" not in table.stdout

    planned = nb("patch", "apply", "-c", CLIENT, "-o", "json")
    assert planned.exit_code == ExitCode.NOTHING_CHECKED, planned.output
    assert json.loads(planned.stdout)["hosts"] == []
    assert _ssh_attempts(tmp_path) == []


def test_a_server_of_a_patched_family_is_a_target_and_is_tried(nb: Invoke, tmp_path: Path) -> None:
    """The control of the test above: the probe does see SSH. The offline Ubuntu VM, selected with
    --status, is a patch target (ubuntu-linux-20-04 is OS family debian); its address answers
    nothing, so it is UNREACHABLE, while the PDU next to it is still NOT_APPLICABLE."""
    res = nb("--refresh", "patch", "scan", "-c", CLIENT, "--status", "offline", "--status", "active",
             "-l", "vdl-app01", "-l", "vdl-pdu1", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL, res.output
    run = json.loads(res.stdout)
    assert [(h["host"], h["state"]) for h in run["hosts"]] == [("vdl-app01", "UNREACHABLE")]
    assert [h["host"] for h in run["not_applicable"]] == ["vdl-pdu1"]
    assert set(_ssh_attempts(tmp_path)) == {"127.30.10.11"}  # the VM's address, and nothing else


@pytest.mark.parametrize("command", [("config", "render"), ("drift",)])
def test_a_run_of_only_skipped_devices_exits_7_with_each_reason(nb: Invoke, command: tuple[str, ...]) -> None:
    # vdl-fw1 is Junos (no templates/juniper_junos/); render also selects the platformless PDU
    res = nb("--refresh", *command, "-c", CLIENT, "-l", "vdl-fw1", "-l", "vdl-pdu1")
    assert res.exit_code == ExitCode.NOTHING_CHECKED, res.output
    assert "skipped: vdl-fw1: no template juniper_junos/main.j2" in res.stderr
    assert "exit 7" in res.stderr
    if command == ("drift",):
        row = next(line for line in res.stdout.splitlines() if line.startswith("vdl-fw1 "))
        assert "skipped" in row and "no template juniper_junos/main.j2" in row  # the reason in the table
    else:
        assert "skipped: vdl-pdu1: no template (no platform)/main.j2" in res.stderr


def test_the_empty_tenant_is_a_client_with_nothing_to_select(nb: Invoke) -> None:
    clients = {c["slug"]: c for c in json.loads(nb("--refresh", "clients", "-o", "json").stdout)}
    assert (clients[f"{CLIENT}-legacy"]["device_count"], clients[f"{CLIENT}-legacy"]["vm_count"]) == (0, 0)
    res = nb("inventory", "list", "-c", f"{CLIENT}-legacy")
    assert res.exit_code == ExitCode.NO_MATCH and "MSP-INV-204" in res.output
