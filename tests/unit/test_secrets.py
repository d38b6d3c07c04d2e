"""mspctl/secrets.py: every secret-bearing command keeps its command and loses only its secret.

The corpus (tests/corpus/secrets) holds full configs per platform and a manifest of every secret
seeded in them: none may survive the scrubber, and every other line must come out unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mspctl.redact import register_secret
from mspctl.secrets import ARISTA_EOS, CISCO_IOS, GENERIC, MASK, rules, scrub, scrub_line, scrub_lines, scrub_values

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "secrets"
MANIFEST: dict[str, list[str]] = yaml.safe_load((CORPUS / "secrets.yml").read_text())
FILES = sorted((p.parent.name, p) for p in CORPUS.glob("*/*.cfg"))


def test_the_corpus_has_both_platforms_and_every_manifest_secret_is_seeded() -> None:
    assert sorted(MANIFEST) == ["arista_eos", "cisco_ios"]
    assert {platform for platform, _ in FILES} == set(MANIFEST)
    for platform, secrets in MANIFEST.items():
        text = "".join(p.read_text() for plat, p in FILES if plat == platform)
        assert [s for s in secrets if s not in text] == [], platform  # a stale manifest proves nothing


@pytest.mark.parametrize(("platform", "path"), FILES, ids=lambda v: v.name if isinstance(v, Path) else v)
@pytest.mark.parametrize("rules_of", ["own", "every"])
def test_scrubbing_a_corpus_file_leaves_no_secret_and_every_other_line_as_it_was(platform: str, path: Path,
                                                                                 rules_of: str) -> None:
    text = path.read_text()
    out = scrub(text, platform if rules_of == "own" else None)
    secrets = MANIFEST[platform]
    assert [s for s in secrets if s in out] == []
    before, after = text.splitlines(keepends=True), out.splitlines(keepends=True)
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        if any(s in old for s in secrets):
            assert new != old and MASK in new, old
        else:
            assert new == old  # byte for byte: indentation, trailing blanks, line ends
    assert scrub(out, platform) == out  # a fixed point: what audit-history relies on


# One focused example per rule: (rule, platform, line, scrubbed). The rule named must be the one
# that matches the line first.
EXAMPLES = [
    ("enable secret / password", "cisco_ios", "enable secret 9 $9$abc$def", "enable secret 9 <removed>"),
    ("enable secret / password", "cisco_ios", "enable secret level 5 5 $1$mERr$hx5r",
     "enable secret level 5 5 <removed>"),
    ("enable secret / password", "cisco_ios", "enable algorithm-type scrypt secret Cl3ar",
     "enable algorithm-type scrypt secret <removed>"),
    ("enable secret / password", "arista_eos", "enable password sha512 $6$x$y", "enable password sha512 <removed>"),
    ("username ... secret / password", "cisco_ios", "username x privilege 15 secret 9 $9$h",
     "username x privilege 15 secret 9 <removed>"),
    ("username ... secret / password", "cisco_ios", "username ops access-class VTY password 7 0822455D",
     "username ops access-class VTY password 7 <removed>"),
    ("username ... secret / password", "cisco_ios", "username api algorithm-type scrypt secret 9 $9$a$b",
     "username api algorithm-type scrypt secret 9 <removed>"),
    ("username ... secret / password", "cisco_ios", "username sp password 0 with spaces ",
     "username sp password 0 <removed> "),
    ("username ... secret / password", "arista_eos", "username a privilege 15 role network-admin secret sha512 $6$s",
     "username a privilege 15 role network-admin secret sha512 <removed>"),
    ("username ... secret / password", "arista_eos", "username a secret 0 Cl3ar", "username a secret 0 <removed>"),
    ("snmp-server community", "cisco_ios", "snmp-server community Pub1ic RO 10",
     "snmp-server community <removed> RO 10"),
    ("snmp-server host (v1/v2c community)", "cisco_ios", "snmp-server host 10.1.1.50 version 2c C0mm ",
     "snmp-server host 10.1.1.50 version 2c <removed> "),
    ("snmp-server host (v1/v2c community)", "cisco_ios", "snmp-server host 10.1.1.50 C0mm",
     "snmp-server host 10.1.1.50 <removed>"),
    ("snmp-server host (v1/v2c community)", "cisco_ios", "snmp-server host 10.1.1.5 traps version 1 C0mm udp-port 1162",
     "snmp-server host 10.1.1.5 traps version 1 <removed> udp-port 1162"),
    ("snmp-server host (v1/v2c community)", "arista_eos", "snmp-server host 10.1.1.5 vrf MGMT informs version 2c C0mm",
     "snmp-server host 10.1.1.5 vrf MGMT informs version 2c <removed>"),
    ("snmp-server user (v3 auth/priv keys)", "cisco_ios", "snmp-server user u G v3 auth sha A1 priv aes 128 P1",
     "snmp-server user u G v3 auth sha <removed> priv aes 128 <removed>"),
    ("snmp-server user (v3 auth/priv keys)", "arista_eos", "snmp-server user u G v3 auth sha256 A1 priv aes256 P1",
     "snmp-server user u G v3 auth sha256 <removed> priv aes256 <removed>"),
    ("snmp-server user (v3 auth/priv keys)", "cisco_ios", "snmp-server user u G v3 auth md5 A1",
     "snmp-server user u G v3 auth md5 <removed>"),
    ("tacacs-server / radius-server [host ...] key", "arista_eos", "tacacs-server host 10.1.1.20 vrf MGMT key 7 070E",
     "tacacs-server host 10.1.1.20 vrf MGMT key 7 <removed>"),
    ("tacacs-server / radius-server [host ...] key", "cisco_ios",
     "radius-server host 10.1.1.30 auth-port 1645 acct-port 1646 key 7 0508",
     "radius-server host 10.1.1.30 auth-port 1645 acct-port 1646 key 7 <removed>"),
    ("tacacs-server / radius-server [host ...] key", "cisco_ios", "radius-server key with spaces",
     "radius-server key <removed>"),
    ("ntp authentication-key", "cisco_ios", "ntp authentication-key 1 md5 1511021F0725 7",
     "ntp authentication-key 1 md5 <removed> 7"),
    ("ntp authentication-key", "arista_eos", "ntp authentication-key 1 md5 7 Nt5p==",
     "ntp authentication-key 1 md5 7 <removed>"),
    ("ip ospf authentication-key", "cisco_ios", " ip ospf authentication-key 7 1306",
     " ip ospf authentication-key 7 <removed>"),
    ("ip ospf message-digest-key", "cisco_ios", " ip ospf message-digest-key 1 md5 7 1306",
     " ip ospf message-digest-key 1 md5 7 <removed>"),
    ("ipv6 ospf / ospfv3 authentication ipsec", "cisco_ios", " ipv6 ospf authentication ipsec spi 500 sha1 7 ABCD",
     " ipv6 ospf authentication ipsec spi 500 sha1 7 <removed>"),
    ("isis / router isis authentication key", "arista_eos", "   isis authentication key 7 Is1s==",
     "   isis authentication key 7 <removed>"),
    ("neighbor ... password (BGP, LDP)", "cisco_ios", " neighbor 203.0.113.1 password 7 0508",
     " neighbor 203.0.113.1 password 7 <removed>"),
    ("neighbor ... password (BGP, LDP)", "arista_eos", "   neighbor SPINE password 7 AQQv+/==",
     "   neighbor SPINE password 7 <removed>"),
    ("neighbor ... password (BGP, LDP)", "cisco_ios", "mpls ldp neighbor 10.1.1.2 password 7 0205",
     "mpls ldp neighbor 10.1.1.2 password 7 <removed>"),
    ("standby / vrrp authentication text", "cisco_ios", " standby 20 authentication Hsrp1",
     " standby 20 authentication <removed>"),
    ("standby / vrrp authentication text", "arista_eos", "   vrrp 1 peer authentication text V1",
     "   vrrp 1 peer authentication text <removed>"),
    ("key-string (key chains, HSRP/VRRP md5)", "cisco_ios", "  key-string 7 121A0C04", "  key-string 7 <removed>"),
    ("key-string (key chains, HSRP/VRRP md5)", "cisco_ios", " standby 1 authentication md5 key-string 7 0822",
     " standby 1 authentication md5 key-string 7 <removed>"),
    ("server-key (RADIUS dynamic authorization)", "cisco_ios", " client 10.1.1.30 server-key 7 0822",
     " client 10.1.1.30 server-key 7 <removed>"),
    ("pre-shared-key (IKE keyrings)", "cisco_ios", "  pre-shared-key address 203.0.113.50 key PSK1",
     "  pre-shared-key address 203.0.113.50 key <removed>"),
    ("pre-shared-key (IKE keyrings)", "cisco_ios", "  pre-shared-key local PSK2", "  pre-shared-key local <removed>"),
    ("password in a URL", "cisco_ios", " path ftp://backup:Pw1@10.2.1.50/$h",
     " path ftp://backup:<removed>@10.2.1.50/$h"),
    ("password / secret", "cisco_ios", " password 7 0205154B0A1A11", " password 7 <removed>"),
    ("password / secret", "arista_eos", "      secret 1 7 Sh4red==", "      secret 1 <removed>"),
    ("key", "cisco_ios", " key 7 104D000A0618", " key 7 <removed>"),
    ("key", "cisco_ios", " key EzVpn-Gr0up", " key <removed>"),
    ("crypto isakmp key", "cisco_ios", "crypto isakmp key Hq2Dc1-PSK address 198.51.100.10",
     "crypto isakmp key <removed> address 198.51.100.10"),
    ("key config-key password-encrypt", "cisco_ios", "key config-key password-encrypt M4ster",
     "key config-key password-encrypt <removed>"),
    ("ip ftp / http client password", "cisco_ios", "ip ftp password 7 1414", "ip ftp password 7 <removed>"),
    ("ip ftp / http client password", "cisco_ios", "ip http client password 0 Cl3ar",
     "ip http client password 0 <removed>"),
    ("ppp chap / pap password", "cisco_ios", " ppp chap password 7 0007", " ppp chap password 7 <removed>"),
    ("ppp chap / pap password", "cisco_ios", " ppp pap sent-username u@isp password 7 0458",
     " ppp pap sent-username u@isp password 7 <removed>"),
    ("ip nhrp authentication", "cisco_ios", " ip nhrp authentication DmvpnK1", " ip nhrp authentication <removed>"),
    ("isis password / area-password / domain-password", "cisco_ios", " area-password Ar3a", " area-password <removed>"),
    ("ldap bind password", "cisco_ios", " bind authenticated root-dn cn=svc,dc=x password 7 0832",
     " bind authenticated root-dn cn=svc,dc=x password 7 <removed>"),
    ("wireless WPA pre-shared key", "cisco_ios", " wpa-psk ascii 7 070C285F", " wpa-psk ascii 7 <removed>"),
    ("wireless WPA pre-shared key", "cisco_ios", " security wpa psk set-key ascii 0 Gu3st",
     " security wpa psk set-key ascii 0 <removed>"),
    ("wireless WEP key", "cisco_ios", " encryption vlan 50 key 1 size 128bit 7 9C3A transmit-key",
     " encryption vlan 50 key 1 size 128bit 7 <removed> transmit-key"),
    ("aaa root secret", "arista_eos", "aaa root secret sha512 $6$r$h", "aaa root secret sha512 <removed>"),
    ("TerminAttr -cvauth=key", "arista_eos", "   exec /usr/bin/TerminAttr -cvauth=key,Cv1 -cvvrf=MGMT",
     "   exec /usr/bin/TerminAttr -cvauth=key,<removed> -cvvrf=MGMT"),
    ("mac security profile key (CAK)", "arista_eos", "      key 1234abcd 7 M4cs3c==", "      key 1234abcd 7 <removed>"),
    ("shared-secret profile secret", "arista_eos", "      secret 1 7 Sh4red== infinite infinite",
     "      secret 1 7 <removed> infinite infinite"),
]


@pytest.mark.parametrize(("rule", "platform", "line", "expected"), EXAMPLES, ids=[f"{e[0]}: {e[2].strip()}"
                                                                                   for e in EXAMPLES])
def test_each_rule_masks_only_its_secret(rule: str, platform: str, line: str, expected: str) -> None:
    assert scrub_line(line, platform) == expected
    first = next(r for r in rules(platform) if r.mask(line) is not None)
    assert first.name == rule
    assert scrub_line(expected, platform) == expected


def test_every_rule_has_an_example() -> None:
    names = [r.name for r in (*GENERIC, *CISCO_IOS, *ARISTA_EOS)]
    assert len(names) == len(set(names))
    assert sorted(set(names) - {e[0] for e in EXAMPLES}) == []


@pytest.mark.parametrize("line", [
    "password encryption aes",  # IOS: turns type 6 on
    "key chain OSPF-KEYS", " key 1",  # a key chain and a key's id
    "snmp-server host 10.1.1.51 version 3 priv netops-mon",  # SNMPv3: a user's name, its keys are elsewhere
    "snmp-server group NETOPS v3 priv read NETOPS-VIEW access SNMP-RO",
    "   key-hash ssh-rsa 8FB4F858DD7E5AFB372780EC653DB371 netadmin@noc-jump01",  # public keys
    "username admin ssh-key ssh-rsa AAAAB3NzaC1yc2E admin@noc-jump01",
    "  key-string", "username probe privilege 1 nopassword", " tunnel key 100",
    " standby 10 authentication md5 key-chain HSRP-KEYS", " isis authentication key-chain K",
    "ntp server vrf MGMT 10.1.1.1 key 1", "ntp trusted-key 1", "crypto isakmp keepalive 10 3",
    " authentication pre-share", " ip ospf authentication message-digest", "   password minimum length 12",
    "aaa authentication login default group ISE-TACACS local", " authentication key-management wpa version 2",
    " ppp chap hostname br@isp.example", "ip http client username backup", "      mka key-server priority 10",
    "   exec /usr/bin/TerminAttr -cvauth=token,/tmp/token -cvvrf=MGMT",
    " destination address http https://tools.cisco.com/its/service/oddce/services/DDCEService",
])
def test_lines_without_a_secret_are_kept(line: str) -> None:
    for platform in ("cisco_ios", "arista_eos", None):
        assert scrub_line(line, platform) == line


def test_commands_findings_and_remediation_are_scrubbed_too() -> None:
    assert scrub_line(" no password 7 0205154B0A1A11") == " no password 7 <removed>"  # remediation
    assert scrub_line("no snmp-server community Pub1ic RO") == "no snmp-server community <removed> RO"
    assert scrub_line("tacacs server TAC1 > key 7 104D000A") == "tacacs server TAC1 > key 7 <removed>"  # drift paths
    assert scrub_line("line vty 0 4 > password 7 0205") == "line vty 0 4 > password 7 <removed>"
    assert scrub_line("r1(config-line)#password 7 0205") == "r1(config-line)#password 7 <removed>"  # an echo
    assert scrub_lines(["snmp-server community A RO", "ntp server 10.1.1.1"], "cisco_ios") == [
        "snmp-server community <removed> RO", "ntp server 10.1.1.1"]


def test_scrubbing_is_deterministic_so_two_scrubbed_configs_still_compare() -> None:
    a = "enable secret 9 $9$one\nntp server 10.1.1.1\n"
    b = "enable secret 9 $9$two\nntp server 10.1.1.1\n"
    assert scrub(a, "cisco_ios") == scrub(a, "cisco_ios") == scrub(b, "cisco_ios")


def test_an_unknown_platform_gets_every_platforms_rules() -> None:
    line = "aaa root secret sha512 $6$r$h"
    assert scrub_line(line, "cisco_ios") == line  # not an IOS command
    assert scrub_line(line, "arista_eos") == scrub_line(line, None) == scrub_line(line, "juniper_junos") == \
        "aaa root secret sha512 <removed>"
    assert scrub_line(line, "eos") == scrub_line(line, "Arista-EOS") == "aaa root secret sha512 <removed>"  # slugs


def test_registered_secrets_are_masked_anywhere_in_a_config() -> None:
    register_secret("dev-pw-2024")
    text = scrub("interface Gi0/1\n description handover dev-pw-2024 ok\nsnmp-server location x\n", "cisco_ios")
    assert text == "interface Gi0/1\n description handover <removed> ok\nsnmp-server location x\n"
    assert scrub(text, "cisco_ios") == text


def test_a_registered_secret_inside_the_mask_keeps_scrubbing_a_fixed_point() -> None:
    register_secret("remove")
    once = scrub("enable secret 9 $9$x\n description remove me\n")
    assert once == "enable secret 9 <removed>\n description <removed> me\n"
    assert scrub(once) == once


def test_scrub_values_reaches_nested_strings() -> None:
    data = {"commands": ["snmp-server community A RO"], "n": 3, "nested": {"pre": "enable secret 9 $9$x\n"},
            "pair": ("key 7 0822", None)}
    assert scrub_values(data) == {"commands": ["snmp-server community <removed> RO"], "n": 3,
                                  "nested": {"pre": "enable secret 9 <removed>\n"}, "pair": ["key 7 <removed>", None]}
