"""Run the device lab in the foreground (``serve``) or as a daemon (``up``/``down``/``status``).

State lives under ``${MSPCTL_LAB_HOME:-~/.cache/mspctl-lab}/devices/``::

    host_ed25519               the SSH host key every device presents (generated once)
    <spec stem>-<hash>/        one directory per spec file (by absolute path), so labs can coexist
        serve.pid              written by the server once every device listens
        serve.log              the daemon's output
        control.sock           the control socket (see control.py)
        spec.sha256            the spec contents the daemon was started with: ``up`` restarts on change
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab.devices.spec import LabSpec, load_spec

REPO = Path(__file__).resolve().parents[2]
DEMO_SPEC = Path(__file__).resolve().parent / "demo.yaml"


def devices_home(lab_home: str | Path | None = None) -> Path:
    """The device lab's state dir: ``<lab home>/devices`` (lab home: $MSPCTL_LAB_HOME or ~/.cache/mspctl-lab)."""
    home = lab_home or os.environ.get("MSPCTL_LAB_HOME") or Path.home() / ".cache" / "mspctl-lab"
    return Path(home) / "devices"


def log(msg: str) -> None:
    print(f"[lab devices] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Instance:
    """Where one spec file's daemon keeps its pid, log and control socket."""

    spec_path: Path
    dir: Path

    @classmethod
    def of(cls, spec_path: str | Path, lab_home: str | Path | None = None) -> Instance:
        path = Path(spec_path).resolve()
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
        return cls(path, devices_home(lab_home) / f"{path.stem}-{digest}")

    @property
    def pidfile(self) -> Path:
        return self.dir / "serve.pid"

    @property
    def logfile(self) -> Path:
        return self.dir / "serve.log"

    @property
    def control(self) -> Path:
        return self.dir / "control.sock"

    @property
    def spec_hash_file(self) -> Path:
        return self.dir / "spec.sha256"

    def spec_hash(self) -> str:
        return hashlib.sha256(self.spec_path.read_bytes()).hexdigest()

    def pid(self) -> int | None:
        """The daemon's pid when it is alive (and really ours, not a recycled pid), else None."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"lab.devices" in cmdline else None


# -- foreground ---------------------------------------------------------------------------------
def serve(spec_path: Path, control: Path | None = None, pidfile: Path | None = None) -> int:
    """Serve every device of the spec until SIGTERM/SIGINT. Returns the exit code."""
    from lab.devices.server import LabError

    spec = load_spec(spec_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # one INFO line per login is noise here
    _raise_fd_limit()
    inst = Instance.of(spec_path)
    # Foreground or daemon, the same pid file and spec digest: ``up``/``down``/``status`` see either.
    inst.dir.mkdir(parents=True, exist_ok=True)
    inst.spec_hash_file.write_text(inst.spec_hash())
    try:
        asyncio.run(_serve(spec, control or inst.control, pidfile or inst.pidfile))
    except LabError as err:
        log(str(err))
        return 1
    return 0


def _raise_fd_limit() -> None:
    # One listening socket per device plus its sessions: 200 devices x a few sessions can pass 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536) if hard > 0 else soft, hard))


async def _serve(spec: LabSpec, control: Path, pidfile: Path) -> None:
    from lab.devices.control import ControlServer
    from lab.devices.server import DeviceLab, load_host_key

    lab = DeviceLab(spec, load_host_key(devices_home() / "host_ed25519"))
    await lab.start()
    ctl = ControlServer(lab, control)
    await ctl.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{os.getpid()}\n")  # only now: ``up`` takes the file as "every device listens"
    log(f"{len(lab.devices)} devices listening; control socket {control}")
    try:
        await stop.wait()
    finally:
        await ctl.stop()
        await lab.stop()
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        log("stopped")


# -- daemon ---------------------------------------------------------------------------------------
def up(spec_path: Path, timeout: float = 60.0) -> Instance:
    """Start the daemon for a spec unless it already runs that spec; wait until every port accepts.

    Raises SystemExit with the log's tail when the daemon dies or does not come up in time.
    """
    spec = load_spec(spec_path)  # fail here, with the file named, rather than in the daemon's log
    inst = Instance.of(spec_path)
    if inst.pid() is not None:
        same = inst.spec_hash_file.exists() and inst.spec_hash_file.read_text() == inst.spec_hash()
        if same and not _closed_ports(spec, deadline=time.monotonic() + 2):
            log(f"already running (pid {inst.pid()}): {len(spec.devices)} devices")
            return inst
        log("the spec changed since the lab started: restarting")
        down(spec_path)
    inst.dir.mkdir(parents=True, exist_ok=True)
    inst.pidfile.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with inst.logfile.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.devices", "serve", "--spec", str(inst.spec_path),
             "--control", str(inst.control), "--pidfile", str(inst.pidfile)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, and a Ctrl-C in its terminal
        )
    deadline = time.monotonic() + timeout
    while not inst.pidfile.exists():
        if proc.poll() is not None:
            raise SystemExit(f"[lab devices] the server exited ({proc.returncode}):\n{_tail(inst.logfile)}")
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"[lab devices] not listening after {timeout:.0f}s:\n{_tail(inst.logfile)}")
        time.sleep(0.05)
    closed = _closed_ports(spec, deadline)
    if closed:
        raise SystemExit(f"[lab devices] ports not accepting: {', '.join(closed[:10])}")
    log(f"up (pid {proc.pid}): {len(spec.devices)} devices; control socket {inst.control}")
    return inst


def down(spec_path: Path, timeout: float = 10.0) -> bool:
    """Stop the spec's daemon (SIGTERM, then SIGKILL). Returns whether one was running."""
    inst = Instance.of(spec_path)
    pid = inst.pid()
    if pid is None:
        inst.pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    inst.pidfile.unlink(missing_ok=True)
    inst.control.unlink(missing_ok=True)
    log(f"stopped (pid {pid})")
    return True


def status(spec_path: Path) -> int:
    """Print one line per device; exit code 0 when the daemon runs and every port accepts, else 1."""
    spec = load_spec(spec_path)
    inst = Instance.of(spec_path)
    pid = inst.pid()
    print(f"spec {inst.spec_path}: {'running, pid ' + str(pid) if pid else 'not running'}")
    closed = set(_closed_ports(spec, time.monotonic() + 1)) if pid else {f"{d.host}:{d.port}" for d in spec.devices}
    for dev in spec.devices:
        state = "closed" if f"{dev.host}:{dev.port}" in closed else "listening"
        print(f"  {dev.name:<24} {dev.platform:<11} {dev.host}:{dev.port:<6} {state}")
    return 0 if pid and not closed else 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child of this process lingers as a zombie until reaped; that is not "alive".
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def _closed_ports(spec: LabSpec, deadline: float) -> list[str]:
    """The device addresses that do not accept a TCP connection by the deadline."""
    pending = [dev.address for dev in spec.devices]
    while True:
        pending = [addr for addr in pending if not _accepts(addr)]
        if not pending or time.monotonic() > deadline:
            return [f"{host}:{port}" for host, port in pending]
        time.sleep(0.1)


def _accepts(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=1.0):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
