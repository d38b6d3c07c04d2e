"""Every long command in a real terminal: the real `mspctl` process under a pseudo-terminal
(pexpect), against the lab. Each one must draw its progress display, print a readable result
and exit with its documented code; the `--apply` prompts are answered both ways; Ctrl-C stops
backup and drift cleanly; a 40-column terminal gets whole names, never `…`.

stdout and stderr are one stream on a terminal, so the assertions read the whole screen text
(ANSI sequences removed); what a run did is read back from its record or from the devices.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from lab.devices.control import ControlClient
from mspctl.drift.configtext import parse
from mspctl.errors import ExitCode
from tests.conftest import by_device
from tests.faults.conftest import MSPCTL
from tests.lab.demo_facts import ACME_SERVERS

pytestmark = [pytest.mark.lab, pytest.mark.faults]

ACME_NETWORK = ("acme-core-sw1", "acme-dist-sw1", "acme-edge-rtr1")  # reachable: acme-fw1 is offline
INSIDE = "2026-11-28T22:30:00+01:00"  # inside acme's patch window (see tests/lab/test_patch_lab.py)
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
# Variables that would override what the terminal itself says (its size, its colours).
NOT_INHERITED = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "TERM")


@dataclass
class Screen:
    """What one mspctl run showed on its terminal, and how it ended."""

    exit_code: int
    raw: str

    @property
    def text(self) -> str:
        """The screen text without escape sequences, carriage returns as line ends."""
        return ANSI.sub("", self.raw).replace("\r\n", "\n").replace("\r", "\n")

    def progress(self, description: str) -> list[tuple[int, int]]:
        """Every `description ... done/total` the progress bar drew."""
        return [(int(a), int(b)) for a, b in re.findall(re.escape(description) + r"\D{0,200}?(\d+)/(\d+)", self.text)]

    def run_id(self, kind: str) -> str:
        found = re.search(rf"\brun ({kind}-[0-9A-Za-z-]+)", self.text)
        assert found, self.text
        return found.group(1)


def _env(fault_env: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in fault_env.items() if k not in NOT_INHERITED}
    return {**env, "TERM": "xterm-256color", **(extra or {})}


def _spawn(env: dict[str, str], *args: str, cols: int = 160) -> pexpect.spawn:
    return pexpect.spawn(MSPCTL[0], [*MSPCTL[1:], *args], env=env, encoding="utf-8", timeout=600,
                         dimensions=(40, cols), cwd=str(Path(__file__).resolve().parents[2]))


def _finish(child: pexpect.spawn, seen: str = "") -> Screen:
    child.expect(pexpect.EOF)
    raw = seen + (child.before or "")
    child.close()
    assert child.exitstatus is not None, f"mspctl died of signal {child.signalstatus}:\n{raw}"
    return Screen(child.exitstatus, raw)


def tty(env: dict[str, str], *args: str, cols: int = 160, answer: str | None = None) -> Screen:
    """Run `mspctl ARGS` on a terminal of `cols` columns; `answer` the one y/N question it asks."""
    child = _spawn(env, *args, cols=cols)
    seen = ""
    try:
        if answer is not None:
            child.expect(r"\[y/N\]: ")
            seen = child.before + child.after
            child.sendline(answer)
        return _finish(child, seen)
    finally:
        child.close(force=True)


def interrupt_when(env: dict[str, str], description: str, done: int, *args: str) -> Screen:
    """Run `mspctl ARGS` on a terminal and press Ctrl-C once its progress bar shows `done` devices
    finished: the terminal sends SIGINT to mspctl's whole process group, as for a person."""
    child = _spawn(env, *args)
    seen = ""
    try:
        deadline = time.monotonic() + 300
        while not any(d >= done for d, _ in Screen(0, seen).progress(description)):
            assert time.monotonic() < deadline, f"no progress '{description} {done}/N' within 300 s:\n{seen}"
            try:
                seen += child.read_nonblocking(65536, timeout=0.1)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                raise AssertionError(f"mspctl ended before its progress showed {done} done:\n{seen}") from None
        child.sendcontrol("c")
        return _finish(child, seen)
    finally:
        child.close(force=True)


