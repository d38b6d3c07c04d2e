"""The run records as mspctl wrote them before the history store (mspctl/records.py, 2026-12).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

ABORT = "BEGIN SELECT RAISE(ABORT, 'run records are immutable'); END"
# Today's SQLite schema, statement for statement (IF NOT EXISTS: it completes a file an older
# mspctl wrote without the journal tables, and changes nothing in one written by today's).
_TABLES = [
    "CREATE TABLE IF NOT EXISTS runs ("
    " id TEXT PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,"
    " params TEXT NOT NULL, summary TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS results ("
    " run_id TEXT NOT NULL REFERENCES runs(id), target TEXT NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL,"
    " PRIMARY KEY (run_id, target))",
    "CREATE INDEX IF NOT EXISTS results_target ON results (target)",
    "CREATE TABLE IF NOT EXISTS run_starts ("
    " id TEXT PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, params TEXT NOT NULL, owner TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS journal ("
    " run_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, target TEXT NOT NULL, event TEXT NOT NULL,"
    " data TEXT NOT NULL, PRIMARY KEY (run_id, seq))",
]
_SQLITE_ONLY = [f"CREATE TRIGGER IF NOT EXISTS runs_immutable BEFORE UPDATE ON runs {ABORT}",
                f"CREATE TRIGGER IF NOT EXISTS results_immutable BEFORE UPDATE ON results {ABORT}"]
KEYS = {"runs": "id = NEW.id", "results": "run_id = NEW.run_id AND target = NEW.target",
        "run_starts": "id = NEW.id", "journal": "run_id = NEW.run_id AND seq = NEW.seq"}
PG_FUNCTION = ("CREATE OR REPLACE FUNCTION mspctl_records_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN RAISE EXCEPTION 'run records are immutable' USING ERRCODE = 'integrity_constraint_violation'; "
               "END $$")


def sqlite_append_only(table: str, key: str) -> list[str]:
    """No UPDATE, no DELETE, and no INSERT over an existing key (INSERT OR REPLACE deletes the old
    row without firing DELETE triggers, so it is caught before the insert)."""
    return [f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} {ABORT}",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} {ABORT}",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key}) {ABORT}"]


def pg_append_only(table: str) -> list[str]:
    """UPDATE (INSERT ... ON CONFLICT DO UPDATE too), DELETE and TRUNCATE refused; a second INSERT
    of a key is refused by the primary key."""
    return [f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION mspctl_records_immutable()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION mspctl_records_immutable()"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        stmts = _TABLES + _SQLITE_ONLY + [s for t, k in KEYS.items() for s in sqlite_append_only(t, k)]
    else:
        stmts = _TABLES + [PG_FUNCTION] + [s for t in KEYS for s in pg_append_only(t)]
    for stmt in stmts:
        op.execute(stmt)


def downgrade() -> None:
    raise NotImplementedError("the run records are append-only: no downgrade")
