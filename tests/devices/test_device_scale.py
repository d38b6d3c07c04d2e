"""Two hundred devices in one process, each on its own loopback address; a sample answers netmiko."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from devlab import free_block, lab_cli
from netmiko import ConnectHandler

from lab.devices.control import ControlClient
from lab.devices.runner import Instance

pytestmark = pytest.mark.lab

COUNT = 200


@pytest.fixture(scope="module")
def big_lab(tmp_path_factory: pytest.TempPathFactory, lab_env: dict[str, str]) -> Iterator[tuple[Path, list[dict]]]:
    block = free_block(first=25)
    devices = [{"name": f"site{n:03d}-{'rtr' if n % 2 else 'sw'}", "platform": "cisco_ios" if n % 2 else "arista_eos",
                "host": f"{block}.{n}"} for n in range(1, COUNT + 1)]
    spec = tmp_path_factory.mktemp("big") / "big.json"
    spec.write_text(json.dumps({"defaults": {"enable_secret": "s3cret"}, "devices": devices}))
    lab_cli("up", "--spec", str(spec), env=lab_env)
    try:
        yield spec, devices
    finally:
        lab_cli("down", "--spec", str(spec), env=lab_env, check=False)


def test_one_process_serves_every_device(big_lab: tuple[Path, list[dict]], lab_env: dict[str, str]) -> None:
    spec, devices = big_lab
    control = ControlClient(Instance.of(spec, lab_env["MSPCTL_LAB_HOME"]).control)
    assert control.call("ping")["devices"] == COUNT
    assert [d["name"] for d in control.call("list")["devices"]] == [d["name"] for d in devices]


def test_a_sample_of_devices_answers_netmiko(big_lab: tuple[Path, list[dict]]) -> None:
    _, devices = big_lab
    for dev in random.Random(7).sample(devices, 10):
        conn = ConnectHandler(device_type=dev["platform"], host=dev["host"], port=2222,
                              username="admin", password="admin", secret="s3cret")
        try:
            conn.enable()
            assert conn.find_prompt() == f"{dev['name']}#"
            assert f"hostname {dev['name']}" in conn.send_command("show running-config | include hostname")
        finally:
            conn.disconnect()
