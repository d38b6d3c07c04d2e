"""mspctl/inventory/filters.py: attribute filters and Ansible-style --limit patterns."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mspctl.errors import ExitCode, InvalidFilterError
from mspctl.inventory.filters import AssetFilter, LimitPattern
from mspctl.model import Asset

MakeAsset = Callable[..., Asset]


@pytest.fixture
def assets(make_asset: MakeAsset) -> list[Asset]:
    return [
        make_asset("acme-rtr1", site="acme-hq", role="router", platform="cisco_ios", status="active",
                   tags=("pci",)),
        make_asset("acme-sw1", site="acme-hq", role="switch", platform="arista_eos", status="active"),
        make_asset("acme-edge-rtr1", site="acme-dc", role="router", platform="juniper_junos", status="planned"),
        make_asset("acme-web1", kind="vm", site="acme-dc", role="server", platform="debian", status="active",
                   tags=("pci", "web")),
        make_asset("beta-rtr1", client="beta", site="beta-office", role="router", platform="cisco_ios",
                   status="active"),
        make_asset("beta-db1", client="beta", kind="vm", platform="ubuntu", status="offline", tags=("db",)),
    ]


ALL = {"acme-rtr1", "acme-sw1", "acme-edge-rtr1", "acme-web1", "beta-rtr1", "beta-db1"}


def names(flt: AssetFilter, assets: list[Asset]) -> set[str]:
    return {a.name for a in flt.apply(assets)}


def limit(pattern: str, assets: list[Asset]) -> set[str]:
    lp = LimitPattern.parse(pattern)
    return {a.name for a in assets if lp.matches(a)}


# -- AssetFilter ------------------------------------------------------------------------------

def test_empty_filter_matches_everything(assets: list[Asset]) -> None:
    flt = AssetFilter()
    assert names(flt, assets) == ALL
    assert flt.describe() == "(no filter)"


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"clients": ("beta",)}, {"beta-rtr1", "beta-db1"}),
    ({"sites": ("acme-hq",)}, {"acme-rtr1", "acme-sw1"}),
    ({"roles": ("router",)}, {"acme-rtr1", "acme-edge-rtr1", "beta-rtr1"}),
    ({"platforms": ("cisco_ios",)}, {"acme-rtr1", "beta-rtr1"}),
    ({"tags": ("pci",)}, {"acme-rtr1", "acme-web1"}),
    ({"statuses": ("planned",)}, {"acme-edge-rtr1"}),
    ({"kinds": ("vm",)}, {"acme-web1", "beta-db1"}),
    ({"limit": "acme-sw1"}, {"acme-sw1"}),
])
def test_each_attribute_narrows(assets: list[Asset], kwargs: dict[str, object], expected: set[str]) -> None:
    assert names(AssetFilter(**kwargs), assets) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"clients": ("acme", "beta"), "kinds": ("vm",)}, {"acme-web1", "beta-db1"}),
    ({"roles": ("router", "switch"), "clients": ("acme",)}, {"acme-rtr1", "acme-sw1", "acme-edge-rtr1"}),
    ({"tags": ("web", "db")}, {"acme-web1", "beta-db1"}),  # any of the tags
    ({"statuses": ("active",), "roles": ("router",), "clients": ("acme",)}, {"acme-rtr1"}),
    ({"clients": ("acme",), "limit": "*rtr1"}, {"acme-rtr1", "acme-edge-rtr1"}),
    ({"clients": ("beta",), "platforms": ("juniper_junos",)}, set()),
])
def test_values_within_a_field_or_and_fields_and(assets: list[Asset], kwargs: dict[str, object],
                                                 expected: set[str]) -> None:
    assert names(AssetFilter(**kwargs), assets) == expected  # type: ignore[arg-type]


def test_asset_without_the_attribute_does_not_match(assets: list[Asset]) -> None:
    # beta-db1 has no site or role: a site or role filter must exclude it, not crash.
    assert "beta-db1" not in names(AssetFilter(sites=("acme-hq", "acme-dc", "beta-office")), assets)
    assert "beta-db1" not in names(AssetFilter(roles=("router", "server", "switch")), assets)


def test_describe_lists_the_active_fields() -> None:
    flt = AssetFilter(clients=("acme", "beta"), kinds=("vm",), limit="web*")
    assert flt.describe() == "client=acme,beta kind=vm limit=web*"


@pytest.mark.parametrize(("kwargs", "bad"), [
    ({"statuses": ("active", "broken")}, "broken"),
    ({"kinds": ("server",)}, "server"),
])
def test_invalid_status_or_kind(kwargs: dict[str, object], bad: str) -> None:
    with pytest.raises(InvalidFilterError) as exc:
        AssetFilter(**kwargs)  # type: ignore[arg-type]
    assert exc.value.code == "MSP-INV-400"
    assert exc.value.exit_code == ExitCode.USAGE
    assert bad in exc.value.message
    assert exc.value.hint


def test_invalid_status_hint_lists_the_choices() -> None:
    with pytest.raises(InvalidFilterError) as exc:
        AssetFilter(statuses=("gone",))
    assert "active" in (exc.value.hint or "")
    assert "decommissioning" in (exc.value.hint or "")


def test_invalid_limit_fails_when_the_filter_is_built() -> None:
    with pytest.raises(InvalidFilterError):
        AssetFilter(limit="~(")


# -- LimitPattern -----------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "expected"), [
    ("acme-rtr1", {"acme-rtr1"}),
    ("no-such-host", set()),
    ("acme-*", {"acme-rtr1", "acme-sw1", "acme-edge-rtr1", "acme-web1"}),
    ("*-rtr1", {"acme-rtr1", "acme-edge-rtr1", "beta-rtr1"}),
    ("acme-?w1", {"acme-sw1"}),
    ("beta-[dr]*", {"beta-rtr1", "beta-db1"}),
    ("all", ALL),
    ("*", ALL),
])
def test_names_and_globs(assets: list[Asset], pattern: str, expected: set[str]) -> None:
    assert limit(pattern, assets) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("~^acme-(web|sw)", {"acme-web1", "acme-sw1"}),
    ("~rtr", {"acme-rtr1", "acme-edge-rtr1", "beta-rtr1"}),  # search, not fullmatch
    ("~^(?:acme|beta)-rtr1$", {"acme-rtr1", "beta-rtr1"}),  # ':' inside a regex is not a separator
    ("~^beta-(?P<x>db)1$", {"beta-db1"}),
    ("~^tag_", {"acme-rtr1", "acme-web1", "beta-db1"}),  # regexes also match group names
])
def test_regex_terms(assets: list[Asset], pattern: str, expected: set[str]) -> None:
    assert limit(pattern, assets) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("client_acme", {"acme-rtr1", "acme-sw1", "acme-edge-rtr1", "acme-web1"}),
    ("role_router", {"acme-rtr1", "acme-edge-rtr1", "beta-rtr1"}),
    ("tag_pci", {"acme-rtr1", "acme-web1"}),
    ("site_acme_hq", {"acme-rtr1", "acme-sw1"}),  # '-' in the slug becomes '_' in the group
    ("platform_cisco_ios", {"acme-rtr1", "beta-rtr1"}),
    ("status_offline", {"beta-db1"}),
    ("kind_vm", {"acme-web1", "beta-db1"}),
    ("client_*", ALL),
    ("client_gamma", set()),
])
def test_group_names(assets: list[Asset], pattern: str, expected: set[str]) -> None:
    assert limit(pattern, assets) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("acme-*,&role_router", {"acme-rtr1", "acme-edge-rtr1"}),
    ("acme-*,&role_router,!acme-edge-rtr1", {"acme-rtr1"}),
    ("role_router,&tag_pci", {"acme-rtr1"}),
    ("all,!client_beta", {"acme-rtr1", "acme-sw1", "acme-edge-rtr1", "acme-web1"}),
    ("client_acme,!~rtr", {"acme-sw1", "acme-web1"}),
    ("role_router,&~^beta", {"beta-rtr1"}),
    # Like Ansible, a pattern of only '&' or '!' terms starts from all hosts.
    ("!client_acme", {"beta-rtr1", "beta-db1"}),
    ("&kind_vm", {"acme-web1", "beta-db1"}),
    ("client_beta,!all", set()),
])
def test_intersection_and_exclusion(assets: list[Asset], pattern: str, expected: set[str]) -> None:
    assert limit(pattern, assets) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("acme-rtr1,beta-rtr1", {"acme-rtr1", "beta-rtr1"}),
    ("acme-rtr1:beta-rtr1", {"acme-rtr1", "beta-rtr1"}),
    ("client_acme:!kind_vm:&role_router", {"acme-rtr1", "acme-edge-rtr1"}),
    ("acme-sw1:beta-db1,~^acme-web", {"acme-sw1", "beta-db1", "acme-web1"}),
    (" acme-rtr1 , beta-db1 ", {"acme-rtr1", "beta-db1"}),
    ("acme-rtr1,,beta-db1,", {"acme-rtr1", "beta-db1"}),  # empty terms are skipped
    ("acme-rtr1::beta-db1", {"acme-rtr1", "beta-db1"}),
])
def test_separators(assets: list[Asset], pattern: str, expected: set[str]) -> None:
    assert limit(pattern, assets) == expected


@pytest.mark.parametrize(("pattern", "needle"), [
    ("~[unclosed", "bad regex"),
    ("acme-*,!~(a", "bad regex"),
    ("", "no terms"),
    (",", "no terms"),
    (" : , ", "no terms"),
    ("&", "names nothing"),
    ("acme-*,!", "names nothing"),
])
def test_invalid_patterns(pattern: str, needle: str) -> None:
    with pytest.raises(InvalidFilterError) as exc:
        LimitPattern.parse(pattern)
    assert exc.value.code == "MSP-INV-400"
    assert needle in exc.value.message


# -- names mspctl prints, kind:id terms, a repeated --limit -------------------------------------

def test_kind_id_is_one_term_and_picks_the_netbox_object(make_asset: MakeAsset) -> None:
    assets = [make_asset("rtr1", id=74), make_asset("rtr1", id=74, kind="vm"), make_asset("sw1", id=12)]
    lp = LimitPattern.parse("device:74:sw1")
    assert [t.text for t in lp.terms] == ["device:74", "sw1"]
    assert [a.key for a in assets if lp.matches(a)] == ["device:74", "device:12"]
    assert [a.key for a in assets if LimitPattern.parse("vm:74").matches(a)] == ["vm:74"]
    assert [a.key for a in assets if LimitPattern.parse("rtr1,!vm:74").matches(a)] == ["device:74"]
    # a host named "device" followed by another term is still two terms
    assert [t.text for t in LimitPattern.parse("device:rtr1").terms] == ["device", "rtr1"]


def test_an_inventory_name_given_selects_its_asset(make_asset: MakeAsset) -> None:
    assets = [make_asset("rtr1", id=1), make_asset("rtr1", id=2, client="beta")]
    names = {"device:1": "rtr1@acme", "device:2": "rtr1@beta"}
    assert [a.id for a in AssetFilter(limit="rtr1@beta").apply(assets, names)] == [2]
    assert [a.id for a in AssetFilter(limit="rtr1").apply(assets, names)] == [1, 2]  # the NetBox name: both
    assert [a.id for a in AssetFilter(limit="*@acme").apply(assets, names)] == [1]
    assert [a.id for a in AssetFilter(limit="~@beta$").apply(assets, names)] == [2]
    assert AssetFilter(limit="rtr1@beta").apply(assets) == []  # without names, only NetBox names


def test_a_name_as_the_table_prints_it_selects_its_asset(make_asset: MakeAsset) -> None:
    odd = make_asset("back\\slash", id=3)
    assert LimitPattern.parse("back\\\\slash").matches(odd)  # the escaped spelling
    assert LimitPattern.parse("back\\slash").matches(odd)  # and the name as it is


def test_a_repeated_limit_selects_the_union(assets: list[Asset]) -> None:
    flt = AssetFilter(limit=("beta-*,&kind_vm", "acme-sw1"))
    assert names(flt, assets) == {"beta-db1", "acme-sw1"}
    assert names(AssetFilter(limit=("acme-sw1",)), assets) == {"acme-sw1"}
    assert names(AssetFilter(limit=()), assets) == ALL


def test_every_repeated_limit_is_validated() -> None:
    with pytest.raises(InvalidFilterError) as exc:
        AssetFilter(limit=("acme-*", "~("))
    assert "bad regex" in exc.value.message
