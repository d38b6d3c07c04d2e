"""Bad input against the real lab: each case gives its documented code, exit code and one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from mspctl.errors import ExitCode


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr  # one clear line, no traceback
    assert "Traceback" not in res.output
    return lines[0]


def test_wrong_token(mspctl, lab_netbox):
    bad = "nbt_wrongkey1234.thisisnotthetokenatall0123456789"
    res = mspctl("--refresh", "inventory", "list", "-c", "acme", env={"NETBOX_TOKEN": bad})
    assert res.exit_code == ExitCode.AUTH
    line = _one_error_line(res)
    assert line.startswith("Error: MSP-NB-401:")
    assert lab_netbox.url in line
    assert bad not in res.output and "thisisnotthetoken" not in res.output


def test_token_without_permission(mspctl, lab_netbox):
    res = mspctl("--refresh", "clients", env={"NETBOX_TOKEN": lab_netbox.no_permission_token})
    assert res.exit_code == ExitCode.AUTH
    assert _one_error_line(res).startswith("Error: MSP-NB-403:")
    assert lab_netbox.no_permission_token not in res.output


def test_netbox_stopped(mspctl):
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens: what a stopped NetBox looks like
    res = mspctl("--refresh", "inventory", "list", "-c", "acme", env={"NETBOX_API": url})
    assert res.exit_code == ExitCode.UNREACHABLE
    line = _one_error_line(res)
    assert line.startswith("Error: MSP-NB-503:") and url in line


def test_unknown_client(mspctl):
    res = mspctl("inventory", "list", "--client", "acmee")
    assert res.exit_code == ExitCode.NOT_FOUND
    line = _one_error_line(res)
    assert line.startswith("Error: MSP-INV-404: unknown client 'acmee'")
    assert "acme" in line.split("similar:")[1]


def test_filter_matching_nothing(mspctl):
    res = mspctl("inventory", "list", "-c", "initech", "--role", "firewall")
    assert res.exit_code == ExitCode.NO_MATCH
    line = _one_error_line(res)
    assert line.startswith("Error: MSP-INV-204:") and "role=firewall" in line


def test_invalid_filter(mspctl):
    res = mspctl("inventory", "list", "-A", "--limit", "~acme-(")
    assert res.exit_code == ExitCode.USAGE
    assert _one_error_line(res).startswith("Error: MSP-INV-400: invalid --limit")


def test_missing_scope_is_a_usage_error(mspctl):
    res = mspctl("inventory", "list")
    assert res.exit_code == ExitCode.USAGE
    assert "--client SLUG" in _one_error_line(res)


def test_malformed_clients_yml(mspctl, tmp_path: Path):
    (tmp_path / "inventory").mkdir()
    bad = tmp_path / "inventory" / "clients.yml"
    bad.write_text("clients:\n  acme:\n    tenant: acme\n    maintenance_window:\n      days: [sat]\n"
                   "      start: '25:00'\n      duration: 4h\n      timezone: Europe/Berlin\n")
    (tmp_path / "mspctl.toml").write_text("[inventory]\nclients_file = 'inventory/clients.yml'\n")
    res = mspctl("--config", str(tmp_path / "mspctl.toml"), "clients")
    assert res.exit_code == ExitCode.CONFIG
    assert _one_error_line(res).startswith(f"Error: MSP-CFG-001: {bad}:6:")


def test_malformed_settings_file(mspctl, tmp_path: Path):
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text("[netbox]\ntimeout = 30\n[cache]\nttl = \n")
    res = mspctl("--config", str(cfg), "clients")
    assert res.exit_code == ExitCode.CONFIG
    assert _one_error_line(res).startswith(f"Error: MSP-CFG-001: {cfg}:4: invalid TOML")


def test_unknown_device(mspctl):
    res = mspctl("inventory", "show", "nosuch-device")
    assert res.exit_code == ExitCode.NOT_FOUND
    assert _one_error_line(res).startswith("Error: MSP-INV-405:")


def test_offline_without_cache(mspctl):
    res = mspctl("--offline", "inventory", "list", "-c", "acme")
    assert res.exit_code == ExitCode.NOT_FOUND
    assert _one_error_line(res).startswith("Error: MSP-CACHE-404:")


def test_debug_shows_traceback_but_never_the_token(lab_netbox, tmp_path):
    bad = "nbt_debugkey12345.debugsecretvalue0123456789abcdef"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSPCTL_", "NETBOX_"))}
    env.update(NETBOX_API=lab_netbox.url, NETBOX_TOKEN=bad, MSPCTL_CACHE_PATH=str(tmp_path))
    proc = subprocess.run([str(Path(sys.executable).parent / "mspctl"), "--debug", "--refresh", "inventory",
                           "list", "-c", "acme"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == ExitCode.AUTH
    assert "Traceback" in proc.stderr and "NetBoxAuthError" in proc.stderr
    assert "debugsecretvalue" not in proc.stderr + proc.stdout
