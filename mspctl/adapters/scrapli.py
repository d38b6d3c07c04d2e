"""Read sessions to network devices through scrapli (the only importer of scrapli).

The ``mspctl.drivers`` plugin ``scrapli``: the same read surface as the netmiko driver (`show`,
`running_config`, `close`) for backup, live drift and OS reads, at less client CPU and a
fraction of the wall time a session costs. Changes (`config push`) stay on netmiko's
`DeviceSession`.

Transport: scrapli's ``asyncssh`` one, every session of a process on one asyncio event loop in
a daemon thread (`EventLoop`); the executor's worker threads only wait for its answers.
Measured against the lab simulator (bench/backup's devices, 250 sessions, 50 at a time, client
CPU per session, children included): asyncssh on one loop 15-18 ms; scrapli's paramiko
transport 21 ms (a paramiko thread per session: its GIL hand-offs grow with concurrency, and
off the main thread scrapli starts a thread per operation for its timeouts); netmiko 24 ms.
The system (OpenSSH) transport costs the most: 31-44 ms a session alone, ~20 ms of it the
forked ``ssh``'s own CPU (exec, key exchange), plus the pty reads.

Host keys: as on the netmiko path, which accepts and does not store a device's key
(paramiko's auto-add policy, no known_hosts), scrapli is told not to check it
(``auth_strict_key=False``: asyncssh ``known_hosts=None``). No known_hosts file is read or
written, no agent, key or ssh_config is used: password (and enable secret) only, as with netmiko.

Errors: authentication (login, or the enable secret) -> `DeviceAuthError` (permanent); timeouts
and dropped or refused connections -> `DeviceConnectionError` (an `OSError`: retried); a platform
scrapli has no driver for -> `DeviceError` (permanent), before any connection is made.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from mspctl.adapters.netmiko import DeviceAuthError, DeviceConnectionError, DeviceError, DeviceTarget
from mspctl.errors import MspctlError
from mspctl.redact import redact

# mspctl's device type (Netmiko's name) -> (scrapli core driver class, its terminal width).
PLATFORMS: dict[str, tuple[str, int]] = {
    "cisco_ios": ("AsyncIOSXEDriver", 512),
    "cisco_xe": ("AsyncIOSXEDriver", 512),
    "arista_eos": ("AsyncEOSDriver", 32767),
}
TRANSPORT = "asyncssh"  # see the module docstring for the measurements behind the choice
# No single step of a read needs longer; the run's per-target timeout bounds the whole session.
COMMAND_TIMEOUT = 15.0
# Preferred first; every algorithm asyncssh offers by default stays offered after them (older
# devices). AES-GCM: one call into the crypto library per packet, on both ends (asyncssh puts
# chacha20-poly1305 first). curve25519 key exchange, as the netmiko path (paramiko) negotiates:
# asyncssh's default post-quantum hybrid (mlkem768x25519) costs ~1-2 ms more CPU a session.
_CIPHERS_FIRST = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
_KEX_FIRST = ("curve25519-sha256", "curve25519-sha256@libssh.org")


def scrapli_driver(device_type: str) -> str:
    """The scrapli core driver class for mspctl's `device_type` (``cisco_ios`` ->
    ``AsyncIOSXEDriver``). Raises `DeviceError` for a platform scrapli has no driver for here."""
    try:
        return PLATFORMS[device_type][0]
    except KeyError:
        raise DeviceError(f"scrapli has no driver for platform {device_type!r}, use --driver netmiko",
                          hint=f"scrapli drives {', '.join(sorted(PLATFORMS))}; set [platforms.<slug>] "
                               "driver = \"netmiko\" for the others") from None


def connection_args(target: DeviceTarget, timeout: float) -> dict[str, Any]:
    """The scrapli driver's keyword arguments for `target` (secrets included: never logged).
    Connecting (and logging in) is bounded by ``timeout_socket``, each operation by
    ``timeout_ops`` (``asyncio.wait_for``); a per-read bound would only add a task per read."""
    step = min(timeout, COMMAND_TIMEOUT)
    ciphers, kex = _algorithms()
    return {"host": target.host, "port": target.port, "auth_username": target.username,
            "auth_password": target.password, "auth_secondary": target.secret,
            "auth_strict_key": False, "ssh_config_file": False, "ssh_known_hosts_file": False,
            "transport": TRANSPORT, "timeout_socket": step, "timeout_transport": 0, "timeout_ops": step,
            # asyncssh's own defaults would read ~/.ssh (keys, config) and the agent: nothing of it
            "transport_options": {"asyncssh": {"known_hosts": None, "client_keys": None, "agent_path": None,
                                               "config": None, "preferred_auth": ("password", "keyboard-interactive"),
                                               "encryption_algs": list(ciphers), "kex_algs": list(kex)}}}


@functools.cache
def _algorithms() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ciphers and key exchanges offered, preferred ones first (asyncssh's defaults, once)."""
    from asyncssh.encryption import get_default_encryption_algs
    from asyncssh.kex import get_default_kex_algs

    return (tuple(_first(_CIPHERS_FIRST, get_default_encryption_algs())),
            tuple(_first(_KEX_FIRST, get_default_kex_algs())))


def _first(preferred: tuple[str, ...], offered: list[bytes]) -> list[str]:
    names = [a.decode() for a in offered]
    return [*(p for p in preferred if p in names), *(a for a in names if a not in preferred)]


