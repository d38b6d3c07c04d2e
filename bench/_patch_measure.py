"""bench/patch's measured runs: `_common.run_measured` plus the memory of the whole process tree.

``os.wait4``'s ``ru_maxrss`` is the peak of the largest *single* process among the child and the
descendants it reaped (Linux keeps the maximum, not a sum), so 20 Ansible workers alive at once
count as one. A sampler thread therefore also adds up the PSS (``/proc/<pid>/smaps_rollup``:
shared pages split between the processes that share them, so forked workers' copy-on-write
pages are not counted 20 times) of the child and all its descendants (by parent pid: ansible-runner
starts ansible-playbook in a session of its own, under a pty) every 0.25 s and keeps the highest
sum. SSH control masters that ssh detaches (re-parented to init) are outside the tree on both sides.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import BenchError, Run, remaining


@dataclass(frozen=True)
class Measured:
    run: Run
    started: float  # epoch seconds at the start
    tree_pss_kb: int  # highest sampled sum of PSS over the process tree
    tree_procs: int  # most processes seen in the tree at once
    samples: int


def _descendants(root: int) -> list[int]:
    """`root` and every process below it (by parent pid), as /proc shows them now."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])  # after "pid (comm)": state, ppid
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_sampled(cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, stdout: Path, timeout: float,
                interval: float = 0.25) -> Measured:
    """Run `cmd` (stdout to a file); wall and rusage from os.wait4, tree PSS sampled meanwhile."""
    timeout = remaining(timeout)
    peak = {"pss": 0, "procs": 0, "n": 0}
    with stdout.open("wb") as out:
        started = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.PIPE,
                                start_new_session=True)
        done = threading.Event()
        timed_out = threading.Event()

        def sample() -> None:
            while not done.wait(interval):
                members = _descendants(proc.pid)
                total = sum(_pss_kb(p) for p in members)
                peak["n"] += 1
                peak["pss"] = max(peak["pss"], total)
                peak["procs"] = max(peak["procs"], len(members))

        def kill() -> None:
            timed_out.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        err_chunks: list[bytes] = []
        assert proc.stderr is not None
        reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        timer.cancel()
        sampler.join(5)
        reader.join(5)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen.wait
    stderr = b"".join(err_chunks).decode(errors="replace")
    if timed_out.is_set():
        raise BenchError(f"`{shlex.join(cmd)}` did not finish within {timeout:.0f}s")
    run = Run(wall, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime, proc.returncode, stdout, stderr)
    return Measured(run, started, peak["pss"], peak["procs"], peak["n"])
