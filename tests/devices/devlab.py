"""Helpers for the device lab tests: the lab handle, the CLI runner, free addresses, seed configs."""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from netmiko import BaseConnection, ConnectHandler

from lab.devices.control import ControlClient

REPO = Path(__file__).resolve().parents[2]
SECRET = "lab-enable"

IOS_SEED = """\
hostname r1
no ip domain lookup
ip domain name lab.example.net
ntp server 10.0.0.1
logging host 10.0.0.5
!
interface GigabitEthernet0/0
 description mgmt
 ip address 10.1.0.1 255.255.255.0
!
interface GigabitEthernet0/1
 description uplink
 ip address 10.2.0.1 255.255.255.252
 shutdown
!
router bgp 65001
 bgp log-neighbor-changes
 neighbor 10.2.0.2 remote-as 65002
!
line vty 0 4
 login local
 transport input ssh
"""

EOS_SEED = """\
hostname sw1
ip domain-name lab.example.net
ntp server 10.0.0.1
!
interface Ethernet1
   description uplink
   no switchport
   ip address 10.3.0.1/31
!
interface Management1
   ip address 10.1.0.2/24
!
router bgp 65003
   neighbor 10.3.0.0 remote-as 65004
"""


def lab_cli(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lab.devices ARGS`` the way a developer would."""
    proc = subprocess.run([sys.executable, "-m", "lab.devices", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    if check and proc.returncode != 0:
        pytest.fail(f"lab.devices {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}",
                    pytrace=False)
    return proc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_block(first: int = 24) -> str:
    """A 127.<first>.N prefix whose .1 can bind port 2222 right now."""
    for _ in range(50):
        prefix = f"127.{first}.{random.randint(1, 250)}"
        with socket.socket() as sock:
            try:
                sock.bind((f"{prefix}.1", 2222))
            except OSError:
                continue
        return prefix
    raise RuntimeError("no free 127.x block for port 2222")


@dataclass
class DeviceLab:
    """The running lab: its spec, its control client and a netmiko connection factory."""

    spec_path: Path
    devices: dict[str, dict[str, Any]]
    control: ControlClient
    env: dict[str, str]
    _open: list[BaseConnection] = field(default_factory=list)

    def params(self, name: str, **overrides: Any) -> dict[str, Any]:
        dev = self.devices[name]
        return {"device_type": dev["platform"], "host": dev["host"], "port": dev.get("port", 2222),
                "username": "admin", "password": "admin", "secret": SECRET, "conn_timeout": 10, **overrides}

    def connect(self, name: str, **overrides: Any) -> BaseConnection:
        """A real netmiko session to the device, closed at the end of the test."""
        conn = ConnectHandler(**self.params(name, **overrides))
        self._open.append(conn)
        return conn

    def close_all(self) -> None:
        for conn in self._open:
            with contextlib.suppress(Exception):  # a dropped session cannot say goodbye
                conn.disconnect()
        self._open.clear()
