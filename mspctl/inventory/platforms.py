"""NetBox platform -> Netmiko device_type and Ansible connection settings.

The defaults come from netutils' lib_mapper (normalised names such as ``cisco_ios`` are what
NetBox platforms are usually slugged as); ``[platforms.<slug>]`` in mspctl.toml overrides them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

LINUX_PLATFORMS = frozenset({"linux", "debian", "ubuntu", "rhel", "centos", "rocky", "almalinux",
                             "alma", "fedora", "oracle_linux", "sles", "alpine"})


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    netmiko: str | None  # Netmiko device_type
    ansible_network_os: str | None
    ansible_connection: str | None
    network: bool  # a network device (CLI over SSH) rather than a server


UNKNOWN = PlatformInfo(None, None, None, False)


@lru_cache(maxsize=1)
def _lib_maps() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    from netutils.lib_mapper import (
        ANSIBLE_LIB_MAPPER_REVERSE,
        NETMIKO_LIB_MAPPER,
        NETMIKO_LIB_MAPPER_REVERSE,
    )

    return NETMIKO_LIB_MAPPER_REVERSE, ANSIBLE_LIB_MAPPER_REVERSE, NETMIKO_LIB_MAPPER


class PlatformMap:
    """Resolves platform slugs; `overrides` is the ``[platforms]`` table of the settings."""

    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._cache: dict[str | None, PlatformInfo] = {}

    def resolve(self, slug: str | None) -> PlatformInfo:
        if slug in self._cache:
            return self._cache[slug]
        info = self._resolve(slug)
        self._cache[slug] = info
        return info

    def _resolve(self, slug: str | None) -> PlatformInfo:
        if not slug:
            return UNKNOWN
        base = self._default(slug)
        over = self._overrides.get(slug)
        if not over:
            return base
        netmiko = over.get("netmiko", base.netmiko)
        network_os = over.get("ansible_network_os", base.ansible_network_os)
        connection = over.get("ansible_connection", base.ansible_connection)
        network = bool(network_os) or (base.network and netmiko != "linux")
        if network_os and connection is None:
            connection = "ansible.netcommon.network_cli"
        return PlatformInfo(netmiko, network_os, connection, network)

    @staticmethod
    def _default(slug: str) -> PlatformInfo:
        key = slug.lower().replace("-", "_")
        if key in LINUX_PLATFORMS:
            return PlatformInfo("linux", None, "ssh", False)
        netmiko_rev, ansible_rev, netmiko_fwd = _lib_maps()
        normalised = key if key in netmiko_rev else netmiko_fwd.get(key)
        if normalised is None:
            return UNKNOWN
        network_os = ansible_rev.get(normalised)
        # network_cli without a network OS fails in Ansible; leave it to a [platforms] override.
        return PlatformInfo(netmiko_rev.get(normalised), network_os,
                            "ansible.netcommon.network_cli" if network_os else None, True)
