"""The device spec file (YAML or JSON) and the fault knobs: load, validate, describe.

A spec file is either a list of devices or a mapping ``{defaults: {...}, devices: [...]}``;
``defaults`` is merged under every device. See ``lab/devices/demo.yaml`` for an example.
Every error names the file and the device it is about.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

PLATFORMS = ("cisco_ios", "arista_eos")
DEFAULT_PORT = 2222
_PLATFORM_DEFAULTS = {
    "cisco_ios": {"os_version": "15.9(3)M7", "model": "ISR4331", "serial_prefix": "FDO"},
    "arista_eos": {"os_version": "4.28.3M", "model": "DCS-7050SX3-48YC8", "serial_prefix": "JPE"},
}


class SpecError(ValueError):
    """A spec file or a knob change that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Knobs:
    """Faults a device injects. All off by default; change them at runtime through the control socket.

    bad_credentials: reject every login, even with the configured username and password.
    command_delay:   seconds to wait before answering each non-empty command line.
    drop_after:      close the session right after answering its Nth command (counting the
                     ``terminal`` commands a client sends at login); the next command fails.
    drop_on:         regex; a command matching it is echoed, then the TCP connection is cut
                     without an answer (a crash or a management-plane change mid-command).
    reject:          regex -> error text; a matching command is refused, the state unchanged.
                     An empty or null text prints the platform's usual invalid-input error.
    ignore:          regex; a matching configuration line is answered as if accepted, but the
                     device does not keep it (a setting the platform silently drops).
    minute_seconds:  the length in real seconds of one timer minute (> 0): IOS ``revert timer M``
                     lasts M times this, EOS ``commit timer hh:mm:ss`` its minutes times this, so
                     tests need not wait real minutes.
    """

    bad_credentials: bool = False
    command_delay: float = 0.0
    drop_after: int | None = None
    drop_on: str | None = None
    reject: Mapping[str, str | None] = field(default_factory=dict)
    ignore: str | None = None
    minute_seconds: float = 60.0

    def updated(self, changes: Mapping[str, Any], where: str = "knobs") -> Knobs:
        """A copy with ``changes`` applied; a null value restores that knob's default."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise SpecError(f"{where}: unknown knob(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        defaults = Knobs()
        values = {k: (getattr(defaults, k) if v is None else v) for k, v in changes.items()}
        knobs = replace(self, **values)
        knobs._validate(where)
        return knobs

    def _validate(self, where: str) -> None:
        if not isinstance(self.bad_credentials, bool):
            raise SpecError(f"{where}: bad_credentials must be true or false")
        if not isinstance(self.command_delay, int | float) or self.command_delay < 0:
            raise SpecError(f"{where}: command_delay must be a number of seconds >= 0")
        if self.drop_after is not None and (not isinstance(self.drop_after, int) or self.drop_after < 1):
            raise SpecError(f"{where}: drop_after must be a command count >= 1")
        if isinstance(self.minute_seconds, bool) or not isinstance(self.minute_seconds, int | float) \
                or self.minute_seconds <= 0:
            raise SpecError(f"{where}: minute_seconds must be a number of seconds > 0")
        if not isinstance(self.reject, Mapping):
            raise SpecError(f"{where}: reject must map a regex to an error text (or null)")
        if self.drop_on is not None and not isinstance(self.drop_on, str):
            raise SpecError(f"{where}: drop_on must be a regex")
        if self.ignore is not None and not isinstance(self.ignore, str):
            raise SpecError(f"{where}: ignore must be a regex")
        for pattern in [*self.reject, *(p for p in (self.drop_on, self.ignore) if p)]:
            try:
                re.compile(str(pattern))
            except re.error as err:
                raise SpecError(f"{where}: bad regex {pattern!r}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reject"] = dict(self.reject)
        return data


@dataclass(frozen=True)
class DeviceSpec:
    """One simulated device: identity, credentials, addresses, seeded configuration, knobs."""

    name: str
    platform: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str = "admin"
    password: str = "admin"
    enable_secret: str = ""  # empty: ``enable`` asks for no password
    privilege: int = 1  # 1: log in at ``host>`` and need ``enable``; 15: log in at ``host#``
    hostname: str = ""  # default: name; a ``hostname`` line in running_config wins
    os_version: str = ""
    model: str = ""
    serial: str = ""
    running_config: str = ""
    startup_config: str | None = None  # None: same as running_config
    knobs: Knobs = field(default_factory=Knobs)

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


@dataclass(frozen=True)
class LabSpec:
    """Every device of one spec file, and where it came from."""

    source: str
    devices: tuple[DeviceSpec, ...]

    def device(self, name: str) -> DeviceSpec:
        for dev in self.devices:
            if dev.name == name:
                return dev
        raise SpecError(f"{self.source}: no device named {name!r}")


_FIELDS = {f.name for f in fields(DeviceSpec)}
_FILE_FIELDS = {"running_config_file": "running_config", "startup_config_file": "startup_config"}


def load_spec(path: str | Path) -> LabSpec:
    """Read and validate a spec file. Raises SpecError (file and device named) on any problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())  # JSON is YAML too
    except (OSError, yaml.YAMLError) as err:
        raise SpecError(f"{path}: cannot read the spec: {err}") from None
    return parse_spec(data, str(path), path.parent)


