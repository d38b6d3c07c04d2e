"""The values the history holds: one run record, one journal entry, and run ids."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


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
    # Provenance (`mspctl.provenance`): who ran it, the command line (secrets masked), the versions
    # of mspctl and of the MSP repository. Empty in records written before revision 0003.
    meta: dict[str, Any] = field(default_factory=dict)

    def clients(self) -> set[str]:
        """The clients this run worked for: its `client` parameter and its targets' `client`."""
        found = {str(c) for c in (self.params.get("client"), self.params.get("tenant")) if c}
        found.update(str(d["client"]) for _, d in self.results.values() if d.get("client"))
        return found

    def names(self) -> dict[str, str]:
        """Target -> the name a reader knows it by (its device or host name, else the target)."""
        return {t: str(d.get("device") or d.get("host") or t) for t, (_, d) in self.results.items()}


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at: datetime
    target: str
    event: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ChainLink:
    """One record's place in the chain: `chain_hash` = SHA-256 of `prev_hash` and `content_hash`."""

    seq: int
    run_id: str
    content_hash: str
    prev_hash: str
    chain_hash: str


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found: `ok`, the head (the last link's hash) and the number of records; when
    broken, the first broken link's run id (and seq) and why."""

    ok: bool
    records: int
    head: str | None
    broken_run: str | None = None
    broken_seq: int | None = None
    reason: str | None = None
