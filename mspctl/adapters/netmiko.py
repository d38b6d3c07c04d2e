"""Network devices over SSH through Netmiko (the only importer of netmiko).

`DeviceSession` is the small surface the rest of mspctl uses: read the running config, apply
lines (and notice the device refusing one), save. Failures become typed errors the executor
understands: connection problems are retryable (`OSError`), authentication and command errors
are permanent.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from mspctl.errors import MspctlError
from mspctl.redact import redact
from mspctl.secrets import scrub

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
    """The device refused a configuration line; `line` and `output` say which and how. The
    message names the line scrubbed of secrets; `line` is the real one (never shown)."""

    code = "MSP-DEV-422"

    def __init__(self, message: str, *, line: str = "", output: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.output = output


class DeviceConnectionError(OSError):
    """The device could not be reached, or dropped the session: retryable (before a change)."""


class ChangeInterrupted(DeviceError):
    """Sending stopped part-way: `accepted` lines were taken, `in_flight` may or may not have been."""

    code = "MSP-DEV-504"

    def __init__(self, message: str, *, accepted: Sequence[str], in_flight: str | None) -> None:
        super().__init__(message)
        self.accepted = list(accepted)
        self.in_flight = in_flight


@dataclass(frozen=True)
class SafeChange:
    """What a device can do for a safe change, by its platform and current configuration.

    snapshot: it can copy its running config to its own flash and `configure replace` it back,
    exactly (secrets and banners included, nothing stored off the device).
    self_revert: it reverts by itself unless mspctl confirms in time: "commit-timer" (EOS
    configuration sessions), "revert-timer" (IOS `configure terminal revert timer`, which
    needs an `archive` with a `path`), or "" (no such mechanism).
    """

    snapshot: bool
    self_revert: str


_ARCHIVE_PATH = re.compile(r"^archive\s*$(?:\n[ \t]+.*$)*?\n[ \t]+path \S+", re.MULTILINE)
# Netmiko splits its buffer on these patterns: no capturing groups.
_QUESTION = re.compile(r"(?:\?\s*(?:\[[^\]\n]*\])?:?\s*|\[confirm\]\s*)$")
_EXEC_PROMPT = re.compile(r"(?<!\))[>#]\s*$")
_CONFIG_PROMPT = r"\)#\s*$"


def safe_change_support(device_type: str, running: str) -> SafeChange:
    """The safe-change mechanisms of a Netmiko platform with this running config."""
    if device_type == "arista_eos":
        return SafeChange(True, "commit-timer")
    if device_type.startswith("cisco_ios") or device_type == "cisco_xe":
        return SafeChange(True, "revert-timer" if _ARCHIVE_PATH.search(running) else "")
    return SafeChange(False, "")


@dataclass(frozen=True)
class DeviceTarget:
    name: str
    host: str
    port: int
    device_type: str  # Netmiko's
    username: str
    password: str = field(repr=False)
    secret: str = field(default="", repr=False)
    credentials: str = ""  # the name the secrets were resolved by: what a worker is told instead
    # The ``mspctl.drivers`` plugin that opens its read sessions (backup, drift, OS reads):
    # [platforms.<slug>] driver, or a run's --driver. Changes always go through DeviceSession.
    driver: str = "netmiko"


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
        self.close()

    def close(self) -> None:
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
            kind = self.target.device_type
            raise DeviceCommandError(f"{self.target.name}: device refused {scrub(bad, kind)!r}: "
                                     f"{output[m.start():].splitlines()[0]}", line=bad, output=scrub(output, kind))
        return output

    def save(self) -> str:
        return str(self._call("write memory", self._conn.save_config))

    # -- safe change: on-device snapshots, self-reverting sessions, exact restore ----------------
    def exec_command(self, command: str, answers: Sequence[tuple[str, str]] = ()) -> str:
        """Run one exec-mode command, answering the device's questions (`answers`: regex of the
        question -> reply; an unlisted question gets an empty line, the default). Raises
        DeviceCommandError when the device prints an error line."""
        def run() -> str:
            conn = self._conn
            conn.write_channel(conn.normalize_cmd(command))
            out = ""
            for _ in range(8):  # a command asks at most a few questions
                out += conn.read_until_pattern(pattern=rf"(?:{_EXEC_PROMPT.pattern}|{_QUESTION.pattern})",
                                               read_timeout=self.command_timeout)
                tail = out.rstrip("\n").rsplit("\n", 1)[-1]
                if _EXEC_PROMPT.search(tail) and not _QUESTION.search(tail):
                    break
                reply = next((a for q, a in answers if re.search(q, tail)), "")
                conn.write_channel(reply + conn.RETURN)
            return str(out)

        out = str(self._call(command, run))
        m = re.search(r"^%.*$", out, re.MULTILINE)
        if m:
            raise DeviceCommandError(f"{self.target.name}: {command!r} failed: {m.group()}", line=command,
                                     output=scrub(out, self.target.device_type))
        return out

    def snapshot(self, name: str) -> str:
        """Copy the running config to the device's flash as `name`; returns its location."""
        location = f"flash:{name}"
        self.exec_command(f"copy running-config {location}", [(r"Destination filename", "")])
        return location

    def restore(self, location: str) -> None:
        """Replace the running config with a snapshot, exactly (`configure replace`)."""
        force = "" if self.target.device_type == "arista_eos" else " force"
        self.exec_command(f"configure replace {location}{force}", [(r"proceed", "y")])
        self._call("reading the prompt", self._conn.set_base_prompt)

    def send_config(self, lines: Sequence[str], accepted: list[str], *, session: str | None = None,
                    revert_minutes: int | None = None, stop: Callable[[], bool] | None = None) -> None:
        """Enter configuration mode (an EOS session named `session`, or IOS with a revert timer of
        `revert_minutes`), send `lines` one at a time, appending each line the device took to
        `accepted`, and leave configuration mode, re-reading the prompt (a `hostname` line
        changes it). Each line has its own timeout, so the budget grows with the work.

        Raises DeviceCommandError (the refused line; `accepted` says what went before it) or
        ChangeInterrupted (the session failed, or `stop()` became true, part-way)."""
        conn = self._conn
        if session and self.target.device_type == "arista_eos":
            mode = f"configure session {session}"
        elif revert_minutes:
            mode = f"configure terminal revert timer {revert_minutes}"
        else:
            mode = "configure terminal"
        self._call("entering configuration mode", conn.config_mode, mode)
        in_flight: str | None = None
        try:
            for block in _blocks(lines):
                if stop is not None and stop():
                    raise ChangeInterrupted(f"{self.target.name}: stopped after {len(accepted)} of {len(lines)} "
                                            "lines", accepted=accepted, in_flight=None)
                in_flight = block[0]
                for line in block:
                    conn.write_channel(conn.normalize_cmd(line))
                if len(block) == 1:
                    out = conn.read_until_pattern(pattern=re.escape(block[0].strip()),
                                                  read_timeout=self.command_timeout)
                else:
                    out = ""
                out += conn.read_until_pattern(pattern=_CONFIG_PROMPT, re_flags=re.MULTILINE,
                                               read_timeout=self.command_timeout)
                m = DEVICE_ERRORS.search(out)
                if m:
                    in_flight = None
                    self._leave_config()
                    shown = scrub(block[0].strip(), self.target.device_type)
                    raise DeviceCommandError(f"{self.target.name}: device refused {shown!r}: "
                                             f"{out[m.start():].splitlines()[0]}", line=block[0].strip(),
                                             output=scrub(out, self.target.device_type))
                accepted.extend(block)
                in_flight = None
            self._leave_config()
        except MspctlError:
            raise
        except Exception as exc:
            raise ChangeInterrupted(f"{self.target.name}: the session failed after {len(accepted)} of {len(lines)} "
                                    f"lines: {type(exc).__name__}: {redact(str(exc))[:200]}", accepted=accepted,
                                    in_flight=in_flight) from None

    def _leave_config(self) -> None:
        conn = self._conn
        conn.write_channel(conn.normalize_cmd("end"))
        conn.read_until_pattern(pattern=_EXEC_PROMPT.pattern, read_timeout=self.command_timeout)
        conn.set_base_prompt()

    def commit(self, session: str | None, revert_minutes: int) -> None:
        """EOS: commit the session with a commit timer (it reverts unless confirmed). IOS applied
        the lines as they came (its revert timer started when configuration mode was entered)."""
        if session and self.target.device_type == "arista_eos":
            self.exec_command(f"configure session {session} commit timer {revert_minutes // 60:02d}:"
                              f"{revert_minutes % 60:02d}:00")
            self._call("reading the prompt", self._conn.set_base_prompt)

    def confirm(self, session: str | None) -> None:
        """Keep the change: stop the device's own revert timer."""
        if session and self.target.device_type == "arista_eos":
            self.exec_command(f"configure session {session} commit")
        else:
            self.exec_command("configure confirm")

    def revert_now(self, session: str | None) -> None:
        """Undo an unconfirmed change through the device's own mechanism."""
        if session and self.target.device_type == "arista_eos":
            self.exec_command(f"configure session {session} abort")
        else:
            self.exec_command("configure revert now")
        self._call("reading the prompt", self._conn.set_base_prompt)


