"""Fault fixtures: mspctl as a real process (to kill it or signal it, under a pseudo-terminal
when a person's Ctrl-C is the point), the run journal read behind its back, and mspctl in-process
against the brownfield client (`hooli`)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import REPO, LabBrownfield, LabNetBox, LabNetwork, lab_env

MSPCTL = [sys.executable, "-c", "from mspctl.cli.app import run; run()"]


@dataclass
class Proc:
    """A running mspctl process, its records file, and ways to wait for what it has journaled."""

    popen: subprocess.Popen[str]
    records: Path

    def events(self) -> list[tuple[str, str, str]]:
        """(run id, device name, event) of every journal entry so far, in order. The journal keys a
        target by its NetBox object (`device:12`); its name is read from the target's intent entry."""
        if not self.records.exists():
            return []
        try:
            with sqlite3.connect(f"file:{self.records}?mode=ro", uri=True, timeout=5) as db:
                rows = list(db.execute("SELECT run_id, target, event, data FROM journal ORDER BY run_id, seq"))
        except sqlite3.OperationalError:  # the schema is not there yet
            return []
        names: dict[str, str] = {}
        for _, target, _, data in rows:
            asset = json.loads(data).get("asset") if data else None
            if isinstance(asset, dict) and asset.get("name"):
                names.setdefault(target, asset["name"])
        return [(run_id, names.get(target, target), event) for run_id, target, event, _ in rows]

    def wait_for(self, target: str, event: str, deadline: float = 90.0, kind: str = "") -> str:
        """Block until `target` journals `event` (in a run of `kind`, e.g. ``rollback``, when
        given: the records may hold earlier runs); returns the run id."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for run_id, t, e in self.events():
                if t == target and e == event and run_id.startswith(kind):
                    return run_id
            if self.popen.poll() is not None:
                out, err = self.popen.communicate()
                raise AssertionError(f"mspctl ended ({self.popen.returncode}) before {target} journaled {event}:"
                                     f"\n{out}\n{err}")
            time.sleep(0.02)
        raise AssertionError(f"{target} never journaled {event}: {self.events()}")

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def finish(self, timeout: float = 180) -> tuple[int, str, str]:
        out, err = self.popen.communicate(timeout=timeout)
        return self.popen.returncode, out, err


Start = Callable[..., Proc]


@pytest.fixture
def fault_env(lab_netbox: LabNetBox, lab_network: LabNetwork, tmp_path: Path) -> dict[str, str]:
    """The environment of a real mspctl process against the lab (no TTY)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSPCTL_", "NETBOX_"))}
    return {**env, **lab_env(lab_netbox, tmp_path), "MSPCTL_CREDENTIALS_FILE": lab_network.credentials_file,
            "MSPCTL_DEVICE_PORT": lab_network.device_port, "PYTHONPATH": str(REPO)}


@pytest.fixture
def records_path(tmp_path: Path) -> Path:
    return tmp_path / "xdg-cache" / "mspctl" / "records.sqlite"


@pytest.fixture
def start(fault_env: dict[str, str], records_path: Path) -> Iterator[Start]:
    """Start `mspctl ARGS` as its own process; it is killed at the end of the test if still running."""
    procs: list[Proc] = []

    def launch(*args: str, env: dict[str, str] | None = None) -> Proc:
        popen = subprocess.Popen([*MSPCTL, *args], cwd=REPO, env={**fault_env, **(env or {})}, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        procs.append(Proc(popen, records_path))
        return procs[-1]

    yield launch
    for p in procs:
        if p.popen.poll() is None:
            p.popen.kill()
            p.popen.wait(timeout=30)


def run_json(output: str) -> dict:
    return json.loads(output)


@pytest.fixture
def hooli(lab_brownfield: LabBrownfield, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """`mspctl` in-process against the brownfield client hooli, with a private cache, records and
    backups under `tmp_path`; hooli's devices are reset before and after the test."""
    from mspctl.cli import main

    monkeypatch.chdir(REPO)
    for var in list(os.environ):
        if var.startswith(("MSPCTL_", "NETBOX_")):
            monkeypatch.delenv(var)
    env = lab_brownfield.env(tmp_path)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    lab_brownfield.reset()
    yield invoke
    lab_brownfield.reset()
