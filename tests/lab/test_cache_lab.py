"""The inventory cache against the real NetBox: TTL, delta refresh by last_updated, deletions, offline."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from demo_facts import CLIENTS


class NetBoxREST:
    """Test-side writes to the lab NetBox (mspctl itself only reads inventory)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.s = requests.Session()
        self.s.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def get_one(self, path: str, **params: str) -> dict:
        r = self.s.get(f"{self.url}/api/{path}/", params=params, timeout=30)
        r.raise_for_status()
        (obj,) = r.json()["results"]
        return obj

    def patch(self, path: str, obj_id: int, data: dict) -> None:
        self.s.patch(f"{self.url}/api/{path}/{obj_id}/", json=data, timeout=30).raise_for_status()

    def post(self, path: str, data: dict) -> dict:
        r = self.s.post(f"{self.url}/api/{path}/", json=data, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()

    def delete(self, path: str, obj_id: int) -> None:
        r = self.s.delete(f"{self.url}/api/{path}/{obj_id}/", timeout=30)
        assert r.status_code in (204, 404), r.text


@pytest.fixture
def nb(lab_netbox) -> Iterator[NetBoxREST]:
    yield NetBoxREST(lab_netbox.url, lab_netbox.token)


def _listing(res) -> dict:
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_delta_refresh_sees_updates_creations_and_deletions(mspctl, nb):
    first = _listing(mspctl("inventory", "list", "-c", "initech", "-o", "json"))
    assert first["evidence"]["source"] == "netbox"
    rtr = nb.get_one("dcim/devices", name="initech-rtr1")
    sw = nb.get_one("dcim/devices", name="initech-sw1")
    old_serial = rtr["serial"]
    template = {"device_type": sw["device_type"]["id"], "role": sw["role"]["id"], "site": sw["site"]["id"],
                "tenant": sw["tenant"]["id"], "platform": sw["platform"]["id"], "status": "active"}
    created: list[dict] = []
    try:
        nb.patch("dcim/devices", rtr["id"], {"serial": "DELTA-TEST-1"})
        created.append(nb.post("dcim/devices", {"name": "initech-tmp1", **template}))
        # within the TTL the cache answers, and does not see the change
        cached = _listing(mspctl("inventory", "list", "-c", "initech", "-o", "json"))
        assert cached["evidence"]["source"] == "cache"
        assert {a["name"]: a["serial"] for a in cached["assets"]}["initech-rtr1"] == old_serial
        # past the TTL a delta asks NetBox only for what changed
        delta = _listing(mspctl("--cache-ttl", "0", "inventory", "list", "-c", "initech", "-o", "json"))
        assert delta["evidence"]["source"] == "cache-delta"
        serials = {a["name"]: a["serial"] for a in delta["assets"]}
        assert serials["initech-rtr1"] == "DELTA-TEST-1"
        assert "initech-tmp1" in serials
        # a creation and a deletion in the same interval (equal counts would hide the deletion)
        created.append(nb.post("dcim/devices", {"name": "initech-tmp2", **template}))
        nb.delete("dcim/devices", created[0]["id"])
        after = _listing(mspctl("--cache-ttl", "0", "inventory", "list", "-c", "initech", "--kind", "device",
                                "-o", "json"))
        assert {a["name"] for a in after["assets"]} == {"initech-rtr1", "initech-sw1", "initech-tmp2"}
        # and a full refresh agrees with the delta-maintained cache
        full = _listing(mspctl("--refresh", "inventory", "list", "-c", "initech", "--kind", "device", "-o", "json"))
        assert full["evidence"]["source"] == "netbox"
        assert full["assets"] == after["assets"]
    finally:
        nb.patch("dcim/devices", rtr["id"], {"serial": old_serial})
        for obj in created:
            nb.delete("dcim/devices", obj["id"])


def test_offline_serves_the_cache_without_netbox(mspctl):
    online = _listing(mspctl("inventory", "list", "-c", "acme", "-o", "json"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    # the cache is per NetBox URL, so point at the same URL but forbid contacting it
    offline = _listing(mspctl("--offline", "inventory", "list", "-c", "acme", "-o", "json"))
    assert offline["evidence"]["source"] == "cache"
    assert offline["assets"] == online["assets"]
    # a different (dead) NetBox has no cache: a clear error, not stale data from another server
    res = mspctl("--offline", "inventory", "list", "-c", "acme", env={"NETBOX_API": dead})
    assert res.exit_code == 13 and "MSP-CACHE-404" in res.stderr


def test_cache_holds_no_secret(mspctl, lab_netbox, tmp_path: Path):
    assert mspctl("inventory", "export", "-A").exit_code == 0
    secret = lab_netbox.token.split(".", 1)[1]
    files = list((tmp_path / "cache").rglob("*"))
    assert files
    for f in files:
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f


def test_rest_path_gives_the_same_inventory_as_graphql(mspctl, tmp_path: Path):
    via_graphql = _listing(mspctl("--refresh", "inventory", "list", "-A", "-o", "json"))
    cfg = tmp_path / "rest.toml"
    cfg.write_text("[netbox]\ngraphql = false\npage_size = 5\n")  # small pages: the parallel paging too
    via_rest = _listing(mspctl("--config", str(cfg), "--refresh", "inventory", "list", "-A", "-o", "json"))
    assert via_rest["assets"] == via_graphql["assets"]
    assert len(via_rest["assets"]) == sum(d + v for d, v in CLIENTS.values())


def test_a_token_never_sees_another_tokens_cache(mspctl, lab_netbox, tmp_path: Path):
    """The admin fills the cache; a bogus token within the TTL is refused by NetBox instead of
    being served that cache, a token without permissions is refused too, and the admin's view
    stays whole and private."""
    import os
    import stat

    admin = _listing(mspctl("inventory", "list", "-A", "-o", "json"))
    assert {a["client"] for a in admin["assets"]} >= set(CLIENTS)
    bogus = mspctl("inventory", "list", "-A", "-o", "json", env={"NETBOX_TOKEN": "nbt_bogus.AAAA"})
    assert bogus.exit_code == 11 and "MSP-NB-401" in bogus.stderr, bogus.output
    empty = mspctl("--cache-ttl", "0", "inventory", "list", "-A", "-o", "json",
                   env={"NETBOX_TOKEN": lab_netbox.no_permission_token})
    assert empty.exit_code == 11 and "MSP-NB-403" in empty.stderr, empty.output  # never the admin's data
    again = _listing(mspctl("inventory", "list", "-A", "-o", "json"))
    assert again["evidence"]["source"] == "cache" and again["assets"] == admin["assets"]
    folder = tmp_path / "cache"
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) & 0o077 == 0, f


@pytest.mark.parametrize("graphql", ["true", "false"])
def test_a_page_size_above_the_servers_maximum_reads_every_asset(mspctl, lab_brownfield, tmp_path: Path, graphql):
    """The brownfield NetBox serves at most 10 rows a page (MAX_PAGE_SIZE); mspctl asks for 1000."""
    nb = NetBoxREST(lab_brownfield.url, lab_brownfield.token)
    counts = [nb.s.get(f"{nb.url}/api/{path}/", params={"limit": 1}, timeout=30).json()["count"]
              for path in ("dcim/devices", "virtualization/virtual-machines")]
    assert sum(counts) > 10
    cfg = tmp_path / "big-pages.toml"
    cfg.write_text(f"[netbox]\ngraphql = {graphql}\npage_size = 1000\n")
    listing = _listing(mspctl("--config", str(cfg), "--refresh", "inventory", "list", "-A", "-o", "json",
                              env={"NETBOX_API": lab_brownfield.url, "NETBOX_TOKEN": lab_brownfield.token}))
    assert len(listing["assets"]) == sum(counts)
    assert {a["client"] for a in listing["assets"]} >= {"hooli", *CLIENTS}
