"""Bad input gets a located error with its exit code: settings out of range, a NetBox URL
without a scheme, files that are not UTF-8, features that would skip everything or own everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspctl.drift.features import load_features
from mspctl.errors import ConfigError, ExitCode
from mspctl.settings import load_settings


@pytest.mark.parametrize(("text", "line", "message"), [
    ("[netbox]\nurl = \"https://nb\"\npage_size = 0\n", 3, "netbox.page_size = 0 must be 1 to 100000"),
    ("[netbox]\ntimeout = -1\n", 2, "netbox.timeout = -1 must be 0.1 to 3600"),
    ("[netbox]\nurl = \"netbox.example.net\"\n", 2, "netbox.url = 'netbox.example.net' must start with http://"),
    ("\n[devices]\nssh_port = 99999\n", 3, "devices.ssh_port = 99999 must be 1 to 65535"),
    ("[devices]\nworkers = -3\n", 2, "devices.workers = -3 must be 1 to 1024"),
    ("[patch]\nmax_fail_percent = 101\n", 2, "patch.max_fail_percent = 101 must be 0 to 100"),
    ("[patch]\nforks = 2\nconnect_timeout = 0\n", 3, "patch.connect_timeout = 0 must be 1 to 3600"),
])
def test_settings_out_of_range_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    (tmp_path / "mspctl.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, cwd=tmp_path)
    assert err.value.message.startswith(f"{tmp_path / 'mspctl.toml'}:{line}: {message}")
    assert err.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize(("env", "message"), [
    ({"MSPCTL_DEVICES_WORKERS": "0"}, "devices.workers = 0 (from the environment or a flag) must be 1 to 1024"),
    ({"MSPCTL_DEVICE_PORT": "70000"}, "devices.ssh_port = 70000"),
    ({"NETBOX_API": "netbox:8080"}, "NetBox URL 'netbox:8080' must start with http://"),
])
def test_environment_values_out_of_range(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env=env, cwd=tmp_path)


def test_a_settings_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "mspctl.toml").write_bytes(b"[netbox]\n# caf\xe9\nurl = \"https://nb\"\n")
    with pytest.raises(ConfigError, match=r"mspctl.toml:2: not UTF-8 \(byte 0xe9\)") as err:
        load_settings(env={}, cwd=tmp_path)
    assert err.value.exit_code == ExitCode.CONFIG


def _features(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "features.yml"
    path.write_text("features:\n" + body)
    return path


def test_a_misspelt_platform_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _features(tmp_path, "  - name: ntp\n    lines: [\"ntp server \"]\n    platforms: [cisco_iso]\n")
    with pytest.raises(ConfigError, match=r"features.yml:4: ntp.platforms: 'cisco_iso' is not a network platform"):
        load_features(path)
    ok = _features(tmp_path, "  - name: ntp\n    lines: [\"ntp server \"]\n    platforms: [cisco_ios, arista_eos]\n")
    assert load_features(ok)[0].platforms == ("cisco_ios", "arista_eos")


@pytest.mark.parametrize("prefixes", ['lines: [""]', "lines: ['  ']", 'sections: [""]'])
def test_an_empty_prefix_that_would_own_the_whole_config_is_refused(tmp_path: Path, prefixes: str) -> None:
    path = _features(tmp_path, f"  - name: everything\n    {prefixes}\n")
    with pytest.raises(ConfigError, match=r"features.yml:2: feature 'everything': an empty prefix"):
        load_features(path)


def test_a_features_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "features.yml"
    path.write_bytes(b"features:\n  - name: ntp\n    lines: [\"ntp server \xff\"]\n")
    with pytest.raises(ConfigError, match=r"features.yml:3: not UTF-8"):
        load_features(path)
