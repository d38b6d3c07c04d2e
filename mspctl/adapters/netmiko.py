"""Network devices over SSH through Netmiko (the only importer of netmiko).

`DeviceSession` is the small surface the rest of mspctl uses: read the running config, apply
lines (and notice the device refusing one), save. Failures become typed errors the executor
understands: connection problems are retryable (`OSError`), authentication and command errors
are permanent.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from mspctl.errors import MspctlError
from mspctl.redact import redact

# What IOS/EOS-style CLIs print when they refuse a line.
DEVICE_ERRORS = re.compile(r"^% ?(Invalid input|Incomplete command|Ambiguous command|Error|Unrecognized command|"
                           r"Bad |Unknown command)", re.MULTILINE)


class DeviceError(MspctlError):
    code = "MSP-DEV-500"
    exit_code = 3
    permanent = True  # not worth a retry


class DeviceAuthError(DeviceError):
    code = "MSP-DEV-401"


class DeviceCommandError(DeviceError):
    """The device refused a configuration line; `line` and `output` say which and how."""

    code = "MSP-DEV-422"

    def __init__(self, message: str, *, line: str = "", output: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.output = output


class DeviceConnectionError(OSError):
    """The device could not be reached, or dropped the session: retryable."""


@dataclass(frozen=True)
class DeviceTarget:
    name: str
    host: str
    port: int
    device_type: str  # Netmiko's
    username: str
    password: str = field(repr=False)
    secret: str = field(default="", repr=False)


class DeviceSession:
    """An open SSH session to one device in privileged mode. Use as a context manager."""

    def __init__(self, target: DeviceTarget, timeout: float = 30.0) -> None:
        self.target = target
        self.timeout = timeout
        # Netmiko keeps reading a channel the device has closed until its read timeout: a dropped
        # session would hold a worker for the whole budget. No single command needs that long.
        self.command_timeout = min(timeout, 15.0)
        self._conn: Any = None

    def __enter__(self) -> DeviceSession:
        from netmiko import ConnectHandler
        from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

        t = self.target
        try:
            self._conn = ConnectHandler(
                device_type=t.device_type, host=t.host, port=t.port, username=t.username, password=t.password,
                secret=t.secret, conn_timeout=min(self.timeout, 15.0), auth_timeout=min(self.timeout, 15.0),
                banner_timeout=min(self.timeout, 15.0), fast_cli=True,
                session_log=None, allow_agent=False, use_keys=False, ssh_config_file=None,
            )
            if t.secret:
                self._conn.enable()
        except NetmikoAuthenticationException:
            raise DeviceAuthError(f"{t.name}: authentication failed for user {t.username!r} at {t.host}:{t.port}",
                                  hint="check the client's credentials reference") from None
        except (NetmikoTimeoutException, OSError, EOFError) as exc:
            raise DeviceConnectionError(f"{t.name}: cannot connect to {t.host}:{t.port}: "
                                        f"{redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}"
                                        ) from None
        except Exception as exc:  # netmiko raises plain ValueError/ReadTimeout on odd prompts
            raise DeviceConnectionError(f"{t.name}: session setup failed: {type(exc).__name__}: "
                                        f"{redact(str(exc))[:200]}") from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # the session may already be gone; nothing to report
                self._conn.disconnect()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MspctlError:
            raise
        except Exception as exc:
            raise DeviceConnectionError(f"{self.target.name}: {what} failed: {type(exc).__name__}: "
                                        f"{redact(str(exc))[:200]}") from None

    def show(self, command: str) -> str:
        return str(self._call(command, self._conn.send_command, command, read_timeout=self.command_timeout))

    def running_config(self) -> str:
        return self.show("show running-config")

    def apply(self, lines: Sequence[str]) -> str:
        """Enter config mode, send `lines`, leave. Raises DeviceCommandError on a refused line."""
        output = str(self._call("configuration", self._conn.send_config_set, list(lines),
                                read_timeout=self.command_timeout, cmd_verify=True, error_pattern=None))
        m = DEVICE_ERRORS.search(output)
        if m:
            bad = _refused_line(output, m.start(), lines)
            self._call("leaving config mode", self._conn.exit_config_mode)
            raise DeviceCommandError(f"{self.target.name}: device refused {bad!r}: "
                                     f"{output[m.start():].splitlines()[0]}", line=bad, output=redact(output))
        return output

    def save(self) -> str:
        return str(self._call("write memory", self._conn.save_config))


def _refused_line(output: str, error_at: int, lines: Sequence[str]) -> str:
    """The sent line echoed closest before the error marker."""
    before = output[:error_at]
    best, pos = "", -1
    for line in lines:
        i = before.rfind(line.strip())
        if i > pos:
            best, pos = line.strip(), i
    return best
