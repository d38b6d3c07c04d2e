"""Run records: what mspctl found and did, as immutable, timestamped rows in SQLite.

A run (backup, drift, push, rollback) is written once, in one transaction, when it ends:
its id, kind, times, parameters, summary, and one result per target. Nothing is updated or
deleted afterwards (triggers refuse UPDATE, DELETE and INSERT OR REPLACE), so the history
(compliance over time, what a push changed) can be trusted.

Every string a record holds is scrubbed of secrets (`mspctl.secrets`) as it is written.

A run that changes things also writes a *start* row and *journal* entries while it works
(`start`, `journal`): the intent of each change is on disk before the first command reaches a
device. A start without a finished run whose process is gone (killed, crashed, power lost) is
sealed by the next mspctl process that opens the store: it becomes a run record whose targets
are `unfinished`, with what the journal says they may have had done to them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mspctl.errors import MspctlError, NotFoundError
from mspctl.files import private_file
from mspctl.redact import redact
from mspctl.secrets import scrub_values

_SCHEMA = """
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
# Every table is append-only: no UPDATE, no DELETE, and no INSERT over an existing key (INSERT OR
# REPLACE deletes the old row without firing DELETE triggers, so it is caught before the insert).
_KEYS = {"runs": "id = NEW.id", "results": "run_id = NEW.run_id AND target = NEW.target",
         "run_starts": "id = NEW.id", "journal": "run_id = NEW.run_id AND seq = NEW.seq"}
_SCHEMA += "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;\n"
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;\n"
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_replace BEFORE INSERT ON {t} "
    f"WHEN EXISTS (SELECT 1 FROM {t} WHERE {key}) "
    f"BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;\n"
    for t, key in _KEYS.items())
log = logging.getLogger(__name__)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when it is gone: a pid
    and its start time name one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _owner_alive(owner: dict[str, Any]) -> bool | None:
    """True/False for a process of this host; None when it ran elsewhere (cannot tell)."""
    if owner.get("host") != socket.gethostname():
        return None
    start = _process_start(int(owner.get("pid", 0)))
    return start is not None and start == owner.get("start")


def new_run_id(kind: str, now: datetime | None = None) -> str:
    """Sortable and unique: ``drift-20261126T130501Z-3f9a``."""
    now = now or datetime.now(UTC)
    return f"{kind}-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"


@dataclass
class RunRecord:
    id: str
    kind: str
    started_at: datetime
    finished_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    results: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # target -> (status, data)


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at: datetime
    target: str
    event: str
    data: dict[str, Any]


def _dump(obj: Any) -> str:
    """A record's JSON: every string scrubbed of secrets (config lines, commands, messages) on the
    way in, whoever built it."""
    return redact(json.dumps(scrub_values(obj), default=str, sort_keys=True))


