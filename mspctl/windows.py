"""Maintenance windows: is a client's window open now, and until when may new work start.

A window is weekly: on each of `days`, from `start` (local time in `timezone`) for
`duration_minutes`. A window that starts on Saturday 22:00 for 4 hours runs into Sunday.
`cutoff_minutes` before its end, no new work starts (running work finishes). Blackout dates
(local) close the window whose start falls on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from mspctl.model import MaintenanceWindow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WindowState:
    open: bool  # inside the window and before its cutoff: new work may start
    starts_at: datetime | None  # the current (or next) occurrence's start, UTC
    ends_at: datetime | None
    cutoff_at: datetime | None  # no new work after this
    reason: str


def _occurrences(window: MaintenanceWindow, around: datetime) -> list[tuple[datetime, datetime]]:
    tz = ZoneInfo(window.timezone)
    local = around.astimezone(tz)
    hh, mm = (int(x) for x in window.start.split(":"))
    out = []
    for delta in range(-8, 9):  # a window may have started up to a week ago and still run
        day = (local + timedelta(days=delta)).date()
        if _DAYS[day.weekday()] not in window.days or day.isoformat() in window.blackout_dates:
            continue
        start = datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz)
        out.append((start.astimezone(UTC), (start + timedelta(minutes=window.duration_minutes)).astimezone(UTC)))
    return sorted(out)


def window_state(window: MaintenanceWindow, now: datetime | None = None) -> WindowState:
    """Whether `window` is open at `now` (default: the current time)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    for start, end in _occurrences(window, now):
        if start <= now < end:
            cutoff = end - timedelta(minutes=window.cutoff_minutes)
            if now >= cutoff:
                return WindowState(False, start, end, cutoff,
                                   f"past the cutoff ({cutoff:%Y-%m-%d %H:%M} UTC, window ends {end:%H:%M} UTC)")
            return WindowState(True, start, end, cutoff, f"open until {end:%Y-%m-%d %H:%M} UTC")
    upcoming = [(s, e) for s, e in _occurrences(window, now) if s > now]
    if upcoming:
        s, e = upcoming[0]
        return WindowState(False, s, e, e - timedelta(minutes=window.cutoff_minutes),
                           f"closed; next window {s:%Y-%m-%d %H:%M} UTC ({window.timezone} {window.start})")
    return WindowState(False, None, None, None, "closed; no window in the next week (blackout dates?)")
