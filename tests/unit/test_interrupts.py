"""mspctl/interrupts.py and the read-only runs' stop: a signal becomes a flag, queued devices end
as `skipped` (MSP-RUN-499), what was read is kept and the record says `interrupted`. And the
table's narrow-terminal layout (mspctl/cli/output.py). The same under a real terminal, against
the lab: tests/faults/test_terminal.py."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from mspctl.interrupts import READ_ONLY, StopFlag, graceful_stop, unless_stopped
from mspctl.model import Asset


def test_a_signal_in_the_block_sets_the_flag_says_so_once_and_the_handler_is_restored(
        capsys: pytest.CaptureFixture[str]) -> None:
    before = signal.getsignal(signal.SIGINT)
    with graceful_stop(READ_ONLY) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        assert stop() and stop.reason == "SIGINT"
    assert signal.getsignal(signal.SIGINT) is before
    err = capsys.readouterr().err
    assert f"SIGINT: stopping. {READ_ONLY}" in err and "SIGINT again" in err


def test_a_task_does_not_start_once_stopped() -> None:
    from mspctl.errors import RunInterrupted

    stop = StopFlag()
    task = unless_stopped(stop, lambda n: n * 2)
    assert task(2) == 4
    stop.set("SIGTERM")
    with pytest.raises(RunInterrupted, match="interrupted by SIGTERM"):
        task(2)


def test_an_interrupted_backup_commits_what_it_read_and_records_the_rest_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.adapters.git import GitRepo
    from mspctl.adapters.netmiko import DeviceTarget
    from mspctl.backup import service
    from mspctl.executor import ThreadExecutor
    from mspctl.records import RecordStore

    stop = StopFlag()

    def fetch(target: DeviceTarget, _timeout: float, _platform: str | None) -> str:
        stop.set("SIGINT")  # Ctrl-C while the first device is read: it finishes, no other starts
        return f"hostname {target.host}\n"

    monkeypatch.setattr(service, "fetch_config", fetch)
    assets = [Asset("device", i, f"r{i}", "acme") for i in (1, 2, 3)]
    targets = {a.key: DeviceTarget(a.name, a.name, 22, "cisco_ios", "u", "p") for a in assets}
    repo, records = GitRepo(tmp_path / "backups"), RecordStore(tmp_path / "r.sqlite")
    run = service.run_backup(assets, targets, {}, repo, ThreadExecutor(workers=1), records, stop=stop)
    assert run.interrupted == "SIGINT"
    assert [(d.status, d.error_code) for d in run.devices] == [("new", None), ("skipped", "MSP-RUN-499"),
                                                               ("skipped", "MSP-RUN-499")]
    assert run.commit
    git = ["git", "-C", str(repo.path)]
    assert subprocess.run([*git, "ls-tree", "-r", "--name-only", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.split() == ["acme/r1.cfg"]
    assert subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True).stdout == ""
    assert "interrupted by SIGINT" in subprocess.run([*git, "log", "-1", "--format=%B"], capture_output=True,
                                                     text=True, check=True).stdout
    record = records.get(run.run_id)
    assert record.params["interrupted"] == "SIGINT"
    assert record.results["device:2"][0] == "skipped"


def test_an_interrupted_drift_compares_what_it_read_and_records_the_rest_skipped(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    from mspctl.adapters.git import GitRepo
    from mspctl.adapters.netmiko import DeviceTarget
    from mspctl.drift import service
    from mspctl.executor import ThreadExecutor
    from mspctl.records import RecordStore
    from mspctl.render.service import RenderResult

    stop = StopFlag()

    from mspctl.plugins import DRIVERS

    class Session:
        def __init__(self, target: DeviceTarget) -> None:
            self.target = target

        def show(self, command: str) -> str:
            return ""

        def running_config(self) -> str:
            stop.set("SIGTERM")
            return f"hostname {self.target.host}\n"

        def close(self) -> None:
            return None

    class Driver:  # a device driver plugin whose first read stops the run
        name = "stopping"

        def session(self, target: DeviceTarget, timeout: float) -> Session:
            return Session(target)

    DRIVERS.register("stopping", Driver())
    assets = [Asset("device", i, f"r{i}", "acme", platform="cisco_ios") for i in (1, 2)]
    targets = {a.key: DeviceTarget(a.name, a.name, 22, "cisco_ios", "u", "p", driver="stopping") for a in assets}
    rendered = {a.key: RenderResult(a, "ok", "t", text=f"hostname {a.name}\n") for a in assets}
    records = RecordStore(tmp_path / "r.sqlite")
    run = service.run_drift(assets, rendered, [], "live", targets, {}, ThreadExecutor(workers=1),
                            GitRepo(tmp_path / "b"), records, stop=stop)
    assert run.interrupted == "SIGTERM" and run.to_dict()["interrupted"] == "SIGTERM"
    assert run.devices[1].status == "skipped" and run.devices[1].error_code == "MSP-RUN-499"
    assert run.devices[0].error_code is None  # read and compared (no feature applies: skipped by that)
    assert records.get(run.run_id).params["interrupted"] == "SIGTERM"
    DRIVERS.unregister("stopping")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


ROWS = [{"device": "acme-edge-rtr1", "client": "acme", "path": "acme/acme-edge-rtr1.cfg",
         "error": "MSP-DEV-401: the device rejected the credentials"}]
COLUMNS = [("device", "DEVICE"), ("client", "CLIENT"), ("path", "FILE"), ("error", "ERROR")]


@pytest.mark.parametrize("width", [40, 60])
def test_a_narrow_terminal_gets_one_block_per_row_with_whole_values(monkeypatch: pytest.MonkeyPatch,
                                                                    width: int) -> None:
    from mspctl.cli.output import print_table

    screen = _Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    monkeypatch.setenv("COLUMNS", str(width))
    print_table(ROWS, COLUMNS)
    assert screen.getvalue().splitlines() == ["DEVICE  acme-edge-rtr1", "CLIENT  acme",
                                              "FILE    acme/acme-edge-rtr1.cfg",
                                              "ERROR   MSP-DEV-401: the device rejected the credentials"]


def test_a_wide_enough_terminal_keeps_the_table_and_wraps_only_free_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.cli.output import print_table

    screen = _Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    monkeypatch.setenv("COLUMNS", "80")
    print_table(ROWS, COLUMNS)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in screen.getvalue().splitlines()]
    assert lines[0].split() == ["DEVICE", "CLIENT", "FILE", "ERROR"]
    assert lines[1].startswith("acme-edge-rtr1  acme    acme/acme-edge-rtr1.cfg  MSP-DEV-401:")
    assert len(lines) > 2 and "…" not in screen.getvalue()  # the error wrapped, the names whole


def test_piped_output_is_always_the_table(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    from mspctl.cli.output import print_table

    monkeypatch.setenv("COLUMNS", "40")
    print_table(ROWS * 2, COLUMNS)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1].startswith("acme-edge-rtr1 ")
