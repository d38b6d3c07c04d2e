"""The device model without SSH: config tree, CLI grammar, filters and the spec format (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
from devlab import EOS_SEED, IOS_SEED

from lab.devices import config_tree
from lab.devices.cli_session import CliSession, Mode
from lab.devices.device import Device
from lab.devices.spec import Knobs, SpecError, load_spec, parse_spec


def session(platform: str = "cisco_ios", config: str = IOS_SEED, **spec: object) -> CliSession:
    lab = parse_spec([{"name": "r1", "platform": platform, "running_config": config, **spec}])
    cli = CliSession(Device(lab.devices[0]), "tester")
    cli.mode = Mode.PRIV
    return cli


def typed(cli: CliSession, *lines: str) -> str:
    return "".join(cli.handle(line).output for line in lines)


def body(cli: CliSession) -> list[str]:
    return cli.platform.body(cli.device.running)


# -- config tree --------------------------------------------------------------------------------
def test_parse_and_render_round_trip_without_decoration() -> None:
    tree = config_tree.parse("Building configuration...\n\nCurrent configuration : 9 bytes\n" + IOS_SEED + "end\n")
    rendered = config_tree.render(tree, indent=1, separators=True)
    assert [ln for ln in rendered if ln != "!"] == [ln for ln in IOS_SEED.splitlines() if ln != "!"]
    uplink = config_tree.parse(EOS_SEED).find("interface Ethernet1")
    assert uplink is not None
    assert [c.text for c in uplink.children] == ["description uplink", "no switchport", "ip address 10.3.0.1/31"]


def test_multi_line_banners_are_one_node() -> None:
    tree = config_tree.parse("hostname a\nbanner motd ^C\nAuthorized only\n  really\n^C\nntp server 1.1.1.1\n")
    assert [n.text for n in tree.children] == [
        "hostname a", "banner motd ^C\nAuthorized only\n  really\n^C", "ntp server 1.1.1.1"]
    eos = config_tree.parse("banner login\nhello\nEOF\nhostname b\n")
    assert [n.text for n in eos.children] == ["banner login\nhello\nEOF", "hostname b"]


# -- configuration mode ---------------------------------------------------------------------------
def test_single_valued_settings_replace_and_lists_accumulate() -> None:
    cli = session()
    typed(cli, "configure terminal", "interface GigabitEthernet0/0", "description new",
          "ip address 10.1.0.9 255.255.255.0", "ip address 10.8.0.1 255.255.255.0 secondary",
          "exit", "ntp server 10.0.0.2", "ntp server 10.0.0.2", "end")
    mgmt = cli.device.running.find("interface GigabitEthernet0/0")
    assert mgmt is not None
    assert [c.text for c in mgmt.children] == [
        "description new", "ip address 10.1.0.9 255.255.255.0", "ip address 10.8.0.1 255.255.255.0 secondary"]
    assert body(cli).count("ntp server 10.0.0.2") == 1 and "ntp server 10.0.0.1" in body(cli)


def test_no_forms_remove_exact_prefixed_and_keyed_lines() -> None:
    cli = session()
    typed(cli, "conf t", "no logging host 10.0.0.5", "interface Gi0/1", "no description whatever",
          "no ip address", "no shutdown", "exit", "no ntp server 10.9.9.9")
    uplink = cli.device.running.find("interface GigabitEthernet0/1")
    assert uplink is not None and uplink.children == []
    assert "logging host 10.0.0.5" not in body(cli)
    assert "ntp server 10.0.0.1" in body(cli)  # removing an absent line changes nothing


def test_negated_defaults_are_stored_and_undone() -> None:
    cli = session()
    assert "no ip domain lookup" in body(cli)
    typed(cli, "conf t", "ip domain lookup", "no ip http server")
    assert "no ip domain lookup" not in body(cli) and "ip domain lookup" not in body(cli)
    assert "no ip http server" in body(cli)


def test_a_global_command_leaves_the_sub_mode() -> None:
    cli = session()
    typed(cli, "conf t", "interface Gi0/0")
    assert cli.prompt == "r1(config-if)#"
    typed(cli, "router bgp 65001", "address-family ipv4")
    assert cli.prompt == "r1(config-router-af)#"
    typed(cli, "neighbor 10.2.0.2 activate", "exit-address-family")
    assert cli.prompt == "r1(config-router)#"
    typed(cli, "hostname r9")
    assert cli.prompt == "r9(config)#"
    typed(cli, "line vty 0 4", "exec-timeout 0 0", "end")
    assert cli.mode is Mode.PRIV and cli.prompt == "r9#"
    assert "address-family ipv4\n  neighbor 10.2.0.2 activate\n exit-address-family" in "\n".join(body(cli))


def test_free_form_sub_modes_keep_their_own_sections() -> None:
    eos = session("arista_eos", EOS_SEED)
    typed(eos, "configure", "router bgp 65003", "vrf RED", "rd 1:1", "exit", "router-id 1.1.1.1")
    assert eos.prompt == "sw1(config-router-bgp)#"
    assert "router bgp 65003\n   neighbor 10.3.0.0 remote-as 65004\n   vrf RED\n      rd 1:1\n   router-id 1.1.1.1" \
        in "\n".join(body(eos))
    ios = session()
    typed(ios, "conf t", "key chain OSPF", "key 1", "key-string s3cret", "end")
    assert "key chain OSPF\n key 1\n  key-string s3cret" in "\n".join(body(ios))


def test_a_line_the_sub_mode_does_not_take_falls_back_to_the_parent() -> None:
    eos = session("arista_eos", EOS_SEED)
    typed(eos, "configure", "interface Ethernet1", "ip access-list MGMT", "10 permit ip any any", "exit",
          "interface Ethernet1", "logging host 10.0.0.9", "mlag configuration", "peer-link Port-Channel47")
    assert eos.prompt == "sw1(config-mlag)#"  # each of these lines left the interface
    uplink = eos.device.running.find("interface Ethernet1")
    assert uplink is not None and [c.text for c in uplink.children][-1] == "ip address 10.3.0.1/31"
    assert "ip access-list MGMT\n   10 permit ip any any" in "\n".join(body(eos))
    ios = session()
    typed(ios, "conf t", "ip ssh pubkey-chain", "username ops", "key-hash ssh-rsa 0A1B2C ops@jump")
    assert ios.prompt == "r1(conf-ssh-pubkey-user)#"
    typed(ios, "username ops privilege 15 secret 9 $9$x$y", "tacacs server T1", "key 7 0822455D0A16", "end")
    assert "ip ssh pubkey-chain\n username ops\n  key-hash ssh-rsa 0A1B2C ops@jump" in "\n".join(body(ios))
    assert "username ops privilege 15 secret 9 $9$x$y" in body(ios)  # a global user, not the pubkey one
    assert "tacacs server T1\n key 7 0822455D0A16" in "\n".join(body(ios))  # key stays in the server


def test_certificate_hex_is_data_up_to_quit() -> None:
    ios = session()
    typed(ios, "conf t", "crypto pki certificate chain TP-1", "certificate self-signed 01")
    assert ios.prompt == "r1(config-pubkey)#"
    typed(ios, "30820330 30820218", "A0030201", "  \tquit")
    assert ios.prompt == "r1(config-cert-chain)#"
    shown = "\n".join(body(ios))
    assert "crypto pki certificate chain TP-1\n certificate self-signed 01\n  30820330 30820218\n  A0030201\n  \tquit" \
        in shown
    typed(ios, "end")
    assert config_tree.parse(ios.device.running_text()).find("crypto pki certificate chain TP-1") is not None
    again = session(config=ios.device.running_text())  # quit is decoration: one node, its hex children
    cert = again.device.running.find("crypto pki certificate chain TP-1")
    assert cert is not None and [c.text for c in cert.children[0].children] == ["30820330 30820218", "A0030201"]


def test_lines_are_the_same_setting_whatever_their_spacing() -> None:
    ios = session("cisco_ios", "ip access-list standard VTY\n 30 deny   any log\n")
    typed(ios, "conf t", "ip access-list standard VTY", "30 deny any log", "40 deny 10.0.0.0 0.255.255.255")
    acl = ios.device.running.find("ip access-list standard VTY")
    assert acl is not None and [c.text for c in acl.children] == ["30 deny   any log",
                                                                  "40 deny   10.0.0.0 0.255.255.255"]
    typed(ios, "no 30 deny any log")
    assert [c.text for c in acl.children] == ["40 deny   10.0.0.0 0.255.255.255"]


def test_defaults_shown_negated_per_mode_and_users_with_keys() -> None:
    ios = session()
    typed(ios, "conf t", "no service dhcp", "interface Null0", "no ip unreachables", "line aux 0", "no exec",
          "policy-map P", "class C", "police cir 8000", "conform-action transmit", "exceed-action drop",
          "class D", "shape average 1000", "service-policy Q", "end")
    shown = "\n".join(body(ios))
    assert "no service dhcp" in shown and "interface Null0\n no ip unreachables" in shown
    assert "line aux 0\n no exec" in shown
    assert ("policy-map P\n class C\n  police cir 8000\n   conform-action transmit\n   exceed-action drop\n"
            " class D\n  shape average 1000\n   service-policy Q") in shown
    eos = session("arista_eos", EOS_SEED)
    typed(eos, "configure", "username admin privilege 15 secret sha512 $6$a$b", "username admin ssh-key ssh-rsa AAA",
          "management api http-commands", "no shutdown", "vrf MGMT", "no shutdown", "end")
    shown = "\n".join(body(eos))
    assert "username admin privilege 15 secret sha512 $6$a$b\nusername admin ssh-key ssh-rsa AAA" in shown
    assert "management api http-commands\n   no shutdown\n   vrf MGMT\n      no shutdown" in shown


def test_errors_use_each_platforms_wording() -> None:
    cli = session()
    caret = " " * len("r1#show ") + "^"  # under the bad word, counting the prompt the echo follows
    assert typed(cli, "show bogus") == f"{caret}\n% Invalid input detected at '^' marker.\n\n"
    assert typed(cli, "show") == "% Incomplete command.\n\n"
    assert typed(cli, "c") == '% Ambiguous command:  "c"\n'
    typed(cli, "conf t", "interface Gi0/1")
    assert "% Invalid input" in typed(cli, "interface Bogus9")
    assert cli.prompt == "r1(config-if)#"  # a refused line does not leave the sub-mode
    assert "% Invalid input" in typed(cli, "router nonsense 1")
    assert typed(cli, "router bgp") == "% Incomplete command.\n\n"
    eos = session("arista_eos", EOS_SEED)
    assert typed(eos, "show bogus") == "% Invalid input\n"
    assert typed(eos, "show") == "% Incomplete command\n"


def test_user_mode_offers_only_user_commands() -> None:
    cli = session()
    cli.mode = Mode.USER
    assert "% Invalid input" in typed(cli, "show running-config")
    assert "Cisco IOS Software" in typed(cli, "show version")
    typed(cli, "disable")
    assert cli.prompt == "r1>"


def test_enable_secret_one_try() -> None:
    cli = session(enable_secret="pw")
    cli.mode = Mode.USER
    typed(cli, "enable")
    assert cli.prompt == "Password: " and cli.hide_input
    assert typed(cli, "wrong") == "% Bad secrets\n\n"
    assert cli.prompt == "r1>"
    typed(cli, "en", "pw")
    assert cli.prompt == "r1#"


def test_banners_typed_in_config_mode() -> None:
    ios = session()
    out = typed(ios, "conf t", "banner motd #", "Authorized access only", "#", "end")
    assert "End with the character '#'" in out
    assert "banner motd ^C\nAuthorized access only\n^C" in "\n".join(body(ios))
    assert ios.greeting() == "Authorized access only\n"
    eos = session("arista_eos", EOS_SEED)
    typed(eos, "configure", "banner login", "hello", "EOF", "end")
    assert "banner login\nhello\nEOF" in "\n".join(body(eos))


# -- exec mode -------------------------------------------------------------------------------------
def test_filters() -> None:
    cli = session()
    assert typed(cli, "show run | include ^ntp|^logging") == "ntp server 10.0.0.1\nlogging host 10.0.0.5\n"
    assert "ntp" not in typed(cli, "show run | exclude ntp")
    assert typed(cli, "show run | begin ^line").splitlines()[:2] == ["line vty 0 4", " login local"]
    assert typed(cli, "show run | section ^interface GigabitEthernet0/0").splitlines() == [
        "interface GigabitEthernet0/0", " description mgmt", " ip address 10.1.0.1 255.255.255.0"]
    assert typed(cli, "show run | include") == "% Incomplete command.\n\n"
    assert "% Invalid input" in typed(cli, "show run | frob x")


def test_write_memory_copies_running_to_startup() -> None:
    cli = session()
    typed(cli, "conf t", "ntp server 10.0.0.3", "end")
    assert "ntp server 10.0.0.3" not in cli.device.startup_text()
    assert typed(cli, "wr") == "Building configuration...\n[OK]\n"
    assert "ntp server 10.0.0.3" in cli.device.startup_text()
    assert "! NVRAM config last updated at" in cli.device.running_text()


def test_show_running_config_interface_and_section_arguments() -> None:
    eos = session("arista_eos", EOS_SEED)
    assert typed(eos, "show running-config interface et1") == (
        "interface Ethernet1\n   description uplink\n   no switchport\n   ip address 10.3.0.1/31\n")
    assert typed(eos, "show running-config section bgp").splitlines()[0] == "router bgp 65003"


def test_rejected_commands_leave_the_state_alone() -> None:
    cli = session(knobs={"reject": {"^ntp server": "% NTP limit", "^show clock$": None}})
    typed(cli, "conf t")
    assert typed(cli, "ntp server 10.0.0.4") == "% NTP limit\n"
    assert "ntp server 10.0.0.4" not in body(cli)
    typed(cli, "end")
    assert "% Invalid input detected" in typed(cli, "show clock")


# -- spec ------------------------------------------------------------------------------------------
def test_spec_defaults_and_derived_fields(tmp_path: Path) -> None:
    (tmp_path / "r1.cfg").write_text("hostname core-1\n")
    spec = tmp_path / "lab.yaml"
    spec.write_text("defaults: {port: 2300, password: pw}\n"
                    "devices:\n"
                    "  - {name: r1, platform: cisco_ios, host: 127.9.0.1, running_config_file: r1.cfg}\n"
                    "  - {name: s1, platform: arista_eos, host: 127.9.0.2, os_version: '4.30'}\n")
    lab = load_spec(spec)
    r1, s1 = lab.devices
    assert (r1.port, r1.password, r1.model, r1.serial[:3]) == (2300, "pw", "ISR4331", "FDO")
    assert Device(r1).hostname == "core-1"
    assert s1.os_version == "4.30"
    assert Device(s1).hostname == "s1" and r1.startup_config is None


@pytest.mark.parametrize(("devices", "message"), [
    ([{"name": "a", "platform": "cisco_ios", "host": "10.0.0.1"}], "127.0.0.0/8"),
    ([{"name": "a", "platform": "junos"}], "platform must be one of"),
    ([{"name": "a", "platform": "cisco_ios", "colour": "red"}], "unknown key(s) colour"),
    ([{"name": "a", "platform": "cisco_ios"}, {"name": "a", "platform": "cisco_ios", "port": 1}], "used twice"),
    ([{"name": "a", "platform": "cisco_ios"}, {"name": "b", "platform": "cisco_ios"}], "both listen on"),
    ([{"name": "a", "platform": "cisco_ios", "knobs": {"drop_on": "("}}], "bad regex"),
    ([{"name": "a", "platform": "cisco_ios", "knobs": {"drop_after": 0}}], "drop_after"),
    ([], "non-empty list"),
])
def test_spec_errors_say_where(devices: list[dict[str, object]], message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_spec({"devices": devices}, "lab.yaml")
    assert str(err.value).startswith("lab.yaml")


def test_knob_updates_validate_and_null_restores_the_default() -> None:
    knobs = Knobs().updated({"command_delay": 1.5, "reject": {"x": None}})
    assert knobs.command_delay == 1.5
    assert knobs.updated({"command_delay": None}).command_delay == 0.0
    with pytest.raises(SpecError, match="command_delay"):
        knobs.updated({"command_delay": -1})