def _record(net, run_id: str) -> dict:
    shown = net("runs", "show", run_id, "-o", "json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _lines(text: str) -> list[tuple[str, ...]]:
    return sorted(p for line in parse(text) for p in line.paths())


def _readable(screen: Screen, names: tuple[str, ...] | list[str]) -> None:
    """No traceback, no name cut to `…`, and each name whole on some line of the screen."""
    assert "Traceback" not in screen.text and "MSP-000" not in screen.text, screen.text
    assert "…" not in screen.text, screen.text
    for name in names:
        assert re.search(rf"(^|\s){re.escape(name)}(\s|$)", screen.text, re.M), (name, screen.text)


@pytest.fixture
def ctl(lab_network) -> ControlClient:
    return ControlClient(lab_network.control)


@pytest.fixture
def slow(ctl: ControlClient, lab_network):
    """Every reachable acme device answers each command after `delay` seconds (until the test ends)."""

    def set_delay(delay: float) -> None:
        for device in ACME_NETWORK:
            ctl.set_knobs(device, command_delay=delay)

    yield set_delay
    lab_network.reset()


# -- each long command draws its progress and prints its result -----------------------------------
def test_backup_and_drift_in_a_terminal_draw_progress_and_print_their_tables(fault_env, lab_network) -> None:
    env = _env(fault_env)
    backup = tty(env, "config", "backup", "-c", "acme")
    assert backup.exit_code == ExitCode.OK, backup.text
    assert (len(ACME_NETWORK), len(ACME_NETWORK)) in backup.progress("backing up devices"), backup.text
    assert re.search(r"DEVICE\s+CLIENT\s+STATUS\s+FILE\s+ERROR", backup.text), backup.text
    _readable(backup, ACME_NETWORK)
    assert f"{len(ACME_NETWORK)} new; commit " in backup.text

    drift = tty(env, "drift", "-c", "acme")
    assert drift.exit_code == ExitCode.FINDINGS, drift.text  # the lab seeds drift on acme's devices
    assert drift.progress("auditing devices")[-1] == (len(ACME_NETWORK), len(ACME_NETWORK)), drift.text
    assert re.search(r"DEVICE\s+CLIENT\s+STATUS\s+FEATURES\s+DRIFT / ERROR\s+EVIDENCE", drift.text), drift.text
    _readable(drift, ACME_NETWORK)
    assert re.search(r"run drift-\S+: \d+ compliant, \d+ drifted, 0 failed", drift.text), drift.text


def test_os_compliance_in_a_terminal(fault_env, lab_network) -> None:
    screen = tty(_env(fault_env), "patch", "os", "-c", "acme")
    assert screen.exit_code == ExitCode.FINDINGS, screen.text  # acme-core-sw1 runs an unapproved release
    assert screen.progress("reading versions devices")[-1] == (len(ACME_NETWORK), len(ACME_NETWORK)), screen.text
    assert re.search(r"DEVICE\s+CLIENT\s+PLATFORM\s+TYPE\s+VERSION\s+COMPLIANCE\s+DETAIL", screen.text), screen.text
    _readable(screen, ACME_NETWORK)
    assert re.search(r"acme-core-sw1\s.*17\.6\.1\s+NON_COMPLIANT", screen.text), screen.text


def test_push_dry_run_prompts_apply_and_rollback_in_a_terminal(fault_env, net, ctl) -> None:
    env = _env(fault_env)
    before = {d: ctl.config(d) for d in ACME_NETWORK}
    dry = tty(env, "config", "push", "-c", "acme")
    assert dry.exit_code == ExitCode.OK, dry.text
    assert dry.progress("planning devices")[-1] == (len(ACME_NETWORK), len(ACME_NETWORK)), dry.text
    assert "--- acme-core-sw1 (acme): would send [ntp]" in dry.text
    assert "dry run: nothing was changed" in dry.text
    _readable(dry, ACME_NETWORK)

    no = tty(env, "config", "push", "-c", "acme", "--apply", "--force", answer="n")
    assert no.exit_code == ExitCode.ERROR and "Aborted" in no.text, no.text  # docs: answered no, exit 1
    assert re.search(r"Apply these changes to \d device\(s\)\? \[y/N\]", no.text), no.text
    assert "planning devices" in no.text and "pushing" not in no.text
    assert {d: _lines(ctl.config(d)) for d in ACME_NETWORK} == {d: _lines(t) for d, t in before.items()}

    device = "acme-core-sw1"  # seeded drift: two ntp lines
    yes = tty(env, "config", "push", "-c", "acme", "-l", device, "--apply", "--force", answer="y")
    assert yes.exit_code == ExitCode.OK, yes.text
    assert yes.progress("pushing devices")[-1] == (1, 1), yes.text
    assert re.search(rf"{device}\s+acme\s+applied\s+ntp", yes.text), yes.text
    assert _lines(ctl.config(device)) != _lines(before[device])
    push_id = yes.run_id("push")
    assert by_device(_record(net, push_id))[device]["status"] == "applied"

    keep = tty(env, "config", "rollback", "--run", push_id, "--apply", answer="n")
    assert keep.exit_code == ExitCode.ERROR and "Aborted" in keep.text, keep.text
    assert _lines(ctl.config(device)) != _lines(before[device])
    undo = tty(env, "config", "rollback", "--run", push_id, "--apply", answer="y")
    assert undo.exit_code == ExitCode.OK, undo.text
    assert undo.progress("rolling back devices")[-1] == (1, 1), undo.text
    _readable(undo, [device])
    assert _lines(ctl.config(device)) == _lines(before[device])


# -- Ctrl-C ---------------------------------------------------------------------------------------
def _stopped_by_ctrl_c(screen) -> None:
    """Exit 130, the stop announced at once and its count at the end, and no crash."""
    assert screen.exit_code == ExitCode.INTERRUPTED, screen.text
    assert "SIGINT: stopping. No new device starts" in screen.text
    assert re.search(r"^Interrupted by SIGINT: [1-9]\d* target\(s\) not started", screen.text, re.M), screen.text
    assert "Traceback" not in screen.text and "MSP-000" not in screen.text


def test_ctrl_c_in_a_backup_commits_what_was_read_and_records_it_interrupted(fault_env, net, slow) -> None:
    slow(0.4)  # a few seconds per device, one at a time: the Ctrl-C lands mid-run
    env = _env(fault_env, {"MSPCTL_DEVICES_WORKERS": "1"})
    first = tty(env, "config", "backup", "-c", "acme", "-l", "acme-edge-rtr1")  # a repository with history
    assert first.exit_code == ExitCode.OK, first.text
    screen = interrupt_when(env, "backing up devices", 1, "config", "backup", "-c", "acme")
    _stopped_by_ctrl_c(screen)

    record = _record(net, screen.run_id("backup"))
    assert record["params"]["interrupted"] == "SIGINT"
    results = by_device(record)
    done = {d for d, r in results.items() if r["status"] in ("new", "unchanged")}
    skipped = {d for d, r in results.items() if r["status"] == "skipped"}
    assert done and skipped and done | skipped == set(ACME_NETWORK), results
    assert {results[d]["error_code"] for d in skipped} == {"MSP-RUN-499"}
    assert all("interrupted by SIGINT" in results[d]["error"] for d in skipped)

    repo = Path(record["params"]["repo"])
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)
    assert _git(repo, "status", "--porcelain", "--untracked-files=all") == ""  # nothing written and left
    committed = set(_git(repo, "ls-tree", "-r", "--name-only", "HEAD").split())
    assert {results[d]["path"] for d in done} <= committed  # what was read is kept
    assert not {results[d]["path"] for d in skipped - {"acme-edge-rtr1"}} & committed  # never read, never stored
    new = {results[d]["path"] for d in done if results[d]["status"] == "new"}
    assert bool(new) == bool(record["summary"]["commit"])
    if new:  # the run's own commit holds exactly what it read, and says it was interrupted
        assert set(_git(repo, "show", "--name-only", "--format=", "HEAD").split()) == new
        assert "interrupted by SIGINT" in _git(repo, "log", "-1", "--format=%B")


