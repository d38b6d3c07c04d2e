"""The history store on SQLite: the shared store tests (tests/history_contract.py), migrating a
records file written before the history store, and `mspctl runs` over it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mspctl.errors import MspctlError
from mspctl.history import HistoryStore
from tests.history_contract import *  # noqa: F403
from tests.history_contract import NOW, SQLiteBackend, record


@pytest.fixture
def backend(tmp_path: Path) -> SQLiteBackend:
    return SQLiteBackend(tmp_path / "records" / "records.sqlite")


# -- a records file written by mspctl before the history store ---------------------------------
# The writer as mspctl/records.py had it (2026-12): its schema and its INSERTs, verbatim.
_TODAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    params TEXT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id), target TEXT NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_id, target));
CREATE INDEX IF NOT EXISTS results_target ON results (target);
CREATE TABLE IF NOT EXISTS run_starts (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, params TEXT NOT NULL, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, target TEXT NOT NULL, event TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TRIGGER IF NOT EXISTS runs_immutable BEFORE UPDATE ON runs
    BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;
CREATE TRIGGER IF NOT EXISTS results_immutable BEFORE UPDATE ON results
    BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;
"""
_KEYS = {"runs": "id = NEW.id", "results": "run_id = NEW.run_id AND target = NEW.target",
         "run_starts": "id = NEW.id", "journal": "run_id = NEW.run_id AND seq = NEW.seq"}
_TODAY_SCHEMA += "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;\n"
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;\n"
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_replace BEFORE INSERT ON {t} "
    f"WHEN EXISTS (SELECT 1 FROM {t} WHERE {key}) "
    f"BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;\n"
    for t, key in _KEYS.items())


