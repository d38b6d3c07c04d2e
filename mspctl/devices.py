"""From inventory assets to reachable devices: address, port, Netmiko type and credentials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mspctl.adapters.netmiko import DeviceTarget
from mspctl.credentials import CredentialStore
from mspctl.errors import MspctlError
from mspctl.executor import Executor, ProcessSpreadExecutor, ThreadExecutor
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.platforms import PlatformMap
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset, ClientSettings
from mspctl.settings import Settings

if TYPE_CHECKING:
    from mspctl.plugins import ReadSession

DEFAULT_DRIVER = "netmiko"


@dataclass(frozen=True)
class Unreachable:
    """Why an asset cannot be worked on (no address, no driver, no credentials)."""

    asset: Asset
    reason: str
    code: str


def resolve_targets(assets: Sequence[Asset], settings: Settings, client_settings: Mapping[str, ClientSettings],
                    store: CredentialStore | None = None, driver: str | None = None,
                    ) -> tuple[dict[str, DeviceTarget], list[Unreachable]]:
    """Targets by asset key (`kind:id`), and the assets that cannot be reached with the reason.
    Each target's read driver is `driver` (a run's --driver), else its platform's
    ``[platforms.<slug>] driver``, else netmiko. Raises UnknownPluginError (MSP-PLUG-404) when
    one is not installed, before any device is contacted."""
    from mspctl.plugins import DRIVERS

    store = store or CredentialStore()
    platforms = PlatformMap(settings.platforms)
    targets: dict[str, DeviceTarget] = {}
    problems: list[Unreachable] = []
    if driver is not None:
        DRIVERS.get(driver)
    for asset in assets:
        info = platforms.resolve(asset.platform)
        reader = driver or info.driver or DEFAULT_DRIVER
        if reader not in DRIVERS:
            DRIVERS.get(reader)  # raises, naming the installed drivers
        netmiko_type = info.netmiko
        cs = client_settings.get(asset.client or "")
        if not asset.primary_ip:
            problems.append(Unreachable(asset, "no primary IP in NetBox", "MSP-DEV-404"))
        elif not netmiko_type:
            problems.append(Unreachable(asset, f"no Netmiko driver for platform {asset.platform!r}", "MSP-DEV-415"))
        elif cs is None or not cs.credentials:
            problems.append(Unreachable(asset, f"client {asset.client!r} has no credentials reference in "
                                               f"{settings.clients_path}", "MSP-CRED-404"))
        else:
            try:
                creds = store.get(cs.credentials, for_what=f"client {asset.client}")
            except MspctlError as exc:
                problems.append(Unreachable(asset, exc.message, exc.code))
                continue
            targets[asset.key] = DeviceTarget(asset.name, asset.primary_ip, settings.devices.ssh_port,
                                               netmiko_type, creds.username, creds.password, creds.secret,
                                               credentials=cs.credentials, driver=reader)
    return targets, problems


def read_session(target: DeviceTarget, timeout: float) -> ReadSession:
    """An open read-only session to `target` through its driver plugin (`target.driver`); close
    it (``contextlib.closing``). Raises UnknownPluginError, or the driver's DeviceError /
    DeviceAuthError / DeviceConnectionError (retryable)."""
    from mspctl.plugins import DRIVERS

    return DRIVERS.get(target.driver).session(target, timeout)


def network_devices(inventory: InventoryService, flt: AssetFilter, mode: Mode = "auto",
                    platforms: PlatformMap | None = None) -> list[Asset]:
    """The selected network devices. Without a --status filter, only `active` ones: planned,
    offline or decommissioning gear is not backed up, audited or changed unless asked for."""
    from dataclasses import replace

    from mspctl.errors import NoMatchError

    if not flt.statuses:
        flt = replace(flt, statuses=("active",))
    platforms = platforms or PlatformMap()
    # One platform normaliser for every device run: a NetBox slug such as `cisco-ios` or
    # `Cisco IOS` is `cisco_ios` from here on, for features, drift, the scrubber and hier_config.
    devices = [replace(a, platform=platforms.canonical(a.platform) or a.platform)
               for a in inventory.select(flt, mode, allow_empty=True).assets
               if a.kind == "device" and platforms.resolve(a.platform).network]
    if not devices:
        raise NoMatchError(f"no network device matches {flt.describe()}",
                           hint="VMs and servers have no device configuration; add --status for non-active gear")
    return devices


def plan(settings: Settings, inventory: InventoryService, assets: Sequence[Asset],
         store: CredentialStore | None = None, driver: str | None = None,
         ) -> tuple[dict[str, DeviceTarget], dict[str, tuple[str, str]]]:
    """Targets for the reachable assets, and (reason, code) for the others, by asset key (`kind:id`:
    two clients may name two devices alike; a target is its NetBox object). `driver`: the read
    driver for every target (a run's --driver; see `resolve_targets`)."""
    targets, problems = resolve_targets(assets, settings, inventory.client_settings, store, driver)
    return targets, {p.asset.key: (p.reason, p.code) for p in problems}


# SSH sessions cost client CPU (key exchange, paramiko's polling threads); past ~25 sessions per
# core, more threads only add GIL contention: measured 10.8 s at 50 workers vs 13.3 s at 100 for
# 500 devices on 2 cores (bench/backup).
SESSIONS_PER_CORE = 25
# With one process per core (ProcessSpreadExecutor) a process no longer fights the others' threads
# for its GIL: bench/backup ran 500 devices in 8.0 s at 25 sessions per process, 2 processes.
SPREAD_SESSIONS = 50


def executor_for(settings: Settings, spread: bool = False, change: bool = False) -> Executor:
    """The executor for device sessions, from the ``mspctl.executors`` plugin that
    `[executor] backend` names (``local``: this machine; ``celery``: `mspctl worker`s).
    `spread`: the tasks only return values (a read such as a backup), so large runs may use one
    worker process per core. `change`: the tasks change devices, so none is ever abandoned
    half-way (see ThreadExecutor). Raises UnknownPluginError (MSP-PLUG-404)."""
    from mspctl.plugins import EXECUTORS

    return EXECUTORS.get(settings.executor.backend).executor(settings, spread=spread, change=change)


@dataclass(frozen=True)
class LocalBackend:
    """The ``mspctl.executors`` plugin ``local`` (the default): threads, and for large reads one
    process per core, on this machine."""

    name: str = "local"

    def executor(self, settings: Settings, *, spread: bool = False, change: bool = False) -> Executor:
        import os

        d = settings.devices
        cores = os.cpu_count() or 1
        if spread and cores > 1:
            # Each process has its own GIL: the workers are shared out, up to SPREAD_SESSIONS each.
            per_process = min(-(-d.workers // cores), SPREAD_SESSIONS)
            inner = ThreadExecutor(workers=per_process, timeout=d.timeout, retries=d.retries, retry_on=(OSError,))
            return ProcessSpreadExecutor(cores, inner)
        workers = min(d.workers, SESSIONS_PER_CORE * cores)
        return ThreadExecutor(workers=workers, timeout=d.timeout, retries=d.retries, retry_on=(OSError,),
                              abandon=not change)


LOCAL = LocalBackend()
