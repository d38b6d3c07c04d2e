"""Many simulated devices served over real SSH (asyncssh) from one asyncio process.

Each device listens on its own (host, port); all share one host key. A session runs a small
terminal line discipline in front of ``CliSession``: characters are echoed as they arrive (as
a device's vty does), complete lines are queued and answered in order, and the fault knobs that
need time or the transport (delay, drop) are applied here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import asyncssh

from lab.devices.cli_session import CliSession
from lab.devices.device import Device
from lab.devices.spec import LabSpec

LOG = logging.getLogger("lab.devices")


class LabError(RuntimeError):
    """The lab cannot start: an address is taken, the host key cannot be written, ..."""


def load_host_key(path: Path) -> asyncssh.SSHKey:
    """The shared host key at ``path``, generated once (Ed25519) and cached for every later run.

    Concurrent first runs race safely: each writes a private temp file and the first rename wins.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="mspctl-lab devices")
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(key.export_private_key())
        tmp.chmod(0o600)
        if not path.exists():
            tmp.replace(path)
        else:
            tmp.unlink()
    return asyncssh.read_private_key(str(path))


def _quickack(sock: Any) -> None:
    # Paramiko does not set TCP_NODELAY, so Nagle holds its second small write until the first
    # is ACKed, and Linux delays that ACK by ~40 ms: ~80 ms per login (kex, auth) without this.
    # The flag does not stick (the kernel re-enters delayed-ACK mode), hence a re-arm per read;
    # setting it also sends an ACK that is already pending.
    opt = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and opt is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, opt, 1)


