"""Ansible inventories built from assets: the ``ansible-inventory --list`` JSON shape and YAML.

Groups: ``client_<slug>``, ``site_<slug>``, ``role_<slug>``, ``platform_<slug>``,
``status_<status>``, ``tag_<slug>`` and ``kind_device`` / ``kind_vm`` (see groups.py).
Host names are the assets' inventory names (mspctl.inventory.names): the NetBox name, or
``name@client`` / ``name@client#id`` when the whole inventory uses the name more than once, so
a host's name does not depend on what else was exported, and every one can be given back to
``mspctl inventory show`` and ``-l``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mspctl.inventory.groups import group_names
from mspctl.inventory.names import inventory_names
from mspctl.inventory.platforms import PlatformMap
from mspctl.model import Asset


def host_vars(asset: Asset, platforms: PlatformMap) -> dict[str, Any]:
    info = platforms.resolve(asset.platform)
    hv: dict[str, Any] = {
        "mspctl_kind": asset.kind,
        "mspctl_id": asset.id,
        "client": asset.client,
        "site": asset.site,
        "role": asset.role,
        "platform": asset.platform,
        "status": asset.status,
    }
    if asset.primary_ip:
        hv["ansible_host"] = asset.primary_ip
    if info.netmiko:
        hv["netmiko_device_type"] = info.netmiko
    if info.ansible_network_os:
        hv["ansible_network_os"] = info.ansible_network_os
    if info.ansible_connection:
        hv["ansible_connection"] = info.ansible_connection
    if asset.serial:
        hv["serial_number"] = asset.serial  # `serial` is reserved by Ansible
    if asset.device_type:
        hv["device_type"] = asset.device_type
    if asset.cluster:
        hv["cluster"] = asset.cluster
    if asset.tags:
        hv["netbox_tags"] = list(asset.tags)  # `tags` is reserved by Ansible
    if asset.custom_fields:
        hv["custom_fields"] = asset.custom_fields
    if asset.config_context is not None:
        hv["config_context"] = asset.config_context
    return hv


def host_names(assets: Sequence[Asset], names: Mapping[str, str] | None = None) -> list[str]:
    """The assets' inventory names, in the order of `assets`. `names` (asset key -> name) comes
    from the whole inventory (`InventoryService.names`); without it, names are decided over
    `assets` alone, which is right only when `assets` is the whole inventory."""
    known = names if names is not None else inventory_names(assets)
    return [known[a.key] for a in assets]


def build_groups(assets: Sequence[Asset], names: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for asset, name in zip(assets, names, strict=True):
        for g in group_names(asset):
            groups.setdefault(g, []).append(name)
    return dict(sorted(groups.items()))


def to_ansible_list(assets: Sequence[Asset], platforms: PlatformMap,
                    inventory: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The same structure ``ansible-inventory --list`` prints. `inventory`: see `host_names`."""
    names = host_names(assets, inventory)
    groups = build_groups(assets, names)
    out: dict[str, Any] = {
        "_meta": {"hostvars": {n: host_vars(a, platforms) for a, n in zip(assets, names, strict=True)}},
        "all": {"children": ["ungrouped", *groups]},
        "ungrouped": {"hosts": []},
    }
    for g, hosts in groups.items():
        out[g] = {"hosts": hosts}
    return out


def to_ansible_yaml_tree(assets: Sequence[Asset], platforms: PlatformMap,
                         inventory: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The YAML inventory-file structure: host vars once under ``all.hosts``, groups list members.
    `inventory`: see `host_names`."""
    names = host_names(assets, inventory)
    groups = build_groups(assets, names)
    return {"all": {
        "hosts": {n: host_vars(a, platforms) for a, n in zip(assets, names, strict=True)},
        "children": {g: {"hosts": dict.fromkeys(hosts)} for g, hosts in groups.items()},
    }}
