"""What each command does with ``--offline`` (docs/offline.md is this table, in prose).

``--offline`` means "never contact NetBox". A command either works from what mspctl keeps
locally (the inventory cache, the backups repository, the run records), or refuses at once,
before it reads a device or writes anything, with MSP-OFFLINE-400 saying what it would need
from NetBox. Nothing is silently skipped: NetBox write-back in particular is never dropped.
"""

from __future__ import annotations

from mspctl.errors import OfflineRefusedError

# Commands that work offline, and from what.
WORKS_OFFLINE: dict[str, str] = {
    "clients": "the cached tenants",
    "inventory list": "the cache (its age is the evidence)",
    "inventory show": "the cached record (no merged config context: that is read live)",
    "inventory export": "the cache",
    "config backup": "the cached devices (address, platform, client) and the credentials; backups to git",
    "config rollback": "the push's run record and the cached devices' addresses",
    "config audit-history": "the backups repository only",
    "runs list": "the run records only",
    "runs show": "the run records only",
    "runs export": "the run records only",
    "runs verify": "the run records only",
    "metrics": "the run records only",
    "report": "the run records, the cached inventory (asset summary) and inventory/exceptions.yml",
    "status": "the run records and the cached inventory",
    "patch baselines": "the baseline files only",
    "settings show": "the settings only",
    "init": "mspctl's own example files only (it writes a new repository and never reads NetBox)",
    "plugins list": "the installed packages' entry points only",
}

_CONTEXTS = "each device's config context and interfaces (with their addresses) are read live from NetBox"
# Commands that refuse offline, and why: what they need from NetBox that the cache does not hold.
NEEDS_NETBOX: dict[str, str] = {
    "config render": f"{_CONTEXTS}, and with --templates netbox its config template; the cache holds only "
                     "the inventory",
    "drift": f"the intended side of every comparison is a render ({_CONTEXTS}), with --source backup too",
    "config push": f"a push sends the difference to a render ({_CONTEXTS})",
    "patch scan": "each server's baseline comes from its config context, read live from NetBox",
    "patch status": "each server's baseline comes from its config context, read live from NetBox",
    "patch apply": "each server's baseline comes from its config context, and the results are written to "
                   "NetBox (journal, patch_compliance, last_patched)",
    "patch window": "each server's baseline comes from its config context, and the results are written to "
                    "NetBox (journal, patch_compliance, last_patched)",
    "patch os": "each device's network-OS baseline comes from its config context, read live from NetBox",
    "patch writeback": "it writes a recorded run's results to NetBox",
    "worker": "a worker renders a push batch's intended configs from NetBox, as the coordinator did",
}


def refuse_offline(mode: str, command: str) -> None:
    """Raise OfflineRefusedError when `mode` is offline and `command` needs NetBox (NEEDS_NETBOX)."""
    if mode != "offline":
        return
    why = NEEDS_NETBOX[command]
    raise OfflineRefusedError(f"`mspctl {command}` needs NetBox and cannot run with --offline: {why}; nothing "
                              "was read from a device or written", hint="run it without --offline once NetBox is "
                                                                        "reachable (docs/offline.md)")