def test_ctrl_c_in_a_drift_audit_reports_what_was_compared_and_records_it_interrupted(fault_env, net,
                                                                                     slow) -> None:
    slow(0.4)
    env = _env(fault_env, {"MSPCTL_DEVICES_WORKERS": "1"})
    screen = interrupt_when(env, "auditing devices", 1, "drift", "-c", "acme")
    _stopped_by_ctrl_c(screen)
    assert re.search(r"DEVICE\s+CLIENT\s+STATUS", screen.text), screen.text  # the partial table is printed
    _readable(screen, ACME_NETWORK)

    record = _record(net, screen.run_id("drift"))
    assert record["params"]["interrupted"] == "SIGINT"
    results = by_device(record)
    audited = {d for d, r in results.items() if r["status"] in ("compliant", "drift")}
    skipped = {d for d, r in results.items() if r["status"] == "skipped"}
    assert audited and skipped and audited | skipped == set(ACME_NETWORK), results
    assert {results[d]["error_code"] for d in skipped} == {"MSP-RUN-499"}
    assert all(results[d]["features"] for d in audited)  # compared for real, not just listed


def test_ctrl_c_in_a_backup_on_workers_stops_them_too(fault_env, net, slow, lab_workers) -> None:
    """The same Ctrl-C, the devices read by `mspctl worker`s (one batch, one device at a time):
    the workers start no new device once the run is stopped, and what they read is committed."""
    lab_workers.reset()
    slow(0.4)
    # One batch of acme's 3 devices, one at a time, each within 6 s (the batch within the workers'
    # visibility timeout).
    env = _env(fault_env, {**lab_workers.client_env(), "MSPCTL_DEVICES_WORKERS": "1",
                           "MSPCTL_EXECUTOR_BATCH_SIZE": "3", "MSPCTL_DEVICES_TIMEOUT": "6"})
    screen = interrupt_when(env, "backing up devices", 1, "config", "backup", "-c", "acme")
    _stopped_by_ctrl_c(screen)
    record = _record(net, screen.run_id("backup"))
    assert record["params"]["interrupted"] == "SIGINT"
    results = by_device(record)
    done = {d for d, r in results.items() if r["status"] == "new"}
    skipped = {d for d, r in results.items() if r["status"] == "skipped"}
    assert done and skipped and done | skipped == set(ACME_NETWORK), results
    assert {results[d]["error_code"] for d in skipped} == {"MSP-RUN-499"}
    repo = Path(record["params"]["repo"])
    assert set(_git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()) == {results[d]["path"] for d in done}


