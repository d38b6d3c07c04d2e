"""Pushes onto brownfield devices: client hooli's switches and router, whose running configs are
real-world shaped files loaded verbatim (lab/brownfield/configs: dozens of ports, AAA, users and
keys, routing, banners, a hostname that is not the NetBox name). NetBox models each device, its
management interface and a loopback, and the client's NTP, syslog and DNS servers. A push with
the default features changes only what that models, and `rollback --run` gives back the device
byte for byte. (`hooli` is in tests/faults/conftest.py.)"""

from __future__ import annotations

import json
import re

import pytest

from lab.brownfield import configs
from lab.devices.config_tree import parse
from mspctl.errors import ExitCode

DEVICES = sorted(configs())
# What NetBox (and the MSP's config contexts) model, as this test's own oracle: top-level lines
# by prefix, and the sections whose listed children the templates render.
OWNED_LINES = ("hostname ", "ntp server ", "logging host ", "snmp-server location", "snmp-server contact",
               "banner motd", "ip domain name", "dns domain", "ip name-server ", "service password-encryption",
               "login block-for")
OWNED_CHILDREN = {
    "line vty 0 4": ("exec-timeout", "login", "transport input"),
    "management ssh": ("idle-timeout",),
}
MODELED_INTERFACES = {"GigabitEthernet0/0", "Management1", "Loopback0"}
INTERFACE_CHILDREN = ("description", "ip address", "shutdown")


# What a device writes into its own output about itself: when and by whom it was last changed or
# saved, and the size; the rest of `show running-config` is the configuration, compared byte for byte.
_STAMPS = re.compile(r"^(Current configuration : \d+ bytes|! (Last configuration change|NVRAM config last updated) .*"
                     r"|! Time: .*)\n", re.M)


def _config(text: str) -> str:
    return _STAMPS.sub("", text)


def _paths(text: str) -> set[tuple[str, ...]]:
    """Every configuration line as its path from the top (a section's line, then its children's)."""
    out: set[tuple[str, ...]] = set()

    def walk(node, prefix: tuple[str, ...]) -> None:
        for child in node.children:
            path = (*prefix, child.text)
            out.add(path)
            walk(child, path)
    walk(parse(text), ())
    return out


def _owned(path: tuple[str, ...]) -> bool:
    top = path[0]
    if len(path) == 1:
        if top.startswith(("interface ", *OWNED_CHILDREN)):
            return False  # a whole section appearing or going: never what NetBox models here
        return top.startswith(OWNED_LINES)
    if top.startswith("interface ") and top.removeprefix("interface ") in MODELED_INTERFACES:
        return len(path) == 2 and path[1].removeprefix("no ").startswith(INTERFACE_CHILDREN)
    children = OWNED_CHILDREN.get(top)
    return children is not None and len(path) == 2 and path[1].startswith(children)


def test_the_devices_run_their_files_verbatim_under_their_own_hostnames(lab_brownfield) -> None:
    for name, path in configs().items():
        text = path.read_text()
        assert _paths(lab_brownfield.running(name)) == _paths(text), name
        assert f"hostname {name}" not in text  # the device's own name, not NetBox's
        interfaces = sum(1 for p in _paths(text) if p[0].startswith("interface ") and len(p) == 1)
        assert interfaces >= (8 if "rtr" in name else 48), (name, interfaces)  # NetBox has 2 of them


def test_drift_finds_only_what_netbox_models(hooli) -> None:
    res = hooli("drift", "-c", "hooli", "-o", "json")
    assert res.exit_code == ExitCode.FINDINGS, res.output
    devices = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    assert sorted(devices) == DEVICES
    for name, d in devices.items():
        assert d["status"] == "drift", (name, d)
        for finding in d["features"]:
            for line in finding["missing"] + finding["extra"]:
                path = tuple(part.strip() for part in line.split(" > "))
                assert _owned(path), (name, finding["feature"], line)


@pytest.mark.parametrize("device", DEVICES)
def test_a_push_changes_only_what_netbox_models_and_its_rollback_restores_every_byte(hooli, lab_brownfield,
                                                                                   device) -> None:
    before = lab_brownfield.running(device)
    dry = hooli("config", "push", "-c", "hooli", "-l", device, "-o", "json")
    assert dry.exit_code == 0, dry.output
    (planned,) = json.loads(dry.stdout)["devices"]
    assert planned["status"] == "planned" and planned["commands"]
    assert not [c for c in planned["commands"] if c.startswith(("no interface", "no line", "no username", "no aaa",
                                                                "no router", "no banner login", "no banner exec"))]
    pushed = hooli("config", "push", "-c", "hooli", "-l", device, "--apply", "--yes", "-o", "json")
    assert pushed.exit_code == 0, pushed.output
    run = json.loads(pushed.stdout)
    (result,) = run["devices"]
    assert result["status"] == "applied", result
    after = lab_brownfield.running(device)
    changed = _paths(before) ^ _paths(after)
    assert changed and all(_owned(p) for p in changed), sorted(p for p in changed if not _owned(p))
    assert ("hostname " + device,) in _paths(after)  # renamed to its NetBox name: the prompt was re-read
    again = hooli("drift", "-c", "hooli", "-l", device, "-o", "json")
    assert again.exit_code == 0, again.output  # converged: nothing left to fix
    back = hooli("config", "rollback", "--run", run["run_id"], "--apply", "--yes", "-o", "json")
    assert back.exit_code == 0, back.output
    restored = lab_brownfield.running(device)
    assert _config(restored) == _config(before)  # banners, secrets, users, keys: every byte
    assert _config(restored) != restored  # (the device did stamp its change: there was something to strip)
