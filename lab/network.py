"""The demo network: NetBox's demo devices, simulated over SSH, with known seeded drift.

`python -m lab network up` reads every active IOS/EOS device of the demo clients from the lab
NetBox (name, address, serial, model), seeds each with its golden file
(`lab/golden/<platform>/<device>.cfg`: the hand-written configuration that device must have,
which is also the oracle for `mspctl config render`), applies the perturbations in
SEEDED_DRIFT, writes a device spec (lab.devices format) and starts the simulator on the
devices' primary IPs, port 2222. It also writes the lab credentials file that
inventory/clients.yml refers to.

The seed never comes from mspctl's own render: a device is compliant because its configuration
is what the golden file says, so a render bug shows up as drift and as a failing
tests/lab/test_render_golden_lab.py, instead of being copied onto the devices.

So a drift audit has something real to find, and the tests know exactly what:
`EXPECTED_DRIFT` is the per-device, per-feature finding each perturbation must produce.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lab import nbserver
from lab.services import log

DEVICE_PORT = 2222
# client -> (credentials name in inventory/clients.yml, username, password, enable secret).
# Throwaway lab values: every client's devices get their own, so a mix-up shows as an auth failure.
CREDENTIALS = {
    "acme": ("acme-netops", "netops", "acme-lab-pw", "acme-lab-enable"),
    "globex": ("globex-netops", "netops", "globex-lab-pw", "globex-lab-enable"),
    "initech": ("initech-netops", "netops", "initech-lab-pw", "initech-lab-enable"),
    "hooli": ("hooli-netops", "hooli-noc", "hooli-lab-pw", "hooli-lab-enable"),  # lab/brownfield.py
}

# device -> list of (op, line, replacement). Ops apply to the device's golden file.
SEEDED_DRIFT: dict[str, list[tuple[str, str, str]]] = {
    "acme-core-sw1": [("replace", "ntp server 198.51.100.2", "ntp server 192.0.2.99")],
    "acme-edge-rtr1": [("remove", "login block-for 60 attempts 3 within 60", "")],
    "acme-dist-sw1": [("append", "", "logging host 192.0.2.66")],
    "globex-core-sw1": [("replace", "Managed by Northwind MSP.", "Welcome! Unauthorised use is fine.")],
    "globex-rtr1": [("replace", " transport input ssh", " transport input telnet ssh")],
    "initech-rtr1": [("remove", "snmp-server contact noc@northwind-msp.example", "")],
}
# device -> feature -> (missing, extra), as `mspctl drift` reports them.
EXPECTED_DRIFT: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "acme-core-sw1": {"ntp": (["ntp server 198.51.100.2"], ["ntp server 192.0.2.99"])},
    "acme-edge-rtr1": {"pci-login": (["login block-for 60 attempts 3 within 60"], [])},
    "acme-dist-sw1": {"logging": ([], ["logging host 192.0.2.66"])},
    "globex-core-sw1": {"banner": (["banner motd\nAuthorized access only. Managed by Northwind MSP.\nEOF"],
                                   ["banner motd\nAuthorized access only. Welcome! Unauthorised use is fine.\nEOF"])},
    "globex-rtr1": {"vty": (["line vty 0 4 > transport input ssh"], ["line vty 0 4 > transport input telnet ssh"])},
    "initech-rtr1": {"snmp": (["snmp-server contact noc@northwind-msp.example"], [])},
}
COMPLIANT = {"globex-core-sw2", "initech-sw1"}

# The demo clients whose network devices the lab simulates, and the platforms it can simulate.
DEMO_CLIENTS = ("acme", "globex", "initech")
PLATFORMS = ("cisco_ios", "arista_eos")
GOLDEN = nbserver.HERE / "golden"

DEVICES_HOME = nbserver.LAB_HOME / "devices"
SPEC = DEVICES_HOME / "demo-network.yaml"
CREDENTIALS_FILE = nbserver.LAB_HOME / "credentials.toml"


def perturb(text: str, ops: list[tuple[str, str, str]], device: str) -> str:
    lines = text.rstrip("\n").split("\n")
    for op, old, new in ops:
        if op == "append":
            lines.append(new)
            continue
        hits = [i for i, line in enumerate(lines) if old in line]
        if not hits:
            raise SystemExit(f"[lab] seeded drift for {device}: {old!r} is not in its golden file "
                             "(golden file changed? update SEEDED_DRIFT in lab/network.py)")
        i = hits[0]
        if op == "remove":
            del lines[i]
        else:
            lines[i] = lines[i].replace(old, new)
    return "\n".join(lines) + "\n"


def write_credentials() -> Path:
    body = "".join(f'[{name}]\nusername = "{user}"\npassword = "{pw}"\nsecret = "{enable}"\n\n'
                   for name, user, pw, enable in CREDENTIALS.values())
    CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(CREDENTIALS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(body)
    os.chmod(CREDENTIALS_FILE, 0o600)
    return CREDENTIALS_FILE


@dataclass(frozen=True)
class LabDevice:
    """A demo device as NetBox has it: what the simulator needs to be that machine."""

    name: str
    client: str
    platform: str
    host: str  # the primary IPv4 address, without its prefix length
    serial: str
    model: str  # the device type's slug


def golden_file(platform: str, device: str, golden: Path = GOLDEN) -> Path:
    """``<golden>/<platform>/<device>.cfg``."""
    return golden / platform / f"{device}.cfg"


def golden_config(platform: str, device: str, golden: Path = GOLDEN) -> str:
    """The device's golden configuration, byte for byte. Raises SystemExit when there is none."""
    path = golden_file(platform, device, golden)
    try:
        return path.read_text()
    except FileNotFoundError:
        raise SystemExit(f"[lab] {device} ({platform}) has no golden file {path}: write the configuration "
                         "it must have (see lab/golden/README.md)") from None


