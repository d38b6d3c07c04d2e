"""mspctl/patch/baseline.py: baselines as code, validated with file:line, and chosen per host."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from mspctl.errors import ConfigError, ExitCode
from mspctl.patch.baseline import (
    Assignment,
    BaselineError,
    BaselineSet,
    LinuxBaseline,
    NetworkOSBaseline,
    OSRule,
    RejectedPackage,
    load_baselines,
)
from tests.unit.conftest import MakeAsset

REPO_BASELINES = Path(__file__).resolve().parents[2] / "baselines"
TODAY = date(2026, 11, 28)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the repository's own baselines -----------------------------------------------------------


def test_the_repository_baselines_load() -> None:
    found = load_baselines(REPO_BASELINES)
    assert found.names() == ["debian-all", "debian-security", "network-os"]
    linux = {b.name: b for b in found.linux}
    sec = linux["debian-security"]
    assert (sec.classification, sec.reboot, sec.os_family, sec.approve_after_days) == ("security", "if-needed",
                                                                                         ("debian",), 0)
    assert sec.valid_from == date(2026, 1, 1)
    assert sec.source.startswith(f"{REPO_BASELINES / 'debian-security.yml'}:")
    assert (linux["debian-all"].classification, linux["debian-all"].reboot) == ("all", "if-needed")
    [net] = found.network
    assert set(net.platforms) == {"cisco_ios", "arista_eos"}
    assert net.assign.clients == ("acme", "globex")


@pytest.mark.parametrize(("platform", "device_type", "version", "complies"), [
    ("cisco_ios", "c9300-48p", "17.9.4a", True),    # acme-core-sw1 in the lab
    ("cisco_ios", "isr4331", "15.9(3)M7", True),    # acme-edge-rtr1: the lab's IOS default
    ("arista_eos", "dcs-7050sx3", "4.28.3M", True),  # acme-dist-sw1: the lab's EOS default
    ("cisco_ios", "c9300-48p", "15.9(3)M7", False),  # globex-acc-sw9 (planned) is behind
])
def test_the_repository_network_baseline_passes_acme_lab_devices(platform: str, device_type: str, version: str,
                                                                 complies: bool) -> None:
    [net] = load_baselines(REPO_BASELINES).network
    rule = net.rule_for(platform, device_type)
    assert rule is not None
    assert rule.complies(version) is complies


def test_the_clients_default_baselines_exist_and_are_current(make_asset: MakeAsset) -> None:
    found = load_baselines(REPO_BASELINES)
    host = make_asset("acme-web01", kind="vm", platform="debian")
    choice = found.for_asset(host, client_default="debian-security", today=TODAY)
    assert choice is not None
    assert (choice.current.label, choice.reason) == ("debian-security@2026.01", "client default debian-security")


# --- loading: every value parsed --------------------------------------------------------------

FULL = """\
name: debian-pci
version: "2026.11"
description: PCI hosts
os_family: Debian
approval:
  classification: all
  approve_after_days: 7
approved: [openssl*, mspdemo-web]
rejected:
  - telnetd
  - {name: mspdemo-legacy, action: allow-as-dependency}
minimum_versions: {openssh-server: "1:9.2p1-2+deb12u3"}
pins: {mspdemo-tools: "1.2.0-1"}
exclude: [linux-image-*]
reboot: never
valid_from: 2026-11-01
valid_until: 2027-03-01
grace_days: 14
assign:
  clients: [acme]
  sites: []
  roles: server
  tags: [pci]
  patch_groups:
