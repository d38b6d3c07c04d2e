"""mspctl/settings.py: precedence, discovery, validation with file:line, durations, secrets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mspctl.errors import ConfigError, ExitCode
from mspctl.redact import MASK, redact
from mspctl.settings import load_settings, parse_duration, read_file, user_config_file


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An MSP repository with its own mspctl.toml; tests run from a folder two levels down."""
    root = tmp_path / "repo"
    (root / "a" / "b").mkdir(parents=True)
    return root


def config_error(path: Path, text: str) -> ConfigError:
    write(path, text)
    with pytest.raises(ConfigError) as exc:
        read_file(path)
    assert exc.value.exit_code == ExitCode.CONFIG
    return exc.value


# -- defaults and precedence ------------------------------------------------------------------

def test_defaults_without_any_file_or_variable(tmp_path: Path) -> None:
    s = load_settings(env={}, cwd=tmp_path)
    assert (s.netbox.url, s.netbox.token, s.netbox.verify_tls) == (None, None, True)
    assert (s.netbox.timeout, s.netbox.page_size, s.netbox.workers) == (30.0, 1000, 4)
    assert s.cache.ttl == 300
    assert s.cache.path == Path(os.environ["XDG_CACHE_HOME"]) / "mspctl" / "inventory"
    assert s.repo == tmp_path
    assert s.clients_path == tmp_path / "inventory" / "clients.yml"
    assert s.platforms == {}
    assert s.sources == ()


PRECEDENCE = [
    pytest.param({}, None, "https://repo.example", "repo-token", id="repo file over user file"),
    pytest.param({"NETBOX_API": "https://nbapi.example", "NETBOX_TOKEN": "nbapi-token"}, None,
                 "https://nbapi.example", "nbapi-token", id="NETBOX_API over files"),
    pytest.param({"NETBOX_API": "https://nbapi.example", "NETBOX_TOKEN": "nbapi-token",
                  "MSPCTL_NETBOX_URL": "https://mspctl.example", "MSPCTL_NETBOX_TOKEN": "mspctl-token"}, None,
                 "https://mspctl.example", "mspctl-token", id="MSPCTL_* over NETBOX_*"),
    pytest.param({"NETBOX_API": "https://nbapi.example", "MSPCTL_NETBOX_URL": "https://mspctl.example",
                  "MSPCTL_NETBOX_TOKEN": "mspctl-token"},
                 {"netbox": {"url": "https://flag.example/", "token": "flag-token"}},
                 "https://flag.example", "flag-token", id="flags over everything"),
    pytest.param({"MSPCTL_NETBOX_URL": "https://mspctl.example"}, {"netbox": {"url": None, "token": None}},
                 "https://mspctl.example", "repo-token", id="None flags are ignored"),
]


@pytest.mark.parametrize(("env", "overrides", "url", "token"), PRECEDENCE)
def test_precedence(repo: Path, env: dict[str, str], overrides: dict[str, Any] | None, url: str,
                    token: str) -> None:
    write(user_config_file(), '[netbox]\nurl = "https://user.example"\ntoken = "user-token"\n'
                              'timeout = 10\npage_size = 50\n')
    write(repo / "mspctl.toml", '[netbox]\nurl = "https://repo.example/"\ntoken = "repo-token"\ntimeout = 20\n')
    s = load_settings(env=env, overrides=overrides, cwd=repo / "a" / "b")
    assert (s.netbox.url, s.netbox.token) == (url, token)
    # values set only in a lower layer survive the merge
    assert (s.netbox.timeout, s.netbox.page_size, s.netbox.workers) == (20, 50, 4)
    assert s.repo == repo


def test_sources_name_what_was_read(repo: Path) -> None:
    user = write(user_config_file(), '[netbox]\ntimeout = 10\n')
    repo_file = write(repo / "mspctl.toml", '[netbox]\nurl = "https://repo.example"\n')
    s = load_settings(env={"NETBOX_API": "https://x.example", "MSPCTL_INSECURE": "1"}, cwd=repo / "a")
    assert s.sources == (str(user), str(repo_file), "$NETBOX_API", "$MSPCTL_INSECURE")


