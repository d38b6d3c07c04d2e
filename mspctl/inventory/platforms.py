"""The one platform normaliser: NetBox platform -> canonical platform, Netmiko device_type,
Ansible connection settings, and for servers the OS family.

A real NetBox spells one platform many ways: ``cisco_ios``, ``cisco-ios`` (NetBox's UI slugs a
name that way), ``Cisco IOS``, ``ios``; ``arista-eos`` or ``eos``; servers as ``ubuntu``,
``ubuntu-linux-20-04``, ``debian-12``, ``rhel-9``, ``rocky-linux-9``. Each is read as words
(case, ``-``, ``.`` and spaces do not matter) and resolved to:

- network gear: its canonical platform, the Netmiko device_type the templates folder uses
  (``templates/cisco_ios/``), from netutils' lib_mapper (netutils' own names, Netmiko's, NAPALM's
  and Ansible's), plus a few common vendor spellings;
- servers: ``linux``, over SSH, with the OS family Ansible reports (``debian``, ``redhat``,
  ``suse``, ...), read from the distribution's name anywhere in the slug.

``[platforms.<slug>]`` in mspctl.toml overrides any of it (``netmiko``, ``ansible_network_os``,
``ansible_connection``, ``os_family``) and wins over the defaults; ``driver`` names the
``mspctl.drivers`` plugin that reads the platform's devices (default netmiko). Render (template lookup),
drift, push, backup, patch and the Ansible export all resolve platforms here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

# A distribution's name (a word of the slug) -> Ansible's os_family for it, lower case.
OS_FAMILIES = {
    "debian": "debian", "ubuntu": "debian", "raspbian": "debian", "linuxmint": "debian", "mint": "debian",
    "devuan": "debian", "kali": "debian", "pop": "debian",
    "rhel": "redhat", "redhat": "redhat", "centos": "redhat", "rocky": "redhat", "almalinux": "redhat",
    "alma": "redhat", "fedora": "redhat", "oracle": "redhat", "oraclelinux": "redhat", "ol": "redhat",
    "amazon": "redhat", "amzn": "redhat", "scientific": "redhat", "cloudlinux": "redhat", "eurolinux": "redhat",
    "sles": "suse", "suse": "suse", "opensuse": "suse", "sled": "suse",
    "alpine": "alpine", "arch": "archlinux", "archlinux": "archlinux", "manjaro": "archlinux",
    "gentoo": "gentoo",
}
# Two words that name a distribution together: ``red-hat-enterprise-linux-9``.
_PAIRS = {("red", "hat"): "redhat", ("oracle", "linux"): "redhat", ("amazon", "linux"): "redhat"}
# Vendor spellings netutils does not list, as words joined by ``_``.
_ALIASES = {
    "ios": "cisco_ios", "cisco_ios_xe": "cisco_xe", "ios_xe": "cisco_xe", "iosxe": "cisco_xe",
    "cisco_iosxe": "cisco_xe", "ios_xr": "cisco_xr", "iosxr": "cisco_xr", "cisco_ios_xr": "cisco_xr",
    "nxos": "cisco_nxos", "nx_os": "cisco_nxos", "cisco_nx_os": "cisco_nxos", "eos": "arista_eos",
    "arista": "arista_eos", "junos": "juniper_junos", "juniper": "juniper_junos",
}
# Patch runs (playbooks/patch_*.yml) support these families: apt and dnf.
PATCHABLE_FAMILIES = frozenset({"debian", "redhat"})
_WORDS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    netmiko: str | None  # Netmiko device_type
    ansible_network_os: str | None
    ansible_connection: str | None
    network: bool  # a network device (CLI over SSH) rather than a server
    os_family: str | None = None  # a server's OS family (Ansible's, lower case): debian, redhat, ...
    # The canonical platform: network gear's Netmiko device_type as the templates folder names it
    # (``cisco_ios``), a server's OS family (``linux`` when unknown); None for an unknown platform.
    name: str | None = None
    # The ``mspctl.drivers`` plugin for its read sessions ([platforms.<slug>] driver); None: the default.
    driver: str | None = None

    @property
    def server(self) -> bool:
        """A Linux server (patched with Ansible), as opposed to network gear or an unknown platform."""
        return not self.network and self.netmiko == "linux"


UNKNOWN = PlatformInfo(None, None, None, False)


def platform_key(slug: str) -> str:
    """`slug` as lower-case words joined by ``_``: ``Cisco IOS`` and ``cisco-ios`` -> ``cisco_ios``."""
    return "_".join(w for w in _WORDS.split(slug.lower()) if w)


def os_family(slug: str) -> str | None:
    """The OS family a server platform slug names (``ubuntu-linux-20-04`` -> ``debian``), or None."""
    words = platform_key(slug).split("_")
    for a, b in itertools.pairwise(words):
        if (a, b) in _PAIRS:
            return _PAIRS[(a, b)]
    return next((OS_FAMILIES[w] for w in words if w in OS_FAMILIES), None)


@lru_cache(maxsize=1)
def _lib_maps() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(normalised -> Netmiko, normalised -> Ansible network OS, any known spelling -> normalised)."""
    from netutils.lib_mapper import (
        ANSIBLE_LIB_MAPPER,
        ANSIBLE_LIB_MAPPER_REVERSE,
        NAPALM_LIB_MAPPER,
        NETMIKO_LIB_MAPPER,
        NETMIKO_LIB_MAPPER_REVERSE,
    )

    spellings: dict[str, str] = {}
    for mapper in (ANSIBLE_LIB_MAPPER, NAPALM_LIB_MAPPER, NETMIKO_LIB_MAPPER):
        spellings.update({platform_key(k): v for k, v in mapper.items()})
    spellings.update({k: k for k in NETMIKO_LIB_MAPPER_REVERSE})
    return NETMIKO_LIB_MAPPER_REVERSE, ANSIBLE_LIB_MAPPER_REVERSE, spellings


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

    def canonical(self, slug: str | None) -> str | None:
        """The canonical platform of `slug` (see `PlatformInfo.name`): what templates, features
        and baselines are keyed by."""
        return self.resolve(slug).name

    def _resolve(self, slug: str | None) -> PlatformInfo:
        info = self._resolve_kind(slug)
        driver = self._driver(slug, info.name)
        return replace(info, driver=driver) if driver else info

    def _driver(self, slug: str | None, canonical: str | None) -> str | None:
        """``driver`` of the override for `slug`, else of an override whose slug resolves to the same
        canonical platform (device runs see ``cisco_ios`` where NetBox says ``cisco-ios``), in file order."""
        if not slug:
            return None
        exact = (self._overrides.get(slug) or {}).get("driver")
        if exact or canonical is None:
            return exact
        return next((over["driver"] for key, over in self._overrides.items()
                     if "driver" in over and self._resolve_kind(key).name == canonical), None)

    def _resolve_kind(self, slug: str | None) -> PlatformInfo:
        if not slug:
            return UNKNOWN
        base = self._default(slug)
        over = {k: v for k, v in (self._overrides.get(slug) or {}).items() if k != "driver"}
        if not over:
            return base
        netmiko = over.get("netmiko", base.netmiko)
        network_os = over.get("ansible_network_os", base.ansible_network_os)
        connection = over.get("ansible_connection", base.ansible_connection)
        network = bool(network_os) or (base.network and netmiko != "linux") or (
            base is UNKNOWN and netmiko is not None and netmiko != "linux")
        if network_os and connection is None:
            connection = "ansible.netcommon.network_cli"
        if not network and netmiko == "linux":  # a server: over SSH, with its OS family
            family = over.get("os_family", base.os_family or os_family(slug))
            return PlatformInfo("linux", None, connection or "ssh", False, family, family or "linux")
        if network:
            return PlatformInfo(netmiko, network_os, connection, True, None, base.name or netmiko)
        if "os_family" in over:  # a server platform only the override names
            family = over["os_family"]
            return PlatformInfo("linux", None, connection or "ssh", False, family, family)
        return replace(base, netmiko=netmiko, ansible_network_os=network_os, ansible_connection=connection)

    @staticmethod
    def _default(slug: str) -> PlatformInfo:
        key = platform_key(slug)
        netmiko_rev, ansible_rev, spellings = _lib_maps()
        normalised = spellings.get(key) or spellings.get(_ALIASES.get(key, ""))
        if normalised is not None and normalised != "linux":
            netmiko = netmiko_rev.get(normalised)
            network_os = ansible_rev.get(normalised)
            # network_cli without a network OS fails in Ansible; leave it to a [platforms] override.
            return PlatformInfo(netmiko, network_os, "ansible.netcommon.network_cli" if network_os else None, True,
                                None, netmiko or normalised)
        family = os_family(slug)
        if family is not None or key == "linux" or "linux" in key.split("_"):
            return PlatformInfo("linux", None, "ssh", False, family, family or "linux")
        return UNKNOWN