def test_a_worker_in_a_terminal_stops_on_ctrl_c(fault_env, lab_workers, tmp_path: Path) -> None:
    """`mspctl worker` on a terminal: ready, then Ctrl-C is a warm shutdown (exit 0), no traceback.
    (Its own queue: it takes none of the lab workers' batches.)"""
    ready = tmp_path / "ready.json"
    env = _env(fault_env, {"MSPCTL_BROKER_URL": lab_workers.broker_url})
    child = _spawn(env, "worker", "--pool", "solo", "--queues", "mspctl-tty", "--hostname", "tty-worker",
                   "--ready-file", str(ready))
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while not ready.exists():
            assert time.monotonic() < deadline, f"the worker never got ready:\n{seen}"
            try:
                seen += child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                continue
        assert json.loads(ready.read_text())["name"] == "tty-worker"
        child.sendcontrol("c")
        screen = _finish(child, seen)
    finally:
        child.close(force=True)
    assert screen.exit_code == 0, screen.text
    assert "Traceback" not in screen.text and "MSP-" not in screen.text


# -- a narrow terminal ----------------------------------------------------------------------------
def test_a_40_column_terminal_gets_whole_names(fault_env, lab_network) -> None:
    env = _env(fault_env)
    backup = tty(env, "config", "backup", "-c", "acme", cols=40)
    assert backup.exit_code == ExitCode.OK, backup.text
    assert backup.progress("backing up devices"), backup.text
    _readable(backup, ACME_NETWORK)
    for device in ACME_NETWORK:  # one block per device: every value whole on its own line
        assert re.search(rf"^DEVICE\s+{device}$", backup.text, re.M), backup.text
        assert re.search(rf"^FILE\s+acme/{device}\.cfg$", backup.text, re.M), backup.text

    drift = tty(env, "drift", "-c", "acme", cols=40)
    assert drift.exit_code == ExitCode.FINDINGS, drift.text
    _readable(drift, ACME_NETWORK)
    assert all(re.search(rf"^DEVICE\s+{d}$", drift.text, re.M) for d in ACME_NETWORK), drift.text

    wide = tty(env, "drift", "-c", "acme", cols=200)  # the same run in a wide terminal: a table
    assert re.search(r"^DEVICE\s+CLIENT\s+STATUS", wide.text, re.M), wide.text


