"""The embedded inventory cache: one SQLite file per NetBox URL and token.

A token only ever sees what NetBox gave that token: another token (an admin's, or one limited to
one tenant) has a cache of its own, so it can neither read this one's data nor make it look
removed. The token is never stored: the file name is a hash of the URL and a keyed hash (HMAC,
the token as key) of it. Folder 0700, file 0600. Writes happen in single transactions, so a
failed refresh leaves the previous inventory intact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mspctl.errors import CacheError
from mspctl.files import private_file
from mspctl.model import Asset, Client

SCHEMA_VERSION = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assets (kind TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
                                   PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS clients (slug TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS renders (key TEXT PRIMARY KEY, generation INTEGER NOT NULL, count INTEGER NOT NULL,
                                    body TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SyncState:
    synced_at: float  # local epoch seconds of the last successful sync
    since: str  # NetBox server time at the start of that sync, for `last_updated__gte`


def cache_name(netbox_url: str, token: str | None) -> str:
    """The cache file of one NetBox URL as one token sees it: ``<url hash>-<token identity>.sqlite``."""
    url = hashlib.sha256(netbox_url.encode()).hexdigest()[:16]
    identity = hmac.new((token or "").encode(), netbox_url.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{url}-{identity}.sqlite"


class InventoryCache:
    def __init__(self, folder: Path, netbox_url: str, token: str | None = None) -> None:
        self.path = folder / cache_name(netbox_url, token)
        try:
            private_file(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.executescript(_SCHEMA)
            version = self._meta("schema_version")
            if version not in (None, SCHEMA_VERSION):
                self._db.executescript("DROP TABLE assets; DROP TABLE clients; DROP TABLE IF EXISTS renders; "
                                       "DELETE FROM meta;")
                self._db.executescript(_SCHEMA)
            self._set_meta("schema_version", SCHEMA_VERSION)
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"{self.path}: cannot open the inventory cache: {exc}",
                             hint="check cache.path / MSPCTL_CACHE_PATH, or delete the file") from None

    def close(self) -> None:
        self._db.close()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def state(self) -> SyncState | None:
        synced, since = self._meta("synced_at"), self._meta("since")
        if synced is None or since is None:
            return None
        return SyncState(float(synced), since)

    def assets(self) -> list[Asset]:
        rows = self._db.execute("SELECT data FROM assets").fetchall()
        return [Asset.from_dict(json.loads(r[0])) for r in rows]

    def ids(self) -> set[tuple[str, int]]:
        return {(k, i) for k, i in self._db.execute("SELECT kind, id FROM assets")}

    def counts(self) -> dict[str, int]:
        return {k: n for k, n in self._db.execute("SELECT kind, count(*) FROM assets GROUP BY kind")}

    def clients(self) -> list[Client]:
        rows = self._db.execute("SELECT data FROM clients ORDER BY slug").fetchall()
        return [Client(**json.loads(r[0])) for r in rows]

    @property
    def generation(self) -> int:
        """Bumped whenever the cached content changes; keys the render cache."""
        return int(self._meta("generation") or 0)

    def _bump(self) -> None:
        self._set_meta("generation", str(self.generation + 1))

    def replace_all(self, assets: Iterable[Asset], clients: Iterable[Client], since: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM assets")
            self._db.execute("DELETE FROM clients")
            self._insert(assets)
            self._db.executemany("INSERT INTO clients VALUES (?, ?)",
                                 [(c.slug, json.dumps(c.to_dict())) for c in clients])
            self._set_meta("since", since)
            self._set_meta("synced_at", repr(time.time()))
            self._bump()

    def apply_delta(self, changed: Iterable[Asset], removed: Iterable[tuple[str, int]],
                    clients: Iterable[Client] | None, since: str) -> None:
        with self._tx():
            rows = [(a.kind, a.id, json.dumps(a.to_dict())) for a in changed]
            # A delta re-reads recently touched records (the sync margin): only real differences count.
            differs = any(self._db.execute("SELECT data FROM assets WHERE kind=? AND id=?", (k, i)).fetchone()
                          != (d,) for k, i, d in rows)
            self._db.executemany("INSERT OR REPLACE INTO assets VALUES (?, ?, ?)", rows)
            cur = self._db.executemany("DELETE FROM assets WHERE kind=? AND id=?", list(removed))
            clients_differ = False
            if clients is not None:
                fresh = sorted((c.slug, json.dumps(c.to_dict())) for c in clients)
                clients_differ = fresh != sorted(self._db.execute("SELECT slug, data FROM clients").fetchall())
                if clients_differ:
                    self._db.execute("DELETE FROM clients")
                    self._db.executemany("INSERT INTO clients VALUES (?, ?)", fresh)
            self._set_meta("since", since)
            self._set_meta("synced_at", repr(time.time()))
            if differs or cur.rowcount or clients_differ:
                self._bump()

    def get_render(self, key: str) -> tuple[int, str] | None:
        """A rendered output stored for `key` at the current generation: (count, body)."""
        row = self._db.execute("SELECT count, body FROM renders WHERE key=? AND generation=?",
                               (key, self.generation)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def put_render(self, key: str, count: int, body: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM renders WHERE generation<?", (self.generation,))
            self._db.execute("INSERT OR REPLACE INTO renders VALUES (?, ?, ?, ?)", (key, self.generation, count, body))

    def put_asset(self, asset: Asset) -> None:
        with self._tx():
            self._insert([asset])
            self._bump()

    def _insert(self, assets: Iterable[Asset]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO assets VALUES (?, ?, ?)",
                             [(a.kind, a.id, json.dumps(a.to_dict())) for a in assets])

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
