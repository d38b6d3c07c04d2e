"""Patch windows under faults, against the lab's Debian hosts: a failed canary, NetBox gone at
write-back, and Ctrl-C in a terminal. Each run ends with a record that says what happened."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import threading
import time

import pexpect
import requests

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


class _Proxy:
    """A TCP forwarder to NetBox that the test can take away mid-run."""

    def __init__(self, target: str) -> None:
        host, port = target.split("//", 1)[1].split(":")
        self.target = (host, int(port.rstrip("/")))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.open = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """No new connection, and the open ones (HTTP keep-alive) cut."""
        self.open = False
        self.server.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_netbox_gone_at_write_back_still_writes_reports_and_record_and_can_be_replayed(
        patch, lab_servers, lab_netbox, patch_home, tmp_path) -> None:
    lab_servers.reset()
    proxy = _Proxy(lab_netbox.url)
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
    from tests.conftest import REPO, kill_once_written

    lab_servers.reset()
    env = _window_env(lab_servers, lab_netbox, tmp_path)
    resume = tmp_path / "state" / "mspctl" / "windows" / "acme.json"
    kill_once_written(WINDOW, env, resume)
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
