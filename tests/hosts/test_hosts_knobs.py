"""`cut`/`restore`: a host made unreachable on demand, mid-session, and back."""

from __future__ import annotations

import json
import socket
import subprocess

from hostlab import lab_cli


def _connects(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=2):
            return True
    except OSError:
        return False


def test_cut_makes_a_host_unreachable_and_restore_brings_it_back(host_lab):
    host = host_lab.host(2)
    try:
        assert lab_cli("cut", "h2").returncode == 0
        assert not _connects(host["address"])
        proc = host_lab.ssh(host, "true", check=False, options=("-o", "ConnectTimeout=3"))
        assert proc.returncode == 255
        status = lab_cli("status", "--json")
        assert status.returncode == 1
        rows = {r["name"]: r for r in json.loads(status.stdout)["hosts"]}
        assert (rows[host["name"]]["link"], rows[host["name"]]["ssh"], rows[host["name"]]["running"]) == \
            ("cut", False, True)
        assert all(r["ssh"] for name, r in rows.items() if name != host["name"])
    finally:
        assert lab_cli("restore", host["name"]).returncode == 0
    assert host_lab.ssh(host, "hostname").stdout.strip() == host["name"]
    assert lab_cli("status").returncode == 0


def test_a_session_to_a_host_cut_mid_command_fails_instead_of_hanging(host_lab):
    host = host_lab.host(3)
    # the generated config's keepalives (5 s x 3) made faster for the test
    session = subprocess.Popen([*host_lab.ssh_args("-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"),
                                host["name"], "echo started; sleep 60; echo finished"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert session.stdout is not None and session.stdout.readline().strip() == "started"
        assert lab_cli("cut", "3").returncode == 0
        out, _ = session.communicate(timeout=45)
        assert session.returncode == 255
        assert "finished" not in out
    finally:
        session.kill()
        session.wait()
        assert lab_cli("restore", "3").returncode == 0
    assert host_lab.ssh(host, "echo back").stdout.strip() == "back"
