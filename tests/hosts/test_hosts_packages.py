"""Seeded package states and the lab repository: old versions installed, security and normal updates apart."""

from __future__ import annotations

import re

import pytest
from hostlab import COUNT, lab_cli

INST = re.compile(r"^Inst (\S+) \[(\S+)\] \((\S+) (\S+):(\S+)/(\S+) \[all\]\)")


def _installed(host_lab, host) -> dict[str, str]:
    out = host_lab.ssh(host, r"dpkg-query -W -f '${db:Status-Status} ${Package} ${Version}\n' 'mspdemo-*'",
                       check=False).stdout
    return {name: version for status, name, version in (line.split() for line in out.splitlines())
            if status == "installed"}


def _simulated_upgrade(host_lab, host, sources: str = "") -> dict[str, tuple[str, str, str]]:
    """package -> (installed, candidate, suite) from ``apt-get -s upgrade`` (optionally other sources)."""
    opts = f"-o Dir::Etc::SourceList={sources} -o Dir::Etc::SourceParts=/dev/null " if sources else ""
    out = host_lab.ssh(host, f"LC_ALL=C apt-get -s {opts}upgrade").stdout
    return {m[1]: (m[2], m[3], m[6]) for m in map(INST.match, out.splitlines()) if m}


def test_the_seed_mixes_outdated_and_patched_hosts(host_lab):
    updates = [h["updates"] for h in host_lab.hosts]
    assert {} in updates  # one host fully patched
    assert any(all(u["security"] for u in upd.values()) and upd for upd in updates)
    assert any(upd and not any(u["security"] for u in upd.values()) for upd in updates)
    assert any(u["reboot_required"] for upd in updates for u in upd.values())
    assert sum(1 for upd in updates if upd) >= COUNT - 1


@pytest.mark.parametrize("index", range(1, COUNT + 1))
def test_hosts_start_with_their_seeded_versions(host_lab, index):
    host = host_lab.host(index)
    assert _installed(host_lab, host) == host["installed"]


@pytest.mark.parametrize("index", range(1, COUNT + 1))
def test_apt_sees_new_versions_and_tells_security_from_normal_updates(host_lab, index):
    host = host_lab.host(index)
    host_lab.ssh(host, "sudo apt-get update -q")
    pending = _simulated_upgrade(host_lab, host)
    assert pending == {name: (u["from"], u["to"], "stable-security" if u["security"] else "stable-updates")
                       for name, u in host["updates"].items()}
    # A "security only" policy: the same upgrade with only the security suite as a source.
    url = host_lab.info["repo_url"]
    host_lab.ssh(host, f"echo 'deb [signed-by=/etc/apt/keyrings/mspctl-lab-archive.gpg] {url}debian-security "
                       f"bookworm-security main' > /tmp/security-only.list")
    security_only = _simulated_upgrade(host_lab, host, "/tmp/security-only.list")
    assert set(security_only) == {name for name, u in host["updates"].items() if u["security"]}
    upgradable = host_lab.ssh(host, "apt list --upgradable 2>/dev/null | tail -n +2").stdout.splitlines()
    assert sorted(line.split("/")[0] for line in upgradable) == sorted(host["updates"])


def test_upgrade_flags_a_reboot_which_reboot_clears_and_reset_undoes(host_lab):
    host = next(h for h in host_lab.hosts if any(u["reboot_required"] for u in h["updates"].values()))
    try:
        host_lab.ssh(host, "sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade")
        assert _installed(host_lab, host) == {name: host_lab.info["packages"][name]["new"]
                                              for name in host["installed"]}
        flagged = host_lab.ssh(host, "cat /var/run/reboot-required.pkgs").stdout.split()
        assert flagged == [n for n, u in host["updates"].items() if u["reboot_required"]]
        boot_id = host_lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout
        proc = lab_cli("reboot", host["name"])
        assert proc.returncode == 0, proc.stderr
        assert host_lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout != boot_id
        assert host_lab.ssh(host, "test -e /var/run/reboot-required", check=False).returncode == 1
        assert _installed(host_lab, host) == {name: host_lab.info["packages"][name]["new"]
                                              for name in host["installed"]}
    finally:
        reset = lab_cli("reset", host["name"])
        assert reset.returncode == 0, reset.stderr
    assert _installed(host_lab, host) == host["installed"]
