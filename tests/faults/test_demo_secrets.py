"""After a whole demo run, no seeded secret is in any byte mspctl wrote or printed.

The run is `scripts/demo`'s own list of mspctl commands (read from the script, so the test follows
the demo as it changes), against the lab: NetBox, the demo network and acme's Debian servers. The
secrets: the NetBox tokens, every client's device password and enable secret (the credentials
file), and secret lines planted on acme's devices before the run (an SNMP community, a RADIUS key,
a local user's type 7 password, an EOS user's plain secret). Every file under the run's private
folders (cache, records, state, backups with their whole git history, reports) and everything
printed on stdout and stderr is searched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
import zlib
from pathlib import Path

import pytest

from lab.devices.control import ControlClient
from tests.conftest import REPO, lab_env

pytestmark = [pytest.mark.lab, pytest.mark.faults]

PLANTED = {
    "acme-edge-rtr1": ["snmp-server community Dem0CommunitySecret RO",
                       "radius-server host 10.9.9.9 key 7 0822455D0A16544541",
                       "username backdoor password 7 045802150C2E1D1C5A"],
    "acme-core-sw1": ["snmp-server community An0therCommunity RW"],
}
PLANTED_SECRETS = ["Dem0CommunitySecret", "0822455D0A16544541", "045802150C2E1D1C5A", "An0therCommunity"]


def demo_commands() -> list[tuple[list[str], set[int]]]:
    """Each `mspctl ...` line of scripts/demo, with the exit codes the demo accepts for it."""
    out = []
    for raw in (REPO / "scripts" / "demo").read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line.startswith("mspctl "):
            continue
        ok = {0}
        if "||" in line:
            line, alt = (p.strip() for p in line.split("||", 1))
            ok |= {int(m) for m in re.findall(r"-eq (\d+)", alt)}
        out.append((shlex.split(line), ok))
    return out


def _files_bytes(root: Path) -> list[tuple[Path, bytes]]:
    """Every file under `root`, git objects inflated (a loose object is zlib data)."""
    out = []
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if "/.git/objects/" in path.as_posix() and "/pack/" not in path.as_posix():
            with contextlib.suppress(zlib.error):
                data = zlib.decompress(data)
        out.append((path, data))
    return out


def test_a_whole_demo_run_writes_and_prints_no_seeded_secret(lab_netbox, lab_network, lab_servers,
                                                             tmp_path: Path) -> None:
    ctl = ControlClient(lab_network.control)
    lab_servers.reset()
    for device, lines in PLANTED.items():
        ctl.run(device, "configure terminal", *lines, "end")
    creds = tomllib.loads(Path(lab_network.credentials_file).read_text())
    secrets = {lab_netbox.token, lab_netbox.no_permission_token, *PLANTED_SECRETS}
    secrets |= {v for entry in creds.values() for k, v in entry.items() if k != "username" and v}
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSPCTL_", "NETBOX_"))}
    env.update(lab_env(lab_netbox, tmp_path), MSPCTL_CREDENTIALS_FILE=lab_network.credentials_file,
               MSPCTL_DEVICE_PORT=lab_network.device_port, MSPCTL_SSH_CONFIG=lab_servers.ssh_config,
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", COLUMNS="200")
    printed: list[tuple[str, bytes]] = []
    commands = demo_commands()
    assert len(commands) >= 10, commands  # the demo's main job: inventory, backup, drift, push, patch
    try:
        for words, ok in commands:
            argv = [a.replace("out/", f"{out_dir}/", 1) if a.startswith("out/") else a for a in words]
            proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, timeout=900)
            printed.append((shlex.join(argv), proc.stdout + proc.stderr))
            assert proc.returncode in ok, (argv, proc.returncode, proc.stderr.decode()[-2000:])
    finally:
        lab_network.reset()
        lab_servers.reset()
    written = _files_bytes(tmp_path)
    backups = [p for p in tmp_path.rglob(".git") if p.is_dir()]
    assert backups, "the demo's backup wrote no git repository"
    history = [subprocess.run(["git", "-C", str(p.parent), "log", "--all", "-p", "--format=%H %B"],
                              capture_output=True, check=True).stdout for p in backups]
    assert any(b"acme-edge-rtr1" in h for h in history)  # the history is really there to search
    # The planted lines reached the backups, scrubbed: the search would have seen them.
    assert any(b"snmp-server community <removed> RO" in h for h in history)
    leaks = [(where, s) for s in sorted(secrets) for where, data in
             [*printed, *[(str(p), d) for p, d in written], *[("git history", h) for h in history]]
             if s.encode() in data]
    assert not leaks, leaks
