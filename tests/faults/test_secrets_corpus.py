"""No secret of the brownfield client leaves mspctl: hooli's devices run real-world shaped configs
full of secrets (lab/brownfield/configs, copied into tests/corpus/secrets with a manifest of every
secret in them), plus forms they lack, seeded here from the corpus's other files, plus the
device password from the credentials file written where no rule looks. Backups, drift (live and
from the backups, with JUnit and Markdown), a push (dry run and applied), its rollback, the run
records and the history audit then run; every byte printed, every file written under the test's
directories and every object of the backups' git repository are searched for every secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from click.testing import Result

from lab.brownfield import CLIENT
from lab.network import CREDENTIALS
from mspctl.errors import ExitCode
from tests.conftest import REPO, LabBrownfield

CORPUS = REPO / "tests" / "corpus" / "secrets"
MANIFEST: dict[str, list[str]] = yaml.safe_load((CORPUS / "secrets.yml").read_text())
_, _, DEVICE_PW, DEVICE_ENABLE = CREDENTIALS[CLIENT]
# Lines of the corpus's extra files (br-rtr-01.cfg, dc1-spine1.cfg) that the brownfield configs
# lack, typed on each device in configuration mode; each carries a manifest secret. The last
# interface's description holds the device password itself: only the registered-secret masking
# can catch it.
SEED = {
    "hooli-core-sw1": ["snmp-server host 10.1.1.52 traps version 2c Br-Tr4p-C0mm",
                       "snmp-server host 10.1.1.53 informs version 2c Br-Inf0rm-C0mm",
                       "tacacs-server host 10.2.1.20 key 7 060506324F41584B5648",
                       "radius-server host 10.2.1.30 auth-port 1645 acct-port 1646 key 7 0508571C22431F5B4AEE",
                       "ntp authentication-key 2 md5 070C285F4D061A0A1902 7",
                       "username ops-ro privilege 5 access-class VTY-ACCESS password 7 13061E0108035A7B7B7E",
                       "enable secret level 5 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0",
                       "interface GigabitEthernet1/0/44", f"description parked, handover pw {DEVICE_PW}", "exit"],
    "hooli-wan-rtr1": ["snmp-server community Br-R0-C0mm RO",
                       "snmp-server user br-mon NETOPS v3 auth sha Br-Auth-Pw-24 priv aes 256 Br-Priv-Pw-24",
                       "tacacs-server key 7 110A1016141D5A5E5782",
                       "ip http client password 7 070C285F4D061A0A19020ADD",
                       "interface GigabitEthernet0/0/2", f"description handover pw {DEVICE_PW}", "exit"],
    "hooli-leaf1": ["snmp-server user spine-lite NETOPS v3 auth sha Sp1ne-Auth-Cl3ar priv aes Sp1ne-Priv-Cl3ar",
                    "radius-server host 10.1.1.30 vrf MGMT key 7 Sp1neRadH0st==",
                    "ntp authentication-key 1 md5 7 Nt5pS1neEncK3y==",
                    "aaa root secret sha512 $6$R00tSp1neSa1t$kQ3vWz8yBx1cN5mL7pR2tU4sE6dF9gH0jK3lZ8xC5vB7nM1qA4wS2eD6"
                    "rT9yU0iO3pL5kJ7hG2fD4sA1qW3eR",
                    "interface Ethernet48", f"description handover pw {DEVICE_PW}", "exit"],
}
SECRETS = sorted({s for values in MANIFEST.values() for s in values} | {DEVICE_PW, DEVICE_ENABLE})


def _seed(lab: LabBrownfield) -> None:
    from lab.devices.control import ControlClient

    ctl = ControlClient(lab.control)
    for device, lines in SEED.items():
        ctl.run(device, "configure terminal", *lines, "end")
        running = lab.running(device)
        for line in lines:
            assert line.strip() in running or line == "exit", (device, line)  # the simulator took it


def _git_objects(tmp_path: Path) -> bytes:
    """Every object of every git repository under `tmp_path`, decompressed (a file's bytes on disk
    are zlib-compressed: a plain search would miss a secret in them)."""
    out = b""
    for git_dir in tmp_path.rglob(".git"):
        repo = git_dir.parent
        out += subprocess.run(["git", "-C", str(repo), "log", "--all", "-p", "--format=%H%n%B"], capture_output=True,
                              check=True).stdout
        out += subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
                              capture_output=True, check=True).stdout
    return out


def _leaks(blob: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in blob]


def test_no_secret_reaches_backups_records_reports_or_output(hooli, lab_brownfield: LabBrownfield,
                                                             tmp_path: Path) -> None:
    _seed(lab_brownfield)
    on_devices = "".join(lab_brownfield.running(d) for d in SEED)
    assert len(_leaks(on_devices.encode())) >= 30  # the devices hold dozens of the manifest's secrets
    results: list[Result] = []

    def run(*args: str, expect: tuple[int, ...] = (0,)) -> Result:
        res = hooli(*args)
        results.append(res)
        assert res.exit_code in expect, (args, res.output)
        return res

    backup = json.loads(run("config", "backup", "-c", CLIENT, "-o", "json").stdout)
    repo = Path(backup["repo"])
    stored = {p.name: p.read_text() for p in repo.rglob("*.cfg")}
    assert len(stored) == 3 and all("<removed>" in text for text in stored.values())
    drifted = (ExitCode.FINDINGS,)
    run("drift", "-c", CLIENT, "-o", "json", "--junit", str(tmp_path / "drift.xml"),
        "--markdown", str(tmp_path / "drift.md"), expect=drifted)
    run("drift", "-c", CLIENT, expect=drifted)
    run("drift", "-c", CLIENT, "--source", "backup", "-o", "json", "--junit", str(tmp_path / "backup-drift.xml"),
        "--markdown", str(tmp_path / "backup-drift.md"), expect=drifted)
    run("config", "push", "-c", CLIENT)  # the dry run's table: the planned commands
    run("config", "push", "-c", CLIENT, "-o", "json")
    pushed = json.loads(run("config", "push", "-c", CLIENT, "--apply", "--yes", "-o", "json").stdout)
    assert {d["status"] for d in pushed["devices"]} == {"applied"}, pushed
    run("runs", "show", pushed["run_id"])
    run("runs", "show", pushed["run_id"], "-o", "json")
    run("config", "backup", "-c", CLIENT)  # a second commit: the pushed lines
    run("config", "rollback", "--run", pushed["run_id"])
    rolled = json.loads(run("config", "rollback", "--run", pushed["run_id"], "--apply", "--yes", "-o",
                            "json").stdout)
    run("runs", "show", rolled["run_id"], "-o", "json")
    run("runs", "list", "-o", "json")
    run("config", "backup", "-c", CLIENT, "-o", "json")
    audit = json.loads(run("config", "audit-history", "-o", "json").stdout)
    assert audit["clean"] is True and audit["commits"] >= 2, audit

    printed = "".join(r.stdout + r.stderr for r in results).encode()
    assert _leaks(printed) == []
    written = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert any(f.name == "records.sqlite" for f in written) and (tmp_path / "drift.md").is_file()
    for f in written:
        assert _leaks(f.read_bytes()) == [], f
    assert _leaks(_git_objects(tmp_path)) == []
