"""The MSP repository's own files: ``inventory/clients.yml`` (per-client settings).

Validated against a small schema while keeping YAML positions, so every error names
``file:line``. Secrets never live here: ``credentials`` is a reference by name.

    clients:
      acme:                       # the name used on the command line
        tenant: acme              # NetBox tenant slug (default: the key)
        credentials: acme-netops  # a credentials reference, resolved elsewhere
        baseline: debian-security
        maintenance_window:
          days: [sat]
          start: "22:00"
          duration: 4h
          timezone: Europe/Berlin
          cutoff: 30m
          blackout: [2026-12-24]
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from mspctl.errors import ConfigError
from mspctl.files import read_text
from mspctl.model import ClientSettings, MaintenanceWindow
from mspctl.settings import parse_duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {**{d: d for d in DAYS}, "monday": "mon", "tuesday": "tue", "wednesday": "wed",
              "thursday": "thu", "friday": "fri", "saturday": "sat", "sunday": "sun"}
_CLIENT_KEYS = {"tenant", "credentials", "baseline", "maintenance_window", "description"}
_WINDOW_KEYS = {"days", "start", "duration", "timezone", "cutoff", "blackout"}
_SECRET_KEYS = re.compile(r"(?i)(password|secret|token|api_key|community)$")


class YamlDoc:
    """One YAML file read as nodes, so every error names ``file:line`` (also used by patch baselines).

    `error` is the `ConfigError` subclass raised, so each kind of file keeps its own error code.
    """

    def __init__(self, path: Path, error: type[ConfigError] = ConfigError) -> None:
        self.path = path
        self.error = error

    def compose(self) -> yaml.Node | None:
        """The file's single document as nodes (None if empty). Raises `error` on bad YAML or I/O."""
        try:
            return yaml.compose(read_text(self.path), Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            raise self.error(f"{self.path}:{line}: invalid YAML: {exc.problem or exc.context}") from None
        except OSError as exc:
            raise self.error(f"{self.path}: cannot read: {exc.strerror}") from None

    def err(self, node: yaml.Node | None, msg: str, hint: str | None = None) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else 1
        return self.error(f"{self.path}:{line}: {msg}", hint=hint)

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.err(node, f"{what} must be a mapping")
        pairs = []
        seen: set[str] = set()
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise self.err(k, f"{what}: keys must be plain names")
            if k.value in seen:
                raise self.err(k, f"{what}: duplicate key {k.value!r}")
            seen.add(k.value)
            pairs.append((k, v))
        return pairs

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            raise self.err(node, f"{what} must be a non-empty string")
        return str(node.value)

    def seq(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
        """A list (or one scalar) as (value, node) pairs, so each item's errors cite its own line."""
        if isinstance(node, yaml.ScalarNode):
            return [(self.scalar(node, what), node)]
        if not isinstance(node, yaml.SequenceNode):
            raise self.err(node, f"{what} must be a list")
        return [(self.scalar(n, what), n) for n in node.value]


def load_clients_file(path: Path) -> list[ClientSettings]:
    """Parse ``clients.yml``. A missing file is no error (no per-client settings)."""
    if not path.is_file():
        return []
    doc = YamlDoc(path)
    root = doc.compose()
    if root is None:
        return []
    top = dict((k.value, (k, v)) for k, v in doc.mapping(root, "the file"))
    unknown = set(top) - {"clients"}
    if unknown:
        k = top[sorted(unknown)[0]][0]
        raise doc.err(k, f"unknown top-level key {k.value!r}", hint="expected `clients:`")
    if "clients" not in top:
        raise doc.err(root, "missing `clients:`")
    out = []
    tenants: dict[str, int] = {}
    for key_node, body in doc.mapping(top["clients"][1], "clients"):
        key = key_node.value
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", key):
            raise doc.err(key_node, f"client name {key!r} must be a slug (a-z, 0-9, - and _)")
        fields: dict[str, Any] = {}
        for k, v in doc.mapping(body, f"client {key!r}"):
            if _SECRET_KEYS.search(k.value):
                raise doc.err(k, f"client {key!r}: {k.value!r} looks like a secret; secrets do not belong here",
                              hint="use `credentials: <name>` and keep the secret in the environment or keyring")
            if k.value not in _CLIENT_KEYS:
                raise doc.err(k, f"client {key!r}: unknown key {k.value!r}",
                              hint=f"known: {', '.join(sorted(_CLIENT_KEYS))}")
            if k.value == "maintenance_window":
                fields[k.value] = _window(doc, key, v)
            elif k.value != "description":
                fields[k.value] = doc.scalar(v, f"client {key!r}: {k.value}")
        tenant = fields.pop("tenant", key)
        if tenant in tenants:
            raise doc.err(key_node, f"client {key!r}: tenant {tenant!r} is already used on line {tenants[tenant]}")
        tenants[tenant] = key_node.start_mark.line + 1
        out.append(ClientSettings(key=key, tenant=tenant, source=f"{path}:{key_node.start_mark.line + 1}",
                                  **fields))
    return out


def _window(doc: YamlDoc, client: str, node: yaml.Node) -> MaintenanceWindow:
    what = f"client {client!r}: maintenance_window"
    vals = {k.value: (k, v) for k, v in doc.mapping(node, what)}
    for name, (k, _) in vals.items():
        if name not in _WINDOW_KEYS:
            raise doc.err(k, f"{what}: unknown key {name!r}", hint=f"known: {', '.join(sorted(_WINDOW_KEYS))}")
    for required in ("days", "start", "duration", "timezone"):
        if required not in vals:
            raise doc.err(node, f"{what}: missing {required!r}")
    days = []
    for value, item in doc.seq(vals["days"][1], f"{what}.days"):
        day = _DAY_NAMES.get(value.lower())
        if day is None:
            raise doc.err(item, f"{what}.days: {value!r} is not a weekday", hint="use mon..sun")
        days.append(day)
    start = doc.scalar(vals["start"][1], f"{what}.start")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", start):
        raise doc.err(vals["start"][1], f"{what}.start: {start!r} is not HH:MM")
    tz = doc.scalar(vals["timezone"][1], f"{what}.timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise doc.err(vals["timezone"][1], f"{what}.timezone: unknown time zone {tz!r}",
                      hint="use an IANA name such as Europe/Berlin") from None
    line = vals["duration"][1].start_mark.line + 1
    duration = parse_duration(doc.scalar(vals["duration"][1], f"{what}.duration"), f"{doc.path}:{line}")
    cutoff = 0
    if "cutoff" in vals:
        cline = vals["cutoff"][1].start_mark.line + 1
        cutoff = parse_duration(doc.scalar(vals["cutoff"][1], f"{what}.cutoff"), f"{doc.path}:{cline}")
        if cutoff >= duration:
            raise doc.err(vals["cutoff"][1], f"{what}.cutoff must be shorter than the duration")
    blackout = []
    for value, item in doc.seq(vals["blackout"][1], f"{what}.blackout") if "blackout" in vals else []:
        try:
            blackout.append(date.fromisoformat(value).isoformat())
        except ValueError:
            raise doc.err(item, f"{what}.blackout: {value!r} is not a YYYY-MM-DD date") from None
    return MaintenanceWindow(tuple(days), start, duration // 60, tz, cutoff // 60, tuple(blackout))
