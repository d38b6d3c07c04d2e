"""The machine agent of one lab worker (lab/workers.py): its network relay and its process supervisor.

`python -m lab.workers_agent DIR` daemonizes and, from ``DIR/agent.json``:

- **relay**: it enters the worker's network namespace only long enough to open its listening
  sockets there (``0.0.0.0:<port>`` bound to the namespace's ``lo``: every 127/8 address is local on
  ``lo``, so one socket per port answers for every loopback address), then goes back to the root
  namespace. A connection the worker makes to ``127.20.1.1:2222`` lands on the socket for port 2222;
  its local address names the target. When a rule allows that (address, port), the agent connects
  to the same address and port in the root namespace and moves bytes both ways; otherwise the
  connection is reset, as by a host with nothing listening.
- **cut**: the relay stops moving bytes and stops accepting: established connections hang (no
  reset, no FIN), new ones are never served, as when a machine's network cable is pulled.
  ``restore`` resumes both. The state is kept in ``DIR/cut``, so a restarted agent stays cut.
- **supervisor**: it starts the worker command inside the namespace (``ip netns exec``) in a session
  and process group of its own, is the subreaper of everything the worker spawns (so nothing leaks
  to PID 1), and kills the whole "machine" on request: the group, then every process left in the
  namespace (daemons that called setsid, such as ssh ControlPersist masters).

Control: a Unix socket (``DIR/agent.sock`` or a short path under /tmp, see ``control_path``), one
JSON request per line (``{"op": "ping"|"start"|"stop"|"kill"|"cut"|"restore"|"shutdown"}``), one
JSON answer per line. Standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import ipaddress
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000
PR_SET_CHILD_SUBREAPER = 36
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


def control_path(directory: Path) -> Path:
    """The agent's control socket: in its directory, or under /tmp when that path is too long
    for a Unix socket address (108 bytes)."""
    path = directory / "agent.sock"
    if len(str(path).encode()) < 100:
        return path
    return Path("/tmp") / f"mspctl-lab-agent-{hashlib.sha256(str(directory).encode()).hexdigest()[:12]}.sock"


def setns(fd: int) -> None:
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def ns_pids(ns_path: str, exclude: int | None = None) -> list[int]:
    """Processes (not zombies) whose network namespace is the one bound at ``ns_path``."""
    try:
        target = os.stat(ns_path)
    except OSError:
        return []
    key = (target.st_dev, target.st_ino)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == exclude:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == key:
            found.append(int(entry))
    return found


def _linger0(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


class Side(asyncio.Protocol):
    """One end of a relayed connection: the worker's (in its namespace) or the target's."""

    def __init__(self, pipe: Pipe, name: str) -> None:
        self.pipe = pipe
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.write_blocked = False  # our write buffer is full: the other side must stop reading
        self.eof = False
        self.closed = False
        self.peer: Side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.pipe.done:  # the other end went away while this one connected
            transport.close()
            return
        self.pipe.sync()

    def data_received(self, data: bytes) -> None:
        if self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer.transport
        if peer is not None and not self.peer.closed and peer.can_write_eof():
            peer.write_eof()
        if self.peer.eof:
            self.pipe.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pipe.lost(self, exc)

    def pause_writing(self) -> None:
        self.write_blocked = True
        self.pipe.sync()

    def resume_writing(self) -> None:
        self.write_blocked = False
        self.pipe.sync()


class Pipe:
    """A relayed connection: reading on a side is on when the relay is not cut, both ends are
    connected and the other end's write buffer has room."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.inner = Side(self, "worker")
        self.outer = Side(self, "target")
        self.inner.peer, self.outer.peer = self.outer, self.inner
        self.done = False

    def sync(self) -> None:
        if self.done:
            return
        for side in (self.inner, self.outer):
            t = side.transport
            if t is None or side.closed or t.is_closing():
                continue
            want = (not self.relay.cut and self.inner.transport is not None and self.outer.transport is not None
                    and not side.peer.write_blocked)
            if want and not t.is_reading():
                t.resume_reading()
            elif not want and t.is_reading():
                t.pause_reading()

    def lost(self, side: Side, exc: Exception | None) -> None:
        peer = side.peer.transport
        if peer is not None and not side.peer.closed:
            if exc is not None:  # a reset (or an error) travels on as a reset
                _linger0(peer.get_extra_info("socket"))
                peer.abort()
            else:
                peer.close()
        if side.peer.closed or peer is None:
            self.finish()

    def close(self) -> None:
        for side in (self.inner, self.outer):
            if side.transport is not None and not side.closed:
                side.transport.close()

    def reset(self) -> None:
        for side in (self.inner, self.outer):
            if side.transport is not None and not side.closed:
                _linger0(side.transport.get_extra_info("socket"))
                side.transport.abort()
        self.finish()

    def finish(self) -> None:
        self.done = True
        self.relay.pipes.discard(self)


