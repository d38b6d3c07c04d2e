"""What `mspctl runs` does: find, show, export and verify runs, as values the CLI renders."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mspctl.errors import ChainBrokenError, UsageError
from mspctl.history.model import ChainLink, ChainReport, RunRecord
from mspctl.history.store import HistoryStore, RunQuery
from mspctl.provenance import describe_who, scrubbed
from mspctl.secrets import scrub_values

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
HIDDEN = ("pre_config", "asset")  # bulky or internal: shown by neither `show` nor `export`


def parse_when(text: str | None, option: str, now: datetime | None = None) -> datetime | None:
    """`--since`/`--until`: an ISO date (``2026-11-01``, midnight UTC), an ISO time
    (``2026-11-01T08:00Z``; UTC when it names no zone), or a duration back from now (``30d``,
    ``12h``, ``2w``). Raises UsageError (MSP-USE-001) for anything else."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if match:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r}: not an ISO date or time, nor a duration",
                         hint="e.g. 2026-11-01, 2026-11-01T08:00Z or 30d") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def run_data(store: HistoryStore, r: RunRecord) -> dict[str, Any]:
    """A run as plain data: its fields, its provenance (`who`, `command`, `versions`; empty for
    a record written before revision 0003), its results (scrubbed again: a record written by an
    older mspctl may hold what today's rules mask) and its chain link."""
    results = {t: {"status": s, **scrub_values({k: v for k, v in d.items() if k not in HIDDEN})}
               for t, (s, d) in r.results.items()}
    link = store.link(r.id)
    return {"id": r.id, "kind": r.kind, "clients": sorted(r.clients()), "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat(), "params": r.params, "summary": r.summary,
            **provenance_data(r), "results": results, "chain": _link(link)}


def provenance_data(r: RunRecord) -> dict[str, Any]:
    """A record's provenance as `runs` prints it: who ran it, its command line, the versions it
    used (each empty when the record has none), and who sealed it when its process died."""
    meta = scrubbed(r.meta)
    out: dict[str, Any] = {"who": meta.get("who") or {}, "command": meta.get("command") or "",
                           "versions": meta.get("versions") or {}}
    if meta.get("sealed_by"):
        out["sealed_by"] = meta["sealed_by"]
    return out


def _link(link: ChainLink | None) -> dict[str, Any] | None:
    return None if link is None else {"seq": link.seq, "content_hash": link.content_hash,
                                      "prev_hash": link.prev_hash, "chain_hash": link.chain_hash}


CSV_COLUMNS = ["run_id", "kind", "started_at", "finished_at", "target", "name", "client", "status", "changed",
               "error", "content_hash", "who", "command", "repository_version"]


def export(store: HistoryStore, query: RunQuery, fmt: str) -> str:
    """The runs `query` selects, newest first: JSON Lines (one run per line, with its results and
    chain link and provenance) or CSV (one row per run and target)."""
    runs = store.find(query)
    if fmt == "jsonl":
        return "".join(json.dumps(run_data(store, r), ensure_ascii=False, sort_keys=True) + "\n" for r in runs)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in runs:
        data = run_data(store, r)
        names = r.names()
        for target, res in data["results"].items():
            writer.writerow({"run_id": r.id, "kind": r.kind, "started_at": data["started_at"],
                             "finished_at": data["finished_at"], "target": target, "name": names.get(target, ""),
                             "client": res.get("client") or r.params.get("client") or "",
                             "status": res["status"], "changed": res.get("changed", ""),
                             "error": res.get("error") or "",
                             "content_hash": (data["chain"] or {}).get("content_hash", ""),
                             "who": describe_who(data["who"]) if data["who"] else "", "command": data["command"],
                             "repository_version": data["versions"].get("repository", "")})
    return buf.getvalue()


def write_export(store: HistoryStore, query: RunQuery, fmt: str, out: Path | None) -> str | None:
    """Export to `out` (written atomically), or return the text for stdout."""
    from mspctl.files import write_atomic

    text = export(store, query, fmt)
    if out is None:
        return text
    write_atomic(out, text)
    return None


def verify(store: HistoryStore) -> ChainReport:
    """The chain's report when it holds; raises ChainBrokenError (MSP-REC-409, exit 4) naming the
    first broken link."""
    report = store.verify()
    if not report.ok:
        where = f"record #{report.broken_seq}, " if report.broken_seq else ""
        raise ChainBrokenError(f"{store.where}: the history was changed behind mspctl's back at run "
                               f"{report.broken_run} ({where}{report.reason})",
                               hint="restore the records from a backup; the runs before it are intact")
    return report
