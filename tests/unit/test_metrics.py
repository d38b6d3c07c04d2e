"""`mspctl metrics`: figures from run records, written by the services' own result types into a
real SQLite store, read back through the CLI and prometheus_client's own parser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from mspctl.drift.service import DeviceDrift, DeviceStatus
from mspctl.metrics import FAILED_STATUSES, HELP, HOST_STATES, TEXTFILE, compute
from mspctl.model import Asset
from mspctl.patch.model import HostCompliance, HostScan, HostState
from mspctl.patch.service import HostResult, PatchHost
from mspctl.records import RecordStore, RunRecord

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)  # the CLI judges staleness against the real clock: the records sit far from the limit
DAY = timedelta(days=1)
Figures = dict[str, dict[tuple[tuple[str, str], ...], float]]


# -- records, as the services write them ---------------------------------------------------------
def _device(dev_id: int, name: str, client: str, status: DeviceStatus) -> tuple[str, tuple[str, dict[str, Any]]]:
    d = DeviceDrift(Asset("device", dev_id, name, client, platform="cisco_ios"), status)
    return f"device:{dev_id}", (status, d.to_dict())


def _host(vm_id: int, name: str, client: str, state: HostState, scanned: datetime, status: str | None = None,
          reachable: bool = True) -> tuple[str, tuple[str, dict[str, Any]]]:
    scan = HostScan(name, scanned, reachable=reachable, error=None if reachable else "ssh: timed out")
    comp = HostCompliance(name, state, "debian-12@1", scanned_at=scanned, evidence_age_seconds=0.0)
    r = HostResult(PatchHost(Asset("vm", vm_id, name, client), None), comp, status=status,  # type: ignore[arg-type]
                   scan=scan)
    return name, (status or state, r.to_dict())


def _run(run_id: str, kind: str, at: datetime, results: list[tuple[str, tuple[str, dict[str, Any]]]],
         **params: Any) -> RunRecord:
    summary: dict[str, int] = {}
    for _, (status, _) in results:
        summary[status] = summary.get(status, 0) + 1
    return RunRecord(run_id, kind, at, at + timedelta(minutes=2), params, summary, dict(results))


def history() -> list[RunRecord]:
    """Two clients' runs: old and new drift results for the same devices, a stale host scan, a
    patch window killed while it patched a host, an interrupted drift run, a backup failing one
    client's device only."""
    return [
        _run("drift-1", "drift", NOW - 3 * DAY, [
            _device(1, "acme-rtr1", "acme", "compliant"), _device(2, "acme-sw1", "acme", "drift"),
            _device(3, "acme-sw2", "acme", "compliant"), _device(7, "globex-fw1", "globex", "failed")],
            source="live", interrupted=None),
        _run("drift-2", "drift", NOW - 1 * DAY, [  # acme-sw1 not audited again: its drift result stands
            _device(1, "acme-rtr1", "acme", "drift"), _device(3, "acme-sw2", "acme", "failed"),
            _device(7, "globex-fw1", "globex", "compliant")], source="live", interrupted=None),
        _run("drift-3", "drift", NOW - DAY / 2, [  # interrupted: acme-sw2 skipped
            _device(3, "acme-sw2", "acme", "skipped")], source="live", interrupted="SIGTERM"),
        _run("patch-scan-1", "patch-scan", NOW - 10 * DAY, [
            _host(11, "h1", "acme", "COMPLIANT", NOW - 10 * DAY),
            _host(12, "h2", "acme", "NON_COMPLIANT", NOW - 10 * DAY),
            _host(13, "h3", "acme", "NON_COMPLIANT", NOW - 10 * DAY),
            _host(21, "g1", "globex", "PENDING_REBOOT", NOW - 10 * DAY)], filter="(no filter)"),
        _run("patch-scan-2", "patch-scan", NOW - 2 * DAY, [
            _host(12, "h2", "acme", "PENDING_REBOOT", NOW - 2 * DAY),
            _host(13, "h3", "acme", "NON_COMPLIANT", NOW - 2 * DAY),
            _host(21, "g1", "globex", "UNREACHABLE", NOW - 2 * DAY, reachable=False)], filter="(no filter)"),
        # A window killed while h3's batch ran, sealed as patch/window.py does: h2 finished
        # (its saved result), h3 in flight (a stub naming no client and no state).
        _run("patch-window-1", "patch-window", NOW - DAY, [
            _host(12, "h2", "acme", "COMPLIANT", NOW - DAY, status="patched"),
            ("h3", ("unfinished", {"host": "h3", "batch": 2, "status": "unfinished",
                                   "error": "its batch was running when the window was killed"}))],
            client="acme", applied=True, unfinished=True, expired="its window opening is over"),
        _run("backup-1", "backup", NOW - 2 * DAY, [
            ("device:1", ("unchanged", {"device": "acme-rtr1", "client": "acme", "path": "acme/acme-rtr1.cfg"})),
            ("device:7", ("failed", {"device": "globex-fw1", "client": "globex", "error": "timed out"}))],
            repo="/backups", interrupted=None),
        _run("backup-2", "backup", NOW - DAY, [
            ("device:1", ("changed", {"device": "acme-rtr1", "client": "acme", "path": "acme/acme-rtr1.cfg"}))],
            repo="/backups", interrupted=None),
    ]


