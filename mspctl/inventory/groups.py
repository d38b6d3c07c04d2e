"""Ansible group names for an asset. Export, the inventory plugin and --limit all use these."""

from __future__ import annotations

import re

from mspctl.model import Asset

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def safe_group(prefix: str, value: str) -> str:
    """Ansible group names must be identifiers: ``client_acme``, ``site_acme_hq``."""
    return f"{prefix}_{_UNSAFE.sub('_', value)}"


def group_names(asset: Asset) -> list[str]:
    groups = [safe_group("kind", asset.kind)]
    for prefix, value in (("client", asset.client), ("site", asset.site), ("role", asset.role),
                          ("platform", asset.platform), ("status", asset.status)):
        if value:
            groups.append(safe_group(prefix, value))
    groups.extend(safe_group("tag", t) for t in asset.tags)
    return groups
