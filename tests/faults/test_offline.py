"""`--offline` for every command (issue 9 §10, docs/offline.md): with NetBox gone, each command
either works from the cache, the backups and the records, or refuses at once (MSP-OFFLINE-400)
before it reads a device or writes a record. NetBox write-back is never silently dropped. A
corrupt cache is a clear MSP-CACHE-422, and `--refresh` rebuilds it.

NetBox is reached through a TCP proxy on loopback: the cache is filled through it, then the
proxy is closed, so any NetBox request a command still made would fail (MSP-NB-503) instead of
passing unnoticed."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from lab.devices.control import ControlClient
from lab.faultproxy import FaultProxy
from mspctl.errors import ExitCode
from mspctl.offline import NEEDS_NETBOX, WORKS_OFFLINE

pytestmark = pytest.mark.faults

INITECH = ("initech-rtr1", "initech-sw1")
SNMP_CONTACT = "snmp-server contact noc@northwind-msp.example"  # the line lab/network.py removed from initech-rtr1


@pytest.fixture
def proxy(lab_netbox) -> Iterator[FaultProxy]:
    """NetBox behind the lab's proxy; `close()` takes NetBox away (new connections are refused)."""
    with FaultProxy(lab_netbox.url) as p:
        yield p


def _logins(ctl: ControlClient) -> int:
    return sum(int(c["logins_ok"]) + int(c["logins_failed"])
               for c in (ctl.info(d)["counters"] for d in INITECH))


def _runs(net, env: dict[str, str]) -> list[str]:
    res = net("runs", "list", "-o", "json", env=env)
    assert res.exit_code == 0, res.output
    return [r["id"] for r in json.loads(res.stdout)]


def _leaf_commands(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            yield from _leaf_commands(cmd, f"{full} ")
        else:
            yield full


def test_every_command_has_a_defined_offline_behaviour() -> None:
    from mspctl.cli import main

    commands = set(_leaf_commands(main)) - {"completion"}
    assert commands == set(WORKS_OFFLINE) | set(NEEDS_NETBOX)
    assert not set(WORKS_OFFLINE) & set(NEEDS_NETBOX)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "offline.md").read_text()
    for command in commands:  # docs/offline.md has a row for each
        assert f"`{command}" in doc, command


REFUSED = [
    ("config render", ("config", "render", "-c", "initech")),
    ("config render", ("config", "render", "-c", "initech", "--templates", "netbox")),
    ("drift", ("drift", "-c", "initech")),
    ("drift", ("drift", "-c", "initech", "--source", "backup")),
    ("config push", ("config", "push", "-c", "initech")),
    ("config push", ("config", "push", "-c", "initech", "--apply", "--yes", "--force")),
    ("patch scan", ("patch", "scan", "-c", "acme")),
    ("patch status", ("patch", "status", "-c", "acme")),
    ("patch apply", ("patch", "apply", "-c", "acme", "--apply", "--yes")),
    ("patch window", ("patch", "window", "-c", "acme", "--yes", "--force")),
    ("patch os", ("patch", "os", "-c", "acme")),
]


def test_commands_that_need_netbox_refuse_offline_before_doing_anything(net, lab_network, proxy) -> None:
    ctl = ControlClient(lab_network.control)
    env = {"NETBOX_API": proxy.url}
    assert net("inventory", "list", "-A", env=env).exit_code == 0  # the cache, filled through the proxy
    backup = net("config", "backup", "-c", "initech", "-o", "json", env=env)  # so --source backup has evidence
    assert backup.exit_code == 0, backup.output
    proxy.close()
    runs, logins = _runs(net, env), _logins(ctl)
    backup_id = json.loads(backup.stdout)["run_id"]
    for command, args in [*REFUSED, ("patch writeback", ("patch", "writeback", "--run", backup_id))]:
        res = net("--offline", *args, env=env)
        assert res.exit_code == ExitCode.USAGE, (args, res.output)
        assert res.stderr.startswith(f"Error: MSP-OFFLINE-400: `mspctl {command}` needs NetBox and cannot run "
                                     "with --offline: "), (args, res.stderr)
        assert "nothing was read from a device or written" in res.stderr and "docs/offline.md" in res.stderr
        assert "MSP-NB-503" not in res.output and res.stdout == ""
    assert _logins(ctl) == logins  # no device was read
    assert _runs(net, env) == runs  # and no run recorded


