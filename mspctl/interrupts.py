"""Graceful interruption: SIGINT and SIGTERM become a flag that long runs check between steps.

A change must never be abandoned half-way: on the first signal no new target starts, the ones
in flight finish or roll back, and the run is recorded as interrupted (exit 130). A second
signal within the run is only acknowledged: the run is already stopping as fast as is safe.
Read-only runs (backup, drift) stop the same way: what the finished devices gave is kept
(committed, compared) and recorded, the others are `skipped` with `MSP-RUN-499`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from mspctl.errors import RunInterrupted

# What a change run says on the first signal; read-only runs (backup, drift) say `READ_ONLY`.
CHANGES = "No new device starts; the ones in flight finish or roll back."
READ_ONLY = "No new device starts; the ones in flight finish, and what was read is kept."


class StopFlag:
    """Set once a stop was asked for; `reason` names the signal."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def __call__(self) -> bool:
        return self._event.is_set()

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason
        self._event.set()


def stopped_by(stop: Callable[[], bool] | None) -> str:
    """The signal that stopped a run ("" when none did); `stop` is a StopFlag or any predicate."""
    if stop is None or not stop():
        return ""
    return getattr(stop, "reason", "") or "a signal"


def unless_stopped[A, R](stop: Callable[[], bool] | None, task: Callable[[A], R]) -> Callable[[A], R]:
    """`task`, but raising `RunInterrupted` instead of starting once `stop` is set: for executor
    tasks, so that queued targets end at once as results (`error_type` ``RunInterrupted``)."""
    if stop is None:
        return task
    from mspctl.scale.jobs import RemoteTask

    if isinstance(task, RemoteTask):  # the coordinator of a distributed run stops sending batches
        return task.guarded(lambda local: unless_stopped(stop, local), stop)  # type: ignore[return-value]

    def guarded(arg: A) -> R:
        if stop():
            raise RunInterrupted(f"not started: the run was interrupted by {stopped_by(stop)}")
        return task(arg)

    return guarded


@contextmanager
def graceful_stop(what: str = CHANGES) -> Iterator[StopFlag]:
    """Within the block, SIGINT/SIGTERM set the returned flag instead of raising; `what` is the
    line printed on the first signal. Outside the main thread (no signal handlers there) the flag
    is simply never set by a signal."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    owner = os.getpid()

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        # A forked worker (ProcessSpreadExecutor) inherits this handler and gets the terminal's
        # Ctrl-C too: it stops quietly, the parent alone speaks.
        if os.getpid() == owner:
            if flag():
                sys.stderr.write(f"\n{name} again: still finishing the devices in flight safely...\n")
            else:
                sys.stderr.write(f"\n{name}: stopping. {what}\n")
        flag.set(name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