def parse_spec(data: Any, source: str = "<spec>", base_dir: Path | None = None) -> LabSpec:
    """Validate already-loaded spec data (a list of devices, or {defaults, devices})."""
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        extra = sorted(set(data) - {"defaults", "devices"})
        if extra:
            raise SpecError(f"{source}: unknown top-level key(s) {', '.join(extra)}; use defaults and devices")
        defaults = data.get("defaults") or {}
        data = data.get("devices")
    if not isinstance(data, list) or not data:
        raise SpecError(f"{source}: expected a non-empty list of devices")
    devices = tuple(_device(source, n, {**defaults, **entry} if isinstance(entry, Mapping) else entry, base_dir)
                    for n, entry in enumerate(data, 1))
    seen_names: set[str] = set()
    seen_addrs: dict[tuple[str, int], str] = {}
    for dev in devices:
        if dev.name in seen_names:
            raise SpecError(f"{source}: device name {dev.name!r} is used twice")
        seen_names.add(dev.name)
        if dev.address in seen_addrs:
            raise SpecError(f"{source}: {dev.name} and {seen_addrs[dev.address]} both listen on "
                            f"{dev.host}:{dev.port}; give each its own host or port")
        seen_addrs[dev.address] = dev.name
    return LabSpec(source, devices)


def _device(source: str, n: int, entry: Any, base_dir: Path | None) -> DeviceSpec:
    if not isinstance(entry, Mapping):
        raise SpecError(f"{source}: device #{n} must be a mapping")
    where = f"{source}: device {entry.get('name') or '#' + str(n)}"
    values = dict(entry)
    for file_key, key in _FILE_FIELDS.items():
        if file_key in values:
            config_path = Path(values.pop(file_key))
            if base_dir is not None and not config_path.is_absolute():
                config_path = base_dir / config_path
            try:
                values[key] = config_path.read_text()
            except OSError as err:
                raise SpecError(f"{where}: {file_key}: {err}") from None
    unknown = sorted(set(values) - _FIELDS)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(_FIELDS | set(_FILE_FIELDS)))}")
    if not isinstance(values.get("name"), str) or not values["name"]:
        raise SpecError(f"{where}: name is required")
    platform = values.get("platform")
    if platform not in PLATFORMS:
        raise SpecError(f"{where}: platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
    values["knobs"] = Knobs().updated(values.get("knobs") or {}, f"{where}: knobs")
    for key in ("port", "privilege"):
        if key in values and not isinstance(values[key], int):
            raise SpecError(f"{where}: {key} must be an integer")
    for key in _FIELDS - {"knobs", "port", "privilege", "startup_config"}:
        if key in values and not isinstance(values[key], str):
            values[key] = str(values[key])  # YAML reads `os_version: 4.28` as a float
    dev = DeviceSpec(**values)
    _check_address(where, dev)
    if dev.privilege not in (1, 15):
        raise SpecError(f"{where}: privilege must be 1 or 15")
    plat = _PLATFORM_DEFAULTS[dev.platform]
    digest = hashlib.sha1(dev.name.encode()).hexdigest().upper()  # a stable id, not security
    return replace(dev, hostname=dev.hostname or dev.name, os_version=dev.os_version or plat["os_version"],
                   model=dev.model or plat["model"], serial=dev.serial or plat["serial_prefix"] + digest[:8])


def _check_address(where: str, dev: DeviceSpec) -> None:
    # The lab must never listen beyond loopback: these are fake devices with known passwords.
    try:
        addr = ipaddress.ip_address(dev.host)
    except ValueError:
        raise SpecError(f"{where}: host must be an IPv4 loopback address (127.x.y.z), not {dev.host!r}") from None
    if addr.version != 4 or not addr.is_loopback:
        raise SpecError(f"{where}: host {dev.host} is not in 127.0.0.0/8; the lab only listens on loopback")
    if not 1 <= dev.port <= 65535:
        raise SpecError(f"{where}: port {dev.port} is out of range")
