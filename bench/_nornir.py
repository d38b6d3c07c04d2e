"""The comparison side of bench/backup: Nornir + nornir_netmiko in a venv of their own.

The venv lives under ~/.cache/mspctl-lab/bench/nornir-venv, made once from the same Python
as the project's venv. netmiko there is pinned to the project venv's version, so both sides
drive the devices with the same library and only the orchestration differs. The project's
venv is left alone.

`write_inventory` writes a SimpleInventory (hosts.yaml, defaults.yaml); `command` runs
bench/_nornir_backup.py with that venv's interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from _common import BENCH_CACHE, BenchError, log

VENV = BENCH_CACHE / "nornir-venv"
PACKAGES = ["nornir", "nornir_netmiko"]
RUNNER = Path(__file__).resolve().parent / "_nornir_backup.py"


@dataclass(frozen=True)
class NornirVenv:
    python: Path
    versions: dict[str, str]


def setup(venv: Path = VENV) -> NornirVenv:
    """Idempotently provide a venv with nornir, nornir_netmiko and the project's netmiko version."""
    python = venv / "bin" / "python"
    netmiko = version("netmiko")
    wanted = {"nornir": None, "nornir_netmiko": None, "netmiko": netmiko}
    have = _versions(python) if python.exists() else {}
    if not python.exists() or any(k not in have for k in wanted) or have.get("netmiko") != netmiko:
        if not python.exists():
            log(f"nornir: creating {venv} (once)")
            base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
            _run([str(base if base.exists() else sys.executable), "-m", "venv", str(venv)], "python -m venv")
        log(f"nornir: pip install {' '.join(PACKAGES)} netmiko=={netmiko} into {venv} (once, ~1 min)")
        _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *PACKAGES,
              f"netmiko=={netmiko}"], "pip install")
        have = _versions(python)
    missing = [k for k in wanted if k not in have]
    if missing:
        raise BenchError(f"{venv}: {', '.join(missing)} still not importable after pip install")
    return NornirVenv(python, have)


def _versions(python: Path) -> dict[str, str]:
    code = ("import json, importlib.metadata as m\nout = {}\n"
            "for name in ('nornir', 'nornir_netmiko', 'netmiko', 'paramiko'):\n"
            "    try: out[name] = m.version(name)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise BenchError(f"nornir venv: {what} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    port: int
    platform: str  # Netmiko device type


def write_inventory(folder: Path, hosts: Sequence[Host], username: str, password: str, secret: str) -> Path:
    """A SimpleInventory in `folder`: one host entry per device, credentials in defaults.

    JSON is YAML, and ruamel (SimpleInventory's loader) reads 500 hosts of it in a blink.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts.yaml").write_text(json.dumps(
        {h.name: {"hostname": h.address, "port": h.port, "platform": h.platform} for h in hosts}, indent=1))
    (folder / "groups.yaml").write_text("{}\n")
    (folder / "defaults.yaml").write_text(json.dumps({
        "username": username, "password": password,
        "connection_options": {"netmiko": {"extras": {"secret": secret}}},
    }, indent=1))
    return folder


def command(nornir: NornirVenv, inventory: Path, out_dir: Path, workers: int | None) -> list[str]:
    """Run the Nornir backup; `workers` None keeps Nornir's default threaded runner (20 workers)."""
    return [str(nornir.python), str(RUNNER), "--inventory", str(inventory), "--out", str(out_dir),
            *(["--workers", str(workers)] if workers else [])]