def _write_today(path: Path, n: int = 5) -> dict[str, tuple[tuple[str, ...], list[tuple[str, str, str]]]]:
    """A records file as today's RecordStore writes it: `n` runs, one started push with a journal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(_TODAY_SCHEMA)
    written = {}
    for i in range(n):
        at = (NOW + timedelta(days=i)).isoformat()
        run = (f"drift-{i}", "drift", at, at, json.dumps({"source": "live"}), json.dumps({"drift": i}))
        res = [(f"device:{k}", "drift" if k < i else "compliant", json.dumps({"device": f"sw{k}", "client": "acme"}))
               for k in range(3)]
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)", run)
        db.executemany("INSERT INTO results VALUES (?, ?, ?, ?)", [(run[0], *r) for r in res])
        db.execute("COMMIT")
        written[run[0]] = (run, res)
    db.execute("INSERT INTO run_starts VALUES ('push-x', 'push', ?, '{}', ?)",
               (NOW.isoformat(), json.dumps({"host": "elsewhere", "pid": 1, "start": "1"})))
    db.execute("INSERT INTO journal VALUES ('push-x', 1, ?, 'device:1', 'intent', '{}')", (NOW.isoformat(),))
    db.close()
    return written


def test_a_records_file_written_before_the_history_store_is_stamped_and_chained(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite"
    written = _write_today(path)
    store = HistoryStore(path)
    assert store.migrated == ["0002", "0003"]  # recognised as revision 0001, not recreated
    db = sqlite3.connect(path)
    assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0003",)]
    for run_id, (run, res) in written.items():
        assert db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone() == run
        assert sorted(db.execute("SELECT target, status, data FROM results WHERE run_id=?", (run_id,))) == res
        got = store.get(run_id)
        assert {t: s for t, (s, _) in got.results.items()} == {t: s for t, s, _ in res}
    # The chain covers the old records in the order they were written.
    assert [r for (r,) in db.execute("SELECT run_id FROM run_chain ORDER BY seq")] == list(written)
    report = store.verify()
    assert report.ok and report.records == 5 and report.head == store.head().chain_hash  # type: ignore[union-attr]
    # The journal of the run in progress is still there and still read with plain sqlite3.
    assert db.execute("SELECT run_id, seq, event FROM journal").fetchall() == [("push-x", 1, "intent")]
    assert [e.event for e in store.entries("push-x")] == ["intent"]
    # New records continue the chain; reopening migrates nothing.
    store.save(record("drift-new", at=NOW + timedelta(days=9)))
    again = HistoryStore(path)
    assert again.migrated == []
    assert again.verify().records == 6 and again.verify().ok
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        db.execute("DELETE FROM run_chain")


def test_a_fresh_file_gets_every_revision(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "r.sqlite")
    assert store.migrated == ["0001", "0002", "0003"]
    assert (tmp_path / "r.sqlite").stat().st_mode & 0o777 == 0o600


def test_records_of_a_newer_mspctl_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    HistoryStore(path)
    sqlite3.connect(path, isolation_level=None).execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(MspctlError, match="newer mspctl") as exc:
        HistoryStore(path)
    assert (exc.value.code, exc.value.exit_code) == ("MSP-REC-426", 10)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    path.write_text("not a database, " * 100)
    with pytest.raises(MspctlError, match="cannot open the run records") as exc:
        HistoryStore(path)
    assert (exc.value.code, exc.value.exit_code) == ("MSP-REC-001", 1)


# -- mspctl runs ----------------------------------------------------------------------------------
@pytest.fixture
def runs_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, Path]:
    """`mspctl runs` with its records in tmp_path (named by an mspctl.toml there)."""
    path = tmp_path / "records.sqlite"
    (tmp_path / "mspctl.toml").write_text(f'[config]\nrecords = "{path}"\n')
    monkeypatch.setenv("MSPCTL_CONFIG", str(tmp_path / "mspctl.toml"))
    monkeypatch.delenv("MSPCTL_RECORDS_URL", raising=False)
    return CliRunner(), path


def _invoke(cli: CliRunner, *args: str) -> tuple[int, str]:
    from mspctl.cli import main

    result = cli.invoke(main, list(args))
    return result.exit_code, result.output


def test_runs_list_show_and_filters(runs_cli: tuple[CliRunner, Path]) -> None:
    cli, path = runs_cli
    store = HistoryStore(path)
    store.save(record("drift-old", at=NOW - timedelta(days=60)))
    store.save(record("drift-new", at=NOW - timedelta(days=1), client="globex"))
    store.save(record("backup-1", "backup", NOW))
    code, out = _invoke(cli, "runs", "list", "-o", "json")
    assert code == 0, out
    assert [r["id"] for r in json.loads(out)] == ["backup-1", "drift-new", "drift-old"]
    code, out = _invoke(cli, "runs", "list", "--client", "globex", "-o", "json")
    assert [r["id"] for r in json.loads(out)] == ["drift-new"]
    code, out = _invoke(cli, "runs", "list", "--kind", "drift", "--since", "2026-11-01", "-o", "json")
    assert [r["id"] for r in json.loads(out)] == ["drift-new"]
    code, out = _invoke(cli, "runs", "list", "--target", "edge-1", "--until", "2026-11-01", "-o", "json")
    assert [r["id"] for r in json.loads(out)] == ["drift-old"]
    code, out = _invoke(cli, "runs", "list", "--since", "bogus")
    assert code == 2 and "MSP-USE-001" in out
    code, out = _invoke(cli, "runs", "show", "drift-new", "-o", "json")
    shown = json.loads(out)
    assert shown["results"]["device:2"]["status"] == "drift"
    assert shown["chain"]["seq"] == 2 and len(shown["chain"]["content_hash"]) == 64
    code, out = _invoke(cli, "runs", "show", "drift-new")
    assert code == 0 and "edge-1" in out


def test_runs_export_jsonl_and_csv(runs_cli: tuple[CliRunner, Path], tmp_path: Path) -> None:
    cli, path = runs_cli
    store = HistoryStore(path)
    store.save(record("drift-a", at=NOW - timedelta(days=1)))
    store.save(record("drift-b", at=NOW))
    code, out = _invoke(cli, "runs", "export", "--format", "jsonl")
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in lines] == ["drift-b", "drift-a"]
    assert lines[0]["results"]["device:2"]["status"] == "drift" and lines[0]["chain"]["seq"] == 2
    code, out = _invoke(cli, "runs", "export", "--format", "csv", "--out", str(tmp_path / "runs.csv"))
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "runs.csv").read_text())))
    assert [(r["run_id"], r["target"], r["status"]) for r in rows] == [
        ("drift-b", "device:1", "compliant"), ("drift-b", "device:2", "drift"),
        ("drift-a", "device:1", "compliant"), ("drift-a", "device:2", "drift")]
    assert rows[0]["client"] == "acme" and rows[0]["name"] == "core-1"


def test_runs_verify_passes_then_names_the_tampered_run(runs_cli: tuple[CliRunner, Path]) -> None:
    cli, path = runs_cli
    store = HistoryStore(path)
    for i in range(3):
        store.save(record(f"drift-{i}", at=NOW + timedelta(hours=i)))
    head = store.head()
    code, out = _invoke(cli, "runs", "verify")
    assert code == 0, out
    assert head is not None and head.chain_hash in out and "3 records" in out
    backend = SQLiteBackend(path)
    backend.unprotect("results")
    backend.raw("UPDATE results SET status = 'compliant' WHERE run_id = 'drift-1' AND target = 'device:2'")
    code, out = _invoke(cli, "runs", "verify")
    assert code == 4
    assert "MSP-REC-409" in out and "drift-1" in out


def test_the_head_revision_the_store_expects_is_the_newest_migration() -> None:
    from mspctl.history import migrate

    assert migrate.scripts().get_current_head() == migrate.HEAD


def test_record_store_is_the_history_store(tmp_path: Path) -> None:
    from mspctl.records import RecordStore, RunRecord

    store = RecordStore(tmp_path / "r.sqlite")
    assert isinstance(store, HistoryStore)
    store.save(RunRecord("drift-1", "drift", NOW, NOW, {}, {}, {"device:1": ("compliant", {})}))
    assert HistoryStore(tmp_path / "r.sqlite").verify().records == 1


def test_records_url_comes_from_the_file_or_the_environment(tmp_path: Path) -> None:
    from mspctl.errors import ConfigError
    from mspctl.settings import load_settings

    assert load_settings(env={}, cwd=tmp_path).records_location == load_settings(env={}, cwd=tmp_path).config.records
    (tmp_path / "mspctl.toml").write_text('[records]\nurl = "postgresql+psycopg://u@db/h"\n')
    assert load_settings(env={}, cwd=tmp_path).records_location == "postgresql+psycopg://u@db/h"
    env = {"MSPCTL_RECORDS_URL": "postgresql+psycopg://v@db2/h"}
    assert load_settings(env=env, cwd=tmp_path).records_location == "postgresql+psycopg://v@db2/h"
    (tmp_path / "mspctl.toml").write_text('[records]\nurl = 5\n')
    with pytest.raises(ConfigError, match=r"mspctl\.toml:2"):
        load_settings(env={}, cwd=tmp_path)
