"""Schema migrations, run by the store as it opens: Alembic's API, no alembic.ini.

Revision 0001 is the schema mspctl/records.py wrote before the history store; a file it wrote
(its tables there, no ``alembic_version``) is recognised and stamped at 0001, never recreated.
Revision 0002 adds the chain, computed over the records already there; 0003 the runs' provenance
(`run_meta`).

Alembic is imported only when a database is behind `HEAD`: opening an up-to-date store reads one
row, so a run that only reads its records starts fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)
LOCATION = Path(__file__).parent / "migrations"
HEAD = "0003"  # the newest revision under migrations/versions (tests check they agree)
LEGACY_TABLES = {"runs", "results", "run_starts", "journal"}
_PG_LOCK = 0x6D737063  # "mspc": one migrating process at a time per database


def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(LOCATION))


def current(conn: sa.Connection) -> str | None:
    """The database's revision, None before the first (or for a file written before the store)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(conn: sa.Connection) -> list[str]:
    """Bring the database on `conn` (inside the caller's write transaction, which serialises
    migrating processes) to the head revision; the revisions applied, oldest first."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    script = scripts()
    applied: list[str] = []

    def steps(rev: Any, context: MigrationContext) -> Any:
        revs = script._upgrade_revs("head", rev)
        applied.extend(str(r.revision.revision) for r in revs)
        return revs

    ctx = MigrationContext.configure(conn, opts={"fn": steps})
    if ctx.get_current_revision() is None and set(sa.inspect(conn).get_table_names()) >= LEGACY_TABLES:
        log.info("run records written before the history store: stamped at revision 0001")
        ctx.stamp(script, "0001")
    with Operations.context(ctx):
        ctx.run_migrations()
    return applied
