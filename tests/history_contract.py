"""The history store's tests, run on every backend: tests/unit/test_history_store.py runs them on
SQLite, tests/lab/test_history_postgres.py on the lab's PostgreSQL. A module importing these
provides a `backend` fixture giving a `Backend` with a fresh, empty database."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest

from mspctl.errors import NotFoundError
from mspctl.history import HistoryStore, RunQuery, RunRecord

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Backend(Protocol):
    name: str
    location: str  # what HistoryStore opens: a path (SQLite) or a URL

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL behind mspctl's back, in its own autocommitted connection."""

    def unprotect(self, table: str) -> None:
        """Remove the triggers that keep `table` append-only, as someone tampering would."""


@dataclass
class SQLiteBackend:
    path: Path
    name: str = "sqlite"

    @property
    def location(self) -> str:
        return str(self.path)

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import sqlite3

        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            return db.execute(sql.replace("%s", "?"), params).fetchall()
        finally:
            db.close()

    def unprotect(self, table: str) -> None:
        for (name,) in self.raw("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=?", (table,)):
            self.raw(f"DROP TRIGGER {name}")


def record(run_id: str, kind: str = "drift", at: datetime = NOW, client: str = "acme",
           results: dict[str, tuple[str, dict[str, Any]]] | None = None) -> RunRecord:
    results = {"device:1": ("compliant", {"device": "core-1", "client": client}),
               "device:2": ("drift", {"device": "edge-1", "client": client, "missing": ["ntp server 192.0.2.1"]})} \
        if results is None else results
    return RunRecord(run_id, kind, at, at + timedelta(seconds=5), {"source": "live"}, {"compliant": 1}, results)