def test_user_file_alone_and_repo_is_cwd(tmp_path: Path) -> None:
    write(user_config_file(), '[netbox]\nurl = "https://user.example"\n')
    s = load_settings(env={}, cwd=tmp_path)
    assert s.netbox.url == "https://user.example"
    assert s.repo == tmp_path


def test_platform_tables_merge_across_files(repo: Path) -> None:
    write(user_config_file(), '[platforms.cisco_ios]\nnetmiko = "cisco_ios_telnet"\n'
                              'ansible_connection = "network_cli"\n\n[platforms.opnsense]\nnetmiko = "linux"\n')
    write(repo / "mspctl.toml", '[platforms.cisco_ios]\nnetmiko = "cisco_xe"\n')
    s = load_settings(env={}, cwd=repo)
    assert s.platforms == {"cisco_ios": {"netmiko": "cisco_xe", "ansible_connection": "network_cli"},
                           "opnsense": {"netmiko": "linux"}}


# -- explicit file ------------------------------------------------------------------------------

def test_config_flag_replaces_discovery(repo: Path, tmp_path: Path) -> None:
    write(user_config_file(), '[netbox]\npage_size = 50\n')
    write(repo / "mspctl.toml", '[netbox]\nurl = "https://repo.example"\n')
    explicit = write(tmp_path / "elsewhere" / "custom.toml", '[netbox]\nurl = "https://custom.example"\n')
    s = load_settings(config_file=explicit, env={}, cwd=repo)
    assert s.netbox.url == "https://custom.example"
    assert s.netbox.page_size == 1000  # the user file was not read
    assert s.sources == (str(explicit),)
    assert s.repo == explicit.parent


def test_mspctl_config_variable_replaces_discovery(repo: Path, tmp_path: Path) -> None:
    write(repo / "mspctl.toml", '[netbox]\nurl = "https://repo.example"\ntimeout = 5\n')
    explicit = write(tmp_path / "ci.toml", '[netbox]\nurl = "https://ci.example"\n')
    s = load_settings(env={"MSPCTL_CONFIG": str(explicit)}, cwd=repo)
    assert (s.netbox.url, s.netbox.timeout) == ("https://ci.example", 30.0)
    assert s.sources == (str(explicit), )


def test_config_flag_wins_over_mspctl_config(tmp_path: Path) -> None:
    flag = write(tmp_path / "flag.toml", '[netbox]\nurl = "https://flag.example"\n')
    var = write(tmp_path / "var.toml", '[netbox]\nurl = "https://var.example"\n')
    s = load_settings(config_file=flag, env={"MSPCTL_CONFIG": str(var)}, cwd=tmp_path)
    assert s.netbox.url == "https://flag.example"


def test_missing_explicit_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as exc:
        load_settings(config_file=missing, env={}, cwd=tmp_path)
    assert exc.value.message.startswith(f"{missing}: ")
    assert "not found" in exc.value.message


# -- file validation: file:line ----------------------------------------------------------------

@pytest.mark.parametrize(("text", "line"), [
    ('[netbox]\nurl = "https://x"\ntimeout = = 3\n', 3),
    ('# settings\n\n[netbox\nurl = "https://x"\n', 3),
    ('[netbox]\nurl = "unterminated\ntimeout = 3\n', 2),
    ('[netbox]\nurl = "a"\nurl = "b"\n', 3),
])
def test_malformed_toml_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "mspctl.toml"
    err = config_error(path, text)
    assert err.message.startswith(f"{path}:{line}: invalid TOML")


def test_malformed_toml_at_end_of_file_names_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "mspctl.toml"
    err = config_error(path, '[netbox]\ntimeout = 3\nurl = ')
    assert err.message.startswith(f"{path}:3: invalid TOML")


