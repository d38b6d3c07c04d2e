"""The comparison side: the netbox.netbox collection's ``nb_inventory`` plugin, run by the venv's
``ansible-inventory``.

The collection comes from the PyPI ``ansible`` wheel, pinned, downloaded once with
``pip download --no-deps`` and unpacked (only ``ansible_collections/netbox/netbox``) under
~/.cache/mspctl-lab/bench/. The venv is left alone: the plugin's one missing import (pytz) goes
into a private ``--target`` folder that only the ansible-inventory child sees on PYTHONPATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from _common import BENCH_CACHE, BenchError, log, tool

# ansible 14.x needs ansible-core 2.21 (the venv's). It bundles netbox.netbox 3.23.0, whose
# nb_inventory sends a v2 token as "Bearer <token>" when the token option is {type, value}.
ANSIBLE_VERSION = "14.5.0"
COLLECTION_PREFIX = "ansible_collections/netbox/netbox/"
PYDEPS = ["pytz"]  # nb_inventory raises "pytz must be installed" without it


@dataclass(frozen=True)
class NbInventory:
    collections_path: Path
    pythonpath: Path
    collection_version: str


def setup(cache: Path = BENCH_CACHE) -> NbInventory:
    """Idempotently provide the netbox.netbox collection and the plugin's Python dependencies."""
    cache.mkdir(parents=True, exist_ok=True)
    collections = cache / f"collections-ansible-{ANSIBLE_VERSION}"
    manifest = collections / COLLECTION_PREFIX / "MANIFEST.json"
    if not manifest.is_file():
        wheels = cache / "wheels"
        wheel = wheels / f"ansible-{ANSIBLE_VERSION}-py3-none-any.whl"
        if not wheel.is_file():
            log(f"nb_inventory: pip download --no-deps ansible=={ANSIBLE_VERSION} (~50 MB, once)")
            _pip(["download", "--no-deps", "--only-binary", ":all:", f"ansible=={ANSIBLE_VERSION}",
                  "-d", str(wheels)])
        log(f"nb_inventory: unpacking {COLLECTION_PREFIX} into {collections}")
        partial = collections.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(COLLECTION_PREFIX)]
            if not members:
                raise BenchError(f"{wheel} holds no {COLLECTION_PREFIX}")
            zf.extractall(partial, members)
        shutil.rmtree(collections, ignore_errors=True)
        partial.rename(collections)
        wheel.unlink()  # 50 MB we no longer need; the unpacked collection is the cache
    version = json.loads(manifest.read_text())["collection_info"]["version"]

    pydeps = cache / "pydeps"
    missing = [m for m in PYDEPS if not _importable(m, pydeps)]
    if missing:
        log(f"nb_inventory: installing {', '.join(missing)} into {pydeps} (not into the venv)")
        _pip(["install", "--no-deps", "--upgrade", "--target", str(pydeps), *missing])
        print(f"note: installed {', '.join(missing)} into {pydeps} for nb_inventory (PYTHONPATH of "
              "ansible-inventory only)")
    return NbInventory(collections, pydeps, version)


def write_config(folder: Path, token: str, omit_config_context: bool = False) -> Path:
    """The nb_inventory source file. The token stays in the environment, read by a lookup.

    `config_context: false` makes the plugin send ``exclude=config_context``, which NetBox 4.7
    no longer knows (only ``omit=`` is left): NetBox still renders every device's config context
    and the plugin still puts it in the host vars. With `omit_config_context` the file also
    passes ``omit=config_context`` through the query filters: the plugin as a tuned user runs it.
    """
    scheme = "Bearer" if token.startswith("nbt_") else "Token"
    path = folder / ("bench-omit.nb_inventory.yml" if omit_config_context else "bench.nb_inventory.yml")
    omit = ("device_query_filters: [{omit: config_context}]\n"
            "vm_query_filters: [{omit: config_context}]\n") if omit_config_context else ""
    path.write_text(f"""\
plugin: netbox.netbox.nb_inventory
# api_endpoint comes from $NETBOX_API
token:
  type: {scheme}
  value: "{{{{ lookup('env', 'NETBOX_TOKEN') }}}}"
validate_certs: false
config_context: false
interfaces: false
virtual_chassis_name: false
group_by: [tenants, sites, device_roles, platforms, tags]
# ansible_host comes from primary_ip4 (the plugin's default); devices and VMs both
{omit}""")
    return path


def command(config: Path) -> list[str]:
    return [tool("ansible-inventory"), "-i", str(config), "--list"]


def environment(nb: NbInventory, home: Path) -> dict[str, str]:
    """Ansible settings for a quiet, strict run that reads nothing from the user's setup."""
    return {
        "ANSIBLE_COLLECTIONS_PATH": str(nb.collections_path),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_CONFIG": str(home / "ansible.cfg"),  # does not exist: built-in defaults only
        "ANSIBLE_INVENTORY_ENABLED": "netbox.netbox.nb_inventory",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",  # a plugin error must fail, not list 0 hosts
        "ANSIBLE_INVENTORY_CACHE": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "PYTHONPATH": str(nb.pythonpath),
    }


def _importable(module: str, target: Path) -> bool:
    code = f"import sys; sys.path.insert(0, {str(target)!r}); import {module}"
    return subprocess.run([tool("python"), "-c", code], capture_output=True, check=False).returncode == 0


def _pip(args: list[str]) -> None:
    proc = subprocess.run([tool("python"), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise BenchError(f"pip {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
