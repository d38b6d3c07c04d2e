"""NetBox misbehaving behind a real TCP proxy on loopback (lab/faultproxy.py): 5xx answers, slow
answers, pages cut short and reset connections.

A read is tried again after a dropped connection, a cut answer or a 502/503/504 (`[netbox]
retries`, default 2, with backoff). When NetBox keeps failing the run ends with exit 12 and a
located error, and the cache holds what it held before: a read is all or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.faultproxy import FaultProxy
from mspctl.errors import ExitCode
from tests.conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.faults]

PAGE = 5  # small pages, so a read of the demo's devices takes several


@pytest.fixture
def proxy(lab_netbox) -> Iterator[FaultProxy]:
    with FaultProxy(lab_netbox.url) as p:
        yield p


@pytest.fixture
def rest_config(tmp_path: Path) -> Path:
    """Settings that read NetBox over REST in pages of PAGE rows (the repository's own otherwise)."""
    path = tmp_path / "mspctl.toml"
    path.write_text(f'[netbox]\npage_size = {PAGE}\ngraphql = false\n\n'
                    f'[inventory]\nclients_file = "{REPO / "inventory" / "clients.yml"}"\n')
    return path


def _names(res) -> list[tuple[str, int]]:
    assert res.exit_code == 0, res.output
    return sorted((a["kind"], a["id"]) for a in json.loads(res.stdout)["assets"])


def _list(mspctl, proxy: FaultProxy, config: Path | None, *flags: str, env: dict[str, str] | None = None):
    args = [*(["--config", str(config)] if config else []), *flags, "inventory", "list", "-A", "-o", "json"]
    return mspctl(*args, env={"NETBOX_API": proxy.url, **(env or {})})


def test_a_few_5xx_answers_are_retried_and_the_read_is_whole(mspctl, proxy, rest_config) -> None:
    direct = _names(mspctl("--refresh", "inventory", "list", "-A", "-o", "json"))
    proxy.add("status", "/api/dcim/devices/", times=2, status=503)
    proxy.add("status", "&offset=5 ", times=1, status=502)
    got = _names(_list(mspctl, proxy, rest_config, "--refresh"))
    assert got == direct
    assert [k for k, _ in proxy.faults] == ["status"] * 3
    assert len([line for line in proxy.seen if "&offset=5 " in line and "dcim/devices" in line]) == 2


def test_netbox_failing_on_a_later_page_is_exit_12_and_the_cache_keeps_its_last_whole_read(
        mspctl, proxy, rest_config) -> None:
    before = _names(_list(mspctl, proxy, rest_config, "--refresh"))
    proxy.add("status", "&offset=10 ", status=503)  # always: every retry fails too
    res = _list(mspctl, proxy, rest_config, "--refresh")
    assert res.exit_code == ExitCode.UNREACHABLE, res.output
    assert "MSP-NB-500" in res.stderr and "answered 503" in res.stderr and "tried 3 times" in res.stderr
    assert len([k for k, _ in proxy.faults]) == 3
    assert _names(_list(mspctl, proxy, rest_config, "--offline")) == before


def test_a_page_cut_short_is_retried_and_when_it_stays_cut_nothing_is_cached(mspctl, proxy, rest_config) -> None:
    before = _names(_list(mspctl, proxy, rest_config, "--refresh"))
    proxy.add("truncate", "&offset=5 ", times=1)
    assert _names(_list(mspctl, proxy, rest_config, "--refresh")) == before  # cut once, read again
    proxy.clear()
    proxy.add("truncate", "&offset=5 ")
    res = _list(mspctl, proxy, rest_config, "--refresh")
    assert res.exit_code == ExitCode.UNREACHABLE, res.output
    assert "MSP-NB-502" in res.stderr and "cut short" in res.stderr
    assert "Traceback" not in res.output
    assert _names(_list(mspctl, proxy, rest_config, "--offline")) == before


def test_a_reset_connection_is_retried_and_one_that_stays_reset_is_exit_12(mspctl, proxy, rest_config) -> None:
    before = _names(_list(mspctl, proxy, rest_config, "--refresh"))
    proxy.add("reset", "&offset=5 ", times=1)
    assert _names(_list(mspctl, proxy, rest_config, "--refresh")) == before
    proxy.clear()
    proxy.add("reset", "/api/")
    res = _list(mspctl, proxy, rest_config, "--refresh")
    assert res.exit_code == ExitCode.UNREACHABLE, res.output
    assert "MSP-NB-503" in res.stderr and "connection failed after 3 tries" in res.stderr
    assert _names(_list(mspctl, proxy, rest_config, "--offline")) == before


def test_a_slow_netbox_within_the_timeout_is_waited_for_and_past_it_is_exit_12(mspctl, proxy, rest_config) -> None:
    proxy.add("slow", "/api/dcim/devices/", delay=1.0)
    first = _list(mspctl, proxy, rest_config, "--refresh", env={"MSPCTL_NETBOX_TIMEOUT": "20"})
    assert first.exit_code == 0, first.output
    proxy.clear()
    proxy.add("slow", "/api/", delay=4.0)
    res = _list(mspctl, proxy, rest_config, "--refresh",
                env={"MSPCTL_NETBOX_TIMEOUT": "1", "MSPCTL_NETBOX_RETRIES": "0"})
    assert res.exit_code == ExitCode.UNREACHABLE, res.output
    assert "MSP-NB-503" in res.stderr and "did not answer within 1s" in res.stderr
    assert _names(_list(mspctl, proxy, rest_config, "--offline")) == _names(first)


def test_graphql_failing_falls_back_to_rest_with_the_same_assets(mspctl, proxy) -> None:
    direct = _names(mspctl("--refresh", "inventory", "list", "-A", "-o", "json"))
    proxy.add("status", "/graphql/", status=503)
    assert _names(_list(mspctl, proxy, None, "--refresh")) == direct
    assert any("/graphql/" in line for _, line in proxy.faults)
    assert any("/api/dcim/devices/" in line for line in proxy.seen)


def test_a_retried_read_prints_one_error_line_and_no_library_warnings(mspctl, proxy, rest_config) -> None:
    proxy.add("reset", "/api/")
    res = _list(mspctl, proxy, rest_config, "--refresh")
    assert res.exit_code == ExitCode.UNREACHABLE
    assert res.stderr.strip().splitlines() == [line for line in res.stderr.strip().splitlines()
                                               if line.startswith("Error: MSP-NB-503:")], res.stderr
