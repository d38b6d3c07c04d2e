"""Pure parts of patch runs: batching, the failure gate, window text, the window lock, reports."""

from __future__ import annotations

import fcntl
from datetime import UTC, datetime, timedelta

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


def _scan(name: str, packages: dict[str, str], boot: str):
    from mspctl.patch.model import HostScan

    return HostScan(name, datetime.now(UTC), os_family="debian", package_manager="apt", installed=packages,
                    boot_id=boot)


class _DiesAfterInstallRunner(_FakeRunner):
    """The apply fails after installing (the reboot step, say): no after-state comes back, but
    the host, read again, has the new packages and a new boot id."""

    def __init__(self) -> None:
        super().__init__()
        self.scanned: list[list[str]] = []

    def apply(self, inventory, hosts, host_vars, on_event=None):
        from mspctl.adapters.ansible import HostOutcome

        self.batches.append(list(hosts))
        return {h: HostOutcome(h, "failed", failed_step="reboot", error="reboot timed out") for h in hosts}

    def scan(self, inventory, hosts, on_event=None):
        self.scanned.append(list(hosts))
        return {h: _scan(h, {"libc6": "2.36-9+deb12u9", "openssl": "3.0.15-1"}, "boot-2") for h in hosts}


def test_a_host_that_failed_after_installing_is_read_again_and_its_packages_recorded():
    from mspctl.patch.service import apply_batch
    from mspctl.settings import Settings

    batch = _hosts_needing("a")
    batch[0].scan = _scan("a", {"libc6": "2.36-9+deb12u4", "openssl": "3.0.15-1"}, "boot-1")
    runner = _DiesAfterInstallRunner()
    (done,) = apply_batch(Settings(), runner, batch, 1)  # type: ignore[arg-type]
    assert runner.scanned == [["a"]]
    assert done.status == "failed" and done.failed_step == "reboot"
    assert done.installed == ("libc6=2.36-9+deb12u9",) and done.rebooted is True
    assert done.patched_at is not None and done.scan is not None and done.scan.boot_id == "boot-2"


def test_a_host_that_cannot_be_read_again_says_what_it_got_is_unknown():
    from mspctl.patch.service import apply_batch
    from mspctl.settings import Settings

    class Dark(_DiesAfterInstallRunner):
        def scan(self, inventory, hosts, on_event=None):
            from mspctl.patch.model import HostScan

            return {h: HostScan(h, datetime.now(UTC), reachable=False, error="timed out") for h in hosts}

    batch = _hosts_needing("a")
    batch[0].scan = _scan("a", {"libc6": "2.36-9+deb12u4"}, "boot-1")
    (done,) = apply_batch(Settings(), Dark(), batch, 1)  # type: ignore[arg-type]
    assert done.installed == () and done.patched_at is None
    assert done.error is not None and "packages it got before that are unknown" in done.error


def test_in_flight_hosts_of_a_killed_window_are_found_again_from_the_host():
    from mspctl.patch.window import _recover_in_flight

    before = _scan("a", {"libc6": "2.36-9+deb12u4", "curl": "7.88.1-10"}, "boot-1")
    saved = SavedWindow("patch-window-x", NOW, in_flight={
        "a": {"batch": 2, "scan": before.to_dict()}, "b": {"batch": 2, "scan": before.to_dict()}})
    a, b, c = _hosts_needing("abc")
    a.scan = _scan("a", {"libc6": "2.36-9+deb12u9", "curl": "7.88.1-10", "libnew1": "1.0"}, "boot-7")
    b.scan = None  # unreadable now: stays in flight, nothing is claimed for it
    c.scan = _scan("c", {"curl": "8"}, "boot-9")  # never in flight
    found = _recover_in_flight(saved, [a, b, c])
    assert set(found) == {"a"}
    assert found["a"].batch == 2 and found["a"].rebooted is True
    assert found["a"].installed == ("libc6=2.36-9+deb12u9", "libnew1=1.0")


def test_resume_state_keeps_the_batch_in_flight(tmp_path):
    lock = WindowLock(tmp_path, "acme")
    lock.save(SavedWindow("patch-window-x", NOW, {}, "2026-11-28T21:00:00+00:00",
                          {"a": {"batch": 1, "scan": _scan("a", {"x": "1"}, "b1").to_dict()}}))
    saved = lock.saved()
    assert saved is not None and saved.in_flight["a"]["batch"] == 1
    assert saved.in_flight["a"]["scan"]["installed"] == {"x": "1"}


