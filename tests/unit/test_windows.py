"""Maintenance windows: weekly, in the client's time zone, with cutoff and blackout dates."""

from __future__ import annotations

from datetime import UTC, datetime

from mspctl.model import MaintenanceWindow
from mspctl.windows import window_state

SAT_NIGHT = MaintenanceWindow(("sat",), "22:00", 240, "Europe/Berlin", cutoff_minutes=30,
                              blackout_dates=("2026-12-26",))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_open_inside_the_window_across_midnight() -> None:
    assert window_state(SAT_NIGHT, at("2026-11-28T22:30:00+01:00")).open  # Saturday evening, Berlin
    state = window_state(SAT_NIGHT, at("2026-11-29T01:00:00+01:00"))  # Sunday 01:00, same window
    assert state.open and state.ends_at == at("2026-11-29T02:00:00+01:00")


def test_closed_outside_and_names_the_next_window() -> None:
    state = window_state(SAT_NIGHT, at("2026-11-26T12:00:00+01:00"))  # Thursday
    assert not state.open
    assert state.starts_at == at("2026-11-28T22:00:00+01:00")
    assert "next window 2026-11-28 21:00 UTC" in state.reason


def test_no_new_work_after_the_cutoff() -> None:
    state = window_state(SAT_NIGHT, at("2026-11-29T01:45:00+01:00"))
    assert not state.open and "past the cutoff" in state.reason


def test_blackout_date_closes_that_window() -> None:
    assert not window_state(SAT_NIGHT, at("2026-12-26T23:00:00+01:00")).open
    assert window_state(SAT_NIGHT, at("2026-12-19T23:00:00+01:00")).open


def test_time_zone_is_the_clients() -> None:
    # 22:00 in Berlin is 21:00 UTC in winter: 21:30 UTC is inside, 20:30 UTC is not
    assert window_state(SAT_NIGHT, at("2026-11-28T21:30:00+00:00")).open
    assert not window_state(SAT_NIGHT, at("2026-11-28T20:30:00+00:00")).open
