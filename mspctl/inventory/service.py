"""The inventory service: fresh-enough assets from the cache, NetBox, or a delta of both.

Modes:

- ``auto``: serve the cache while it is younger than the TTL; past it, ask NetBox only for
  what changed since the last sync (``last_updated__gte``) and reconcile deletions;
- ``refresh``: a full read from NetBox;
- ``offline``: the cache only, never NetBox (an error if there is none).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from mspctl.adapters.cache import InventoryCache
from mspctl.errors import NoMatchError, OfflineCacheMissError, UnknownClientError, UnknownDeviceError
from mspctl.escape import spellings
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.names import find, inventory_names
from mspctl.model import Asset, AssetKind, Client, ClientSettings, DeviceDetails, Evidence, Inventory, ProgressFn
from mspctl.settings import Settings

Mode = Literal["auto", "refresh", "offline"]


class InventorySource(Protocol):
    """An inventory source plugin (entry point group ``mspctl.inventory_sources``)."""

    name: str
    url: str

    def clients(self) -> list[Client]: ...

    def fetch_assets(self, since: str | None = None,
                     progress: ProgressFn | None = None) -> tuple[list[Asset], str]:
        """Every asset, plus a sync mark: the source's clock at the start, as `fetch_changes` takes it."""
        ...

    def fetch_changes(self, since: str) -> tuple[list[Asset], dict[str, int], str]:
        """Assets changed at or after `since`, the current count per kind, and the next sync mark."""
        ...

    def asset_ids(self) -> set[tuple[str, int]]: ...

    def fetch_asset(self, kind: AssetKind, name: str, client: str | None = None,
                    object_id: int | None = None) -> Asset: ...

    def fetch_device_details(self, device_ids: list[int]) -> dict[int, DeviceDetails]:
        """Merged config context and interfaces (with addresses) per device id."""
        ...

    def fetch_config_templates(self, device_ids: list[int]) -> dict[int, tuple[str, str, int]]:
        """Each device's assigned config template (device, else role, else platform): (name, code, id)."""
        ...

    def fetch_config_contexts(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
        """Merged config contexts by (kind, id)."""
        ...


def _ordered(assets: list[Asset]) -> list[Asset]:
    """The one order every output uses, whatever path the data took: client, then name."""
    return sorted(assets, key=lambda a: (a.client or "", a.name, a.kind, a.id))


class InventoryService:
    def __init__(self, source: InventorySource | Callable[[], InventorySource] | None, cache: InventoryCache,
                 ttl: int,
                 client_settings: Sequence[ClientSettings] | Callable[[], Sequence[ClientSettings]] = ()) -> None:
        """`source` may be a factory: the source (its plugin) is then loaded only when NetBox is
        needed, not for a run the cache answers. `client_settings` may be a loader: clients.yml
        is then read only when a command needs it."""
        self._source = source
        self.cache = cache
        self.ttl = ttl
        self._client_settings = client_settings
        self._by_tenant: dict[str, ClientSettings] | None = None
        # The whole inventory as last loaded, and its inventory names (computed when first asked:
        # one pass per load, never per asset).
        self._universe: list[Asset] | None = None
        self._names: dict[str, str] | None = None

    @property
    def client_settings(self) -> dict[str, ClientSettings]:
        if self._by_tenant is None:
            loaded = self._client_settings() if callable(self._client_settings) else self._client_settings
            self._by_tenant = {c.tenant: c for c in loaded}
        return self._by_tenant

    @property
    def source(self) -> InventorySource | None:
        if self._source is not None and not hasattr(self._source, "fetch_assets"):
            self._source = self._source()
        return self._source  # type: ignore[return-value]

    def _require_source(self) -> InventorySource:
        if self.source is None:
            raise OfflineCacheMissError("NetBox is needed but --offline was given")
        return self.source

    def load(self, mode: Mode = "auto", progress: ProgressFn | None = None) -> Inventory:
        inv = self.sync(mode, progress)
        if not inv.assets:
            inv.assets = _ordered(self.cache.assets())
        self._loaded(inv.assets)
        return inv

    def _loaded(self, assets: list[Asset]) -> None:
        if assets is not self._universe:
            self._universe, self._names = assets, None

    def names(self, mode: Mode = "auto") -> dict[str, str]:
        """Every asset's inventory name (mspctl.inventory.names) by asset key (`kind:id`), decided
        over the whole inventory as last loaded (loaded now if it was not), so a name does not
        depend on a filter. Computed once per load."""
        if self._universe is None:
            self.load(mode)
        if self._names is None:
            self._names = inventory_names(self._universe or [])
        return self._names

    def shared_in_client(self, mode: Mode = "auto") -> frozenset[str]:
        """The keys of the assets whose NetBox name another asset of the same client also has
        (NetBox allows it across sites), over the whole inventory as last loaded: such assets
        need more than a name wherever a name alone would be their identity (a backup file)."""
        if self._universe is None:
            self.load(mode)
        seen = Counter((a.name, a.client) for a in self._universe or [])
        return frozenset(a.key for a in self._universe or [] if seen[(a.name, a.client)] > 1)

    def sync(self, mode: Mode = "auto", progress: ProgressFn | None = None) -> Inventory:
        """Bring the cache up to date as `mode` says. The returned Inventory carries the evidence;
        its assets are filled only when they were just fetched in full (else: read the cache)."""
        if mode == "refresh":
            self.cache.rebuild_if_corrupt()  # a corrupt cache (MSP-CACHE-422) is moved aside and read anew
        state = self.cache.state()
        now = time.time()
        if mode == "offline":
            if state is None:
                raise OfflineCacheMissError(f"no cached inventory in {self.cache.path}",
                                            hint="run once without --offline to fill the cache")
            return self._cached("cache", state.synced_at)
        if mode == "auto" and state is not None and now - state.synced_at < self.ttl:
            return self._cached("cache", state.synced_at)
        source = self._require_source()
        if mode == "auto" and state is not None:
            return self._delta(source, state.since)
        assets, started = source.fetch_assets(None, progress)
        self.cache.replace_all(assets, source.clients(), started)
        return Inventory(_ordered(assets), Evidence("netbox", datetime.now(UTC), 0.0), changed=len(assets))

    def render_cached(self, flt: AssetFilter, key: str, build: Callable[[list[Asset]], str],
                      mode: Mode = "auto", progress: ProgressFn | None = None,
                      reuse: bool = True) -> tuple[str, int, Evidence]:
        """`build(selected assets)`, reused while neither the cache nor `key` changed: a warm export
        with nothing new in NetBox skips decoding and rendering thousands of records."""
        inv = self.sync(mode, progress)
        flt = self._resolved(flt)
        full_key = f"{key}|{flt.describe()}"
        hit = None if inv.assets or not reuse else self.cache.get_render(full_key)
        if hit is not None:
            return hit[1], hit[0], inv.evidence
        assets = inv.assets or _ordered(self.cache.assets())
        self._loaded(assets)
        selected = flt.apply(assets, self.names(mode) if flt.limits else None)
        if not selected:
            raise NoMatchError(f"no device or VM matches {flt.describe()}",
                               hint="loosen the filter; `mspctl inventory list --all-clients` shows everything")
        body = build(selected)
        if reuse:
            self.cache.put_render(full_key, len(selected), body)
        return body, len(selected), inv.evidence

    def _delta(self, source: InventorySource, since: str) -> Inventory:
        changed, counts, started = source.fetch_changes(since)
        known = self.cache.ids()
        new = [a for a in changed if (a.kind, a.id) not in known]
        cached = self.cache.counts()
        expected = {k: cached.get(k, 0) + sum(1 for a in new if a.kind == k) for k in counts}
        removed: set[tuple[str, int]] = set()
        if new or expected != counts:
            # Creations can hide deletions in the counts, so reconcile by id.
            removed = (known | {(a.kind, a.id) for a in new}) - source.asset_ids()
        # Tenants are few: read on every sync, so a renamed one shows at once. A slug that is gone
        # (renamed or deleted) is still on its assets, whose last_updated NetBox leaves alone: read all.
        clients = source.clients()
        if {c.slug for c in self.cache.clients()} - {c.slug for c in clients}:
            assets, started = source.fetch_assets(None, None)
            self.cache.replace_all(assets, clients, started)
            return Inventory(_ordered(assets), Evidence("netbox", datetime.now(UTC), 0.0), changed=len(assets))
        self.cache.apply_delta(changed, removed, clients, started)
        inv = self._cached("cache-delta", time.time())
        inv.changed, inv.removed = len(changed), len(removed)
        return inv

    def _cached(self, source: Literal["cache", "cache-delta"], synced_at: float) -> Inventory:
        fetched = datetime.fromtimestamp(synced_at, UTC)
        return Inventory([], Evidence(source, fetched, max(0.0, time.time() - synced_at)))

    # -- clients ------------------------------------------------------------------------------
    def clients(self, mode: Mode = "auto") -> list[Client]:
        self.sync(mode)  # the cache's tenants are enough: its assets are not decoded for this
        out = []
        for c in self.cache.clients():
            settings = self.client_settings.get(c.slug)
            out.append(Client(c.slug, c.name, c.group, c.device_count, c.vm_count, c.custom_fields, settings))
        return out

    def resolve_clients(self, names: Sequence[str], known: Sequence[Client]) -> tuple[str, ...]:
        """Map CLI client names (tenant slugs, or keys of clients.yml) to tenant slugs."""
        slugs = {c.slug for c in known}
        by_key = {s.key: s.tenant for s in self.client_settings.values()}
        out = []
        for name in names:
            tenant = by_key.get(name, name)
            if tenant not in slugs:
                close = sorted(s for s in slugs if name[:3] in s)[:5]
                similar = f"; similar: {', '.join(close)}" if close else ""
                raise UnknownClientError(f"unknown client {name!r}: no NetBox tenant with that slug",
                                         hint=f"see `mspctl clients`{similar}")
            out.append(tenant)
        return tuple(out)

    # -- selection ------------------------------------------------------------------------------
    def select(self, flt: AssetFilter, mode: Mode = "auto", progress: ProgressFn | None = None,
               allow_empty: bool = False) -> Inventory:
        """Load, then filter. Raises UnknownClientError for a client NetBox does not have, and
        NoMatchError when the filter selects nothing (unless `allow_empty`)."""
        inv = self.load(mode, progress)
        flt = self._resolved(flt)
        selected = flt.apply(inv.assets, self.names(mode) if flt.limits else None)
        if not selected and not allow_empty:
            raise NoMatchError(f"no device or VM matches {flt.describe()}",
                               hint="loosen the filter; `mspctl inventory list --all-clients` shows everything")
        return Inventory(selected, inv.evidence, inv.changed, inv.removed)

    def details(self, assets: Sequence[Asset]) -> dict[int, DeviceDetails]:
        """Rendering data of devices, always live from the source (config contexts change often)."""
        return self._require_source().fetch_device_details([a.id for a in assets if a.kind == "device"])

    def with_config_contexts(self, assets: Sequence[Asset]) -> list[Asset]:
        """`assets` with their merged config contexts, read live from the source."""
        contexts = self._require_source().fetch_config_contexts([(a.kind, a.id) for a in assets])
        return [replace(a, config_context=contexts.get((a.kind, a.id), {})) for a in assets]

    def config_templates(self, assets: Sequence[Asset]) -> dict[int, tuple[str, str, int]]:
        return self._require_source().fetch_config_templates([a.id for a in assets if a.kind == "device"])

    def clients_by_slug(self, mode: Mode = "auto") -> dict[str, Client]:
        return {c.slug: c for c in self.clients(mode)}

    def _resolved(self, flt: AssetFilter) -> AssetFilter:
        """`flt` with its client names resolved to tenant slugs (clients.yml names allowed)."""
        if not flt.clients:
            return flt
        return replace(flt, clients=self.resolve_clients(flt.clients, self.cache.clients()))

    def show(self, name: str | None, client: str | None, mode: Mode = "auto", *, printed: bool = False,
             object_id: int | None = None, kind: AssetKind | None = None) -> Asset:
        """One asset's full record; with NetBox reachable, its merged config context too.

        `name` is any name mspctl prints for an asset: its inventory name (``rtr1@acme``,
        ``patch-panel@acme#91``, ``device-74``; mspctl.inventory.names), its NetBox name, or its
        NetBox object ``kind:id`` (``device:74``). `object_id` (with `kind`, else either kind)
        picks it by NetBox id instead. `printed`: `name` may be spelled as mspctl's table output
        shows it (control characters escaped, see mspctl.escape); that reading is tried first,
        then `name` as given. Raises UnknownDeviceError (MSP-INV-405 none, MSP-INV-409 several).
        """
        inv = self.load(mode)
        names = self.names(mode)
        matches: list[Asset] = []
        if object_id is not None:
            matches = [a for a in inv.assets if a.id == object_id and (kind is None or a.kind == kind)
                       and (client is None or a.client == client)]
            what = f"{kind or 'device or VM'} with id {object_id}"
        else:
            what = f"device or VM named {name!r}"
            for candidate in spellings(name or "") if printed else [name or ""]:
                matches = find(inv.assets, names, candidate, client)
                if matches:
                    break
        if not matches:
            raise UnknownDeviceError(f"no {what}" + (f" for client {client!r}" if client else ""),
                                     hint="see `mspctl inventory list`")
        if len(matches) > 1:
            shown = ", ".join(names.get(a.key, a.name) for a in matches[:5])
            raise UnknownDeviceError(f"{len(matches)} assets match: {what}",
                                     hint=f"give one of their inventory names ({shown}), or --client, or --kind",
                                     code="MSP-INV-409")
        asset = matches[0]
        if mode != "offline":
            detailed = self._require_source().fetch_asset(asset.kind, asset.name, asset.client, asset.id)
            self.cache.put_asset(replace(detailed, config_context=None))  # the cache holds list records
            return detailed
        return asset


def open_inventory(settings: Settings, *, offline: bool = False) -> InventoryService:
    """Wire the service from settings: the NetBox source (unless offline), the cache, clients.yml."""
    def load_clients_file(path: Path) -> list[ClientSettings]:
        from mspctl.repo import load_clients_file as load  # defers yaml: a warm export needs none

        return load(path)

    url = settings.netbox.url
    if not url:
        from mspctl.errors import ConfigError

        raise ConfigError("no NetBox URL configured",
                          hint="set NETBOX_API, --netbox-url, or [netbox] url in mspctl.toml")
    if not offline and not settings.netbox.token:  # said at once, as when the source was built here
        from mspctl.errors import ConfigError

        raise ConfigError("no NetBox API token configured",
                          hint="set NETBOX_TOKEN, --netbox-token, or [netbox] token in mspctl.toml")

    def source() -> InventorySource:  # the `mspctl.inventory_sources` plugin, loaded when NetBox is needed
        from mspctl.plugins import INVENTORY_SOURCES

        return INVENTORY_SOURCES.get("netbox")(settings.netbox)  # type: ignore[no-any-return]

    cache = InventoryCache(settings.cache.path, url, settings.netbox.token)
    return InventoryService(None if offline else source, cache, settings.cache.ttl,
                            lambda: load_clients_file(settings.clients_path))
