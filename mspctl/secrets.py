"""Secrets in device configuration: the one scrubber for everything mspctl stores or shows.

A config line (or a command, or a drift finding's ``parent > child`` path) that carries a secret
keeps its command and loses only the secret, replaced by `MASK`:

    snmp-server host 10.1.1.50 version 2c H00liR0-c0mm   ->  snmp-server host 10.1.1.50 version 2c <removed>
    username x privilege 15 secret 9 $9$nhEm...           ->  username x privilege 15 secret 9 <removed>

so two scrubbed configs still compare line by line, and a reader sees what was there. Each
line is matched against the rules of its platform, then the generic ones; the first rule that
matches masks its secrets. Then every secret registered with `mspctl.redact` (device passwords
from the credentials file, the NetBox token) is masked wherever it appears. The result is
deterministic and a fixed point: ``scrub(scrub(x)) == scrub(x)``, which is how
`config audit-history` tells a line that still holds a secret.

The rules follow the Cisco IOS / IOS XE and Arista EOS command references; docs/secrets.md lists them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mspctl.redact import redact

MASK = "<removed>"

# Where a command starts: a line's start, a child's after "parent > " (drift findings), or after a
# configuration prompt a device echoed it behind ("r1(config-if)#"); then an optional "no "
# (remediation commands).
_LEAD = r"(?:^|(?<=> )|(?<=\)#))[ \t]*(?:no[ \t]+)?"
# An encryption type before the secret: 0 (clear), 5/8/9 (hashes), 6 (AES), 7 (Vigenere), EOS 8a, sha512.
_TYPE = r"(?:(?:8a|[0-9]|sha512) )?+"  # possessive: never given back to the secret
_WORD = r"(?P<secret>\S+)"
# To the end of the line, for secrets that may hold spaces (IOS passwords, RADIUS keys); trailing
# blanks are kept.
_REST = r"(?P<secret>\S(?:.*\S)?)"


@dataclass(frozen=True)
class Rule:
    """A secret-bearing command: `pattern` finds it, its groups named ``secret*`` are masked."""

    name: str
    pattern: re.Pattern[str]
    words: tuple[str, ...]  # a line the rule matches holds one of these (a cheap test first)

    def mask(self, line: str) -> str | None:
        """`line` with this rule's secrets masked, or None when the rule does not match it."""
        if not any(w in line for w in self.words) or not self.pattern.search(line):
            return None
        return self.pattern.sub(self._masked, line)

    @staticmethod
    def _masked(m: re.Match[str]) -> str:
        spans = sorted(m.span(g) for g, v in m.groupdict().items() if g.startswith("secret") and v is not None)
        out, pos = [], m.start()
        for start, end in spans:
            out += [m.string[pos:start], MASK]
            pos = end
        return "".join(out) + m.string[pos:m.end()]


def _rule(name: str, pattern: str, *words: str) -> Rule:
    return Rule(name, re.compile(pattern), words)


_SNMP_HOST_OPTS = r"(?: (?:informs|traps|vrf \S+|version (?:1|2c)))*+"

GENERIC: tuple[Rule, ...] = (
    _rule("enable secret / password",
          rf"{_LEAD}enable (?:algorithm-type \S+ )?(?:secret|password)(?: level \d+)? {_TYPE}{_REST}", "enable "),
    _rule("username ... secret / password",
          rf"{_LEAD}username \S+ (?:.*? )?(?:secret|password) {_TYPE}{_REST}", "username "),
    _rule("snmp-server community", rf"{_LEAD}snmp-server community {_WORD}", "snmp-server community"),
    # SNMPv1/v2c: the word after the address and options is the community. For SNMPv3 it is the
    # user's name (its keys are on the `snmp-server user` line), which is kept.
    _rule("snmp-server host (v1/v2c community)",
          rf"{_LEAD}snmp-server host \S+{_SNMP_HOST_OPTS} (?!version |informs |traps |vrf ){_WORD}",
          "snmp-server host"),
    _rule("snmp-server user (v3 auth/priv keys)",
          rf"{_LEAD}snmp-server user \S+ .*?\bauth (?:sha-2 \d+|\S+) {_TYPE}{_WORD}"
          r"(?: priv (?:aes (?:128|192|256)|\S+) (?P<secret2>\S+))?", "snmp-server user"),
    _rule("tacacs-server / radius-server [host ...] key",
          rf"{_LEAD}(?:tacacs|radius)-server (?:host .*? )?key {_TYPE}{_REST}", "-server "),
    _rule("ntp authentication-key",
          rf"{_LEAD}ntp authentication-key \d+ \S+ {_TYPE}{_WORD}", "ntp authentication-key"),
    _rule("ip ospf authentication-key",
          rf"{_LEAD}ip ospf authentication-key {_TYPE}{_WORD}", "ospf authentication-key"),
    _rule("ip ospf message-digest-key",
          rf"{_LEAD}ip ospf message-digest-key \d+ \S+ {_TYPE}{_WORD}", "message-digest-key"),
    _rule("ipv6 ospf / ospfv3 authentication ipsec",
          rf"{_LEAD}(?:ipv6 ospf|ospfv3)(?: \d+)? authentication ipsec spi \d+ (?:md5|sha1) {_TYPE}{_WORD}",
          "ipsec spi"),
    _rule("isis / router isis authentication key",
          rf"{_LEAD}(?:isis )?authentication key {_TYPE}{_WORD}", "authentication key "),
    _rule("neighbor ... password (BGP, LDP)",
          rf"{_LEAD}(?:mpls ldp )?neighbor (?:vrf \S+ )?\S+ password {_TYPE}{_REST}", "neighbor "),
    _rule("standby / vrrp authentication text",
          rf"{_LEAD}(?:standby|vrrp|glbp)(?: \d+)?(?: peer)? authentication (?:text )?(?!(?:ietf-)?md5 ){_WORD}",
          "authentication "),
    _rule("key-string (key chains, HSRP/VRRP md5)", rf"\bkey-string {_TYPE}{_WORD}", "key-string "),
    _rule("server-key (RADIUS dynamic authorization)", rf"\bserver-key {_TYPE}{_WORD}", "server-key "),
    _rule("pre-shared-key (IKE keyrings)",
          rf"\bpre-shared-key (?:(?:address|hostname|ipv6) .*?key |(?:local |remote )?){_TYPE}{_WORD}",
          "pre-shared-key "),
    _rule("password in a URL", r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<secret>[^/@\s]+)@", "://"),
    # A child line (or a whole line) that is only the secret: `line vty` password, `tacacs server`
    # / `radius server` key, EzVPN group key, EOS shared-secret profiles. `key 1` in a key chain is
    # an id, not a secret; IOS `password encryption aes` and EOS password policies are settings.
    _rule("password / secret",
          rf"{_LEAD}(?:password|secret)(?! (?:encryption|minimum|policy|reuse)\b) {_TYPE}{_REST}",
          "password", "secret"),
    _rule("key", rf"{_LEAD}key (?!\d+[ \t]*$|chain ){_TYPE}{_REST}", "key "),
)

