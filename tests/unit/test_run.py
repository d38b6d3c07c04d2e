"""The one run value (mspctl/run.py) and what renders it (mspctl/reports/junit.py, present.py):
summaries, outcomes, the exit code under each --fail-on policy, JUnit with provenance, and the
drift and patch runs' conversions."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from mspctl import provenance
from mspctl.errors import ExitCode, NetBoxUnreachableError
from mspctl.model import Asset
from mspctl.run import FailOn, Run, TargetResult, count, exit_code, fail_on

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _t(key: str, status: str, outcome: str, error: str | None = None, code: str | None = None) -> TargetResult:
    return TargetResult(key, key.replace(":", "-"), "acme", status, outcome, error=error, error_code=code)  # type: ignore[arg-type]


def _run(*results: TargetResult, **kw: object) -> Run:
    return Run("drift-1", "drift", NOW, NOW, list(results), **kw)  # type: ignore[arg-type]


def test_count_names_its_keys_first_then_the_rest_sorted() -> None:
    assert count(["b", "a", "b"]) == {"a": 1, "b": 2}
    assert count(["x", "drift"], ("compliant", "drift")) == {"compliant": 0, "drift": 1, "x": 1}


@pytest.mark.parametrize(("outcomes", "policy", "code"), [
    (["ok", "finding"], "drift", ExitCode.FINDINGS),
    (["ok", "finding"], "failure", ExitCode.OK),
    (["ok", "finding", "failed"], "drift", ExitCode.PARTIAL),  # a failure wins over findings
    (["ok", "failed"], "failure", ExitCode.PARTIAL),
    (["finding", "failed"], "never", ExitCode.OK),
    (["skipped", "not_applicable"], "drift", ExitCode.NOTHING_CHECKED),
    (["skipped"], "failure", ExitCode.NOTHING_CHECKED),
    (["skipped"], "never", ExitCode.OK),
    (["ok", "skipped"], "drift", ExitCode.OK),
    ([], "drift", ExitCode.OK),
])
def test_the_exit_code_under_each_fail_on(outcomes: list[str], policy: str, code: int) -> None:
    run = _run(*(_t(f"device:{i}", o, o) for i, o in enumerate(outcomes)))
    assert exit_code(run, fail_on(policy)) == code


def test_an_interruption_and_a_run_level_error_decide_first() -> None:
    run = _run(_t("device:1", "drift", "finding"), interrupted="SIGINT")
    assert exit_code(run, fail_on("never")) == ExitCode.INTERRUPTED
    err = NetBoxUnreachableError("netbox down")
    assert exit_code(_run(_t("device:1", "failed", "failed"), error=err, interrupted="SIGINT")) == err.exit_code
    # a findings-only policy (patch status): what failed is not compliant either
    assert exit_code(_run(_t("vm:1", "UNREACHABLE", "failed")), FailOn(failures=False)) == ExitCode.FINDINGS


def test_finish_says_why_then_exits(capsys: pytest.CaptureFixture[str]) -> None:
    from mspctl.errors import RunInterrupted
    from mspctl.reports.present import finish

    finish(_run(_t("device:1", "compliant", "ok")))  # 0: returns
    with pytest.raises(SystemExit) as exc:
        finish(_run(_t("device:1", "skipped", "skipped", "no template")), what="audited")
    assert exc.value.code == ExitCode.NOTHING_CHECKED
    err = capsys.readouterr().err
    assert "skipped: device-1: no template" in err and "Nothing was audited: all 1 selected target(s)" in err
    with pytest.raises(SystemExit) as exc:
        finish(_run(_t("device:1", "skipped", "skipped", "x", RunInterrupted.code), interrupted="SIGTERM"))
    assert exc.value.code == ExitCode.INTERRUPTED
    assert "Interrupted by SIGTERM: 1 target(s) not started" in capsys.readouterr().err


def _drift() -> object:
    from mspctl.drift.compare import FeatureResult
    from mspctl.drift.service import DeviceDrift, DriftRun

    return DriftRun("drift-1", NOW, NOW, [
        DeviceDrift(Asset("device", 1, "core-1", "acme"), "drift",
                    [FeatureResult("ntp", "drift", ("ntp server 192.0.2.1",), ("ntp server 10.0.0.1",),
                                   ("ntp server 192.0.2.1", "no ntp server 10.0.0.1")),
                     FeatureResult("hostname", "compliant")], "live", NOW, 3.0),
        DeviceDrift(Asset("device", 2, "edge-1", "globex"), "failed", error="gone", error_code="DeviceAuthError")])


def test_a_drift_run_becomes_one_run_value() -> None:
    drift = _drift()
    run = drift.to_run({"device:1": "core-1 (acme)"})  # type: ignore[attr-defined]
    assert (run.id, run.kind, run.clients) == ("drift-1", "drift", ["acme", "globex"])
    assert run.summary == drift.summary == {"compliant": 0, "drift": 1, "failed": 1, "skipped": 0,  # type: ignore[attr-defined]
                                             "features_drifted": 1}
    core, edge = run.results
    assert (core.key, core.name, core.outcome, core.evidence_source, core.evidence_age) == (
        "device:1", "core-1 (acme)", "finding", "live", 3.0)
    assert core.diff == "@@ ntp\n+ntp server 192.0.2.1\n-ntp server 10.0.0.1"
    assert [(c.name, c.status) for c in core.checks] == [("ntp", "failure"), ("hostname", "passed")]
    assert (edge.outcome, edge.error_code, [c.status for c in edge.checks]) == ("failed", "DeviceAuthError", ["error"])
    assert exit_code(run, fail_on("drift")) == ExitCode.PARTIAL
    doc = run.to_dict()
    assert doc["devices"] == drift.to_dict()["devices"] and doc["who"] == {}  # type: ignore[attr-defined]


def test_junit_carries_the_runs_provenance_when_there_is_one() -> None:
    from mspctl.reports.junit import junit

    plain = ET.fromstring(junit(_drift().to_run()))  # type: ignore[attr-defined]
    assert plain.find("testsuite/properties") is None
    assert [s.get("name") for s in plain.iter("testsuite")] == ["drift.acme", "drift.globex"]
    provenance.begin(["mspctl", "drift", "-A", "--netbox-token", "tok3n-value"])
    root = ET.fromstring(junit(_drift().to_run()))  # type: ignore[attr-defined]
    found = root.find("testsuite/properties")
    assert found is not None
    props = {p.get("name"): p.get("value") for p in found}
    assert props["mspctl.command"] == "mspctl drift -A --netbox-token ***"
    assert props["mspctl.run"] == "drift-1" and props["mspctl.who"] and props["mspctl.version.mspctl"]
    assert [(c.get("classname"), c.get("name")) for c in root.iter("testcase")] == [
        ("acme.core-1", "ntp"), ("acme.core-1", "hostname"), ("globex.edge-1", "device")]


def test_present_prints_the_json_document_with_its_provenance(capsys: pytest.CaptureFixture[str]) -> None:
    from mspctl.reports.present import present

    provenance.begin(["mspctl", "drift"])
    present(_drift().to_run(), "json")  # type: ignore[attr-defined]
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_id"] == "drift-1" and doc["command"] == "mspctl drift" and "mspctl" in doc["versions"]
    assert [d["status"] for d in doc["devices"]] == ["drift", "failed"]


def test_present_prints_the_kinds_table(capsys: pytest.CaptureFixture[str]) -> None:
    from mspctl.reports.present import present

    present(_drift().to_run(), "table")  # type: ignore[attr-defined]
    out = capsys.readouterr()
    header, core, edge = out.out.splitlines()
    assert header.split() == ["DEVICE", "CLIENT", "STATUS", "FEATURES", "DRIFT", "/", "ERROR", "EVIDENCE"]
    assert core.split() == ["core-1", "acme", "drift", "1/2", "ok", "ntp", "live", "3s"]
    assert edge.split() == ["edge-1", "globex", "failed", "-", "gone", "-"]
    assert out.err.strip() == "run drift-1: 0 compliant, 1 drifted, 1 failed, 0 skipped"


def test_a_patch_run_becomes_one_run_value_with_its_not_applicable_assets() -> None:
    from mspctl.patch.model import HostCompliance
    from mspctl.patch.service import HostResult, PatchHost, PatchRun

    def host(i: int, state: str, status: str | None = None, error: str | None = None) -> HostResult:
        return HostResult(PatchHost(Asset("vm", i, f"web{i}", "acme"), None), HostCompliance(f"web{i}", state, None),
                          status=status, error=error)  # type: ignore[arg-type]

    scan = PatchRun("patch-scan-1", "patch-scan", NOW, NOW, [host(1, "COMPLIANT"), host(2, "UNREACHABLE")],
                    not_applicable=[host(3, "NOT_APPLICABLE")])
    run = scan.to_run()
    assert [(r.key, r.status, r.outcome) for r in run.results] == [
        ("vm:1", "COMPLIANT", "ok"), ("vm:2", "UNREACHABLE", "failed"), ("vm:3", "NOT_APPLICABLE", "not_applicable")]
    assert run.summary == scan.summary
    assert exit_code(run, fail_on("noncompliant")) == ExitCode.PARTIAL
    assert exit_code(run, FailOn(failures=False)) == ExitCode.FINDINGS  # `patch status`
    only_na = PatchRun("patch-scan-2", "patch-scan", NOW, NOW, [], not_applicable=[host(3, "NOT_APPLICABLE")])
    assert exit_code(only_na.to_run()) == ExitCode.NOTHING_CHECKED
    window = PatchRun("patch-window-1", "patch-window", NOW, NOW,
                      [host(1, "COMPLIANT", "patched"), host(2, "NON_COMPLIANT", "skipped", "not started: interrupted "
                                                                                        "by SIGTERM")],
                      applied=True, interrupted="SIGTERM", writeback_error=NetBoxUnreachableError("NetBox is down"))
    wrun = window.to_run()
    assert [r.outcome for r in wrun.results] == ["ok", "failed"] and wrun.not_started == 1
    assert exit_code(wrun) == NetBoxUnreachableError.exit_code
    assert "patch writeback --run patch-window-1" in wrun.error_note