@dataclass(frozen=True)
class NetmikoDriver:
    """The ``mspctl.drivers`` plugin ``netmiko`` (the default): a read session is an open
    `DeviceSession`."""

    name: str = "netmiko"

    def session(self, target: DeviceTarget, timeout: float) -> DeviceSession:
        """An open session to `target`. Raises DeviceAuthError or DeviceConnectionError."""
        return DeviceSession(target, timeout).__enter__()


NETMIKO = NetmikoDriver()


def _blocks(lines: Sequence[str]) -> list[list[str]]:
    """The lines grouped as the device reads them: a multi-line banner (IOS ``banner motd ^C``
    ... ``^C``, EOS ``banner motd`` ... ``EOF``) is one block, every other line its own."""
    out: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^banner\s+\S+(?:\s+(\^C|\S))?(.*)$", line.strip())
        if m:
            delim = m.group(1)
            rest = m.group(2) or ""
            j = i
            if delim is None:  # EOS: the text follows until EOF
                while j + 1 < len(lines) and lines[j].strip() != "EOF":
                    j += 1
            elif delim not in rest:
                j += 1
                while j < len(lines) - 1 and delim not in lines[j]:
                    j += 1
            out.append(list(lines[i:j + 1]))
            i = j + 1
            continue
        out.append([line])
        i += 1
    return out


def _refused_line(output: str, error_at: int, lines: Sequence[str]) -> str:
    """The sent line echoed closest before the error marker."""
    before = output[:error_at]
    best, pos = "", -1
    for line in lines:
        i = before.rfind(line.strip())
        if i > pos:
            best, pos = line.strip(), i
    return best
