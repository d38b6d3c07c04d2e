"""One CLI session on a simulated device: modes, prompts, exec commands, config lines, output filters.

Pure logic, no I/O: the SSH layer feeds complete input lines to ``CliSession.handle`` and writes
back ``Reply.output`` followed by ``CliSession.prompt``. Keywords match by unique prefix like on
the real CLIs (``sh run``, ``conf t``, ``int gi0/1``); errors use each platform's wording.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from lab.devices import config_tree
from lab.devices.device import Device
from lab.devices.platforms import ModeSpec, Opener

_TOKEN = re.compile(r"\S+")
_HEX_DATA = re.compile(r"[0-9A-Fa-f]+(?:\s+[0-9A-Fa-f]+)*")


class Mode(Enum):
    USER = "user"  # host>
    PRIV = "privileged"  # host#
    CONFIG = "config"  # host(config...)#


@dataclass(frozen=True)
class Reply:
    """What the device prints after echoing a line (``\\n`` line ends), and whether it hangs up."""

    output: str = ""
    close: bool = False


class CliError(Exception):
    """Stops handling a line; ``output`` is the error text the device prints."""

    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


@dataclass(frozen=True)
class _Exec:
    words: tuple[str, ...]  # keywords, each matched by unique prefix
    action: str  # CliSession method ``_x_<action>``
    user: bool = False  # available at user level (host>)
    args: str = "none"  # "none" | "optional" | "required"
    platform: str | None = None  # only on this platform (``Platform.name``); None: both


_EXEC_COMMANDS = (
    _Exec(("enable",), "enable", user=True),
    _Exec(("disable",), "disable"),
    _Exec(("exit",), "logout", user=True),
    _Exec(("logout",), "logout", user=True),
    _Exec(("quit",), "logout", user=True),
    _Exec(("configure",), "configure", args="optional"),
    _Exec(("show", "running-config"), "show_running", args="optional"),
    _Exec(("show", "startup-config"), "show_startup"),
    _Exec(("show", "version"), "show_version", user=True),
    _Exec(("show", "clock"), "show_clock", user=True),
    _Exec(("show", "hostname"), "show_hostname", user=True),
    _Exec(("show", "privilege"), "show_privilege", user=True),
    _Exec(("show", "ip", "interface", "brief"), "show_ip_interface_brief", user=True),
    # Netmiko sends these at login on one platform or another; all are accepted everywhere.
    _Exec(("terminal", "length"), "terminal", user=True, args="required"),
    _Exec(("terminal", "width"), "terminal", user=True, args="required"),
    _Exec(("terminal", "pager"), "terminal", user=True, args="required"),
    _Exec(("terminal", "monitor"), "noop", user=True),
    _Exec(("terminal", "no", "monitor"), "noop", user=True),
    _Exec(("no", "terminal", "pager"), "noop", user=True),
    _Exec(("write",), "write", args="optional"),
    _Exec(("copy",), "copy", args="required"),
    _Exec(("dir",), "dir", args="optional"),
    _Exec(("more",), "more", args="required"),
    _Exec(("delete",), "delete", args="required"),
    _Exec(("show", "configuration", "sessions"), "show_sessions", platform="arista_eos"),
)
_HHMMSS = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")
_NO_ROLLBACK = "% No Rollback Confirmed Change pending\n"
_REPLACE_QUESTION = (
    "This will apply all necessary additions and deletions to replace the current running configuration with "
    "the contents of the specified configuration file, which is assumed to be a complete configuration, not a "
    "partial configuration. Enter Y if you are sure you want to proceed. ? [no]: ")
_FILTERS = ("include", "exclude", "begin", "section")


def _tokens(text: str, base: int = 0) -> tuple[list[str], list[int]]:
    found = list(_TOKEN.finditer(text))
    return [m.group() for m in found], [base + m.start() for m in found]


class CliSession:
    """The CLI state of one SSH session: mode, position in the config tree, pending questions."""

    def __init__(self, device: Device, username: str) -> None:
        self.device = device
        self.platform = device.platform
        self.username = username
        self.mode = Mode.PRIV if device.spec.privilege == 15 else Mode.USER
        self._path: list[tuple[config_tree.Node, ModeSpec, str]] = []  # open sections, outermost first
        self._pending: Callable[[str], Reply] | None = None  # the device asked a question
        self._pending_prompt = ""
        self.hide_input = False  # the pending question is a secret: do not echo
        self._session: str | None = None  # the EOS configuration session being edited
        self._session_tree: config_tree.Node | None = None  # its private copy of the config
        self._generation = device.generation  # the running config whose sections _path holds
        self._raw: list[str] = []  # data lines of an open data section (certificate hex), until ``quit``

    # -- prompt and entry point ---------------------------------------------------------------
    @property
    def prompt(self) -> str:
        if self._pending is not None:
            return self._pending_prompt
        host = self.device.hostname
        if self.mode is Mode.USER:
            return f"{host}>"
        if self.mode is Mode.PRIV:
            return f"{host}#"
        where = self._path[-1][2] if self._path else "config"
        if self._session is not None:  # EOS: host(config-s-mspctl)#, host(config-s-mspctl-if-Et1)#
            where = f"config-s-{self._session[:6]}" + where[len("config"):]
        return f"{host}({where})#"

    @property
    def awaiting_answer(self) -> bool:
        """The device asked a question (secret, file name, banner text): the next line answers it."""
        return self._pending is not None

    def greeting(self) -> str:
        """Printed once at login, before the first prompt: the MOTD banner when one is configured."""
        for node in self.device.running.children:
            if node.text.startswith("banner motd") and "\n" in node.text:
                return "\n".join(node.text.split("\n")[1:-1]) + "\n"
        return "\n"

    def handle(self, line: str) -> Reply:
        """Run one input line in the current mode; never raises for bad input."""
        self.device.tick()
        lost = self._sync()
        if lost:
            return Reply(lost)
        pending, self._pending, self.hide_input = self._pending, None, False
        if pending is not None:
            return pending(line)
        stripped = line.strip()
        if not stripped:
            return Reply()
        for pattern, error in self.device.knobs.reject.items():
            if re.search(pattern, stripped):
                column = len(line) - len(line.lstrip())
                return Reply(f"{error}\n" if error else self.platform.invalid_input(self.prompt, column))
        if self.mode is Mode.CONFIG and self.device.knobs.ignore and re.search(self.device.knobs.ignore, stripped):
            return Reply()
        try:
            if self.mode is Mode.CONFIG:
                return self._config(line)
            return self._exec(line)
        except CliError as err:
            return Reply(err.output)

    def _ask(self, prompt: str, handler: Callable[[str], Reply], hide: bool = False) -> None:
        self._pending, self._pending_prompt, self.hide_input = handler, prompt, hide

    def _invalid(self, column: int) -> CliError:
        return CliError(self.platform.invalid_input(self.prompt, column))

    def _incomplete(self) -> CliError:
        return CliError(self.platform.incomplete())

    # -- exec mode ------------------------------------------------------------------------------
    def _exec(self, line: str, base: int = 0, privileged: bool = False) -> Reply:
        command, pipe, filter_text = line.partition("|")
        tokens, offsets = _tokens(command, base)
        if not tokens:
            raise self._invalid(base + len(command))
        level_ok = privileged or self.mode is not Mode.USER
        available = [c for c in _EXEC_COMMANDS if (c.user or level_ok)
                     and c.platform in (None, self.platform.name)]
        cmd, used = self._match(tokens, offsets, available)
        args = tokens[used:]
        if cmd.args == "none" and args:
            raise self._invalid(offsets[used])
        if cmd.args == "required" and not args:
            raise self._incomplete()
        reply: Reply = getattr(self, f"_x_{cmd.action}")(cmd, args, offsets[used:])
        if pipe:
            if cmd.words[0] not in ("show", "write"):
                raise self._invalid(base + len(command))
            reply = Reply(self._filter(reply.output, filter_text, base + len(command) + 1))
        return reply

    def _match(self, tokens: list[str], offsets: list[int], available: list[_Exec]) -> tuple[_Exec, int]:
        """The command whose keywords the leading tokens abbreviate, and how many tokens it used."""
        cands = available
        for i in range(len(tokens) + 1):
            done = [c for c in cands if len(c.words) == i]
            if done:  # no command's keywords are a prefix of another's, so this is the one
                return done[0], i
            if i == len(tokens):
                raise self._incomplete()
            word = tokens[i].lower()
            exact = [c for c in cands if c.words[i] == word]
            cands = exact or [c for c in cands if c.words[i].startswith(word)]
            if not cands:
                raise self._invalid(offsets[i])
            if len({c.words[i] for c in cands}) > 1:
                raise CliError(self.platform.ambiguous(" ".join(tokens[: i + 1])))
        raise self._incomplete()  # pragma: no cover - the loop always returns or raises

    def _filter(self, text: str, spec: str, base: int) -> str:
        words, offsets = _tokens(spec, base)
        if not words:
            raise self._incomplete()
        kinds = [k for k in _FILTERS if k.startswith(words[0].lower())]
        if len(kinds) != 1:
            raise self._invalid(offsets[0])
        pattern = spec.split(None, 1)[1].strip() if len(words) > 1 else ""
        if not pattern:
            raise self._incomplete()
        try:
            rx = re.compile(pattern)
        except re.error:
            raise self._invalid(offsets[1]) from None
        lines = text.rstrip("\n").split("\n")
        kind = kinds[0]
        if kind == "include":
            kept = [ln for ln in lines if rx.search(ln)]
        elif kind == "exclude":
            kept = [ln for ln in lines if not rx.search(ln)]
        elif kind == "begin":
            first = next((n for n, ln in enumerate(lines) if rx.search(ln)), len(lines))
            kept = lines[first:]
        else:
            kept = _section_filter(lines, rx)
        return "".join(ln + "\n" for ln in kept)

    # exec actions: each takes (command, args, arg offsets) and returns a Reply
    def _x_noop(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply()

    def _x_terminal(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        if not args[0].isdigit():
            raise self._invalid(offsets[0])
        return Reply(self.platform.terminal_reply(cmd.words[1], args[0]))

    def _x_enable(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        secret = self.device.spec.enable_secret
        if self.mode is Mode.USER:
            if not secret:
                self.mode = Mode.PRIV
            else:
                self._ask("Password: ", self._check_secret, hide=True)
        return Reply()

    def _check_secret(self, line: str) -> Reply:
        # One try, then back to user level: a wrong secret fails fast instead of re-prompting.
        if line.rstrip("\r\n") == self.device.spec.enable_secret:
            self.mode = Mode.PRIV
            return Reply()
        return Reply(self.platform.bad_secret())

    def _x_disable(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        self.mode = Mode.USER
        return Reply()

    def _x_logout(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply(close=True)

    def _x_configure(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        """``configure [terminal]``, plus each platform's safe-change forms:

        IOS: ``configure terminal revert timer [idle] <1-120>``, ``configure confirm``,
        ``configure revert now | timer [idle] <1-120>``, ``configure replace flash:F [force]``.
        EOS: ``configure session NAME [commit [timer hh:mm:ss] | abort]``, ``configure replace flash:F``.
        """
        eos = self.platform.name == "arista_eos"
        if not args:
            return self._enter_config()
        choices = ("terminal", "replace", "session") if eos else ("terminal", "confirm", "replace", "revert")
        what = self._keyword(args, offsets, 0, choices)
        rest, at = args[1:], offsets[1:]
        if what == "terminal":
            if not rest:
                return self._enter_config()
            if eos:
                raise self._invalid(at[0])
            self._keyword(args, offsets, 1, ("revert",))
            if len(rest) < 2:
                raise self._incomplete()
            self._keyword(args, offsets, 2, ("timer",))
            return self._revert_timer(self._ios_minutes(args[3:], offsets[3:]))
        if what == "confirm":
            if rest:
                raise self._invalid(at[0])
            if self.device.pending is None or self.device.pending.session is not None:
                return Reply(_NO_ROLLBACK)
            self.device.pending = None  # the change stays
            return Reply()
        if what == "revert":
            if not rest:
                raise self._incomplete()
            how = self._keyword(args, offsets, 1, ("now", "timer"))
            if how == "now" and len(rest) > 1:
                raise self._invalid(at[1])
            minutes = self._ios_minutes(args[2:], offsets[2:]) if how == "timer" else 0
            pending = self.device.pending
            if pending is None or pending.session is not None:
                return Reply(_NO_ROLLBACK)
            if how == "now":
                self.device.revert_now()
            else:
                self.device.start_timer(minutes, pending.snapshot)  # the same snapshot, a new deadline
            return Reply()
        if what == "replace":
            if not rest:
                raise self._incomplete()
            force = eos  # EOS asks nothing
            if len(rest) > 1:
                if eos or len(rest) > 2:
                    raise self._invalid(at[1 if eos else 2])
                force = self._keyword(args, offsets, 2, ("force",)) == "force"
            return self._replace(rest[0], at[0], force)
        if not rest:  # session
            raise self._incomplete()
        return self._session_command(rest[0], rest[1:], at[1:])

    def _keyword(self, args: list[str], offsets: list[int], i: int, choices: tuple[str, ...]) -> str:
        """The one of ``choices`` that ``args[i]`` abbreviates (ambiguous or none: the platform's error)."""
        word = args[i].lower()
        if word in choices:
            return word
        cands = [c for c in choices if c.startswith(word)]
        if len(cands) == 1:
            return cands[0]
        if cands:
            raise CliError(self.platform.ambiguous(" ".join(["configure", *args[: i + 1]])))
        raise self._invalid(offsets[i])

    def _ios_minutes(self, args: list[str], offsets: list[int]) -> int:
        """IOS ``[idle] <1-120>`` after ``revert timer`` (idle counts like an absolute timer here)."""
        if args and not args[0].isdigit():
            if not "idle".startswith(args[0].lower()):
                raise self._invalid(offsets[0])
            args, offsets = args[1:], offsets[1:]
        if not args:
            raise self._incomplete()
        if len(args) > 1:
            raise self._invalid(offsets[1])
        if not args[0].isdigit() or not 1 <= int(args[0]) <= 120:
            raise self._invalid(offsets[0])
        return int(args[0])

    def _enter_config(self, session: str | None = None) -> Reply:
        self.mode, self._path = Mode.CONFIG, []
        self._session = session
        self._session_tree = self.device.sessions[session] if session is not None else None
        self._generation = self.device.generation
        return Reply(self.platform.config_banner())

    def _leave_config(self) -> None:
        self.mode, self._path, self._session, self._session_tree = Mode.PRIV, [], None, None

    def _sync(self) -> str:
        """Catch up with changes made elsewhere before a line is handled: a running config swapped
        whole (revert, replace, commit) closes the sub-modes of the old one; a configuration
        session committed or aborted by another client ends this client's editing of it."""
        dev = self.device
        if self.mode is not Mode.CONFIG:
            return ""
        if self._session is not None:
            if dev.sessions.get(self._session) is self._session_tree:
                return ""
            name = self._session
            self._leave_config()
            self._pending, self.hide_input = None, False
            return f"% Configuration session {name} was committed or aborted elsewhere\n"
        if self._generation != dev.generation:
            self._generation, self._path = dev.generation, []
        return ""

    def _revert_timer(self, minutes: int) -> Reply:
        """IOS: archive the running config, enter config mode, revert unless confirmed in time."""
        dev = self.device
        if dev.pending is not None:
            return Reply("% A Rollback Confirmed Change is already pending\n")
        if dev.archive_path() is None:
            return Reply('% Archive path is not configured; configure "archive" and "path" first\n')
        dev.write_archive()
        dev.start_timer(minutes, dev.running.copy())
        return self._enter_config()

    def _replace(self, location: str, column: int, force: bool) -> Reply:
        name = self._flash_name(location, column)
        if name not in self.device.flash:
            return Reply(self._no_file(name))
        text = self.device.flash[name]

        def do() -> Reply:
            self.device.replace(text, self.username)
            return Reply("" if self.platform.name == "arista_eos" else "Total number of passes: 1\nRollback Done\n\n")

        if force:
            return do()

        def answer(line: str) -> Reply:
            return do() if line.strip().lower() in ("y", "yes") else Reply()

        self._ask(_REPLACE_QUESTION, answer)
        return Reply()

    def _session_command(self, name: str, rest: list[str], offsets: list[int]) -> Reply:
        """EOS ``configure session NAME [commit [timer hh:mm:ss] | abort]``."""
        dev = self.device
        pending_here = dev.pending is not None and dev.pending.session == name
        if not rest:
            if pending_here:
                return Reply(f"% Session {name} is pending a commit timer; commit or abort it first\n")
            dev.sessions.setdefault(name, dev.running.copy())
            return self._enter_config(name)
        action = self._keyword(["session", name, *rest], [0, 0, *offsets], 2, ("commit", "abort"))
        if action == "commit":
            timer = self._eos_timer(rest[1:], offsets[1:])
            if pending_here and dev.pending is not None:
                if timer is None:
                    dev.pending = None  # confirmed: the change stays
                else:
                    dev.start_timer(timer, dev.pending.snapshot, session=name)  # a new deadline
                return Reply()
            if name not in dev.sessions:
                return Reply(f"% No pending configuration session named {name}\n")
            return self._commit(name, timer)
        if len(rest) > 1:
            raise self._invalid(offsets[1])
        if pending_here:
            dev.revert_now()
            return Reply()
        if dev.sessions.pop(name, None) is None:
            return Reply(f"% No pending configuration session named {name}\n")
        return Reply()

    def _eos_timer(self, rest: list[str], offsets: list[int]) -> float | None:
        """EOS ``timer hh:mm:ss`` after ``commit``, in timer minutes; None when absent."""
        if not rest:
            return None
        if not "timer".startswith(rest[0].lower()):
            raise self._invalid(offsets[0])
        if len(rest) == 1:
            raise self._incomplete()
        m = _HHMMSS.match(rest[1])
        if len(rest) > 2:
            raise self._invalid(offsets[2])
        seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) if m else 0
        if m is None or int(m.group(2)) > 59 or int(m.group(3)) > 59 or not seconds:
            raise self._invalid(offsets[1])
        return seconds / 60

    def _commit(self, name: str, minutes: float | None) -> Reply:
        """The session's config becomes the running config; with a timer, the device reverts to
        what ran before unless the commit is confirmed in time. One commit timer at a time."""
        dev = self.device
        if minutes is not None and dev.pending is not None and dev.pending.session != name:
            return Reply(f"% Session {dev.pending.session} is pending a commit timer; commit or abort it first\n")
        before = dev.running.copy()
        dev.commit(dev.sessions.pop(name), self.username)
        if minutes is not None:
            dev.start_timer(minutes, before, session=name)
        self._leave_config()
        return Reply()

    def _root(self) -> config_tree.Node:
        return self._session_tree if self._session_tree is not None else self.device.running

    def _changed(self) -> None:
        if self._session is None:  # a session's edits change nothing until it is committed
            self.device.changed(self.username)

    # -- flash -------------------------------------------------------------------------------
    def _flash_name(self, location: str, column: int) -> str:
        """``flash:NAME`` or ``flash:/NAME`` -> NAME; any other location is invalid input."""
        name = location[len("flash:"):].lstrip("/") if location.lower().startswith("flash:") else ""
        if not name:
            raise self._invalid(column)
        return name

    def _no_file(self, name: str) -> str:
        if self.platform.name == "arista_eos":
            return f"% Error: File not found: flash:{name}\n"
        return f"%Error opening flash:{name} (No such file or directory)\n"

    def _x_copy(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        if not "running-config".startswith(args[0].lower()):
            raise self._invalid(offsets[0])
        if len(args) != 2:
            raise self._incomplete() if len(args) == 1 else self._invalid(offsets[2])
        if "startup-config".startswith(args[1].lower()):
            return self._x_copy_run_start(cmd, args, offsets)
        name = self._flash_name(args[1], offsets[1])
        text = self.device.running_text()
        if self.platform.name == "arista_eos":
            self.device.flash[name] = text
            return Reply("Copy completed successfully.\n")

        def store(answer: str) -> Reply:
            typed = answer.strip()
            target = (typed[len("flash:"):] if typed.lower().startswith("flash:") else typed).lstrip("/") or name
            self.device.flash[target] = text
            size = len(text.encode())
            return Reply(f"{size} bytes copied in 0.010 secs ({size} bytes/sec)\n")

        self._ask(f"Destination filename [{name}]? ", store)
        return Reply()

    def _x_dir(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        if len(args) > 1 or (args and args[0].lower().rstrip("/") != "flash:"):
            raise self._invalid(offsets[1] if len(args) > 1 else offsets[0])
        files = list(self.device.flash.items())
        used = sum(len(text.encode()) for _, text in files)
        total = 3957878784 if self.platform.name == "arista_eos" else 7194652672
        if self.platform.name == "arista_eos":
            rows = [f"       -rw-  {len(text.encode()):>12}  {name}" for name, text in files]
        else:
            rows = [f"  {n:>4}  -rw-  {len(text.encode()):>12}  {name}" for n, (name, text) in enumerate(files, 1)]
        listing = "\n".join(rows) if rows else "No files in directory"
        return Reply(f"Directory of flash:/\n\n{listing}\n\n{total} bytes total ({total - used} bytes free)\n")

    def _x_more(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        if len(args) > 1:
            raise self._invalid(offsets[1])
        name = self._flash_name(args[0], offsets[0])
        if name not in self.device.flash:
            return Reply(self._no_file(name))
        text = self.device.flash[name]
        return Reply(text if text.endswith("\n") or not text else text + "\n")

    def _x_delete(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        eos = self.platform.name == "arista_eos"
        force = not eos and args[0].lower() in ("/force", "/f")
        rest, at = (args[1:], offsets[1:]) if force else (args, offsets)
        if len(rest) != 1:
            raise self._incomplete() if not rest else self._invalid(at[1])
        name = self._flash_name(rest[0], at[0])
        if name not in self.device.flash:
            return Reply(self._no_file(name))
        if force or eos:
            del self.device.flash[name]
            return Reply()

        def filename(line: str) -> Reply:
            typed = line.strip()
            target = (typed[len("flash:"):] if typed.lower().startswith("flash:") else typed).lstrip("/") or name
            if target not in self.device.flash:
                return Reply(self._no_file(target))

            def confirm(answer: str) -> Reply:
                if answer.strip().lower() in ("", "y", "yes"):
                    self.device.flash.pop(target, None)
                return Reply()

            self._ask(f"Delete flash:/{target}? [confirm]", confirm)
            return Reply()

        self._ask(f"Delete filename [{name}]? ", filename)
        return Reply()

    def _x_show_sessions(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        """EOS ``show configuration sessions``: uncommitted sessions, and one pending its commit timer."""
        rows = [(name, "pending", "") for name in sorted(self.device.sessions)]
        p = self.device.pending
        if p is not None and p.session is not None:
            left = int(max(0.0, p.deadline - time.monotonic()) / self.device.knobs.minute_seconds * 60 + 0.999)
            rows.append((p.session, "pendingCommitTimer", f"{left // 3600:02d}:{left // 60 % 60:02d}:{left % 60:02d}"))
        lines = ["Maximum number of completed sessions: 1", "Maximum number of pending sessions: 5", "",
                 "  Name                 State                  Commit Time Left",
                 "  -------------------- ---------------------- ----------------"]
        lines += [f"{'*' if name == self._session else ' '} {name:<20} {state:<22} {left}".rstrip()
                  for name, state, left in rows]
        return Reply("\n".join(lines) + "\n")

    def _x_write(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        target = args[0].lower() if args else "memory"
        if len(args) > 1:
            raise self._invalid(offsets[1])
        if "memory".startswith(target):
            self.device.save(self.username)
            return Reply(self.platform.saved())
        if "terminal".startswith(target):
            return Reply(self.device.running_text())
        raise self._invalid(offsets[0])

    def _x_copy_run_start(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        if self.platform.name == "arista_eos":
            self.device.save(self.username)
            return Reply(self.platform.saved())
        self._ask("Destination filename [startup-config]? ", self._confirm_copy)
        return Reply()

    def _confirm_copy(self, line: str) -> Reply:
        if line.strip() in ("", "startup-config"):
            self.device.save(self.username)
            return Reply(self.platform.saved())
        return Reply(f"%Error opening flash:{line.strip()} (Permission denied)\n")

    def _x_show_running(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        if not args or (len(args) == 1 and "all".startswith(args[0].lower())):
            return Reply(self.device.running_text())
        what = args[0].lower()
        if "interface".startswith(what) and len(args) >= 2:
            name = self.platform.normalize_ifname("".join(args[1:]))
            node = self.device.running.find(f"interface {name}") if name else None
            if node is None:
                raise self._invalid(offsets[1])
            return Reply(self.platform.show_running(self.device, config_tree.Node("", [node])))
        if "section".startswith(what) and len(args) >= 2:
            return Reply(self._filter(self.device.running_text(), "section " + " ".join(args[1:]), offsets[0]))
        if len(args) == 1 and what in ("interface", "section"):
            raise self._incomplete()
        raise self._invalid(offsets[0])

    def _x_show_startup(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply(self.device.startup_text())

    def _x_show_version(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply(self.platform.show_version(self.device))

    def _x_show_clock(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply(self.platform.show_clock())

    def _x_show_hostname(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply(f"Hostname: {self.device.hostname}\nFQDN:     {self.device.hostname}\n")

    def _x_show_privilege(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply(f"Current privilege level is {1 if self.mode is Mode.USER else 15}\n")

    def _x_show_ip_interface_brief(self, cmd: _Exec, args: list[str], offsets: list[int]) -> Reply:
        return Reply(self.platform.show_ip_interface_brief(self.device))

    # -- configuration mode -------------------------------------------------------------------
    def _modes(self) -> list[ModeSpec]:
        return [self.platform.mode("config"), *(spec for _, spec, _ in self._path)]

    def _config(self, line: str) -> Reply:
        stripped = line.strip()
        if self._path and self._path[-1][1].raw_until is not None:
            raw = self._raw_line(stripped)
            if raw is not None:
                return raw
        if stripped.startswith("!"):
            return Reply()
        tokens, offsets = _tokens(line)
        head = tokens[0].lower()
        if head == "end" and len(tokens) == 1:
            self._leave_config()  # an EOS session stays pending, uncommitted
            return Reply()
        if head in ("exit", "exit-address-family") and len(tokens) == 1:
            if self._path:
                self._path.pop()
            else:
                self._leave_config()
            return Reply()
        if self._session is not None and head in ("commit", "abort"):
            if head == "abort" and len(tokens) == 1:
                self.device.sessions.pop(self._session, None)
                self._leave_config()
                return Reply()
            if head == "commit":
                return self._commit(self._session, self._eos_timer(tokens[1:], offsets[1:]))
        if head == "do" and len(tokens) > 1:
            return self._exec(line[offsets[1]:], offsets[1], privileged=True)
        if head == "banner":
            self._path.clear()  # a global command: leaves any sub-mode, as on the real CLI
            return self._banner(stripped)
        negate = head in ("no", "default")
        body, body_offsets = (tokens[1:], offsets[1:]) if negate else (tokens, offsets)
        if not body:
            raise self._incomplete()
        depth, keyword = self._resolve(body, body_offsets[0])
        body = self._canonical([keyword, *body[1:]], body_offsets)
        mode = self._modes()[depth]
        opener = self._opener(mode, body, body_offsets)
        bare = (len(body) == 1 and not negate and mode.keywords is not None and keyword not in self.platform.bare_ok
                and not (opener is not None and opener.bare))
        if bare or (opener is not None and len(body) == len(opener.words) and not opener.bare):
            raise self._incomplete()
        del self._path[depth:]  # only now: a refused line leaves the session in its sub-mode
        parent = self._path[-1][0] if self._path else self._root()
        text = " ".join(body) if opener is not None else self.platform.canonical(mode.name, " ".join(body))
        if opener is not None:
            if negate:
                config_tree.remove(parent, text)
            else:
                node = config_tree.open_section(parent, text)
                prompt = self.platform.section_prompt(opener, text)
                self._path.append((node, self.platform.mode(opener.mode), prompt))
                self._raw = []  # a data section (certificate hex) starts empty
        elif negate:
            self._negate(parent, text, keep_negation=head == "no", mode=mode)
        else:
            self._set(parent, text, mode)
        self._changed()
        return Reply()

    def _raw_line(self, stripped: str) -> Reply | None:
        """A line typed in a data section (IOS certificate hex): hex is kept; ``quit`` ends the data,
        which replaces the section's old data. Any other line also ends it and is then handled
        as usual (None), so ``end`` or a global command typed without ``quit`` still works."""
        node, spec, _ = self._path[-1]
        if _HEX_DATA.fullmatch(stripped):
            self._raw.append(stripped)
            return Reply()
        if self._raw:  # nothing typed keeps the old data
            node.children = [config_tree.Node(data) for data in self._raw]
        self._raw = []
        self._path.pop()
        self._changed()
        return Reply() if stripped.lower() == spec.raw_until else None

    def _resolve(self, body: list[str], column: int) -> tuple[int, str]:
        """The mode depth that accepts the line ``body`` (innermost first, like IOS: a line a
        sub-mode does not take falls back to its parent) and its first keyword in full."""
        modes = self._modes()
        word = body[0]
        lower = word.lower()
        rest = [w.lower() for w in body[1:]]
        for depth in range(len(modes) - 1, -1, -1):
            spec = modes[depth]
            outer = modes[:depth]
            if spec.keywords is None:
                # A free-form sub-mode keeps its own sub-sections (EOS ``vrf X`` under ``router bgp``)
                # and any other line, unless an outer mode owns the word outright.
                if any(o.words[0] == lower for o in spec.openers) and not spec.refuses([lower, *rest]):
                    return depth, lower
                if any(lower in (m.keywords or ()) or any(o.words[0] == lower for o in m.openers) for m in outer):
                    continue
                return depth, word
            known = spec.keywords | {o.words[0] for o in spec.openers}
            cands = [lower] if lower in known else sorted(k for k in known if k.startswith(lower))
            if len(cands) > 1:
                if any(lower in (m.keywords or ()) for m in outer):
                    continue  # ``key chain X`` typed in a mode that knows key-hash and key-string
                raise CliError(self.platform.ambiguous(word))
            if cands and not (depth and spec.refuses([cands[0], *rest])):
                return depth, cands[0]
        raise self._invalid(column)

    def _canonical(self, body: list[str], offsets: list[int]) -> list[str]:
        """``interface gi 0/1`` -> ``interface GigabitEthernet0/1``; other lines stay as typed."""
        if body[0] != "interface" or len(body) < 2:
            return body
        rest = body[1:]
        if len(rest) >= 2 and rest[0].isalpha() and rest[1][:1].isdigit():
            rest = [rest[0] + rest[1], *rest[2:]]
        name = self.platform.normalize_ifname(rest[0])
        if name is None:
            raise self._invalid(offsets[1])
        return ["interface", name, *rest[1:]]

    def _opener(self, mode: ModeSpec, body: list[str], offsets: list[int]) -> Opener | None:
        lower = [w.lower() for w in body]
        best: Opener | None = None
        for opener in mode.openers:
            n = len(opener.words)
            if opener.takes(lower) and (best is None or n > len(best.words)):
                best = opener
        if best is not None:
            body[: len(best.words)] = best.words
        elif lower[0] in mode.opener_only:
            if len(body) == 1:
                raise self._incomplete()
            raise self._invalid(offsets[1])
        return best

    def _set(self, parent: config_tree.Node, text: str, mode: ModeSpec) -> None:
        if parent.find("no " + text) is not None:  # "ip domain lookup" undoes "no ip domain lookup"
            config_tree.remove(parent, "no " + text)
        if text in self.platform.stored_negations or text in mode.stored_negations:
            return  # the positive form is the default: shown by no line at all
        config_tree.set_line(parent, text, self.platform.key_words(text))

    def _negate(self, parent: config_tree.Node, text: str, keep_negation: bool, mode: ModeSpec) -> None:
        if text in self.platform.stored_negations or text in mode.stored_negations:
            config_tree.remove(parent, text)
            if keep_negation:
                config_tree.set_line(parent, "no " + text)
            return
        if config_tree.remove(parent, text):
            return
        key = self.platform.key_words(text)  # "no description whatever" drops the description
        if key:
            doomed = config_tree.key_of(text, key)
            parent.children = [c for c in parent.children if config_tree.key_of(c.text, key) != doomed]

    def _banner(self, line: str) -> Reply:
        words = line.split(None, 2)
        if len(words) < 2:
            raise self._incomplete()
        kind = words[1].lower()
        if self.platform.banner_eof:
            collected: list[str] = []

            def take_eof(text: str) -> Reply:
                if text.strip() == "EOF":
                    self._store_banner(f"banner {kind}\n" + "".join(ln + "\n" for ln in collected) + "EOF")
                    return Reply()
                collected.append(text.rstrip("\r\n"))
                self._ask("", take_eof)
                return Reply()

            self._ask("", take_eof)
            return Reply("Enter TEXT message. Type 'EOF' on its own line to end.\n")
        if len(words) < 3:
            raise self._incomplete()
        rest = words[2]
        delim = "^C" if rest.startswith("^C") else rest[0]
        after = rest[len(delim):]
        if delim in after:
            self._store_banner(f"banner {kind} ^C{after[: after.index(delim)]}^C")
            return Reply()
        lines = [after] if after else []

        def take(text: str) -> Reply:
            text = text.rstrip("\r\n")
            if delim in text:
                if text[: text.index(delim)]:
                    lines.append(text[: text.index(delim)])
                body = "\n".join(lines)
                self._store_banner(f"banner {kind} ^C\n{body}\n^C")
                return Reply()
            lines.append(text)
            self._ask("", take)
            return Reply()

        self._ask("", take)
        return Reply(f"Enter TEXT message.  End with the character '{delim}'.\n")

    def _store_banner(self, text: str) -> None:
        config_tree.set_line(self._root(), text, key_words=2)
        self._changed()


def _section_filter(lines: list[str], rx: re.Pattern[str]) -> list[str]:
    """IOS ``| section``: a block whose first line matches whole, else its header and matching children."""
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        if rx.search(block[0]):
            out.extend(block)
            return
        children = [ln for ln in block[1:] if rx.search(ln)]
        if children:
            out.extend([block[0], *children])

    for line in lines:
        if line[:1].isspace() and block:
            block.append(line)
        else:
            flush()
            block = [line]
    flush()
    return out
