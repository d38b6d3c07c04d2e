"""Paging against a NetBox whose MAX_PAGE_SIZE is below the page size asked for: every row is
read, or the read is an error; never a partial inventory."""

from __future__ import annotations

from typing import Any

import pytest

from mspctl.adapters.netbox import NetBoxSource, check_complete, page_step
from mspctl.errors import ExitCode, NetBoxIncompleteError
from mspctl.settings import NetBoxSettings


class ClampingNetBox(NetBoxSource):
    """NetBox's REST paging, in memory: `limit` is clamped to `max_page`, as NetBox does silently."""

    def __init__(self, rows: int, max_page: int, lose_offset: int | None = None) -> None:
        super().__init__(NetBoxSettings(url="https://netbox.example", token="nbt_x.y", page_size=2000, workers=2))
        self.data = [{"id": i} for i in range(1, rows + 1)]
        self.max_page, self.lose_offset = max_page, lose_offset
        self.limits: list[int] = []

    def _get(self, path: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], str | None]:
        p = params or {}
        limit, offset = min(int(p["limit"]), self.max_page), int(p["offset"])
        self.limits.append(int(p["limit"]))
        page = [] if offset == self.lose_offset else self.data[offset:offset + limit]
        return {"count": len(self.data), "results": page}, None


def test_a_page_size_above_the_servers_maximum_still_reads_every_row() -> None:
    nb = ClampingNetBox(rows=5039, max_page=1000)
    rows = nb._paged("dcim/devices", {}, None)
    assert [r["id"] for r in rows] == list(range(1, 5040))
    assert nb.limits[0] == 2000 and set(nb.limits[1:]) == {1000}  # stepped by what the server gives


def test_a_lost_page_is_an_error_not_a_partial_inventory() -> None:
    nb = ClampingNetBox(rows=2500, max_page=1000, lose_offset=1000)
    with pytest.raises(NetBoxIncompleteError, match="NetBox reported 2500 rows for dcim/devices but 1500 were read") \
            as err:
        nb._paged("dcim/devices", {}, None)
    assert err.value.code == "MSP-NB-206" and err.value.exit_code == ExitCode.UNREACHABLE


@pytest.mark.parametrize(("asked", "got", "total", "step"), [
    (2000, 1000, 5039, 1000),  # clamped by the server
    (1000, 1000, 5039, 1000),
    (1000, 25, 25, 1000),      # one short page: everything is there
    (1000, 0, 0, 1000),
])
def test_page_step(asked: int, got: int, total: int, step: int) -> None:
    assert page_step(asked, got, total) == step


def test_check_complete() -> None:
    check_complete("x", 3, 3)
    with pytest.raises(NetBoxIncompleteError):
        check_complete("x", 2, 3)
