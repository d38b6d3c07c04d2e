"""Graceful interruption: SIGINT and SIGTERM become a flag that long runs check between steps.

A change must never be abandoned half-way: on the first signal no new target starts, the ones
in flight finish or roll back, and the run is recorded as interrupted (exit 130). A second
signal within the run is only acknowledged: the run is already stopping as fast as is safe.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


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


@contextmanager
def graceful_stop() -> Iterator[StopFlag]:
    """Within the block, SIGINT/SIGTERM set the returned flag instead of raising. Outside the
    main thread (no signal handlers there) the flag is simply never set by a signal."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if flag():
            sys.stderr.write(f"\n{name} again: still finishing the devices in flight safely...\n")
        else:
            sys.stderr.write(f"\n{name}: stopping. No new device starts; the ones in flight finish or roll "
                             "back.\n")
        flag.set(name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
