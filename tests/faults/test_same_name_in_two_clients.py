"""Two clients' devices with one name (NetBox allows it: names are unique per tenant and site).

A target is its NetBox object (`device:<id>`), never its name: the backup, drift, push, its
record and its rollback each treat the two devices apart. Before, backup stored one client's
config under the other's file, drift judged a device against the other's intent, and a push
with both clients selected changed one device twice and the other not at all, and exited 0.

Client initech's router is renamed in the demo NetBox to acme's router's name for the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lab.devices.control import ControlClient
from lab.network import EXPECTED_DRIFT
from mspctl.errors import ExitCode
from mspctl.push.service import config_digest

pytestmark = [pytest.mark.lab, pytest.mark.faults]

NAME = "acme-edge-rtr1"  # acme's router; initech's router (initech-rtr1 on the wire) is given it too
OTHER = "initech-rtr1"


@pytest.fixture
def ctl(lab_network) -> ControlClient:
    return ControlClient(lab_network.control)


@pytest.fixture
def renamed(lab_netbox) -> Iterator[dict[str, int]]:
    """initech-rtr1 renamed to acme-edge-rtr1 in NetBox; the ids of both, by client."""
    api = f"{lab_netbox.url}/api/dcim/devices/"
    headers = {"Authorization": f"Token {lab_netbox.token}", "Accept": "application/json"}
    acme = requests.get(api, params={"name": NAME}, headers=headers, timeout=30).json()["results"]
    (other,) = requests.get(api, params={"name": OTHER}, headers=headers, timeout=30).json()["results"]
    requests.patch(f"{api}{other['id']}/", json={"name": NAME}, headers=headers, timeout=30).raise_for_status()
    try:
        yield {"acme": acme[0]["id"], "initech": other["id"]}
    finally:
        requests.patch(f"{api}{other['id']}/", json={"name": OTHER}, headers=headers,
                       timeout=30).raise_for_status()


def _by_client(run: dict) -> dict[str, dict]:
    devices = [d for d in run["devices"] if d["device"] == NAME]
    assert len(devices) == 2, run["devices"]
    return {d["client"]: d for d in devices}


def test_backup_drift_push_and_rollback_keep_two_clients_devices_of_one_name_apart(net, ctl, renamed,
                                                                                  tmp_path: Path) -> None:
    scope = ("-c", "acme", "-c", "initech", "-l", NAME)
    wire = {"acme": NAME, "initech": OTHER}  # the simulator's own names for the two devices
    before = {client: ctl.config(device) for client, device in wire.items()}

    # Backup: one file per client, each holding its own device's config.
    res = net("config", "backup", *scope, "-o", "json")
    assert res.exit_code == 0, res.output
    backup = _by_client(json.loads(res.stdout))
    assert {c: d["path"] for c, d in backup.items()} == {"acme": f"acme/{NAME}.cfg", "initech": f"initech/{NAME}.cfg"}
    repo = Path(json.loads(res.stdout)["repo"])
    for client, device in wire.items():
        text = (repo / backup[client]["path"]).read_text()
        assert f"hostname {device}\n" in text, (client, text[:200])

    # Drift, live and from the backup: each device judged against its own client's intent.
    for source in ("live", "backup"):
        res = net("drift", *scope, "--source", source, "--fail-on", "never", "-o", "json")
        assert res.exit_code == 0, res.output
        drift = _by_client(json.loads(res.stdout))
        drifted = {c: {f["feature"] for f in d["features"] if f["status"] == "drift"} for c, d in drift.items()}
        assert drifted["acme"] == set(EXPECTED_DRIFT[NAME]), (source, drifted)
        # initech's router also drifts in its hostname now: NetBox calls it acme-edge-rtr1.
        assert set(EXPECTED_DRIFT[OTHER]) < drifted["initech"], (source, drifted)
        assert not drifted["initech"] & set(EXPECTED_DRIFT[NAME]) - set(EXPECTED_DRIFT[OTHER])

    # Push both: each device changed once, by its own plan; one record result per NetBox object.
    res = net("config", "push", *scope, "--apply", "--yes", "--force", "-o", "json")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    pushed = _by_client(run)
    assert {d["status"] for d in pushed.values()} == {"applied"}, pushed
    assert ctl.config(OTHER).count(f"hostname {NAME}\n") == 1  # initech's router took its new name
    assert "login block-for 60 attempts 3 within 60" in ctl.config(NAME)  # acme's got its own fix
    assert "snmp-server contact noc@northwind-msp.example" in ctl.config(OTHER)
    shown = json.loads(net("runs", "show", run["run_id"], "-o", "json").stdout)
    assert sorted(shown["results"]) == sorted(f"device:{i}" for i in renamed.values())
    after = net("drift", *scope, "-o", "json")
    assert after.exit_code == 0, after.output  # both compliant now

    # Rollback: both devices back, byte for byte but for their own change stamps.
    res = net("config", "rollback", "--run", run["run_id"], "--apply", "--yes", "-o", "json")
    assert res.exit_code == 0, res.output
    rolled = _by_client(json.loads(res.stdout))
    assert {d["status"] for d in rolled.values()} == {"applied"}, rolled  # a rollback applied to each
    for client, device in wire.items():
        assert config_digest(ctl.config(device)) == config_digest(before[client]), client


def test_a_limit_naming_both_selects_both_and_a_push_of_one_client_touches_only_its_device(net, ctl,
                                                                                         renamed) -> None:
    before = ctl.config(NAME)
    res = net("config", "push", "-c", "initech", "-l", NAME, "--apply", "--yes", "--force", "-o", "json")
    assert res.exit_code == ExitCode.OK, res.output
    (device,) = [d for d in json.loads(res.stdout)["devices"] if d["device"] == NAME]
    assert device["client"] == "initech" and device["status"] == "applied"
    assert ctl.config(NAME) == before  # acme's router of that name: untouched
    assert f"hostname {NAME}\n" in ctl.config(OTHER)


TWIN = "acme-core-sw1"  # acme's core switch (acme-hq); acme-dist-sw1 (acme-plant) is given its name too
RENAMED = "acme-dist-sw1"


@pytest.fixture
def twins(lab_netbox) -> Iterator[dict[str, int]]:
    """acme-dist-sw1 renamed to acme-core-sw1 in NetBox: one client, two devices of one name at
    two sites (NetBox allows it). Their ids by their names on the wire."""
    api = f"{lab_netbox.url}/api/dcim/devices/"
    headers = {"Authorization": f"Token {lab_netbox.token}", "Accept": "application/json"}
    (core,) = requests.get(api, params={"name": TWIN}, headers=headers, timeout=30).json()["results"]
    (dist,) = requests.get(api, params={"name": RENAMED}, headers=headers, timeout=30).json()["results"]
    requests.patch(f"{api}{dist['id']}/", json={"name": TWIN}, headers=headers, timeout=30).raise_for_status()
    try:
        yield {TWIN: core["id"], RENAMED: dist["id"]}
    finally:
        requests.patch(f"{api}{dist['id']}/", json={"name": RENAMED}, headers=headers,
                       timeout=30).raise_for_status()


def test_two_devices_of_one_name_in_one_client_get_their_own_backup_files_and_names(net, twins) -> None:
    res = net("config", "backup", "-c", "acme", "-o", "json")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    devices = {d["id"]: d for d in run["devices"] if d["device"] == TWIN}
    assert set(devices) == {f"device:{i}" for i in twins.values()}
    repo = Path(run["repo"])
    for wire, nb_id in twins.items():
        d = devices[f"device:{nb_id}"]
        assert d["path"] == f"acme/{TWIN}/device-{nb_id}.cfg"
        assert f"hostname {wire}\n" in (repo / d["path"]).read_text()  # each file holds its own device
        assert d["name"] == f"{TWIN}@acme#{nb_id}"
        # the printed name is given back: it picks exactly that device, judged against its own file
        one = net("drift", "-c", "acme", "-l", d["name"], "--source", "backup", "--fail-on", "never", "-o", "json")
        assert one.exit_code == 0, one.output
        (only,) = json.loads(one.stdout)["devices"]
        assert (only["id"], only["source"]) == (f"device:{nb_id}", "backup")
        drifted = {f["feature"] for f in only["features"] if f["status"] == "drift"}
        if wire == TWIN:  # only its own seeded drift
            assert drifted == set(EXPECTED_DRIFT[TWIN]), drifted
        else:  # its file says `hostname acme-dist-sw1`, NetBox now another name; and its own seeded drift
            assert drifted == {"hostname", *EXPECTED_DRIFT[RENAMED]}, drifted
