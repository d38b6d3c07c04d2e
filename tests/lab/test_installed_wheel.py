"""An installed mspctl, apart from this checkout, as on an engineer's laptop or a worker machine.

The wheel is built from a copy of the repository's files, installed with its dependencies into a
fresh venv under the test's temporary folder (never this checkout's .venv), and run from an MSP
repository that `mspctl init` made there: inventory, drift and a patch scan against the lab, and
Ansible's own `ansible-inventory` through the inventory plugin the wheel carries (the collection
mspctl.core). The MSP repository has no playbooks/ or plugins/: every patch playbook and module
is the installed product's. Nothing is imported from this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lab.network import EXPECTED_DRIFT
from tests.conftest import REPO, LabNetBox, LabNetwork, LabServers, lab_env
from tests.lab.demo_facts import ACME, ACME_SERVERS

ACME_NETWORK = {n for n in EXPECTED_DRIFT if n.startswith("acme-")}  # acme's active, simulated devices


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def site_packages(self) -> Path:
        (site,) = (self.venv / "lib").glob("python3*/site-packages")
        return site


def _repository_files() -> list[str]:
    """What a clone of the checkout would hold: tracked files and new ones git does not ignore."""
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(f for f in out.split("\0") if f and (REPO / f).is_file())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The built wheel, installed with its dependencies (pip, the configured index) into a new venv."""
    base = tmp_path_factory.mktemp("installed")
    src = base / "src"
    for rel in _repository_files():  # a copy: the build writes build/ and *.egg-info into its tree
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = (base / "dist").glob("mspctl-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # --no-compile: modules are byte-compiled when first imported, not all of ansible-core up front
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return Installed(wheel, venv)


def test_the_wheel_carries_the_playbooks_modules_plugin_and_examples(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    collection = "ansible_collections/mspctl/core/"
    product = {f for f in _repository_files() if f.startswith(("playbooks/", "plugins/", "templates/", "baselines/"))}
    assert {"playbooks/patch_scan.yml", "playbooks/tasks/facts.yml", "plugins/modules/mspctl_pending_updates.py",
            "plugins/inventory/mspctl_inventory.py", "templates/features.yml", "templates/cisco_ios/main.j2",
            "baselines/debian-security.yml"} <= product
    missing = {f for f in product if collection + f not in names}
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert not {n for n in names if "__pycache__" in n or n.endswith(".pyc")}
    assert "mspctl/py.typed" in names and "mspctl/reports/schema/report.schema.json" in names


def _env(installed: Installed, home: Path, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: the installed venv first on PATH, no variable of this checkout or its venv."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("MSPCTL_", "NETBOX_", "PYTHON", "VIRTUAL_ENV", "ANSIBLE_", "GIT_"))}
    path = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if not p.startswith(str(REPO))]
    return {**keep, "PATH": os.pathsep.join([str(installed.bin), *path]), "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1", **extra}


@dataclass(frozen=True)
class MspRepo:
    path: Path
    env: dict[str, str]
    installed: Installed

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=self.path, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def mspctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.installed.bin / "mspctl"), *args)


