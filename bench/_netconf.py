"""Synthetic but realistic network fleets and configurations for bench/render, drift and backup.

Everything is a pure function of (count, seed): the same arguments give the same devices,
contexts, configs and perturbations on every machine, so runs compare.

- `fleet`: mspctl `Asset`s, `DeviceDetails` and `Client`s shaped like the lab's NetBox data
  (lab/seed_demo.py, lab/seed_bench.py): 50 clients, a cisco_ios/arista_eos mix, config
  contexts with ntp/syslog/dns servers, snmp location, banner, per-client overrides, PCI
  hardening (pci tag -> pci + login_block) and 4-8 interfaces with addresses.
- `device_view`: how a device prints its running config (header, separators, `end`).
- `perturb`: drift of the kinds an audit finds, inside the compliance features.
- `ios_running_config`: a full-size IOS running config for a simulated device (48 access
  ports on a switch, BGP and ACLs on a router).
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from mspctl.model import Asset, Client, DeviceDetails, Interface

CLIENTS = 50
BASELINE = {  # the msp-baseline config context of lab/seed_demo.py
    "ntp_servers": ["192.0.2.123", "192.0.2.124"],
    "syslog_servers": ["192.0.2.50"],
    "snmp": {"location": "managed by Northwind MSP", "community_ref": "snmp-ro"},
    "banner": "Authorized access only. Managed by Northwind MSP.",
    "dns_servers": ["192.0.2.53"],
}
PCI = {"pci": True, "login_block": {"attempts": 3, "within_seconds": 60}}
ROLES = (  # (role, platform, device type, manufacturer, weight)
    ("core-switch", "cisco_ios", "c9300-48p", "cisco", 3),
    ("access-switch", "arista_eos", "dcs-7050sx3", "arista", 4),
    ("router", "cisco_ios", "isr4331", "cisco", 2),
    ("core-switch", "arista_eos", "dcs-7050sx3", "arista", 1),
)
DESCRIPTIONS = ("uplink to core", "downlink access", "server farm", "wan transit", "voice vlan trunk",
                "printer segment", "guest wifi", "backup link", "")


@dataclass(frozen=True)
class Fleet:
    assets: list[Asset]
    details: dict[int, DeviceDetails]
    clients: dict[str, Client]


def _client_overrides(rng: random.Random, c: int) -> dict[str, object]:
    """Per-client config context (weight 2000 in NetBox): some clients override some keys."""
    out: dict[str, object] = {}
    if rng.random() < 0.4:
        out["ntp_servers"] = [f"198.51.{c}.1", f"198.51.{c}.2"]
    if rng.random() < 0.3:
        out["syslog_servers"] = [f"198.51.{c}.50", f"198.51.{c}.51"]
    if rng.random() < 0.3:
        out["snmp"] = {"location": f"Bench {c:02d} DC, rack {rng.randint(1, 40)}", "community_ref": f"bench-{c:02d}"}
    if rng.random() < 0.2:
        out["banner"] = f"Bench Client {c:02d} - authorized staff only."
    if rng.random() < 0.25:
        out["dns_servers"] = [f"198.51.{c}.53", "192.0.2.53"]
    return out


def fleet(count: int, seed: int = 1) -> Fleet:
    rng = random.Random(seed)
    clients = {}
    overrides = {}
    for c in range(1, CLIENTS + 1):
        slug = f"bench-{c:02d}"
        clients[slug] = Client(slug, f"Bench Client {c:02d}", "bench", custom_fields={"sla_tier": "silver"})
        overrides[slug] = _client_overrides(rng, c)
    roles = [r for r in ROLES for _ in range(r[4])]
    assets: list[Asset] = []
    details: dict[int, DeviceDetails] = {}
    for i in range(count):
        c = i % CLIENTS + 1
        slug = f"bench-{c:02d}"
        role, platform, dtype, mfr, _ = rng.choice(roles)
        tags: tuple[str, ...] = ()
        r = rng.random()
        if r < 0.2:
            tags = ("pci",)
        elif r < 0.3:
            tags = ("critical",)
        elif r < 0.35:
            tags = ("critical", "pci")
        dev_id = 100_000 + i
        name = f"bench{c:02d}-{role}-{i:05d}"
        mgmt_ip = f"127.{100 + i // 65025}.{(i // 255) % 255}.{i % 255 + 1}"
        assets.append(Asset(
            kind="device", id=dev_id, name=name, client=slug, site=f"{slug}-dc", role=role, platform=platform,
            status="active", primary_ip=mgmt_ip, serial=f"BN{c:02d}{i:05d}", device_type=dtype, manufacturer=mfr,
            tags=tuple(sorted(tags)), custom_fields={"patch_group": "network", "maintenance_window": None},
            last_updated="2026-01-01T00:00:00Z"))
        context = {**BASELINE, **overrides[slug], **(PCI if "pci" in tags else {})}
        details[dev_id] = DeviceDetails(context, _interfaces(rng, platform, mgmt_ip, i))
    return Fleet(assets, details, clients)


def _interfaces(rng: random.Random, platform: str, mgmt_ip: str, i: int) -> tuple[Interface, ...]:
    mgmt = Interface("GigabitEthernet0/0" if platform == "cisco_ios" else "Management1", "1000base-t",
                     mgmt_only=True, addresses=(f"{mgmt_ip}/32",))
    out = [mgmt]
    for n in range(1, rng.randint(4, 8)):
        name = f"GigabitEthernet1/0/{n}" if platform == "cisco_ios" else f"Ethernet{n}"
        net = ipaddress.ip_network(f"10.{i % 250}.{(i * 8 + n) % 256}.0/{rng.choice((24, 30, 31))}")
        host = next(net.hosts()) if net.prefixlen < 31 else net.network_address
        addresses: tuple[str, ...] = (f"{host}/{net.prefixlen}",) if rng.random() < 0.8 else ()
        if addresses and rng.random() < 0.1:
            addresses += (f"172.16.{i % 256}.{n}/24",)
        out.append(Interface(name, "10gbase-x-sfpp", enabled=rng.random() > 0.1,
                             description=rng.choice(DESCRIPTIONS), mtu=9216 if rng.random() < 0.2 else None,
                             addresses=tuple(sorted(addresses))))
    return tuple(out)


# -- what a device shows ----------------------------------------------------------------------
def device_view(intended: str, platform: str | None, name: str) -> str:
    """`intended` as the device would print it in `show running-config`: volatile header, `!`, `end`."""
    body = intended.rstrip("\n").split("\n")
    if platform == "arista_eos":
        head = ["! Command: show running-config", f"! device: {name} (DCS-7050SX3-48YC8, EOS-4.28.3M)", "!",
                "! boot system flash:/EOS-4.28.3M.swi", "!"]
    else:
        head = ["Building configuration...", "", f"Current configuration : {len(intended) + 200} bytes", "!",
                "! Last configuration change at 09:14:02 UTC Mon Jan 5 2026 by netops", "!", "version 15.9"]
    out: list[str] = []
    for line in body:
        if not line.startswith(" ") and out and out[-1].startswith(" "):
            out.append("!")  # a section ends: devices print a separator
        out.append(line)
    return "\n".join([*head, *out, "!", "end"]) + "\n"


# -- drift --------------------------------------------------------------------------------------
PERTURBATIONS = ("ntp", "logging", "snmp", "banner", "interface-description", "interface-shutdown",
                 "interface-address", "vty", "dns")


def perturb(intended: str, platform: str | None, rng: random.Random) -> tuple[str, list[str]]:
    """`intended` with one or two changes a device accumulates; returns (text, kinds applied).

    Every change lands in a line or section some compliance feature of templates/features.yml
    owns, so both per-feature and whole-config comparisons see it.
    """
    lines = intended.rstrip("\n").split("\n")
    kinds = rng.sample(PERTURBATIONS, 2 if rng.random() < 0.25 else 1)
    applied = []
    for kind in kinds:
        if _apply(lines, kind, platform, rng):
            applied.append(kind)
    if not applied:  # nothing of that kind on this device (e.g. no interface with an address)
        lines.append("ntp server 203.0.113.9")
        applied.append("ntp")
    return "\n".join(lines) + "\n", applied


def _apply(lines: list[str], kind: str, platform: str | None, rng: random.Random) -> bool:
    def first(prefix: str) -> int | None:
        return next((i for i, ln in enumerate(lines) if ln.startswith(prefix)), None)

    if kind == "ntp":
        i = first("ntp server ")
        if i is None:
            return False
        lines[i] = "ntp server 192.0.2.199"
        return True
    if kind == "logging":
        lines.append(f"logging host 203.0.113.{rng.randint(1, 250)}")
        return True
    if kind == "snmp":
        i = first("snmp-server contact")
        if i is None:
            return False
        del lines[i]
        return True
    if kind == "banner":
        i = next((i for i, ln in enumerate(lines) if "Authorized" in ln or "authorized" in ln), None)
        if i is None:
            return False
        lines[i] = lines[i].replace("only", "only!!").replace("Authorized", "Welcome, authorized")
        return True
    if kind == "dns":
        i = first("ip name-server ")
        if i is None:
            return False
        lines[i] = "ip name-server 8.8.8.8"
        return True
    if kind == "vty":
        if platform == "arista_eos":
            i = first(" idle-timeout")
            if i is None:
                return False
            lines[i] = " idle-timeout 60"
        else:
            i = first(" transport input ssh")
            if i is None:
                return False
            lines[i] = " transport input telnet ssh"
        return True
    # interface perturbations: pick an interface section that has something to change
    starts = [i for i, ln in enumerate(lines) if ln.startswith("interface ")]
    rng.shuffle(starts)
    for s in starts:
        end = next((j for j in range(s + 1, len(lines)) if not lines[j].startswith(" ")), len(lines))
        body = range(s + 1, end)
        if kind == "interface-description":
            d = next((j for j in body if lines[j].startswith(" description ")), None)
            if d is not None and lines[d] != " description mgmt":
                lines[d] = " description UNDOCUMENTED CHANGE"
                return True
        elif kind == "interface-shutdown":
            if not any(lines[j] == " shutdown" for j in body):
                lines.insert(end, " shutdown")
                return True
        elif kind == "interface-address":
            a = next((j for j in body if lines[j].startswith(" ip address ") and "127." not in lines[j]), None)
            if a is not None:
                lines[a] = (" ip address 10.254.254.1 255.255.255.0" if platform == "cisco_ios"
                            else " ip address 10.254.254.1/24")
                return True
    return False


# -- full-size running configs for simulated devices ------------------------------------------------
def ios_running_config(name: str, role: str, mgmt_ip: str, seed: int, intended: str = "") -> str:
    """A realistic IOS running config for `name` (~90 lines for a router, ~430 for a 48-port switch).

    `intended` (a rendered mspctl config), when given, supplies the managed lines; the rest is
    what real devices carry besides: services, AAA, VLANs, access ports, routing, ACLs.
    """
    rng = random.Random(f"{seed}:{name}")
    out = ["service timestamps debug datetime msec", "service timestamps log datetime msec",
           "no service pad", "no ip domain lookup", "no ip http server", "no ip http secure-server",
           "ip ssh version 2", "ip ssh time-out 60", "aaa new-model",
           "aaa authentication login default local", "aaa authorization exec default local",
           "username netops privilege 15 secret 9 $9$abcdEFGH$0123456789abcdefghijklmnopqrstuvwxyzABCD",
           "enable secret 9 $9$WXYZabcd$ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkji",
           "clock timezone UTC 0 0", "spanning-tree mode rapid-pvst", "spanning-tree extend system-id",
           "snmp-server community S3cr3tRO RO 99", "access-list 99 permit 192.0.2.0 0.0.0.255"]
    managed = intended.rstrip("\n").split("\n") if intended else [
        f"hostname {name}", f"ip domain name {name.split('-', maxsplit=1)[0]}.example.net", "ntp server 192.0.2.123",
        "logging host 192.0.2.50", "snmp-server location managed by Northwind MSP",
        "snmp-server contact noc@northwind-msp.example", "banner motd ^CAuthorized access only.^C",
        "interface GigabitEthernet0/0", " description mgmt", f" ip address {mgmt_ip} 255.255.255.255",
        "line vty 0 4", " exec-timeout 10 0", " login local", " transport input ssh"]
    out[:0] = [ln for ln in managed if not ln.startswith(("interface ", " ", "line "))]
    sections = _sections(managed)
    if role == "router":
        for n in range(1, 4):
            sections.append([f"interface GigabitEthernet0/0/{n}", f" description wan{n} to isp",
                             f" ip address 198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)} 255.255.255.252",
                             " ip nat outside", " negotiation auto"])
        asn = 65000 + rng.randint(1, 500)
        sections.append([f"router bgp {asn}", " bgp log-neighbor-changes",
                         *(ln for n in range(4) for ln in (f" neighbor 198.51.100.{n + 1} remote-as 64500",
                                                           f" neighbor 198.51.100.{n + 1} description isp-{n}"))])
        for acl in ("MGMT-IN", "WAN-IN", "NAT"):
            sections.append([f"ip access-list extended {acl}",
                             *(f" {10 * (k + 1)} permit tcp 10.{rng.randint(0, 255)}.0.0 0.0.255.255 any eq {p}"
                               for k, p in enumerate((22, 443, 161, 514, 123, 53)))])
    else:
        for v in (10, 20, 30, 99):
            sections.append([f"vlan {v}", f" name {('users', 'voice', 'printers', 'mgmt')[(v // 10) % 4]}"])
        for n in range(1, 49):
            sections.append([f"interface GigabitEthernet1/0/{n}", f" description access port {n}",
                             " switchport access vlan 10", " switchport mode access", " switchport voice vlan 20",
                             " spanning-tree portfast", " spanning-tree bpduguard enable"])
    sections.append(["line con 0", " exec-timeout 5 0", " logging synchronous"])
    text = out
    for sec in sections:
        text += ["!", *sec]
    return "\n".join(text) + "\n"


def _sections(lines: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for ln in lines:
        if ln.startswith(("interface ", "line ")):
            out.append([ln])
        elif ln.startswith(" ") and out:
            out[-1].append(ln)
    return out
