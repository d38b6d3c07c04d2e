"""A small REST client for the lab NetBox, for the benchmarks' setup and the render-config side.

Only loopback URLs (lab_up checks that). requests, with keep-alive; the token scheme follows
the token: v2 tokens (``nbt_...``) are Bearer tokens, older ones ``Token``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import requests
from _common import BenchError


class NetBoxApi:
    def __init__(self, netbox: Mapping[str, str], timeout: float = 60.0) -> None:
        self.url = netbox["NETBOX_API"].rstrip("/")
        token = netbox["NETBOX_TOKEN"]
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"{'Bearer' if token.startswith('nbt_') else 'Token'} {token}",
            "Accept": "application/json", "Content-Type": "application/json"})
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.session.request(method, f"{self.url}/api/{path.lstrip('/')}", timeout=self.timeout, **kwargs)
        if resp.status_code >= 400:
            raise BenchError(f"NetBox {method} /api/{path}: HTTP {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def all(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every result of a list endpoint, page by page."""
        params = {"limit": 1000, **params}
        offset = 0
        while True:
            page = self.get(path, offset=offset, **params)
            yield from page["results"]
            offset += len(page["results"])
            if not page.get("next") or not page["results"]:
                return

    def one(self, path: str, **params: Any) -> dict[str, Any] | None:
        results = self.get(path, **params)["results"]
        if len(results) > 1:
            raise BenchError(f"NetBox /api/{path} {params}: {len(results)} matches, expected at most one")
        return results[0] if results else None