CISCO_IOS: tuple[Rule, ...] = (
    _rule("crypto isakmp key", rf"{_LEAD}crypto isakmp key {_TYPE}{_WORD}", "crypto isakmp key"),
    _rule("key config-key password-encrypt", rf"{_LEAD}key config-key password-encrypt {_REST}", "config-key"),
    _rule("ip ftp / http client password",
          rf"{_LEAD}ip (?:ftp|http client) password {_TYPE}{_REST}", "password"),
    _rule("ppp chap / pap password",
          rf"{_LEAD}ppp (?:chap|pap)(?: sent-username \S+)? password {_TYPE}{_REST}", "ppp "),
    _rule("ip nhrp authentication", rf"{_LEAD}ip nhrp authentication {_WORD}", "nhrp authentication"),
    _rule("isis password / area-password / domain-password",
          rf"{_LEAD}(?:isis password|area-password|domain-password) {_TYPE}{_WORD}", "password"),
    _rule("ldap bind password", rf"{_LEAD}bind authenticated root-dn .*? password {_TYPE}{_REST}", "root-dn"),
    _rule("wireless WPA pre-shared key", rf"\b(?:wpa-psk|psk set-key) (?:ascii|hex) {_TYPE}{_WORD}", "psk"),
    _rule("wireless WEP key", rf"{_LEAD}encryption (?:vlan \d+ )?key \d+ size \S+ {_TYPE}{_WORD}", "size "),
)

ARISTA_EOS: tuple[Rule, ...] = (
    _rule("aaa root secret", rf"{_LEAD}aaa root secret {_TYPE}{_WORD}", "aaa root secret"),
    _rule("TerminAttr -cvauth=key", r"-cvauth=key,(?P<secret>[^\s,]+)", "-cvauth=key,"),
    _rule("mac security profile key (CAK)", rf"{_LEAD}key [0-9a-fA-F]{{2,}} [07] {_WORD}", "key "),
    _rule("shared-secret profile secret", rf"{_LEAD}secret \d+ {_TYPE}{_WORD}(?= \S)", "secret "),
)

PLATFORMS: dict[str, tuple[Rule, ...]] = {"cisco_ios": CISCO_IOS, "arista_eos": ARISTA_EOS}
_ALIASES = {"cisco_xe": "cisco_ios", "ios": "cisco_ios", "iosxe": "cisco_ios", "eos": "arista_eos"}
# A line holding none of these words is no rule's: most of a config skips the rules entirely.
_CANDIDATE = re.compile(r"secret|password|key|community|snmp-server|authentication|://|psk")


@functools.cache
def rules(platform: str | None = None) -> tuple[Rule, ...]:
    """The rules for `platform` (its own first, then the generic ones). An unknown platform, or
    None, gets every platform's rules: a line is never left unscrubbed for want of a name."""
    key = (platform or "").lower().replace("-", "_")  # a NetBox slug, spelled either way
    key = _ALIASES.get(key, key)
    own = PLATFORMS[key] if key in PLATFORMS else tuple(r for p in PLATFORMS.values() for r in p)
    return own + GENERIC


def _by_rules(line: str, platform: str | None) -> str:
    if _CANDIDATE.search(line):
        for rule in rules(platform):
            masked = rule.mask(line)
            if masked is not None:
                return masked
    return line


def _registered(text: str) -> str:
    # Masks already in the text are left alone, so a second pass changes nothing.
    return MASK.join(redact(part, MASK) for part in text.split(MASK))


def scrub_line(line: str, platform: str | None = None) -> str:
    """One line (or command) with its secrets masked: the first matching rule's, then every
    registered secret's."""
    return _registered(_by_rules(line, platform))


def scrub(text: str, platform: str | None = None) -> str:
    """`text` (a config, a message, a finding) with every secret masked, line by line. Lines without
    a secret are returned unchanged, line endings included."""
    return _registered("".join(_by_rules(line, platform) for line in text.splitlines(keepends=True)))


def scrub_lines(lines: Iterable[str], platform: str | None = None) -> list[str]:
    return [scrub_line(line, platform) for line in lines]


def scrub_values(obj: Any, platform: str | None = None) -> Any:
    """Every string in `obj` (dicts, lists and tuples, nested) scrubbed; other values as they are."""
    if isinstance(obj, str):
        return scrub(obj, platform)
    if isinstance(obj, dict):
        return {k: scrub_values(v, platform) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub_values(v, platform) for v in obj]
    return obj
