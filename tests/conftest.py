"""Shared fixtures: the real lab (started once per session) and the CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

if TYPE_CHECKING:
    from lab.browser import PageResult

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        nodeid = item.nodeid.replace(os.sep, "/")
        if "tests/lab/" in nodeid or "tests/plugins/" in nodeid:
            item.add_marker(pytest.mark.lab)
        if "tests/faults/" in nodeid:
            item.add_marker(pytest.mark.lab)
            item.add_marker(pytest.mark.faults)


@dataclass(frozen=True)
class LabNetBox:
    url: str
    token: str
    no_permission_token: str


@pytest.fixture(scope="session")
def lab_netbox() -> LabNetBox:
    """The lab's real NetBox with the demo data set, reloaded fresh once per test session."""
    proc = subprocess.run([sys.executable, "-m", "lab", "up", "--dataset", "demo", "--fresh", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"lab up failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return LabNetBox(info["url"], info["token"], info["no_permission_token"])


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


Invoke = Callable[..., Result]


@pytest.fixture
def mspctl(runner: CliRunner, lab_netbox: LabNetBox, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """Run the real CLI against the lab NetBox with a private cache; returns click's Result."""
    from mspctl.cli import main

    monkeypatch.chdir(REPO)
    for var in list(os.environ):
        if var.startswith(("MSPCTL_", "NETBOX_")):
            monkeypatch.delenv(var)
    base_env = lab_env(lab_netbox, tmp_path)

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env={**base_env, **(env or {})}, catch_exceptions=False, input=input)

    yield invoke


# A lab host answers its SSH connection at once, or never (cut): 4 s, not the default 10, before
# it is UNREACHABLE ([patch] connect_timeout).
LAB_CONNECT_TIMEOUT = 4


def lab_env(lab_netbox: LabNetBox, tmp_path: Path) -> dict[str, str]:
    """The variables that point mspctl at the lab NetBox, with a private cache, records and state."""
    return {"NETBOX_API": lab_netbox.url, "NETBOX_TOKEN": lab_netbox.token,
            "MSPCTL_PATCH_CONNECT_TIMEOUT": str(LAB_CONNECT_TIMEOUT),
            "MSPCTL_CACHE_PATH": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            "XDG_STATE_HOME": str(tmp_path / "xdg-state")}


@dataclass(frozen=True)
class LabNetwork:
    """The demo network: simulated IOS/EOS devices on NetBox's demo primary IPs, with seeded drift."""

    credentials_file: str
    device_port: str
    control: str

    def reset(self) -> None:
        """Every device back to its seeded config and knobs."""
        from lab.devices.control import ControlClient

        ControlClient(self.control).reset()


@pytest.fixture(scope="session")
def lab_network(lab_netbox: LabNetBox) -> LabNetwork:
    proc = subprocess.run([sys.executable, "-m", "lab", "network", "up", "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"lab network up failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    net = LabNetwork(info["credentials_file"], info["device_port"], info["control"])
    net.reset()
    return net


@pytest.fixture
def net(mspctl: Invoke, lab_network: LabNetwork) -> Iterator[Invoke]:
    """`mspctl` with the device credentials and port; every device is reset after the test."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return mspctl(*args, env={"MSPCTL_CREDENTIALS_FILE": lab_network.credentials_file,
                                  "MSPCTL_DEVICE_PORT": lab_network.device_port, **(env or {})}, input=input)

    yield invoke
    lab_network.reset()


@dataclass(frozen=True)
class LabBrownfield:
    """The brownfield client hooli: its own NetBox data set and devices whose running configs are
    real-world shaped files, loaded verbatim (lab/brownfield.py)."""

    url: str
    token: str
    credentials_file: str
    device_port: str
    control: str

    def env(self, tmp_path: Path) -> dict[str, str]:
        return {**lab_env(LabNetBox(self.url, self.token, ""), tmp_path),
                "MSPCTL_CREDENTIALS_FILE": self.credentials_file, "MSPCTL_DEVICE_PORT": self.device_port}

    def running(self, device: str) -> str:
        from lab.devices.control import ControlClient

        return ControlClient(self.control).config(device)

    def reset(self) -> None:
        from lab.devices.control import ControlClient

        ControlClient(self.control).reset()


@pytest.fixture(scope="session")
def lab_brownfield(lab_netbox: LabNetBox) -> LabBrownfield:
    proc = subprocess.run([sys.executable, "-m", "lab", "brownfield", "up", "--fresh", "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"lab brownfield up failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    lab = LabBrownfield(info["url"], info["token"], info["credentials_file"], info["device_port"], info["control"])
    lab.reset()
    return lab


@dataclass(frozen=True)
class LabServers:
    """The host lab's Debian hosts (``python -m lab.hosts``, prefix mspctl-h), which are acme's servers in NetBox."""

    ssh_config: str
    info: dict[str, object]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lab.hosts", *args], cwd=REPO, capture_output=True,
                              text=True, timeout=600)

    def reset(self) -> None:
        """Every host back to its seeded packages, and reachable."""
        for host in ("h1", "h2", "h3", "h4", "h5"):
            self.run("restore", host)
        proc = self.run("reset")
        assert proc.returncode == 0, proc.stderr

    def ssh(self, host: str, command: str) -> str:
        proc = self.run("ssh", host, command)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@pytest.fixture(scope="session")
def lab_servers(lab_netbox: LabNetBox) -> LabServers:
    """acme's five servers as real Debian hosts on the addresses NetBox gives them, from their seed."""
    if os.geteuid() != 0:
        pytest.fail("the host lab needs root (network namespaces, overlay mounts)", pytrace=False)
    proc = subprocess.run([sys.executable, "-m", "lab.hosts", "up", "--count", "5", "--fresh", "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        pytest.fail(f"lab.hosts up failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return LabServers(info["ssh_config"], info)


@dataclass(frozen=True)
class LabWorkers:
    """Celery workers (`mspctl worker`, lab-w1 and lab-w2), each in its own network namespace
    (lab/workers.py), on the lab's broker; they reach NetBox and the demo network at their real
    addresses, and the host lab's hosts when that lab is up."""

    broker_url: str
    count: int

    def client_env(self) -> dict[str, str]:
        """What a client command needs to hand its batches to these workers: small batches (so
        two workers share even one client's devices) and the workers' short visibility timeout,
        which must exceed the longest batch (a device's timeout)."""
        return {"MSPCTL_BROKER_URL": self.broker_url, "MSPCTL_EXECUTOR": "celery", **WORKER_TIMING,
                "MSPCTL_EXECUTOR_BATCH_SIZE": "2", "MSPCTL_DEVICES_TIMEOUT": "15"}

    def status(self):  # -> lab.workers.WorkersInfo
        from lab import workers

        return workers.status()

    def cut(self, index: int) -> None:
        from lab import workers

        workers.cut(index)

    def restore(self, index: int) -> None:
        from lab import workers

        workers.restore(index)

    def kill(self, index: int) -> None:
        from lab import workers

        workers.kill(index)

    def start(self, index: int) -> None:
        """Start a killed worker again and wait until it takes batches."""
        from lab import workers

        workers.start(index)

    def reset(self) -> None:
        """Every worker reachable and running."""
        from lab import workers

        for w in workers.status().workers:
            if w.cut:
                workers.restore(w.index)
            if not w.alive:
                workers.start(w.index)


# A batch a worker took and never acknowledged goes to another worker after this long (the
# broker's visibility timeout, seconds): short in the lab, so a killed worker's batch is redone soon.
WORKER_TIMING = {"MSPCTL_EXECUTOR_VISIBILITY_TIMEOUT": "25"}


@pytest.fixture(scope="session")
def lab_workers(lab_network: LabNetwork, lab_netbox: LabNetBox, lab_servers: LabServers,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabWorkers]:
    """Two `mspctl worker`s in their own network namespaces, on an emptied broker; the repository
    is the checkout, the settings are the `net` and `patch` fixtures' (a cache per worker). The
    host lab is up first, so the workers reach its hosts. Torn down at the end."""
    from lab import workers

    if os.geteuid() != 0:
        pytest.fail("lab workers need root (network namespaces)", pytrace=False)
    base = tmp_path_factory.mktemp("workers")
    env = {**lab_env(lab_netbox, base / "{name}"), "MSPCTL_CREDENTIALS_FILE": lab_network.credentials_file,
           "MSPCTL_DEVICE_PORT": lab_network.device_port, "MSPCTL_SSH_CONFIG": lab_servers.ssh_config,
           **WORKER_TIMING}
    try:
        workers.down()
        workers.flush_broker()
        info = workers.up(2, env=env, cwd=REPO)
    except workers.WorkersError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield LabWorkers(info.broker_url, len(info.workers))
    workers.down()


@pytest.fixture(scope="module")
def patch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run records and window state shared by one test module's patch runs (they build on each other)."""
    return tmp_path_factory.mktemp("patch-home")


@pytest.fixture
def patch(mspctl: Invoke, lab_servers: LabServers, patch_home: Path) -> Iterator[Invoke]:
    """`mspctl` that reaches acme's servers over the host lab's SSH config; records and window
    state are the module's (`patch_home`)."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return mspctl(*args, env={"MSPCTL_SSH_CONFIG": lab_servers.ssh_config,
                                  "XDG_CACHE_HOME": str(patch_home / "cache"),
                                  "XDG_STATE_HOME": str(patch_home / "state"), **(env or {})}, input=input)

    yield invoke


ARTIFACTS = Path(os.environ.get("MSPCTL_TEST_ARTIFACTS", REPO / "out" / "test-artifacts"))


@dataclass(frozen=True)
class Chromium:
    """Debian's headless Chromium (lab/browser.py); each page's screenshot is kept under `artifacts`."""

    artifacts: Path

    def open(self, page: Path, name: str, selectors: tuple[str, ...] = ()) -> PageResult:
        """Open a local HTML file; its screenshot is `<artifacts>/<name>.png`."""
        from lab.browser import open_report

        return open_report(page, self.artifacts / f"{name}.png", selectors)


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """Headless Chromium with the network blocked, installed from Debian's packages once per session."""
    from lab.browser import ensure_chromium

    try:
        ensure_chromium()
    except SystemExit as exc:  # the lab's installs report failures as SystemExit
        pytest.fail(str(exc), pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return Chromium(ARTIFACTS)


def wait_until(check: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
    """Poll `check` until it is true; fail naming `what` after `deadline` seconds."""
    import time

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill_once_written(cmd: list[str], env: dict[str, str], path: Path, deadline: float = 300,
                      until: Callable[[], bool] | None = None) -> None:
    """Start `cmd`, SIGKILL its process group as soon as it has written `path` (or has ended);
    with `until`, once `path` exists and `until()` is true as well."""
    import signal
    import time

    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    end = time.monotonic() + deadline

    def ready() -> bool:
        return path.exists() and (until is None or until())
    while not ready() and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ready(), proc.stderr.read().decode() if proc.stderr else ""


def window_saved_hosts(resume: Path) -> dict[str, dict]:
    """The hosts a patch window's resume file says are finished ({} before the first batch ends)."""
    try:
        return dict(json.loads(resume.read_text()).get("hosts") or {})
    except (OSError, ValueError):
        return {}


def by_device(record: dict) -> dict[str, dict]:
    """A run record's results (keyed by NetBox object, `device:12`) by device name."""
    return {r.get("device") or r.get("host") or key: r for key, r in record["results"].items()}
