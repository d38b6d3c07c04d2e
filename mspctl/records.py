"""Run records: what mspctl found and did, as immutable, timestamped rows.

They are kept by the history store (`mspctl.history`, docs/history.md): SQLite at `[config]
records` by default, or a shared PostgreSQL database (`[records] url`), through SQLAlchemy Core
with Alembic migrations, each record chained to the one before it so `mspctl runs verify` shows
whether the history was changed.

A run (backup, drift, push, rollback) is written once, in one transaction, when it ends: its id,
kind, times, parameters, summary, and one result per target. Nothing is updated or deleted
afterwards (triggers refuse UPDATE, DELETE and INSERT OR REPLACE). Every string a record holds
is scrubbed of secrets (`mspctl.secrets`) as it is written.

A run that changes things also writes a *start* row and *journal* entries while it works
(`start`, `journal`): the intent of each change is on disk before the first command reaches a
device. A start without a finished run whose process is gone (killed, crashed, power lost) is
sealed by the next mspctl process that opens the store: it becomes a run record whose targets
are `unfinished`, with what the journal says they may have had done to them.
"""

from __future__ import annotations

from mspctl.history.model import JournalEntry, RunRecord, new_run_id
from mspctl.history.store import HistoryStore

__all__ = ["JournalEntry", "RecordStore", "RunRecord", "new_run_id"]


class RecordStore(HistoryStore):
    """The run records at a SQLite path or a database URL (`mspctl.history.HistoryStore`). Safe
    to share between the threads of one run, and between processes."""
