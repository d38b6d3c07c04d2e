"""The brownfield client: hooli's devices, configured by hand for years, simulated over SSH.

`python -m lab brownfield up` starts the `brownfield` NetBox data set (the demo plus client
hooli, lab/seed_brownfield.py) and the simulator with each hooli device's running config read
verbatim from lab/brownfield/configs: dozens of ports, AAA, users and keys, routing, banners, and
a hostname that is not the NetBox name. NetBox models only the management interface and a few
facts, so a push with the default features must leave everything else as it is.

The serials, addresses and platforms in the device spec are read back from NetBox, so the
simulator is the machine NetBox names (`show version` carries the serial mspctl checks).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from lab import nbserver, network

DATASET = "brownfield"
CLIENT = "hooli"
CONFIGS_DIR = nbserver.HERE / "brownfield" / "configs"
# NetBox name -> the device's own running config (its hostname is the file's stem, upper or lower case).
CONFIGS = {"hooli-core-sw1": "hq-core-01.cfg", "hooli-wan-rtr1": "hq-wan-gw.cfg", "hooli-leaf1": "dc1-leaf1a.cfg"}
SPEC = network.DEVICES_HOME / "brownfield-network.json"


def config_text(device: str) -> str:
    """The running config a brownfield device starts with, byte for byte as the file has it."""
    return (CONFIGS_DIR / CONFIGS[device]).read_text()


def build_spec(netbox_url: str, token: str) -> dict[str, object]:
    from mspctl.inventory.filters import AssetFilter
    from mspctl.inventory.service import open_inventory
    from mspctl.settings import load_settings

    with tempfile.TemporaryDirectory() as cache:
        env = {"NETBOX_API": netbox_url, "NETBOX_TOKEN": token, "MSPCTL_CACHE_PATH": cache}
        settings = load_settings(env=env, cwd=nbserver.HERE.parent)
        assets = open_inventory(settings).select(AssetFilter(clients=(CLIENT,)), "refresh").assets
    _, user, pw, enable = network.CREDENTIALS[CLIENT]
    devices = []
    for a in sorted(assets, key=lambda a: a.name):
        if a.name not in CONFIGS:
            raise SystemExit(f"[lab] brownfield device {a.name} has no config in {CONFIGS_DIR}")
        devices.append({"name": a.name, "platform": a.platform, "host": a.primary_ip, "port": network.DEVICE_PORT,
                        "username": user, "password": pw, "enable_secret": enable, "serial": a.serial,
                        "model": a.device_type, "running_config": config_text(a.name)})
    missing = sorted(set(CONFIGS) - {d["name"] for d in devices})
    if missing:
        raise SystemExit(f"[lab] brownfield devices missing from NetBox: {', '.join(missing)}")
    return {"devices": devices}


def up(fresh: bool = False) -> dict[str, str]:
    """NetBox's brownfield data set and its devices (idempotent; `fresh`: NetBox's data reloaded
    from its dump); the settings to reach both."""
    info = nbserver.up(DATASET, workers=2, fresh=fresh)
    return {**info, **network.start_devices("brownfield network", SPEC, build_spec(info["url"], info["token"]))}


def down() -> None:
    subprocess.run([sys.executable, "-m", "lab.devices", "down", "--spec", str(SPEC)], cwd=nbserver.HERE.parent,
                   check=False, timeout=60)
    nbserver.down(DATASET)


def configs() -> dict[str, Path]:
    """NetBox name -> config file, for tests and docs."""
    return {name: CONFIGS_DIR / file for name, file in CONFIGS.items()}
