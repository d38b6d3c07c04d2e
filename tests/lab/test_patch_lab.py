"""Patch management against the lab: NetBox's acme servers are real Debian hosts (lab.hosts)
with seeded package states, patched by real ansible-runner runs.

acme's servers, by lab host and seeded profile (lab/hosts/README.md), under acme's baseline
`debian-security` (inventory/clients.yml):

    acme-backup01  h1  outdated          lib + web security updates pending (lib needs a reboot), tools normal
    acme-web01     h2  security-pending  lib + web pending
    acme-db01      h3  updates-pending   only a normal update: compliant under a security-only baseline
    acme-app01     h4  patched           nothing pending
    acme-mail01    h5  web-only          web pending; tools not installed (must stay absent)

The tests in this module build on each other (scan, refused window, window with a host cut,
resumed/locked windows, a second window that changes nothing) and share run records.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.conftest import REPO, kill_once_written, window_saved_hosts
from tests.lab.demo_facts import ACME_SERVERS

# Saturday 22:30 in Berlin: inside acme's window (sat 22:00 for 4h, cutoff 30m).
INSIDE = "2026-11-28T22:30:00+01:00"
# Thursday noon: outside it.
OUTSIDE = "2026-11-26T12:00:00+00:00"
LIB, WEB, TOOLS = "mspdemo-openssl-lib", "mspdemo-web", "mspdemo-tools"


def _hosts(output: str) -> dict[str, dict]:
    return {h["host"]: h for h in json.loads(output)["hosts"]}


def _pkg(host: dict, name: str) -> dict | None:
    return next((p for p in host["compliance"]["packages"] if p["name"] == name), None)


def _versions(lab_servers, host: str) -> dict[str, str]:
    out = lab_servers.ssh(host, "dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' 'mspdemo-*'")
    return {p: v for p, v, status in (line.split() for line in out.splitlines()) if status == "installed"}


def test_scan_reports_seeded_missing_security_updates(patch, lab_servers):
    lab_servers.reset()
    res = patch("patch", "scan", "-c", "acme", "-o", "json")
    assert res.exit_code == 4, res.output  # non-compliant hosts found
    hosts = _hosts(res.stdout)
    assert set(hosts) == set(ACME_SERVERS)
    info = {h["name"]: h for h in lab_servers.info["hosts"]}
    for name, lab_host in ACME_SERVERS.items():
        seeded = info[lab_host]["updates"]
        security = {p for p, u in seeded.items() if u["security"]}
        missing = {p["name"]: p for p in hosts[name]["compliance"]["packages"] if p["state"] == "MISSING"}
        assert set(missing) == security, name
        for pkg in security:
            assert missing[pkg]["required"] == seeded[pkg]["to"]
            assert missing[pkg]["installed"] == seeded[pkg]["from"]
        expected = "NON_COMPLIANT" if security else "COMPLIANT"
        assert hosts[name]["state"] == expected, (name, hosts[name])
        assert hosts[name]["baseline"].startswith("debian-security@")
    # a normal update under a security-only baseline is INSTALLED_OTHER, not MISSING
    assert _pkg(hosts["acme-db01"], TOOLS)["state"] == "INSTALLED_OTHER"
    assert _pkg(hosts["acme-backup01"], TOOLS)["state"] == "INSTALLED_OTHER"


def test_scan_outputs_and_status_from_records(patch, tmp_path):
    junit = tmp_path / "scan.xml"
    res = patch("patch", "scan", "-c", "acme", "--junit", str(junit))
    assert res.exit_code == 4, res.output
    assert "NON_COMPLIANT" in res.output and "acme-web01" in res.output
    xml = junit.read_text()
    assert xml.count("<testcase ") == 5 and xml.count("<failure ") == 3
    res = patch("patch", "status", "-c", "acme", "-o", "json")
    assert res.exit_code == 4, res.output
    states = {h: d["state"] for h, d in _hosts(res.stdout).items()}
    assert states == {"acme-backup01": "NON_COMPLIANT", "acme-web01": "NON_COMPLIANT", "acme-db01": "COMPLIANT",
                      "acme-app01": "COMPLIANT", "acme-mail01": "NON_COMPLIANT"}
    # evidence older than stale_after is STALE, not green
    time.sleep(1.1)
    stale = patch("patch", "status", "-c", "acme", "-o", "json", env={"MSPCTL_CONFIG": _config(tmp_path, "1s")})
    assert {d["state"] for d in _hosts(stale.stdout).values()} == {"STALE"}


def _config(tmp_path: Path, stale_after: str) -> str:
    text = (REPO / "mspctl.toml").read_text().replace('stale_after = "7d"', f'stale_after = "{stale_after}"')
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text(text.replace('baselines = "baselines"', f'baselines = "{REPO / "baselines"}"')
                   .replace('playbooks = "playbooks"', f'playbooks = "{REPO / "playbooks"}"')
                   .replace('clients_file = "inventory/clients.yml"',
                            f'clients_file = "{REPO / "inventory/clients.yml"}"'))
    return str(cfg)


def test_window_outside_hours_is_refused(patch):
    res = patch("patch", "window", "-c", "acme", "--yes", env={"MSPCTL_NOW": OUTSIDE})
    assert res.exit_code == 6, res.output
    assert "MSP-WIN-001" in res.output and "maintenance window" in res.output
    assert "next window 2026-11-28 21:00 UTC" in res.output
    assert "--force" in res.output


def test_window_patches_reachable_hosts_while_one_is_cut(patch, lab_servers, patch_home, tmp_path):
    """h2 (acme-web01) goes dark after the canary batch: it is UNREACHABLE, the others finish."""
    lab_servers.reset()
    out = tmp_path / "window.json"
    junit = tmp_path / "window.xml"
    # the window persists each finished batch for resuming: once the canary's is there, cut h2
    resume = patch_home / "state" / "mspctl" / "windows" / "acme.json"

    def cut_after_canary() -> None:
        deadline = time.monotonic() + 300
        while not resume.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        lab_servers.run("cut", "h2")

    watcher = threading.Thread(target=cut_after_canary, daemon=True)
    watcher.start()
    try:
        res = patch("patch", "window", "-c", "acme", "--yes", "--json", str(out), "--junit", str(junit),
                    "-o", "json", env={"MSPCTL_NOW": INSIDE})
    finally:
        watcher.join(timeout=5)
        lab_servers.run("restore", "h2")
    assert res.exit_code == 3, res.output
    hosts = _hosts(res.stdout)
    assert hosts["acme-web01"]["status"] == "unreachable"
    assert hosts["acme-web01"]["state"] == "UNREACHABLE"
    assert hosts["acme-backup01"]["status"] == "patched" and hosts["acme-backup01"]["batch"] == 1
    assert hosts["acme-backup01"]["rebooted"] is True  # openssl-lib asks for a reboot; policy if-needed
    assert hosts["acme-mail01"]["status"] == "patched"
    for name in ("acme-backup01", "acme-mail01", "acme-db01", "acme-app01"):
        assert hosts[name]["state"] == "COMPLIANT", hosts[name]
    assert hosts["acme-db01"]["status"] == "compliant" and hosts["acme-db01"]["installed"] == []
    # the hosts really changed, and only with security updates
    h1 = _versions(lab_servers, "h1")
    assert h1[LIB] == "3.0.11-1+deb12u1" and h1[WEB] == "2.4.57-1+deb12u1" and h1[TOOLS] == "1.2.0-1"
    assert TOOLS not in _versions(lab_servers, "h5")
    assert json.loads(out.read_text())["run_id"] == json.loads(res.stdout)["run_id"]
    assert "<error " in junit.read_text()
    assert not resume.exists()  # a finished window leaves no resume state


def test_second_window_patches_the_rest_then_changes_nothing(patch, lab_servers, lab_netbox):
    res = patch("patch", "window", "-c", "acme", "--yes", "-o", "json", env={"MSPCTL_NOW": INSIDE})
    assert res.exit_code == 0, res.output
    hosts = _hosts(res.stdout)
    assert hosts["acme-web01"]["status"] == "patched"
    assert {h["state"] for h in hosts.values()} == {"COMPLIANT"}
    again = patch("patch", "window", "-c", "acme", "--yes", "-o", "json", env={"MSPCTL_NOW": INSIDE})
    assert again.exit_code == 0, again.output
    second = _hosts(again.stdout)
    assert {h["status"] for h in second.values()} == {"compliant"}
    assert all(h["installed"] == [] and not h["rebooted"] for h in second.values())
    # both windows are run records, listed and shown like every other run
    listed = json.loads(patch("runs", "list", "--kind", "patch-window", "-o", "json").stdout)
    ids = [r["id"] for r in listed]
    assert json.loads(res.stdout)["run_id"] in ids and json.loads(again.stdout)["run_id"] in ids
    shown = json.loads(patch("runs", "show", json.loads(again.stdout)["run_id"], "-o", "json").stdout)
    assert {t: r["status"] for t, r in shown["results"].items()} == dict.fromkeys(ACME_SERVERS, "compliant")
    # NetBox shows each host's journal entries and custom fields
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {lab_netbox.token}"
    vm = s.get(f"{lab_netbox.url}/api/virtualization/virtual-machines/", params={"name": "acme-web01"}).json()
    rec = vm["results"][0]
    assert rec["custom_fields"]["patch_compliance"] == "COMPLIANT"
    assert rec["custom_fields"]["last_patched"]
    journal = s.get(f"{lab_netbox.url}/api/extras/journal-entries/",
                    params={"assigned_object_type": "virtualization.virtualmachine",
                            "assigned_object_id": rec["id"], "ordering": "-created"}).json()["results"]
    assert len(journal) >= 3
    texts = [j["comments"] for j in journal]
    assert any("UNREACHABLE" in t for t in texts) and any(WEB in t and "patched" in t for t in texts)
    dev = s.get(f"{lab_netbox.url}/api/dcim/devices/", params={"name": "acme-backup01"}).json()["results"][0]
    assert dev["custom_fields"]["patch_compliance"] == "COMPLIANT"


def test_window_from_the_netbox_tenant_field_when_clients_yml_has_none(patch, tmp_path):
    """acme's tenant in NetBox says `sat 22:00-02:00 Europe/Berlin`; without a window in clients.yml
    that one decides (outside: refused, naming where the window came from)."""
    clients = tmp_path / "clients.yml"
    clients.write_text("clients:\n  acme:\n    tenant: acme\n    credentials: acme-netops\n"
                       "    baseline: debian-security\n")
    cfg = Path(_config(tmp_path, "7d"))
    cfg.write_text(cfg.read_text().replace(str(REPO / "inventory/clients.yml"), str(clients)))
    res = patch("patch", "window", "-c", "acme", "--yes", env={"MSPCTL_NOW": OUTSIDE, "MSPCTL_CONFIG": str(cfg)})
    assert res.exit_code == 6, res.output
    assert "NetBox tenant acme custom field maintenance_window" in res.output
    assert "next window 2026-11-28 21:00 UTC" in res.output


def test_window_lock_refuses_a_second_window(patch, patch_home):
    lock = patch_home / "state" / "mspctl" / "windows" / "acme.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write("pid 4242 since test\n")
        fh.flush()
        res = patch("patch", "window", "-c", "acme", "--yes", env={"MSPCTL_NOW": INSIDE})
    assert res.exit_code == 6, res.output
    assert "MSP-WIN-409" in res.output and "already running" in res.output


def test_killed_window_resumes_instead_of_restarting(lab_servers, lab_netbox, patch_home, tmp_path):
    """Kill a window after its canary batch; the next run keeps the canary's result and run id."""
    lab_servers.reset()
    state = tmp_path / "state"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MSPCTL_", "NETBOX_"))},
           "NETBOX_API": lab_netbox.url, "NETBOX_TOKEN": lab_netbox.token, "MSPCTL_NOW": INSIDE,
           "MSPCTL_SSH_CONFIG": lab_servers.ssh_config, "XDG_STATE_HOME": str(state),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    cmd = [str(Path(sys.executable).parent / "mspctl"), "patch", "window", "-c", "acme", "--yes", "--no-writeback",
           "-o", "json"]
    resume = state / "mspctl" / "windows" / "acme.json"
    kill_once_written(cmd, env, resume, until=lambda: bool(window_saved_hosts(resume)))  # after the canary
    saved = json.loads(resume.read_text())
    assert list(saved["hosts"]) == ["acme-backup01"]  # the canary batch
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["run_id"] == saved["run_id"]
    assert run["params"]["resumed_hosts"] == ["acme-backup01"]
    hosts = {h["host"]: h for h in run["hosts"]}
    assert hosts["acme-backup01"]["status"] == "patched" and hosts["acme-backup01"]["batch"] == 1
    assert {h["state"] for h in hosts.values()} == {"COMPLIANT"}
    assert not resume.exists()
