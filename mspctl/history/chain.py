"""The tamper-evident chain: a run record's canonical content, its hash, and the link hashes.

A record's content is its id, kind, times, parameters, summary, every result (status and
data) and, for a record that has one (revision 0003 on), its provenance (`meta`), as stored, in
canonical JSON (sorted keys, no spaces, UTF-8). A record without provenance hashes exactly as
before 0003, so the links written before it still verify. Each link holds that
content's SHA-256, the previous link's hash, and the SHA-256 of the two together: changing,
removing or inserting any record behind mspctl's back changes every link after it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64  # the `prev_hash` of the first record


def canonical(run: dict[str, Any], results: list[tuple[str, str, str]], meta: str | None = None) -> bytes:
    """`run`: the stored row (id, kind, started_at, finished_at, params and summary as stored JSON
    text); `results`: its stored (target, status, data JSON text) rows, in any order; `meta`: its
    stored provenance JSON text, None when it has no `run_meta` row."""
    body: dict[str, Any] = {
        "id": run["id"], "kind": run["kind"], "started_at": run["started_at"], "finished_at": run["finished_at"],
        "params": json.loads(run["params"]), "summary": json.loads(run["summary"]),
        "results": {t: {"status": s, "data": json.loads(d)} for t, s, d in results}}
    if meta is not None:
        body["meta"] = json.loads(meta)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(run: dict[str, Any], results: list[tuple[str, str, str]], meta: str | None = None) -> str:
    return hashlib.sha256(canonical(run, results, meta)).hexdigest()


def link_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}:{content}".encode()).hexdigest()
