"""mspctl/inventory/names.py: stable inventory names, decided over the whole inventory, and every
name mspctl prints given back to it (`inventory show`, `--id`, `kind:id`, `-l`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mspctl.adapters.cache import InventoryCache
from mspctl.cli.inventory import build_filter
from mspctl.errors import UnknownDeviceError
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.names import find, inventory_names, parse_key
from mspctl.inventory.service import InventoryService
from mspctl.model import Asset, Client

MakeAsset = Callable[..., Asset]
URL = "https://netbox.example.net"


@pytest.fixture
def messy(make_asset: MakeAsset) -> list[Asset]:
    """What a NetBox nobody here wrote holds (issue 9, section 8)."""
    return [
        make_asset("rtr1", id=1),
        make_asset("rtr1", id=2, client="beta"),                        # one name, two clients
        make_asset("patch-panel", id=90, client="beta", site="hq"),     # one name, three times in one client
        make_asset("patch-panel", id=91, client="beta", site="wh"),
        make_asset("patch-panel", id=92, client="beta", site="lab"),
        make_asset("patch-panel", id=93, client=None),                  # and once without a tenant
        make_asset("device-74", id=74, client="beta"),                  # unnamed (the adapter's name)
        make_asset("spare-sw1", id=75, client=None),                    # no tenant
        make_asset("web1", id=12, kind="vm"),
        make_asset("twin", id=5, client="gamma"),                       # a device and a VM, one name and id
        make_asset("twin", id=5, client="gamma", kind="vm"),
        make_asset("rtr1@beta", id=300, client="delta"),                # a real name that looks made up
    ]


EXPECTED = {
    # rtr1's made-up "rtr1@beta" is also a real name (device 300): both take the next form
    "device:1": "rtr1@acme", "device:2": "rtr1@beta#2",
    "device:90": "patch-panel@beta#90", "device:91": "patch-panel@beta#91", "device:92": "patch-panel@beta#92",
    "device:93": "patch-panel@no-client", "device:74": "device-74", "device:75": "spare-sw1", "vm:12": "web1",
    "device:5": "twin@gamma#device-5", "vm:5": "twin@gamma#vm-5",
    "device:300": "rtr1@beta@delta",
}


def test_names_follow_the_rules_and_are_unique(messy: list[Asset]) -> None:
    names = inventory_names(messy)
    assert names == EXPECTED
    assert len(set(names.values())) == len(messy)


def test_names_do_not_depend_on_order_or_on_a_filter(messy: list[Asset]) -> None:
    whole = inventory_names(messy)
    assert inventory_names(list(reversed(messy))) == whole
    # what a filtered export shows is the whole inventory's name of each asset, not a subset's
    beta = AssetFilter(clients=("beta",)).apply(messy)
    assert [whole[a.key] for a in beta] == ["rtr1@beta#2", "patch-panel@beta#90", "patch-panel@beta#91",
                                            "patch-panel@beta#92", "device-74"]
    # decided over the subset alone, rtr1 would be plain "rtr1" here and "rtr1@beta#2" elsewhere
    assert inventory_names(beta)["device:2"] == "rtr1" != whole["device:2"]


def test_an_unnamed_asset_is_named_by_its_object(make_asset: MakeAsset) -> None:
    assert inventory_names([make_asset("", id=7), make_asset("", id=8, kind="vm")]) == {
        "device:7": "device-7", "vm:8": "vm-8"}


def test_a_unique_name_is_the_netbox_name(make_asset: MakeAsset) -> None:
    assert inventory_names([make_asset("a", id=1), make_asset("b", id=2, client="beta")]) == {
        "device:1": "a", "device:2": "b"}


@pytest.mark.parametrize(("text", "key"), [("device:74", ("device", 74)), ("vm:12", ("vm", 12)),
                                          ("device:", None), ("host:1", None), ("device:7x", None), ("rtr1", None)])
def test_parse_key(text: str, key: tuple[str, int] | None) -> None:
    assert parse_key(text) == key


def test_find_reads_kind_id_then_inventory_names_then_netbox_names(messy: list[Asset]) -> None:
    names = inventory_names(messy)
    by_key = {a.key: a for a in messy}
    for key, name in names.items():
        assert find(messy, names, name) == [by_key[key]], name  # every printed name picks its asset
        assert find(messy, names, key) == [by_key[key]], key
    assert len(find(messy, names, "patch-panel")) == 4  # a NetBox name may name several
    assert find(messy, names, "patch-panel", client=None) == find(messy, names, "patch-panel")
    assert [a.id for a in find(messy, names, "patch-panel", client="beta")] == [90, 91, 92]
    assert find(messy, names, "rtr1@beta") == [by_key["device:300"]]  # the real name, once no made-up one has it
    assert find(messy, names, "nothing") == []


# -- --limit ------------------------------------------------------------------------------------

def test_every_inventory_name_and_key_selects_exactly_its_asset_through_limit(messy: list[Asset]) -> None:
    names = inventory_names(messy)
    for key, name in names.items():
        assert [a.key for a in AssetFilter(limit=name).apply(messy, names)] == [key], name
        assert [a.key for a in AssetFilter(limit=key).apply(messy, names)] == [key], key


def test_kind_id_terms_are_one_term_among_others(messy: list[Asset]) -> None:
    names = inventory_names(messy)

    def keys(pattern: str | tuple[str, ...]) -> list[str]:
        return [a.key for a in AssetFilter(limit=pattern).apply(messy, names)]

    assert keys("device:74:vm:12") == ["device:74", "vm:12"]
    assert keys("device:74,vm:12") == ["device:74", "vm:12"]
    assert keys("client_beta,!device:90:!device:91") == ["device:2", "device:92", "device:74"]
    assert keys("patch-panel,&device:93") == ["device:93"]
    assert keys("spare-sw1:device:1") == ["device:1", "device:75"]


def test_a_repeated_limit_is_the_union_of_its_patterns(messy: list[Asset]) -> None:
    names = inventory_names(messy)
    flt = AssetFilter(limit=("rtr1@acme", "client_beta,&patch-panel*"))
    assert [a.key for a in flt.apply(messy, names)] == ["device:1", "device:90", "device:91", "device:92"]
    assert flt.describe() == "limit=rtr1@acme limit=client_beta,&patch-panel*"
    # each pattern is its own: the & of the second does not narrow the first
    assert AssetFilter(limit=("rtr1@acme",)).describe() == AssetFilter(limit="rtr1@acme").describe()


def test_build_filter_keeps_every_limit_given() -> None:
    one = build_filter(("acme",), False, (), (), (), (), (), (), ("a",))
    two = build_filter(("acme",), False, (), (), (), (), (), (), ("a", "b"))
    none = build_filter(("acme",), False, (), (), (), (), (), (), ())
    assert (one.limits, two.limits, none.limits) == (("a",), ("a", "b"), ())
    assert one.limit == "a"  # a single -l reads (and caches renders) as before


def test_the_cli_takes_limit_more_than_once() -> None:
    from mspctl.cli import main

    res = CliRunner().invoke(main, ["inventory", "list", "--help"])
    assert res.exit_code == 0 and "Repeatable" in res.output and "device:ID" in res.output


# -- the service: names once per load, `show` by any name or id ------------------------------------

@pytest.fixture
def offline(tmp_path: Path, messy: list[Asset]) -> Iterator[InventoryService]:
    cache = InventoryCache(tmp_path / "cache", URL)
    clients = [Client(s, s.title()) for s in ("acme", "beta", "gamma", "delta")]
    cache.replace_all(messy, clients, "2026-12-01T00:00:00Z")
    yield InventoryService(None, cache, ttl=3600)
    cache.close()


def test_show_accepts_every_printed_name_its_key_and_its_id(offline: InventoryService) -> None:
    names = offline.names("offline")
    assert names == EXPECTED
    for key, name in names.items():
        kind, object_id = parse_key(key) or ("device", 0)
        for given in (name, key):
            assert offline.show(given, None, "offline", printed=True).key == key, given
        assert offline.show(None, None, "offline", object_id=object_id, kind=kind).key == key
    assert offline.show(None, None, "offline", object_id=74).key == "device:74"  # one kind has the id


def test_show_by_an_ambiguous_name_or_id_names_the_choices(offline: InventoryService) -> None:
    with pytest.raises(UnknownDeviceError) as exc:
        offline.show("patch-panel", None, "offline")
    assert exc.value.code == "MSP-INV-409"
    assert "patch-panel@beta#90" in (exc.value.hint or "") and "patch-panel@no-client" in (exc.value.hint or "")
    with pytest.raises(UnknownDeviceError) as by_id:
        offline.show(None, None, "offline", object_id=5)  # device 5 and VM 5
    assert by_id.value.code == "MSP-INV-409" and "--kind" in (by_id.value.hint or "")
    with pytest.raises(UnknownDeviceError) as missing:
        offline.show(None, None, "offline", object_id=4040)
    assert missing.value.code == "MSP-INV-405"


def test_names_are_computed_once_per_load(offline: InventoryService, monkeypatch: pytest.MonkeyPatch) -> None:
    import mspctl.inventory.service as service_module

    calls: list[int] = []
    real = service_module.inventory_names

    def counting(assets: list[Asset]) -> dict[str, str]:
        calls.append(len(assets))
        return real(assets)

    monkeypatch.setattr(service_module, "inventory_names", counting)
    offline.select(AssetFilter(clients=("beta",)), "offline")
    assert calls == []  # no --limit, nothing printed yet: no names needed
    flt = AssetFilter(limit="patch-panel@beta#91")
    assert [a.id for a in offline.select(flt, "offline").assets] == [91]
    offline.names("offline")
    offline.names("offline")
    assert calls == [12]  # one pass over the whole inventory, not one per asset or per call
    offline.select(flt, "offline")  # a new load: computed again, once
    assert calls == [12, 12]


def test_inventory_list_json_and_export_carry_the_inventory_names(tmp_path: Path, messy: list[Asset],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.cli import main

    cache_dir = tmp_path / "cache"
    cache = InventoryCache(cache_dir, URL)
    cache.replace_all(messy, [Client(s, s.title()) for s in ("acme", "beta", "gamma", "delta")],
                      "2026-12-01T00:00:00Z")
    cache.close()
    env = {"NETBOX_API": URL, "MSPCTL_CACHE_PATH": str(cache_dir)}
    listed = CliRunner().invoke(main, ["--offline", "inventory", "list", "-c", "beta", "-o", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    shown = {a["inventory_name"]: a["id"] for a in json.loads(listed.stdout)["assets"]}
    assert shown == {"rtr1@beta#2": 2, "patch-panel@beta#90": 90, "patch-panel@beta#91": 91,
                     "patch-panel@beta#92": 92, "device-74": 74}
    exported = CliRunner().invoke(main, ["--offline", "inventory", "export", "-c", "beta", "-l", "patch-panel*"],
                                  env=env)
    assert exported.exit_code == 0, exported.output
    hosts = json.loads(exported.stdout)["_meta"]["hostvars"]
    assert sorted(hosts) == ["patch-panel@beta#90", "patch-panel@beta#91", "patch-panel@beta#92"]
    table = CliRunner().invoke(main, ["--offline", "inventory", "list", "-c", "beta"], env=env)
    assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == list(shown)
