"""Backups under faults, against the lab's devices and a real git repository: two runs at once,
a stale git lock, a file a killed run left in the working tree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lab.devices.control import ControlClient
from tests.conftest import REPO
from tests.faults.conftest import MSPCTL

BACKUP = [*MSPCTL, "config", "backup", "-c", "acme", "-o", "json"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_two_backups_at_once_both_finish_and_each_commit_is_its_own(fault_env, lab_network) -> None:
    runs = [subprocess.Popen(BACKUP, cwd=REPO, env=fault_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outs
    results = [json.loads(out) for out, _ in outs]
    repo = Path(results[0]["repo"])
    commits = [r["commit"] for r in results if r["commit"]]
    assert len(commits) == 1  # one run stored the three new configs, the other found them unchanged
    assert sorted(r["summary"]["new"] for r in results) == [0, 3]
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)


def test_a_stale_git_lock_is_recovered_and_named(fault_env, lab_network) -> None:
    first = subprocess.run(BACKUP, cwd=REPO, env=fault_env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    repo = Path(json.loads(first.stdout)["repo"])
    (repo / ".git" / "index.lock").write_text("")  # a git killed mid-commit leaves this
    ctl = ControlClient(lab_network.control)
    try:
        ctl.call("run", device="acme-core-sw1", commands=["configure terminal", "ntp server 192.0.2.200", "end"])
        again = subprocess.run(BACKUP, cwd=REPO, env=fault_env, capture_output=True, text=True, timeout=300)
    finally:
        lab_network.reset()
    assert again.returncode == 0, again.stderr
    assert "index.lock" in again.stderr and "stale" in again.stderr
    run = json.loads(again.stdout)
    assert run["summary"]["changed"] == 1 and run["commit"]
    assert "ntp server 192.0.2.200" in _git(repo, "show", "HEAD:acme/acme-core-sw1.cfg")


def test_changes_are_judged_against_the_last_commit_not_the_working_tree(fault_env, lab_network, tmp_path) -> None:
    first = subprocess.run(BACKUP, cwd=REPO, env=fault_env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    repo = Path(json.loads(first.stdout)["repo"])
    ctl = ControlClient(lab_network.control)
    other = {**fault_env, "XDG_DATA_HOME": str(tmp_path / "other-data"), "XDG_CACHE_HOME": str(tmp_path / "oc")}
    try:
        ctl.call("run", device="acme-core-sw1", commands=["configure terminal", "ntp server 192.0.2.201", "end"])
        # A run killed after writing the new config, before committing it, leaves exactly this file:
        elsewhere = subprocess.run([*MSPCTL, "config", "backup", "-c", "acme", "-l", "acme-core-sw1", "-o", "json"],
                                   cwd=REPO, env=other, capture_output=True, text=True, timeout=300)
        assert elsewhere.returncode == 0, elsewhere.stderr
        new = (Path(json.loads(elsewhere.stdout)["repo"]) / "acme" / "acme-core-sw1.cfg").read_text()
        (repo / "acme" / "acme-core-sw1.cfg").write_text(new)
        (repo / "acme" / "stray.cfg").write_text("not this run's\n")
        again = subprocess.run(BACKUP, cwd=REPO, env=fault_env, capture_output=True, text=True, timeout=300)
    finally:
        lab_network.reset()
    assert again.returncode == 0, again.stderr
    run = json.loads(again.stdout)
    status = {d["device"]: d["status"] for d in run["devices"]}
    assert status["acme-core-sw1"] == "changed"  # before: "unchanged", and committed under no run
    assert run["summary"]["changed"] == 1 and run["commit"]
    files = _git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert files == ["acme/acme-core-sw1.cfg"]  # the stray file is no part of this run's commit
