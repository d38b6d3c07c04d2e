"""Stable inventory names: one printable, unique name per asset that can always be given back.

NetBox allows one name in two tenants (and in one tenant at two sites), devices without a name,
and devices without a tenant. mspctl prints every asset under one inventory name, decided over
the whole inventory (never over a filtered selection, so a name does not change with the filter):

- the NetBox name, when no other asset in the inventory has it;
- ``name@client`` when the name is used by assets of several clients (``no-client`` for an asset
  without a tenant);
- ``name@client#id`` when it is used twice within one client (``name@client#vm-12`` in the rare
  case a device and a VM of one client share name and id);
- an unnamed asset is ``device-<id>`` / ``vm-<id>`` (as the NetBox adapter names it).

A name that would still collide (a device literally named ``rtr1@acme``) takes the next form,
until every name is unique. ``kind:id`` (``device:74``, ``vm:12``) names any asset as well.

`inventory_names` is one pass over the inventory; the service computes it once per load.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from mspctl.model import Asset, AssetKind

NO_CLIENT = "no-client"
_KEY = re.compile(r"^(device|vm):([0-9]+)$")
_MOST = 3  # the most specific form: name@client#kind-id


def parse_key(text: str) -> tuple[AssetKind, int] | None:
    """``device:74`` -> ("device", 74); None for anything else."""
    m = _KEY.match(text)
    if m is None:
        return None
    kind: AssetKind = "device" if m.group(1) == "device" else "vm"
    return kind, int(m.group(2))


def is_key(text: str) -> bool:
    return _KEY.match(text) is not None


def _base(asset: Asset) -> str:
    return asset.name or f"{asset.kind}-{asset.id}"


def _form(asset: Asset, level: int) -> str:
    base = _base(asset)
    if level == 0:
        return base
    at = f"{base}@{asset.client or NO_CLIENT}"
    if level == 1:
        return at
    return f"{at}#{asset.id}" if level == 2 else f"{at}#{asset.kind}-{asset.id}"


def inventory_names(assets: Iterable[Asset]) -> dict[str, str]:
    """Asset key (``kind:id``) -> its inventory name, unique over `assets` (pass the whole
    inventory: the names of a filtered subset would depend on the filter)."""
    items = list(assets)
    by_name = Counter(_base(a) for a in items)
    by_client = Counter((_base(a), a.client) for a in items)
    by_id = Counter((_base(a), a.client, a.id) for a in items)
    level: dict[str, int] = {}
    for a in items:
        base = _base(a)
        if by_name[base] == 1:
            level[a.key] = 0
        elif by_client[(base, a.client)] == 1:
            level[a.key] = 1
        else:
            level[a.key] = 2 if by_id[(base, a.client, a.id)] == 1 else _MOST
    names = {a.key: _form(a, level[a.key]) for a in items}
    while True:  # a made-up name equal to another asset's own name: both take a more specific form
        used = Counter(names.values())
        bumped = [a for a in items if used[names[a.key]] > 1 and level[a.key] < _MOST]
        if not bumped:
            return names
        for a in bumped:
            level[a.key] += 1
            names[a.key] = _form(a, level[a.key])


def find(assets: Sequence[Asset], names: Mapping[str, str], text: str, client: str | None = None) -> list[Asset]:
    """The assets `text` names: ``kind:id``, else an inventory name, else a NetBox name (which may
    name several). `client` narrows the NetBox-name and kind:id readings."""
    key = parse_key(text)
    if key is not None:
        wanted = f"{key[0]}:{key[1]}"
        return [a for a in assets if a.key == wanted and (client is None or a.client == client)]
    exact = [a for a in assets if names.get(a.key) == text and (client is None or a.client == client)]
    if exact:
        return exact
    return [a for a in assets if a.name == text and (client is None or a.client == client)]
