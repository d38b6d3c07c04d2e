"""mspctl/adapters/cache.py and mspctl/inventory/service.py, with an in-memory fake source.

The fake implements the InventorySource protocol the way NetBox behaves: a server clock,
``last_updated`` stamps, counts per kind and the id list used to reconcile deletions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mspctl.adapters.cache import InventoryCache
from mspctl.errors import (
    ExitCode,
    NoMatchError,
    OfflineCacheMissError,
    UnknownClientError,
    UnknownDeviceError,
)
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.service import InventoryService
from mspctl.model import Asset, AssetKind, Client, ClientSettings, ProgressFn

MakeAsset = Callable[..., Asset]
URL = "https://netbox.example"


class FakeSource:
    """An in-memory NetBox: every write stamps ``last_updated`` with the next server time."""

    name = "fake"
    url = URL

    def __init__(self, assets: list[Asset], clients: list[Client]) -> None:
        self._clock = 0
        self._assets: dict[tuple[str, int], Asset] = {}
        self._clients = list(clients)
        self.calls: list[tuple[str, object]] = []
        for a in assets:
            self.upsert(a)

    def _tick(self) -> str:
        self._clock += 1
        return f"2026-01-01T00:00:{self._clock:02d}Z"

    # -- changing the "NetBox" --------------------------------------------------------------------
    def upsert(self, asset: Asset) -> Asset:
        asset = replace(asset, last_updated=self._tick())
        self._assets[(asset.kind, asset.id)] = asset
        return asset

    def delete(self, kind: str, id_: int) -> None:
        del self._assets[(kind, id_)]

    def add_client(self, client: Client) -> None:
        self._clients.append(client)

    # -- the InventorySource protocol -------------------------------------------------------------
    def clients(self) -> list[Client]:
        self.calls.append(("clients", None))
        return list(self._clients)

    def fetch_assets(self, since: str | None = None,
                     progress: ProgressFn | None = None) -> tuple[list[Asset], str]:
        self.calls.append(("fetch_assets", since))
        started = self._tick()
        out = [a for a in self._assets.values() if since is None or (a.last_updated or "") >= since]
        if progress:
            progress("assets", len(out), len(out))
        return sorted(out, key=lambda a: (a.kind, a.id)), started

    def count_assets(self) -> dict[str, int]:
        return {k: sum(1 for kind, _ in self._assets if kind == k) for k in ("device", "vm")}

    def fetch_changes(self, since: str) -> tuple[list[Asset], dict[str, int], str]:
        self.calls.append(("fetch_changes", since))
        started = self._tick()
        out = [a for a in self._assets.values() if (a.last_updated or "") >= since]
        return sorted(out, key=lambda a: (a.kind, a.id)), self.count_assets(), started

    def asset_ids(self) -> set[tuple[str, int]]:
        self.calls.append(("asset_ids", None))
        return set(self._assets)

    def fetch_asset(self, kind: AssetKind, name: str, client: str | None = None,
                    object_id: int | None = None) -> Asset:
        self.calls.append(("fetch_asset", (kind, name, client)))
        for a in self._assets.values():
            if a.kind == kind and (a.id == object_id if object_id is not None else
                                   a.name == name and (client is None or a.client == client)):
                return replace(a, config_context={"ntp": ["192.0.2.123"]})
        raise UnknownDeviceError(f"no {kind} named {name!r}")

    def called(self, what: str) -> list[object]:
        return [arg for name, arg in self.calls if name == what]


@pytest.fixture
def initial(make_asset: MakeAsset) -> list[Asset]:
    return [
        make_asset("acme-rtr1", id=1, role="router", platform="cisco_ios", status="active", tags=("pci",),
                   custom_fields={"contract": "gold"}),
        make_asset("acme-sw1", id=2, role="switch", platform="arista_eos", status="active"),
        make_asset("rtr1", id=3, client="beta", role="router", status="active"),
        make_asset("rtr1", id=4, client="gamma", role="router", status="active"),
        make_asset("acme-web1", id=1, kind="vm", platform="debian", status="active"),
    ]


CLIENTS = [Client("acme", "Acme Corp", device_count=2, vm_count=1), Client("beta", "Beta"),
           Client("gamma", "Gamma", custom_fields={"sla": "24x7"})]


@pytest.fixture
def source(initial: list[Asset]) -> FakeSource:
    return FakeSource(initial, CLIENTS)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[InventoryCache]:
    c = InventoryCache(tmp_path / "cache", URL)
    yield c
    c.close()


def names(assets: list[Asset]) -> set[str]:
    return {f"{a.name}@{a.client}" for a in assets}


# -- InventoryCache ----------------------------------------------------------------------------

def test_new_cache_is_empty(cache: InventoryCache) -> None:
    assert cache.state() is None
    assert (cache.assets(), cache.clients(), cache.ids(), cache.counts()) == ([], [], set(), {})


def test_replace_all_round_trips(cache: InventoryCache, initial: list[Asset]) -> None:
    cache.replace_all(initial, CLIENTS, "T1")
    assert cache.assets() == sorted(initial, key=lambda a: (a.kind, a.id))
    assert cache.clients() == CLIENTS
    assert cache.ids() == {("device", 1), ("device", 2), ("device", 3), ("device", 4), ("vm", 1)}
    assert cache.counts() == {"device": 4, "vm": 1}
    state = cache.state()
    assert state is not None
    assert state.since == "T1"


def test_replace_all_drops_what_is_gone(cache: InventoryCache, initial: list[Asset]) -> None:
    cache.replace_all(initial, CLIENTS, "T1")
    cache.replace_all(initial[:1], CLIENTS[:1], "T2")
    assert cache.ids() == {("device", 1)}
    assert [c.slug for c in cache.clients()] == ["acme"]
    assert cache.state().since == "T2"  # type: ignore[union-attr]


def test_apply_delta(cache: InventoryCache, initial: list[Asset], make_asset: MakeAsset) -> None:
    cache.replace_all(initial, CLIENTS, "T1")
    renamed = replace(initial[1], name="acme-sw1-new")
    created = make_asset("acme-db1", id=9, kind="vm")
    cache.apply_delta([renamed, created], [("device", 3)], None, "T2")
    assert cache.ids() == {("device", 1), ("device", 2), ("device", 4), ("vm", 1), ("vm", 9)}
    assert cache.counts() == {"device": 3, "vm": 2}
    assert "acme-sw1-new@acme" in names(cache.assets())
    assert cache.clients() == CLIENTS  # None: clients untouched
    assert cache.state().since == "T2"  # type: ignore[union-attr]
    cache.apply_delta([], [], [Client("delta", "Delta")], "T3")
    assert [c.slug for c in cache.clients()] == ["delta"]


def test_failed_replace_all_keeps_previous_content(cache: InventoryCache, initial: list[Asset]) -> None:
    cache.replace_all(initial, CLIENTS, "T1")

    def broken_fetch() -> Iterator[Asset]:
        yield initial[0]
        raise ConnectionError("NetBox went away mid-read")

    with pytest.raises(ConnectionError):
        cache.replace_all(broken_fetch(), [], "T2")
    assert cache.assets() == sorted(initial, key=lambda a: (a.kind, a.id))
    assert cache.clients() == CLIENTS
    assert cache.state().since == "T1"  # type: ignore[union-attr]


def test_failed_apply_delta_keeps_previous_content(cache: InventoryCache, initial: list[Asset]) -> None:
    cache.replace_all(initial, CLIENTS, "T1")

    def broken_ids() -> Iterator[tuple[str, int]]:
        yield ("device", 1)
        raise ConnectionError("NetBox went away mid-read")

    with pytest.raises(ConnectionError):
        cache.apply_delta([replace(initial[0], name="changed")], broken_ids(), None, "T2")
    assert cache.assets() == sorted(initial, key=lambda a: (a.kind, a.id))
    assert cache.state().since == "T1"  # type: ignore[union-attr]
    cache.put_asset(replace(initial[0], name="after"))  # the connection is usable again
    assert "after@acme" in names(cache.assets())


def test_cache_persists_per_netbox_url(tmp_path: Path, initial: list[Asset]) -> None:
    first = InventoryCache(tmp_path, URL)
    first.replace_all(initial, CLIENTS, "T1")
    first.close()
    again, other = InventoryCache(tmp_path, URL), InventoryCache(tmp_path, "https://other.example")
    try:
        assert again.path != other.path
        assert again.counts() == {"device": 4, "vm": 1}
        assert other.state() is None
    finally:
        again.close()
        other.close()


def test_cache_from_another_schema_version_is_discarded(tmp_path: Path, initial: list[Asset]) -> None:
    c = InventoryCache(tmp_path, URL)
    c.replace_all(initial, CLIENTS, "T1")
    c.close()
    with sqlite3.connect(c.path) as db:
        db.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    db.close()
    c = InventoryCache(tmp_path, URL)
    try:
        assert (c.assets(), c.state()) == ([], None)
    finally:
        c.close()


# -- InventoryService: load modes ----------------------------------------------------------------

def test_first_auto_load_reads_everything(source: FakeSource, cache: InventoryCache, initial: list[Asset]) -> None:
    inv = InventoryService(source, cache, ttl=3600).load("auto")
    assert source.called("fetch_assets") == [None]
    assert inv.evidence.source == "netbox"
    assert names(inv.assets) == names(initial)
    assert cache.counts() == {"device": 4, "vm": 1}


def test_auto_within_ttl_serves_the_cache(source: FakeSource, cache: InventoryCache, initial: list[Asset]) -> None:
    svc = InventoryService(source, cache, ttl=3600)
    svc.load("auto")
    source.calls.clear()
    source.upsert(replace(initial[0], name="renamed"))  # NetBox changes, the cache is still fresh
    inv = svc.load("auto")
    assert source.calls == []
    assert inv.evidence.source == "cache"
    assert "renamed@acme" not in names(inv.assets)


def test_auto_past_ttl_asks_for_a_delta_since_the_last_server_time(
        source: FakeSource, cache: InventoryCache, initial: list[Asset]) -> None:
    svc = InventoryService(source, cache, ttl=0)
    svc.load("refresh")
    since = cache.state().since  # type: ignore[union-attr]
    source.calls.clear()
    source.upsert(replace(initial[0], name="acme-rtr1-renamed"))
    inv = svc.load("auto")
    assert source.called("fetch_changes") == [since]
    assert inv.evidence.source == "cache-delta"
    assert (inv.changed, inv.removed) == (1, 0)
    assert "acme-rtr1-renamed@acme" in names(inv.assets)
    assert "acme-rtr1@acme" not in names(inv.assets)
    assert source.called("asset_ids") == []  # counts match: no id reconcile needed
    assert cache.state().since > since  # type: ignore[union-attr]


def test_delta_with_no_changes(source: FakeSource, cache: InventoryCache, initial: list[Asset]) -> None:
    svc = InventoryService(source, cache, ttl=0)
    svc.load("refresh")
    inv = svc.load("auto")
    assert (inv.changed, inv.removed) == (0, 0)
    assert names(inv.assets) == names(initial)
    assert source.called("asset_ids") == []


def test_delta_detects_deletions(source: FakeSource, cache: InventoryCache) -> None:
    svc = InventoryService(source, cache, ttl=0)
    svc.load("refresh")
    source.delete("device", 2)
    source.calls.clear()
    inv = svc.load("auto")
    assert source.called("asset_ids") == [None]  # the count dropped, so ids were reconciled
    assert inv.removed == 1
    assert "acme-sw1@acme" not in names(inv.assets)
    assert ("device", 2) not in cache.ids()


def test_delta_detects_a_creation_hiding_a_deletion(source: FakeSource, cache: InventoryCache,
                                                    make_asset: MakeAsset) -> None:
    svc = InventoryService(source, cache, ttl=0)
    svc.load("refresh")
    source.delete("device", 2)
    source.upsert(make_asset("acme-sw2", id=7, role="switch"))
    source.add_client(Client("delta", "Delta"))
    counts_before = source.count_assets()
    assert counts_before == {"device": 4, "vm": 1}  # unchanged: counts alone cannot see this
    inv = svc.load("auto")
    assert (inv.changed, inv.removed) == (1, 1)
    assert "acme-sw2@acme" in names(inv.assets)
    assert "acme-sw1@acme" not in names(inv.assets)
    assert cache.ids() == source.asset_ids()
    assert "delta" in {c.slug for c in cache.clients()}  # clients re-read along with new assets


def test_delta_detects_deletion_of_the_last_vm(source: FakeSource, cache: InventoryCache) -> None:
    svc = InventoryService(source, cache, ttl=0)
    svc.load("refresh")
    source.delete("vm", 1)
    inv = svc.load("auto")
    assert inv.removed == 1
    assert cache.counts() == {"device": 4}


def test_refresh_reads_everything_even_when_fresh(source: FakeSource, cache: InventoryCache) -> None:
    svc = InventoryService(source, cache, ttl=3600)
    svc.load("auto")
    source.delete("device", 3)
    source.calls.clear()
    inv = svc.load("refresh")
    assert source.called("fetch_assets") == [None]
    assert inv.evidence.source == "netbox"
    assert "rtr1@beta" not in names(inv.assets)
    assert ("device", 3) not in cache.ids()


def test_progress_is_passed_to_the_source(source: FakeSource, cache: InventoryCache) -> None:
    seen: list[tuple[str, int, int]] = []
    InventoryService(source, cache, ttl=0).load("refresh", progress=lambda w, d, t: seen.append((w, d, t)))
    assert seen == [("assets", 5, 5)]


def test_offline_with_an_empty_cache(cache: InventoryCache) -> None:
    with pytest.raises(OfflineCacheMissError) as exc:
        InventoryService(None, cache, ttl=300).load("offline")
    assert (exc.value.code, exc.value.exit_code) == ("MSP-CACHE-404", ExitCode.NOT_FOUND)
    assert str(cache.path) in exc.value.message
    assert exc.value.hint


def test_offline_never_asks_the_source(source: FakeSource, cache: InventoryCache, initial: list[Asset]) -> None:
    InventoryService(source, cache, ttl=0).load("refresh")
    source.calls.clear()
    inv = InventoryService(source, cache, ttl=0).load("offline")  # stale, but offline
    assert source.calls == []
    assert inv.evidence.source == "cache"
    assert names(inv.assets) == names(initial)


def test_offline_service_without_a_source(source: FakeSource, cache: InventoryCache, initial: list[Asset]) -> None:
    InventoryService(source, cache, ttl=0).load("refresh")
    offline = InventoryService(None, cache, ttl=0)
    assert names(offline.load("offline").assets) == names(initial)
    with pytest.raises(OfflineCacheMissError):
        offline.load("auto")  # stale cache and no source: cannot refresh


def test_cached_assets_equal_the_fetched_ones(source: FakeSource, cache: InventoryCache) -> None:
    fetched = InventoryService(source, cache, ttl=3600).load("auto").assets
    assert InventoryService(None, cache, ttl=0).load("offline").assets == fetched


# -- InventoryService: clients, select, show -----------------------------------------------------

@pytest.fixture
def service(source: FakeSource, cache: InventoryCache) -> InventoryService:
    settings = [ClientSettings(key="acme-corp", tenant="acme", credentials="acme-netops")]
    svc = InventoryService(source, cache, ttl=3600, client_settings=settings)
    svc.load("auto")
    source.calls.clear()
    return svc


def test_clients_carry_their_repository_settings(service: InventoryService) -> None:
    by_slug = {c.slug: c for c in service.clients()}
    assert set(by_slug) == {"acme", "beta", "gamma"}
    assert by_slug["acme"].settings is not None
    assert by_slug["acme"].settings.credentials == "acme-netops"
    assert by_slug["beta"].settings is None
    assert by_slug["gamma"].custom_fields == {"sla": "24x7"}


def test_select_filters(service: InventoryService) -> None:
    inv = service.select(AssetFilter(clients=("beta", "gamma")))
    assert names(inv.assets) == {"rtr1@beta", "rtr1@gamma"}
    assert inv.evidence.source == "cache"


def test_select_accepts_a_clients_yml_key(service: InventoryService) -> None:
    inv = service.select(AssetFilter(clients=("acme-corp",), kinds=("device",)))
    assert names(inv.assets) == {"acme-rtr1@acme", "acme-sw1@acme"}


def test_select_unknown_client(service: InventoryService) -> None:
    with pytest.raises(UnknownClientError) as exc:
        service.select(AssetFilter(clients=("acmee",)))
    assert (exc.value.code, exc.value.exit_code) == ("MSP-INV-404", ExitCode.NOT_FOUND)
    assert "'acmee'" in exc.value.message
    assert "similar: acme" in (exc.value.hint or "")


def test_select_no_match(service: InventoryService) -> None:
    flt = AssetFilter(clients=("beta",), roles=("switch",))
    with pytest.raises(NoMatchError) as exc:
        service.select(flt)
    assert exc.value.exit_code == ExitCode.NO_MATCH == 5
    assert "client=beta role=switch" in exc.value.message
    assert service.select(flt, allow_empty=True).assets == []


def test_show_ambiguous_name(service: InventoryService, source: FakeSource) -> None:
    with pytest.raises(UnknownDeviceError) as exc:
        service.show("rtr1", None)
    assert exc.value.code == "MSP-INV-409"
    assert "2 assets" in exc.value.message
    assert "--client" in (exc.value.hint or "")
    assert source.called("fetch_asset") == []


def test_show_unknown_name(service: InventoryService) -> None:
    with pytest.raises(UnknownDeviceError) as exc:
        service.show("nope", "beta")
    assert exc.value.code == "MSP-INV-405"
    assert "'beta'" in exc.value.message


def test_show_with_client_fetches_details_and_caches_the_list_record(
        service: InventoryService, source: FakeSource, cache: InventoryCache) -> None:
    asset = service.show("rtr1", "gamma")
    assert (asset.client, asset.config_context) == ("gamma", {"ntp": ["192.0.2.123"]})
    assert source.called("fetch_asset") == [("device", "rtr1", "gamma")]
    cached = [a for a in cache.assets() if a.client == "gamma"]
    # the record is refreshed, but without the context: exports stay the same whatever was shown
    assert cached[0].name == "rtr1" and cached[0].config_context is None


def test_render_cache_reuses_output_until_the_inventory_changes(
        service: InventoryService, source: FakeSource, cache: InventoryCache, initial: list[Asset]) -> None:
    calls: list[int] = []

    def build(assets: list[Asset]) -> str:
        calls.append(len(assets))
        return ",".join(a.name for a in assets)

    flt = AssetFilter(clients=("acme",))
    first = service.render_cached(flt, "k", build)
    assert service.render_cached(flt, "k", build)[0] == first[0]
    assert len(calls) == 1  # the second call was served from the render cache
    assert service.render_cached(flt, "other-key", build)[0] == first[0] and len(calls) == 2
    service.ttl = 0
    service.render_cached(flt, "k", build)  # a delta with no change keeps the stored render
    assert len(calls) == 2
    source.upsert(replace(initial[0], name="acme-rtr9"))
    text, count, evidence = service.render_cached(flt, "k", build)
    assert len(calls) == 3 and "acme-rtr9" in text and evidence.source == "cache-delta" and count == 3


def test_show_offline_returns_the_cached_record(service: InventoryService, source: FakeSource) -> None:
    asset = service.show("acme-rtr1", None, mode="offline")
    assert (asset.name, asset.tags, asset.custom_fields) == ("acme-rtr1", ("pci",), {"contract": "gold"})
    assert source.calls == []


# -- one cache per token; tenants re-read; private files ----------------------------------------

def test_each_token_has_a_cache_of_its_own_named_without_the_token(tmp_path: Path, initial: list[Asset]) -> None:
    import os
    import stat

    admin = InventoryCache(tmp_path / "cache", URL, "nbt_admin.SECRET1")
    limited = InventoryCache(tmp_path / "cache", URL, "nbt_limited.SECRET2")
    bogus = InventoryCache(tmp_path / "cache", URL, "nbt_bogus.AAAA")
    try:
        admin.replace_all(initial, CLIENTS, "T1")
        limited.replace_all([a for a in initial if a.client == "beta"], [CLIENTS[1]], "T1")
        assert len({admin.path, limited.path, bogus.path}) == 3
        assert bogus.state() is None and bogus.assets() == []  # a bogus token sees nothing cached
        assert admin.counts() == {"device": 4, "vm": 1}  # the limited token's view did not touch it
        for c in (admin, limited, bogus):
            assert "SECRET" not in c.path.name and "nbt_" not in c.path.name
            assert b"SECRET" not in c.path.read_bytes()
            assert stat.S_IMODE(os.stat(c.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
        assert admin.path.name.split("-")[0] == bogus.path.name.split("-")[0]  # one URL, two identities
    finally:
        for c in (admin, limited, bogus):
            c.close()


def test_every_delta_re_reads_the_tenants(source: FakeSource, cache: InventoryCache) -> None:
    svc = InventoryService(source, cache, ttl=0)
    svc.load("refresh")
    source._clients[0] = Client("acme", "Acme Corporation (renamed)", device_count=2, vm_count=1)
    generation = cache.generation
    source.calls.clear()
    svc.load("auto")
    assert source.called("clients") == [None]
    assert {c.slug: c.name for c in cache.clients()}["acme"] == "Acme Corporation (renamed)"
    assert cache.generation > generation  # renders built from the old name are not reused
    generation = cache.generation
    svc.load("auto")
    assert cache.generation == generation  # nothing changed: the render cache stays warm


def test_a_tenant_whose_slug_changed_is_read_again_in_full(source: FakeSource, cache: InventoryCache,
                                                           initial: list[Asset]) -> None:
    svc = InventoryService(source, cache, ttl=0)
    svc.load("refresh")
    # NetBox renames the slug; its devices' own last_updated does not move
    source._clients[1] = Client("beta-corp", "Beta")
    for key, a in list(source._assets.items()):
        if a.client == "beta":
            source._assets[key] = replace(a, client="beta-corp")
    source.calls.clear()
    inv = svc.load("auto")
    assert source.called("fetch_assets") == [None]
    assert "rtr1@beta-corp" in names(inv.assets) and "rtr1@beta" not in names(inv.assets)


def test_records_and_window_state_are_private(tmp_path: Path) -> None:
    import os
    import stat

    from mspctl.patch.window import WindowLock
    from mspctl.records import RecordStore

    store = RecordStore(tmp_path / "records" / "records.sqlite")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.path.parent).st_mode) == 0o700
    lock = WindowLock(tmp_path / "windows", "acme")
    lock.acquire()
    try:
        assert stat.S_IMODE(os.stat(lock.lock_path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(lock.lock_path.parent).st_mode) == 0o700
    finally:
        lock.release()


def test_the_backups_repository_is_private(tmp_path: Path) -> None:
    import os
    import stat

    from mspctl.adapters.git import GitRepo

    repo = GitRepo(tmp_path / "backups")
    repo.ensure()
    (repo.path / "acme").mkdir()
    (repo.path / "acme" / "r1.cfg").write_text("hostname r1\n")
    repo.commit_paths(["acme/r1.cfg"], "backup")
    assert stat.S_IMODE(os.stat(repo.path).st_mode) == 0o700
    objects = [p for p in (repo.path / ".git" / "objects").rglob("*") if p.is_file()]
    assert objects and all(stat.S_IMODE(os.stat(p).st_mode) & 0o077 == 0 for p in objects)


def test_device_runs_see_one_canonical_platform_and_the_names_shared_in_a_client(
        make_asset: MakeAsset, cache: InventoryCache) -> None:
    from mspctl.devices import network_devices
    from mspctl.drift.features import Feature

    assets = [make_asset("edge", id=1, platform="cisco-ios", status="active"),
              make_asset("edge", id=2, platform="Cisco IOS", status="active", site="plant"),
              make_asset("core", id=3, platform="eos", status="active"),
              make_asset("pdu", id=4, platform=None, status="active")]
    svc = InventoryService(FakeSource(assets, [Client("acme", "Acme")]), cache, ttl=3600)
    devices = network_devices(svc, AssetFilter(clients=("acme",)))
    assert {a.id: a.platform for a in devices} == {1: "cisco_ios", 2: "cisco_ios", 3: "arista_eos"}
    ios_only = Feature("ntp", platforms=("cisco_ios",), lines=("ntp server ",))
    assert [a.id for a in devices if ios_only.applies_to(a)] == [1, 2]  # NetBox's slugs, one feature set
    assert svc.shared_in_client() == frozenset({"device:1", "device:2"})
