"""Pure parts of patch runs: batching, the failure gate, window text, the window lock, reports."""

from __future__ import annotations

import fcntl
from datetime import UTC, datetime

import pytest

from mspctl.errors import ConfigError, RefusedError
from mspctl.model import Asset, MaintenanceWindow
from mspctl.patch.model import HostCompliance, HostState
from mspctl.patch.service import HostResult, PatchHost, PatchRun, max_failures_gate, note_for, plan_batches
from mspctl.patch.window import SavedWindow, WindowLock, check_window
from mspctl.reports.patch import junit
from mspctl.windows import parse_window_text

NOW = datetime(2026, 11, 28, 21, 30, tzinfo=UTC)


def _result(name: str, state: HostState, install: tuple[str, ...] = (), reboot: bool = False,
            status: str | None = None) -> HostResult:
    host = PatchHost(Asset("vm", abs(hash(name)) % 1000, name, "acme"), None)
    return HostResult(host, HostCompliance(name, state, "debian-security@1", install=install, reboot=reboot),
                      status=status)  # type: ignore[arg-type]


def test_plan_batches_canary_then_rest_and_not_attempted_hosts():
    results = [_result("a", "NON_COMPLIANT", ("x=2",)), _result("b", "COMPLIANT"), _result("c", "UNREACHABLE"),
               _result("d", "NON_COMPLIANT", ("y=2",)), _result("e", "PENDING_REBOOT", reboot=True),
               _result("f", "NO_BASELINE"), _result("g", "NON_COMPLIANT")]
    plan = plan_batches(results, canary=1, batch_size=0)
    assert [[r.host.name for r in b] for b in plan.batches] == [["a"], ["d", "e"]]
    assert {r.host.name: r.status for r in plan.done} == {"b": "compliant", "c": "unreachable", "f": "no-baseline",
                                                           "g": "incomplete"}


def test_plan_batches_sizes():
    todo = [_result(n, "NON_COMPLIANT", ("x=1",)) for n in "abcdef"]
    assert [len(b) for b in plan_batches(todo, canary=2, batch_size=3).batches] == [2, 3, 1]
    assert [len(b) for b in plan_batches(todo, canary=0, batch_size=0).batches] == [6]
    assert [len(b) for b in plan_batches(todo[:1], canary=1, batch_size=0).batches] == [1]
    assert plan_batches([], canary=1, batch_size=0).batches == []


def test_failure_gate_stops_above_the_limit():
    gate = max_failures_gate(total=8, max_fail_percent=25)
    assert gate([_result("a", "FAILED", status="failed")] * 2) is None  # 25 % is not above 25 %
    reason = gate([_result("a", "FAILED", status="failed")] * 2 + [_result("b", "UNREACHABLE", status="unreachable")])
    assert reason == "3 of 8 hosts failed, above the 25% limit"


def test_window_text_from_netbox_custom_field():
    w = parse_window_text("sat 22:00-02:00 Europe/Berlin", "tenant acme")
    assert w == MaintenanceWindow(("sat",), "22:00", 240, "Europe/Berlin")
    assert parse_window_text("mon-fri 01:00-05:30 America/Chicago", "x").days == ("mon", "tue", "wed", "thu", "fri")
    assert parse_window_text("fri-mon 01:00-02:00 UTC", "x").days == ("fri", "sat", "sun", "mon")
    with pytest.raises(ConfigError, match=r"^MSP-CFG-001: tenant acme: 'sat 22:00' is not a window"):
        parse_window_text("sat 22:00", "tenant acme")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        parse_window_text("sat 22:00-23:00 Mars/Olympus", "x")
    with pytest.raises(ConfigError, match="'sa' is not a weekday"):
        parse_window_text("sa 22:00-23:00 UTC", "x")


def test_check_window_refuses_outside_unless_forced():
    window = MaintenanceWindow(("sat",), "22:00", 240, "Europe/Berlin", cutoff_minutes=30)
    assert check_window("acme", window, "clients.yml:3", NOW, force=False).open
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with pytest.raises(RefusedError) as err:
        check_window("acme", window, "clients.yml:3", thursday, force=False)
    assert err.value.exit_code == 6
    assert "clients.yml:3" in err.value.message and "next window 2026-11-28 21:00 UTC" in err.value.message
    assert not check_window("acme", window, "clients.yml:3", thursday, force=True).open