def dead_owner() -> str:
    """The owner of a run whose process is gone: a pid that just exited."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return json.dumps({"host": socket.gethostname(), "pid": int(proc.stdout), "start": "0"})


# -- records ------------------------------------------------------------------------------------
def test_a_saved_run_reads_back_whole(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    store.save(record("drift-1"))
    got = HistoryStore(backend.location).get("drift-1")
    assert got == record("drift-1")
    assert got.started_at.tzinfo is not None


def test_recent_is_newest_first_and_filters_by_kind(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    for i, kind in enumerate(["drift", "backup", "drift", "push"]):
        store.save(record(f"{kind}-{i}", kind, NOW + timedelta(hours=i)))
    assert [r.id for r in store.recent()] == ["push-3", "drift-2", "backup-1", "drift-0"]
    assert [r.id for r in store.recent("drift")] == ["drift-2", "drift-0"]
    assert [r.id for r in store.recent(limit=2)] == ["push-3", "drift-2"]


def test_history_and_latest_per_target(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    store.save(record("drift-a", at=NOW))
    store.save(record("drift-b", at=NOW + timedelta(days=1),
                      results={"device:1": ("drift", {"device": "core-1", "client": "acme", "n": 2})}))
    store.save(record("backup-c", "backup", NOW + timedelta(days=2)))
    assert store.history("device:1", "drift") == [
        ("drift-b", (NOW + timedelta(days=1)).isoformat(), "drift"), ("drift-a", NOW.isoformat(), "compliant")]
    latest = store.latest("drift", ["device:1", "device:2", "device:9"])
    assert latest["device:1"] == ("drift-b", NOW + timedelta(days=1), {"device": "core-1", "client": "acme", "n": 2})
    assert latest["device:2"][0] == "drift-a"
    assert "device:9" not in latest


def test_an_unknown_or_unfinished_run_is_not_found(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    with pytest.raises(NotFoundError, match="no run 'drift-x'") as exc:
        store.get("drift-x")
    assert exc.value.code == "MSP-REC-404"
    store.start("push-live", "push", NOW)
    with pytest.raises(NotFoundError, match="has not finished yet"):
        store.get("push-live")


def test_secrets_are_scrubbed_as_they_are_written(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    store.save(record("push-s", "push", results={"device:1": ("applied", {
        "client": "acme", "commands": ["username admin privilege 15 secret 0 Hunter2Secret"]})}))
    stored = backend.raw("SELECT data FROM results WHERE run_id = %s", ("push-s",))[0][0]
    assert "Hunter2Secret" not in stored
    assert "username admin" in stored


def test_find_filters_by_client_kind_target_and_period(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    store.save(record("drift-acme", at=NOW - timedelta(days=40)))
    store.save(record("drift-globex", at=NOW - timedelta(days=2), client="globex",
                      results={"device:7": ("compliant", {"device": "core-1", "client": "globex"})}))
    store.save(record("backup-acme", "backup", NOW - timedelta(days=1)))
    store.save(RunRecord("patch-w", "patch-window", NOW, NOW, {"client": "acme"}, {},
                         {"web-1": ("compliant", {"host": "web-1"})}))

    def ids(**kw: Any) -> list[str]:
        return [r.id for r in store.find(RunQuery(**kw))]

    assert ids(client="acme") == ["patch-w", "backup-acme", "drift-acme"]
    assert ids(client="globex") == ["drift-globex"]
    assert ids(kind="drift") == ["drift-globex", "drift-acme"]
    assert ids(target="device:7") == ["drift-globex"]
    assert ids(target="core-1") == ["backup-acme", "drift-globex", "drift-acme"]  # a name: both clients' core-1
    assert ids(target="web-1") == ["patch-w"]
    assert ids(since=NOW - timedelta(days=30)) == ["patch-w", "backup-acme", "drift-globex"]
    assert ids(since=NOW - timedelta(days=30), until=NOW) == ["backup-acme", "drift-globex"]
    assert ids(client="acme", kind="drift", since=NOW - timedelta(days=30)) == []
    assert ids(client="acme", limit=1) == ["patch-w"]


# -- append-only at the database level ----------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "DELETE FROM runs", "DELETE FROM results", "UPDATE results SET status = 'compliant'",
    "UPDATE runs SET summary = '{}'", "DELETE FROM run_starts", "DELETE FROM journal",
    "UPDATE journal SET event = 'done'", "DELETE FROM run_chain", "UPDATE run_chain SET prev_hash = 'x'",
])
def test_every_change_to_a_written_row_is_refused(backend: Backend, statement: str) -> None:
    store = HistoryStore(backend.location)
    store.start("push-1", "push", NOW)
    store.journal("push-1", "device:1", "intent", {"commands": ["ntp server 192.0.2.1"]})
    store.save(record("push-1", "push"))
    with pytest.raises(Exception, match="immutable"):
        backend.raw(statement)
    again = HistoryStore(backend.location)
    assert again.get("push-1") == record("push-1", "push")
    assert [e.event for e in again.entries("push-1")] == ["intent"]
    assert again.verify().ok


def test_a_second_write_of_a_key_is_refused(backend: Backend) -> None:
    import sqlalchemy as sa

    store = HistoryStore(backend.location)
    store.save(record("drift-1"))
    with pytest.raises(sa.exc.IntegrityError):
        store.save(record("drift-1", results={}))
    replace = ("INSERT OR REPLACE INTO results VALUES ('drift-1', 'device:1', 'failed', '{}')"
               if backend.name == "sqlite" else
               "INSERT INTO results VALUES ('drift-1', 'device:1', 'failed', '{}') "
               "ON CONFLICT (run_id, target) DO UPDATE SET status = 'failed'")
    with pytest.raises(Exception, match="immutable"):
        backend.raw(replace)
    assert store.get("drift-1") == record("drift-1")
    assert store.verify().ok


# -- the journal and recovery -------------------------------------------------------------------
def test_a_journal_entry_is_on_disk_when_journal_returns(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    store.start("push-j", "push", NOW, {"applied": True})
    store.journal("push-j", "device:1", "intent", {"pre_digest": "abc"})
    # Another connection, as another process would read it, before anything else happens.
    assert backend.raw("SELECT seq, target, event, data FROM journal WHERE run_id = %s", ("push-j",)) == [
        (1, "device:1", "intent", '{"pre_digest": "abc"}')]
    store.journal("push-j", "device:1", "done", {"status": "applied"})
    assert [(e.seq, e.event) for e in store.entries("push-j")] == [(1, "intent"), (2, "done")]


def test_a_run_whose_process_died_is_sealed_unfinished_by_the_next_store(backend: Backend) -> None:
    HistoryStore(backend.location)
    backend.raw("INSERT INTO run_starts VALUES ('push-k', 'push', %s, '{\"applied\": true}', %s)",
                (NOW.isoformat(), dead_owner()))
    for seq, (target, event, data) in enumerate([
            ("device:1", "intent", {"snapshot": "flash:mspctl-push-k.cfg"}),
            ("device:1", "snapshot", {"snapshot": "flash:mspctl-push-k.cfg"}),
            ("device:2", "intent", {}), ("device:2", "done", {"status": "applied"})], 1):
        backend.raw("INSERT INTO journal VALUES ('push-k', %s, %s, %s, %s, %s)",
                    (seq, (NOW + timedelta(seconds=seq)).isoformat(), target, event, json.dumps(data)))
    store = HistoryStore(backend.location)
    assert [r.id for r in store.recovered] == ["push-k"]
    got = store.get("push-k")
    assert got.params == {"applied": True, "unfinished": True}
    assert got.results["device:1"][0] == "unfinished"
    assert got.results["device:1"][1]["events"] == ["intent", "snapshot"]
    assert got.results["device:2"][0] == "applied"
    assert got.summary == {"unfinished": 1, "applied": 1}
    assert got.finished_at == NOW + timedelta(seconds=4)
    assert HistoryStore(backend.location).recovered == []  # sealed once
    assert store.verify().ok and store.head() is not None and store.head().run_id == "push-k"  # type: ignore[union-attr]


def test_a_live_run_is_left_alone(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    store.start("push-live", "push", NOW)
    assert HistoryStore(backend.location).recovered == []  # this process still owns it
    assert HistoryStore(backend.location, recover=False).recovered == []


# -- the chain ----------------------------------------------------------------------------------
def test_each_record_links_to_the_one_before(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    assert store.verify().ok and store.verify().head is None
    for i in range(3):
        store.save(record(f"drift-{i}", at=NOW + timedelta(hours=i)))
    links = [store.link(f"drift-{i}") for i in range(3)]
    assert [lk.seq for lk in links if lk] == [1, 2, 3]
    assert links[0] and links[0].prev_hash == "0" * 64
    assert links[1] and links[2] and links[1].prev_hash == links[0].chain_hash
    assert links[2].prev_hash == links[1].chain_hash
    report = store.verify()
    assert report.ok and report.records == 3 and report.head == links[2].chain_hash
    assert store.head() == links[2]


def test_a_result_edited_behind_mspctls_back_breaks_the_chain_at_that_run(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    for i in range(4):
        store.save(record(f"drift-{i}", at=NOW + timedelta(hours=i)))
    backend.unprotect("results")
    backend.raw("UPDATE results SET status = 'compliant' WHERE run_id = 'drift-2' AND target = 'device:2'")
    report = HistoryStore(backend.location).verify()
    assert not report.ok
    assert (report.broken_run, report.broken_seq) == ("drift-2", 3)
    assert report.reason and "changed after it was written" in report.reason


def test_a_deleted_record_breaks_the_chain(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    for i in range(4):
        store.save(record(f"drift-{i}", at=NOW + timedelta(hours=i)))
    for table in ("results", "run_chain", "runs"):
        backend.unprotect(table)
    # Its results: the run's content no longer matches its hash.
    backend.raw("DELETE FROM results WHERE run_id = 'drift-1' AND target = 'device:1'")
    report = store.verify()
    assert (report.ok, report.broken_run) == (False, "drift-1")
    # A whole record and its link: the next record's link names the gap.
    backend.raw("DELETE FROM results WHERE run_id = 'drift-1'")
    backend.raw("DELETE FROM run_chain WHERE run_id = 'drift-1'")
    backend.raw("DELETE FROM runs WHERE id = 'drift-1'")
    report = store.verify()
    assert (report.ok, report.broken_run, report.broken_seq) == (False, "drift-2", 3)
    assert report.reason and "missing" in report.reason


def test_a_record_inserted_behind_mspctls_back_is_named(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    store.save(record("drift-0"))
    backend.raw("INSERT INTO runs VALUES ('drift-forged', 'drift', %s, %s, '{}', '{}')",
                (NOW.isoformat(), NOW.isoformat()))
    report = store.verify()
    assert (report.ok, report.broken_run) == (False, "drift-forged")
    assert report.reason and "not in the chain" in report.reason


# -- provenance ---------------------------------------------------------------------------------
META = {"who": {"user": "alice", "host": "ws1"}, "command": "mspctl drift -c acme",
        "versions": {"mspctl": "0.1.0", "repository": "git:" + "a" * 40}}


def test_provenance_is_kept_and_chained_and_a_record_without_it_hashes_as_before(backend: Backend) -> None:
    from dataclasses import replace

    from mspctl.history import chain

    store = HistoryStore(backend.location)
    store.save(record("drift-old"))  # no provenance: no run_meta row, the content as before 0003
    store.save(replace(record("drift-new", at=NOW + timedelta(hours=1)), meta=META))
    assert HistoryStore(backend.location).get("drift-new").meta == META
    assert store.get("drift-old").meta == {}
    assert [r for (r,) in backend.raw("SELECT run_id FROM run_meta")] == ["drift-new"]
    run = dict(zip(("id", "kind", "started_at", "finished_at", "params", "summary"), backend.raw(
        "SELECT id, kind, started_at, finished_at, params, summary FROM runs WHERE id = %s", ("drift-old",))[0],
        strict=True))
    rows = [tuple(r) for r in backend.raw("SELECT target, status, data FROM results WHERE run_id = %s",
                                          ("drift-old",))]
    old = store.link("drift-old")
    assert old is not None and old.content_hash == chain.content_hash(run, rows)  # type: ignore[arg-type]
    assert store.verify().ok
    # The provenance is part of the record's content: editing it breaks the chain at that run.
    backend.unprotect("run_meta")
    backend.raw("UPDATE run_meta SET meta = %s WHERE run_id = 'drift-new'",
                (json.dumps({**META, "who": {"user": "mallory", "host": "ws1"}}),))
    report = store.verify()
    assert (report.ok, report.broken_run) == (False, "drift-new")
    assert report.reason and "changed after it was written" in report.reason
    backend.raw("DELETE FROM run_meta WHERE run_id = 'drift-new'")  # and so does removing it
    assert (store.verify().ok, store.verify().broken_run) == (False, "drift-new")


def test_provenance_is_scrubbed_as_it_is_written(backend: Backend) -> None:
    from dataclasses import replace

    store = HistoryStore(backend.location)
    meta = {**META, "who": {"ci": "gitlab", "job": "7", "url": "https://bot:Hunter2Pass@ci.example.net/j/7"},
            "command": "mspctl --netbox-token nbt_abcdefgh.ijklmnop drift"}
    store.save(replace(record("drift-s"), meta=meta))
    stored = backend.raw("SELECT meta FROM run_meta WHERE run_id = %s", ("drift-s",))[0][0]
    assert "Hunter2Pass" not in stored and "ijklmnop" not in stored
    assert "ci.example.net/j/7" in stored and "mspctl --netbox-token" in stored


def test_a_sealed_run_keeps_the_provenance_of_its_start(backend: Backend) -> None:
    HistoryStore(backend.location)
    owner = {**json.loads(dead_owner()), "meta": META}
    backend.raw("INSERT INTO run_starts VALUES ('push-m', 'push', %s, '{}', %s)", (NOW.isoformat(), json.dumps(owner)))
    store = HistoryStore(backend.location)
    got = store.get("push-m")
    assert got.meta["command"] == META["command"] and got.meta["who"] == META["who"]
    assert got.meta["sealed_by"]["host"] == socket.gethostname()
    assert store.verify().ok


# -- concurrency --------------------------------------------------------------------------------
_WRITER = """
import sys
from datetime import UTC, datetime
from mspctl.history import HistoryStore, RunRecord
store = HistoryStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    now = datetime.now(UTC)
    store.save(RunRecord(f"{sys.argv[2]}-{i}", "drift", now, now, {}, {}, {f"device:{i}": ("compliant", {})}))
    store.journal(f"{sys.argv[2]}-{i}", "", "note", {"i": i})
