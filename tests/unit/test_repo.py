"""mspctl/repo.py: inventory/clients.yml, validated with file:line in every error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mspctl.errors import ConfigError, ExitCode
from mspctl.model import ClientSettings, MaintenanceWindow
from mspctl.repo import load_clients_file

VALID = """\
# per-client settings
clients:
  acme:
    tenant: acme-corp
    credentials: acme-netops
    baseline: debian-security
    description: Acme Corp, 3 sites
    maintenance_window:
      days: [sat, Sunday]
      start: "22:00"
      duration: 4h
      timezone: Europe/Berlin
      cutoff: 30m
      blackout: [2026-12-24, "2026-12-31"]
  beta:
    credentials: beta-ro
  gamma:
    maintenance_window:
      days: fri
      start: 05:30
      duration: 90m
      timezone: UTC
"""


def line_of(text: str, needle: str) -> int:
    """1-based line number where the only occurrence of `needle` starts."""
    assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times"
    return text[: text.index(needle)].count("\n") + 1


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory" / "clients.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> tuple[Path, ConfigError]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_clients_file(path)
    assert exc.value.exit_code == ExitCode.CONFIG
    return path, exc.value


def test_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    acme, beta, gamma = load_clients_file(path)
    assert acme == ClientSettings(
        key="acme", tenant="acme-corp", credentials="acme-netops", baseline="debian-security",
        maintenance_window=MaintenanceWindow(days=("sat", "sun"), start="22:00", duration_minutes=240,
                                             timezone="Europe/Berlin", cutoff_minutes=30,
                                             blackout_dates=("2026-12-24", "2026-12-31")),
        source=f"{path}:{line_of(VALID, 'acme:')}")
    assert beta == ClientSettings(key="beta", tenant="beta", credentials="beta-ro",
                                  source=f"{path}:{line_of(VALID, 'beta:')}")
    # a single day, an unquoted HH:MM (not YAML 1.1 sexagesimal) and no cutoff
    assert gamma.maintenance_window == MaintenanceWindow(("fri",), "05:30", 90, "UTC", 0, ())


@pytest.mark.parametrize("text", ["", "# nothing yet\n"])
def test_empty_file_means_no_settings(tmp_path: Path, text: str) -> None:
    assert load_clients_file(write(tmp_path, text)) == []


def test_missing_file_means_no_settings(tmp_path: Path) -> None:
    assert load_clients_file(tmp_path / "inventory" / "clients.yml") == []


def test_invalid_yaml(tmp_path: Path) -> None:
    text = "clients:\n  acme:\n    tenant: acme\n    baseline: [unclosed\n  beta:\n    tenant: beta\n"
    path, err = load_error(tmp_path, text)
    # PyYAML notices the unclosed flow sequence where the next key starts
    assert err.message.startswith(f"{path}:{line_of(text, 'beta:')}: invalid YAML")


def test_invalid_yaml_tab_indent(tmp_path: Path) -> None:
    text = "clients:\n  acme:\n\ttenant: acme\n"
    path, err = load_error(tmp_path, text)
    assert err.message.startswith(f"{path}:3: invalid YAML")


# Each case: the YAML, the text on the line the error must name, and words of the message.
ERRORS = [
    pytest.param("""\
        clients:
          acme:
            tenant: acme
            tenent: acme2
        """, "tenent:", "unknown key 'tenent'", id="unknown client key"),
    pytest.param("""\
        clients: {}
        defaults:
          baseline: x
        """, "defaults:", "unknown top-level key 'defaults'", id="unknown top-level key"),
    pytest.param("""\
        clients:
          acme:
            tenant: acme
            password: hunter2
        """, "password:", "looks like a secret", id="password"),
    pytest.param("""\
        clients:
          acme:
            api_token: abc
        """, "api_token:", "looks like a secret", id="token"),
    pytest.param("""\
        clients:
          acme:
            snmp_community: public
        """, "snmp_community:", "looks like a secret", id="community"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat, xyz]
              start: "22:00"
              duration: 4h
              timezone: UTC
        """, "days:", "is not a weekday", id="bad weekday"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              duration: 4h
              start: "24:00"
              timezone: UTC
        """, "start:", "'24:00' is not HH:MM", id="hour 24"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "7:30"
              duration: 4h
              timezone: UTC
        """, "start:", "is not HH:MM", id="one-digit hour"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              duration: 4h
              timezone: Europe/Atlantis
        """, "timezone:", "unknown time zone 'Europe/Atlantis'", id="unknown timezone"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              duration: 4h
              timezone: ../../etc/passwd
        """, "timezone:", "unknown time zone", id="timezone path"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              duration: 1h
              cutoff: 60m
              timezone: UTC
        """, "cutoff:", "cutoff must be shorter than the duration", id="cutoff equals duration"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              duration: 1h
              timezone: UTC
              cutoff: 2h
        """, "cutoff:", "cutoff must be shorter", id="cutoff longer than duration"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              duration: a while
              timezone: UTC
        """, "duration:", "'a while' is not a duration", id="bad duration"),
    pytest.param("""\
        clients:
          acme:
            tenant: shared
          beta:
            tenant: shared
        """, "beta:", "tenant 'shared' is already used on line 2", id="duplicate tenant"),
    pytest.param("""\
        clients:
          acme: {}
          shared: {}
          beta:
            tenant: shared
        """, "beta:", "tenant 'shared' is already used on line 3", id="duplicate default tenant"),
    pytest.param("""\
        clients:
          acme:
            tenant: a
          acme:
            tenant: b
        """, "  acme:\n    tenant: b", "duplicate key 'acme'", id="duplicate client"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              duration: 4h
              timezone: UTC
              blackout: [2026-12-24, 24.12.2026]
        """, "blackout:", "'24.12.2026' is not a YYYY-MM-DD date", id="bad blackout date"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              timezone: UTC
        """, "days:", "missing 'duration'", id="missing duration"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              start: "22:00"
              duration: 4h
              timezone: UTC
        """, "start:", "missing 'days'", id="missing days"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window: {days: [sat], start: "22:00", duration: 4h}
        """, "maintenance_window:", "missing 'timezone'", id="missing timezone, flow style"),
    pytest.param("""\
        clients:
          acme:
            maintenance_window:
              days: [sat]
              start: "22:00"
              duration: 4h
              timezone: UTC
              every: week
        """, "every:", "unknown key 'every'", id="unknown window key"),
    pytest.param("""\
        clients:
          Acme Corp:
            tenant: acme
        """, "Acme Corp:", "must be a slug", id="client name not a slug"),
    pytest.param("""\
        clients:
          acme:
            baseline: [a, b]
        """, "baseline:", "must be a non-empty string", id="baseline not a string"),
    pytest.param("""\
        clients:
          - acme
        """, "- acme", "clients must be a mapping", id="clients is a list"),
]


@pytest.mark.parametrize(("text", "where", "needle"), ERRORS)
def test_errors_name_file_and_line(tmp_path: Path, text: str, where: str, needle: str) -> None:
    text = textwrap.dedent(text)
    path, err = load_error(tmp_path, text)
    assert err.message.startswith(f"{path}:{line_of(text, where)}: "), err.message
    assert needle in err.message


def test_secret_key_hint_says_where_secrets_go(tmp_path: Path) -> None:
    _, err = load_error(tmp_path, "clients:\n  acme:\n    password: hunter2\n")
    assert "credentials" in (err.hint or "")
    assert "hunter2" not in str(err)


def test_missing_clients_key(tmp_path: Path) -> None:
    path, err = load_error(tmp_path, "# comment\n{}\n")
    assert err.message.startswith(f"{path}:2: missing `clients:`")


# -- known defects -----------------------------------------------------------------------------

BLOCK_DAYS = """\
clients:
  acme:
    maintenance_window:
      days:
        - sat
        - funday
      start: "22:00"
      duration: 4h
      timezone: UTC
