"""Patch windows under faults, against the lab's Debian hosts: a failed canary, NetBox gone at
write-back, and Ctrl-C in a terminal. Each run ends with a record that says what happened."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import threading
import time

import pexpect
import requests

from lab.faultproxy import FaultProxy
from mspctl.errors import ExitCode
from tests.faults.conftest import MSPCTL
from tests.lab.demo_facts import ACME_SERVERS

INSIDE = "2026-11-28T22:30:00+01:00"  # inside acme's window (see tests/lab/test_patch_lab.py)
LOCK_PID = "/tmp/mspctl-fault-lock.pid"


def _hosts(output: str) -> dict[str, dict]:
    return {h["host"]: h for h in json.loads(output)["hosts"]}


@contextlib.contextmanager
def _dpkg_lock_held(lab_servers, host: str):
    """Hold dpkg's own (fcntl) lock on `host`, as a running apt would."""
    holder = ("import fcntl, os, time; f = open('/var/lib/dpkg/lock', 'w'); fcntl.lockf(f, fcntl.LOCK_EX); "
              f"open('{LOCK_PID}', 'w').write(str(os.getpid())); time.sleep(600)")
    lab_servers.ssh(host, f"sudo rm -f {LOCK_PID}; sudo setsid -f python3 -c \"{holder}\" </dev/null >/dev/null 2>&1; "
                          f"for i in $(seq 100); do [ -s {LOCK_PID} ] && exit 0; sleep 0.1; done; exit 1")
    try:
        yield
    finally:
        lab_servers.run("ssh", host, f"sudo kill $(cat {LOCK_PID}) && sudo rm -f {LOCK_PID}")


def test_a_failed_canary_stops_the_window(patch, lab_servers) -> None:
    lab_servers.reset()
    plan = _hosts(patch("patch", "apply", "-c", "acme", "-o", "json").stdout)
    [canary] = [h for h, r in plan.items() if r["batch"] == 1]
    with _dpkg_lock_held(lab_servers, ACME_SERVERS[canary]):
        res = patch("patch", "window", "-c", "acme", "--yes", "-o", "json", env={"MSPCTL_NOW": INSIDE})
    assert res.exit_code == ExitCode.PARTIAL, res.output
    run = json.loads(res.stdout)
    hosts = _hosts(res.stdout)
    assert hosts[canary]["status"] == "failed" and hosts[canary]["failed_step"] == "precheck"
    assert run["stopped"] == f"the canary batch failed on {canary}"
    waiting = [h for h, r in plan.items() if r["status"] == "planned" and h != canary]
    assert waiting and all(hosts[h]["status"] == "skipped" for h in waiting)  # 1 of 5 failed: under 25 %, still stopped


def test_netbox_gone_at_write_back_still_writes_reports_and_record_and_can_be_replayed(
        patch, lab_servers, lab_netbox, patch_home, tmp_path) -> None:
    lab_servers.reset()
    proxy = FaultProxy(lab_netbox.url)
    resume = patch_home / "state" / "mspctl" / "windows" / "acme.json"

    def cut_after_canary() -> None:
        deadline = time.monotonic() + 300
        while not resume.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proxy.close()  # NetBox is gone from here on: the write-back at the end fails

    watcher = threading.Thread(target=cut_after_canary, daemon=True)
    watcher.start()
    out, junit = tmp_path / "w.json", tmp_path / "w.xml"
    try:
        res = patch("patch", "window", "-c", "acme", "--yes", "--json", str(out), "--junit", str(junit),
                    env={"MSPCTL_NOW": INSIDE, "NETBOX_API": proxy.url})
    finally:
        proxy.close()
        watcher.join(timeout=5)
    assert res.exit_code == ExitCode.UNREACHABLE, res.output
    assert "MSP-NB-503" in res.stderr and "patch writeback --run" in res.stderr
    run = json.loads(out.read_text())  # the reports are there, and they are this run's
    assert "<testsuite" in junit.read_text()
    shown = json.loads(patch("runs", "show", run["run_id"], "-o", "json").stdout)
    assert shown["params"]["writeback"].startswith("failed: MSP-NB-503")
    replay = patch("patch", "writeback", "--run", run["run_id"])
    assert replay.exit_code == 0, replay.output
    entries = requests.get(f"{lab_netbox.url}/api/extras/journal-entries/", params={"q": run["run_id"], "limit": 50},
                           headers={"Authorization": f"Token {lab_netbox.token}"}, timeout=30).json()
    assert entries["count"] == len(run["hosts"])


