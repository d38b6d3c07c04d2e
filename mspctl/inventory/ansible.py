"""Ansible inventories built from assets: the ``ansible-inventory --list`` JSON shape and YAML.

Groups: ``client_<slug>``, ``site_<slug>``, ``role_<slug>``, ``platform_<slug>``,
``status_<status>``, ``tag_<slug>`` and ``kind_device`` / ``kind_vm`` (see groups.py).
Host names are NetBox names; a name used by two assets gets ``@<client>`` appended
(then ``#<id>``), because Ansible host names must be unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mspctl.inventory.groups import group_names
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


def host_names(assets: Sequence[Asset]) -> list[str]:
    """Unique inventory names, in the order of `assets`."""
    counts: dict[str, int] = {}
    for a in assets:
        counts[a.name] = counts.get(a.name, 0) + 1
    names, seen = [], set()
    for a in assets:
        name = a.name if counts[a.name] == 1 else f"{a.name}@{a.client or 'no-client'}"
        if name in seen:
            name = f"{name}#{a.id}"
        seen.add(name)
        names.append(name)
    return names


def build_groups(assets: Sequence[Asset], names: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for asset, name in zip(assets, names, strict=True):
        for g in group_names(asset):
            groups.setdefault(g, []).append(name)
    return dict(sorted(groups.items()))


def to_ansible_list(assets: Sequence[Asset], platforms: PlatformMap) -> dict[str, Any]:
    """The same structure ``ansible-inventory --list`` prints."""
    names = host_names(assets)
    groups = build_groups(assets, names)
    out: dict[str, Any] = {
        "_meta": {"hostvars": {n: host_vars(a, platforms) for a, n in zip(assets, names, strict=True)}},
        "all": {"children": ["ungrouped", *groups]},
        "ungrouped": {"hosts": []},
    }
    for g, hosts in groups.items():
        out[g] = {"hosts": hosts}
    return out


def to_ansible_yaml_tree(assets: Sequence[Asset], platforms: PlatformMap) -> dict[str, Any]:
    """The YAML inventory-file structure: host vars once under ``all.hosts``, groups list members."""
    names = host_names(assets)
    groups = build_groups(assets, names)
    return {"all": {
        "hosts": {n: host_vars(a, platforms) for a, n in zip(assets, names, strict=True)},
        "children": {g: {"hosts": dict.fromkeys(hosts)} for g, hosts in groups.items()},
    }}
