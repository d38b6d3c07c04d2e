"""The control socket: flip knobs, reset devices and read their configs while the lab runs.

Protocol: JSON lines over a unix socket. Each request is one JSON object with an ``op`` and
its parameters; each answer is one JSON object with ``"ok": true`` and the result, or
``"ok": false`` and an ``error`` text. One connection may carry many requests.

    {"op": "ping"}                                   -> {"ok": true, "pid": 123, "devices": 3}
    {"op": "list"}                                   -> {"ok": true, "devices": [<info>, ...]}
    {"op": "info", "device": "r1"}                   -> {"ok": true, "device": <info>}
    {"op": "set_knobs", "device": "r1", "knobs": {"command_delay": 0.5}}
                                                     -> {"ok": true, "knobs": {...}}   (null resets a knob;
                                                        "device": "*" sets it on every device)
    {"op": "reset", "device": "r1"}                  -> {"ok": true, "reset": ["r1"]}  (no device: all)
    {"op": "config", "device": "r1", "which": "running" | "startup"}
                                                     -> {"ok": true, "config": "<show output>"}
    {"op": "run", "device": "r1", "commands": ["configure terminal", "ntp server 10.0.0.1", "end"]}
                                                     -> {"ok": true, "output": "<transcript>"}
    {"op": "flash", "device": "r1"}                  -> {"ok": true, "files": {"pre.cfg": "<text>"}}
    {"op": "disconnect", "device": "r1"}             -> {"ok": true, "closed": 1}

``<info>`` is {name, platform, host, port, hostname, knobs, counters, pending_revert (seconds left
on a revert or commit timer, or null), pending_session, flash (file names), sessions}. Every
request first fires the revert timers that ran out. ``run`` types the commands
into a fresh privileged session as user ``control`` (an out-of-band change, e.g. to make drift).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from lab.devices.cli_session import CliSession, Mode
from lab.devices.device import Device
from lab.devices.server import DeviceLab
from lab.devices.spec import SpecError

_LIMIT = 16 * 1024 * 1024  # a whole running config may travel in one line


class ControlError(RuntimeError):
    """The control socket refused a request or could not be reached."""


class ControlServer:
    """Answers control requests for one DeviceLab on a unix socket."""

    def __init__(self, lab: DeviceLab, path: Path) -> None:
        self.lab = lab
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket from a killed run
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=_LIMIT)
        self.path.chmod(0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(self.answer(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away mid-request; nothing to answer
        finally:
            writer.close()

    def answer(self, raw: bytes) -> dict[str, Any]:
        """The response to one request line; never raises."""
        for dev in self.lab.devices.values():
            dev.tick()  # a timer that ran out shows in every answer
        try:
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise ControlError("a request is a JSON object with an op")
            handler = getattr(self, f"_op_{request.get('op')}", None)
            if handler is None:
                ops = sorted(name[4:] for name in dir(self) if name.startswith("_op_"))
                raise ControlError(f"unknown op {request.get('op')!r}; known: {', '.join(ops)}")
            return {"ok": True, **handler(request)}
        except (ControlError, SpecError, KeyError, TypeError, ValueError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            return {"ok": False, "error": message}

    def _targets(self, request: dict[str, Any], default_all: bool = False) -> list[Device]:
        name = request.get("device")
        if name == "*" or (name is None and default_all):
            return list(self.lab.devices.values())
        if not isinstance(name, str):
            raise ControlError("this op needs a device name (or \"*\")")
        return [self.lab.device(name)]

    def _op_ping(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "devices": len(self.lab.devices)}

    def _op_list(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"devices": [dev.describe() for dev in self.lab.devices.values()]}

    def _op_info(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"device": self._targets(request)[0].describe()}

    def _op_set_knobs(self, request: dict[str, Any]) -> dict[str, Any]:
        changes = request.get("knobs")
        if not isinstance(changes, dict):
            raise ControlError("set_knobs needs knobs: an object of knob names to values")
        targets = self._targets(request)
        new = [dev.knobs.updated(changes, f"set_knobs {dev.spec.name}") for dev in targets]  # all or none
        for dev, knobs in zip(targets, new, strict=True):
            dev.knobs = knobs
        return {"knobs": new[0].to_dict()}

    def _op_reset(self, request: dict[str, Any]) -> dict[str, Any]:
        targets = self._targets(request, default_all=True)
        for dev in targets:
            dev.reset()
        return {"reset": [dev.spec.name for dev in targets]}

    def _op_config(self, request: dict[str, Any]) -> dict[str, Any]:
        dev = self._targets(request)[0]
        which = request.get("which", "running")
        if which not in ("running", "startup"):
            raise ControlError("which must be running or startup")
        return {"config": dev.running_text() if which == "running" else dev.startup_text()}

    def _op_run(self, request: dict[str, Any]) -> dict[str, Any]:
        dev = self._targets(request)[0]
        commands = request.get("commands")
        if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
            raise ControlError("run needs commands: a list of strings")
        cli = CliSession(dev, "control")
        cli.mode = Mode.PRIV
        transcript = []
        for command in commands:
            transcript.append(cli.prompt + ("" if cli.hide_input else command))
            transcript.append(cli.handle(command).output.rstrip("\n"))
        return {"output": "\n".join(t for t in transcript if t) + "\n"}

    def _op_flash(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"files": dict(self._targets(request)[0].flash)}

    def _op_disconnect(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"closed": sum(self.lab.disconnect(dev.spec.name) for dev in self._targets(request))}


class ControlClient:
    """A blocking client for tests and the CLI: ``ControlClient(path).call("reset", device="r1")``."""

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        """Send one request; returns the answer without "ok". Raises ControlError on failure."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.path))
                sock.sendall(json.dumps({"op": op, **params}).encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(1 << 16)
                    if not chunk:
                        break
                    data += chunk
        except OSError as err:
            raise ControlError(f"control socket {self.path}: {err}; is the device lab running?") from None
        answer: dict[str, Any] = json.loads(data or b"{}")
        if not answer.get("ok"):
            raise ControlError(f"{op}: {answer.get('error', 'no answer from the device lab')}")
        answer.pop("ok")
        return answer

    def set_knobs(self, device: str, **knobs: Any) -> dict[str, Any]:
        knobs_now: dict[str, Any] = self.call("set_knobs", device=device, knobs=knobs)["knobs"]
        return knobs_now

    def reset(self, device: str | None = None) -> list[str]:
        done: list[str] = self.call("reset", **({"device": device} if device else {}))["reset"]
        return done

    def config(self, device: str, which: str = "running") -> str:
        text: str = self.call("config", device=device, which=which)["config"]
        return text

    def run(self, device: str, *commands: str) -> str:
        output: str = self.call("run", device=device, commands=list(commands))["output"]
        return output

    def flash(self, device: str) -> dict[str, str]:
        """The device's flash files: name -> text."""
        files: dict[str, str] = self.call("flash", device=device)["files"]
        return files

    def info(self, device: str) -> dict[str, Any]:
        info: dict[str, Any] = self.call("info", device=device)["device"]
        return info