"""


def test_threads_and_processes_write_one_history(backend: Backend) -> None:
    store = HistoryStore(backend.location)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, backend.location, f"proc{p}", "15"], cwd=REPO)
             for p in range(2)]
    errors: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for i in range(10):
                store.save(record(f"thread{t}-{i}", results={f"device:{i}": ("compliant", {})}))
                store.journal(f"thread{t}-{i}", "", "note", {"i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert errors == []
    report = HistoryStore(backend.location).verify()
    assert report.ok and report.records == 2 * 15 + 3 * 10
    assert backend.raw("SELECT count(*) FROM journal")[0][0] == 60
    seqs = [s for (s,) in backend.raw("SELECT seq FROM run_chain ORDER BY seq")]
    assert seqs == list(range(1, 61))


# -- one streamed pass: the records and the chain's verdict (mspctl.history.walk) ----------------

_TAMPERING = {
    "none": [],
    "edited result": ["UPDATE results SET status = 'compliant' WHERE run_id = 'drift-2' AND target = 'device:2'"],
    "deleted result": ["DELETE FROM results WHERE run_id = 'drift-1' AND target = 'device:1'"],
    "deleted record": ["DELETE FROM results WHERE run_id = 'drift-1'", "DELETE FROM run_chain WHERE run_id = 'drift-1'",
                       "DELETE FROM runs WHERE id = 'drift-1'"],
    "forged record": ["INSERT INTO runs VALUES ('drift-forged', 'drift', '2026-01-01', '2026-01-01', '{}', '{}')"],
}


@pytest.mark.parametrize("tampering", sorted(_TAMPERING))
def test_a_chain_walk_yields_every_record_and_verifies_as_verify_does(backend: Backend, tampering: str) -> None:
    from mspctl.history.walk import ChainWalk

    store = HistoryStore(backend.location)
    for i in range(5):
        store.save(record(f"drift-{i}", at=NOW + timedelta(hours=i)))
    for table in ("results", "run_chain", "runs"):
        backend.unprotect(table)
    for sql in _TAMPERING[tampering]:
        backend.raw(sql)
    walk = ChainWalk(store, chunk=2)  # several chunks
    walked = list(walk)
    assert walk.report == store.verify()
    assert walk.report.ok == (tampering == "none")
    found = {r.id: r for r in store.find(RunQuery())}
    assert [r.id for r in walked] == [f"drift-{i}" for i in range(5) if f"drift-{i}" in found]
    for r in walked:
        assert (r.kind, r.started_at, r.finished_at, r.params, r.summary, r.results) == \
            (found[r.id].kind, found[r.id].started_at, found[r.id].finished_at, found[r.id].params,
             found[r.id].summary, found[r.id].results)
