"""Safe change without devices: immutable records, the journal and its recovery, feature
ownership on brownfield configs, the destructive-plan guard, banner blocks, settings."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mspctl.adapters.netmiko import _blocks, safe_change_support
from mspctl.drift.configtext import parse
from mspctl.drift.features import Feature, load_features
from mspctl.errors import ConfigError
from mspctl.push.service import config_digest, destructive
from mspctl.records import RecordStore, RunRecord
from mspctl.settings import load_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("statement", [
    "DELETE FROM runs",
    "DELETE FROM results",
    "UPDATE results SET status='compliant'",
    "INSERT OR REPLACE INTO runs VALUES ('push-1', 'push', 'x', 'y', '{}', '{}')",
    "INSERT OR REPLACE INTO results VALUES ('push-1', 'r1', 'failed', '{}')",
    "REPLACE INTO results VALUES ('push-1', 'r1', 'failed', '{}')",
    "DELETE FROM run_starts",
    "DELETE FROM journal",
    "UPDATE journal SET event='done'",
    "INSERT OR REPLACE INTO journal VALUES ('push-1', 1, 'x', 'r1', 'done', '{}')",
])
def test_every_change_to_a_written_record_is_refused(tmp_path: Path, statement: str) -> None:
    store = RecordStore(tmp_path / "r.sqlite")
    store.start("push-1", "push", NOW)
    store.journal("push-1", "r1", "intent", {"commands": ["ntp server 192.0.2.1"]})
    store.save(RunRecord("push-1", "push", NOW, NOW, {}, {"applied": 1}, {"r1": ("applied", {"x": 1})}))
    db = sqlite3.connect(tmp_path / "r.sqlite", isolation_level=None)
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        db.execute(statement)
    again = RecordStore(tmp_path / "r.sqlite")
    assert again.get("push-1").results == {"r1": ("applied", {"x": 1})}
    assert [e.event for e in again.entries("push-1")] == ["intent"]


def _dead_pid() -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout), "0"


def test_a_run_whose_process_died_is_sealed_unfinished_by_the_next_store(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    RecordStore(path)
    pid, start = _dead_pid()
    db = sqlite3.connect(path, isolation_level=None)
    owner = json.dumps({"host": socket.gethostname(), "pid": pid, "start": start})
    db.execute("INSERT INTO run_starts VALUES ('push-k', 'push', ?, '{\"applied\": true}', ?)",
               (NOW.isoformat(), owner))
    for seq, (target, event, data) in enumerate([
            ("sw1", "intent", {"snapshot": "flash:mspctl-push-k.cfg", "pre_digest": "abc"}),
            ("sw1", "snapshot", {"snapshot": "flash:mspctl-push-k.cfg"}),
            ("sw2", "intent", {"pre_digest": "def"}),
            ("sw2", "done", {"status": "applied"})], 1):
        db.execute("INSERT INTO journal VALUES ('push-k', ?, ?, ?, ?, ?)",
                   (seq, NOW.isoformat(), target, event, json.dumps(data)))
    store = RecordStore(path)
    assert [r.id for r in store.recovered] == ["push-k"]
    record = store.get("push-k")
    assert record.params == {"applied": True, "unfinished": True}
    assert record.results["sw1"][0] == "unfinished"
    assert record.results["sw1"][1]["events"] == ["intent", "snapshot"]
    assert record.results["sw1"][1]["snapshot"] == "flash:mspctl-push-k.cfg"
    assert record.results["sw2"][0] == "applied"  # its journal says it finished
    assert record.summary == {"unfinished": 1, "applied": 1}
    assert RecordStore(path).recovered == []  # sealed once


def test_a_live_run_is_not_sealed_and_cannot_be_read_as_finished(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "r.sqlite")
    store.start("push-live", "push", NOW)
    assert RecordStore(tmp_path / "r.sqlite").recovered == []  # this process still owns it
    with pytest.raises(Exception, match="has not finished yet"):
        store.get("push-live")


BROWNFIELD = """\
hostname core-1
interface GigabitEthernet0/1
 description uplink
 speed 1000
 negotiation auto
 spanning-tree portfast
interface GigabitEthernet0/2
 no ip address
 shutdown
interface Null0
 no ip unreachables
interface GigabitEthernet0/1.100
 encapsulation dot1Q 100
ntp server 192.0.2.1
"""
INTENDED = """\
hostname core-1
interface GigabitEthernet0/1
 description core uplink
