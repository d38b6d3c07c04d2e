"""Shared plumbing for the benchmarks: paths, the lab, and measured child processes.

A measured run is one child process reaped with ``os.wait4``: its wall time, its peak resident
set (``ru_maxrss``, which on Linux also covers the children it reaped) and its CPU time. That
per-child rusage is exact, where deltas of ``getrusage(RUSAGE_CHILDREN)`` are not: the
children's ``ru_maxrss`` is a high-water mark over every child ever reaped.
"""

from __future__ import annotations

import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
LAB_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mspctl-lab"
BENCH_CACHE = LAB_CACHE / "bench"


class BenchError(Exception):
    """A failure that makes the benchmark meaningless (the caller exits non-zero)."""


_deadline: float | None = None


def set_budget(seconds: float) -> None:
    """Bound every later measured run so that they all end within `seconds` from now."""
    global _deadline  # noqa: PLW0603
    _deadline = time.monotonic() + seconds


def remaining(timeout: float) -> float:
    if _deadline is None:
        return timeout
    left = _deadline - time.monotonic()
    if left <= 0:
        raise BenchError("the time budget is used up (see --budget)")
    return min(timeout, left)


def ensure_venv_python() -> None:
    """Re-run this script with the project's venv interpreter when started with another one."""
    venv_python = VENV_BIN / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])


def tool(name: str) -> str:
    """A console script from the project's venv."""
    path = VENV_BIN / name
    if not path.exists():
        raise BenchError(f"{path} not found; create the venv and `pip install -e .[dev]` first")
    return str(path)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- the lab ---------------------------------------------------------------------------------
def lab_up(dataset: str = "bench") -> dict[str, str]:
    """Start the lab NetBox for `dataset` (idempotent) and return NETBOX_API/NETBOX_TOKEN."""
    log(f"lab: python -m lab up --dataset {dataset}")
    proc = subprocess.run([tool("python"), "-m", "lab", "up", "--dataset", dataset], cwd=REPO,
                          capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise BenchError(f"`python -m lab up --dataset {dataset}` failed (exit {proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
    env = read_env_file(LAB_CACHE / f"netbox-{dataset}.env")
    for key in ("NETBOX_API", "NETBOX_TOKEN"):
        if not env.get(key):
            raise BenchError(f"{LAB_CACHE / f'netbox-{dataset}.env'}: no {key}")
    host = env["NETBOX_API"].split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise BenchError(f"the lab NetBox is at {env['NETBOX_API']}; the benchmark only talks to loopback")
    return env


def read_env_file(path: Path) -> dict[str, str]:
    """Parse ``export KEY=VALUE`` lines (shell-quoted)."""
    if not path.is_file():
        raise BenchError(f"{path} not found; did `python -m lab up` succeed?")
    out = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            words = words[1:]
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                out[key] = value
    return out


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without settings that would change what is measured."""
    drop = ("MSPCTL_", "NETBOX_", "ANSIBLE_", "PYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


# -- measured runs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    maxrss_kb: int
    cpu: float  # user + system seconds of the child (and the children it reaped)
    returncode: int
    stdout: Path
    stderr: str


def run_measured(cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, stdout: Path,
                 timeout: float, watch: Callable[[int, threading.Event], None] | None = None) -> Run:
    """Run `cmd` with stdout to a file and return its wall time and rusage (from os.wait4).
    `watch(pid, done)` runs in a thread meanwhile (e.g. a memory sampler) until `done` is set."""
    timeout = remaining(timeout)
    with stdout.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.PIPE,
                                start_new_session=True)
        timed_out = threading.Event()
        done = threading.Event()
        watcher = threading.Thread(target=watch, args=(proc.pid, done), daemon=True) if watch else None
        if watcher is not None:
            watcher.start()

        def kill() -> None:
            timed_out.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        # Drain stderr in a thread so a chatty child cannot block on a full pipe.
        err_chunks: list[bytes] = []
        assert proc.stderr is not None
        reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        timer.cancel()
        if watcher is not None:
            watcher.join(5)
        reader.join(5)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen.wait
    stderr = b"".join(err_chunks).decode(errors="replace")
    if timed_out.is_set():
        raise BenchError(f"`{shlex.join(cmd)}` did not finish within {timeout:.0f}s")
    return Run(wall, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime, proc.returncode, stdout, stderr)


@dataclass(frozen=True)
class Series:
    """Repeated runs of one command."""

    label: str
    runs: tuple[Run, ...]

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def spread(self) -> str:
        walls = [r.wall for r in self.runs]
        return f"{min(walls):.2f}-{max(walls):.2f}" if len(walls) > 1 else "-"

    @property
    def peak_mb(self) -> float:
        return max(r.maxrss_kb for r in self.runs) / 1024

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)


def fmt_seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"
