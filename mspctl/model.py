"""The typed domain model at the middle of mspctl. Services take and return these values.

No library types cross this line: adapters translate NetBox records into these dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

AssetKind = Literal["device", "vm"]
# Progress events from long work: (what, done, total). The CLI draws them as bars.
type ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Client:
    """A managed client: a NetBox tenant, plus the MSP repository's settings for it."""

    slug: str
    name: str
    group: str | None = None
    device_count: int = 0
    vm_count: int = 0
    custom_fields: dict[str, Any] = field(default_factory=dict)
    settings: ClientSettings | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["settings"] = self.settings.to_dict() if self.settings else None
        return out


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A weekly window: `days` (mon..sun) from `start` (HH:MM) for `duration` minutes, in `timezone`."""

    days: tuple[str, ...]
    start: str
    duration_minutes: int
    timezone: str
    cutoff_minutes: int = 0
    blackout_dates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """A client's entry in the MSP repository's ``inventory/clients.yml``."""

    key: str
    tenant: str
    credentials: str | None = None  # a reference by name, never the secret itself
    baseline: str | None = None
    maintenance_window: MaintenanceWindow | None = None
    source: str = ""  # file:line of the entry

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Asset:
    """A managed device or virtual machine of one client, as NetBox records it."""

    kind: AssetKind
    id: int
    name: str
    client: str | None  # tenant slug
    site: str | None = None
    role: str | None = None
    platform: str | None = None
    status: str | None = None
    primary_ip: str | None = None  # address without prefix length
    serial: str | None = None
    device_type: str | None = None
    manufacturer: str | None = None
    cluster: str | None = None
    tags: tuple[str, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict)
    config_context: dict[str, Any] | None = None
    last_updated: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tags"] = list(self.tags)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Asset:
        data = dict(data)
        data["tags"] = tuple(data.get("tags") or ())
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Interface:
    """A device interface as NetBox records it, with its IP addresses (address/prefix)."""

    name: str
    type: str | None = None
    enabled: bool = True
    description: str = ""
    mtu: int | None = None
    mode: str | None = None
    mgmt_only: bool = False
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceDetails:
    """What rendering needs beyond the inventory record: merged config context and interfaces."""

    config_context: dict[str, Any]
    interfaces: tuple[Interface, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a result's data came from and how old it is."""

    source: Literal["netbox", "cache", "cache-delta"]
    fetched_at: datetime
    age_seconds: float


@dataclass(slots=True)
class Inventory:
    """A set of assets plus the evidence behind them."""

    assets: list[Asset]
    evidence: Evidence
    changed: int = 0  # assets re-read from NetBox by a delta refresh
    removed: int = 0