class Relay:
    def __init__(self, rules: list[tuple[str, int]], connect_timeout: float = 10.0) -> None:
        self.rules = [(ipaddress.IPv4Network(cidr), int(port)) for cidr, port in rules]
        self.listeners: list[socket.socket] = []
        self.pipes: set[Pipe] = set()
        self.cut = False
        self.connect_timeout = connect_timeout
        self.loop: asyncio.AbstractEventLoop | None = None

    def allowed(self, host: str, port: int) -> bool:
        addr = ipaddress.IPv4Address(host)
        return any(port == p and addr in net for net, p in self.rules)

    def ports(self) -> list[int]:
        return sorted({p for _, p in self.rules})

    def open_listeners(self, ns_path: str) -> None:
        """Open one listening socket per port inside the namespace, then return to our own."""
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(ns_path, os.O_RDONLY)
        try:
            setns(target)
            try:
                for port in self.ports():
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b"lo\0")  # loopback only, not eth0
                    s.bind(("0.0.0.0", port))
                    s.listen(128)
                    s.setblocking(False)
                    self.listeners.append(s)
            finally:
                setns(own)
        finally:
            os.close(own)
            os.close(target)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        if not self.cut:
            self._accepting(True)

    def _accepting(self, on: bool) -> None:
        assert self.loop is not None
        for s in self.listeners:
            if on:
                self.loop.add_reader(s.fileno(), self._accept, s)
            else:
                self.loop.remove_reader(s.fileno())

    def set_cut(self, cut: bool) -> None:
        if cut == self.cut:
            return
        self.cut = cut
        self._accepting(not cut)
        for pipe in list(self.pipes):
            pipe.sync()

    def _accept(self, lsock: socket.socket) -> None:
        for _ in range(64):
            try:
                conn, _peer = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                log(f"accept: {err}")
                return
            conn.setblocking(False)
            host, port = conn.getsockname()[:2]
            if not self.allowed(host, port):
                log(f"refused {host}:{port} (not an allowed target)")
                _linger0(conn)
                conn.close()
                continue
            assert self.loop is not None
            self.loop.create_task(self._serve(conn, host, port))

    async def _serve(self, conn: socket.socket, host: str, port: int) -> None:
        assert self.loop is not None
        pipe = Pipe(self)
        self.pipes.add(pipe)
        try:
            await self.loop.connect_accepted_socket(lambda: pipe.inner, conn)
        except OSError:
            pipe.finish()
            conn.close()
            return
        try:
            await asyncio.wait_for(self.loop.create_connection(lambda: pipe.outer, host, port),
                                   self.connect_timeout)
        except (OSError, TimeoutError):
            pipe.reset()  # nothing there: the worker sees a reset


