"""`python -m lab.hosts up/status/down`: the JSON, the hosts' identity and isolation, idempotency."""

from __future__ import annotations

import ipaddress
import json
import stat
import subprocess
from pathlib import Path

from hostlab import COUNT, SUBNET, lab_cli


def test_up_json_lists_hosts_key_user_config_and_repo(host_lab):
    info = host_lab.info
    assert [h["name"] for h in info["hosts"]] == [f"mspctl-t{i}" for i in range(1, COUNT + 1)]
    for h in info["hosts"]:
        assert ipaddress.ip_address(h["address"]) in ipaddress.ip_network(SUBNET)
        assert h["port"] == 22
    assert len({h["address"] for h in info["hosts"]}) == COUNT
    assert len({h["mac"] for h in info["hosts"]}) == COUNT
    assert info["user"] == "mspops"
    key = Path(info["ssh_private_key"])
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert Path(info["ssh_config"]).is_file() and Path(info["inventory"]).is_file()
    assert info["repo_url"] == f"http://{ipaddress.ip_network(SUBNET)[1]}:8080/"


def test_generated_ssh_config_fails_fast_on_dark_hosts(host_lab):
    settings = subprocess.run([*host_lab.ssh_args("-G"), host_lab.host(1)["name"]], capture_output=True,
                              text=True, check=True).stdout.splitlines()
    assert "serveraliveinterval 2" in settings
    assert "serveralivecountmax 3" in settings
    assert "connecttimeout 5" in settings
    assert "stricthostkeychecking true" in settings
    assert f"hostname {host_lab.host(1)['address']}" in settings


def test_status_reports_every_host_answering(host_lab):
    proc = lab_cli("status", "--json", "--count", str(COUNT))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["ok"] is True
    assert [(h["name"], h["running"], h["link"], h["ssh"]) for h in status["hosts"]] == [
        (h["name"], True, "up", True) for h in host_lab.hosts]


def test_each_host_is_its_own_machine(host_lab):
    boot_ids, host_keys = set(), set()
    for h in host_lab.hosts:
        out = host_lab.ssh(h, "hostname; id -un; sudo -n id -u; cat /proc/sys/kernel/random/boot_id; "
                              "cat /etc/ssh/ssh_host_ed25519_key.pub; ip -o -4 addr show dev eth0").stdout.splitlines()
        assert out[:3] == [h["name"], "mspops", "0"]
        boot_ids.add(out[3])
        host_keys.add(out[4].split()[1])
        assert f"inet {h['address']}/24" in out[5]
    assert len(boot_ids) == COUNT and len(host_keys) == COUNT


def test_hosts_reach_only_the_lab_lan_and_repository(host_lab):
    h = host_lab.host(1)
    routes = [line.strip() for line in host_lab.ssh(h, "ip -4 route show").stdout.splitlines()]
    assert routes == [f"{SUBNET} dev eth0 proto kernel scope link src {h['address']}"]
    sources = host_lab.ssh(h, "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null "
                              "| grep -i '^ *uris\\|^ *deb '")
    uris = {line.split()[1] for line in sources.stdout.splitlines()}
    assert uris == {f"{host_lab.info['repo_url']}debian", f"{host_lab.info['repo_url']}debian-security"}


def test_up_again_reuses_the_running_hosts(host_lab):
    before = [host_lab.ssh(h, "cat /proc/sys/kernel/random/boot_id").stdout for h in host_lab.hosts]
    proc = lab_cli("up", "--count", str(COUNT), "--subnet", SUBNET, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["hosts"] == host_lab.hosts
    after = [host_lab.ssh(h, "cat /proc/sys/kernel/random/boot_id").stdout for h in host_lab.hosts]
    assert after == before


def test_up_grows_shrinks_and_down_is_idempotent():
    prefix, subnet = "mspctl-u", "10.250.8.0/24"
    try:
        assert lab_cli("up", "--count", "2", "--subnet", subnet, prefix=prefix).returncode == 0
        grown = lab_cli("up", "--count", "3", "--subnet", subnet, "--json", prefix=prefix)
        assert grown.returncode == 0, grown.stderr
        assert len(json.loads(grown.stdout)["hosts"]) == 3
        shrunk = lab_cli("up", "--count", "1", "--subnet", subnet, prefix=prefix)
        assert shrunk.returncode == 0, shrunk.stderr
        assert not Path("/run/netns/mspctl-u2").exists()
        assert lab_cli("status", "--count", "1", prefix=prefix).returncode == 0
    finally:
        first = lab_cli("down", prefix=prefix)
        second = lab_cli("down", prefix=prefix)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert not [ns for ns in Path("/run/netns").iterdir() if ns.name.startswith("mspctl-u")]
    assert "mspctl-u" not in Path("/proc/self/mountinfo").read_text()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "mspctl-u" not in links
    assert lab_cli("status", prefix=prefix).returncode == 1
