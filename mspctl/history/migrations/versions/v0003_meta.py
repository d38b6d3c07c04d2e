"""Provenance: who ran each run, its command line and the versions it used, in `run_meta`.

A table of its own rather than a column of `runs`: `runs` keeps the columns it always had (a
reader or writer with plain sqlite3 keeps working, and ALTER TABLE never meets its triggers),
and a record written before this revision simply has no row. The chain covers the row of the
records that have one (`mspctl.history.chain`), so every record before it verifies unchanged.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from mspctl.history.migrations.versions.v0001_records import pg_append_only, sqlite_append_only

    op.execute("CREATE TABLE run_meta (run_id TEXT PRIMARY KEY REFERENCES runs(id), meta TEXT NOT NULL)")
    if op.get_bind().dialect.name == "sqlite":
        stmts = sqlite_append_only("run_meta", "run_id = NEW.run_id")
    else:
        stmts = pg_append_only("run_meta")
    for stmt in stmts:
        op.execute(stmt)


def downgrade() -> None:
    raise NotImplementedError("the run records are append-only: no downgrade")
