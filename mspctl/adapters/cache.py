"""The embedded inventory cache: one SQLite file per NetBox URL and token.

A token only ever sees what NetBox gave that token: another token (an admin's, or one limited to
one tenant) has a cache of its own, so it can neither read this one's data nor make it look
removed. The token is never stored: the file name is a hash of the URL and a keyed hash (HMAC,
the token as key) of it. Folder 0700, file 0600. Writes happen in single transactions, so a
failed refresh leaves the previous inventory intact.

A file that is not a readable SQLite database, or a row or meta value that does not read back
(a disk fault, a half-copied file, an edit by hand), is a `CacheCorruptError` naming the file:
never a crash. `rebuild_if_corrupt` (what ``--refresh`` calls) moves such a file aside and starts
an empty one, which the full read then fills.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, Concatenate

from mspctl.errors import CacheCorruptError, CacheError
from mspctl.files import private_dir, seal_database
from mspctl.model import Asset, Client

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assets (kind TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
                                   PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS clients (slug TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS renders (key TEXT PRIMARY KEY, generation INTEGER NOT NULL, count INTEGER NOT NULL,
                                    body TEXT NOT NULL);
"""
# SQLite's answers that mean "this file is not what mspctl wrote" (rather than busy, read-only, full).
_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_ERROR, sqlite3.SQLITE_MISMATCH,
                  sqlite3.SQLITE_FORMAT}
_DECODE_ERRORS = (ValueError, TypeError, KeyError, AttributeError)  # json.JSONDecodeError is a ValueError


@dataclass(frozen=True, slots=True)
class SyncState:
    synced_at: float  # local epoch seconds of the last successful sync
    since: str  # NetBox server time at the start of that sync, for `last_updated__gte`


