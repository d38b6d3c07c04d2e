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
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import Run, run_measured


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
    """`run_measured` of `cmd`, with the tree's PSS sampled every `interval` seconds meanwhile."""
    peak = {"pss": 0, "procs": 0, "n": 0}

    def sample(pid: int, done: threading.Event) -> None:
        while not done.wait(interval):
            members = _descendants(pid)
            peak["n"] += 1
            peak["pss"] = max(peak["pss"], sum(_pss_kb(p) for p in members))
            peak["procs"] = max(peak["procs"], len(members))

    started = time.time()
    run = run_measured(cmd, env=env, cwd=cwd, stdout=stdout, timeout=timeout, watch=sample)
    return Measured(run, started, peak["pss"], peak["procs"], peak["n"])