def running_config(dev: LabDevice, golden: Path = GOLDEN) -> str:
    """What the simulated device starts with: its golden file with its seeded drift applied."""
    return perturb(golden_config(dev.platform, dev.name, golden), SEEDED_DRIFT.get(dev.name, []), dev.name)


def netbox_devices(netbox_url: str, token: str, clients: Iterable[str] = DEMO_CLIENTS) -> list[LabDevice]:
    """Every active IOS/EOS device of `clients` in NetBox, by name (plain REST: the lab does not
    use mspctl to learn what to seed)."""
    query = urllib.parse.urlencode([("status", "active"), *(("platform", p) for p in PLATFORMS),
                                    *(("tenant", c) for c in clients), ("ordering", "name"), ("limit", "1000")])
    next_url: str | None = f"{netbox_url.rstrip('/')}/api/dcim/devices/?{query}"
    records: list[dict[str, object]] = []
    expected = 0
    while next_url:
        req = urllib.request.Request(next_url, headers={"Authorization": f"Bearer {token}",
                                                        "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                page = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SystemExit(f"[lab] cannot read the demo devices from NetBox ({next_url}): {exc}") from None
        expected = int(page["count"])
        records.extend(page["results"])
        next_url = page.get("next")
    if len(records) != expected:
        raise SystemExit(f"[lab] NetBox listed {len(records)} of {expected} demo devices")
    return [_lab_device(rec) for rec in records]


def _slug(value: object) -> str:
    return str(value["slug"]) if isinstance(value, dict) and value.get("slug") else ""


def _lab_device(rec: dict[str, object]) -> LabDevice:
    ip = rec.get("primary_ip4")
    if not isinstance(ip, dict) or not ip.get("address"):
        raise SystemExit(f"[lab] demo device {rec.get('name')} has no primary IPv4 address in NetBox")
    return LabDevice(name=str(rec["name"]), client=_slug(rec.get("tenant")), platform=_slug(rec.get("platform")),
                     host=str(ip["address"]).split("/")[0], serial=str(rec.get("serial") or ""),
                     model=_slug(rec.get("device_type")))


def device_spec(devices: Iterable[LabDevice], golden: Path = GOLDEN) -> dict[str, object]:
    """The simulator's spec: each device as NetBox names it, seeded from its golden file.

    The configurations are written into the spec itself (not referenced as files), so a changed
    golden file changes the spec, and `lab.devices up` restarts the simulator with the new seed.
    """
    out = []
    for dev in devices:
        _, user, pw, enable = CREDENTIALS[dev.client]
        out.append({
            "name": dev.name, "platform": dev.platform, "host": dev.host, "port": DEVICE_PORT,
            "username": user, "password": pw, "enable_secret": enable, "serial": dev.serial,
            "model": dev.model, "os_version": OS_VERSIONS.get(dev.name, OS_BY_TYPE.get(dev.model, "")),
            "running_config": running_config(dev, golden),
        })
    return {"devices": out}


def build_spec(netbox_url: str, token: str) -> dict[str, object]:
    """The demo network's device spec: NetBox's demo devices, seeded from lab/golden."""
    return device_spec(netbox_devices(netbox_url, token))


# What `show version` reports (the simulator's platform default otherwise: IOS 15.9(3)M7, EOS 4.28.3M).
# Catalyst 9300s run IOS XE 17.9.4a, except acme-core-sw1, seeded one release behind network-os's
# minimum, so `mspctl patch os` has a finding; the ISR4331 routers keep the IOS 15.9 default.
OS_BY_TYPE = {"c9300-48p": "17.9.4a"}
OS_VERSIONS = {"acme-core-sw1": "17.6.1"}


def up() -> dict[str, str]:
    info = nbserver.up("demo")
    return {**info, **start_devices("demo network", SPEC, build_spec(info["url"], info["token"]))}


def start_devices(what: str, spec_path: Path, spec: dict[str, object]) -> dict[str, str]:
    """Write `spec` (only when it changed: the simulator restarts on a new spec) and start its
    devices; the settings to reach them, with the lab's credentials file."""
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(spec, indent=1)
    if not spec_path.exists() or spec_path.read_text() != text:
        spec_path.write_text(text)
    creds = write_credentials()
    proc = subprocess.run([sys.executable, "-m", "lab.devices", "up", "--spec", str(spec_path), "--json"],
                          cwd=nbserver.HERE.parent, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"[lab] {what}: the device simulator failed to start:\n{proc.stdout}\n{proc.stderr}")
    control = json.loads(proc.stdout.strip().splitlines()[-1])["control"]
    devices = spec.get("devices")
    count = len(devices) if isinstance(devices, list | dict) else 0
    log(f"{what}: {count} devices on port {DEVICE_PORT} (spec {spec_path})")
    return {"spec": str(spec_path), "credentials_file": str(creds), "device_port": str(DEVICE_PORT),
            "control": control}


def env_lines() -> str:
    """Exports for reaching the demo network's devices (empty before `network up`)."""
    if not CREDENTIALS_FILE.exists():
        return ""
    return f"export MSPCTL_CREDENTIALS_FILE={CREDENTIALS_FILE}\nexport MSPCTL_DEVICE_PORT={DEVICE_PORT}\n"


def down() -> None:
    subprocess.run([sys.executable, "-m", "lab.devices", "down", "--spec", str(SPEC)], cwd=nbserver.HERE.parent,
                   check=False, timeout=60)