def test_inventory_backup_and_records_work_offline_with_netbox_gone(net, lab_network, proxy, tmp_path: Path) -> None:
    env = {"NETBOX_API": proxy.url}
    online = json.loads(net("inventory", "list", "-A", "-o", "json", env=env).stdout)
    proxy.close()
    offline = net("--offline", "inventory", "list", "-A", "-o", "json", env=env)
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.stdout)["assets"] == online["assets"]
    assert json.loads(offline.stdout)["evidence"]["source"] == "cache"
    for args in (("clients", "-o", "json"), ("inventory", "show", "initech-rtr1", "-o", "json"),
                 ("inventory", "export", "-c", "initech")):
        res = net("--offline", *args, env=env)
        assert res.exit_code == 0, (args, res.output)
        assert "initech" in res.stdout
    # a backup needs only the cached devices and the credentials
    res = net("--offline", "config", "backup", "-c", "initech", "-o", "json", env=env)
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert run["summary"]["new"] == 2 and run["commit"]
    stored = (Path(run["repo"]) / "initech" / "initech-rtr1.cfg").read_text()
    assert "hostname initech-rtr1" in stored
    shown = json.loads(net("--offline", "runs", "show", run["run_id"], "-o", "json", env=env).stdout)
    assert shown["kind"] == "backup"
    # the report and the point-in-time state need only the records and the cache
    out = tmp_path / "initech.json"
    res = net("--offline", "report", "-c", "initech", "--format", "json", "--out", str(out), env=env)
    assert res.exit_code == ExitCode.NOTHING_CHECKED, res.output  # a backup is no compliance evidence
    report = json.loads(out.read_text())
    assert report["assets"]["total"] == len([a for a in online["assets"] if a["client"] == "initech"])
    assert {d["state"] for d in report["configuration"]["devices"]} == {"NO_EVIDENCE"}
    status = net("--offline", "status", "-c", "initech", "-o", "json", env=env)
    assert status.exit_code == ExitCode.NOTHING_CHECKED, status.output


def test_a_push_is_rolled_back_offline_from_its_record_and_the_cache(net, lab_network, proxy) -> None:
    ctl = ControlClient(lab_network.control)
    env = {"NETBOX_API": proxy.url}
    before = ctl.config("initech-rtr1")
    assert SNMP_CONTACT not in before
    res = net("config", "push", "-c", "initech", "-l", "initech-rtr1", "--apply", "--yes", "--force", "-o", "json",
              env=env)
    assert res.exit_code == 0, res.output
    run_id = json.loads(res.stdout)["run_id"]
    assert SNMP_CONTACT in ctl.config("initech-rtr1")
    proxy.close()
    res = net("--offline", "config", "rollback", "--run", run_id, "--apply", "--yes", "-o", "json", env=env)
    assert res.exit_code == 0, res.output
    assert SNMP_CONTACT not in ctl.config("initech-rtr1")
    assert [d["status"] for d in json.loads(res.stdout)["devices"]] == ["applied"]  # the snapshot restored


def test_write_back_offline_is_never_silently_dropped(tmp_path: Path) -> None:
    """The service under the CLI's refusal: a patch run finished offline records that NetBox was not
    written and how to replay it, and the CLI exits with that error (not 0)."""
    from datetime import UTC, datetime

    from mspctl.adapters.cache import InventoryCache
    from mspctl.inventory.service import InventoryService
    from mspctl.patch.service import PatchRun, finish
    from mspctl.records import RecordStore
    from mspctl.settings import ConfigSettings, Settings

    settings = Settings(config=ConfigSettings(records=tmp_path / "records.sqlite"))
    offline = InventoryService(None, InventoryCache(tmp_path / "cache", "https://netbox.example"), 300)
    now = datetime.now(UTC)
    run = finish(settings, offline, PatchRun("patch-apply-offline-1", "patch-apply", now, now, [], applied=True),
                 writeback=True)
    assert run.writeback_error is not None and run.writeback_error.code == "MSP-OFFLINE-400"
    assert "not written to NetBox (--offline)" in run.writeback_error.message
    assert "mspctl patch writeback --run patch-apply-offline-1" in (run.writeback_error.hint or "")
    recorded = RecordStore(settings.config.records).get("patch-apply-offline-1")
    assert recorded.params["writeback"].startswith("failed: MSP-OFFLINE-400: run patch-apply-offline-1: the "
                                                   "results were not written to NetBox")


def _cache_file(tmp_path: Path) -> Path:
    [path] = [p for p in (tmp_path / "cache").glob("*.sqlite")]
    return path


@pytest.mark.parametrize("damage", ["bad row", "bad meta", "not sqlite"])
def test_a_corrupt_cache_is_a_clear_error_and_refresh_rebuilds_it(mspctl, tmp_path: Path, damage: str) -> None:
    first = mspctl("inventory", "list", "-A", "-o", "json")
    assert first.exit_code == 0, first.output
    path = _cache_file(tmp_path)
    if damage == "not sqlite":
        path.write_bytes(path.read_bytes()[:3000])
    else:
        with sqlite3.connect(path) as db:
            if damage == "bad row":
                db.execute("UPDATE assets SET data = substr(data, 1, 20) "
                           "WHERE rowid = (SELECT min(rowid) FROM assets)")
            else:
                db.execute("UPDATE meta SET value = 'soon' WHERE key = 'synced_at'")
    for args in (("inventory", "list", "-A"), ("--offline", "inventory", "list", "-A")):
        res = mspctl(*args)
        assert res.exit_code == ExitCode.CONFIG, (args, res.output)
        assert res.stderr.startswith(f"Error: MSP-CACHE-422: {path}: the inventory cache is corrupt: "), res.stderr
        assert "--refresh" in res.stderr and "MSP-000" not in res.stderr
    res = mspctl("--refresh", "inventory", "list", "-A", "-o", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["assets"] == json.loads(first.stdout)["assets"]
    [aside] = list(path.parent.glob(f"{path.name}.corrupt-*"))
    assert f"moved aside to {aside.name}" in res.stderr
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600 and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = mspctl("--offline", "inventory", "list", "-A", "-o", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["assets"] == json.loads(res.stdout)["assets"]
