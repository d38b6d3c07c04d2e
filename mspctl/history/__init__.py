"""The history: every run mspctl recorded, in SQLite or PostgreSQL, append-only and chained.

`HistoryStore` keeps the records (docs/history.md); `RunRecord` and `JournalEntry` are what it
holds; `verify` walks the tamper-evident chain.
"""

from __future__ import annotations

from mspctl.history.model import ChainLink, ChainReport, JournalEntry, RunRecord, new_run_id
from mspctl.history.store import HistoryStore, RunQuery, location_url

__all__ = ["ChainLink", "ChainReport", "HistoryStore", "JournalEntry", "RunQuery", "RunRecord", "location_url",
           "new_run_id"]