def test_window_lock_is_exclusive_and_keeps_resume_state(tmp_path):
    lock = WindowLock(tmp_path, "acme")
    lock.acquire()
    try:
        with pytest.raises(RefusedError, match="already running"):
            WindowLock(tmp_path, "acme").acquire()
        assert lock.saved() is None
        lock.save(SavedWindow("patch-window-x", NOW, {"h1": {"status": "patched"}}))
        again = lock.saved()
        assert again is not None and again.run_id == "patch-window-x" and again.hosts == {"h1": {"status": "patched"}}
        lock.finish()
        assert lock.saved() is None
    finally:
        lock.release()
    with (tmp_path / "acme.lock").open("a+") as fh:  # released: anyone may take it now
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_corrupt_resume_state_is_a_located_error(tmp_path):
    (tmp_path / "acme.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"acme\.json: unreadable resume state"):
        WindowLock(tmp_path, "acme").saved()


def _run(results: list[HostResult]) -> PatchRun:
    return PatchRun("patch-window-1", "patch-window", NOW, NOW, results, applied=True)


def test_junit_one_testcase_per_host():
    run = _run([_result("a", "COMPLIANT", status="patched"), _result("b", "NON_COMPLIANT", status="incomplete"),
                _result("c", "UNREACHABLE", status="unreachable"), _result("d", "NON_COMPLIANT", status="skipped")])
    xml = junit(run)
    assert xml.count("<testcase ") == 4
    assert 'tests="4" failures="1" errors="1" skipped="1"' in xml


def test_netbox_note_levels_and_text():
    ok = _result("a", "COMPLIANT", status="patched")
    ok.installed = ("mspdemo-web=2",)
    ok.rebooted = True
    ok.patched_at = NOW
    note = note_for(_run([ok]), ok)
    assert (note.level, note.compliance, note.patched_at) == ("success", "COMPLIANT", NOW)
    assert "`mspdemo-web=2`" in note.comments and "Rebooted." in note.comments
    bad = _result("b", "UNREACHABLE", status="unreachable")
    bad.error = "ssh: connect timed out"
    note = note_for(_run([bad]), bad)
    assert note.level == "danger" and note.patched_at is None and "connect timed out" in note.comments


class _FakeRunner:
    """Stands in for AnsibleRunner.apply: every host ends patched (an after-state with nothing pending)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def apply(self, inventory, hosts, host_vars, on_event=None):
        from mspctl.adapters.ansible import HostOutcome
        from mspctl.patch.model import HostScan

        self.batches.append(list(hosts))
        return {h: HostOutcome(h, "ok", changed=True, after=HostScan(h, datetime.now(UTC), os_family="debian",
                                                                     package_manager="apt"),
                               installed=tuple(host_vars[h]["mspctl_install"])) for h in hosts}


def _hosts_needing(names: str) -> list[HostResult]:
    """Non-compliant Debian hosts under the repository's debian-security baseline, one per letter."""
    from pathlib import Path

    from mspctl.patch.baseline import load_baselines

    baselines = load_baselines(Path(__file__).resolve().parents[2] / "baselines")
    todo = [_result(n, "NON_COMPLIANT", ("x=2",)) for n in names]
    for r in todo:
        r.host.asset.platform = "debian"
        r.host.choice = baselines.for_asset(r.host.asset, client_default="debian-security", today=NOW.date())
    return todo


def test_run_batches_stops_at_a_gate_and_skips_the_rest():
    from mspctl.patch.service import run_batches
    from mspctl.settings import Settings

    plan = plan_batches(_hosts_needing("abcd"), canary=1, batch_size=2)
    runner = _FakeRunner()
    calls: list[int] = []

    def cutoff_after_first_batch(done: list[HostResult]) -> str | None:
        calls.append(len(done))
        return "the window's cutoff passed (23:30 UTC)" if done else None

    saved: list[list[str]] = []
    results, stopped = run_batches(Settings(), runner, plan, [cutoff_after_first_batch],  # type: ignore[arg-type]
                                   on_batch=lambda b: saved.append([r.host.name for r in b]))
    assert runner.batches == [["a"]] and saved == [["a"]]
    assert stopped == "the window's cutoff passed (23:30 UTC)"
    assert {r.host.name: r.status for r in results} == {"a": "patched", "b": "skipped", "c": "skipped",
                                                        "d": "skipped"}
    assert calls == [0, 1]  # checked before each batch, once stopped no more
    assert results[1].error == "not started: the window's cutoff passed (23:30 UTC)"


def test_host_compliance_round_trips_through_its_dict():
    from mspctl.patch.model import PackageResult

    comp = HostCompliance("h1", "NON_COMPLIANT", "debian-security@1",
                          (PackageResult("web", "MISSING", "1", "2", "security", "approved"),),
                          ("web=2",), True, "1 missing", NOW, 3.5, installed_count=41)
    assert HostCompliance.from_dict(comp.to_dict()) == comp


class _FailingRunner(_FakeRunner):
    """The canary host's apply fails (a broken repository, say); every other host would patch."""

    def apply(self, inventory, hosts, host_vars, on_event=None):
        from mspctl.adapters.ansible import HostOutcome

        out = super().apply(inventory, hosts, host_vars, on_event)
        return {h: HostOutcome(h, "failed", failed_step="install", error="apt failed") if h == "a" else o
                for h, o in out.items()}


def test_a_failed_canary_stops_the_rollout_below_the_failure_share():
    from mspctl.patch.service import rollout_gates, run_batches
    from mspctl.settings import PatchSettings, Settings

    settings = Settings(patch=PatchSettings(canary=1, max_fail_percent=25))  # 1 of 5 = 20 %: under the share
    runner = _FailingRunner()
    results, stopped = run_batches(settings, runner, plan_batches(_hosts_needing("abcde"), 1, 0),  # type: ignore[arg-type]
                                   rollout_gates(settings, 5))
    assert runner.batches == [["a"]]
    assert stopped == "the canary batch failed on a"
    assert {r.host.name: r.status for r in results} == {"a": "failed", "b": "skipped", "c": "skipped",
                                                        "d": "skipped", "e": "skipped"}


def test_the_canary_gate_can_be_turned_off():
    from mspctl.patch.service import rollout_gates, run_batches
    from mspctl.settings import PatchSettings, Settings

    settings = Settings(patch=PatchSettings(canary=1, max_fail_percent=25, canary_must_pass=False))
    runner = _FailingRunner()
    results, stopped = run_batches(settings, runner, plan_batches(_hosts_needing("abcde"), 1, 0),  # type: ignore[arg-type]
                                   rollout_gates(settings, 5))
    assert stopped is None and runner.batches == [["a"], ["b", "c", "d", "e"]]
    assert [r.status for r in results] == ["failed", "patched", "patched", "patched", "patched"]
