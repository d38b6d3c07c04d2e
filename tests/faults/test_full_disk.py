"""Full disks under the backups repository and under the run records (a real tmpfs of a few
hundred kilobytes, filled to the last byte).

A backup that cannot store its configs exits 14 (`MSP-IO-507`), records why (the records are on
another disk), leaves the repository at its last commit with no half-written file, and the next
run after space is freed commits the change. A push whose start cannot be recorded never starts:
exit 14 (`MSP-REC-507`), the device untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.devices.control import ControlClient
from mspctl.errors import ExitCode

pytestmark = [pytest.mark.lab, pytest.mark.faults]

DEVICE = "acme-edge-rtr1"


class SmallDisk:
    """A tmpfs of `size` mounted at `path`; `fill()` takes its last byte, `free()` gives it back."""

    def __init__(self, path: Path, size: str = "512k") -> None:
        if os.geteuid() != 0:
            pytest.fail("the full-disk tests mount a tmpfs: they need root, as the host lab does", pytrace=False)
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
        self.filler = path / ".filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    continue
        finally:
            os.close(fd)
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def ctl(lab_network) -> ControlClient:
    return ControlClient(lab_network.control)


@pytest.fixture
def data_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """mspctl's data folder (where the backups repository lives) on a small disk of its own."""
    disk = SmallDisk(tmp_path / "data" / "mspctl")
    yield disk
    disk.close()


@pytest.fixture
def records_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """mspctl's cache folder (where the run records live) on a small disk of its own."""
    disk = SmallDisk(tmp_path / "xdg-cache" / "mspctl")
    yield disk
    disk.close()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_a_backup_onto_a_full_disk_exits_14_records_why_and_leaves_the_repository_whole(
        net, ctl, data_disk: SmallDisk) -> None:
    first = net("config", "backup", "-c", "acme", "-o", "json")
    assert first.exit_code == 0, first.output
    repo = Path(json.loads(first.stdout)["repo"])
    assert repo.is_relative_to(data_disk.path)
    head = _git(repo, "rev-parse", "HEAD").strip()
    before = (repo / "acme" / f"{DEVICE}.cfg").read_text()
    ctl.run(DEVICE, "configure terminal", "logging host 192.0.2.77", "end")

    data_disk.fill()
    res = net("config", "backup", "-c", "acme", "-o", "json")
    assert res.exit_code == ExitCode.STORAGE, res.output
    assert "MSP-IO-507" in res.stderr and "Traceback" not in res.output
    assert _git(repo, "rev-parse", "HEAD").strip() == head  # no commit
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)
    assert (repo / "acme" / f"{DEVICE}.cfg").read_text() == before  # the old file whole, or the new one
    assert not [p for p in (repo / "acme").iterdir() if p.name.startswith(".")]  # no temporary left behind
    runs = json.loads(net("runs", "list", "--kind", "backup", "-o", "json").stdout)
    shown = json.loads(net("runs", "show", runs[0]["id"], "-o", "json").stdout)
    assert shown["params"]["error"].startswith("MSP-IO-507")
    assert {r["status"] for r in shown["results"].values()} == {"failed"}

    data_disk.free()
    again = net("config", "backup", "-c", "acme", "-o", "json")
    assert again.exit_code == 0, again.output
    devices = {d["device"]: d for d in json.loads(again.stdout)["devices"]}
    assert devices[DEVICE]["status"] == "changed"
    assert "logging host 192.0.2.77" in (repo / "acme" / f"{DEVICE}.cfg").read_text()
    assert _git(repo, "rev-parse", "HEAD").strip() != head


def test_a_push_whose_start_cannot_be_recorded_never_starts(net, ctl, records_disk: SmallDisk) -> None:
    drift = net("drift", "-c", "acme", "-l", DEVICE, "--fail-on", "never")  # the records exist, and work
    assert drift.exit_code == 0, drift.output
    before = ctl.config(DEVICE)
    records_disk.fill()
    res = net("config", "push", "-c", "acme", "-l", DEVICE, "--apply", "--yes", "--force")
    assert res.exit_code == ExitCode.STORAGE, res.output
    assert "MSP-REC-507" in res.stderr and "Traceback" not in res.output
    assert ctl.config(DEVICE) == before  # nothing was sent
    later = net("drift", "-c", "acme", "-l", DEVICE, "--fail-on", "never")
    assert later.exit_code == ExitCode.STORAGE and "MSP-REC-507" in later.stderr
    records_disk.free()
    listed = json.loads(net("runs", "list", "-o", "json").stdout)
    assert [r["kind"] for r in listed] == ["drift"]  # the refused push left no record half-written
