"""The device lab for these tests: started once per session through ``python -m lab.devices up``.

Devices listen on a random 127.24.N.0/24 block (port 2222) and on 127.0.0.1 high ports, so a
developer's demo lab (127.20.x.x:2222) and a parallel test run do not collide. The lab state
(host key, pid file, control socket) lives in a temporary MSPCTL_LAB_HOME.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Only mspctl is installed; the lab package is run from the repository root (``python -m lab``).
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from devlab import EOS_SEED, IOS_SEED, SECRET, DeviceLab, free_block, free_port, lab_cli  # noqa: E402

from lab.devices.control import ControlClient  # noqa: E402
from lab.devices.runner import Instance  # noqa: E402


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("lab-home")
    return {**os.environ, "MSPCTL_LAB_HOME": str(home), "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="session")
def device_lab_session(tmp_path_factory: pytest.TempPathFactory, lab_env: dict[str, str]) -> Iterator[DeviceLab]:
    block = free_block()
    devices = {
        "r1": {"platform": "cisco_ios", "host": f"{block}.1", "running_config": IOS_SEED,
               "model": "ISR4331", "serial": "FDO2140A0XY", "os_version": "15.9(3)M7"},
        "r2": {"platform": "cisco_ios", "host": f"{block}.2"},
        "sw1": {"platform": "arista_eos", "host": "127.0.0.1", "port": free_port(), "running_config": EOS_SEED,
                "model": "DCS-7050SX3-48YC8", "serial": "JPE19181234", "os_version": "4.28.3M"},
        "sw2": {"platform": "arista_eos", "host": "127.0.0.1", "port": free_port()},
        "locked": {"platform": "cisco_ios", "host": f"{block}.3", "knobs": {"bad_credentials": True}},
        "slow": {"platform": "arista_eos", "host": f"{block}.4", "knobs": {"command_delay": 0.2}},
    }
    spec = {"defaults": {"username": "admin", "password": "admin", "enable_secret": SECRET},
            "devices": [{"name": name, **dev} for name, dev in devices.items()]}
    spec_path = tmp_path_factory.mktemp("spec") / "devices.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    lab_cli("up", "--spec", str(spec_path), env=lab_env)
    control = ControlClient(Instance.of(spec_path, lab_env["MSPCTL_LAB_HOME"]).control)
    lab = DeviceLab(spec_path, devices, control, lab_env)
    try:
        yield lab
    finally:
        lab.close_all()
        lab_cli("down", "--spec", str(spec_path), env=lab_env, check=False)


@pytest.fixture
def device_lab(device_lab_session: DeviceLab) -> Iterator[DeviceLab]:
    """The session's lab with every device back at its seeded state and spec knobs."""
    device_lab_session.control.reset()
    yield device_lab_session
    device_lab_session.close_all()