@pytest.fixture(scope="module")
def msp_repo(installed: Installed, lab_netbox: LabNetBox, lab_network: LabNetwork, lab_servers: LabServers,
             tmp_path_factory: pytest.TempPathFactory) -> MspRepo:
    """An MSP repository made by the installed `mspctl init`, with acme's entry as the lab's
    clients.yml has it; the environment reaches the lab's NetBox, devices and servers."""
    home = tmp_path_factory.mktemp("laptop")
    env = _env(installed, home, {**lab_env(lab_netbox, home), "MSPCTL_CREDENTIALS_FILE": lab_network.credentials_file,
                                 "MSPCTL_DEVICE_PORT": lab_network.device_port,
                                 "MSPCTL_SSH_CONFIG": lab_servers.ssh_config})
    proc = subprocess.run([str(installed.bin / "mspctl"), "init", "msp"], cwd=home, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    repo = MspRepo(home / "msp", env, installed)
    clients = yaml.safe_load((REPO / "inventory" / "clients.yml").read_text())["clients"]
    (repo.path / "inventory" / "clients.yml").write_text(yaml.safe_dump({"clients": {"acme": clients["acme"]}}))
    return repo


def test_init_made_a_committed_repository_of_data_only(msp_repo: MspRepo) -> None:
    log = msp_repo.run("git", "log", "--format=%s").stdout.splitlines()
    assert len(log) == 1 and log[0].startswith("mspctl init")
    tracked = set(msp_repo.run("git", "ls-files").stdout.split())
    assert {"mspctl.toml", "inventory/clients.yml", "inventory/exceptions.yml", "templates/features.yml",
            "templates/cisco_ios/main.j2", "baselines/debian-security.yml", ".gitignore"} <= tracked
    assert not any(t.startswith(("playbooks/", "plugins/")) for t in tracked)


def test_nothing_comes_from_the_checkout(msp_repo: MspRepo) -> None:
    probe = msp_repo.run(str(msp_repo.installed.bin / "python"), "-c",
                         "import json, sys, mspctl, mspctl.product as p; "
                         "print(json.dumps([mspctl.__file__, str(p.root()), sys.path]))")
    assert probe.returncode == 0, probe.stderr
    module, root, path = json.loads(probe.stdout)
    site = str(msp_repo.installed.site_packages)
    assert module == f"{site}/mspctl/__init__.py"
    assert root == f"{site}/ansible_collections/mspctl/core"
    assert not [p for p in path if p.startswith(str(REPO))]
    shown = json.loads(msp_repo.mspctl("settings", "show", "-o", "json").stdout)
    assert shown["repo"] == str(msp_repo.path) and shown["product"] == root


def test_inventory_from_the_installed_mspctl_and_its_ansible_plugin(msp_repo: MspRepo) -> None:
    res = msp_repo.mspctl("inventory", "list", "-c", "acme", "-o", "json")
    assert res.returncode == 0, res.stderr
    assert {a["name"] for a in json.loads(res.stdout)["assets"]} == ACME
    # Ansible finds the plugin in the installed collection: no ansible.cfg path, no plugin folder
    res = msp_repo.run(str(msp_repo.installed.bin / "ansible-inventory"), "-i", "inventory/all-clients.mspctl.yml",
                       "--list")
    assert res.returncode == 0, res.stderr
    listed = json.loads(res.stdout)
    assert set(listed["client_acme"]["hosts"]) == ACME
    # plugin data is marked unsafe (never templated): --list shows it wrapped
    assert listed["_meta"]["hostvars"]["acme-web01"]["client"] == {"__ansible_unsafe": "acme"}


def test_drift_from_the_installed_mspctl_finds_the_seeded_drift(msp_repo: MspRepo) -> None:
    res = msp_repo.mspctl("drift", "-c", "acme", "-o", "json")
    assert res.returncode == 4, res.stderr  # the lab seeds drift
    devices = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    assert {n for n, d in devices.items() if d["status"] != "skipped"} == ACME_NETWORK
    for name in ACME_NETWORK:
        drifted = {f["feature"]: (f["missing"], f["extra"]) for f in devices[name]["features"]
                   if f["status"] == "drift"}
        assert drifted == EXPECTED_DRIFT[name], name
        assert devices[name]["status"] == "drift" and devices[name]["source"] == "live"


def test_patch_scan_from_the_installed_mspctl_uses_its_own_playbooks(msp_repo: MspRepo,
                                                                      lab_servers: LabServers) -> None:
    lab_servers.reset()
    assert not (msp_repo.path / "playbooks").exists()  # the product's playbooks and modules, installed
    res = msp_repo.mspctl("patch", "scan", "-c", "acme", "-o", "json")
    assert res.returncode == 4, res.stderr  # hosts miss approved security updates
    hosts = {h["host"]: h for h in json.loads(res.stdout)["hosts"]}
    assert set(hosts) == set(ACME_SERVERS)
    seeded = {h["name"]: h["updates"] for h in lab_servers.info["hosts"]}
    for name, lab_host in ACME_SERVERS.items():
        security = {p for p, u in seeded[lab_host].items() if u["security"]}
        missing = {p["name"] for p in hosts[name]["compliance"]["packages"] if p["state"] == "MISSING"}
        assert missing == security, name
        assert hosts[name]["state"] == ("NON_COMPLIANT" if security else "COMPLIANT"), name
        assert hosts[name]["baseline"].startswith("debian-security@")
