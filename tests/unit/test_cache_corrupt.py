"""A corrupt inventory cache (issue 9 §7): a clear MSP-CACHE-422 naming the file, never MSP-000;
`--refresh` (the service's "refresh" mode) moves the bad file aside and rebuilds it from NetBox."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from mspctl.adapters.cache import InventoryCache
from mspctl.errors import CacheCorruptError, ExitCode
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.service import InventoryService
from mspctl.model import Asset, Client, ProgressFn

URL = "https://netbox.example"
CLIENTS = [Client("acme", "Acme"), Client("globex", "Globex")]


class Source:
    """Just enough of NetBox for full reads: the assets and tenants it holds, and a count of reads."""

    name = "fake"
    url = URL

    def __init__(self, assets: list[Asset]) -> None:
        self.assets = assets
        self.full_reads = 0

    def clients(self) -> list[Client]:
        return list(CLIENTS)

    def fetch_assets(self, since: str | None = None, progress: ProgressFn | None = None) -> tuple[list[Asset], str]:
        self.full_reads += 1
        return list(self.assets), f"2026-12-01T00:00:0{self.full_reads}Z"

    def __getattr__(self, name: str) -> Any:  # a delta or detail read is not what these tests exercise
        raise AssertionError(f"unexpected NetBox call {name}")


@pytest.fixture
def source(make_asset: Any) -> Source:
    return Source([make_asset("acme-sw1", id=1), make_asset("acme-rtr1", id=2),
                   make_asset("globex-sw1", client="globex", id=3)])


def _filled(folder: Path, source: Source) -> InventoryCache:
    cache = InventoryCache(folder, URL)
    InventoryService(source, cache, ttl=300).load("refresh")
    cache.close()
    return InventoryCache(folder, URL)


def _edit(cache: InventoryCache, sql: str, *params: object) -> None:
    with sqlite3.connect(cache.path) as db:
        db.execute(sql, params)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _service(cache: InventoryCache, source: Source | None) -> InventoryService:
    return InventoryService(source, cache, ttl=300)


CORRUPTIONS = {
    "bad JSON in an asset row": ("UPDATE assets SET data='{\"kind\": \"device\", \"id\": 2, ' WHERE id=2",
                                 "the assets row device:2 does not read back (JSONDecodeError"),
    "an asset row that is no asset": ("UPDATE assets SET data='[1, 2]' WHERE id=3",
                                      "the assets row device:3 does not read back (TypeError"),
    "bad JSON in a client row": ("UPDATE clients SET data='nope' WHERE slug='globex'",
                                 "the clients row globex does not read back (JSONDecodeError"),
    "a sync time that is no time": ("UPDATE meta SET value='yesterday' WHERE key='synced_at'",
                                    "meta synced_at='yesterday' is not a time"),
    "a generation that is no number": ("UPDATE meta SET value='x1' WHERE key='generation'",
                                       "meta generation='x1' is not a number"),
}


@pytest.mark.parametrize("what", list(CORRUPTIONS))
def test_a_corrupt_row_or_meta_value_is_a_located_cache_error(tmp_path: Path, source: Source, what: str) -> None:
    cache = _filled(tmp_path, source)
    sql, reason = CORRUPTIONS[what]
    _edit(cache, sql)
    for mode in ("auto", "offline"):
        with pytest.raises(CacheCorruptError) as caught:
            service = _service(cache, None if mode == "offline" else source)
            service.load(mode)
            service.clients(mode)
            service.render_cached(AssetFilter(), "export", lambda assets: str(len(assets)), mode)
        err = caught.value
        assert err.code == "MSP-CACHE-422" and err.exit_code == ExitCode.CONFIG
        assert err.message.startswith(f"{cache.path}: the inventory cache is corrupt: ")
        assert reason in err.message
        assert "--refresh" in (err.hint or "")
    assert source.full_reads == 1  # auto mode did not quietly read NetBox instead


@pytest.mark.parametrize("what", list(CORRUPTIONS))
def test_refresh_moves_a_corrupt_cache_aside_and_rebuilds_it(tmp_path: Path, source: Source, what: str) -> None:
    cache = _filled(tmp_path, source)
    _edit(cache, CORRUPTIONS[what][0])
    inv = _service(cache, source).load("refresh")
    assert sorted(a.name for a in inv.assets) == ["acme-rtr1", "acme-sw1", "globex-sw1"]
    [aside] = list(tmp_path.glob(f"{cache.path.name}.corrupt-*"))
    assert _mode(aside) == 0o600 and _mode(cache.path) == 0o600
    # the rebuilt cache serves the next runs, offline too, with nothing corrupt left
    offline = _service(InventoryCache(tmp_path, URL), None)
    assert sorted(a.name for a in offline.load("offline").assets) == ["acme-rtr1", "acme-sw1", "globex-sw1"]
    assert [c.slug for c in offline.clients("offline")] == ["acme", "globex"]
    assert InventoryCache(tmp_path, URL).problem() is None


@pytest.mark.parametrize("damage", ["truncated", "not sqlite"])
def test_a_file_that_is_no_sqlite_database_is_refused_then_rebuilt_by_refresh(tmp_path: Path, source: Source,
                                                                             damage: str) -> None:
    cache = _filled(tmp_path, source)
    with sqlite3.connect(cache.path) as db:  # enough rows for several pages, so a cut loses some
        db.executemany("INSERT INTO renders VALUES (?, 0, 1, ?)", [(f"k{i}", "x" * 500) for i in range(200)])
    cache.close()
    raw = cache.path.read_bytes()
    cache.path.write_bytes(raw[: len(raw) // 3] if damage == "truncated" else b"this is no database\n" * 50)
    damaged = InventoryCache(tmp_path, URL)  # opening does not raise: --refresh must still be able to rebuild
    with pytest.raises(CacheCorruptError) as caught:
        _service(damaged, None).load("offline")
    assert caught.value.message.startswith(f"{damaged.path}: the inventory cache is corrupt: ")
    inv = _service(damaged, source).load("refresh")
    assert len(inv.assets) == 3 and source.full_reads == 2
    [aside] = list(tmp_path.glob(f"{damaged.path.name}.corrupt-*"))
    assert aside.read_bytes()[:100] == (raw[:100] if damage == "truncated" else b"this is no database\n" * 5)
    assert _mode(aside) == 0o600 and _mode(damaged.path) == 0o600
    assert InventoryCache(tmp_path, URL).problem() is None


def test_refresh_of_a_sound_cache_moves_nothing(tmp_path: Path, source: Source) -> None:
    cache = _filled(tmp_path, source)
    _service(cache, source).load("refresh")
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_a_bad_render_cache_entry_is_a_miss_not_an_error(tmp_path: Path, source: Source) -> None:
    cache = _filled(tmp_path, source)
    cache.put_render("export", 3, "body")
    _edit(cache, "UPDATE renders SET count='three'")
    assert cache.get_render("export") is None
    cache.put_render("export", 3, "body")
    assert cache.get_render("export") == (3, "body")


def _open_and_write(folder: Path, rounds: int, errors: list[str]) -> None:
    for i in range(rounds):
        try:
            cache = InventoryCache(folder, "https://netbox.example", "tok")
            cache._conn.execute("BEGIN IMMEDIATE")
            cache._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"k{i % 7}", "x" * 5000))
            cache._conn.execute("COMMIT")
            cache.close()
        except Exception as exc:  # every failure is the finding
            errors.append(repr(exc))


def _threads_opening(folder: Path, out: Any) -> None:
    errors: list[str] = []
    threads = [threading.Thread(target=_open_and_write, args=(folder, 150, errors)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(errors)


def test_caches_opened_by_threads_of_two_processes_at_once_never_break_each_other(tmp_path: Path) -> None:
    """A worker's threads each open the cache while others write it, in two pool processes. Opening
    must not open (and close) a descriptor of the database: closing one drops the POSIX locks the
    process's other connections hold, and the writers then corrupt the file ("disk I/O error",
    found by the scale lab test)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    folder = tmp_path / "cache"
    procs = [ctx.Process(target=_threads_opening, args=(folder, out)) for _ in range(2)]
    for p in procs:
        p.start()
    errors = [e for _ in procs for e in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=30)
    assert errors == []
    cache = InventoryCache(folder, "https://netbox.example", "tok")
    assert cache.problem() is None and _mode(cache.path) == 0o600
    assert cache._meta("k3") == "x" * 5000
