"""The tamper-evident chain: one link per run record, in insertion order.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mspctl.history import chain

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.execute("CREATE TABLE run_chain ("
               " seq BIGINT PRIMARY KEY, run_id TEXT NOT NULL UNIQUE REFERENCES runs(id),"
               " content_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)")
    # The records already there, in the order they were written: SQLite's rowid is that order;
    # a PostgreSQL history starts at this revision (no rows), so its time order is as good.
    order = "rowid" if sqlite else "started_at, id"
    runs = bind.execute(sa.text(f"SELECT id, kind, started_at, finished_at, params, summary FROM runs "
                                f"ORDER BY {order}")).mappings().all()
    results: dict[str, list[tuple[str, str, str]]] = {}
    for run_id, target, status, data in bind.execute(sa.text("SELECT run_id, target, status, data FROM results")):
        results.setdefault(run_id, []).append((target, status, data))
    prev = chain.GENESIS
    for seq, run in enumerate(runs, 1):
        content = chain.content_hash(dict(run), results.get(run["id"], []))
        link = chain.link_hash(prev, content)
        bind.execute(sa.text("INSERT INTO run_chain VALUES (:seq, :run_id, :content, :prev, :link)"),
                     {"seq": seq, "run_id": run["id"], "content": content, "prev": prev, "link": link})
        prev = link
    if sqlite:
        from mspctl.history.migrations.versions.v0001_records import sqlite_append_only
        for stmt in sqlite_append_only("run_chain", "seq = NEW.seq OR run_id = NEW.run_id"):
            op.execute(stmt)
    else:
        from mspctl.history.migrations.versions.v0001_records import pg_append_only
        for stmt in pg_append_only("run_chain"):
            op.execute(stmt)


def downgrade() -> None:
    raise NotImplementedError("the run records are append-only: no downgrade")