class EventLoop:
    """The asyncio event loop every scrapli session of this process runs on, in a daemon thread
    started on first use, and again in a forked worker process (which has no copy of the thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run[T](self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coro` on the loop and wait for it, at most `timeout` seconds (then TimeoutError)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._running())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g}s") from None

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="mspctl-scrapli", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def _forget(self) -> None:
        self._lock = threading.Lock()  # a forked child: the parent's lock may have been held
        self._loop = None


LOOP = EventLoop()
os.register_at_fork(after_in_child=LOOP._forget)


class ScrapliSession:
    """An open scrapli session to one device, in privileged mode when the target has an enable
    secret (as the netmiko driver: without one, commands run at the level the login gives)."""

    def __init__(self, target: DeviceTarget, timeout: float) -> None:
        from scrapli.driver import core

        self.target = target
        self.step = min(timeout, COMMAND_TIMEOUT)
        cls_name = scrapli_driver(target.device_type)
        width = PLATFORMS[target.device_type][1]
        _quiet_library_logs()

        async def on_open(conn: Any) -> None:
            await _on_open(conn, bool(target.secret), width)

        self._conn: Any = getattr(core, cls_name)(**connection_args(target, timeout), on_open=on_open,
                                                  on_close=_on_close)
        # Connecting, then up to four steps of on_open, each with its own bound.
        self._run("session setup", self._conn.open(), self.step * 5 + 5)

    def _run(self, what: str, coro: Coroutine[Any, Any, Any], within: float | None = None) -> Any:
        """`coro` on the event loop; scrapli's failures as mspctl's errors (the session closed first)."""
        try:
            return LOOP.run(coro, within or self.step + 5)
        except MspctlError:
            raise
        except Exception as exc:
            self.close()
            raise self._error(what, exc) from None

    def _error(self, what: str, exc: Exception) -> DeviceError | DeviceConnectionError:
        from scrapli.exceptions import (
            ScrapliAuthenticationFailed,
            ScrapliConnectionNotOpened,
            ScrapliPrivilegeError,
            ScrapliTimeout,
        )

        t = self.target
        # scrapli reports a connect that timed out as an authentication failure: its cause says which.
        if isinstance(exc, (ScrapliTimeout, TimeoutError)) or isinstance(exc.__cause__, TimeoutError):
            return DeviceConnectionError(f"{t.name}: {what}: no answer from {t.host}:{t.port} within {self.step:g}s")
        if isinstance(exc, ScrapliAuthenticationFailed):
            return DeviceAuthError(f"{t.name}: authentication failed for user {t.username!r} at {t.host}:{t.port}",
                                   hint="check the client's credentials reference")
        if isinstance(exc, ScrapliPrivilegeError):
            return DeviceAuthError(f"{t.name}: enable failed at {t.host}:{t.port} (privileged mode refused)",
                                   hint="check the enable secret of the client's credentials reference")
        if isinstance(exc, (ScrapliConnectionNotOpened, OSError)) and what == "session setup":
            return DeviceConnectionError(f"{t.name}: cannot connect to {t.host}:{t.port}: {_first_line(exc)}")
        # The connection dropped (ScrapliConnectionError, asyncssh's DisconnectError), or an odd prompt.
        return DeviceConnectionError(f"{t.name}: {what} failed: {type(exc).__name__}: {_first_line(exc)}")

    def show(self, command: str) -> str:
        return str(self._run(command, self._conn.send_command(command)).result)

    def running_config(self) -> str:
        return self.show("show running-config")

    def close(self) -> None:
        """Log out and close (the session may already be gone: nothing to report)."""
        async def close() -> None:
            try:
                await self._conn.close()
            finally:
                self._conn.transport.close()  # idempotent; in case logging out failed half-way

        try:
            LOOP.run(close(), 5)
        except Exception as exc:  # nothing to report about a session that is gone
            logging.getLogger(__name__).debug("%s: close: %s", self.target.name, type(exc).__name__)

    def __enter__(self) -> ScrapliSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _on_open(conn: Any, enable: bool, width: int) -> None:
    """Privileged mode (with a secret), then no paging and wide lines, as netmiko's session does."""
    if enable:
        await conn.acquire_priv(conn.default_desired_privilege_level)
    elif not (await conn.get_prompt()).rstrip().endswith("#"):
        conn.default_desired_privilege_level = "exec"  # no secret: stay where the login put us
    await conn.send_command("terminal length 0")
    await conn.send_command(f"terminal width {width}")


async def _on_close(conn: Any) -> None:
    """Log out without waiting for the answer (as scrapli's own on_close, less its privilege check)."""
    conn.channel.write(channel_input="exit")
    conn.channel.send_return()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0][:200]) if text else type(exc).__name__


def _quiet_library_logs() -> None:
    """scrapli logs each failure at CRITICAL before raising it, and asyncssh each connection at
    INFO; mspctl reports failures as its own errors, so the libraries' lines show only with --debug."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("scrapli").setLevel(logging.CRITICAL + 1)
        logging.getLogger("asyncssh").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ScrapliDriver:
    """The ``mspctl.drivers`` plugin ``scrapli``: read sessions (backup, drift, OS reads) for
    IOS/IOS-XE and EOS devices."""

    name: str = "scrapli"

    def session(self, target: DeviceTarget, timeout: float) -> ScrapliSession:
        """An open read session to `target`. Raises DeviceError (unsupported platform),
        DeviceAuthError or DeviceConnectionError."""
        return ScrapliSession(target, timeout)


SCRAPLI = ScrapliDriver()
