"""The state of one simulated device, shared by all of its SSH sessions and the control socket."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lab.devices import config_tree
from lab.devices.platforms import PLATFORMS, Platform, now
from lab.devices.spec import DeviceSpec, Knobs


@dataclass
class Counters:
    """What happened on the device since the last reset; tests read it to check retries and drops."""

    logins_ok: int = 0
    logins_failed: int = 0
    sessions_open: int = 0
    commands: int = 0
    drops: int = 0
    reverts: int = 0  # changes the device undid by itself (a revert or commit timer ran out)


@dataclass
class PendingRevert:
    """A change the device undoes by itself at ``deadline`` (time.monotonic()) unless confirmed:
    IOS ``configure terminal revert timer`` (``session`` None) or an EOS ``commit timer``."""

    deadline: float
    snapshot: config_tree.Node
    session: str | None = None


class Device:
    """Running and startup configuration, change stamps, knobs and counters of one device."""

    def __init__(self, spec: DeviceSpec) -> None:
        self.spec = spec
        self.platform: Platform = PLATFORMS[spec.platform]
        self.booted_at = now()
        self.generation = 0  # bumped whenever the running config is swapped whole (see _set_running)
        self.reset()

    def reset(self) -> None:
        """Back to the seeded configuration, the spec's knobs and zero counters; flash, EOS
        configuration sessions and any pending revert timer are gone."""
        self._set_running(self._seed(self.spec.running_config))
        startup = self.spec.startup_config
        self.startup = self._seed(startup) if startup is not None else self.running.copy()
        self.knobs: Knobs = self.spec.knobs
        self.counters = Counters()
        self.changed_at: datetime = self.booted_at
        self.changed_by = "console"
        self.saved_at: datetime | None = None
        self.saved_by = "console"
        self.flash: dict[str, str] = {}  # file name -> text
        self.sessions: dict[str, config_tree.Node] = {}  # EOS configuration sessions not yet committed
        self.pending: PendingRevert | None = None
        self.archives = 0  # IOS archive files written
        self.archive_files: list[str] = []  # the archive files still kept, oldest first

    def _set_running(self, tree: config_tree.Node) -> None:
        """Swap in a whole new running config. Bumps ``generation``: a CLI session that had a
        sub-mode of the old tree open leaves it rather than edit a tree that is gone."""
        self.running = tree
        self.generation += 1

    def tick(self) -> None:
        """Undo a pending change whose timer ran out: called on every command, control request
        and a periodic task, so a device whose client vanished reverts on its own."""
        if self.pending is not None and time.monotonic() >= self.pending.deadline:
            self._set_running(self.pending.snapshot)
            self.pending = None
            self.counters.reverts += 1
            self.changed("revert-timer")

    def start_timer(self, minutes: float, snapshot: config_tree.Node, session: str | None = None) -> None:
        """Revert to ``snapshot`` after ``minutes`` timer minutes (each ``knobs.minute_seconds`` long)."""
        self.pending = PendingRevert(time.monotonic() + minutes * self.knobs.minute_seconds, snapshot, session)

    def revert_now(self) -> None:
        if self.pending is not None:
            self._set_running(self.pending.snapshot)
            self.pending = None
            self.changed("revert-now")

    def commit(self, tree: config_tree.Node, user: str) -> None:
        """EOS ``commit``: a configuration session's tree becomes the running config."""
        self._set_running(tree)
        self.changed(user)

    def replace(self, text: str, user: str) -> None:
        """``configure replace``: the running config becomes exactly the file's; a pending timer ends."""
        self._set_running(self._seed(text))
        self.pending = None
        self.changed(user)

    def archive_path(self) -> str | None:
        """IOS: the ``path`` of the ``archive`` section, or None when there is none."""
        archive = self.running.find("archive")
        if archive is None:
            return None
        return next((c.text.split(None, 1)[1] for c in archive.children
                     if c.text.startswith("path ") and len(c.text.split()) > 1), None)

    def write_archive(self) -> str | None:
        """IOS: save the running config as the next archive file (``<path file part>-<n>``) and
        drop the oldest beyond the section's ``maximum`` (default 10); its name, or None."""
        path = self.archive_path()
        archive = self.running.find("archive")
        if path is None or archive is None:
            return None
        base = path.split(":", 1)[-1].lstrip("/").replace("$h", self.hostname)
        self.archives += 1
        name = f"{base}-{self.archives}"
        self.flash[name] = self.running_text()
        self.archive_files.append(name)
        maximum = next((int(c.text.split()[1]) for c in archive.children
                        if c.text.startswith("maximum ") and c.text.split()[1].isdigit()), 10)
        while len(self.archive_files) > max(maximum, 1):
            self.flash.pop(self.archive_files.pop(0), None)
        return name

    def _seed(self, text: str) -> config_tree.Node:
        tree = config_tree.parse(text)
        if not any(node.text.startswith("hostname ") for node in tree.children):
            tree.children.insert(0, config_tree.Node(f"hostname {self.spec.hostname}"))
        return tree

    @property
    def hostname(self) -> str:
        for node in self.running.children:
            if node.text.startswith("hostname "):
                return node.text.split(None, 1)[1]
        return self.platform.default_hostname

    def changed(self, user: str) -> None:
        self.changed_at = now()
        self.changed_by = user

    def save(self, user: str) -> None:
        """``write memory``: the running configuration becomes the startup configuration."""
        self.startup = self.running.copy()
        self.saved_at = now()
        self.saved_by = user
        archive = self.running.find("archive")
        if archive is not None and archive.find("write-memory") is not None:
            self.write_archive()  # IOS ``archive`` / ``write-memory``: every save is archived too

    def running_text(self) -> str:
        return self.platform.show_running(self)

    def startup_text(self) -> str:
        return self.platform.show_startup(self)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for the control socket and ``status``."""
        spec = self.spec
        pending = None if self.pending is None else max(0.0, self.pending.deadline - time.monotonic())
        return {"name": spec.name, "platform": spec.platform, "host": spec.host, "port": spec.port,
                "hostname": self.hostname, "knobs": self.knobs.to_dict(), "counters": vars(self.counters).copy(),
                "pending_revert": pending, "pending_session": None if self.pending is None else self.pending.session,
                "flash": sorted(self.flash), "sessions": sorted(self.sessions)}