class Agent:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.cfg: dict[str, Any] = json.loads((directory / "agent.json").read_text())
        self.ns_path = f"/run/netns/{self.cfg['ns']}"
        self.relay = Relay([tuple(r) for r in self.cfg["rules"]])
        self.relay.cut = (directory / "cut").exists()
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_pid: int | None = None
        self.worker_digest = ""
        self.worker_rc: int | None = None
        self.stopping = asyncio.Event()

    # -- the worker process ----------------------------------------------------------------------

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.worker_pid:
                self.worker_rc = os.waitstatus_to_exitcode(status)
                log(f"worker {pid} ended ({self.worker_rc})")
                self.worker_pid = None
                (self.dir / "worker.pid").unlink(missing_ok=True)

    def start_worker(self) -> dict[str, Any]:
        spec = json.loads((self.dir / "worker.json").read_text())
        if self.worker_pid is not None:
            if spec["digest"] == self.worker_digest:
                return self.status()
            return {"ok": False, "error": "a worker of another configuration runs: stop it first"}
        Path(spec["ready_file"]).unlink(missing_ok=True)
        logfh = (self.dir / "worker.log").open("ab")
        logfh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {spec['argv']}\n".encode())
        logfh.flush()
        try:
            self.worker = subprocess.Popen(["ip", "netns", "exec", self.cfg["ns"], *spec["argv"]],
                                           cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
                                           stdout=logfh, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as err:
            return {"ok": False, "error": f"cannot start the worker: {err}"}
        finally:
            logfh.close()
        self.worker_pid, self.worker_digest, self.worker_rc = self.worker.pid, spec["digest"], None
        (self.dir / "worker.pid").write_text(f"{self.worker_pid}\n")
        log(f"worker started: pid {self.worker_pid}")
        return self.status()

    async def _wait_gone(self, deadline: float, ns_too: bool) -> bool:
        while time.monotonic() < deadline:
            self.reap()
            if self.worker_pid is None and not (ns_too and ns_pids(self.ns_path, os.getpid())):
                return True
            await asyncio.sleep(0.02)
        return False

    def _kill_all(self) -> None:
        if self.worker_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.worker_pid, signal.SIGKILL)
        for pid in ns_pids(self.ns_path, os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    async def kill_worker(self) -> dict[str, Any]:
        """SIGKILL the worker's group and every process in the namespace: the machine dies."""
        deadline = time.monotonic() + 10
        while True:
            self._kill_all()
            if await self._wait_gone(min(deadline, time.monotonic() + 0.5), ns_too=True):
                break
            if time.monotonic() > deadline:
                return {"ok": False, "error": f"still alive in {self.cfg['ns']}: {ns_pids(self.ns_path, os.getpid())}"}
        log("worker killed")
        return self.status()

    async def stop_worker(self, grace: float = 10.0) -> dict[str, Any]:
        """SIGTERM the worker's group (a clean shutdown), SIGKILL after ``grace`` seconds."""
        if self.worker_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.worker_pid, signal.SIGTERM)
            await self._wait_gone(time.monotonic() + grace, ns_too=False)
        return await self.kill_worker()

    def worker_alive(self) -> bool:
        self.reap()
        return self.worker_pid is not None

    def status(self) -> dict[str, Any]:
        alive = self.worker_alive()
        return {"ok": True, "agent_pid": os.getpid(), "cut": self.relay.cut, "pid": self.worker_pid,
                "alive": alive, "rc": self.worker_rc, "digest": self.worker_digest if alive else "",
                "connections": len(self.relay.pipes), "ports": self.relay.ports()}

    # -- control ---------------------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "ping":
            return self.status()
        if op == "start":
            return self.start_worker()
        if op == "stop":
            return await self.stop_worker(float(request.get("grace", 10.0)))
        if op == "kill":
            return await self.kill_worker()
        if op in ("cut", "restore"):
            cut = op == "cut"
            marker = self.dir / "cut"
            if cut:
                marker.touch()
            else:
                marker.unlink(missing_ok=True)
            self.relay.set_cut(cut)
            log(op)
            return self.status()
        if op == "shutdown":
            answer = await self.stop_worker(float(request.get("grace", 10.0)))
            self.stopping.set()
            return answer
        return {"ok": False, "error": f"unknown op {op!r}"}

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    answer = await self.handle(json.loads(line))
                except Exception as err:  # an answer, not a dead agent
                    answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        self.relay.start(loop)
        path = control_path(self.dir)
        path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self.client, path=str(path))
        os.chmod(path, 0o600)
        log(f"agent {os.getpid()} for {self.cfg['ns']}: relaying ports {self.relay.ports()}"
            f"{' (cut)' if self.relay.cut else ''}; control {path}")
        if self.cfg.get("start_worker"):
            self.start_worker()
        await self.stopping.wait()
        if self.worker_pid is not None:
            await self.stop_worker(2.0)
        server.close()
        for pipe in list(self.relay.pipes):
            pipe.reset()
        path.unlink(missing_ok=True)
        log("agent stopped")


def main(argv: list[str]) -> int:
    directory = Path(argv[0]).resolve()
    # Daemonize: the caller waits for this first process only; the agent lives on in the child.
    if os.fork() != 0:
        os._exit(0)
    os.setsid()
    logfd = os.open(directory / "agent.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(logfd, 1)
    os.dup2(logfd, 2)
    os.close(devnull)
    os.close(logfd)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    agent = Agent(directory)
    try:
        agent.relay.open_listeners(agent.ns_path)
    except OSError as err:
        log(f"cannot listen in {agent.ns_path}: {err}")
        return 1
    (directory / "agent.pid").write_text(f"{os.getpid()}\n")
    try:
        asyncio.run(agent.run())
    finally:
        (directory / "agent.pid").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