def cache_name(netbox_url: str, token: str | None) -> str:
    """The cache file of one NetBox URL as one token sees it: ``<url hash>-<token identity>.sqlite``."""
    url = hashlib.sha256(netbox_url.encode()).hexdigest()[:16]
    identity = hmac.new((token or "").encode(), netbox_url.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{url}-{identity}.sqlite"


def _mapped[**P, R](method: Callable[Concatenate[InventoryCache, P], R]) -> Callable[Concatenate[InventoryCache, P], R]:
    """SQLite errors of a cache method as mspctl errors: a corrupt file, or one that cannot be used."""

    @wraps(method)
    def wrapper(self: InventoryCache, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    return wrapper


class InventoryCache:
    def __init__(self, folder: Path, netbox_url: str, token: str | None = None) -> None:
        self.path = folder / cache_name(netbox_url, token)
        self._db: sqlite3.Connection | None = None
        self._problem: str | None = None  # why the file could not be opened as a cache
        self._open()

    def _open(self) -> None:
        try:
            private_dir(self.path.parent)
            db = sqlite3.connect(self.path, isolation_level=None)
            seal_database(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"{self.path}: cannot open the inventory cache: {exc}",
                             hint="check cache.path / MSPCTL_CACHE_PATH, or delete the file") from None
        try:
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and row[0] != SCHEMA_VERSION:
                db.executescript("DROP TABLE assets; DROP TABLE clients; DROP TABLE IF EXISTS renders; "
                                 "DELETE FROM meta;")
                db.executescript(_SCHEMA)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        except sqlite3.DatabaseError as exc:
            db.close()
            if getattr(exc, "sqlite_errorcode", None) not in _CORRUPT_CODES:
                raise CacheError(f"{self.path}: cannot open the inventory cache: {exc}",
                                 hint="check cache.path / MSPCTL_CACHE_PATH, or delete the file") from None
            # Not raised yet: `--refresh` rebuilds such a file (rebuild_if_corrupt); other uses raise.
            self._problem = f"not a readable SQLite database ({exc})"
            return
        self._db = db

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise self._corrupt(self._problem or "closed")
        return self._db

    def _corrupt(self, what: str) -> CacheCorruptError:
        return CacheCorruptError(f"{self.path}: the inventory cache is corrupt: {what}",
                                 hint="run the command with --refresh to rebuild it from NetBox (the corrupt "
                                      "file is kept beside it), or delete the file")

    def _error(self, exc: sqlite3.DatabaseError) -> CacheError:
        if getattr(exc, "sqlite_errorcode", None) in _CORRUPT_CODES:
            return self._corrupt(f"SQLite: {exc}")
        return CacheError(f"{self.path}: the inventory cache cannot be used: SQLite: {exc}",
                          hint="check the disk and the file's owner; another mspctl may hold it")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    # -- checking and rebuilding ----------------------------------------------------------------
    def problem(self) -> str | None:
        """Why the cache is corrupt (None: it reads back whole): the file, each meta value and row."""
        if self._db is None:
            return self._problem or "closed"
        try:
            check = self._conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                return "SQLite quick_check: " + "; ".join(str(r[0]) for r in check[:3])
            self.state()
            _ = self.generation
            self.assets()
            self.clients()
        except CacheCorruptError as exc:
            return exc.message.split(": the inventory cache is corrupt: ", 1)[-1]
        except sqlite3.DatabaseError as exc:
            return f"SQLite: {exc}"
        return None

    def rebuild_if_corrupt(self) -> Path | None:
        """Move a corrupt cache file aside (``<name>.corrupt-<UTC time>``, still 0600) and start an
        empty one in its place (0600). Returns where the bad file went; None when it was sound.
        Raises CacheError when the file cannot be moved."""
        problem = self.problem()
        if problem is None:
            return None
        self.close()
        self._db = None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}")
        try:
            os.replace(self.path, aside)
            for suffix in ("-journal", "-wal", "-shm"):  # a stale journal must not be replayed into the new file
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    os.replace(side, aside.with_name(aside.name + suffix))
        except OSError as exc:
            raise CacheError(f"{self.path}: the inventory cache is corrupt ({problem}) and cannot be moved aside: "
                             f"{exc.strerror}", hint="delete the file") from None
        log.warning("%s: the inventory cache was corrupt (%s): moved aside to %s; rebuilding it from NetBox",
                    self.path, problem, aside.name)
        self._problem = None
        self._open()
        return aside

    # -- reading --------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @_mapped
    def state(self) -> SyncState | None:
        synced, since = self._meta("synced_at"), self._meta("since")
        if synced is None or since is None:
            return None
        try:
            when = float(synced)
        except ValueError:
            when = math.nan
        if not math.isfinite(when):
            raise self._corrupt(f"meta synced_at={synced[:40]!r} is not a time")
        if not since.strip():  # the source's sync mark is opaque here; empty it would ask for nothing
            raise self._corrupt("meta since is empty")
        return SyncState(when, since)

    @_mapped
    def assets(self) -> list[Asset]:
        rows = self._conn.execute("SELECT data FROM assets").fetchall()
        try:
            return [Asset.from_dict(json.loads(r[0])) for r in rows]
        except _DECODE_ERRORS:
            raise self._bad_row("assets", "kind || ':' || id", lambda d: Asset.from_dict(json.loads(d))) from None

    def _bad_row(self, table: str, key: str, decode: Callable[[Any], object]) -> CacheCorruptError:
        """The error naming the first row of `table` that `decode` refuses."""
        for name, data in self._conn.execute(f"SELECT {key}, data FROM {table}"):  # our own table and column names
            try:
                decode(data)
            except _DECODE_ERRORS as exc:
                return self._corrupt(f"the {table} row {name} does not read back ({type(exc).__name__}: "
                                     f"{str(exc)[:80]})")
        return self._corrupt(f"a row of {table} does not read back")

    @_mapped
    def ids(self) -> set[tuple[str, int]]:
        return {(k, i) for k, i in self._conn.execute("SELECT kind, id FROM assets")}

    @_mapped
    def counts(self) -> dict[str, int]:
        return {k: n for k, n in self._conn.execute("SELECT kind, count(*) FROM assets GROUP BY kind")}

    @_mapped
    def clients(self) -> list[Client]:
        rows = self._conn.execute("SELECT data FROM clients ORDER BY slug").fetchall()
        try:
            return [Client(**json.loads(r[0])) for r in rows]
        except _DECODE_ERRORS:
            raise self._bad_row("clients", "slug", lambda d: Client(**json.loads(d))) from None

    @property
    @_mapped
    def generation(self) -> int:
        """Bumped whenever the cached content changes; keys the render cache."""
        value = self._meta("generation") or "0"
        try:
            return int(value)
        except ValueError:
            raise self._corrupt(f"meta generation={value[:40]!r} is not a number") from None

    def _bump(self) -> None:
        self._set_meta("generation", str(self.generation + 1))

    # -- writing --------------------------------------------------------------------------------
    @_mapped
    def replace_all(self, assets: Iterable[Asset], clients: Iterable[Client], since: str) -> None:
        with self._tx():
            self._conn.execute("DELETE FROM assets")
            self._conn.execute("DELETE FROM clients")
            self._conn.execute("DELETE FROM renders")  # every render key is of an older generation now
            self._insert(assets)
            self._conn.executemany("INSERT INTO clients VALUES (?, ?)",
                                   [(c.slug, json.dumps(c.to_dict())) for c in clients])
            self._set_meta("since", since)
            self._set_meta("synced_at", repr(time.time()))
            self._bump()

    @_mapped
    def apply_delta(self, changed: Iterable[Asset], removed: Iterable[tuple[str, int]],
                    clients: Iterable[Client] | None, since: str) -> None:
        db = self._conn
        with self._tx():
            rows = [(a.kind, a.id, json.dumps(a.to_dict())) for a in changed]
            # A delta re-reads recently touched records (the sync margin): only real differences count.
            differs = any(db.execute("SELECT data FROM assets WHERE kind=? AND id=?", (k, i)).fetchone()
                          != (d,) for k, i, d in rows)
            db.executemany("INSERT OR REPLACE INTO assets VALUES (?, ?, ?)", rows)
            cur = db.executemany("DELETE FROM assets WHERE kind=? AND id=?", list(removed))
            clients_differ = False
            if clients is not None:
                fresh = sorted((c.slug, json.dumps(c.to_dict())) for c in clients)
                clients_differ = fresh != sorted(db.execute("SELECT slug, data FROM clients").fetchall())
                if clients_differ:
                    db.execute("DELETE FROM clients")
                    db.executemany("INSERT INTO clients VALUES (?, ?)", fresh)
            self._set_meta("since", since)
            self._set_meta("synced_at", repr(time.time()))
            if differs or cur.rowcount or clients_differ:
                self._bump()

    @_mapped
    def get_render(self, key: str) -> tuple[int, str] | None:
        """A rendered output stored for `key` at the current generation: (count, body). A stored
        entry that does not read back is a miss: it is only a cache of the inventory above."""
        row = self._conn.execute("SELECT count, body FROM renders WHERE key=? AND generation=?",
                                 (key, self.generation)).fetchone()
        if row is None or not isinstance(row[0], int) or not isinstance(row[1], str):
            return None
        return row[0], row[1]

    @_mapped
    def put_render(self, key: str, count: int, body: str) -> None:
        with self._tx():
            self._conn.execute("DELETE FROM renders WHERE generation<?", (self.generation,))
            self._conn.execute("INSERT OR REPLACE INTO renders VALUES (?, ?, ?, ?)",
                               (key, self.generation, count, body))

    @_mapped
    def put_asset(self, asset: Asset) -> None:
        with self._tx():
            self._insert([asset])
            self._bump()

    def _insert(self, assets: Iterable[Asset]) -> None:
        self._conn.executemany("INSERT OR REPLACE INTO assets VALUES (?, ?, ?)",
                               [(a.kind, a.id, json.dumps(a.to_dict())) for a in assets])

    def _tx(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # a failure SQLite already rolled back leaves nothing to undo
            self._db.execute("ROLLBACK")
