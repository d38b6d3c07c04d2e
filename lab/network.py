"""The demo network: NetBox's demo devices, simulated over SSH, with known seeded drift.

`python -m lab network up` renders every active IOS/EOS demo device's intended configuration
with mspctl itself (templates/ + the lab NetBox), applies the perturbations in SEEDED_DRIFT,
writes a device spec (lab.devices format) and starts the simulator on the devices' primary
IPs, port 2222. It also writes the lab credentials file that inventory/clients.yml refers to.

So a drift audit has something real to find, and the tests know exactly what:
`EXPECTED_DRIFT` is the per-device, per-feature finding each perturbation must produce.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
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

# device -> list of (op, line, replacement). Ops apply to the rendered intended config.
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
            raise SystemExit(f"[lab] seeded drift for {device}: {old!r} is not in the rendered config "
                             "(templates changed? update lab/network.py)")
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


def build_spec(netbox_url: str, token: str) -> dict[str, object]:
    """Render the intended configs with mspctl and turn them into a device spec."""
    from mspctl.inventory.filters import AssetFilter
    from mspctl.inventory.service import open_inventory
    from mspctl.render.service import render_configs
    from mspctl.settings import load_settings

    repo = nbserver.HERE.parent
    with tempfile.TemporaryDirectory() as cache:
        env = {"NETBOX_API": netbox_url, "NETBOX_TOKEN": token, "MSPCTL_CACHE_PATH": cache}
        settings = load_settings(env=env, cwd=repo)
        inventory = open_inventory(settings)
        results = render_configs(settings, inventory, AssetFilter(platforms=("cisco_ios", "arista_eos"),
                                                                  statuses=("active",)), "refresh")
    devices = []
    for r in results:
        if r.status != "ok" or not r.text:
            raise SystemExit(f"[lab] cannot render {r.asset.name}: {r.error}")
        a = r.asset
        _, user, pw, enable = CREDENTIALS[a.client or ""]
        devices.append({
            "name": a.name, "platform": a.platform, "host": a.primary_ip, "port": DEVICE_PORT,
            "username": user, "password": pw, "enable_secret": enable, "serial": a.serial,
            "model": a.device_type, "os_version": OS_VERSIONS.get(a.name, OS_BY_TYPE.get(a.device_type or "", "")),
            "running_config": perturb(r.text, SEEDED_DRIFT.get(a.name, []), a.name),
        })
    return {"devices": devices}


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
    log(f"{what}: {len(spec['devices'])} devices on port {DEVICE_PORT} (spec {spec_path})")  # type: ignore[arg-type]
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
