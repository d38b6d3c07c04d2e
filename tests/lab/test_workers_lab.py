"""Lab workers (lab/workers.py), with a stand-in worker (lab/workers_probe.py): each in its own network
namespace, reaching the broker, the devices and the hosts at the lab's real addresses and nothing
else; cut, restore, kill, up and down."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import nbserver
from lab import workers as lw
from lab.workers_agent import ns_pids

PREFIX = "mspwt"  # not the lab_workers fixture's namespaces (mspw1, mspw2)
PROBE = "{python} -m lab.workers_probe --ready-file {ready_file} --name {name} --device 127.20.1.1:2222"
DEVICE = "127.20.1.1:2222"  # acme-core-sw1, as NetBox gives its address

# A line-oriented TCP client run inside a worker's namespace: one answer line per command line.
CLIENT = r"""
import socket, sys
s = None
for line in sys.stdin:
    cmd, *arg = line.split()
    try:
        if cmd == "connect":
            s = socket.create_connection((arg[0], int(arg[1])), timeout=float(arg[2]) if len(arg) > 2 else 10)
            out = "connected"
        elif cmd == "send":
            s.sendall(" ".join(arg).encode() + b"\r\n")
            out = "sent"
        elif cmd == "recv":
            s.settimeout(float(arg[0]))
            data = s.recv(4096)
            out = "data " + data.decode(errors="replace").splitlines()[0] if data else "eof"
    except (TimeoutError, socket.timeout):
        out = "timeout"
    except ConnectionResetError:
        out = "reset"
    except Exception as err:
        out = "error " + type(err).__name__
    print(out, flush=True)