"""

BLOCK_BLACKOUT = """\
clients:
  acme:
    maintenance_window:
      days: [sat]
      start: "22:00"
      duration: 4h
      timezone: UTC
      blackout:
        - 2026-12-24
        - christmas
"""


def test_bad_weekday_in_block_list_names_its_own_line(tmp_path: Path) -> None:
    path, err = load_error(tmp_path, BLOCK_DAYS)
    assert err.message.startswith(f"{path}:{line_of(BLOCK_DAYS, 'funday')}: ")
    assert "funday" in err.message


def test_bad_blackout_date_in_block_list_names_its_own_line(tmp_path: Path) -> None:
    path, err = load_error(tmp_path, BLOCK_BLACKOUT)
    assert err.message.startswith(f"{path}:{line_of(BLOCK_BLACKOUT, 'christmas')}: ")


@pytest.mark.parametrize("day", ["monkey", "satellite", "sunburn"])
def test_words_that_merely_start_like_a_day_are_rejected(tmp_path: Path, day: str) -> None:
    text = (f"clients:\n  acme:\n    maintenance_window:\n      days: [{day}]\n"
            '      start: "22:00"\n      duration: 4h\n      timezone: UTC\n')
    path, err = load_error(tmp_path, text)
    assert err.message.startswith(f"{path}:4: ")


@pytest.mark.parametrize("date", ["2026-02-30", "2026-13-01"])
def test_impossible_blackout_dates_are_rejected(tmp_path: Path, date: str) -> None:
    text = (f"clients:\n  acme:\n    maintenance_window:\n      days: [sat]\n"
            f'      start: "22:00"\n      duration: 4h\n      timezone: UTC\n      blackout: [{date}]\n')
    path, err = load_error(tmp_path, text)
    assert err.message.startswith(f"{path}:8: ")