"""


def test_interfaces_own_only_what_netbox_models() -> None:
    f = Feature("interfaces", sections=("interface ",), scope="intended", children=("description", "ip address",
                                                                                     "shutdown"))
    _want, have = f.owned(parse(INTENDED), parse(BROWNFIELD))
    assert [ln.text for ln in have] == ["interface GigabitEthernet0/1"]  # Gi0/2, Null0, the sub-interface: not ours
    assert [c.text for c in have[0].children] == ["description uplink"]  # speed, negotiation, portfast: left alone
    from mspctl.drift.compare import compare_feature

    result = compare_feature(f, "cisco_ios", parse(INTENDED), parse(BROWNFIELD))
    assert result.extra == ("interface GigabitEthernet0/1 > description uplink",)
    assert not any(c.strip().startswith(("no interface", "no speed", "no negotiation", "no spanning-tree"))
                   for c in result.remediation)
    assert "description core uplink" in [c.strip() for c in result.remediation]


def test_the_old_whole_section_ownership_still_exists_when_asked_for() -> None:
    f = Feature("interfaces", sections=("interface ",))
    _, have = f.owned(parse(INTENDED), parse(BROWNFIELD))
    assert len(have) == 4


def test_features_file_accepts_scope_and_children_and_rejects_a_bad_scope(tmp_path: Path) -> None:
    good = tmp_path / "f.yml"
    good.write_text("features:\n  - name: interfaces\n    sections: ['interface ']\n    scope: intended\n"
                    "    children: [description]\n")
    [f] = load_features(good)
    assert f.scope == "intended" and f.children == ("description",)
    bad = tmp_path / "g.yml"
    bad.write_text("features:\n  - name: interfaces\n    sections: ['interface ']\n    scope: everything\n")
    with pytest.raises(ConfigError, match=r"g.yml:4: interfaces.scope must be one of all, intended"):
        load_features(bad)


def test_the_repository_features_leave_unmodelled_interfaces_alone() -> None:
    [f] = [f for f in load_features(Path(__file__).parents[2] / "templates" / "features.yml") if f.name == "interfaces"]
    assert f.scope == "intended" and "speed" not in f.children


def test_destructive_plans_are_named() -> None:
    assert "removes 2 interface(s): GigabitEthernet0/2, Null0" in (
        destructive(["no interface GigabitEthernet0/2", "no interface Null0"], BROWNFIELD, 0.2) or "")
    many = ["no ntp server 192.0.2.1", "interface GigabitEthernet0/1", " no speed 1000", " no negotiation auto",
            " no spanning-tree portfast"]
    assert "removes 4 of the device's 14 configuration lines (29%" in (destructive(many, BROWNFIELD, 0.2) or "")
    assert destructive(many, BROWNFIELD, 0.5) is None
    assert destructive(["interface GigabitEthernet0/2", " no shutdown"], BROWNFIELD, 0.0) is None  # enabling


def test_config_digest_ignores_order_and_decoration_but_not_content() -> None:
    a = "hostname r1\nntp server 1.1.1.1\ninterface Gi0/1\n description x\n"
    b = "Building configuration...\n!\ninterface Gi0/1\n description x\nntp server 1.1.1.1\nhostname r1\nend\n"
    assert config_digest(a) == config_digest(b)
    assert config_digest(a) != config_digest(a.replace("description x", "description y"))


def test_banner_blocks_are_sent_whole() -> None:
    lines = ["hostname r2", "banner motd ^C", "Authorised use only", "^C", "banner login ^Cone line^C",
             "banner motd", "EOS text", "EOF", "ntp server 192.0.2.1"]
    assert _blocks(lines) == [["hostname r2"], ["banner motd ^C", "Authorised use only", "^C"],
                              ["banner login ^Cone line^C"], ["banner motd", "EOS text", "EOF"],
                              ["ntp server 192.0.2.1"]]


def test_safe_change_support_by_platform_and_archive() -> None:
    assert safe_change_support("arista_eos", "").self_revert == "commit-timer"
    with_archive = "hostname r1\narchive\n log config\n path flash:archive\n maximum 5\n"
    assert safe_change_support("cisco_ios", with_archive).self_revert == "revert-timer"
    assert safe_change_support("cisco_ios", "hostname r1\narchive\n log config\n").self_revert == ""
    assert safe_change_support("cisco_ios", "hostname r1\n").snapshot
    assert not safe_change_support("juniper_junos", "").snapshot


def test_push_settings_from_file_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text("[push]\nrevert_minutes = 3\nmax_remove_share = 0.5\n")
    s = load_settings(cfg, env={})
    assert (s.push.revert_minutes, s.push.max_remove_share) == (3, 0.5)
    s = load_settings(cfg, env={"MSPCTL_PUSH_REVERT_MINUTES": "7"})
    assert s.push.revert_minutes == 7
    cfg.write_text("[push]\nrevert_minutes = 500\n")
    with pytest.raises(ConfigError, match=r"mspctl.toml:2: push.revert_minutes = 500 is out of range"):
        load_settings(cfg, env={})


def test_datetime_custom_fields_read_the_same_through_graphql_and_rest() -> None:
    from mspctl.adapters.netbox import asset_from_record

    fields = {"last_patched": "2026-12-01T23:32:17+00:00", "x": "10:00+00:00"}
    graphql = asset_from_record("vm", {"id": 1, "name": "a", "custom_fields": fields})
    rest = asset_from_record("vm", {"id": 1, "name": "a", "custom_fields": {**fields,
                                                                             "last_patched": "2026-12-01T23:32:17Z"}})
    assert graphql.custom_fields == rest.custom_fields == {"last_patched": "2026-12-01T23:32:17Z", "x": "10:00+00:00"}
