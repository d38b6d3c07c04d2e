"""Small helpers shared by the host lab: paths, logging, subprocesses, locks, pids and ports."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


class HostLabError(Exception):
    """A host lab operation failed; the message says what and what to do."""


def hosts_home(lab_home: str | Path | None = None) -> Path:
    """``<lab home>/hosts`` (lab home: ``$MSPCTL_LAB_HOME``, default ``~/.cache/mspctl-lab``)."""
    home = lab_home or os.environ.get("MSPCTL_LAB_HOME") or Path.home() / ".cache" / "mspctl-lab"
    return Path(home).expanduser().resolve() / "hosts"


def log(msg: str) -> None:
    print(f"[lab hosts] {msg}", file=sys.stderr, flush=True)


def digest(obj: Any, length: int = 12) -> str:
    """A short, stable hash of a JSON-able recipe: the cache key of what it builds."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:length]


def run(cmd: Sequence[str | Path], *, input: str | bytes | None = None, check: bool = True,
        timeout: float | None = 600, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; a failure raises HostLabError with the output's tail."""
    args = [str(c) for c in cmd]
    data = input.decode() if isinstance(input, bytes) else input
    try:
        proc = subprocess.run(args, input=data, capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=cwd)
    except FileNotFoundError as err:
        raise HostLabError(f"{args[0]}: command not found ({err})") from err
    except subprocess.TimeoutExpired as err:
        raise HostLabError(f"timed out after {timeout}s: {' '.join(args)}") from err
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-3000:]
        raise HostLabError(f"failed ({proc.returncode}): {' '.join(args)}\n{tail}")
    return proc


def require_root() -> None:
    if os.geteuid() != 0:
        raise HostLabError("the host lab needs root (network namespaces, overlay mounts, chroot); run it as root")


def ensure_tool(binary: str, package: str) -> None:
    """Install a Debian package when its binary is missing (apt-get; the lab runs as root on Debian)."""
    if shutil.which(binary) or Path("/usr/sbin", binary).exists():
        return
    log(f"{binary} missing: apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = run(["apt-get", "install", "-y", "--no-install-recommends", package], check=False, env=env, timeout=900)
    if proc.returncode != 0:
        run(["apt-get", "update"], env=env, timeout=900)
        run(["apt-get", "install", "-y", "--no-install-recommends", package], env=env, timeout=900)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created): one lab operation at a time per lab home."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pid_alive(pidfile: Path, needle: str) -> int | None:
    """The pid in ``pidfile`` when that process lives and its command line contains ``needle``."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if needle in cmdline else None


def proc_start(pid: int) -> str | None:
    """The start time of process ``pid`` (it tells the process from a later one given the same
    PID), or None once it has exited (a zombie, or gone from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def wait_exited(pid: int, started: str, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds until the process ``pid`` that started at ``started`` has
    exited; True once it has. An exiting process's cmdline is empty before it has released its
    files, sockets and namespaces, so a cmdline test (``pid_alive``) says "gone" too early."""
    deadline = time.monotonic() + timeout
    while proc_start(pid) == started:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def kill_pidfile(pidfile: Path, needle: str, timeout: float = 5.0) -> None:
    """SIGTERM the process of ``pidfile`` (if really ours), SIGKILL after ``timeout``; returns once
    it has exited, and removes the file."""
    pid = pid_alive(pidfile, needle)
    started = proc_start(pid) if pid is not None else None
    if pid is not None and started is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
        if not wait_exited(pid, started, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            wait_exited(pid, started, 5)
    pidfile.unlink(missing_ok=True)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ssh_banner(host: str, port: int = 22, timeout: float = 2.0) -> bool:
    """True when an SSH server answers with its identification line (a TCP accept alone is not enough)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def mounted(path: Path) -> bool:
    target = str(path)
    with Path("/proc/self/mountinfo").open() as fh:
        return any(line.split()[4] == target for line in fh)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
