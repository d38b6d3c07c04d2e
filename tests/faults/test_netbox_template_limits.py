"""NetBox config templates under the [render] limits, through the real NetBox (issue 9 §7): a
template with a nested loop, one building a 50 MB string, and one with an undefined variable, each
assigned to one device; that device fails with its located error (the template's NetBox name and
id, the line, the device) and the other device renders."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from mspctl.errors import ExitCode

pytestmark = pytest.mark.faults

GOOD = "hostname {{ device.name }}\n{% for s in ntp_servers %}ntp server {{ s }}\n{% endfor %}"
HOSTILE = {
    "mspctl-test-slow": ("hostname {{ device.name }}\n"
                         "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n"),
    "mspctl-test-big": "hostname {{ device.name }}\n!\n{{ 'x' * 50000000 }}\n",
    "mspctl-test-undefined": "hostname {{ device.name }}\nntp server {{ ntp_primary }}\n",
}
EXPECTED = {"mspctl-test-slow": ("MSP-TPL-408", 2), "mspctl-test-big": ("MSP-TPL-413", 3),
            "mspctl-test-undefined": ("MSP-TPL-001", 2)}


class _NetBox:
    def __init__(self, url: str, token: str) -> None:
        self.api = f"{url}/api"
        self.s = requests.Session()
        self.s.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.made: list[int] = []  # config templates this test created, deleted at the end

    def one(self, path: str, **params: str) -> dict:
        return self.s.get(f"{self.api}/{path}/", params=params, timeout=30).json()["results"][0]

    def patch(self, path: str, obj_id: int, **data: object) -> None:
        self.s.patch(f"{self.api}/{path}/{obj_id}/", json=data, timeout=30).raise_for_status()

    def create_template(self, name: str, code: str) -> dict:
        res = self.s.post(f"{self.api}/extras/config-templates/", json={"name": name, "template_code": code},
                          timeout=30)
        res.raise_for_status()
        self.made.append(res.json()["id"])
        return res.json()


@pytest.fixture
def netbox(lab_netbox) -> Iterator[_NetBox]:
    nb = _NetBox(lab_netbox.url, lab_netbox.token)
    platform = nb.one("dcim/platforms", slug="cisco_ios")
    sw = nb.one("dcim/devices", name="initech-sw1")
    try:
        yield nb
    finally:
        nb.patch("dcim/platforms", platform["id"], config_template=None)
        nb.patch("dcim/devices", sw["id"], config_template=None)
        for t in nb.made:
            nb.s.delete(f"{nb.api}/extras/config-templates/{t}/", timeout=30)


def test_a_netbox_template_over_a_limit_fails_its_device_with_its_name_and_id(mspctl, netbox) -> None:
    platform = netbox.one("dcim/platforms", slug="cisco_ios")
    sw = netbox.one("dcim/devices", name="initech-sw1")
    good = netbox.create_template("mspctl-test-ok", GOOD)
    netbox.patch("dcim/platforms", platform["id"], config_template=good["id"])
    for name, code in HOSTILE.items():
        template = netbox.create_template(name, code)
        netbox.patch("dcim/devices", sw["id"], config_template=template["id"])
        res = mspctl("config", "render", "-c", "initech", "--templates", "netbox", "-o", "json")
        assert res.exit_code == ExitCode.PARTIAL, (name, res.output)
        by = {r["device"]: r for r in json.loads(res.stdout)}
        error_code, line = EXPECTED[name]
        sw1 = by["initech-sw1"]
        assert (sw1["status"], sw1["error_code"], sw1["template"]) == ("failed", error_code, name)
        assert sw1["error"].startswith(f"netbox template '{name}' (id {template['id']}):{line}: "), sw1["error"]
        assert sw1["error"].endswith("(device initech-sw1)")
        assert f"Error: {error_code}: netbox template '{name}' (id {template['id']})" in res.stderr
        rtr = by["initech-rtr1"]  # the other device renders its own (platform) template
        assert (rtr["status"], rtr["template"]) == ("ok", "mspctl-test-ok")
        assert rtr["config"] == "hostname initech-rtr1\nntp server 192.0.2.123\nntp server 192.0.2.124\n"