def test_host_keys_are_pinned_per_netbox_object_in_a_private_file(tmp_path):
    import os
    import stat

    from mspctl.patch.service import ansible_inventory, host_key_alias
    from mspctl.settings import NetBoxSettings, PatchSettings, Settings

    pins = tmp_path / "state" / "known_hosts"
    settings = Settings(netbox=NetBoxSettings(url="https://netbox.example"), patch=PatchSettings(known_hosts=pins))
    a, b = _hosts_needing("ab")
    a.host.asset.primary_ip = b.host.asset.primary_ip = "10.0.0.5"  # one address, two NetBox objects
    hosts = ansible_inventory(settings, [a.host, b.host])["all"]["hosts"]
    args = {name: hv["ansible_ssh_extra_args"] for name, hv in hosts.items()}
    assert f"HostKeyAlias={host_key_alias(settings, 'vm', a.host.asset.id)}" in args["a"]
    assert f"HostKeyAlias={host_key_alias(settings, 'vm', b.host.asset.id)}" in args["b"]
    assert args["a"] != args["b"] and f"UserKnownHostsFile={pins}" in args["a"]
    assert "StrictHostKeyChecking=accept-new" in args["a"]
    assert stat.S_IMODE(os.stat(pins).st_mode) == 0o600 and stat.S_IMODE(os.stat(pins.parent).st_mode) == 0o700
    other = Settings(netbox=NetBoxSettings(url="https://other.example"), patch=PatchSettings(known_hosts=pins))
    assert host_key_alias(other, "vm", 1) != host_key_alias(settings, "vm", 1)  # one pin file, two NetBoxes
    off = Settings(patch=PatchSettings(host_keys="ssh", known_hosts=pins))
    assert "ansible_ssh_extra_args" not in ansible_inventory(off, [a.host])["all"]["hosts"]["a"]


def test_a_changed_host_key_fails_the_host_with_a_way_out():
    from mspctl.patch.model import HostScan
    from mspctl.patch.service import evaluate_scans
    from mspctl.settings import Settings

    (a,) = _hosts_needing("a")
    refused = HostScan("a", NOW, reachable=False,
                       error="Failed to connect to the host via ssh: Host key verification failed.")
    dark = HostScan("a", NOW, reachable=False, error="Failed to connect to the host via ssh: timed out")
    (r,) = evaluate_scans(Settings(), [a.host], {"a": refused}, NOW, timedelta(days=7))
    assert r.compliance.state == "FAILED" and r.scan is None
    assert r.compliance.reason.startswith("MSP-PATCH-408") and "ssh-keygen -R mspctl-" in r.compliance.reason
    (r,) = evaluate_scans(Settings(), [a.host], {"a": dark}, NOW, timedelta(days=7))
    assert r.compliance.state == "UNREACHABLE"


def test_host_keys_setting_is_checked_with_its_line(tmp_path):
    from mspctl.settings import load_settings

    (tmp_path / "mspctl.toml").write_text('[patch]\nforks = 5\nhost_keys = "off"\n')
    with pytest.raises(ConfigError, match=r"mspctl.toml:3: patch.host_keys = 'off'"):
        load_settings(env={}, cwd=tmp_path)


def test_patch_settings_from_the_environment(tmp_path):
    from mspctl.settings import load_settings

    s = load_settings(env={"MSPCTL_PATCH_MAX_FAIL_PERCENT": "10", "MSPCTL_PATCH_CANARY_MUST_PASS": "false",
                           "MSPCTL_PATCH_HOST_KEYS": "ssh"}, cwd=tmp_path)
    assert (s.patch.max_fail_percent, s.patch.canary_must_pass, s.patch.host_keys) == (10, False, "ssh")
    assert "$MSPCTL_PATCH_MAX_FAIL_PERCENT" in s.sources
    with pytest.raises(ConfigError, match="MSPCTL_PATCH_CANARY_MUST_PASS='maybe': expected true or false"):
        load_settings(env={"MSPCTL_PATCH_CANARY_MUST_PASS": "maybe"}, cwd=tmp_path)


def test_the_connect_timeout_reaches_ansible_from_the_file_or_the_environment(tmp_path):
    """Ansible puts its `timeout` on ssh's command line, ahead of the SSH config's ConnectTimeout:
    so [patch] connect_timeout is what bounds a host's connection."""
    from mspctl.patch.service import runner_for
    from mspctl.settings import load_settings

    assert load_settings(env={}, cwd=tmp_path).patch.connect_timeout == 10  # Ansible's own default
    (tmp_path / "mspctl.toml").write_text("[patch]\nconnect_timeout = 30\n")
    s = load_settings(env={}, cwd=tmp_path)
    with runner_for(s) as runner:
        assert runner._environment(tmp_path)["ANSIBLE_TIMEOUT"] == "30"
    s = load_settings(env={"MSPCTL_PATCH_CONNECT_TIMEOUT": "4"}, cwd=tmp_path)
    assert s.patch.connect_timeout == 4 and "$MSPCTL_PATCH_CONNECT_TIMEOUT" in s.sources
    with pytest.raises(ConfigError, match="MSPCTL_PATCH_CONNECT_TIMEOUT='soon': not a whole number"):
        load_settings(env={"MSPCTL_PATCH_CONNECT_TIMEOUT": "soon"}, cwd=tmp_path)