def parse(text: str) -> Figures:
    """Every sample of the exposition text, by family and label set, through prometheus_client's parser."""
    out: Figures = {}
    for fam in text_string_to_metric_families(text):
        assert fam.type == "gauge" and fam.documentation == HELP[fam.name], fam.name
        for s in fam.samples:
            out.setdefault(fam.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def states(figures: Figures, family: str, client: str) -> dict[str, float]:
    return {dict(k)["state"]: v for k, v in figures.get(family, {}).items() if dict(k)["client"] == client}


def by_kind(figures: Figures, family: str, client: str) -> dict[str, float]:
    return {dict(k)["kind"]: v for k, v in figures.get(family, {}).items() if dict(k)["client"] == client}


def ts(at: datetime) -> float:
    return (at + timedelta(minutes=2)).timestamp()  # _run's records finish two minutes after they start


# -- the CLI ------------------------------------------------------------------------------------------
@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An mspctl.toml naming a records file in tmp_path, with stale_after 7 days."""
    path = tmp_path / "r.sqlite"
    (tmp_path / "mspctl.toml").write_text(f'[config]\nrecords = "{path}"\n\n[patch]\nstale_after = "7d"\n')
    monkeypatch.setenv("MSPCTL_CONFIG", str(tmp_path / "mspctl.toml"))
    monkeypatch.delenv("MSPCTL_RECORDS_URL", raising=False)
    return path


def metrics(*args: str) -> tuple[int, str, str]:
    from mspctl.cli import main

    result = CliRunner().invoke(main, ["--offline", "metrics", *args])
    return result.exit_code, result.stdout, result.stderr


def test_figures_match_the_records(records: Path, tmp_path: Path) -> None:
    store = RecordStore(records)
    for r in history():
        store.save(r)
    out_dir = tmp_path / "textfile"
    out_dir.mkdir()
    code, stdout, stderr = metrics("--textfile", str(out_dir), "-A")
    assert code == 0, stderr
    assert (out_dir / TEXTFILE).read_text() == stdout
    assert [p.name for p in out_dir.iterdir()] == [TEXTFILE]  # the temporary file was renamed, none left
    f = parse(stdout)

    # Devices: each one's newest drift result (acme-sw1's is still run 1's; acme-sw2's the skip of
    # the interrupted run 3). Every state is its own series, zeros included.
    assert states(f, "mspctl_devices", "acme") == {"compliant": 0, "drift": 2, "failed": 0, "skipped": 1}
    assert states(f, "mspctl_devices", "globex") == {"compliant": 1, "drift": 0, "failed": 0, "skipped": 0}

    # Hosts: h1's only scan is 10 days old (STALE, never its old COMPLIANT); h2 was patched by the
    # window before it was killed; h3 was in flight (UNFINISHED, attributed to acme by the window);
    # g1 is unreachable now, whatever it was before.
    acme_hosts = states(f, "mspctl_hosts", "acme")
    assert set(acme_hosts) == set(HOST_STATES)
    assert {s: n for s, n in acme_hosts.items() if n} == {"STALE": 1, "COMPLIANT": 1, "UNFINISHED": 1}
    assert {s: n for s, n in states(f, "mspctl_hosts", "globex").items() if n} == {"UNREACHABLE": 1}

    # The last run and the last success per kind and client.
    assert by_kind(f, "mspctl_last_run_timestamp_seconds", "acme") == {
        "drift": ts(NOW - DAY / 2), "patch-scan": ts(NOW - 2 * DAY), "patch-window": ts(NOW - DAY),
        "backup": ts(NOW - DAY)}
    assert by_kind(f, "mspctl_last_success_timestamp_seconds", "acme") == {
        "drift": ts(NOW - 3 * DAY),  # run 2 failed acme-sw2, run 3 was interrupted
        "patch-scan": ts(NOW - 2 * DAY), "patch-window": 0.0, "backup": ts(NOW - DAY)}
    assert by_kind(f, "mspctl_last_run_timestamp_seconds", "globex") == {
        "drift": ts(NOW - DAY), "patch-scan": ts(NOW - 2 * DAY), "backup": ts(NOW - 2 * DAY)}
    assert by_kind(f, "mspctl_last_success_timestamp_seconds", "globex") == {
        "drift": ts(NOW - DAY),   # globex had no target in the interrupted run
        "patch-scan": ts(NOW - 10 * DAY),  # the newer scan found g1 unreachable
        "backup": 0.0}            # its only backup failed globex-fw1 (acme's device in it was fine)
    assert by_kind(f, "mspctl_runs_unfinished", "acme") == {"drift": 0, "patch-scan": 0, "patch-window": 1,
                                                              "backup": 0}
    assert by_kind(f, "mspctl_runs_unfinished", "globex") == {"drift": 0, "patch-scan": 0, "backup": 0}
    assert f["mspctl_records_chain_ok"] == {(): 1.0}


def test_one_client_and_a_client_without_records(records: Path) -> None:
    store = RecordStore(records)
    for r in history():
        store.save(r)
    code, stdout, stderr = metrics("-c", "globex", "-c", "initech")
    assert code == 0, stderr
    f = parse(stdout)
    clients = {dict(k).get("client") for fam in f.values() for k in fam}
    assert clients == {"globex", None}  # None: the chain's series, which has no client label
    assert "no run records for client initech" in stderr


def test_no_records_no_client_series(records: Path) -> None:
    code, stdout, stderr = metrics("-A")
    assert code == 0, stderr
    assert parse(stdout) == {"mspctl_records_chain_ok": {(): 1.0}}


def test_a_tampered_store_reports_the_chain_broken(records: Path) -> None:
    import sqlite3

    store = RecordStore(records)
    for r in history():
        store.save(r)
    db = sqlite3.connect(records, isolation_level=None)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='results'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    db.execute("UPDATE results SET status = 'compliant' WHERE run_id = 'drift-2' AND target = 'device:3'")
    db.close()
    code, stdout, stderr = metrics("-A")
    assert code == 0, stderr
    assert parse(stdout)["mspctl_records_chain_ok"] == {(): 0.0}
    assert "MSP-REC-409" in stderr and "drift-2" in stderr


def test_a_scope_is_required(records: Path) -> None:
    code, _, stderr = metrics()
    assert code == 2 and "MSP-USE-001" in stderr
    code, _, stderr = metrics("-c", "acme", "-A")
    assert code == 2 and "MSP-USE-001" in stderr


def test_a_textfile_that_cannot_be_written(records: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "textfile"
    (out_dir / TEXTFILE).mkdir(parents=True)  # in the way of the rename, for root as for anyone
    code, stdout, stderr = metrics("--textfile", str(out_dir), "-A")
    assert code == 14 and "MSP-MET-403" in stderr and str(out_dir / TEXTFILE) in stderr
    assert stdout == ""  # nothing printed as if it had been written
    assert [p.name for p in out_dir.iterdir()] == [TEXTFILE]  # no temporary file left behind


# -- the pure rules ------------------------------------------------------------------------------------
def test_stale_uses_the_setting_and_the_evidence_time() -> None:
    from mspctl.history import ChainReport

    ok = ChainReport(True, 1, "0" * 64)
    old = [_run("patch-scan-1", "patch-scan", NOW - 30 * DAY, [_host(1, "h1", "acme", "COMPLIANT", NOW - 3 * DAY)])]
    # The run is a month old but its evidence three days: the evidence decides.
    assert compute(old, ok, now=NOW, stale_after=7 * DAY).family("mspctl_hosts").samples[("acme", "COMPLIANT")] == 1
    assert compute(old, ok, now=NOW, stale_after=DAY).family("mspctl_hosts").samples[("acme", "STALE")] == 1


def test_a_stub_without_client_takes_the_hosts_other_results() -> None:
    from mspctl.history import ChainReport

    ok = ChainReport(True, 2, "0" * 64)
    recs = [_run("patch-scan-1", "patch-scan", NOW - DAY, [_host(5, "h5", "globex", "NON_COMPLIANT", NOW - DAY)]),
            # a killed `patch apply` sealed by the store's recovery: journal facts only, no client
            _run("patch-apply-1", "patch-apply", NOW - DAY / 2,
                 [("h5", ("unfinished", {"batch": 1, "install": ["openssl=3"], "reboot": False,
                                         "last_event": "intent", "events": ["intent"]}))],
                 applied=True, unfinished=True),
            _run("patch-apply-2", "patch-apply", NOW - DAY / 4, [("h9", ("unfinished", {"batch": 1}))],
                 applied=True, unfinished=True)]
    m = compute(recs, ok, now=NOW, stale_after=7 * DAY)
    assert {k: v for k, v in m.family("mspctl_hosts").samples.items() if v} == {("globex", "UNFINISHED"): 1}
    assert m.family("mspctl_runs_unfinished").samples == {("patch-apply", "globex"): 1, ("patch-scan", "globex"): 0}
    assert m.unattributed == 1  # h9: no record anywhere names its client


def test_failed_statuses_agree_with_the_services() -> None:
    from mspctl.patch.service import APPLY_FAILED
    from mspctl.push.service import FAILED

    assert FAILED_STATUSES["push"] == FAILED_STATUSES["rollback"] == frozenset(FAILED)
    assert FAILED_STATUSES["patch-apply"] == FAILED_STATUSES["patch-window"] == frozenset(
        {*APPLY_FAILED, "skipped", "unfinished"})


def test_every_metric_is_documented_with_its_type_and_help() -> None:
    doc = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    for name, text in HELP.items():
        assert re.search(rf"^\| `{name}(\{{[^`]*\}})?` \| gauge \|", doc, re.M), name
        assert text in doc, name
