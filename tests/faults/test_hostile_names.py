"""Hostile names in the real NetBox: devices named to escape folders, forge output lines or
collide with other devices, in a tenant of their own (``hostile``). `config render --out` writes
every file inside its folder, one file per device, and every name `inventory list` prints can be
given back to `inventory show`."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mspctl.escape import escape_text
from mspctl.files import name_of
from tests.conftest import REPO, LabNetBox

TENANT = "hostile"
# (name, site): a case pair needs two sites, NetBox keeps device names unique per site ignoring case.
NAMES = [
    ("../../../elsewhere/pwned", "a"), ("../acme/acme-edge-rtr1", "a"), ("/etc/mspctl-hostile", "a"),
    ("a/b", "a"), ("a%2Fb", "a"), ("%2E%2E", "a"), ("..", "a"), (".", "a"), ("...", "a"), (".hidden", "a"),
    ("-rf", "a"), ("--help", "a"), ("line\nbreak", "a"), ("cr\rreturn", "a"), ("tab\there", "a"),
    ("esc\x1b[2J\x1b[31mred", "a"), ("$(touch /tmp/mspctl-pwned)", "a"), ("`id`", "a"), ("back\\slash", "a"),
    ("back\\nslash", "a"), ("bidi\u202eevil", "a"), ("[bold]markup[/bold]", "a"), ("é-unicode-名前", "a"),
    ("x" * 64, "a"), ("Hostile-Case", "a"), ("hostile-case", "b"), ("nul\x00byte", "a"),
]
# Names NetBox itself may refuse (DRF rejects NUL characters); the rest must be created.
MAY_BE_REFUSED = {"nul\x00byte"}


class _Api:
    def __init__(self, lab: LabNetBox) -> None:
        self.url = f"{lab.url}/api"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {lab.token}", "Accept": "application/json"})

    def get(self, path: str, **params: Any) -> list[dict[str, Any]]:
        res = self.session.get(f"{self.url}/{path}/", params={"limit": 1000, **params}, timeout=30)
        res.raise_for_status()
        return list(res.json()["results"])

    def one(self, path: str, **params: Any) -> dict[str, Any]:
        (found,) = self.get(path, **params)
        return found

    def post(self, path: str, data: dict[str, Any]) -> requests.Response:
        return self.session.post(f"{self.url}/{path}/", json=data, timeout=30)

    def delete(self, path: str, id_: int) -> None:
        res = self.session.delete(f"{self.url}/{path}/{id_}/", timeout=30)
        if res.status_code not in (204, 404):
            res.raise_for_status()

    def remove_tenant(self) -> None:
        """The hostile tenant, its devices and sites gone (also what an aborted run left). NetBox
        answers 400 to a filter on a tenant it does not have, so the tenant is looked up first."""
        for t in self.get("tenancy/tenants", slug=TENANT):
            for d in self.get("dcim/devices", tenant_id=t["id"]):
                self.delete("dcim/devices", d["id"])
            for s in self.get("dcim/sites", tenant_id=t["id"]):
                self.delete("dcim/sites", s["id"])
            self.delete("tenancy/tenants", t["id"])


@pytest.fixture
def hostile(lab_netbox: LabNetBox) -> Iterator[list[str]]:
    """Create the hostile tenant's devices; yields the names NetBox accepted. Removed afterwards."""
    api = _Api(lab_netbox)
    api.remove_tenant()
    try:
        tenant = api.post("tenancy/tenants", {"name": "Hostile names", "slug": TENANT}).json()["id"]
        sites = {k: api.post("dcim/sites", {"name": f"Hostile {k}", "slug": f"hostile-{k}", "tenant": tenant,
                                            "status": "active"}).json()["id"] for k in ("a", "b")}
        like = {"device_type": api.one("dcim/device-types", slug="isr4331")["id"],
                "role": api.one("dcim/device-roles", slug="router")["id"],
                "platform": api.one("dcim/platforms", slug="cisco_ios")["id"], "tenant": tenant, "status": "active"}
        created = []
        for name, site in NAMES:
            res = api.post("dcim/devices", {**like, "name": name, "site": sites[site]})
            if res.status_code == 201 and res.json()["name"] == name:
                created.append(name)
            else:
                assert name in MAY_BE_REFUSED, f"NetBox refused {name!r}: {res.status_code} {res.text[:300]}"
        yield created
    finally:
        api.remove_tenant()


def _untracked_repo_files() -> set[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return set(out.splitlines())


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()} if root.exists() else set()


def test_render_out_writes_only_inside_its_folder(mspctl, hostile: list[str], tmp_path: Path) -> None:
    # Deep enough that ../../../ from <out>/hostile/ still lands inside tmp_path, where it would be seen.
    out = tmp_path / "w" / "x" / "y" / "out"
    before_repo, before_tmp = _untracked_repo_files(), _files(tmp_path)
    res = mspctl("--refresh", "config", "render", "-c", TENANT, "--out", str(out))
    # A name with a line break or another control character would add lines to the config
    # (`hostname x\nusername evil ...`): refused (MSP-TPL-422), the others rendered.
    injecting = sorted(n for n in hostile if re.search("[\x00-\x08\x0a-\x1f\x7f-\x9f]", n))
    assert injecting and res.exit_code == 3, res.output
    assert res.output.count("Error: MSP-TPL-422") == len(injecting)
    written = _files(out)
    assert all(p.resolve().is_relative_to(out.resolve()) and p.parent == out / TENANT for p in written)
    assert sorted(name_of(p.name.removesuffix(".cfg")) for p in written) == sorted(set(hostile) - set(injecting))
    new_elsewhere = {p for p in _files(tmp_path) - before_tmp - written
                     if p.relative_to(tmp_path).parts[0] not in ("cache", "xdg", "data", "xdg-cache", "xdg-state")}
    assert new_elsewhere == set()
    assert _untracked_repo_files() == before_repo
    assert not Path("/tmp/mspctl-pwned").exists() and not Path("/etc/mspctl-hostile.cfg").exists()
    assert "\x1b" not in res.output and "\u202e" not in res.output  # rows: see the inventory list test
    data = json.loads(mspctl("config", "render", "-c", TENANT, "--out", str(out), "-o", "json").stdout)
    assert sorted(d["device"] for d in data) == sorted(hostile)  # JSON keeps the exact names
    assert all(Path(d["file"]).resolve().is_relative_to(out.resolve()) for d in data if d["status"] == "ok")
    assert sorted(d["device"] for d in data if d["status"] == "failed") == injecting


def test_every_name_listed_can_be_given_back(mspctl, hostile: list[str]) -> None:
    res = mspctl("--refresh", "inventory", "list", "-c", TENANT)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 1 + len(hostile)  # the header and one row per device
    assert "\x1b" not in res.stdout and "\u202e" not in res.stdout
    for name in hostile:
        shown = escape_text(name)
        assert sum(line.startswith(shown + " ") for line in lines[1:]) == 1, (name, shown)
        back = mspctl("inventory", "show", "-o", "json", "--", shown)  # `--`: a name may start with -
        assert back.exit_code == 0, (name, back.output)
        assert json.loads(back.stdout)["name"] == name
