"""Maintenance windows: is a client's window open now, and until when may new work start.

A window is weekly: on each of `days`, from `start` (local time in `timezone`) for
`duration_minutes`. A window that starts on Saturday 22:00 for 4 hours runs into Sunday.
`cutoff_minutes` before its end, no new work starts (running work finishes). Blackout dates
(local) close the window whose start falls on them.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from mspctl.errors import ConfigError
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


_FLOW_START: dict[str, float] = {}


def current_time() -> datetime:
    """Now, or ``$MSPCTL_NOW`` (ISO 8601) to rehearse a window at another time. That clock stands
    still, unless ``$MSPCTL_NOW_FLOWS`` is set: it then runs on from MSPCTL_NOW, starting when
    this process first reads it (a rehearsal in which a window's cutoff passes). Raises ConfigError."""
    value = os.environ.get("MSPCTL_NOW")
    if not value:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"MSPCTL_NOW={value!r} is not an ISO 8601 time") from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if os.environ.get("MSPCTL_NOW_FLOWS"):
        at += timedelta(seconds=time.monotonic() - _FLOW_START.setdefault(value, time.monotonic()))
    return at


_TEXT = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})\s+(?P<tz>\S+)\s*$")


def parse_window_text(text: str, where: str) -> MaintenanceWindow:
    """A window as NetBox's ``maintenance_window`` custom field writes it: ``sat 22:00-02:00 Europe/Berlin``
    (days may be ``mon,wed`` or ``mon-fri``; an end before the start runs past midnight).
    Raises ConfigError naming `where`."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    m = _TEXT.match(text.lower() if text else "")
    if not m:
        raise ConfigError(f"{where}: {text!r} is not a window", hint="write it as `sat 22:00-02:00 Europe/Berlin`")
    days: list[str] = []
    for part in m.group("days").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ConfigError(f"{where}: {part!r} is not a weekday (mon..sun)")
        i, j = _DAYS.index(first), _DAYS.index(last or first)
        days += [_DAYS[k % 7] for k in range(i, j + 1 if j >= i else j + 8)]
    tz = text.rsplit(maxsplit=1)[-1]
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {tz!r}") from None
    (sh, sm), (eh, em) = ((int(x) for x in t.split(":")) for t in (m.group("start"), m.group("end")))
    if sh > 23 or eh > 23 or sm > 59 or em > 59:
        raise ConfigError(f"{where}: {text!r} has an invalid time")
    minutes = (eh * 60 + em - sh * 60 - sm) % (24 * 60) or 24 * 60
    return MaintenanceWindow(tuple(days), f"{sh:02d}:{sm:02d}", minutes, tz)
