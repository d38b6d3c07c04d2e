"""Secrets never leave mspctl: backups (files, commit messages), drift findings and reports, push
and rollback results, the journal and the records, the device adapter's errors. Devices are fakes;
the git repository and the records are real."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mspctl.adapters.git import GitRepo
from mspctl.adapters.netmiko import DeviceCommandError, DeviceSession, DeviceTarget
from mspctl.drift.features import Feature
from mspctl.executor import TargetResult, TaskContext, ThreadExecutor
from mspctl.model import Asset
from mspctl.records import RecordStore
from mspctl.redact import register_secret
from mspctl.render.service import RenderResult

OLD, NEW, EXTRA = "0ld-C0mm-Secret", "N3w-C0mm-Secret", "Extra-C0mm-Secret"
DEVICE_PW = "dev-lab-pw-2024"  # a device password from the credentials file
SECRETS = (OLD, NEW, EXTRA, DEVICE_PW, "$9$Zk1oX3mPq8vWLe", "104D000A0618")
RUNNING = (f"hostname r1\nenable secret 9 $9$Zk1oX3mPq8vWLe\nsnmp-server community {OLD} RO\n"
           f"interface Gi0/1\n description handover pw {DEVICE_PW}\ntacacs server TAC1\n key 7 104D000A0618\n"
           "ntp server 10.1.1.1\n")
INTENDED = f"hostname r1\nsnmp-server community {NEW} RW\nntp server 10.1.1.1\n"
SNMP = Feature(name="snmp", lines=("snmp-server community",))
TARGET = DeviceTarget("r1", "127.0.0.1", 22, "cisco_ios", "netops", DEVICE_PW)


def _clean(*texts: str | bytes) -> None:
    for text in texts:
        raw = text if isinstance(text, bytes) else text.encode()
        assert [s for s in SECRETS if s.encode() in raw] == []


@pytest.fixture
def asset() -> Asset:
    register_secret(DEVICE_PW)
    return Asset(kind="device", id=1, name="r1", client="acme", platform="cisco_ios")


class ValuesExecutor:
    """Returns the given values as the tasks' results (the devices' side is not under test)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def run(self, targets: Sequence[str], task: Callable[[TaskContext], Any],
            on_event: Any = None) -> list[TargetResult[Any]]:
        return [TargetResult(t, "ok", value=self.values[t]) if not isinstance(self.values[t], Exception)
                else TargetResult(t, "failed", error=str(self.values[t]), error_type="DeviceError") for t in targets]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_a_backup_holds_no_secret_in_its_files_history_or_record(asset: Asset, tmp_path: Path) -> None:
    from mspctl.backup.service import run_backup

    r2 = Asset(kind="device", id=2, name="r2", client="acme", platform="arista_eos")
    repo, records = GitRepo(tmp_path / "backups"), RecordStore(tmp_path / "records.sqlite")
    run = run_backup([asset, r2], {"device:1": TARGET, "device:2": TARGET}, {}, repo, ValuesExecutor(
        {"device:1": RUNNING, "device:2": OSError(f"login as netops/{DEVICE_PW} refused")}), records)
    assert run.commit and run.summary["new"] == 1 and run.summary["failed"] == 1
    stored = (repo.path / "acme" / "r1.cfg").read_text()
    assert "snmp-server community <removed> RO" in stored and " key 7 <removed>" in stored
    assert " description handover pw <removed>" in stored and "ntp server 10.1.1.1" in stored
    _clean(stored, _git(repo.path, "log", "--all", "-p"), (tmp_path / "records.sqlite").read_bytes())


@pytest.mark.parametrize("source", ["live", "backup"])
def test_drift_findings_reports_and_record_hold_no_secret(asset: Asset, tmp_path: Path, source: str) -> None:
    from mspctl.drift.service import run_drift
    from mspctl.reports.drift import junit, markdown

    repo = GitRepo(tmp_path / "backups")
    repo.ensure()
    (repo.path / "acme").mkdir()
    (repo.path / "acme" / "r1.cfg").write_text(RUNNING)  # written by an older mspctl, never scrubbed
    repo.commit_paths(["acme/r1.cfg"], "old backup")
    live = ValuesExecutor({"device:1": (RUNNING, datetime.now(UTC))})  # unscrubbed, as a device prints it
    run = run_drift([asset], {"device:1": RenderResult(asset, "ok", "main.j2", INTENDED)}, [SNMP], source,  # type: ignore[arg-type]
                    {"device:1": TARGET}, {}, live, repo, RecordStore(tmp_path / "records.sqlite"))
    (device,) = run.devices
    (finding,) = device.features
    assert finding.status == "drift"
    assert finding.missing == ("snmp-server community <removed> RW",)
    assert finding.extra == ("snmp-server community <removed> RO",)
    assert finding.remediation and all(OLD not in c and NEW not in c for c in finding.remediation)
    _clean(json.dumps(run.to_dict()), junit(run), markdown(run), (tmp_path / "records.sqlite").read_bytes())


