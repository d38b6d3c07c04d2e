"""What differs between the simulated platforms: config grammar, prompts, messages, show output.

A Platform holds the grammar as data (which first words each configuration mode accepts, which
lines open a sub-mode, which settings hold one value) and renders the outputs that clients
parse: ``show version`` (in the shape ntc-templates' TextFSM templates expect), the running
and startup configurations with their volatile header lines, and error messages.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lab.devices import config_tree

if TYPE_CHECKING:
    from lab.devices.device import Device


@dataclass(frozen=True)
class Opener:
    """Leading words that open a configuration sub-mode, e.g. ``("router", "bgp")``."""

    words: tuple[str, ...]
    mode: str  # the ModeSpec the section's lines are entered in
    prompt: str  # prompt suffix: "config-if"; "{short}" is the abbreviated interface name (EOS)
    bare: bool = False  # the words alone open the section (``archive``); else an argument must follow
    # A regex the rest of the line must match in full for the words to open the section: ``ip sla 10``
    # opens one, ``ip sla schedule 10 ...`` is a global line; ``username NAME`` inside ``ip ssh
    # pubkey-chain`` opens a user, ``username NAME privilege 15 ...`` belongs to the global mode.
    arg: str | None = None

    def takes(self, words: list[str]) -> bool:
        """The line (lower-cased words) opens this section: its words lead and the rest fits ``arg``."""
        n = len(self.words)
        if tuple(words[:n]) != self.words:
            return False
        return self.arg is None or len(words) == n or re.fullmatch(self.arg, " ".join(words[n:])) is not None


@dataclass(frozen=True)
class ModeSpec:
    """One configuration mode.

    keywords: first words accepted here, matched by unique prefix (``desc`` -> ``description``);
    None accepts any line, except a word the global mode knows exactly, which leaves the
    sub-mode the way IOS does (typing ``interface Gi0/2`` inside ``interface Gi0/1``).
    """

    name: str
    keywords: frozenset[str] | None
    openers: tuple[Opener, ...] = ()
    # First words that only ever open a section: any other second word is invalid input.
    opener_only: frozenset[str] = frozenset()
    # Line beginnings this mode refuses although it knows their first keyword: they belong to an
    # outer mode, which takes them the way a real CLI falls back to the parent mode
    # (``ip access-list X`` typed after ``interface Vxlan1``, ``logging host`` after ``line vty``).
    foreign: tuple[tuple[str, ...], ...] = ()
    # Data mode: every line is raw data for the open section until a line holding just this word
    # (IOS certificate hex after ``certificate ca 01``, ended by ``quit``).
    raw_until: str | None = None
    # ``no X`` lines this mode keeps, like the platform's global ones (``no ip unreachables``).
    stored_negations: frozenset[str] = frozenset()

    def refuses(self, words: list[str]) -> bool:
        """A line (lower-cased words, first keyword in full) that belongs to an outer mode."""
        if any(tuple(words[: len(f)]) == f for f in self.foreign):
            return True
        # ``username NAME privilege 15 ...`` inside ``ip ssh pubkey-chain``: an opener's words, not its shape
        return any(o.arg is not None and tuple(words[: len(o.words)]) == o.words and not o.takes(words)
                   for o in self.openers)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GLOBAL_WORDS = _words("""
    hostname interface router line ip ipv6 service enable username aaa ntp logging snmp-server banner clock
    boot vlan vtp spanning-tree access-list route-map crypto license archive cdp lldp errdisable redundancy
    vrf mpls control-plane alias privilege file memory key class-map policy-map tacacs-server tacacs
    radius-server radius system port-channel call-home track event kron monitor udld platform diagnostic
    power mac dot1x login security object-group zone zone-pair parameter-map version transceiver process
    scheduler exception management daemon queue-monitor transceiver peer-filter prefix-list
    boot-start-marker boot-end-marker switch subscriber multilink dialer-list dns mlag
    """)
_IOS_IF_WORDS = _words("""
    description ip ipv6 shutdown switchport speed duplex mtu encapsulation channel-group spanning-tree standby
    vrrp bandwidth delay load-interval negotiation cdp lldp service-policy storm-control power media-type vrf
    mpls bfd keepalive logging carrier-delay tunnel dot1x authentication mab hold-queue arp flowcontrol udld
    source priority-queue qos snmp ospf ppp pppoe pppoe-client dialer dialer-group mop peer
    """)
_EOS_IF_WORDS = _IOS_IF_WORDS | _words("mlag vrrp pim isis traffic-policy error-correction sflow autostate vxlan lacp"
                                       " port-channel")
# Global lines that start with a word an interface or line also knows (``ip``, ``logging``...).
_GLOBAL_ONLY = tuple(tuple(t.split()) for t in (
    "ip access-list", "ip prefix-list", "ip route", "ip routing", "ip domain", "ip domain-name", "ip domain-lookup",
    "ip name-server", "ip host", "ip ssh", "ip http", "ip sla", "ip forward-protocol", "ip ftp", "ip tftp", "ip scp",
    "ip community-list", "ip as-path", "ip extcommunity-list", "ip multicast-routing", "ip default-gateway",
    "ip cef", "ip virtual-router mac-address", "ip dhcp pool", "ip dhcp excluded-address", "ip nat inside source",
    "ip nat outside source", "ip nat pool", "ip tacacs", "ip radius", "ipv6 unicast-routing", "ipv6 route",
    "ipv6 access-list", "ipv6 prefix-list", "logging host", "logging buffered", "logging trap", "logging console",
    "logging source-interface", "logging facility", "logging format", "logging vrf", "logging discriminator",
    "logging monitor", "logging origin-id", "spanning-tree mode", "spanning-tree extend", "spanning-tree vlan",
    "spanning-tree vlan-id", "spanning-tree mst", "spanning-tree loopguard default", "spanning-tree portfast default",
    "spanning-tree portfast bpduguard default", "udld enable", "udld aggressive", "vrf definition", "vrf instance",
    "cdp run", "lldp run", "power redundancy-mode", "power supply", "dot1x system-auth-control",
    "authentication mac-move", "mlag configuration", "privilege exec", "privilege configure", "privilege interface",
    "port-channel load-balance",
))
# ``no X`` forms an interface keeps: X is on by default (``no ip redirects``, EOS ``no autostate``).
_IF_NEGATIONS = frozenset({"ip unreachables", "ip redirects", "ip proxy-arp", "ip route-cache", "cdp enable",
                           "mop enabled", "mop sysid", "keepalive", "snmp trap link-status", "peer neighbor-route",
                           "autostate", "lldp transmit", "lldp receive"})
_ROUTER_NEGATIONS = frozenset({"bgp default ipv4-unicast"})
_LINE_WORDS = _words("""
    login password transport exec-timeout access-class logging privilege session-timeout stopbits length width
    history exec motd-banner ipv6 authorization accounting absolute-timeout escape-character autoselect
    """)

_IOS_MODES = {
    "config": ModeSpec("config", _GLOBAL_WORDS, (
        Opener(("interface",), "config-if", "config-if"),
        Opener(("router", "bgp"), "config-router", "config-router"),
        Opener(("router", "ospf"), "config-router", "config-router"),
        Opener(("router", "eigrp"), "config-router", "config-router"),
        Opener(("router", "rip"), "config-router", "config-router"),
        Opener(("router", "isis"), "config-router", "config-router"),
        Opener(("line",), "config-line", "config-line"),
        Opener(("vlan",), "config-vlan", "config-vlan"),
        Opener(("ip", "access-list", "standard"), "config-acl", "config-std-nacl"),
        Opener(("ip", "access-list", "extended"), "config-acl", "config-ext-nacl"),
        Opener(("ip", "vrf"), "config-vrf", "config-vrf"),
        Opener(("ip", "dhcp", "pool"), "config-dhcp", "dhcp-config"),
        Opener(("vrf", "definition"), "config-vrf", "config-vrf"),
        Opener(("route-map",), "config-route-map", "config-route-map"),
        Opener(("class-map",), "config-cmap", "config-cmap"),
        Opener(("policy-map",), "config-pmap", "config-pmap"),
        Opener(("key", "chain"), "config-keychain", "config-keychain"),
        Opener(("archive",), "config-archive", "config-archive", bare=True),
        Opener(("aaa", "group", "server"), "config-sg", "config-sg-{arg}"),
        Opener(("aaa", "server", "radius", "dynamic-author"), "config-locsvr-da", "config-locsvr-da-radius",
               bare=True),
        Opener(("tacacs", "server"), "config-server-tacacs", "config-server-tacacs"),
        Opener(("radius", "server"), "config-radius-server", "config-radius-server"),
        Opener(("crypto", "pki", "trustpoint"), "config-ca-trustpoint", "ca-trustpoint"),
        Opener(("crypto", "pki", "certificate", "chain"), "config-cert-chain", "config-cert-chain"),
        Opener(("crypto", "isakmp", "policy"), "config-isakmp", "config-isakmp", arg=r"\d+"),
        Opener(("crypto", "ipsec", "transform-set"), "config-crypto-trans", "cfg-crypto-trans"),
        Opener(("crypto", "ipsec", "profile"), "config-ipsec-profile", "ipsec-profile"),
        Opener(("ip", "ssh", "pubkey-chain"), "config-ssh-pubkey", "conf-ssh-pubkey", bare=True),
        Opener(("ip", "sla"), "config-ip-sla", "config-ip-sla", arg=r"\d+"),
        Opener(("track",), "config-track", "config-track", arg=r"\d+ .+"),
        Opener(("redundancy",), "config-red", "config-red", bare=True),
        Opener(("control-plane",), "config-cp", "config-cp", bare=True),
        Opener(("call-home",), "config-call-home", "cfg-call-home", bare=True),
        Opener(("transceiver", "type"), "config-xcvr-type", "config-xcvr-type"),
    ), opener_only=frozenset({"interface", "router", "line"})),
    "config-if": ModeSpec("config-if", _IOS_IF_WORDS, foreign=_GLOBAL_ONLY, stored_negations=_IF_NEGATIONS),
    "config-line": ModeSpec("config-line", _LINE_WORDS, foreign=_GLOBAL_ONLY, stored_negations=frozenset({"exec"})),
    # ``ip tacacs source-interface`` here is the group's own source; other global ``ip`` lines leave.
    "config-sg": ModeSpec("config-sg", _words("server server-private ip ipv6 deadtime load-balance"),
                          foreign=tuple(f for f in _GLOBAL_ONLY if f not in (("ip", "tacacs"), ("ip", "radius")))),
    "config-locsvr-da": ModeSpec("config-locsvr-da", _words("client server-key port auth-type ignore")),
    "config-server-tacacs": ModeSpec("config-server-tacacs",
                                     _words("address key timeout port single-connection send-nat-address")),
    "config-radius-server": ModeSpec("config-radius-server",
                                     _words("address key timeout retransmit automate-tester pac dtls")),
    "config-ca-trustpoint": ModeSpec("config-ca-trustpoint", _words("""
        enrollment revocation-check hash subject-name subject-alt-name rsakeypair eckeypair fqdn ip-address
        serial-number auto-enroll usage source vrf password chain-validation crl ocsp fingerprint storage
        """)),
    "config-cert-chain": ModeSpec("config-cert-chain", _words("certificate"), (
        Opener(("certificate",), "config-pubkey", "config-pubkey"),
    )),
    "config-pubkey": ModeSpec("config-pubkey", None, raw_until="quit"),
    "config-isakmp": ModeSpec("config-isakmp", _words("encryption encr hash authentication group lifetime")),
    "config-crypto-trans": ModeSpec("config-crypto-trans", _words("mode")),
    "config-ipsec-profile": ModeSpec("config-ipsec-profile", _words("set description responder-only")),
    "config-ssh-pubkey": ModeSpec("config-ssh-pubkey", _words("username server"), (
        Opener(("username",), "config-ssh-pubkey-user", "conf-ssh-pubkey-user", arg=r"\S+"),
        Opener(("server",), "config-ssh-pubkey-user", "conf-ssh-pubkey-server", arg=r"\S+"),
    )),
    "config-ssh-pubkey-user": ModeSpec("config-ssh-pubkey-user", _words("key-hash key-string")),
    "config-track": ModeSpec("config-track", _words("delay default-state")),
    "config-call-home": ModeSpec("config-call-home", None, (
        Opener(("profile",), "config-call-home-profile", "cfg-call-home-profile"),
    )),
    "config-router": ModeSpec("config-router", None, (
        Opener(("address-family",), "config-router-af", "config-router-af"),
    ), stored_negations=_ROUTER_NEGATIONS),
    "config-router-af": ModeSpec("config-router-af", None),
    "config-vrf": ModeSpec("config-vrf", None, (Opener(("address-family",), "config-vrf-af", "config-vrf-af"),)),
    "config-vrf-af": ModeSpec("config-vrf-af", None),
    "config-pmap": ModeSpec("config-pmap", None, (Opener(("class",), "config-pmap-c", "config-pmap-c"),)),
    # ``police`` is a sub-mode; ``service-policy`` typed after ``shape`` shows indented below it.
    "config-pmap-c": ModeSpec("config-pmap-c", None, (
        Opener(("police",), "config-pmap-c-police", "config-pmap-c-police"),
        Opener(("shape",), "config-pmap-c-shape", "config-pmap-c"),
    )),
    "config-pmap-c-police": ModeSpec("config-pmap-c-police", _words("conform-action exceed-action violate-action")),
    "config-pmap-c-shape": ModeSpec("config-pmap-c-shape", _words("service-policy")),
    "config-keychain": ModeSpec("config-keychain", None,
                                (Opener(("key",), "config-keychain-key", "config-keychain-key"),)),
    # ``archive``: path, maximum, write-memory, time-period, rollback... any line; ``log config`` nests.
    "config-archive": ModeSpec("config-archive", None,
                               (Opener(("log", "config"), "config-archive-log-cfg", "config-archive-log-cfg",
                                       bare=True),)),
    "config-archive-log-cfg": ModeSpec("config-archive-log-cfg", _words("logging notify hidekeys record")),
}
_MGMT_WORDS = _words("""
    idle-timeout authentication ip ipv6 connection login client-alive cipher key-exchange mac hostkey fips
    log-level server-port shutdown protocol cors qos session content-frame-ancestors
    """)

_EOS_MODES = {
    "config": ModeSpec("config", _GLOBAL_WORDS, (
        Opener(("interface",), "config-if", "config-if-{short}"),
        Opener(("router", "bgp"), "config-router", "config-router-bgp"),
        Opener(("router", "ospf"), "config-router", "config-router-ospf"),
        Opener(("router", "isis"), "config-router", "config-router-isis"),
        Opener(("vlan",), "config-vlan", "config-vlan-{arg}"),
        Opener(("ip", "access-list", "standard"), "config-acl", "config-std-acl-{arg}"),
        Opener(("ip", "access-list"), "config-acl", "config-acl-{arg}"),
        Opener(("vrf", "instance"), "config-vrf", "config-vrf-{arg}"),
        Opener(("route-map",), "config-route-map", "config-route-map-{arg}"),
        Opener(("management", "ssh"), "config-mgmt", "config-mgmt-ssh", bare=True),
        Opener(("management", "api", "http-commands"), "config-mgmt", "config-mgmt-api-http-cmds", bare=True),
        Opener(("daemon",), "config-daemon", "config-daemon-{arg}"),
        Opener(("line",), "config-line", "config-line"),
        Opener(("router", "bfd"), "config-router-bfd", "config-router-bfd", bare=True),
        Opener(("mlag", "configuration"), "config-mlag", "config-mlag", bare=True),
        Opener(("ip", "prefix-list"), "config-ip-pfx", "config-ip-pfx", arg=r"\S+"),
        Opener(("aaa", "group", "server"), "config-sg", "config-sg-{arg}"),
    ), opener_only=frozenset({"interface", "router"})),
    "config-if": ModeSpec("config-if", _EOS_IF_WORDS, foreign=_GLOBAL_ONLY, stored_negations=_IF_NEGATIONS),
    "config-line": ModeSpec("config-line", _LINE_WORDS, foreign=_GLOBAL_ONLY),
    "config-sg": ModeSpec("config-sg", _words("server")),
    # ``management ssh`` / ``api http-commands``: shut down unless ``no shutdown``, also per VRF.
    "config-mgmt": ModeSpec("config-mgmt", _MGMT_WORDS, (Opener(("vrf",), "config-mgmt-vrf", "config-mgmt-vrf-{arg}"),),
                            foreign=_GLOBAL_ONLY, stored_negations=frozenset({"shutdown"})),
    "config-mgmt-vrf": ModeSpec("config-mgmt-vrf", _MGMT_WORDS, foreign=_GLOBAL_ONLY,
                                stored_negations=frozenset({"shutdown"})),
    "config-daemon": ModeSpec("config-daemon", None, stored_negations=frozenset({"shutdown"})),
    "config-router": ModeSpec("config-router", None, (
        Opener(("address-family",), "config-router-af", "config-router-bgp-af"),
        Opener(("vrf",), "config-router-vrf", "config-router-bgp-vrf-{arg}"),
        Opener(("vlan",), "config-router-vlan", "config-macvrf-{arg}"),
        Opener(("vlan-aware-bundle",), "config-router-vlan", "config-macvrf-{arg}"),
    ), stored_negations=_ROUTER_NEGATIONS),
    "config-router-af": ModeSpec("config-router-af", None),
    "config-router-vrf": ModeSpec("config-router-vrf", None),
}

# (leading words, how many words identify the setting): a new line with the same key replaces the old one.
_SINGLE_VALUED: tuple[tuple[tuple[str, ...], int], ...] = (
    (("hostname",), 1), (("ip", "domain", "name"), 3), (("ip", "domain-name"), 2), (("enable", "secret"), 2),
    (("enable", "password"), 2), (("clock", "timezone"), 2), (("ip", "default-gateway"), 2),
    (("username",), 2), (("snmp-server", "location"), 2), (("snmp-server", "contact"), 2),
    (("snmp-server", "community"), 3), (("logging", "buffered"), 2), (("ip", "ssh", "version"), 3),
    (("spanning-tree", "mode"), 2), (("description",), 1), (("mtu",), 1), (("speed",), 1), (("duplex",), 1),
    (("bandwidth",), 1), (("encapsulation",), 1), (("channel-group",), 1), (("switchport", "mode"), 2),
    (("switchport", "access", "vlan"), 3), (("switchport", "trunk", "native", "vlan"), 4),
    (("switchport", "trunk", "allowed", "vlan"), 4), (("ip", "ospf", "cost"), 3), (("router-id",), 1),
    (("bgp", "router-id"), 2), (("exec-timeout",), 1), (("transport", "input"), 2), (("access-class",), 1),
    (("name",), 1), (("vrf", "forwarding"), 2), (("vrf",), 1), (("ip", "vrf", "forwarding"), 3),
    (("path",), 1), (("maximum",), 1), (("time-period",), 1),  # IOS ``archive``
    (("dns", "domain"), 2), (("idle-timeout",), 1),
)

_IOS_IFNAMES = ("GigabitEthernet", "FastEthernet", "TenGigabitEthernet", "TwentyFiveGigE", "FortyGigabitEthernet",
                "HundredGigE", "Ethernet", "Loopback", "Vlan", "Port-channel", "Tunnel", "Serial", "BDI", "Dialer",
                "Virtual-Template", "Null", "AppGigabitEthernet")
_EOS_IFNAMES = ("Ethernet", "Management", "Loopback", "Vlan", "Port-Channel", "Tunnel", "Vxlan")
_EOS_SHORT = {"Ethernet": "Et", "Management": "Ma", "Loopback": "Lo", "Vlan": "Vl", "Port-Channel": "Po",
              "Tunnel": "Tu", "Vxlan": "Vx"}
_IFNAME = re.compile(r"^([A-Za-z][A-Za-z-]*?)\s*(\d.*)$")
_ACL_DENY = re.compile(r"^(\d+ )?deny ")


def now() -> datetime:
    return datetime.now(UTC)


def _uptime(since: datetime) -> str:
    minutes = int((now() - since).total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    weeks, days = divmod(days, 7)
    parts = [(weeks, "week"), (days, "day"), (hours, "hour"), (minutes, "minute")]
    shown = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n] or ["0 minutes"]
    return ", ".join(shown)


@dataclass(frozen=True)
class Platform:
    """The grammar and texts of one platform family; subclasses render its outputs."""

    name: str
    indent: int
    default_hostname: str
    modes: dict[str, ModeSpec]
    interface_names: tuple[str, ...]
    banner_eof: bool  # EOS banners end with an EOF line; IOS banners with a delimiter
    # ``no X`` lines the device keeps (they turn off a default); ``X`` itself is then never stored.
    stored_negations: frozenset[str] = field(default_factory=frozenset)
    single_valued: tuple[tuple[tuple[str, ...], int], ...] = _SINGLE_VALUED
    # First words that are complete without arguments; any other bare keyword is incomplete.
    bare_ok: frozenset[str] = frozenset({"shutdown", "switchport", "login", "exit", "end", "hidekeys",
                                         "single-connection", "boot-start-marker", "boot-end-marker"})

    # -- grammar helpers --------------------------------------------------------------------
    def mode(self, name: str) -> ModeSpec:
        """A configuration mode; one not described in ``modes`` is a free-form leaf (ACLs, VLANs...)."""
        return self.modes.get(name) or ModeSpec(name, None)

    def key_words(self, text: str) -> int:
        """How many leading words identify this setting (0: the line may repeat with other values)."""
        words = tuple(text.split())
        if words[:2] == ("ip", "address"):
            return 0 if words[-1] == "secondary" else 2
        if words[:1] == ("username",) and len(words) > 2 and words[2] in ("ssh-key", "sshkey"):
            return 3  # EOS keeps a user's key on its own line, next to ``username NAME privilege ... secret``
        longest, key = 0, 0
        for prefix, n in self.single_valued:
            if words[: len(prefix)] == prefix and len(prefix) > longest:
                longest, key = len(prefix), n
        return key

    def normalize_ifname(self, name: str) -> str | None:
        """``gi0/1`` -> ``GigabitEthernet0/1``: expand an abbreviated interface type; None if unknown."""
        m = _IFNAME.match(name)
        if m is None:
            return None
        kind, rest = m.group(1).lower(), m.group(2)
        for full in self.interface_names:  # the order breaks ties the way the devices do (gi, e, t...)
            if full.lower().startswith(kind):
                return full + rest
        return None

    def canonical(self, mode: str, text: str) -> str:
        """A typed line as the platform shows it (IOS pads ``deny`` in ACL entries)."""
        return text

    def section_prompt(self, opener: Opener, header: str) -> str:
        words = header.split()
        arg = words[len(opener.words)] if len(words) > len(opener.words) else ""
        m = _IFNAME.match(arg)
        short = (_EOS_SHORT.get(m.group(1), m.group(1)) + m.group(2)) if m else arg
        return opener.prompt.format(short=short, arg=arg)

    # -- messages ---------------------------------------------------------------------------
    def invalid_input(self, prompt: str, column: int) -> str:
        raise NotImplementedError

    def incomplete(self) -> str:
        raise NotImplementedError

    def ambiguous(self, command: str) -> str:
        raise NotImplementedError

    def config_banner(self) -> str:
        return ""

    def bad_secret(self) -> str:
        return "% Access denied\n"

    def saved(self) -> str:
        raise NotImplementedError

    def terminal_reply(self, what: str, value: str) -> str:
        return ""

    # -- show output -------------------------------------------------------------------------
    def show_version(self, dev: Device) -> str:
        raise NotImplementedError

    def show_running(self, dev: Device, tree: config_tree.Node | None = None) -> str:
        raise NotImplementedError

    def show_startup(self, dev: Device) -> str:
        raise NotImplementedError

    def show_clock(self) -> str:
        raise NotImplementedError

    def show_ip_interface_brief(self, dev: Device) -> str:
        raise NotImplementedError

    def body(self, tree: config_tree.Node) -> list[str]:
        return config_tree.render(tree, self.indent, separators=self.indent == 1)


def _interfaces(dev: Device) -> list[tuple[str, str, str, bool]]:
    """(name, address, mask-or-prefix, shut) of every interface section in the running config."""
    rows = []
    for node in dev.running.children:
        if not node.text.startswith("interface "):
            continue
        addr = mask = ""
        for child in node.children:
            words = child.text.split()
            if words[:2] == ["ip", "address"] and len(words) >= 3 and words[-1] != "secondary":
                addr, _, mask = words[2].partition("/")
                mask = words[3] if len(words) > 3 else mask
        rows.append((node.text.split(None, 1)[1], addr, mask, node.find("shutdown") is not None))
    return rows


class IosPlatform(Platform):
    """Cisco IOS / IOS-XE."""

    def canonical(self, mode: str, text: str) -> str:
        # ``30 deny any log`` shows as ``30 deny   any log``: IOS aligns deny with permit.
        return _ACL_DENY.sub(r"\1deny   ", text) if mode == "config-acl" else text

    def invalid_input(self, prompt: str, column: int) -> str:
        return " " * (len(prompt) + column) + "^\n% Invalid input detected at '^' marker.\n\n"

    def incomplete(self) -> str:
        return "% Incomplete command.\n\n"

    def ambiguous(self, command: str) -> str:
        return f'% Ambiguous command:  "{command}"\n'

    def config_banner(self) -> str:
        return "Enter configuration commands, one per line.  End with CNTL/Z.\n"

    def bad_secret(self) -> str:
        return "% Bad secrets\n\n"

    def saved(self) -> str:
        return "Building configuration...\n[OK]\n"

    @staticmethod
    def stamp(when: datetime) -> str:
        return f"{when:%H:%M:%S} UTC {when:%a %b} {when.day} {when.year}"

    def show_version(self, dev: Device) -> str:
        spec = dev.spec
        image = f"{spec.model.split('-')[0].upper()}-UNIVERSALK9-M"
        return (
            f"Cisco IOS Software, {spec.model} Software ({image}), Version {spec.os_version}, "
            "RELEASE SOFTWARE (fc2)\n"
            "Technical Support: http://www.cisco.com/techsupport\n"
            "Copyright (c) 1986-2024 by Cisco Systems, Inc.\n"
            "Compiled Thu 02-May-24 10:22 by prod_rel_team\n\n"
            "ROM: System Bootstrap, Version 15.0(1r)M16, RELEASE SOFTWARE (fc1)\n\n"
            f"{dev.hostname} uptime is {_uptime(dev.booted_at)}\n"
            "System returned to ROM by power-on\n"
            f'System image file is "flash:{image.lower()}.{spec.os_version}.bin"\n'
            "Last reload type: Normal Reload\n\n"
            f"cisco {spec.model} (revision 1.0) with 1795979K/6147K bytes of memory.\n"
            f"Processor board ID {spec.serial}\n"
            f"{sum(1 for _ in _interfaces(dev))} interfaces\n"
            "32768K bytes of non-volatile configuration memory.\n\n"
            "Configuration register is 0x2102\n"
        )

    def show_running(self, dev: Device, tree: config_tree.Node | None = None) -> str:
        if tree is None:
            stamps = [f"! Last configuration change at {self.stamp(dev.changed_at)} by {dev.changed_by}"]
            if dev.saved_at is not None:
                stamps.append(f"! NVRAM config last updated at {self.stamp(dev.saved_at)} by {dev.saved_by}")
            lines = ["!", *stamps, "!", *self.body(dev.running), "end"]
        else:  # one section (``show running-config interface X``) carries no change stamps
            lines = ["!", *self.body(tree), "end"]
        body = "\n".join(lines) + "\n"
        return f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n{body}"

    def show_startup(self, dev: Device) -> str:
        saved = dev.saved_at or dev.booted_at
        body = "\n".join(["!", f"! NVRAM config last updated at {self.stamp(saved)} by {dev.saved_by}",
                          "!", *self.body(dev.startup), "end"]) + "\n"
        return f"Using {len(body)} out of 33554432 bytes\n{body}"

    def show_clock(self) -> str:
        t = now()
        return f"*{t:%H:%M:%S}.{t.microsecond // 1000:03d} UTC {t:%a %b} {t.day} {t.year}\n"

    def show_ip_interface_brief(self, dev: Device) -> str:
        lines = [f"{'Interface':<27}{'IP-Address':<16}OK? Method Status                Protocol"]
        for name, addr, _mask, shut in _interfaces(dev):
            status = "administratively down" if shut else "up"
            lines.append(f"{name:<27}{addr or 'unassigned':<16}YES {'NVRAM' if addr else 'unset':<7}"
                         f"{status:<22}{'down' if shut else 'up'}")
        return "\n".join(lines) + "\n"


class EosPlatform(Platform):
    """Arista EOS."""

    def invalid_input(self, prompt: str, column: int) -> str:
        return "% Invalid input\n"

    def incomplete(self) -> str:
        return "% Incomplete command\n"

    def ambiguous(self, command: str) -> str:
        return "% Ambiguous command\n"

    def saved(self) -> str:
        return "Copy completed successfully.\n"

    def terminal_reply(self, what: str, value: str) -> str:
        # Netmiko's arista_eos driver waits for exactly these confirmations at login.
        if what == "length":
            return "Pagination disabled.\n" if value == "0" else f"Pagination set to {value} lines.\n"
        if what == "width":
            return f"Width set to {value} columns.\n"
        return ""

    @staticmethod
    def stamp(when: datetime) -> str:
        return f"{when:%a %b} {when.day:>2} {when:%H:%M:%S} {when.year}"

    def show_version(self, dev: Device) -> str:
        spec = dev.spec
        digest = hashlib.sha1(spec.serial.encode()).hexdigest()  # a stable fake MAC, not security
        mac = f"2899.3a{digest[:2]}.{digest[2:6]}"
        return (
            f"Arista {spec.model}\n"
            "Hardware version: 11.00\n"
            f"Serial number: {spec.serial}\n"
            f"Hardware MAC address: {mac}\n"
            f"System MAC address: {mac}\n\n"
            f"Software image version: {spec.os_version}\n"
            "Architecture: x86_64\n"
            f"Internal build version: {spec.os_version}-28357224.{spec.os_version.replace('.', '')}\n"
            "Internal build ID: 5c6a1da2-8b8b-4a5e-9d41-3c1b2a6f0e5a\n"
            "Image format version: 2.0\n"
            "Image optimization: Default\n\n"
            f"Uptime: {_uptime(dev.booted_at)}\n"
            "Total memory: 8099732 kB\n"
            "Free memory: 6238880 kB\n\n"
        )

    def _device_line(self, dev: Device) -> str:
        return f"! device: {dev.hostname} ({dev.spec.model}, EOS-{dev.spec.os_version})"

    def show_running(self, dev: Device, tree: config_tree.Node | None = None) -> str:
        head = ["! Command: show running-config", f"! Time: {self.stamp(now())}", self._device_line(dev),
                "!", "! boot system flash:/EOS.swi", "!"]
        if tree is not None:  # one section: just its lines, as EOS prints them
            return "\n".join(line for line in self.body(tree) if line != "!") + "\n"
        body = self.body(dev.running)
        return "\n".join([*head, *body, *([] if body and body[-1] == "!" else ["!"]), "end"]) + "\n"

    def show_startup(self, dev: Device) -> str:
        saved = dev.saved_at or dev.booted_at
        head = [f"! Startup-config last modified at {self.stamp(saved)} by {dev.saved_by}", self._device_line(dev),
                "!", "! boot system flash:/EOS.swi", "!"]
        body = self.body(dev.startup)
        return "\n".join([*head, *body, *([] if body and body[-1] == "!" else ["!"]), "end"]) + "\n"

    def show_clock(self) -> str:
        return f"{self.stamp(now())}\nTimezone: UTC\nClock source: local\n"

    def show_ip_interface_brief(self, dev: Device) -> str:
        lines = [" " * 72 + "Address",
                 "Interface         IP Address            Status      Protocol         MTU    Owner",
                 "----------------- --------------------- ----------- ------------- ---------- -------"]
        for name, addr, mask, shut in _interfaces(dev):
            shown = f"{addr}/{mask}" if addr else "unassigned"
            status = "adminDown" if shut else "up"
            lines.append(f"{name:<18}{shown:<22}{status:<12}{'down' if shut else 'up':<14}{'1500':>10}")
        return "\n".join(lines) + "\n"


IOS = IosPlatform(name="cisco_ios", indent=1, default_hostname="Router", modes=_IOS_MODES,
                  interface_names=_IOS_IFNAMES, banner_eof=False,
                  stored_negations=frozenset({"ip domain lookup", "ip domain-lookup", "ip http server",
                                              "ip http secure-server", "service pad", "cdp run", "switchport",
                                              "ip source-route", "service config", "ip routing", "service dhcp",
                                              "logging console", "ip dhcp snooping information option"}))
EOS = EosPlatform(name="arista_eos", indent=3, default_hostname="localhost", modes=_EOS_MODES,
                  interface_names=_EOS_IFNAMES, banner_eof=True,
                  stored_negations=frozenset({"switchport", "aaa root", "ip routing", "ipv6 routing"}))
PLATFORMS: dict[str, Platform] = {IOS.name: IOS, EOS.name: EOS}
