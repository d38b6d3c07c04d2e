"""Ansible inventory plugin: the same inventory as `mspctl inventory export`, live.

    # inventory/all-clients.mspctl.yml
    plugin: mspctl_inventory
    all_clients: true          # or: clients: [acme, globex]
    # role: [router]           # site, role, platform, tag, status, kind, limit as on the CLI
    # mode: auto               # auto | refresh | offline (mspctl's own cache)

    ansible-inventory -i inventory/all-clients.mspctl.yml --list

An installed mspctl carries this plugin as the Ansible collection ``mspctl.core``, which Ansible
finds beside mspctl with no configuration: there, ``plugin: mspctl.core.mspctl_inventory``. In a
source checkout, ``ansible.cfg`` points Ansible at ``plugins/inventory`` (``plugin: mspctl_inventory``).

NetBox is reached with mspctl's settings (mspctl.toml, NETBOX_API / NETBOX_TOKEN), and the
inventory comes through mspctl's cache, so the plugin and `mspctl inventory export` agree.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: mspctl_inventory
short_description: mspctl client inventories from NetBox
description:
  - Builds the inventory with mspctl (devices and VMs per client, from NetBox, cached locally).
  - Groups and host variables are the same as C(mspctl inventory export --format ansible).
options:
  plugin:
    description: C(mspctl.core.mspctl_inventory) (the installed collection) or C(mspctl_inventory) (a source checkout).
    required: true
    choices: [mspctl.core.mspctl_inventory, mspctl_inventory]
  clients:
    description: Client slugs (NetBox tenants or clients.yml names).
    type: list
    elements: str
    default: []
  all_clients:
    description: Every client.
    type: bool
    default: false
  site: {description: Site slugs., type: list, elements: str, default: []}
  role: {description: Role slugs., type: list, elements: str, default: []}
  platform: {description: Platform slugs., type: list, elements: str, default: []}
  tag: {description: Tag slugs., type: list, elements: str, default: []}
  status: {description: Statuses., type: list, elements: str, default: []}
  kind: {description: device and/or vm., type: list, elements: str, default: []}
  limit: {description: An Ansible-style pattern applied by mspctl., type: str}
  config:
    description: An mspctl.toml settings file (default, mspctl's own discovery).
    type: path
  mode:
    description: mspctl's cache mode, auto (TTL and delta refresh), refresh, or offline.
    type: str
    default: auto
    choices: [auto, refresh, offline]
"""

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    NAME = "mspctl_inventory"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith((".mspctl.yml", ".mspctl.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            from mspctl.errors import MspctlError
        except ImportError as exc:
            raise AnsibleParserError(f"{path}: the mspctl package is not importable here: {exc}") from exc
        try:
            self._populate(path)
        except MspctlError as exc:
            raise AnsibleParserError(f"{path}: {exc}") from None

    def _populate(self, path: str) -> None:
        from mspctl.inventory.ansible import build_groups, host_names, host_vars
        from mspctl.inventory.filters import AssetFilter
        from mspctl.inventory.platforms import PlatformMap
        from mspctl.inventory.service import open_inventory
        from mspctl.settings import load_settings

        config = self.get_option("config")
        settings = load_settings(Path(config) if config else None, cwd=Path(path).resolve().parent)
        mode = self.get_option("mode")
        clients = tuple(self.get_option("clients") or ())
        if not clients and not self.get_option("all_clients"):
            raise AnsibleParserError(f"{path}: set `clients: [...]` or `all_clients: true`")
        flt = AssetFilter(clients, tuple(self.get_option("site")), tuple(self.get_option("role")),
                          tuple(self.get_option("platform")), tuple(self.get_option("tag")),
                          tuple(self.get_option("status")), tuple(self.get_option("kind")),
                          self.get_option("limit"))
        service = open_inventory(settings, offline=mode == "offline")
        inv = service.select(flt, mode, allow_empty=True)
        platforms = PlatformMap(settings.platforms)
        names = host_names(inv.assets, service.names(mode))  # decided over the whole inventory, as export does
        for asset, name in zip(inv.assets, names, strict=True):
            self.inventory.add_host(name)
            for key, value in host_vars(asset, platforms).items():
                self.inventory.set_variable(name, key, value)
        for group, members in build_groups(inv.assets, names).items():
            self.inventory.add_group(group)
            for name in members:
                self.inventory.add_child(group, name)
