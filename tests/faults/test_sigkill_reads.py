"""SIGKILL at random points of a backup and of a drift audit (a seeded draw, so a failure can be
replayed): the backups repository stays sound (`git fsck --strict`, no stale lock), the run
records stay sound (SQLite's integrity check), and the next run works and commits what changed."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from lab.devices.control import ControlClient
from tests.faults.conftest import Start

pytestmark = [pytest.mark.lab, pytest.mark.faults]

SEED = 20261202
KILLS = 4  # per command
DEVICES = ["acme-core-sw1", "acme-dist-sw1", "acme-edge-rtr1"]


@pytest.fixture
def slow(lab_network):
    """acme's devices answer each command after 0.15 s, so a run lasts a few seconds."""
    ctl = ControlClient(lab_network.control)
    for d in DEVICES:
        ctl.set_knobs(d, command_delay=0.15)
    yield ctl
    for d in DEVICES:
        ctl.set_knobs(d, command_delay=0)
    lab_network.reset()


def _sound_records(path: Path) -> None:
    if path.exists():
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _sound_repo(repo: Path) -> None:
    if (repo / ".git").is_dir():
        subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)


@pytest.mark.parametrize("command", [("config", "backup"), ("drift", "--fail-on", "never")])
def test_sigkill_at_random_points_leaves_repository_and_records_sound(start: Start, slow, records_path: Path,
                                                                      fault_env, command) -> None:
    rng = random.Random(f"{SEED}-{command[0]}")
    repo = Path(fault_env["XDG_DATA_HOME"]) / "mspctl" / "backups"
    for _ in range(KILLS):
        proc = start(*command, "-c", "acme")
        time.sleep(rng.uniform(0.2, 4.0))
        proc.kill()
        _sound_records(records_path)
        _sound_repo(repo)
    slow.run("acme-edge-rtr1", "configure terminal", "logging host 192.0.2.88", "end")
    proc = start("config", "backup", "-c", "acme", "-o", "json")
    code, out, err = proc.finish()
    assert code == 0, err  # a lock a killed run held is released with its process
    devices = {d["device"]: d for d in json.loads(out)["devices"]}
    assert devices["acme-edge-rtr1"]["status"] in ("changed", "new")
    assert "logging host 192.0.2.88" in (repo / "acme" / "acme-edge-rtr1.cfg").read_text()
    _sound_repo(repo)
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True,
                            check=True).stdout
    assert not [line for line in status.splitlines() if line.endswith(".cfg") and not line.startswith("??")]
    _sound_records(records_path)