"""


class InNamespace:
    """The CLIENT above, in worker ``index``'s namespace."""

    def __init__(self, index: int, prefix: str = PREFIX) -> None:
        self.proc = lw.run_in(index, [sys.executable, "-c", CLIENT], prefix, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def inside() -> Iterator[type[InNamespace]]:
    opened: list[InNamespace] = []

    class Tracked(InNamespace):
        def __init__(self, index: int, prefix: str = PREFIX) -> None:
            super().__init__(index, prefix)
            opened.append(self)

    yield Tracked
    for client in opened:
        client.close()


@pytest.fixture(scope="module")
def probes(lab_network) -> Iterator[lw.WorkersInfo]:
    """Two stand-in workers, on the demo network."""
    if os.geteuid() != 0:
        pytest.fail("lab workers need root (network namespaces)", pytrace=False)
    lw.down(PREFIX)
    info = lw.up(2, cmd=PROBE, env={}, prefix=PREFIX, timeout=60)
    yield info
    lw.down(PREFIX)


def ready_info(worker: lw.Worker) -> dict:
    return json.loads(worker.ready_file.read_text())


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ns_inode(ns: str) -> int:
    return os.stat(f"/run/netns/{ns}").st_ino


class Listener:
    """A TCP service in the root namespace that answers every connection with a line."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.sendall(b"hello from the root namespace\r\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_workers_run_in_their_namespaces_and_reach_broker_and_devices(probes: lw.WorkersInfo) -> None:
    assert probes.broker_url == "redis://127.0.0.1:6379/5"
    for w in probes.workers:
        assert w.alive and w.ready
        info = ready_info(w)
        assert info["pid"] == w.pid and info["name"] == w.name
        assert info["netns"] == f"net:[{ns_inode(w.ns)}]" != os.readlink("/proc/self/ns/net")
        assert info["pong"] == "PONG"  # the broker, at 127.0.0.1:6379 inside the namespace
        assert info["banners"][DEVICE].startswith("SSH-2.0-")  # the device, at its NetBox address
    assert probes.workers[0].ns != probes.workers[1].ns


def test_status_cli_prints_json(probes: lw.WorkersInfo) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab", "workers", "--prefix", PREFIX, "status"],
                          cwd=lw.REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["broker_url"] == probes.broker_url
    assert [(w["ns"], w["alive"], w["cut"]) for w in data["workers"]] == [(f"{PREFIX}1", True, False),
                                                                          (f"{PREFIX}2", True, False)]


def test_only_the_allowed_services_are_reachable(probes: lw.WorkersInfo, inside) -> None:
    c = inside(1)
    assert c.ask("connect 127.20.1.2 2222") == "connected"  # another demo device
    assert c.ask("recv 10").startswith("data SSH-2.0-")
    assert c.ask(f"connect 127.0.0.1 {nbserver.PORTS['demo']}") == "connected"  # NetBox
    c.ask("send GET /login/ HTTP/1.0")
    c.ask("send")  # the blank line
    assert c.ask("recv 30").startswith("data HTTP/1.")
    listeners = [Listener("127.0.0.1"), Listener("127.20.1.1")]  # root-namespace services, not allowed
    try:
        for svc in listeners:
            with socket.create_connection((svc.host, svc.port), timeout=10) as s:  # there, from here
                assert s.recv(64).startswith(b"hello")
            assert c.ask(f"connect {svc.host} {svc.port}") == "error ConnectionRefusedError"
    finally:
        for svc in listeners:
            svc.close()
    assert c.ask("connect 127.0.0.1 5432") == "error ConnectionRefusedError"  # PostgreSQL


def test_cut_holds_connections_without_reset_and_restore_resumes_them(probes: lw.WorkersInfo, inside) -> None:
    c = inside(1)
    assert c.ask("connect 127.0.0.1 6379") == "connected"
    c.ask("send PING")
    assert c.ask("recv 10") == "data +PONG"
    other = inside(2)
    assert other.ask("connect 127.0.0.1 6379") == "connected"
    try:
        assert lw.cut(1, PREFIX).cut
        c.ask("send PING")
        assert c.ask("recv 1") == "timeout"  # no answer, no reset, no end of file
        late = inside(1)
        assert late.ask(f"connect {DEVICE.replace(':', ' ')} 2") == "connected"  # the kernel's backlog
        assert late.ask("recv 1") == "timeout"  # not served, not refused: no banner
        other.ask("send PING")
        assert other.ask("recv 10") == "data +PONG"  # the other worker's network is fine
        assert lw.status(PREFIX).worker(1).alive  # the worker runs on
    finally:
        restored = lw.restore(1, PREFIX)
    assert not restored.cut
    assert c.ask("recv 30") == "data +PONG"  # the held PING went through
    c.ask("send PING")
    assert c.ask("recv 10") == "data +PONG"
    fresh = inside(1)
    assert fresh.ask(f"connect {DEVICE.replace(':', ' ')}") == "connected"
    assert fresh.ask("recv 10").startswith("data SSH-2.0-")


def test_kill_leaves_nothing_of_the_worker_and_start_brings_it_back(probes: lw.WorkersInfo) -> None:
    before = lw.status(PREFIX)
    w2, w1 = before.worker(2), before.worker(1)
    info = ready_info(w2)
    pids = [info["pid"], info["child"], info["daemon"]]  # the daemon left the process group
    assert all(alive(p) for p in pids)
    killed = lw.kill(2, PREFIX)
    assert not killed.alive and killed.pid is None
    assert not any(alive(p) for p in pids)
    assert ns_pids(f"/run/netns/{w2.ns}") == []
    assert lw.status(PREFIX).worker(1).pid == w1.pid  # the other machine lives on
    restarted = lw.start(2, prefix=PREFIX, timeout=60)
    assert restarted.alive and restarted.pid not in pids
    assert ready_info(restarted)["pid"] == restarted.pid


def test_workers_join_the_hosts_lan(probes: lw.WorkersInfo, lab_servers, inside) -> None:
    info = lw.up(2, cmd=PROBE, env={}, prefix=PREFIX, timeout=60)  # the host lab was (re)made: attach
    assert info.hosts_lan is not None
    w = info.worker(1)
    assert w.lan_address == "10.250.0.201"
    host = lab_servers.info["hosts"][0]["address"]
    c = inside(1)
    assert c.ask(f"connect {host} 22") == "connected"
    assert c.ask("recv 10").startswith("data SSH-2.0-OpenSSH")
    try:
        lw.cut(1, PREFIX)
        assert inside(1).ask(f"connect {host} 22 2") == "timeout"  # dropped, not refused
    finally:
        lw.restore(1, PREFIX)
    again = inside(1)
    assert again.ask(f"connect {host} 22") == "connected"
    assert again.ask("recv 10").startswith("data SSH-2.0-OpenSSH")


def test_up_and_down_are_idempotent(lab_network) -> None:
    prefix = "mspwu"
    lw.down(prefix)
    try:
        first = lw.up(1, cmd=PROBE, env={}, prefix=prefix, timeout=60).worker(1)
        again = lw.up(1, cmd=PROBE, env={}, prefix=prefix, timeout=60).worker(1)
        assert (again.pid, again.agent_pid) == (first.pid, first.agent_pid)  # kept
        two = lw.up(2, cmd=PROBE, env={}, prefix=prefix, timeout=60)
        assert [w.index for w in two.workers] == [1, 2] and two.worker(1).pid == first.pid
        one = lw.up(1, cmd=PROBE + " --interval 0.3", env={}, prefix=prefix, timeout=60)
        assert [w.index for w in one.workers] == [1]
        assert not Path("/run/netns", f"{prefix}2").exists()
        assert one.worker(1).pid != first.pid  # another command: restarted
        assert one.worker(1).agent_pid == first.agent_pid
    finally:
        lw.down(prefix)
    lw.down(prefix)
    assert lw.status(prefix).workers == []
    assert not any(Path("/run/netns", f"{prefix}{i}").exists() for i in (1, 2))
    assert not (lw.HOME / prefix / f"{prefix}1").exists()
    assert not alive(first.agent_pid or 0) and not alive(first.pid or 0)


def test_lab_workers_fixture_runs_mspctl_workers(lab_workers) -> None:
    """The session fixture's real `mspctl worker`s: ready (their --ready-file), answering a Celery
    ping through their relays, killed whole and started again."""
    info = lab_workers.status()
    assert [(w.name, w.alive, w.ready) for w in info.workers] == [("lab-w1", True, True), ("lab-w2", True, True)]
    celery = str(Path(sys.executable).parent / "celery")
    proc = subprocess.run([celery, "-b", lab_workers.broker_url, "inspect", "ping", "-t", "10",
                           "-d", "celery@lab-w1,celery@lab-w2"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "celery@lab-w1: OK" in proc.stdout and "celery@lab-w2: OK" in proc.stdout
    w2 = info.worker(2)
    lab_workers.kill(2)
    assert ns_pids(f"/run/netns/{w2.ns}") == []  # the worker and its prefork children
    lab_workers.reset()
    again = lab_workers.status().worker(2)
    assert again.ready and again.pid != w2.pid
