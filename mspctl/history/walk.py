"""One pass over the whole history in chain order that both yields every record and verifies the
chain, holding one chunk of records in memory at a time.

`HistoryStore.verify` reads every row to check the chain; a report reads every row to count
what it says. `ChainWalk` does both in the same read: each stored row is parsed once, its content
hashed from the parsed values (the same canonical JSON `chain.canonical` makes from the text),
and the record handed on. After the walk, `report` is what `verify` would have answered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mspctl.history import chain
from mspctl.history.model import ChainReport, RunRecord
from mspctl.history.tables import results, run_chain, run_meta, runs

if TYPE_CHECKING:
    from mspctl.history.store import HistoryStore

CHUNK = 25  # runs per read: a few MB of rows (a large run holds thousands of results)


def _content_hash(row: Any, params: Any, summary: Any, rows: list[tuple[str, str, Any]], meta: Any) -> str:
    body: dict[str, Any] = {"id": row.id, "kind": row.kind, "started_at": row.started_at,
                            "finished_at": row.finished_at, "params": params, "summary": summary,
                            "results": {t: {"status": s, "data": d} for t, s, d in rows}}
    if meta is not None:
        body["meta"] = meta
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(text).hexdigest()


class ChainWalk:
    """Iterate to get every chained record, oldest link first; then `report` holds the chain's
    verdict (the first broken link stops nothing: the records are still yielded, and the report
    names that link). Records written behind mspctl's back (not in the chain) are not yielded."""

    def __init__(self, store: HistoryStore, chunk: int = CHUNK) -> None:
        self.store = store
        self.chunk = chunk
        self.report: ChainReport | None = None

    def __iter__(self) -> Iterator[RunRecord]:
        broken: ChainReport | None = None
        prev, seq, count = chain.GENESIS, 0, 0
        chained: set[str] = set()
        while True:
            with self.store._tx() as c:  # one short transaction per chunk: writers are never held up
                links = c.execute(sa.select(run_chain).where(run_chain.c.seq > seq).order_by(run_chain.c.seq)
                                  .limit(self.chunk)).all()
                ids = [lk.run_id for lk in links]
                stored = {r.id: r for r in c.execute(sa.select(runs).where(runs.c.id.in_(ids)))} if ids else {}
                rows: dict[str, list[tuple[str, str, Any]]] = {}
                if ids:
                    for run_id, target, status, data in c.execute(sa.select(results)
                                                                  .where(results.c.run_id.in_(ids))):
                        rows.setdefault(run_id, []).append((target, status, json.loads(data)))
                metas = {r: json.loads(m) for r, m in c.execute(sa.select(run_meta)
                                                                 .where(run_meta.c.run_id.in_(ids)))} if ids else {}
            if not links:
                break
            for lk in links:
                count += 1
                chained.add(lk.run_id)
                run = stored.get(lk.run_id)
                why = None
                if lk.seq != count:
                    why = f"the record before it (#{count}) is missing: deleted"
                elif lk.prev_hash != prev:
                    why = "its previous-record hash does not match the record before it: a record before it was " \
                          "removed or rewritten"
                elif run is None:
                    why = "its record is missing: deleted"
                if run is None:
                    if broken is None and why:
                        broken = ChainReport(False, 0, None, lk.run_id, lk.seq, why)
                    prev, seq = lk.chain_hash, lk.seq
                    continue
                params, summary = json.loads(run.params), json.loads(run.summary)
                mine = rows.get(lk.run_id, [])
                if why is None and _content_hash(run, params, summary, mine, metas.get(lk.run_id)) != lk.content_hash:
                    why = "its content (the run or one of its results) does not match its hash: changed after it " \
                          "was written"
                if why is None and chain.link_hash(prev, lk.content_hash) != lk.chain_hash:
                    why = "its link hash is wrong: the chain was rewritten"
                if why is not None and broken is None:
                    broken = ChainReport(False, 0, None, lk.run_id, lk.seq, why)
                prev, seq = lk.chain_hash, lk.seq
                record = RunRecord(run.id, run.kind, datetime.fromisoformat(run.started_at),
                                   datetime.fromisoformat(run.finished_at), params, summary,
                                   {t: (s, d) for t, s, d in mine})
                if lk.run_id in metas:
                    record.meta = metas[lk.run_id]
                yield record
        if broken is None:
            broken = self._unchained(chained)
        if broken is not None:
            self.report = ChainReport(False, count, None, broken.broken_run, broken.broken_seq, broken.reason)
        else:
            self.report = ChainReport(True, count, prev if count else None)

    def _unchained(self, chained: set[str]) -> ChainReport | None:
        """A run, or results, outside the chain: written (or left) behind mspctl's back."""
        with self.store._tx() as c:
            all_runs = {r.id: r.started_at for r in c.execute(sa.select(runs.c.id, runs.c.started_at))}
            with_rows = set(c.execute(sa.select(results.c.run_id).distinct()).scalars())
            with_rows |= set(c.execute(sa.select(run_meta.c.run_id)).scalars())
        extra = sorted((at, rid) for rid, at in all_runs.items() if rid not in chained)
        if extra:
            return ChainReport(False, 0, None, extra[0][1], 0, "it is not in the chain: written behind mspctl's back")
        orphans = sorted(with_rows - set(all_runs))
        if orphans:
            return ChainReport(False, 0, None, orphans[0], 0, "results without their run: the run was deleted")
        return None
