"""The patch playbooks and the Ansible adapter against real Debian hosts (the host lab, ``mspctl-t1..5``).

Host profiles (lab/hosts/README.md): t1 outdated, t2 security-pending, t3 updates-pending, t4 patched,
t5 web-only (mspdemo-tools not installed). The module fixture resets every host to its seed; tests
that change packages reset what they need themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostlab import REPO, HostLab, lab_cli

from mspctl.adapters.ansible import AnsibleError, AnsibleRunner, HostEvent
from mspctl.patch.model import HostScan
from tests.conftest import LAB_CONNECT_TIMEOUT

LIB, WEB, TOOLS = "mspdemo-openssl-lib", "mspdemo-web", "mspdemo-tools"
LOCK_PID = "/tmp/mspctl-test-lock.pid"


def _reset(*hosts: str) -> None:
    proc = lab_cli("reset", *hosts, timeout=300)
    assert proc.returncode == 0, proc.stderr


def _inventory(lab: HostLab) -> dict[str, Any]:
    """The lab's inventory.json without its SSH arguments: the runner's ssh_config must be what reaches the hosts."""
    inv = json.loads(Path(lab.info["inventory"]).read_text())
    del inv["all"]["vars"]["ansible_ssh_common_args"]
    return inv


def _runner(lab: HostLab) -> AnsibleRunner:
    return AnsibleRunner(REPO / "playbooks", forks=5, ssh_config=Path(lab.info["ssh_config"]), timeout=900,
                         connect_timeout=LAB_CONNECT_TIMEOUT)


@pytest.fixture
def runner(lab: HostLab) -> Iterator[AnsibleRunner]:
    """A runner whose SSH masters end with the test (as mspctl closes its runner after a command)."""
    with _runner(lab) as r:
        yield r


def _names(lab: HostLab, *indexes: int) -> list[str]:
    return [lab.host(i)["name"] for i in indexes]


def _demo_packages(lab: HostLab, host: dict[str, Any]) -> dict[str, str]:
    out = lab.ssh(host, "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' 'mspdemo-*'",
                  check=False).stdout
    return {p[0]: p[1] for p in (line.split() for line in out.splitlines()) if len(p) >= 3 and p[2] == "ii"}


def _boot_id(lab: HostLab, host: dict[str, Any]) -> str:
    return lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()


@pytest.fixture(scope="module")
def lab(host_lab: HostLab) -> HostLab:
    _reset()  # other test files patch and reboot hosts
    return host_lab


@pytest.fixture(scope="module")
def seeded_scan(lab: HostLab) -> tuple[dict[str, HostScan], list[HostEvent]]:
    events: list[HostEvent] = []
    with _runner(lab) as runner:
        scans = runner.scan(_inventory(lab), [h["name"] for h in lab.hosts], on_event=events.append)
    return scans, events


def test_scan_reports_the_seeded_packages_and_updates(lab, seeded_scan):
    scans, events = seeded_scan
    assert set(scans) == {h["name"] for h in lab.hosts}
    for h in lab.hosts:
        scan = scans[h["name"]]
        assert scan.reachable and scan.error is None, scan.error
        assert (scan.os_family, scan.distribution, scan.distribution_version, scan.package_manager) == \
            ("debian", "debian", "12", "apt")
        assert {n: v for n, v in scan.installed.items() if n.startswith("mspdemo-")} == h["installed"]
        assert len(scan.installed) > 50  # the whole package database, not only the demo packages
        seen = {n: {"from": u.installed, "to": u.candidate, "security": u.classification == "security"}
                for n, u in scan.updates.items()}
        assert seen == {n: {k: u[k] for k in ("from", "to", "security")} for n, u in h["updates"].items()}
        for name, upd in scan.updates.items():
            assert upd.archive == h["updates"][name]["suite"]
            assert upd.origin.endswith("/stable-security" if upd.classification == "security" else "/stable-updates")
            assert upd.released is not None
        assert not scan.reboot_required and scan.boot_id
    assert {e.host for e in events} == set(scans)
    assert {e.task for e in events} == {"scan: facts", "scan: pending updates", "scan: package facts"}


def test_apply_installs_exact_versions_reboots_when_needed_and_is_idempotent(lab, seeded_scan, runner):
    scans, _ = seeded_scan
    hosts = [h["name"] for h in lab.hosts]
    t1, t5 = lab.host(1)["name"], lab.host(5)["name"]
    # t1 gets only its security updates (tools stays pending); t5 is also asked for mspdemo-tools,
    # which it does not have: upgrades only, so it must stay absent.
    approved = {name: {n: u.candidate for n, u in scans[name].updates.items()
                       if name != t1 or u.classification == "security"} for name in hosts}
    install = {name: [f"{n}={v}" for n, v in sorted(approved[name].items())] for name in hosts}
    install[t5].append(f"{TOOLS}={lab.info['packages'][TOOLS]['new']}")
    outcomes = runner.apply(_inventory(lab), hosts, {n: {"mspctl_install": install[n]} for n in hosts})

    for h in lab.hosts:
        name, out = h["name"], outcomes[h["name"]]
        assert out.status == "ok" and out.error is None and out.failed_step is None, out.error
        assert out.changed == bool(approved[name])
        assert out.installed == tuple(sorted(f"{n}={v}" for n, v in approved[name].items()))
        needs_reboot = LIB in approved[name]
        assert out.rebooted == needs_reboot
        assert out.after is not None and out.after.reachable
        assert (out.after.boot_id != scans[name].boot_id) == needs_reboot
        assert not out.after.reboot_required  # the reboot cleared the flag
        assert not set(approved[name]) & set(out.after.updates)  # nothing approved is still pending
        live = _demo_packages(lab, h)
        assert live == {n: approved[name].get(n, v) for n, v in h["installed"].items()}
        assert {n: v for n, v in out.after.installed.items() if n.startswith("mspdemo-")} == live
    assert set(outcomes[t1].after.updates) == {TOOLS}  # not approved: still pending
    assert TOOLS not in _demo_packages(lab, lab.host(5))

    again = runner.apply(_inventory(lab), hosts, {n: {"mspctl_install": install[n]} for n in hosts})
    for name, out in again.items():
        assert (out.status, out.changed, out.rebooted, out.installed) == ("ok", False, False, ()), (name, out)


def test_a_held_dpkg_lock_fails_that_host_at_precheck(lab, runner):
    locked, others = lab.host(2), [lab.host(3), lab.host(5)]
    _reset(locked["name"], *(h["name"] for h in others))
    # dpkg takes fcntl (POSIX) locks: hold one exactly as dpkg does, in a process that outlives the SSH session
    holder = ("import fcntl, os, time; f = open('/var/lib/dpkg/lock', 'w'); fcntl.lockf(f, fcntl.LOCK_EX); "
              f"open('{LOCK_PID}', 'w').write(str(os.getpid())); time.sleep(600)")
    lab.ssh(locked, f"sudo rm -f {LOCK_PID}; sudo setsid -f python3 -c \"{holder}\" </dev/null >/dev/null 2>&1; "
                    f"for i in $(seq 100); do [ -s {LOCK_PID} ] && exit 0; sleep 0.1; done; exit 1")
    try:
        # flock(1) does not see the lock: a check built on it would let the run collide with dpkg
        assert lab.ssh(locked, "sudo flock -n /var/lib/dpkg/lock true", check=False).returncode == 0
        names = [locked["name"], *(h["name"] for h in others)]
        outcomes = runner.apply(_inventory(lab), names, {n: {"mspctl_classification": "all"} for n in names})
    finally:
        lab.ssh(locked, f"sudo kill $(cat {LOCK_PID}) && sudo rm -f {LOCK_PID}", check=False)
    failed = outcomes[locked["name"]]
    assert (failed.status, failed.failed_step, failed.changed) == ("failed", "precheck", False)
    assert "precheck: free space and package manager locks" in failed.error
    assert "/var/lib/dpkg/lock is locked by pid" in failed.error
    assert _demo_packages(lab, locked) == locked["installed"]
    for h in others:
        out = outcomes[h["name"]]
        assert out.status == "ok" and out.changed, out.error
        assert _demo_packages(lab, h) == {n: h["updates"].get(n, {}).get("to", v) for n, v in h["installed"].items()}


def test_unreachable_hosts_are_outcomes_and_the_others_finish(lab, runner):
    before, during, fine = lab.host(4), lab.host(3), lab.host(5)
    _reset(during["name"], fine["name"])
    assert lab_cli("cut", before["name"]).returncode == 0

    def cut_after_install(event: HostEvent) -> None:
        # cut while the run is on: once this host's install is done, mid-run, with its SSH master open
        if event.host == during["name"] and event.task == "install: packages":
            assert lab_cli("cut", during["name"]).returncode == 0

    names = [before["name"], during["name"], fine["name"]]
    try:
        outcomes = runner.apply(_inventory(lab), names, {n: {"mspctl_classification": "all"} for n in names},
                                      on_event=cut_after_install)
    finally:
        for h in (before, during):
            lab_cli("restore", h["name"])
    first = outcomes[before["name"]]
    assert (first.status, first.failed_step, first.changed) == ("unreachable", "precheck", False)
    assert "precheck: facts" in first.error
    late = outcomes[during["name"]]
    assert late.status == "unreachable" and late.failed_step in ("reboot", "postcheck"), late
    assert late.after is None
    assert outcomes[fine["name"]].status == "ok" and outcomes[fine["name"]].installed == (
        f"{WEB}={fine['updates'][WEB]['to']}",)


def test_plain_ansible_playbook_upgrades_only_security_packages(lab):
    _reset()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           # no SSH masters left behind; pipelining only for speed (what mspctl's runner sets too)
           "ANSIBLE_SSH_ARGS": "-o ControlMaster=no", "ANSIBLE_PIPELINING": "True", "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(["ansible-playbook", "-i", lab.info["inventory"], "playbooks/patch_apply.yml",
                           "-e", "mspctl_classification=security"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for h in lab.hosts:
        expected = {n: (h["updates"][n]["to"] if h["updates"].get(n, {}).get("security") else v)
                    for n, v in h["installed"].items()}
        assert _demo_packages(lab, h) == expected, h["name"]
    assert TOOLS not in _demo_packages(lab, lab.host(5))


def test_ansible_itself_failing_raises_ansible_error(tmp_path):
    inventory = {"all": {"hosts": {"somewhere": {"ansible_host": "192.0.2.1"}}}}
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "patch_scan.yml").write_text("- hosts: all\n  tasks:\n    - no_such_module_zz: {}\n")
    with pytest.raises(AnsibleError) as broken:
        AnsibleRunner(tmp_path / "playbooks", forks=1).scan(inventory, ["somewhere"])
    assert broken.value.code == "MSP-ANS-001" and "no_such_module_zz" in str(broken.value)
    with pytest.raises(AnsibleError) as missing:
        AnsibleRunner(REPO / "playbooks", forks=1, env={"PATH": str(tmp_path)}).scan(inventory, ["somewhere"])
    assert "rc 127" in str(missing.value) and "install ansible-core" in str(missing.value)
