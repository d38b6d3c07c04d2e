"""Drift logic without devices: config text, features, comparison, scrubbing, run records."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mspctl.drift.compare import compare_feature
from mspctl.drift.configtext import clean, parse, render
from mspctl.drift.features import Feature, load_features
from mspctl.errors import ConfigError
from mspctl.records import RecordStore, RunRecord
from mspctl.secrets import scrub

IOS = """Building configuration...

Current configuration : 1234 bytes
!
! Last configuration change at 10:00:00 UTC Thu Nov 26 2026
!
hostname r1
ntp server 192.0.2.1
banner motd ^C
Line one
Line two
^C
interface Gi0/1
 description uplink
 ip address 192.0.2.9 255.255.255.0
!
line vty 0 4
 transport input ssh
end
"""


def test_clean_drops_volatile_lines() -> None:
    text = clean(IOS)
    assert "Current configuration" not in text and "Last configuration change" not in text
    assert "\nend" not in text and "\n!" not in text
    assert clean(IOS.replace("1234", "999").replace("10:00:00", "11:11:11")) == text


def test_parse_sections_and_banners() -> None:
    tree = parse(IOS)
    assert [ln.text for ln in tree] == ["hostname r1", "ntp server 192.0.2.1", "banner motd ^C",
                                        "interface Gi0/1", "line vty 0 4"]
    banner = tree[2]
    assert [c.text for c in banner.children] == ["Line one", "Line two", "^C"]
    assert [c.text for c in tree[3].children] == ["description uplink", "ip address 192.0.2.9 255.255.255.0"]
    assert parse(render(tree)) == tree


def test_eos_banner_ends_at_eof() -> None:
    tree = parse("banner motd\nHello\nEOF\nhostname s1\n")
    assert [ln.text for ln in tree] == ["banner motd", "hostname s1"]
    assert [c.text for c in tree[0].children] == ["Hello", "EOF"]


def test_compare_feature_lines_and_sections(make_asset) -> None:
    ntp = Feature("ntp", lines=("ntp server ",))
    intf = Feature("interfaces", sections=("interface ",))
    want = parse("ntp server 192.0.2.1\nntp server 192.0.2.2\ninterface Gi0/1\n description core\n")
    have = parse(IOS)
    r = compare_feature(ntp, "cisco_ios", want, have)
    assert (r.status, r.missing, r.extra) == ("drift", ("ntp server 192.0.2.2",), ())
    assert r.remediation == ("ntp server 192.0.2.2",)
    r = compare_feature(intf, "cisco_ios", want, have)
    assert r.missing == ("interface Gi0/1 > description core",)
    assert set(r.extra) == {"interface Gi0/1 > description uplink",
                            "interface Gi0/1 > ip address 192.0.2.9 255.255.255.0"}
    assert compare_feature(ntp, "cisco_ios", have, have).status == "compliant"


def test_feature_targets(make_asset) -> None:
    f = Feature("pci", lines=("login block",), platforms=("cisco_ios",), tags=("pci",))
    assert f.applies_to(make_asset("r1", platform="cisco_ios", tags=("pci",)))
    assert not f.applies_to(make_asset("r2", platform="cisco_ios"))
    assert not f.applies_to(make_asset("s1", platform="arista_eos", tags=("pci",)))


def test_features_file_errors_cite_lines(tmp_path: Path) -> None:
    f = tmp_path / "features.yml"
    f.write_text("features:\n  - name: ntp\n    lines: [ntp]\n  - name: ntp\n    lines: [x]\n")
    with pytest.raises(ConfigError, match=rf"{f}:4: feature 'ntp' is already defined on line 2"):
        load_features(f)
    f.write_text("features:\n  - name: a\n    lines: [x]\n    targets: {colour: [red]}\n")
    with pytest.raises(ConfigError, match=rf"{f}:4: a.targets: unknown key 'colour'"):
        load_features(f)
    f.write_text("features:\n  - name: a\n")
    with pytest.raises(ConfigError, match="needs `lines:` or `sections:`"):
        load_features(f)
    assert [x.name for x in load_features(Path("templates/features.yml"))][:3] == ["hostname", "dns", "ntp"]


def test_scrubber_masks_secrets_keeps_the_rest() -> None:
    text = scrub("enable secret 9 $9$abc\nusername ops privilege 15 secret 0 pw1\nsnmp-server community pub RO\n"
                 " key 7 0822455D0A16\nntp server 192.0.2.1\n")
    assert "pw1" not in text and "$9$abc" not in text and "pub" not in text and "0822455D0A16" not in text
    assert "username ops privilege 15 secret 0 <removed>" in text and "ntp server 192.0.2.1" in text


def test_run_records_are_immutable(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "r.sqlite")
    now = datetime.now(UTC)
    store.save(RunRecord("drift-1", "drift", now, now, {"source": "live"}, {"drift": 1},
                         {"r1": ("drift", {"features": []})}))
    assert store.get("drift-1").results["r1"][0] == "drift"
    assert store.history("r1", "drift")[0][2] == "drift"
    db = sqlite3.connect(tmp_path / "r.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        db.execute("UPDATE results SET status='compliant'")
