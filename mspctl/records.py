"""Run records: what mspctl found and did, as immutable, timestamped rows in SQLite.

A run (backup, drift, push, rollback) is written once, in one transaction, when it ends:
its id, kind, times, parameters, summary, and one result per target. Nothing is updated
afterwards, so the history (compliance over time, what a push changed) can be trusted.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mspctl.errors import MspctlError, NotFoundError
from mspctl.redact import redact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    params TEXT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id), target TEXT NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_id, target));
CREATE INDEX IF NOT EXISTS results_target ON results (target);
CREATE TRIGGER IF NOT EXISTS runs_immutable BEFORE UPDATE ON runs
    BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;
CREATE TRIGGER IF NOT EXISTS results_immutable BEFORE UPDATE ON results
    BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END;
"""


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


class RecordStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise MspctlError(f"{path}: cannot open the run records: {exc}", code="MSP-REC-001") from None

    def save(self, record: RunRecord) -> None:
        def dump(obj: Any) -> str:
            return redact(json.dumps(obj, default=str, sort_keys=True))

        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)", (
                record.id, record.kind, record.started_at.isoformat(), record.finished_at.isoformat(),
                dump(record.params), dump(record.summary)))
            self._db.executemany("INSERT INTO results VALUES (?, ?, ?, ?)", [
                (record.id, target, status, dump(data)) for target, (status, data) in record.results.items()])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get(self, run_id: str) -> RunRecord:
        row = self._db.execute("SELECT id, kind, started_at, finished_at, params, summary FROM runs WHERE id=?",
                               (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in {self.path}", code="MSP-REC-404",
                                hint="`mspctl runs list` shows the recorded runs")
        results = {t: (s, json.loads(d)) for t, s, d in
                   self._db.execute("SELECT target, status, data FROM results WHERE run_id=?", (run_id,))}
        return RunRecord(row[0], row[1], datetime.fromisoformat(row[2]), datetime.fromisoformat(row[3]),
                         json.loads(row[4]), json.loads(row[5]), results)

    def recent(self, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
        q = "SELECT id FROM runs" + (" WHERE kind=?" if kind else "") + " ORDER BY started_at DESC, id DESC LIMIT ?"
        ids = [r[0] for r in self._db.execute(q, (kind, limit) if kind else (limit,))]
        return [self.get(i) for i in ids]

    def history(self, target: str, kind: str, limit: int = 20) -> list[tuple[str, str, str]]:
        """(run id, started_at, status) of a target's last runs of `kind`, newest first."""
        rows = self._db.execute(
            "SELECT r.id, r.started_at, x.status FROM results x JOIN runs r ON r.id = x.run_id "
            "WHERE x.target=? AND r.kind=? ORDER BY r.started_at DESC LIMIT ?", (target, kind, limit))
        return [(a, b, c) for a, b, c in rows]

    def latest(self, kind: str, targets: list[str]) -> dict[str, tuple[str, datetime, dict[str, Any]]]:
        """Per target: (run id, started_at, data) of its newest result among runs of `kind`."""
        out: dict[str, tuple[str, datetime, dict[str, Any]]] = {}
        for target in targets:
            row = self._db.execute(
                "SELECT r.id, r.started_at, x.data FROM results x JOIN runs r ON r.id = x.run_id "
                "WHERE x.target=? AND r.kind=? ORDER BY r.started_at DESC LIMIT 1", (target, kind)).fetchone()
            if row is not None:
                out[target] = (row[0], datetime.fromisoformat(row[1]), json.loads(row[2]))
        return out