class RecordStore:
    """The run records in one SQLite file. Safe to share between the threads of one run."""

    def __init__(self, path: Path, recover: bool = True) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._seq: dict[str, int] = {}
        self.recovered: list[RunRecord] = []  # runs found abandoned and sealed when this store opened
        try:
            private_file(path)  # 0600 in a 0700 folder: records name devices, hosts and changes
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise MspctlError(f"{path}: cannot open the run records: {exc}", code="MSP-REC-001") from None
        if recover:
            self.recovered = self.recover()
            for r in self.recovered:
                touched = [t for t, (s, _) in r.results.items() if s == "unfinished"]
                log.warning("run %s (%s) did not finish: its process is gone; recorded as unfinished%s", r.id,
                            r.kind, f"; it may have changed {', '.join(touched)}: `mspctl config rollback --run "
                                    f"{r.id}` restores them" if touched and r.kind == "push" else "")

    def save(self, record: RunRecord) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)", (
                    record.id, record.kind, record.started_at.isoformat(), record.finished_at.isoformat(),
                    _dump(record.params), _dump(record.summary)))
                self._db.executemany("INSERT INTO results VALUES (?, ?, ?, ?)", [
                    (record.id, target, status, _dump(data)) for target, (status, data) in record.results.items()])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- the journal of a run in progress -------------------------------------------------------
    def start(self, run_id: str, kind: str, started_at: datetime, params: dict[str, Any] | None = None) -> None:
        """Mark a run as begun, before it touches anything; `save` of the same id finishes it."""
        with self._lock:
            self._db.execute("INSERT INTO run_starts VALUES (?, ?, ?, ?, ?)", (
                run_id, kind, started_at.isoformat(), _dump(params or {}), json.dumps(_owner())))
            self._seq[run_id] = 0

    def journal(self, run_id: str, target: str, event: str, data: dict[str, Any] | None = None) -> None:
        """Append one entry (durable when this returns) to a started run's journal."""
        with self._lock:
            seq = self._seq.get(run_id, 0) + 1
            self._seq[run_id] = seq
            self._db.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?)", (
                run_id, seq, datetime.now(UTC).isoformat(), target, event, _dump(data or {})))

    def entries(self, run_id: str) -> list[JournalEntry]:
        with self._lock:
            rows = self._db.execute("SELECT seq, at, target, event, data FROM journal WHERE run_id=? ORDER BY seq",
                                    (run_id,)).fetchall()
        return [JournalEntry(q, datetime.fromisoformat(a), t, e, json.loads(d)) for q, a, t, e, d in rows]

    def recover(self) -> list[RunRecord]:
        """Seal every started run whose process is gone without finishing it: a record whose targets
        are `unfinished` (each with its journal's facts merged, newest last) and params
        ``unfinished: true``. Runs of live processes, or of other hosts, are left alone."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.id, s.kind, s.started_at, s.params, s.owner FROM run_starts s "
                "WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = s.id)").fetchall()
        sealed: list[RunRecord] = []
        for run_id, kind, started, params, owner in rows:
            if _owner_alive(json.loads(owner)) is not False:
                continue
            entries = self.entries(run_id)
            results: dict[str, tuple[str, dict[str, Any]]] = {}
            for e in entries:
                if e.target == "":
                    continue
                _, data = results.get(e.target, ("", {}))
                results[e.target] = ("unfinished", {**data, **e.data, "last_event": e.event,
                                                    "events": [*data.get("events", []), e.event]})
            for target, (_, data) in list(results.items()):
                if data["last_event"] == "done":  # the journal says this target finished: keep its status
                    results[target] = (str(data.get("status", "unfinished")), data)
            summary: dict[str, Any] = {}
            for status, _ in results.values():
                summary[status] = summary.get(status, 0) + 1
            last = entries[-1].at if entries else datetime.fromisoformat(started)
            record = RunRecord(run_id, kind, datetime.fromisoformat(started), last,
                               {**json.loads(params), "unfinished": True}, summary, results)
            try:
                self.save(record)
            except sqlite3.Error:  # another process sealed it first
                continue
            sealed.append(record)
        return sealed

    def get(self, run_id: str) -> RunRecord:
        with self._lock:
            row = self._db.execute("SELECT id, kind, started_at, finished_at, params, summary FROM runs WHERE id=?",
                                   (run_id,)).fetchone()
            if row is None:
                running = self._db.execute("SELECT 1 FROM run_starts WHERE id=?", (run_id,)).fetchone()
                raise NotFoundError(f"run {run_id!r} has not finished yet" if running else
                                    f"no run {run_id!r} in {self.path}", code="MSP-REC-404",
                                    hint="`mspctl runs list` shows the recorded runs")
            results = {t: (s, json.loads(d)) for t, s, d in
                       self._db.execute("SELECT target, status, data FROM results WHERE run_id=?", (run_id,))}
        return RunRecord(row[0], row[1], datetime.fromisoformat(row[2]), datetime.fromisoformat(row[3]),
                         json.loads(row[4]), json.loads(row[5]), results)

    def recent(self, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
        q = "SELECT id FROM runs" + (" WHERE kind=?" if kind else "") + " ORDER BY started_at DESC, id DESC LIMIT ?"
        with self._lock:
            ids = [r[0] for r in self._db.execute(q, (kind, limit) if kind else (limit,))]
        return [self.get(i) for i in ids]

    def history(self, target: str, kind: str, limit: int = 20) -> list[tuple[str, str, str]]:
        """(run id, started_at, status) of a target's last runs of `kind`, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT r.id, r.started_at, x.status FROM results x JOIN runs r ON r.id = x.run_id "
                "WHERE x.target=? AND r.kind=? ORDER BY r.started_at DESC LIMIT ?", (target, kind, limit)).fetchall()
        return [(a, b, c) for a, b, c in rows]

    def latest(self, kind: str, targets: list[str]) -> dict[str, tuple[str, datetime, dict[str, Any]]]:
        """Per target: (run id, started_at, data) of its newest result among runs of `kind`."""
        out: dict[str, tuple[str, datetime, dict[str, Any]]] = {}
        for target in targets:
            with self._lock:
                row = self._db.execute(
                    "SELECT r.id, r.started_at, x.data FROM results x JOIN runs r ON r.id = x.run_id "
                    "WHERE x.target=? AND r.kind=? ORDER BY r.started_at DESC LIMIT 1", (target, kind)).fetchone()
            if row is not None:
                out[target] = (row[0], datetime.fromisoformat(row[1]), json.loads(row[2]))
        return out