@pytest.mark.parametrize(("text", "line", "needle"), [
    ('# c\n[netbox]\nurl = "https://x"\n\n[nebtox]\ntimeout = 3\n', 5, "unknown section [nebtox]"),
    ('# c\nverbose = true\n', 2, "unknown section [verbose]"),
    ('[netbox]\nurl = "https://x"\nverify = false\n', 3, "unknown key netbox.verify"),
    ('[netbox]\ntimeout = 3\n\n[cache]\ntimeout = 5\n', 5, "unknown key cache.timeout"),
    ('[netbox]\nurl = "https://x"\n\n[netbox.extra]\na = 1\n', 4, "unknown key netbox.extra"),
    ('[platforms.cisco_ios]\nnetmiko = "x"\nssh_port = "22"\n', 3, "platforms.cisco_ios.ssh_port"),
    ('[platforms.cisco_ios]\nnetmiko = 3\n', 2, "platforms.cisco_ios.netmiko"),
    ('# c\n[platforms]\ncisco_ios = "x"\n', 2, "[platforms.<slug>] tables expected"),
])
def test_unknown_names_give_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "mspctl.toml"
    err = config_error(path, text)
    assert err.message.startswith(f"{path}:{line}: ")
    assert needle in err.message


def test_unknown_key_hint_lists_known_keys(tmp_path: Path) -> None:
    err = config_error(tmp_path / "mspctl.toml", '[cache]\nttl = 5\nsize = 3\n')
    assert err.hint == "known: path, ttl"


@pytest.mark.parametrize(("text", "line", "needle"), [
    ('[netbox]\nurl = "https://x"\ntimeout = "30"\n', 3, "netbox.timeout must be int or float, not str"),
    ('[netbox]\nverify_tls = "no"\n', 2, "netbox.verify_tls must be bool, not str"),
    ('[netbox]\n\npage_size = true\n', 3, "netbox.page_size must be int, not bool"),
    ('[netbox]\ntoken = 12345\n', 2, "netbox.token must be str, not int"),
    ('[cache]\npath = "/c"\nttl = 1.5\n', 3, "cache.ttl must be int or str, not float"),
    ('[inventory]\nclients_file = ["a"]\n', 2, "inventory.clients_file must be str, not list"),
    ('# c\nnetbox = 3\n', 2, "[netbox] must be a table"),
])
def test_wrong_types_give_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "mspctl.toml"
    err = config_error(path, text)
    assert err.message.startswith(f"{path}:{line}: ")
    assert needle in err.message


def test_error_in_discovered_repo_file_names_that_file(repo: Path) -> None:
    bad = write(repo / "mspctl.toml", '[netbox]\nurl = "https://x"\nworkers = "four"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(env={}, cwd=repo / "a" / "b")
    assert exc.value.message.startswith(f"{bad}:3: ")


# -- durations ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "seconds"), [
    (30, 30), (0, 0), ("30", 30), ("45s", 45), ("5m", 300), ("2h", 7200), ("1d", 86400), (" 5 m ", 300),
])
def test_parse_duration(value: int | str, seconds: int) -> None:
    assert parse_duration(value, "here") == seconds


@pytest.mark.parametrize("value", ["5x", "1.5h", "-5", "", "m", "5 minutes", -1])
def test_parse_duration_rejects(value: int | str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_duration(value, "f.toml:7: cache.ttl")
    assert exc.value.message.startswith("f.toml:7: cache.ttl: ")


def test_ttl_durations_in_files_and_environment(repo: Path) -> None:
    write(repo / "mspctl.toml", '[cache]\nttl = "5m"\n')
    assert load_settings(env={}, cwd=repo).cache.ttl == 300
    assert load_settings(env={"MSPCTL_CACHE_TTL": "2h"}, cwd=repo).cache.ttl == 7200


def test_bad_ttl_in_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mspctl.toml"
    err = config_error(path, '[netbox]\nurl = "https://x"\n\n[cache]\nttl = "soon"\n')
    assert err.message.startswith(f"{path}:5: cache.ttl: 'soon' is not a duration")


def test_negative_ttl_in_file(tmp_path: Path) -> None:
    path = tmp_path / "mspctl.toml"
    err = config_error(path, '[cache]\nttl = -5\n')
    assert err.message.startswith(f"{path}:2: cache.ttl: ")


def test_bad_ttl_in_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"MSPCTL_CACHE_TTL": "later"}, cwd=tmp_path)
    assert exc.value.message.startswith("environment MSPCTL_CACHE_TTL: ")


# -- paths -------------------------------------------------------------------------------------

