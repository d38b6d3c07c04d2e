"""Helpers for the host lab tests: the lab CLI, the tests' prefix and subnet, and SSH into hosts."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PREFIX = "mspctl-t"
SUBNET = "10.250.9.0/24"
COUNT = 5


def lab_cli(*args: str, prefix: str = PREFIX, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """``python -m lab.hosts --prefix <prefix> <args>`` from the repository root."""
    return subprocess.run([sys.executable, "-m", "lab.hosts", "--prefix", prefix, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class HostLab:
    """What ``up --json`` reported, plus SSH helpers."""

    info: dict[str, Any]

    @property
    def hosts(self) -> list[dict[str, Any]]:
        return self.info["hosts"]

    def host(self, index: int) -> dict[str, Any]:
        return self.hosts[index - 1]

    def ssh_args(self, *options: str) -> list[str]:
        return ["ssh", "-F", self.info["ssh_config"], *options]

    def ssh(self, host: dict[str, Any], command: str, *, check: bool = True, timeout: float = 120,
            options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on ``host`` as the lab user, over real SSH with the generated client config."""
        proc = subprocess.run([*self.ssh_args(*options), host["name"], command], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert proc.returncode == 0, f"{host['name']}: {command!r} -> {proc.returncode}\n{proc.stderr}"
        return proc