class _QuickAckProtocol(asyncio.Protocol):
    """Wraps asyncssh's connection protocol: re-arms TCP_QUICKACK before each read is handled."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self._inner = inner
        self._sock: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sock = transport.get_extra_info("socket")
        _quickack(self._sock)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        _quickack(self._sock)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _QuickAckListener:
    """Passed to ``asyncssh.listen(tunnel=...)``, whose listener hook lets us create the TCP server.

    asyncssh calls ``create_server(factory, host, port)`` and runs each connection over whatever
    the factory's protocol is given; wrapping it is how every accepted socket gets TCP_QUICKACK.
    """

    async def create_server(self, factory: Callable[[str, int], Any], host: str, port: int) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: _QuickAckProtocol(factory("", 0)), host, port,
                                        reuse_address=True, backlog=256)


class _DeviceServer(asyncssh.SSHServer):
    """One SSH connection to a device: password check and shell sessions."""

    def __init__(self, device: Device, connections: set[asyncssh.SSHServerConnection]) -> None:
        self._device = device
        self._connections = connections
        self._conn: asyncssh.SSHServerConnection | None = None
        self._username = ""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        spec, counters = self._device.spec, self._device.counters
        ok = (not self._device.knobs.bad_credentials and username == spec.username
              and password == spec.password)
        if ok:
            counters.logins_ok += 1
            self._username = username
        else:
            counters.logins_failed += 1
        return ok

    def session_requested(self) -> asyncssh.SSHServerSession[str] | bool:
        assert self._conn is not None
        return _Shell(self._device, self._conn, self._username)


class _Shell(asyncssh.SSHServerSession[str]):
    """An interactive vty: echo, line editing, queued commands, knobs."""

    def __init__(self, device: Device, conn: asyncssh.SSHServerConnection, username: str) -> None:
        self._device = device
        self._conn = conn
        self._cli = CliSession(device, username)
        self._chan: asyncssh.SSHServerChannel[str] | None = None
        self._queue: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        self._line = ""  # the line being typed
        self._busy = False  # answering a queued line: typeahead is echoed later, like a real vty
        self._after_cr = False
        self._commands = 0
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._pending: list[str] | None = None  # echo collected while a chunk of input is read

    # -- asyncssh callbacks ---------------------------------------------------------------------
    def connection_made(self, chan: asyncssh.SSHServerChannel[str]) -> None:
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int],
                      term_modes: Mapping[int, int]) -> bool:
        return True

    def shell_requested(self) -> bool:
        return True

    def session_started(self) -> None:
        self._started = True
        self._device.counters.sessions_open += 1
        self._write(self._cli.greeting() + self._cli.prompt)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        # The echo of one chunk leaves in one write, as a device echoes a line sent at once (one
        # SSH packet per character would cost both ends CPU that no real device makes them spend).
        self._pending = []
        try:
            for ch in data:
                self._feed(ch)
        finally:
            pending, self._pending = self._pending, None
            self._write("".join(pending))

    def eof_received(self) -> bool:
        return False  # close the channel

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._started:
            self._device.counters.sessions_open -= 1
        if self._task is not None:
            self._task.cancel()

    # -- line discipline --------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        if self._pending is not None:  # inside data_received: flushed at its end
            self._pending.append(text)
            return
        if self._chan is not None and text:
            with contextlib.suppress(OSError, asyncssh.Error):
                self._chan.write(text.replace("\n", "\r\n"))

    def _echo_now(self) -> bool:
        return not self._busy and not self._cli.hide_input

    def _feed(self, ch: str) -> None:
        if ch == "\n" and self._after_cr:  # CR LF is one Enter
            self._after_cr = False
            return
        self._after_cr = ch == "\r"
        if ch in "\r\n":
            line, self._line = self._line, ""
            self._complete(line)
        elif ch in "\x7f\x08":
            if self._line:
                self._line = self._line[:-1]
                if self._echo_now():
                    self._write("\b \b")
        elif ch in "\x03\x1a":  # Ctrl-C drops the line; Ctrl-Z ends configuration mode
            if self._echo_now():
                self._write("^C" if ch == "\x03" else "^Z")
            self._line = ""
            self._complete("" if ch == "\x03" else "end")
        elif ch >= " ":
            self._line += ch
            if self._echo_now():
                self._write(ch)

    def _complete(self, line: str) -> None:
        echoed = not self._busy
        if echoed:
            self._write("\n")
        self._busy = True
        self._queue.put_nowait((line, echoed))

    async def _run(self) -> None:
        while True:
            line, echoed = await self._queue.get()
            if not echoed:
                self._write(("" if self._cli.hide_input else line) + "\n")
            if not await self._answer(line):
                return
            if self._queue.empty():
                self._busy = False
                if self._line and not self._cli.hide_input:
                    self._write(self._line)

    async def _answer(self, line: str) -> bool:
        """Answer one line; False when the session is over."""
        knobs, counters = self._device.knobs, self._device.counters
        is_command = bool(line.strip()) and not self._cli.awaiting_answer
        if is_command:
            self._commands += 1
            counters.commands += 1
            if knobs.drop_on and re.search(knobs.drop_on, line):
                counters.drops += 1
                self._conn.abort()  # no answer, no SSH disconnect message: the link just dies
                return False
            if knobs.command_delay:
                await asyncio.sleep(knobs.command_delay)
        reply = self._cli.handle(line)
        self._write(reply.output)
        if reply.close:
            if self._chan is not None:
                self._chan.exit(0)
            return False
        self._write(self._cli.prompt)
        if is_command and knobs.drop_after is not None and self._commands >= knobs.drop_after:
            counters.drops += 1
            self._conn.close()  # after the answer: the client's next command finds a dead session
            return False
        return True


class DeviceLab:
    """Every device of a spec, listening; start() binds all of them or none."""

    def __init__(self, spec: LabSpec, host_key: asyncssh.SSHKey) -> None:
        self.spec = spec
        self.devices = {dev.name: Device(dev) for dev in spec.devices}
        self._connections: dict[str, set[asyncssh.SSHServerConnection]] = {name: set() for name in self.devices}
        self._acceptors: list[asyncssh.SSHAcceptor] = []
        self._ticker: asyncio.Task[None] | None = None
        # Built once: per-listener options only add the server factory, so 200 devices start fast.
        self._options = asyncssh.SSHServerConnectionOptions(
            server_host_keys=[host_key], line_editor=False, encoding="utf-8", errors="replace",
            allow_scp=False, x11_forwarding=False, agent_forwarding=False, login_timeout=60,
        )

    async def start(self) -> None:
        """Listen on every device's address. Raises LabError naming each address that failed."""
        results = await asyncio.gather(*(self._listen(dev) for dev in self.devices.values()),
                                       return_exceptions=True)
        failed = []
        for dev, result in zip(self.devices.values(), results, strict=True):
            if isinstance(result, BaseException):
                failed.append(f"{dev.spec.name} ({dev.spec.host}:{dev.spec.port}): {result}")
            else:
                self._acceptors.append(result)
        if failed:
            await self.stop()
            raise LabError("cannot listen for " + "; ".join(failed))
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        LOG.info("%d devices listening", len(self._acceptors))

    async def _tick(self) -> None:
        """Revert and commit timers fire on time, whether or not anyone talks to the device."""
        while True:
            await asyncio.sleep(0.1)
            for dev in self.devices.values():
                dev.tick()

    async def _listen(self, device: Device) -> asyncssh.SSHAcceptor:
        factory = partial(_DeviceServer, device, self._connections[device.spec.name])
        return await asyncssh.listen(device.spec.host, device.spec.port, options=self._options,
                                     server_factory=factory, tunnel=_QuickAckListener())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for acceptor in self._acceptors:
            acceptor.close()
        for name in self.devices:
            self.disconnect(name)
        await asyncio.gather(*(a.wait_closed() for a in self._acceptors), return_exceptions=True)
        self._acceptors = []

    def device(self, name: str) -> Device:
        try:
            return self.devices[name]
        except KeyError:
            raise KeyError(f"no device named {name!r}; known: {', '.join(sorted(self.devices))}") from None

    def disconnect(self, name: str) -> int:
        """Cut every SSH connection to a device now; returns how many there were."""
        conns = list(self._connections[name])
        for conn in conns:
            conn.abort()
        return len(conns)
