"""The scrapli driver against the lab's simulated IOS and EOS devices: `--driver scrapli` backs up
exactly what netmiko backs up, `[platforms.<slug>] driver` chooses it per platform, live drift
and OS reads go through it, and a driver that is not installed is MSP-PLUG-404 (exit 10)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lab.devices.control import ControlClient
from mspctl.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]


def _files(repo: Path) -> dict[str, str]:
    return {f.relative_to(repo).as_posix(): f.read_text() for f in sorted(repo.rglob("*.cfg"))}


def _settings(tmp_path: Path, name: str, extra: str = "") -> Path:
    """The repository's own mspctl.toml (its relative paths made absolute) with its own backups
    folder, plus `extra`."""
    cfg = tmp_path / f"{name}.toml"
    text = (REPO / "mspctl.toml").read_text()
    for folder in ("inventory/clients.yml", "baselines", "playbooks"):
        text = text.replace(f'"{folder}"', f'"{REPO / folder}"')
    cfg.write_text(text + f"\n[config]\nbackups = '{tmp_path / name}'\n{extra}")
    return cfg


def _commits(repo: Path) -> int:
    out = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True)
    return int(out.stdout.strip())


def test_scrapli_backs_up_the_same_files_as_netmiko(net, tmp_path: Path):
    first = net("--config", str(_settings(tmp_path, "netmiko")), "config", "backup", "-A", "-o", "json")
    assert first.exit_code == 0, first.output
    by_netmiko = json.loads(first.stdout)
    assert by_netmiko["summary"]["new"] == 8, by_netmiko["summary"]

    cfg = _settings(tmp_path, "scrapli")
    res = net("--config", str(cfg), "config", "backup", "-A", "--driver", "scrapli", "-o", "json")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert run["summary"]["new"] == 8 and not res.stderr.strip(), res.stderr  # no library noise either
    netmiko_files, scrapli_files = _files(Path(by_netmiko["repo"])), _files(Path(run["repo"]))
    assert set(netmiko_files) == set(scrapli_files) and len(scrapli_files) == 8
    for path, text in netmiko_files.items():  # IOS and EOS alike, byte for byte
        assert scrapli_files[path] == text, path
    assert "hostname acme-dist-sw1" in scrapli_files["acme/acme-dist-sw1.cfg"]  # EOS

    # and netmiko, reading the repository scrapli wrote, finds nothing to commit
    again = json.loads(net("--config", str(cfg), "config", "backup", "-A", "-o", "json").stdout)
    assert again["summary"]["unchanged"] == 8 and again["commit"] is None and _commits(Path(run["repo"])) == 1


def test_a_platform_setting_chooses_scrapli_and_a_run_overrides_it(net, lab_network, tmp_path: Path):
    """Each driver sets its own terminal width (netmiko 511; scrapli 512 on IOS, 32767 on EOS): a
    device that cuts the session at scrapli's width shows which driver read it."""
    ctl = ControlClient(lab_network.control)
    ctl.set_knobs("acme-core-sw1", drop_on=r"^terminal width 512$")  # IOS
    ctl.set_knobs("acme-dist-sw1", drop_on=r"^terminal width 32767$")  # EOS
    cfg = _settings(tmp_path, "per-platform", '\n[platforms.arista_eos]\ndriver = "scrapli"\n')

    def statuses(*args: str) -> dict[str, str]:
        res = net("--config", str(cfg), "config", "backup", "-c", "acme", *args, "-o", "json")
        return {d["device"]: d["status"] for d in json.loads(res.stdout)["devices"]}

    # EOS through scrapli (cut), IOS through netmiko (read)
    assert statuses() == {"acme-core-sw1": "new", "acme-edge-rtr1": "new", "acme-dist-sw1": "failed"}
    # the run's --driver wins over the platform's setting, either way
    assert statuses("--driver", "netmiko") == {"acme-core-sw1": "unchanged", "acme-edge-rtr1": "unchanged",
                                               "acme-dist-sw1": "new"}
    assert statuses("--driver", "scrapli") == {"acme-core-sw1": "failed", "acme-edge-rtr1": "unchanged",
                                               "acme-dist-sw1": "failed"}


def test_an_unknown_driver_is_exit_10_with_msp_plug_404(net, tmp_path: Path):
    res = net("config", "backup", "-c", "initech", "--driver", "telnetlib")
    assert res.exit_code == ExitCode.CONFIG == 10, res.output
    assert "MSP-PLUG-404" in res.stderr and "telnetlib" in res.stderr
    assert "netmiko" in res.stderr and "scrapli" in res.stderr  # the installed ones are named
    cfg = _settings(tmp_path, "bad", '\n[platforms.cisco_ios]\ndriver = "scrapy"\n')
    res = net("--config", str(cfg), "config", "backup", "-c", "initech")
    assert res.exit_code == 10 and "MSP-PLUG-404" in res.stderr, res.output
    assert f"{cfg}:" in res.stderr and "platforms.cisco_ios.driver = 'scrapy'" in res.stderr
    for args in (("drift", "-c", "initech"), ("patch", "os", "-c", "initech")):
        res = net(*args, "--driver", "telnetlib")
        assert res.exit_code == 10 and "MSP-PLUG-404" in res.stderr, (args, res.output)


def test_live_drift_and_os_reads_through_scrapli_match_netmiko(net):
    netmiko = json.loads(net("drift", "-A", "-o", "json").stdout)
    res = net("drift", "-A", "--driver", "scrapli", "-o", "json")
    assert res.exit_code == ExitCode.FINDINGS, res.output
    scrapli = json.loads(res.stdout)

    def findings(run: dict) -> dict:
        return {d["device"]: (d["status"], [(f["feature"], f["status"]) for f in d.get("features", [])])
                for d in run["devices"]}

    assert findings(scrapli) == findings(netmiko)
    os_netmiko = net("patch", "os", "-A", "-o", "json")
    os_scrapli = net("patch", "os", "-A", "--driver", "scrapli", "-o", "json")
    assert os_scrapli.exit_code == os_netmiko.exit_code, os_scrapli.output

    def versions(res) -> dict:
        return {d["device"]: (d.get("version"), d.get("state")) for d in json.loads(res.stdout)["devices"]}

    assert versions(os_scrapli) == versions(os_netmiko) and any(v for v, _ in versions(os_scrapli).values())


def test_scrapli_failures_are_mspctl_errors(net, lab_network):
    ctl = ControlClient(lab_network.control)
    ctl.set_knobs("initech-sw1", bad_credentials=True)
    res = net("config", "backup", "-c", "initech", "--driver", "scrapli", "-o", "json")
    assert res.exit_code == ExitCode.PARTIAL, res.output
    devices = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    assert devices["initech-rtr1"]["status"] == "new"
    bad = devices["initech-sw1"]
    assert bad["status"] == "failed" and bad["error_code"] == "DeviceAuthError", bad  # MSP-DEV-401
    assert bad["attempts"] == 1  # permanent: not retried
    assert "authentication failed for user 'netops'" in bad["error"]
    assert "initech-lab-pw" not in res.output
