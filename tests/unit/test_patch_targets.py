"""mspctl/patch/service.py: which selected assets are patch targets. A server whose platform maps
to an OS family the playbooks patch (apt, dnf); everything else is NOT_APPLICABLE with its reason,
never contacted and never a failure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from mspctl.inventory.platforms import PlatformMap
from mspctl.model import Asset
from mspctl.patch.model import HostCompliance
from mspctl.patch.service import HostResult, PatchHost, PatchRun, not_a_target
from mspctl.reports.patch import junit

MakeAsset = Callable[..., Asset]


@pytest.mark.parametrize("platform", ["debian", "ubuntu", "ubuntu-linux-20-04", "debian-12", "rhel-9",
                                      "rocky-linux-9", "Ubuntu Linux 22.04"])
def test_servers_of_a_patched_family_are_targets(make_asset: MakeAsset, platform: str) -> None:
    assert not_a_target(make_asset("srv", platform=platform), PlatformMap()) is None


@pytest.mark.parametrize(("platform", "needle"), [
    (None, "no platform in NetBox"),
    ("cisco-ios", "network device"),
    ("arista_eos", "`mspctl patch os`"),
    ("windows-server-2022", "not a Linux server OS"),
    ("sles-15", "OS family suse"),
    ("linux", "OS family unknown"),
])
def test_everything_else_is_not_applicable_with_a_reason(make_asset: MakeAsset, platform: str | None,
                                                         needle: str) -> None:
    reason = not_a_target(make_asset("x", platform=platform), PlatformMap())
    assert reason is not None and needle in reason


def test_an_override_makes_a_platform_a_target(make_asset: MakeAsset) -> None:
    pm = PlatformMap({"linux": {"os_family": "debian"}})
    assert not_a_target(make_asset("x", platform="linux"), pm) is None


def test_not_applicable_hosts_are_counted_apart_and_are_no_failure(make_asset: MakeAsset) -> None:
    now = datetime.now(UTC)
    pdu = PatchHost(make_asset("pdu1"), None, "pdu1")
    na = HostResult(pdu, HostCompliance("pdu1", "NOT_APPLICABLE", None, reason="no platform in NetBox"))
    run = PatchRun("patch-scan-1", "patch-scan", now, now, [], not_applicable=[na])
    assert run.summary == {"NOT_APPLICABLE": 1}
    assert not run.failed and not run.noncompliant
    data = run.to_dict()
    assert data["hosts"] == [] and data["not_applicable"][0]["compliance"]["reason"] == "no platform in NetBox"
    assert run.record().params["not_applicable"] == {"pdu1": "no platform in NetBox"}
    assert "<testcase" not in junit(run)  # JUnit counts what was checked