"""


def test_a_full_linux_baseline_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, "pci.yml", FULL)
    [b] = load_baselines(tmp_path).linux
    assert b == LinuxBaseline(
        name="debian-pci", version="2026.11", source=f"{path}:1", description="PCI hosts",
        valid_from=date(2026, 11, 1), valid_until=date(2027, 3, 1), grace_days=14,
        assign=Assignment(clients=("acme",), roles=("server",), tags=("pci",)),
        os_family=("debian",), classification="all", approve_after_days=7, approved=("openssl*", "mspdemo-web"),
        rejected=(RejectedPackage("telnetd"), RejectedPackage("mspdemo-legacy", "allow-as-dependency")),
        minimum_versions={"openssh-server": "1:9.2p1-2+deb12u3"}, pins={"mspdemo-tools": "1.2.0-1"},
        exclude=("linux-image-*",), reboot="never")
    assert b.label == "debian-pci@2026.11"
    assert b.grace_until == date(2027, 3, 15)
    assert b.excluded("linux-image-6.1.0-28-amd64") and not b.excluded("linux-base")
    assert b.listed_approved("openssl-libs") and not b.listed_approved("mspdemo-tools")
    assert b.rejection("mspdemo-legacy") == RejectedPackage("mspdemo-legacy", "allow-as-dependency")


def test_a_network_baseline_is_parsed_and_device_types_replace_the_platform_rule(tmp_path: Path) -> None:
    write(tmp_path, "net.yaml", """\
        kind: network-os
        name: network-os
        version: "2026.11"
        platforms:
          cisco_ios:
            approved: ["17.9.4a", "17.12.2"]
            device_types:
              isr4331: {minimum: "17.6.5"}
          arista_eos: {minimum: "4.28.3M"}
          cisco_nxos:
            device_types: {n9k: {approved: "10.3(4a)"}}
        """)
    [net] = load_baselines(tmp_path).network
    assert isinstance(net, NetworkOSBaseline)
    ios = net.platforms["cisco_ios"]
    assert ios.required == "17.12.2"  # the highest approved when there is no minimum
    assert net.rule_for("cisco_ios", "isr4331") == OSRule(minimum="17.6.5")
    assert net.rule_for("cisco_ios", "c9300-48p") is ios
    assert net.rule_for("cisco_nxos", "n9k") == OSRule(approved=("10.3(4a)",))
    assert net.rule_for("cisco_nxos", "n7k") is None   # only device-type rules for this platform
    assert net.rule_for("juniper_junos", None) is None
    assert net.rule_for(None, None) is None


def test_an_empty_directory_is_an_empty_set_and_other_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "not a baseline")
    assert load_baselines(tmp_path) == BaselineSet()


# --- loading: every error names file:line -----------------------------------------------------

ERRORS = [
    # (file text, line, message fragment)
    ("name: a\nversion: '1'\nschedule: weekly\n", 3, "unknown key 'schedule' in a linux baseline"),
    ("name: a\nversion: '1'\napproval:\n  classification: security\n  auto: true\n", 5,
     "unknown key 'auto' in a: approval"),
    ("name: a\nversion: '1'\napproval: {classification: critical}\n", 3,
     "a: approval.classification: 'critical' is not one of security, all"),
    ("name: a\nversion: '1'\nreboot: sometimes\n", 3, "a: reboot: 'sometimes' is not one of if-needed, never, always"),
    ("name: a\nversion: '1'\nrejected:\n  - {name: x, action: warn}\n", 4,
     "a: rejected.action: 'warn' is not one of block, allow-as-dependency"),
    ("name: a\nversion: '1'\nrejected:\n  - {name: x, reason: old}\n", 4, "unknown key 'reason' in a: rejected entry"),
    ("name: a\nversion: '1'\nrejected:\n  - action: block\n", 4, "a: rejected entry: missing 'name'"),
    ("kind: windows\nname: a\nversion: '1'\n", 1, "kind: 'windows' is not one of linux, network-os"),
    ("name: a\nversion: '1'\nvalid_from: 2026-13-01\n", 3, "a: valid_from: '2026-13-01' is not a YYYY-MM-DD date"),
    ("name: a\nversion: '1'\nvalid_from: 2026-11-01\nvalid_until: 2026-10-01\n", 4,
     "a: valid_until 2026-10-01 is before valid_from 2026-11-01"),
    ("name: a\nversion: '1'\napproval:\n  approve_after_days: soon\n", 4,
     "a: approval.approve_after_days: 'soon' is not a whole number"),
    ("name: a\nversion: '1'\nexclude: ['*']\n", 3,
     "a: exclude '*' matches every package: the baseline would patch nothing"),
    ("name: a\nversion: '1'\nexclude:\n  - linux-*\n  - '?*'\n", 4, "a: exclude '?*' matches every package"),
    ("name: a\nversion: '1'\napproval:\n  approve_after_days: 100000000\n", 4,
     "a: approval.approve_after_days 100000000 approves nothing released in the last 273972 years"),
    ("name: a\nversion: '1'\ngrace_days: -3\n", 3, "a: grace_days: '-3' is not a whole number"),
    ("name: ''\nversion: '1'\n", 1, "name must be a non-empty string"),
    ("name: Debian Security\nversion: '1'\n", 1, "name 'Debian Security' must be a slug"),
    ("# header\nname: a\n", 2, "missing 'version'"),
    ("name: a\nversion: '1'\napproved: {openssl: yes}\n", 3, "a: approved must be a list"),
    ("name: a\nversion: '1'\nminimum_versions: [openssl]\n", 3, "a: minimum_versions must be a mapping"),
    ("name: a\nversion: '1'\nassign: {owners: [x]}\n", 3, "unknown key 'owners' in a: assign"),
    ("name: a\nversion: '1'\nminimum_versions:\n  openssh-server: '1:9.2p1-2'\npins:\n  openssh-server: '1:9.0p1-1'\n",
     6, "a: pins.openssh-server 1:9.0p1-1 is below its minimum version 1:9.2p1-2 (line 4)"),
    ("name: a\nversion: '1'\nminimum_versions:\n  openssh-server: 'x:9.2'\n", 4,
     "a: minimum_versions.openssh-server: version 'x:9.2' has a non-numeric epoch 'x'"),
    ("name: a\nversion: '1'\nos_family: [debian\n", 4, "invalid YAML"),
    ("name: a\n---\nname: b\n", 2, "invalid YAML: but found another document"),
    ("# nothing here\n", 1, "empty file"),
    ("- name: a\n", 1, "baseline must be a mapping"),
    ("kind: network-os\nname: n\nversion: '1'\n", 1, "missing 'platforms'"),
    ("kind: network-os\nname: n\nversion: '1'\nplatforms:\n  cisco_ios: {}\n", 5,
     "n: platforms.cisco_ios: needs 'approved' or 'minimum'"),
    ("kind: network-os\nname: n\nversion: '1'\nplatforms:\n  cisco_ios: {maximum: '17'}\n", 5,
     "unknown key 'maximum' in n: platforms.cisco_ios"),
    ("kind: network-os\nname: n\nversion: '1'\nplatforms:\n  cisco_ios:\n    device_types:\n"
     "      isr: {device_types: {}}\n", 7, "unknown key 'device_types' in n: platforms.cisco_ios.device_types.isr"),
    ("kind: network-os\nname: n\nversion: '1'\npins: {a: '1'}\n", 4, "unknown key 'pins' in a network-os baseline"),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_every_error_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BaselineError) as info:
        load_baselines(tmp_path)
    assert info.value.message.startswith(f"{path}:{line}: ")
    assert message in info.value.message
    assert info.value.code == "MSP-PATCH-001"
    assert isinstance(info.value, ConfigError) and info.value.exit_code == ExitCode.CONFIG


def test_an_unknown_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "name: a\nversion: '1'\nschedule: weekly\n")
    with pytest.raises(BaselineError) as info:
        load_baselines(tmp_path)
    assert info.value.hint is not None
    assert "approval, approved, assign, description, exclude" in info.value.hint


def test_a_duplicate_name_and_version_cites_both_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yml", "name: base\nversion: '1'\n")
    second = write(tmp_path, "b.yml", "# copy\nname: base\nversion: '1'\n")
    with pytest.raises(BaselineError) as info:
        load_baselines(tmp_path)
    assert info.value.message == f"{second}:2: baseline base@1 is also defined at {first}:1"


def test_one_name_for_two_kinds_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "name: base\nversion: '1'\n")
    second = write(tmp_path, "b.yml", "kind: network-os\nname: base\nversion: '2'\nplatforms: {eos: {minimum: '4'}}\n")
    with pytest.raises(BaselineError, match="is a network-os baseline here but a linux baseline at") as info:
        load_baselines(tmp_path)
    assert info.value.message.startswith(f"{second}:1: ")


def test_a_missing_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BaselineError) as info:
        load_baselines(tmp_path / "nope")
    assert info.value.message == f"{tmp_path / 'nope'}: baselines directory not found"
    assert info.value.hint is not None and "one YAML file per baseline" in info.value.hint


# --- selection --------------------------------------------------------------------------------


def linux(name: str, version: str = "1", *, line: int = 1, family: tuple[str, ...] = ("debian",),
          valid_from: date | None = None, valid_until: date | None = None, grace_days: int = 0,
          **assign: tuple[str, ...]) -> LinuxBaseline:
    return LinuxBaseline(name=name, version=version, source=f"baselines/{name}.yml:{line}", os_family=family,
                         valid_from=valid_from, valid_until=valid_until, grace_days=grace_days,
                         assign=Assignment(**assign))


RULES = BaselineSet(linux=(
    linux("by-client", clients=("acme",)),
    linux("by-site", sites=("acme-hq",)),
    linux("by-role", roles=("server",)),
    linux("by-tag", tags=("pci",)),
    linux("by-group", patch_groups=("servers-a",)),
    linux("explicit"),
    linux("rhel-only", family=("redhat",), clients=("acme",)),
))


@pytest.mark.parametrize(("fields", "expected", "reason"), [
    ({"config_context": {"patch_baseline": "explicit"}, "custom_fields": {"patch_baseline": "by-role"}},
     "explicit", "config context patch_baseline = explicit"),
    ({"custom_fields": {"patch_baseline": "explicit", "patch_group": "servers-a"}},
     "explicit", "custom field patch_baseline = explicit"),
    ({"custom_fields": {"patch_group": "servers-a"}, "tags": ("pci",)},
     "by-group", "patch group servers-a (baselines/by-group.yml:1)"),
    ({"tags": ("critical", "pci"), "role": "server"}, "by-tag", "tag pci (baselines/by-tag.yml:1)"),
    ({"role": "server", "site": "acme-hq"}, "by-role", "role server (baselines/by-role.yml:1)"),
    ({"site": "acme-hq"}, "by-site", "site acme-hq (baselines/by-site.yml:1)"),
    ({}, "by-client", "client acme (baselines/by-client.yml:1)"),
])
def test_the_most_specific_assignment_wins(make_asset: MakeAsset, fields: dict[str, object], expected: str,
                                           reason: str) -> None:
    host = make_asset("acme-web01", kind="vm", platform="debian", **fields)
    choice = RULES.for_asset(host, client_default="explicit", today=TODAY)
    assert choice is not None
    assert (choice.current.name, choice.reason) == (expected, reason)


def test_the_client_default_comes_last_and_nothing_assigned_is_none(make_asset: MakeAsset) -> None:
    host = make_asset("globex-app01", client="globex", kind="vm", platform="debian")
    choice = RULES.for_asset(host, client_default="explicit", today=TODAY)
    assert choice is not None and choice.reason == "client default explicit"
    assert RULES.for_asset(host, client_default=None, today=TODAY) is None


def test_os_family_filters_rules_and_defaults(make_asset: MakeAsset) -> None:
    rhel = make_asset("acme-db02", kind="vm", platform="rocky")
    choice = RULES.for_asset(rhel, client_default=None, today=TODAY)
    assert choice is not None and choice.current.name == "rhel-only"
    # the scan's own os_family wins over the platform's
    choice = RULES.for_asset(rhel, client_default=None, today=TODAY, os_family="Debian")
    assert choice is not None and choice.current.name == "by-client"
    other = make_asset("globex-db01", client="globex", kind="vm", platform="rocky")
    assert RULES.for_asset(other, client_default="explicit", today=TODAY) is None


def test_an_explicit_baseline_for_another_family_is_an_error(make_asset: MakeAsset) -> None:
    host = make_asset("acme-web01", kind="vm", platform="debian", config_context={"patch_baseline": "rhel-only"})
    with pytest.raises(BaselineError, match=r"acme-web01: config context patch_baseline names rhel-only@1 "
                                            r"\(baselines/rhel-only.yml:1\), which is not for os_family debian"):
        RULES.for_asset(host, client_default=None, today=TODAY)


def test_two_names_at_the_same_specificity_are_ambiguous(make_asset: MakeAsset) -> None:
    found = BaselineSet(linux=(linux("one", tags=("pci",)), linux("two", line=3, tags=("critical",))))
    host = make_asset("acme-db01", kind="vm", platform="ubuntu", tags=("critical", "pci"))
    with pytest.raises(BaselineError) as info:
        found.for_asset(host, client_default=None, today=TODAY)
    assert info.value.message == ("acme-db01: ambiguous baseline: one by tag pci (baselines/one.yml:1); "
                                  "two by tag critical (baselines/two.yml:3)")


def test_an_unknown_name_lists_the_known_ones(make_asset: MakeAsset) -> None:
    host = make_asset("acme-web01", kind="vm", platform="debian", custom_fields={"patch_baseline": "debian-sec"})
    with pytest.raises(BaselineError) as info:
        RULES.for_asset(host, client_default=None, today=TODAY)
    assert info.value.message == "acme-web01: custom field patch_baseline names unknown baseline 'debian-sec'"
    assert info.value.hint == "known: by-client, by-group, by-role, by-site, by-tag, explicit, rhel-only"


def test_a_network_baseline_is_not_a_server_baseline(make_asset: MakeAsset) -> None:
    net = NetworkOSBaseline(name="network-os", version="1", source="baselines/network-os.yml:1",
                            platforms={"cisco_ios": OSRule(minimum="17.9.4")}, assign=Assignment(clients=("acme",)))
    found = BaselineSet(linux=(linux("debian-security"),), network=(net,))
    server = make_asset("acme-web01", kind="vm", platform="debian", config_context={"patch_baseline": "network-os"})
    with pytest.raises(BaselineError, match="names 'network-os', which is not a linux baseline"):
        found.for_asset(server, client_default=None, today=TODAY)
    router = make_asset("acme-edge-rtr1", platform="cisco_ios")
    choice = found.for_network_device(router, client_default="debian-security", today=TODAY)
    assert choice is not None and (choice.current, choice.reason) == (net, "client acme (baselines/network-os.yml:1)")
    # a client's (server) default baseline selects nothing for a device of another client
    other = make_asset("globex-rtr1", client="globex", platform="cisco_ios")
    assert found.for_network_device(other, client_default="debian-security", today=TODAY) is None


VERSIONS = BaselineSet(linux=(
    linux("debian", "2026.05", valid_from=date(2026, 5, 1), valid_until=date(2026, 11, 20), grace_days=14),
    linux("debian", "2026.01", valid_from=date(2026, 1, 1), valid_until=date(2026, 4, 30), grace_days=14),
    linux("debian", "2026.11", valid_from=date(2026, 11, 15)),
    linux("debian", "2027.01", valid_from=date(2027, 1, 1)),
))


@pytest.mark.parametrize(("today", "current", "also"), [
    (date(2026, 3, 1), "2026.01", []),
    (date(2026, 5, 10), "2026.05", ["2026.01"]),        # 2026.01 is in its grace period until 05-14
    (date(2026, 11, 16), "2026.11", ["2026.05"]),       # 2026.05 is still valid, and then in grace
    (date(2026, 12, 4), "2026.11", ["2026.05"]),        # the last day of 2026.05's grace
    (date(2026, 12, 5), "2026.11", []),
    (date(2027, 2, 1), "2027.01", []),                  # 2026.11 has no valid_until: simply superseded
])
def test_the_current_version_and_those_in_grace(make_asset: MakeAsset, today: date, current: str,
                                                also: list[str]) -> None:
    host = make_asset("acme-web01", kind="vm", platform="debian")
    choice = VERSIONS.for_asset(host, client_default="debian", today=today)
    assert choice is not None
    assert choice.current.version == current
    assert [b.version for b in choice.also_compliant] == also


def test_no_valid_version_names_the_versions_and_dates(make_asset: MakeAsset) -> None:
    found = BaselineSet(linux=(
        linux("debian", "2026.01", valid_from=date(2026, 1, 1), valid_until=date(2026, 4, 30)),
        linux("debian", "2026.11", valid_from=date(2026, 11, 1)),
    ))
    host = make_asset("acme-web01", kind="vm", platform="debian")
    with pytest.raises(BaselineError) as info:
        found.for_asset(host, client_default="debian", today=date(2026, 6, 1))
    assert info.value.message == ("no version of debian is valid on 2026-06-01 "
                                  "(2026.01: 2026-01-01..2026-04-30; 2026.11: 2026-11-01..open-ended)")


def test_describe_lists_each_version(tmp_path: Path) -> None:
    write(tmp_path, "pci.yml", FULL)
    assert load_baselines(tmp_path).describe() == [{
        "name": "debian-pci", "version": "2026.11", "kind": "linux", "valid": "2026-11-01..2027-03-01 (+14d grace)",
        "rules": "all updates, reboot never, after 7d, 2 approved, 2 rejected, 1 minimum, 1 pins, 1 excluded",
        "source": f"{tmp_path / 'pci.yml'}:1"}]
