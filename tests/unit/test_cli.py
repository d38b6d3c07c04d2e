"""The CLI's conventions, through click's CliRunner: help everywhere, version, completion, settings."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mspctl import __version__
from mspctl.cli import main


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _all_commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("path", _all_commands(main), ids=lambda p: " ".join(p) or "mspctl")
def test_help_on_every_command(path: tuple[str, ...]) -> None:
    res = CliRunner().invoke(main, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("Usage: ")
    cmd: click.Command = main
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    assert (cmd.help or "").split("\n")[0].strip()[:30] in " ".join(res.output.split())


def test_version() -> None:
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script(shell: str) -> None:
    res = CliRunner().invoke(main, ["completion", shell])
    assert res.exit_code == 0
    assert "_MSPCTL_COMPLETE" in res.output


def test_completion_completes_subcommands_and_options() -> None:
    env = {"_MSPCTL_COMPLETE": "bash_complete", "COMP_WORDS": "mspctl inventory l", "COMP_CWORD": "2"}
    res = CliRunner().invoke(main, [], env=env, prog_name="mspctl")
    assert "plain,list" in res.output
    env = {"_MSPCTL_COMPLETE": "bash_complete", "COMP_WORDS": "mspctl inventory list --st", "COMP_CWORD": "3"}
    res = CliRunner().invoke(main, [], env=env, prog_name="mspctl")
    assert "plain,--status" in res.output


def test_settings_show_masks_the_token_and_names_sources(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text("[netbox]\nurl = 'https://nb.example.net/'\n[cache]\nttl = '2m'\n")
    res = CliRunner().invoke(main, ["--config", str(cfg), "-o", "json", "settings", "show"],
                             env={"NETBOX_TOKEN": "nbt_abcdef123456.supersecretvalue"})
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["netbox"]["url"] == "https://nb.example.net"
    assert data["netbox"]["token"] == "********"
    assert data["cache"]["ttl"] == 120
    assert data["sources"] == [str(cfg), "$NETBOX_TOKEN"]
    assert "supersecretvalue" not in res.output


def test_insecure_warns(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["--insecure", "--netbox-url", "https://nb.example.net", "settings", "show"])
    assert res.exit_code == 0
    assert "TLS certificate verification is OFF" in res.stderr
    assert "False" in res.stdout


def test_output_format_from_environment() -> None:
    res = CliRunner().invoke(main, ["settings", "show"], env={"MSPCTL_OUTPUT": "yaml"})
    assert res.exit_code == 0
    assert res.output.startswith("netbox:\n")


def test_no_netbox_url_is_a_settings_error() -> None:
    res = CliRunner().invoke(main, ["clients"])
    assert res.exit_code == 10
    assert res.stderr.startswith("Error: MSP-CFG-001: no NetBox URL configured")