def test_ctrl_c_in_a_terminal_ends_the_window_interrupted_with_exit_130(
        lab_servers, records_path, fault_env) -> None:
    lab_servers.reset()
    env = {**fault_env, "MSPCTL_SSH_CONFIG": lab_servers.ssh_config, "MSPCTL_NOW": INSIDE}
    child = pexpect.spawn(MSPCTL[0], [*MSPCTL[1:], "patch", "window", "-c", "acme", "--yes"], env=env,
                          encoding="utf-8", timeout=600, dimensions=(40, 160))
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # wait until the scan's playbook runs
            if subprocess.run(["pgrep", "-f", "patch_scan.yml"], capture_output=True).returncode == 0:
                break
            with contextlib.suppress(pexpect.TIMEOUT):
                child.read_nonblocking(65536, timeout=0.1)
        child.sendcontrol("c")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == ExitCode.INTERRUPTED, child.before
    assert "SIGINT: stopping" in child.before
    with sqlite3.connect(records_path) as db:
        run_id, params = db.execute("SELECT id, params FROM runs WHERE kind='patch-window' ORDER BY started_at DESC"
                                    ).fetchone()
    params = json.loads(params)
    assert params["interrupted"] == "SIGINT"
    assert params["stopped"] == "interrupted by SIGINT"
    with sqlite3.connect(records_path) as db:
        statuses = {s for (s,) in db.execute("SELECT status FROM results WHERE run_id=?", (run_id,))}
    assert "patched" not in statuses  # stopped before the first batch: nothing was installed


