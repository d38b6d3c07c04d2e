"""Network configuration against the lab: render, drift (the seeded findings), backup to git."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from lab.devices.control import ControlClient
from lab.network import COMPLIANT, CREDENTIALS, EXPECTED_DRIFT
from mspctl.errors import ExitCode
from tests.conftest import by_device

ACTIVE_NETWORK = set(EXPECTED_DRIFT) | COMPLIANT


def _drift(res) -> dict:
    return {d["device"]: d for d in json.loads(res.stdout)["devices"]}


def test_render_cites_template_and_device(mspctl, tmp_path: Path):
    res = mspctl("config", "render", "-c", "acme", "--role", "router", "-o", "json")
    assert res.exit_code == 0, res.output
    (rtr,) = json.loads(res.stdout)
    assert rtr["status"] == "ok" and rtr["template"] == "cisco_ios/main.j2"
    assert "login block-for 60 attempts 3 within 60" in rtr["config"]  # pci tag -> config context
    assert "ntp server 198.51.100.1" in rtr["config"]  # acme's override
    assert " ip address 127.20.1.2 255.255.255.255" in rtr["config"]  # NetBox interface + IP
    # a template error names template:line and the device, and the other devices still render
    templates = tmp_path / "templates"
    subprocess.run(["cp", "-r", str(Path.cwd() / "templates"), str(templates)], check=True)
    ntp = templates / "cisco_ios" / "ntp.j2"
    ntp.write_text("{% for server in ntp_servers %}\nntp server {{ server }} prefer {{ ntp_key_id }}\n{% endfor %}\n")
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text(f"[config]\ntemplates = '{templates}'\n[inventory]\nclients_file = "
                   f"'{Path.cwd() / 'inventory' / 'clients.yml'}'\n")
    res = mspctl("--config", str(cfg), "config", "render", "-c", "acme", "--out", str(tmp_path / "out"))
    assert res.exit_code == ExitCode.PARTIAL
    assert "Error: MSP-TPL-001: templates/cisco_ios/ntp.j2:2: UndefinedError: 'ntp_key_id' is undefined " \
           "(device acme-core-sw1)" in res.stderr
    assert (tmp_path / "out" / "acme" / "acme-dist-sw1.cfg").is_file()  # EOS rendered fine
    assert not (tmp_path / "out" / "acme" / "acme-core-sw1.cfg").exists()


def test_drift_finds_exactly_the_seeded_drift(net):
    res = net("drift", "--all-clients", "-o", "json")
    assert res.exit_code == ExitCode.FINDINGS, res.output
    devices = _drift(res)
    assert {n for n, d in devices.items() if d["status"] != "skipped"} == ACTIVE_NETWORK
    for name, d in devices.items():
        if name not in ACTIVE_NETWORK:
            continue
        drifted = {f["feature"]: (f["missing"], f["extra"]) for f in d["features"] if f["status"] == "drift"}
        assert drifted == {k: (m, x) for k, (m, x) in EXPECTED_DRIFT.get(name, {}).items()}, name
        assert d["status"] == ("drift" if name in EXPECTED_DRIFT else "compliant")
        assert d["source"] == "live" and d["age_seconds"] is not None
    assert "acme-fw1" not in devices  # offline in NetBox: device runs take active gear unless told
    offline = _drift(net("drift", "-c", "acme", "--status", "offline", "-o", "json"))
    assert offline["acme-fw1"]["status"] == "skipped"  # and Junos has no template yet
    rem = next(f for f in devices["globex-rtr1"]["features"] if f["feature"] == "vty")["remediation"]
    assert rem == ["line vty 0 4", " no transport input telnet ssh", " transport input ssh"]


def test_drift_reports_junit_and_markdown(net, tmp_path: Path):
    junit, md = tmp_path / "drift.xml", tmp_path / "drift.md"
    res = net("drift", "-c", "acme", "--junit", str(junit), "--markdown", str(md))
    assert res.exit_code == ExitCode.FINDINGS
    root = ET.parse(junit).getroot()
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert cases[("acme.acme-core-sw1", "ntp")].find("failure") is not None
    assert cases[("acme.acme-core-sw1", "hostname")].find("failure") is None
    assert sum(1 for c in cases.values() if c.find("failure") is not None) == 3
    text = md.read_text()
    assert "## acme-core-sw1: ntp" in text and "- missing: `ntp server 198.51.100.2`" in text


def test_one_failing_device_does_not_stop_the_others(net, lab_network):
    ctl = ControlClient(lab_network.control)
    ctl.set_knobs("initech-sw1", bad_credentials=True)
    res = net("drift", "-c", "initech", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL
    devices = _drift(res)
    assert devices["initech-sw1"]["status"] == "failed"
    assert devices["initech-sw1"]["error_code"] == "DeviceAuthError"
    assert devices["initech-rtr1"]["status"] == "drift"  # the other device was still audited
    assert "initech-lab-pw" not in res.output and "initech-lab-enable" not in res.output


def test_backup_commits_once_and_scrubs_secrets(net, lab_network, tmp_path: Path):
    ctl = ControlClient(lab_network.control)
    ctl.call("run", device="acme-core-sw1", commands=["configure terminal",
                                                      "username backup privilege 15 secret 0 S3cretInConfig", "end"])
    first = net("config", "backup", "-c", "acme", "-o", "json")
    assert first.exit_code == 0, first.output
    run = json.loads(first.stdout)
    assert run["summary"]["new"] == 3 and run["commit"]
    repo = Path(run["repo"])
    stored = (repo / "acme" / "acme-core-sw1.cfg").read_text()
    assert "S3cretInConfig" not in stored and "username backup privilege 15 secret 0 <removed>" in stored
    assert "Current configuration" not in stored and "Last configuration change" not in stored
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True).stdout
    assert log.splitlines() == [f"backup {run['run_id']}: 3 new, 0 changed, 0 unchanged, 0 failed"]
    second = json.loads(net("config", "backup", "-c", "acme", "-o", "json").stdout)
    assert second["commit"] is None and second["summary"]["unchanged"] == 3
    count = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True)
    assert count.stdout.strip() == "1"
    for name, _user, pw, enable in CREDENTIALS.values():
        for f in repo.rglob("*.cfg"):
            assert pw not in f.read_text() and enable not in f.read_text(), (name, f)


def test_backup_keeps_partial_results(net, lab_network):
    ControlClient(lab_network.control).set_knobs("globex-core-sw2", drop_after=3)
    res = net("config", "backup", "-c", "globex", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL
    run = json.loads(res.stdout)
    status = {d["device"]: d["status"] for d in run["devices"]}
    assert status == {"globex-core-sw1": "new", "globex-core-sw2": "failed", "globex-rtr1": "new"}
    assert run["commit"]  # the two good devices are committed


def test_drift_from_backup_records_evidence_age(net):
    assert net("config", "backup", "-c", "initech").exit_code == 0
    res = net("drift", "-c", "initech", "--source", "backup", "-o", "json")
    assert res.exit_code == ExitCode.FINDINGS
    devices = _drift(res)
    assert devices["initech-rtr1"]["source"] == "backup"
    assert devices["initech-rtr1"]["evidence_at"] is not None
    assert [f["feature"] for f in devices["initech-rtr1"]["features"] if f["status"] == "drift"] == ["snmp"]
    assert devices["initech-sw1"]["status"] == "compliant"


def test_runs_are_recorded_and_drift_history_is_kept(net):
    net("drift", "-c", "initech")
    net("config", "backup", "-c", "initech")
    listed = json.loads(net("runs", "list", "-o", "json").stdout)
    assert [r["kind"] for r in listed[:2]] == ["backup", "drift"]
    drift_run = listed[1]
    assert drift_run["summary"]["drift"] == 1 and drift_run["targets"] == 2
    shown = json.loads(net("runs", "show", drift_run["id"], "-o", "json").stdout)
    assert by_device(shown)["initech-rtr1"]["status"] == "drift"
    assert [f["feature"] for f in by_device(shown)["initech-rtr1"]["features"] if f["status"] == "drift"] == ["snmp"]


def test_render_netbox_config_templates_in_a_sandbox(mspctl, lab_netbox):
    import requests

    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {lab_netbox.token}", "Accept": "application/json"})
    api = f"{lab_netbox.url}/api"
    platform = s.get(f"{api}/dcim/platforms/", params={"slug": "cisco_ios"}, timeout=30).json()["results"][0]
    sw = s.get(f"{api}/dcim/devices/", params={"name": "initech-sw1"}, timeout=30).json()["results"][0]
    good = s.post(f"{api}/extras/config-templates/", timeout=30, json={
        "name": "mspctl-test-ios", "template_code":
        "hostname {{ device.name }}\n{% for s in ntp_servers %}ntp server {{ s }}\n{% endfor %}"}).json()
    evil = s.post(f"{api}/extras/config-templates/", timeout=30, json={
        "name": "mspctl-test-evil", "template_code": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}).json()
    try:
        s.patch(f"{api}/dcim/platforms/{platform['id']}/", json={"config_template": good["id"]},
                timeout=30).raise_for_status()
        s.patch(f"{api}/dcim/devices/{sw['id']}/", json={"config_template": evil["id"]},
                timeout=30).raise_for_status()
        res = mspctl("config", "render", "-c", "initech", "--templates", "netbox", "-o", "json")
        assert res.exit_code == ExitCode.PARTIAL, res.output
        by = {r["device"]: r for r in json.loads(res.stdout)}
        assert by["initech-rtr1"]["status"] == "ok" and by["initech-rtr1"]["template"] == "mspctl-test-ios"
        assert by["initech-rtr1"]["config"] == "hostname initech-rtr1\nntp server 192.0.2.123\nntp server 192.0.2.124\n"
        assert by["initech-sw1"]["status"] == "failed"  # the device-level template wins, and is refused
        assert "SecurityError" in by["initech-sw1"]["error"] and "(device initech-sw1)" in by["initech-sw1"]["error"]
    finally:
        s.patch(f"{api}/dcim/platforms/{platform['id']}/", json={"config_template": None}, timeout=30)
        s.patch(f"{api}/dcim/devices/{sw['id']}/", json={"config_template": None}, timeout=30)
        for t in (good, evil):
            s.delete(f"{api}/extras/config-templates/{t['id']}/", timeout=30)


def test_unknown_feature_is_a_usage_error(net):
    res = net("drift", "-c", "acme", "--feature", "ntp", "--feature", "nosuch")
    assert res.exit_code == ExitCode.USAGE
    assert res.stderr.startswith("Error: MSP-USE-001: unknown feature(s) nosuch")
    assert "hostname, dns, ntp" in res.stderr


def test_backup_spread_over_worker_processes(net, lab_network, monkeypatch):
    """The same backup with the devices dealt over forked worker processes (as large runs are):
    same files, and a device that drops its session fails alone."""
    import mspctl.executor

    monkeypatch.setattr(mspctl.executor, "MIN_TARGETS_PER_PROCESS", 1)
    ControlClient(lab_network.control).set_knobs("globex-core-sw2", drop_after=3)
    res = net("config", "backup", "-A", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL, res.output
    run = json.loads(res.stdout)
    status = {d["device"]: d["status"] for d in run["devices"]}
    assert status["globex-core-sw2"] == "failed"
    assert {s for d, s in status.items() if d != "globex-core-sw2"} == {"new"} and len(status) == 8
    repo = Path(run["repo"])
    assert len(list(repo.rglob("*.cfg"))) == 7
    assert "hostname acme-core-sw1" in (repo / "acme" / "acme-core-sw1.cfg").read_text()


def test_a_run_that_checked_nothing_exits_7_and_names_each_reason(net):
    """acme-fw1 (offline, Junos: no template) is the only device selected: render and drift
    check nothing, which a scheduled audit must not mistake for success."""
    for args, what in ((("config", "render"), "rendered"), (("drift",), "audited")):
        res = net(*args, "-c", "acme", "--status", "offline")
        assert res.exit_code == ExitCode.NOTHING_CHECKED, res.output
        assert "skipped: acme-fw1: no template juniper_junos/main.j2" in res.stderr
        assert f"Nothing was {what}: all 1 selected target(s) were skipped" in res.stderr
    assert net("drift", "-c", "acme", "--status", "offline", "--fail-on", "never").exit_code == 0