def test_relative_cache_path_is_relative_to_the_repo_root(repo: Path) -> None:
    write(repo / "mspctl.toml", '[cache]\npath = ".mspctl/cache"\n\n[inventory]\nclients_file = "cfg/clients.yml"\n')
    s = load_settings(env={}, cwd=repo / "a" / "b")
    assert s.cache.path == repo / ".mspctl" / "cache"
    assert s.clients_path == repo / "cfg" / "clients.yml"


def test_relative_cache_path_of_explicit_file_is_relative_to_that_file(tmp_path: Path) -> None:
    explicit = write(tmp_path / "conf" / "mspctl.toml", '[cache]\npath = "cache"\n')
    s = load_settings(config_file=explicit, env={}, cwd=tmp_path)
    assert s.cache.path == explicit.resolve().parent / "cache"


def test_absolute_and_home_cache_paths(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(repo / "mspctl.toml", '[cache]\npath = "~/mspctl-cache"\n')
    assert load_settings(env={}, cwd=repo).cache.path == tmp_path / "home" / "mspctl-cache"
    s = load_settings(env={"MSPCTL_CACHE_PATH": str(tmp_path / "abs")}, cwd=repo)
    assert s.cache.path == tmp_path / "abs"


def test_absolute_clients_file_is_kept(tmp_path: Path) -> None:
    write(tmp_path / "mspctl.toml", f'[inventory]\nclients_file = "{tmp_path / "x.yml"}"\n')
    assert load_settings(env={}, cwd=tmp_path).clients_path == tmp_path / "x.yml"


# -- MSPCTL_INSECURE ----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "verify"), [
    ("1", False), ("true", False), ("YES", False), (" on ", False),
    ("0", True), ("false", True), ("No", True), ("off", True),
])
def test_mspctl_insecure(tmp_path: Path, value: str, verify: bool) -> None:
    assert load_settings(env={"MSPCTL_INSECURE": value}, cwd=tmp_path).netbox.verify_tls is verify


def test_mspctl_insecure_rejects_other_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"MSPCTL_INSECURE": "maybe"}, cwd=tmp_path)
    assert "MSPCTL_INSECURE" in exc.value.message


def test_insecure_layers(tmp_path: Path) -> None:
    write(tmp_path / "mspctl.toml", '[netbox]\nverify_tls = false\n')
    assert load_settings(env={}, cwd=tmp_path).netbox.verify_tls is False
    assert load_settings(env={"MSPCTL_INSECURE": "0"}, cwd=tmp_path).netbox.verify_tls is True
    s = load_settings(env={"MSPCTL_INSECURE": "0"}, overrides={"netbox": {"verify_tls": False}}, cwd=tmp_path)
    assert s.netbox.verify_tls is False


# -- secrets -----------------------------------------------------------------------------------

def test_token_from_file_is_registered_as_secret(tmp_path: Path) -> None:
    write(tmp_path / "mspctl.toml", '[netbox]\nurl = "https://nb.example"\ntoken = "file-token-0123456789"\n')
    s = load_settings(env={}, cwd=tmp_path)
    assert s.netbox.token == "file-token-0123456789"
    assert redact("auth file-token-0123456789 failed") == f"auth {MASK} failed"
    assert "file-token-0123456789" not in str(ConfigError("rejected file-token-0123456789"))
    assert "file-token-0123456789" not in repr(s)


@pytest.mark.parametrize(("env", "overrides"), [
    ({"NETBOX_TOKEN": "env-token-abcdef"}, None),
    ({"MSPCTL_NETBOX_TOKEN": "env-token-abcdef"}, None),
    ({}, {"netbox": {"token": "env-token-abcdef"}}),
])
def test_token_from_environment_or_flag_is_registered(tmp_path: Path, env: dict[str, str],
                                                      overrides: dict[str, Any] | None) -> None:
    assert redact("x env-token-abcdef") == "x env-token-abcdef"  # not a secret before loading
    load_settings(env=env, overrides=overrides, cwd=tmp_path)
    assert redact("x env-token-abcdef") == f"x {MASK}"
    assert str(ConfigError("bad token env-token-abcdef")) == f"MSP-CFG-001: bad token {MASK}"
