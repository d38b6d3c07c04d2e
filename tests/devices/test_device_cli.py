"""The ``python -m lab.devices`` entry points: up/status/down, serve, ctl, spec errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from devlab import REPO, DeviceLab, free_port, lab_cli
from netmiko import ConnectHandler

from lab.devices.control import ControlClient, ControlError
from lab.devices.runner import Instance

pytestmark = pytest.mark.lab


def test_up_is_idempotent_and_status_lists_every_device(device_lab: DeviceLab) -> None:
    spec = str(device_lab.spec_path)
    pid = device_lab.control.call("ping")["pid"]
    again = lab_cli("up", "--spec", spec, env=device_lab.env)
    assert "already running" in again.stderr
    assert device_lab.control.call("ping")["pid"] == pid
    status = lab_cli("status", "--spec", spec, env=device_lab.env)
    assert f"running, pid {pid}" in status.stdout
    assert sum("listening" in line for line in status.stdout.splitlines()) == len(device_lab.devices)


def test_ctl_sends_control_requests(device_lab: DeviceLab) -> None:
    spec = str(device_lab.spec_path)
    info = json.loads(lab_cli("ctl", "--spec", spec, "info", '{"device": "sw1"}', env=device_lab.env).stdout)
    assert info["device"]["platform"] == "arista_eos"
    config = lab_cli("ctl", "--spec", spec, "config", '{"device": "r1", "which": "startup"}', env=device_lab.env)
    assert "hostname r1" in config.stdout
    bad = lab_cli("ctl", "--spec", spec, "frob", env=device_lab.env, check=False)
    assert bad.returncode == 1 and "unknown op" in bad.stderr


def test_lifecycle_of_a_second_lab(tmp_path: Path, lab_env: dict[str, str]) -> None:
    port = free_port()
    spec = tmp_path / "one.yaml"
    spec.write_text(f"devices:\n  - {{name: edge1, platform: cisco_ios, host: 127.0.0.1, port: {port}}}\n")
    try:
        lab_cli("up", "--spec", str(spec), env=lab_env)
        assert lab_cli("status", "--spec", str(spec), env=lab_env).returncode == 0
        conn = ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=port,
                              username="admin", password="admin")
        assert conn.find_prompt() == "edge1>"
        conn.disconnect()
        # A changed spec restarts the daemon with the new devices.
        spec.write_text(spec.read_text().replace("edge1", "edge2"))
        lab_cli("up", "--spec", str(spec), env=lab_env)
        conn = ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=port,
                              username="admin", password="admin")
        assert conn.find_prompt() == "edge2>"
        conn.disconnect()
    finally:
        lab_cli("down", "--spec", str(spec), env=lab_env)
    assert lab_cli("status", "--spec", str(spec), env=lab_env, check=False).returncode == 1
    lab_cli("down", "--spec", str(spec), env=lab_env)  # idempotent


def test_serve_in_the_foreground_until_sigterm(tmp_path: Path, lab_env: dict[str, str]) -> None:
    port = free_port()
    spec = tmp_path / "fg.json"
    spec.write_text(json.dumps([{"name": "fg1", "platform": "arista_eos", "port": port}]))
    control = tmp_path / "ctl.sock"
    proc = subprocess.Popen([sys.executable, "-m", "lab.devices", "serve", "--spec", str(spec),
                             "--control", str(control)], cwd=REPO, env=lab_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = ControlClient(control, timeout=5)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert client.call("ping")["devices"] == 1
                break
            except ControlError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        conn = ConnectHandler(device_type="arista_eos", host="127.0.0.1", port=port,
                              username="admin", password="admin")
        assert conn.find_prompt() == "fg1>"
        conn.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert not control.exists()


def test_spec_errors_name_the_file_and_device(tmp_path: Path, lab_env: dict[str, str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("devices:\n  - {name: outside, platform: cisco_ios, host: 10.0.0.1}\n")
    proc = lab_cli("up", "--spec", str(spec), env=lab_env, check=False)
    assert proc.returncode == 2
    assert str(spec) in proc.stderr and "outside" in proc.stderr and "127.0.0.0/8" in proc.stderr
    assert not Instance.of(spec, lab_env["MSPCTL_LAB_HOME"]).pidfile.exists()