# -- patching -------------------------------------------------------------------------------------
def _dpkg(lab_servers, host: str) -> dict[str, str]:
    out = lab_servers.ssh(host, "dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' 'mspdemo-*'")
    return {p: v for p, v, status in (line.split() for line in out.splitlines()) if status == "installed"}


def test_patch_scan_apply_prompts_and_window_in_a_terminal(fault_env, lab_servers) -> None:
    lab_servers.reset()
    env = _env(fault_env, {"MSPCTL_SSH_CONFIG": lab_servers.ssh_config, "MSPCTL_NOW": INSIDE})
    host = "acme-web01"  # security updates pending (lib + web)
    before = {name: _dpkg(lab_servers, h) for name, h in ACME_SERVERS.items()}

    scan = tty(env, "patch", "scan", "-c", "acme", cols=200)
    assert scan.exit_code == ExitCode.FINDINGS, scan.text
    assert "scanning" in scan.text
    assert re.search(r"HOST\s+CLIENT\s+BASELINE\s+COMPLIANCE\s+DETAIL\s+EVIDENCE", scan.text), scan.text
    _readable(scan, list(ACME_SERVERS))
    assert re.search(rf"{host}\s+acme\s+debian-security@\S+\s+NON_COMPLIANT", scan.text), scan.text

    dry = tty(env, "patch", "apply", "-c", "acme", "-l", host)
    assert dry.exit_code == ExitCode.OK, dry.text
    assert "planning" in dry.text and f"--- {host}: would install " in dry.text
    assert "dry run: nothing was changed" in dry.text

    no = tty(env, "patch", "apply", "-c", "acme", "-l", host, "--apply", "--no-writeback", answer="n")
    assert no.exit_code == ExitCode.ERROR and "Aborted" in no.text, no.text
    assert "Patch these 1 host(s)?" in no.text
    assert _dpkg(lab_servers, ACME_SERVERS[host]) == before[host]

    yes = tty(env, "patch", "apply", "-c", "acme", "-l", host, "--apply", "--no-writeback", answer="y", cols=200)
    assert yes.exit_code == ExitCode.OK, yes.text
    assert "patching" in yes.text
    assert re.search(rf"{host}\s+acme\s+debian-security@\S+\s+COMPLIANT\s", yes.text), yes.text
    assert _dpkg(lab_servers, ACME_SERVERS[host]) != before[host]

    closed = tty(env, "patch", "window", "-c", "acme", "--no-writeback", answer="n")
    assert closed.exit_code == ExitCode.ERROR and "Patch client acme's servers now?" in closed.text, closed.text
    window = tty(env, "patch", "window", "-c", "acme", "--no-writeback", answer="y", cols=200)
    assert window.exit_code == ExitCode.OK, window.text
    assert "window acme" in window.text
    _readable(window, list(ACME_SERVERS))
    assert set(re.findall(r"\b(COMPLIANT|NON_COMPLIANT|FAILED|UNREACHABLE)\b", window.text)) == {"COMPLIANT"}
    assert "run patch-window-" in window.text
    lab_servers.reset()