class FakeDevice:
    """Stands in for DeviceSession: one IOS device whose config the commands replace."""

    config = RUNNING
    refuse: str | None = None

    def __init__(self, target: DeviceTarget, timeout: float = 30.0) -> None:
        self.target = target

    def __enter__(self) -> FakeDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def running_config(self) -> str:
        return FakeDevice.config

    def show(self, command: str) -> str:
        return "Cisco IOS XE Software"

    def snapshot(self, name: str) -> str:
        return f"flash:{name}"

    def send_config(self, lines: Sequence[str], accepted: list[str], **_: Any) -> None:
        for line in lines:
            if FakeDevice.refuse and FakeDevice.refuse in line:
                raise DeviceCommandError(f"r1: device refused {line.strip()!r}: % Invalid input", line=line.strip())
            accepted.append(line)
        FakeDevice.config = RUNNING.replace(f"snmp-server community {OLD} RO", f"snmp-server community {NEW} RW")

    def save(self) -> str:
        return ""

    def restore(self, location: str) -> None:
        FakeDevice.config = RUNNING

    def apply(self, lines: Sequence[str]) -> str:
        return ""

    def revert_now(self, name: str | None) -> None:
        return None


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeDevice]]:
    import mspctl.push.service as push

    monkeypatch.setattr(push, "DeviceSession", FakeDevice)
    FakeDevice.config, FakeDevice.refuse = RUNNING, None
    yield FakeDevice


def _push(asset: Asset, tmp_path: Path, apply: bool) -> tuple[Any, RecordStore]:
    from mspctl.push.service import run_push

    records = RecordStore(tmp_path / "records.sqlite")
    run = run_push([asset], {"device:1": RenderResult(asset, "ok", "main.j2", INTENDED)}, [SNMP],
                   {"device:1": TARGET}, {}, {}, apply, ThreadExecutor(workers=1, retries=0), records)
    return run, records


@pytest.mark.parametrize("apply", [False, True])
def test_a_push_sends_the_real_lines_and_records_and_shows_them_scrubbed(asset: Asset, tmp_path: Path, device: Any,
                                                                        apply: bool,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from mspctl.reports.present import present

    run, records = _push(asset, tmp_path, apply)
    (result,) = run.devices
    assert result.status == ("applied" if apply else "planned"), result.error
    assert f"snmp-server community {NEW} RW" in device.config or not apply  # the device got the real line
    assert "snmp-server community <removed> RW" in result.commands
    assert result.pre_config == RUNNING.replace(OLD, "<removed>").replace("$9$Zk1oX3mPq8vWLe", "<removed>") \
        .replace(DEVICE_PW, "<removed>").replace("104D000A0618", "<removed>")
    present(run.to_run(), "table", footer="footer")
    present(run.to_run(), "json", footer="footer")
    out = capsys.readouterr()
    journal = [e.data for e in records.entries(run.run_id)] if apply else []
    _clean(json.dumps(run.to_dict()), out.out, out.err, json.dumps(journal), (tmp_path / "records.sqlite").read_bytes())


def test_a_refused_line_rolls_back_and_names_the_line_scrubbed(asset: Asset, tmp_path: Path, device: Any) -> None:
    device.refuse = f"community {NEW}"
    run, _ = _push(asset, tmp_path, apply=True)
    (result,) = run.devices
    assert result.status == "rolled_back" and result.error_code == "MSP-DEV-422"
    _clean(json.dumps(run.to_dict()), (tmp_path / "records.sqlite").read_bytes())


def test_a_legacy_rollback_shows_its_commands_scrubbed(asset: Asset, device: Any) -> None:
    from mspctl.push.service import rollback_device

    device.config = f"hostname r1\nsnmp-server community {NEW} RW\nsnmp-server community {EXTRA} RO\n"
    data = {"asset": asset.to_dict(), "features": ["snmp"], "pre_config": "snmp-server community <removed> RO\n"}
    result = rollback_device(data, "applied", [SNMP], TARGET, False, TaskContext("r1", 1, 30.0))
    assert result.status == "planned" and result.commands
    assert any("must be restored by hand: snmp-server community <removed> RO" in w for w in result.warnings)
    _clean(json.dumps(result.to_dict()))


def test_the_device_adapter_names_a_refused_line_scrubbed() -> None:
    class Conn:
        def send_config_set(self, lines: list[str], **_: Any) -> str:
            return f"r1(config)#{lines[0]}\n                   ^\n% Invalid input detected at '^' marker.\n"

        def exit_config_mode(self) -> str:
            return ""

    session = DeviceSession(TARGET)
    session._conn = Conn()
    with pytest.raises(DeviceCommandError) as caught:
        session.apply([f"snmp-server community {OLD} RO"])
    assert "snmp-server community <removed> RO" in caught.value.message
    assert caught.value.line == f"snmp-server community {OLD} RO"  # the real line, for the caller only
    _clean(str(caught.value), caught.value.output)


def test_records_scrub_every_string_whoever_wrote_it(tmp_path: Path) -> None:
    from mspctl.records import RunRecord

    register_secret(DEVICE_PW)

    now = datetime.now(UTC)
    store = RecordStore(tmp_path / "r.sqlite")
    store.save(RunRecord("push-1", "push", now, now, {"note": "key 7 104D000A0618"}, {},
                         {"r1": ("applied", {"commands": [f"snmp-server community {OLD} RO"],
                                             "pre_config": RUNNING})}))
    store.journal("push-1", "r1", "intent", {"commands": [f"no snmp-server community {NEW} RW"]})
    got = store.get("push-1").results["r1"][1]
    assert got["commands"] == ["snmp-server community <removed> RO"]
    _clean((tmp_path / "r.sqlite").read_bytes())
