"""The lab LAN: one bridge in the root namespace, one network namespace + veth pair per host.

::

    root namespace                         host namespace <prefix>N
    <prefix>br  10.250.0.1/24  --+-- <prefix>N (veth) ===== eth0  10.250.0.(10+N)/24
                                 +-- ...

MAC addresses are fixed per host (and the bridge's too: a bridge otherwise takes its lowest port's
MAC), so a recreated host never meets a stale ARP entry. The hosts get no default route and the
root namespace does not forward (nothing here enables ip_forward), so hosts reach only the LAN;
IPv6 is off on every lab interface. ``cut`` sets the host's bridge port down: packets to and from
the host are dropped without any reset, as when a real server goes dark.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from contextlib import suppress
from pathlib import Path

from lab.hosts._util import HostLabError, run

PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
FIRST_HOST = 10  # host N has the subnet's address number 10 + N


def check_prefix(prefix: str) -> None:
    if not PREFIX_RE.match(prefix):
        raise HostLabError(f"bad host name prefix {prefix!r}: lowercase letters, digits and '-', at most 12, "
                           "starting with a letter (interface names are limited to 15 characters)")


def bridge(prefix: str) -> str:
    return f"{prefix}br"


def netns(prefix: str, index: int) -> str:
    """The host's name: its network namespace, its root-side veth and its hostname."""
    return f"{prefix}{index}"


def gateway(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return subnet[1]


def address(subnet: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    if FIRST_HOST + index >= subnet.num_addresses - 1:
        raise HostLabError(f"subnet {subnet} has no room for host {index} (max {max_hosts(subnet)})")
    return subnet[FIRST_HOST + index]


def max_hosts(subnet: ipaddress.IPv4Network) -> int:
    return subnet.num_addresses - 2 - FIRST_HOST


def _mac(kind: int, prefix: str, index: int) -> str:
    h = hashlib.sha256(prefix.encode()).digest()
    return f"02:6d:{kind:02x}:{h[0]:02x}:{h[1]:02x}:{index:02x}"


def host_mac(prefix: str, index: int) -> str:
    return _mac(0x73, prefix, index)


def port_mac(prefix: str, index: int) -> str:
    return _mac(0x72, prefix, index)


def _disable_ipv6(ifname: str) -> None:
    with suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6").write_text("1\n")


def link_exists(name: str, ns: str | None = None) -> bool:
    args = ["ip", *(["-n", ns] if ns else []), "link", "show", "dev", name]
    return run(args, check=False).returncode == 0


def netns_exists(ns: str) -> bool:
    return Path("/run/netns", ns).exists()


def ensure_bridge(prefix: str, subnet: ipaddress.IPv4Network) -> None:
    """The lab bridge with the gateway address; refuses a subnet routed through another interface."""
    br = bridge(prefix)
    for route in json.loads(run(["ip", "-j", "route", "show", "match", str(gateway(subnet))]).stdout or "[]"):
        if route.get("dst") != "default" and route.get("dev") != br:
            raise HostLabError(f"subnet {subnet} overlaps route {route.get('dst')} on {route.get('dev')}; "
                               "pick another with --subnet")
    if not link_exists(br):
        run(["ip", "link", "add", "name", br, "address", _mac(0x62, prefix, 0), "type", "bridge"])
    _disable_ipv6(br)
    run(["ip", "addr", "replace", f"{gateway(subnet)}/{subnet.prefixlen}", "dev", br])
    run(["ip", "link", "set", br, "up"])


def remove_bridge(prefix: str) -> None:
    if link_exists(bridge(prefix)):
        run(["ip", "link", "del", bridge(prefix)], check=False)


def ensure_host_link(prefix: str, index: int, subnet: ipaddress.IPv4Network) -> None:
    """Namespace, veth pair (fixed MACs), address and links up for host ``index``; idempotent."""
    ns = netns(prefix, index)
    if not netns_exists(ns):
        run(["ip", "netns", "add", ns])
    if not link_exists("eth0", ns):
        if link_exists(ns):
            run(["ip", "link", "del", ns])
        run(["ip", "link", "add", ns, "address", port_mac(prefix, index), "type", "veth",
             "peer", "name", "eth0", "address", host_mac(prefix, index), "netns", ns])
    _disable_ipv6(ns)
    run(["ip", "link", "set", ns, "master", bridge(prefix), "up"])
    run(["ip", "-n", ns, "addr", "replace", f"{address(subnet, index)}/{subnet.prefixlen}", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])


def set_port(prefix: str, index: int, up: bool) -> None:
    """Bring host ``index``'s bridge port up or down (``restore``/``cut``)."""
    run(["ip", "link", "set", netns(prefix, index), "up" if up else "down"])


def port_up(prefix: str, index: int) -> bool:
    proc = run(["ip", "-j", "link", "show", "dev", netns(prefix, index)], check=False)
    if proc.returncode != 0:
        return False
    return "UP" in json.loads(proc.stdout)[0].get("flags", [])


def remove_host_link(prefix: str, index: int) -> None:
    ns = netns(prefix, index)
    if link_exists(ns):
        run(["ip", "link", "del", ns], check=False)
    if netns_exists(ns):
        run(["ip", "netns", "del", ns], check=False)
