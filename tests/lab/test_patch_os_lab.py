"""Network OS compliance (`mspctl patch os`) against the lab's simulated devices: `show version`
over real SSH, judged by baselines/network-os.yml (acme and globex; initech has none)."""

from __future__ import annotations

import json


def test_os_compliance_per_device(net):
    res = net("patch", "os", "-A", "-o", "json")
    assert res.exit_code == 4, res.output  # one device runs an unapproved release
    devices = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    # seeded in lab/network.py: acme-core-sw1 runs IOS XE 17.6.1, below the minimum 17.9.4
    core = devices["acme-core-sw1"]
    assert (core["version"], core["state"], core["required"]) == ("17.6.1", "NON_COMPLIANT", "17.9.4")
    assert devices["acme-dist-sw1"]["version"] == "4.28.3M" and devices["acme-dist-sw1"]["state"] == "COMPLIANT"
    # the ISR4331's device-type rule approves its 15.9 train release
    assert devices["acme-edge-rtr1"]["state"] == "COMPLIANT" and devices["globex-rtr1"]["state"] == "COMPLIANT"
    assert {devices[d]["state"] for d in ("initech-rtr1", "initech-sw1")} == {"NO_BASELINE"}
    assert "acme-fw1" not in devices  # offline devices are left out unless --status asks


def test_os_compliance_unreachable_device_does_not_stop_the_rest(net, lab_network):
    from lab.devices.control import ControlClient

    ControlClient(lab_network.control).set_knobs("acme-dist-sw1", bad_credentials=True)
    res = net("patch", "os", "-c", "acme", "-o", "json")
    assert res.exit_code == 3, res.output
    devices = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    assert devices["acme-dist-sw1"]["state"] == "FAILED"  # reached, but it refused the login
    assert "MSP-DEV-401" in devices["acme-dist-sw1"]["reason"] or "credential" in devices["acme-dist-sw1"]["reason"]
    assert devices["acme-edge-rtr1"]["state"] == "COMPLIANT"