def _window_env(lab_servers, lab_netbox, tmp_path) -> dict[str, str]:
    import os

    return {**{k: v for k, v in os.environ.items() if not k.startswith(("MSPCTL_", "NETBOX_"))},
            "NETBOX_API": lab_netbox.url, "NETBOX_TOKEN": lab_netbox.token, "MSPCTL_NOW": INSIDE,
            "MSPCTL_SSH_CONFIG": lab_servers.ssh_config, "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


WINDOW = [*MSPCTL, "patch", "window", "-c", "acme", "--yes", "--no-writeback", "-o", "json"]


def test_a_resumed_window_re_reads_kept_hosts_and_patches_a_restored_one_again(lab_servers, lab_netbox,
                                                                                 tmp_path) -> None:
    from tests.conftest import REPO, kill_once_written, window_saved_hosts

    lab_servers.reset()
    env = _window_env(lab_servers, lab_netbox, tmp_path)
    resume = tmp_path / "state" / "mspctl" / "windows" / "acme.json"
    kill_once_written(WINDOW, env, resume, until=lambda: bool(window_saved_hosts(resume)))
    saved = json.loads(resume.read_text())
    [canary] = list(saved["hosts"])
    assert saved["hosts"][canary]["status"] == "patched"
    assert lab_servers.run("reset", ACME_SERVERS[canary]).returncode == 0  # as a VM snapshot rollback would
    done = subprocess.run(WINDOW, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["run_id"] == saved["run_id"]
    assert run["params"]["resume_rejected"] == [canary] and run["params"]["resumed_hosts"] == []
    hosts = _hosts(done.stdout)
    assert hosts[canary]["status"] == "patched" and hosts[canary]["installed"]  # patched again, for real
    assert {h["state"] for h in hosts.values()} == {"COMPLIANT"}


def test_resume_state_of_another_window_opening_is_recorded_unfinished_not_resumed(lab_servers, lab_netbox,
                                                                                    tmp_path) -> None:
    from tests.conftest import REPO

    env = _window_env(lab_servers, lab_netbox, tmp_path)
    resume = tmp_path / "state" / "mspctl" / "windows" / "acme.json"
    resume.parent.mkdir(parents=True)
    old = "patch-window-20261121T213000Z-0abc"
    resume.write_text(json.dumps({"run_id": old, "started_at": "2026-11-21T21:30:00+00:00",
                                  "opening": "2026-11-21T21:00:00+00:00",
                                  "hosts": {"acme-app01": {"host": "acme-app01", "status": "compliant"}}}))
    done = subprocess.run(WINDOW, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run_id"] != old
    shown = subprocess.run([*MSPCTL, "runs", "show", old, "-o", "json"], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=120)
    record = json.loads(shown.stdout)
    assert record["params"]["unfinished"] is True and "is over" in record["params"]["expired"]


def test_a_host_whose_machine_is_not_the_pinned_one_is_never_read_or_patched(patch, lab_servers,
                                                                               lab_netbox) -> None:
    """The first window pins each server's machine id in NetBox; when acme-db01's address then
    answers with another machine (here: its pin no longer matches), that host is refused."""
    headers = {"Authorization": f"Token {lab_netbox.token}", "Accept": "application/json"}
    endpoints = [f"{lab_netbox.url}/api/virtualization/virtual-machines/", f"{lab_netbox.url}/api/dcim/devices/"]

    def vm(name: str) -> dict:  # a server is a VM or a device in NetBox
        for url in endpoints:
            found = requests.get(url, params={"name": name}, headers=headers, timeout=30).json()["results"]
            if found:
                return {**found[0], "_url": url}
        raise AssertionError(f"{name} is not in NetBox")

    lab_servers.reset()
    first = patch("patch", "window", "-c", "acme", "--yes", "-o", "json", env={"MSPCTL_NOW": INSIDE})
    assert first.exit_code == 0, first.output
    for name, host in ACME_SERVERS.items():  # pinned at first contact
        assert vm(name)["custom_fields"]["machine_id"] == lab_servers.ssh(host, "cat /etc/machine-id").strip()
    db = vm("acme-db01")
    real = db["custom_fields"]["machine_id"]
    requests.patch(f"{db['_url']}{db['id']}/", json={"custom_fields": {"machine_id": "0" * 32}}, headers=headers,
                   timeout=30).raise_for_status()
    try:
        scan = patch("--refresh", "patch", "scan", "-c", "acme", "-o", "json")  # the pin changed in NetBox
        hosts = _hosts(scan.stdout)
        assert hosts["acme-db01"]["state"] == "FAILED"
        assert "MSP-PATCH-409" in hosts["acme-db01"]["compliance"]["reason"]
        assert hosts["acme-db01"]["scan"] is None  # the other machine's packages are not recorded as db01's
        assert hosts["acme-web01"]["state"] == "COMPLIANT"
        window = patch("patch", "window", "-c", "acme", "--yes", "-o", "json", env={"MSPCTL_NOW": INSIDE})
        assert window.exit_code == ExitCode.PARTIAL
        db01 = _hosts(window.stdout)["acme-db01"]
        assert db01["status"] == "failed" and "is not acme-db01" in db01["error"]
        assert vm("acme-db01")["custom_fields"]["machine_id"] == "0" * 32  # a pin is never overwritten
    finally:
        requests.patch(f"{db['_url']}{db['id']}/", json={"custom_fields": {"machine_id": real}}, headers=headers,
                       timeout=30).raise_for_status()


def _dpkg(host: str) -> dict[str, str]:
    """`host`'s installed packages, read from its root filesystem (no SSH round trip), name -> version."""
    from lab.hosts.lab import HostLab

    text = (HostLab().dir / host / "merged" / "var" / "lib" / "dpkg" / "status").read_text(errors="replace")
    out: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace())
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            out[fields["Package"]] = fields["Version"]
    return out


def _in_flight(resume) -> dict[str, dict]:
    try:
        return dict(json.loads(resume.read_text()).get("in_flight") or {})
    except (OSError, ValueError):
        return {}


def test_a_window_killed_while_a_batch_installs_records_on_resume_what_each_host_got(lab_servers, lab_netbox,
                                                                                     tmp_path) -> None:
    """SIGKILL once the canary host has new packages but before its batch is saved: the resumed
    run reads the host again and records what the killed batch installed, as patched, under the
    same run id (before: the host was `compliant` with nothing installed)."""
    from tests.conftest import REPO, kill_once_written, window_saved_hosts

    lab_servers.reset()
    seeded = {name: _dpkg(host) for name, host in ACME_SERVERS.items()}
    env = _window_env(lab_servers, lab_netbox, tmp_path)
    resume = tmp_path / "state" / "mspctl" / "windows" / "acme.json"

    def canary_changed() -> bool:
        flight = _in_flight(resume)
        return any(_dpkg(ACME_SERVERS[name]) != seeded[name] for name in flight)
    kill_once_written(WINDOW, env, resume, until=canary_changed)
    [canary] = list(_in_flight(resume))
    assert window_saved_hosts(resume) == {}  # killed before its batch was saved
    done = subprocess.run(WINDOW, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    hosts = _hosts(done.stdout)
    now = _dpkg(ACME_SERVERS[canary])
    really = sorted(f"{n}={v}" for n, v in now.items() if seeded[canary].get(n) != v)
    assert really  # the killed batch did install something
    got = run["params"]["recovered"][canary]
    assert got["batch"] == 1 and set(really) <= set(got["installed"]) | set(hosts[canary]["installed"])
    assert hosts[canary]["status"] == "patched" and set(hosts[canary]["installed"]) == set(really)
    assert hosts[canary]["patched_at"]
    for name, host in ACME_SERVERS.items():  # every host's record matches what it has
        changed = sorted(f"{n}={v}" for n, v in _dpkg(host).items() if seeded[name].get(n) != v)
        assert sorted(hosts[name]["installed"]) == changed, name
    assert not resume.exists()


def test_a_killed_patch_apply_is_found_unfinished_with_the_hosts_it_was_patching(start, lab_servers, records_path,
                                                                                fault_env) -> None:
    lab_servers.reset()
    env = {"MSPCTL_SSH_CONFIG": lab_servers.ssh_config}
    proc = start("patch", "apply", "-c", "acme", "--apply", "--yes", "--no-writeback", "-o", "json", env=env)
    canary = None
    end = time.monotonic() + 300
    while canary is None and time.monotonic() < end:
        intents = [t for _, t, e in proc.events() if e == "intent"]
        canary = intents[0] if intents else None
        time.sleep(0.02)
    assert canary is not None, proc.events()
    run_id = proc.events()[0][0]
    proc.kill()
    from tests.conftest import REPO

    shown = subprocess.run([*MSPCTL, "runs", "show", run_id, "-o", "json"], cwd=REPO, env={**fault_env, **env},
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["kind"] == "patch-apply" and record["params"]["unfinished"] is True
    got = record["results"][canary]
    assert got["status"] == "unfinished" and got["batch"] == 1 and got["install"]


def test_patch_apply_asks_first_and_no_changes_nothing(patch, lab_servers) -> None:
    lab_servers.reset()
    before = {name: _dpkg(host) for name, host in ACME_SERVERS.items()}
    no = patch("patch", "apply", "-c", "acme", "--apply", "-o", "json", input="n\n")
    assert no.exit_code == 1 and "Patch these" in no.output and "Aborted" in no.output
    assert {name: _dpkg(host) for name, host in ACME_SERVERS.items()} == before
    yes = patch("patch", "apply", "-c", "acme", "--apply", "--no-writeback", "-o", "json", input="y\n")
    assert yes.exit_code == 0, yes.output
    hosts = _hosts(yes.stdout)  # the plan shown before the question went to stderr
    assert {h["state"] for h in hosts.values()} == {"COMPLIANT"}
    patched = [name for name, h in hosts.items() if h["status"] == "patched"]
    assert patched
    for name in patched:
        changed = sorted(f"{n}={v}" for n, v in _dpkg(ACME_SERVERS[name]).items() if before[name].get(n) != v)
        assert sorted(hosts[name]["installed"]) == changed


def test_no_batch_starts_once_the_cutoff_passes_mid_window(lab_servers, lab_netbox, tmp_path) -> None:
    """The window opens a second before its cutoff; by the time the scan is done the cutoff has
    passed (the rehearsal clock runs on), so no batch starts and nothing is touched."""
    from tests.conftest import REPO

    lab_servers.reset()
    before = {name: _dpkg(host) for name, host in ACME_SERVERS.items()}
    env = {**_window_env(lab_servers, lab_netbox, tmp_path), "MSPCTL_NOW_FLOWS": "1",
           "MSPCTL_NOW": "2026-11-29T01:29:59+01:00"}  # acme: sat 22:00 for 4h, cutoff 30m before the end
    res = subprocess.run(WINDOW, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == ExitCode.PARTIAL, res.stderr
    run = json.loads(res.stdout)
    assert run["stopped"] == "the window's cutoff passed (00:30 UTC)"
    hosts = _hosts(res.stdout)
    todo = [n for n, h in hosts.items() if h["status"] == "skipped"]
    assert todo and all(hosts[n]["error"] == "not started: the window's cutoff passed (00:30 UTC)" for n in todo)
    assert {name: _dpkg(host) for name, host in ACME_SERVERS.items()} == before  # nothing was touched


def test_the_failure_share_stops_the_window_through_the_lab(patch, lab_servers) -> None:
    """With the canary gate off, the failure share alone stops the rollout: 1 failed host of 5
    is over a 10 % limit."""
    lab_servers.reset()
    gates = {"MSPCTL_PATCH_CANARY_MUST_PASS": "false", "MSPCTL_PATCH_MAX_FAIL_PERCENT": "10"}
    plan = _hosts(patch("patch", "apply", "-c", "acme", "-o", "json").stdout)
    [canary] = [h for h, r in plan.items() if r["batch"] == 1]
    with _dpkg_lock_held(lab_servers, ACME_SERVERS[canary]):
        res = patch("patch", "window", "-c", "acme", "--yes", "--no-writeback", "-o", "json",
                    env={"MSPCTL_NOW": INSIDE, **gates})
    assert res.exit_code == ExitCode.PARTIAL, res.output
    run = json.loads(res.stdout)
    assert run["stopped"] == "1 of 5 hosts failed, above the 10% limit"
    hosts = _hosts(res.stdout)
    assert hosts[canary]["status"] == "failed"
    assert all(h["status"] in ("skipped", "compliant") for n, h in hosts.items() if n != canary)


def test_a_host_whose_address_answers_with_another_host_key_is_refused_before_anything_runs(
        patch, lab_servers, lab_netbox, patch_home) -> None:
    """First contact pins each server's SSH host key under its NetBox object. When acme-db01's
    NetBox address is then acme-web01's machine, SSH refuses it before any command runs."""
    from mspctl.patch.service import host_key_alias
    from mspctl.settings import NetBoxSettings, Settings

    headers = {"Authorization": f"Token {lab_netbox.token}", "Accept": "application/json"}
    api = f"{lab_netbox.url}/api/ipam/ip-addresses/"

    def ip(address: str) -> dict:
        (found,) = requests.get(api, params={"address": address}, headers=headers, timeout=30).json()["results"]
        return found

    def move(obj: dict, address: str) -> None:
        requests.patch(f"{api}{obj['id']}/", json={"address": address}, headers=headers, timeout=30).raise_for_status()

    lab_servers.reset()
    first = patch("--refresh", "patch", "scan", "-c", "acme", "-o", "json")
    assert {h["state"] for h in _hosts(first.stdout).values()} <= {"COMPLIANT", "NON_COMPLIANT", "PENDING_REBOOT"}
    pins = patch_home / "state" / "mspctl" / "known_hosts"
    this_netbox = host_key_alias(Settings(netbox=NetBoxSettings(url=lab_netbox.url)), "vm", 0).rsplit("-", 2)[0]
    pinned = {line.split()[0] for line in pins.read_text().splitlines() if line.startswith(f"{this_netbox}-")}
    assert len(pinned) == len(ACME_SERVERS)  # one pin per NetBox object (another NetBox URL: other pins)
    db, web = ip("10.250.0.13/32"), ip("10.250.0.12/32")
    move(web, "10.250.0.99/32")  # web01's record moves away, db01's takes web01's machine
    move(db, "10.250.0.12/32")
    try:
        res = patch("--refresh", "patch", "apply", "-c", "acme", "-o", "json")
        hosts = _hosts(res.stdout)
        db01 = hosts["acme-db01"]
        assert db01["state"] == "FAILED" and db01["status"] == "failed" and db01["scan"] is None
        reason = db01["compliance"]["reason"]
        assert reason.startswith("MSP-PATCH-408") and "ssh-keygen -R mspctl-" in reason and str(pins) in reason
        assert hosts["acme-app01"]["state"] != "FAILED"  # the others go on
    finally:
        move(db, "10.250.0.13/32")
        move(web, "10.250.0.12/32")
