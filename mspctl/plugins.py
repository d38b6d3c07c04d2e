"""mspctl's extension points: one generic register that loads entry points, in nornir's style.

Each kind of plugin has a Protocol and an entry-point group. Built-ins are registered through
mspctl's own ``pyproject.toml`` exactly as a third-party package registers its plugins, so
``mspctl plugins list`` shows both the same way:

- ``mspctl.inventory_sources``: `InventorySource` (NetBox);
- ``mspctl.executors``: `ExecutorBackend` (local, celery);
- ``mspctl.drivers``: `DeviceDriver` (netmiko, the default);
- ``mspctl.report_formats``: `ReportFormat` (the client report's html, md, json and csv).

An entry point names an object (a class or an instance); the register loads it on first use, so
a broken third-party plugin fails only the run that asks for it, with `PluginError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mspctl.errors import PluginError, UnknownPluginError

if TYPE_CHECKING:
    from mspctl.executor import Executor
    from mspctl.settings import Settings

@dataclass(frozen=True)
class PluginInfo:
    """Where one plugin comes from: its kind (entry-point group), name, the object it names
    (``module:attr``), and the distribution (package and version) that declares it."""

    kind: str
    name: str
    value: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.distribution == "mspctl"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "object": self.value,
                "package": self.distribution, "version": self.version, "builtin": self.builtin}


class PluginRegister[T]:
    """The plugins of one kind: entry points of `group`, plus any registered in code (tests,
    or a program that embeds mspctl). Entry points are read once, objects loaded on first use."""

    def __init__(self, group: str, protocol: type[Any]) -> None:
        self.group = group
        self.protocol = protocol
        self._entries: dict[str, tuple[PluginInfo, metadata.EntryPoint | None]] | None = None
        self._loaded: dict[str, T] = {}

    def _scan(self) -> dict[str, tuple[PluginInfo, metadata.EntryPoint | None]]:
        if self._entries is None:
            found: dict[str, tuple[PluginInfo, metadata.EntryPoint | None]] = {}
            for ep in metadata.entry_points(group=self.group):
                dist = getattr(ep, "dist", None)
                name = dist.metadata["Name"] if dist is not None else "?"
                version = dist.version if dist is not None else "?"
                # A plugin of mspctl's own name always wins over a third party's of the same name.
                if ep.name in found and found[ep.name][0].builtin:
                    continue
                found[ep.name] = (PluginInfo(self.group, ep.name, ep.value, name, version), ep)
            self._entries = found
        return self._entries

    def register(self, name: str, plugin: T, *, distribution: str = "code") -> None:
        """Register `plugin` under `name` in this process (replacing an entry point of that name)."""
        value = f"{type(plugin).__module__}:{getattr(plugin, '__qualname__', type(plugin).__qualname__)}"
        self._scan()[name] = (PluginInfo(self.group, name, value, distribution, ""), None)
        self._loaded[name] = plugin

    def unregister(self, name: str) -> None:
        self._scan().pop(name, None)
        self._loaded.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._scan())

    def entries(self) -> list[PluginInfo]:
        return [self._scan()[n][0] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._scan()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The plugin named `name`. Raises `UnknownPluginError` (naming what is installed) or
        `PluginError` when its entry point does not load or is not a `protocol`."""
        if name in self._loaded:
            return self._loaded[name]
        entries = self._scan()
        if name not in entries:
            raise UnknownPluginError(
                f"no {self.kind} plugin named {name!r}",
                hint=f"installed: {', '.join(self.names()) or 'none'} (see `mspctl plugins list`)")
        info, ep = entries[name]
        assert ep is not None  # registered-in-code plugins are always in _loaded
        try:
            obj = ep.load()
        except Exception as e:  # a third party's import error must not look like ours
            raise PluginError(f"{self.kind} plugin {name!r} ({info.value}, from {info.distribution}) "
                              f"does not load: {type(e).__name__}: {e}",
                              hint=f"reinstall or remove the package {info.distribution}") from e
        if isinstance(obj, type) and not isinstance(obj, self.protocol) and _wants_instance(self.protocol):
            obj = obj()
        if not isinstance(obj, self.protocol):
            raise PluginError(f"{self.kind} plugin {name!r} ({info.value}, from {info.distribution}) "
                              f"is not a {self.protocol.__name__}",
                              hint=f"see docs/plugins.md for the {self.protocol.__name__} protocol")
        self._loaded[name] = obj
        return obj  # type: ignore[no-any-return]

    @property
    def kind(self) -> str:
        return self.group.removeprefix("mspctl.").removesuffix("s").replace("_", " ")


def _wants_instance(protocol: type[Any]) -> bool:
    """Executors, drivers and report formats are used as instances; an inventory source is a
    class (it is built from settings), so its entry point stays the class."""
    return protocol is not InventorySourceClass


# -- the protocols -----------------------------------------------------------------------------

@runtime_checkable
class InventorySourceClass(Protocol):
    """An inventory source: a class built from the NetBox settings whose instances satisfy
    `mspctl.inventory.service.InventorySource`."""

    name: str

    def __call__(self, settings: Any) -> Any: ...


@runtime_checkable
class ExecutorBackend(Protocol):
    """Where device sessions and Ansible runs execute: ``local`` (threads and processes on this
    machine) or a distributed engine. `executor` returns the `mspctl.executor.Executor` for one run."""

    name: str

    def executor(self, settings: Settings, *, spread: bool = False, change: bool = False) -> Executor: ...


@runtime_checkable
class ReadSession(Protocol):
    """One open read-only session to a device."""

    def show(self, command: str) -> str: ...

    def running_config(self) -> str: ...

    def close(self) -> None: ...


@runtime_checkable
class DeviceDriver(Protocol):
    """A device session library (netmiko, scrapli). `session` opens a read session to a
    `mspctl.adapters.netmiko.DeviceTarget`; errors are `mspctl.errors.DeviceError`s."""

    name: str

    def session(self, target: Any, timeout: float) -> ReadSession: ...


@runtime_checkable
class ReportFormat(Protocol):
    """A client-report format: writes the report (`ClientReport.to_dict()`, schema-versioned)
    under `out` (a file, or a folder for formats of several files) and returns what it wrote."""

    name: str
    suffix: str

    def write(self, report: dict[str, Any], out: Path) -> list[Path]: ...


INVENTORY_SOURCES: PluginRegister[InventorySourceClass] = PluginRegister("mspctl.inventory_sources",
                                                                         InventorySourceClass)
EXECUTORS: PluginRegister[ExecutorBackend] = PluginRegister("mspctl.executors", ExecutorBackend)
DRIVERS: PluginRegister[DeviceDriver] = PluginRegister("mspctl.drivers", DeviceDriver)
REPORT_FORMATS: PluginRegister[ReportFormat] = PluginRegister("mspctl.report_formats", ReportFormat)

REGISTERS: tuple[PluginRegister[Any], ...] = (INVENTORY_SOURCES, EXECUTORS, DRIVERS, REPORT_FORMATS)


def installed() -> list[PluginInfo]:
    """Every plugin of every kind, built-ins and third-party, for `mspctl plugins list`."""
    return [info for reg in REGISTERS for info in reg.entries()]
