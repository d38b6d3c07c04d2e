"""mspctl/patch/compliance.py: a scan against a baseline, as the auditor's report shows it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mspctl.model import Asset
from mspctl.patch.baseline import (
    Assignment,
    BaselineChoice,
    LinuxBaseline,
    NetworkOSBaseline,
    OSRule,
    RejectedPackage,
    load_baselines,
)
from mspctl.patch.compliance import evaluate, evaluate_network
from mspctl.patch.model import HostCompliance, HostScan, PendingUpdate

REPO_BASELINES = Path(__file__).resolve().parents[2] / "baselines"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SCANNED = NOW - timedelta(minutes=5)
STALE_AFTER = timedelta(hours=24)

# The lab's seeded package states (lab/hosts/README.md).
LIB, WEB, TOOLS = "mspdemo-openssl-lib", "mspdemo-web", "mspdemo-tools"
OLD = {LIB: "3.0.11-1", WEB: "2.4.57-1", TOOLS: "1.2.0-1"}
NEW = {LIB: "3.0.11-1+deb12u1", WEB: "2.4.57-1+deb12u1", TOOLS: "1.3.0-1"}
SUITE = {LIB: "bookworm-security", WEB: "bookworm-security", TOOLS: "bookworm-updates"}
PROFILES = {
    "outdated": {LIB: "old", WEB: "old", TOOLS: "old"},
    "security-pending": {LIB: "old", WEB: "old", TOOLS: "new"},
    "updates-pending": {LIB: "new", WEB: "new", TOOLS: "old"},
    "patched": {LIB: "new", WEB: "new", TOOLS: "new"},
    "web-only": {LIB: "new", WEB: "old"},
}
# Packages every host has that no baseline names: counted, not listed.
BASE_SYSTEM = {"openssh-server": "1:9.2p1-2+deb12u3", "python3": "3.11.2-1+b1", "sudo": "1.9.13p3-1+deb12u1"}


def lab_scan(profile: str, **fields: Any) -> HostScan:
    """A scan of a lab host in its seeded state, as the Ansible adapter reports it."""
    installed = dict(BASE_SYSTEM)
    updates = {}
    for pkg, state in PROFILES[profile].items():
        installed[pkg] = OLD[pkg] if state == "old" else NEW[pkg]
        if state == "old":
            updates[pkg] = PendingUpdate(pkg, OLD[pkg], NEW[pkg], "security" if SUITE[pkg].endswith("-security")
                                         else "other", archive=SUITE[pkg])
    return HostScan(host=f"lab-{profile}", scanned_at=SCANNED, os_family="debian", distribution="debian",
                    distribution_version="12", package_manager="apt", installed=installed, updates=updates,
                    **fields)


def repo_choice(name: str) -> BaselineChoice[LinuxBaseline]:
    host = Asset(kind="vm", id=1, name="acme-web01", client="acme", platform="debian")
    choice = load_baselines(REPO_BASELINES).for_asset(host, client_default=name, today=NOW.date())
    assert choice is not None
    return choice


def states(result: HostCompliance) -> dict[str, str]:
    return {p.name: p.state for p in result.packages}


M, OTHER = "MISSING", "INSTALLED_OTHER"
LAB_TABLE = [
    # (baseline, profile, package states, host state, what a patch run installs)
    ("debian-security", "outdated", {LIB: M, WEB: M, TOOLS: OTHER}, "NON_COMPLIANT", (LIB, WEB)),
    ("debian-security", "security-pending", {LIB: M, WEB: M}, "NON_COMPLIANT", (LIB, WEB)),
    ("debian-security", "updates-pending", {TOOLS: OTHER}, "COMPLIANT", ()),
    ("debian-security", "patched", {}, "COMPLIANT", ()),
    ("debian-security", "web-only", {WEB: M}, "NON_COMPLIANT", (WEB,)),
    ("debian-all", "outdated", {LIB: M, WEB: M, TOOLS: M}, "NON_COMPLIANT", (LIB, TOOLS, WEB)),
    ("debian-all", "security-pending", {LIB: M, WEB: M}, "NON_COMPLIANT", (LIB, WEB)),
    ("debian-all", "updates-pending", {TOOLS: M}, "NON_COMPLIANT", (TOOLS,)),
    ("debian-all", "patched", {}, "COMPLIANT", ()),
    ("debian-all", "web-only", {WEB: M}, "NON_COMPLIANT", (WEB,)),  # never installs tools
]


@pytest.mark.parametrize(("baseline", "profile", "packages", "state", "install"), LAB_TABLE)
def test_the_lab_profiles_against_the_repository_baselines(baseline: str, profile: str, packages: dict[str, str],
                                                           state: str, install: tuple[str, ...]) -> None:
    result = evaluate(lab_scan(profile), repo_choice(baseline), now=NOW, stale_after=STALE_AFTER)
    assert states(result) == packages
    assert result.state == state
    assert result.install == tuple(f"{p}={NEW[p]}" for p in install)
    assert result.baseline == f"{baseline}@2026.01"
    assert result.reboot is False  # apt tells only after installing; the playbook checks then
    assert result.installed_count == len(BASE_SYSTEM) + len(PROFILES[profile]) - len(packages)
    assert (result.scanned_at, result.evidence_age_seconds) == (SCANNED, 300.0)


def test_why_an_update_is_not_approved_and_what_is_missing() -> None:
    result = evaluate(lab_scan("outdated"), repo_choice("debian-security"), now=NOW, stale_after=STALE_AFTER)
    by_name = {p.name: p for p in result.packages}
    assert by_name[TOOLS].reason == "1.3.0-1 offered, not a security update (bookworm-updates)"
    assert by_name[TOOLS].classification == "other"
    assert (by_name[LIB].installed, by_name[LIB].required, by_name[LIB].reason) == (
        OLD[LIB], NEW[LIB], "approved security update")
    assert result.reason == f"2 missing: {LIB}, {WEB}; 1 not approved: {TOOLS}"


def test_after_patching_the_library_asks_for_a_reboot() -> None:
    scan = lab_scan("patched", reboot_required=True, reboot_packages=(LIB,))
    result = evaluate(scan, repo_choice("debian-security"), now=NOW, stale_after=STALE_AFTER)
    assert states(result) == {LIB: "INSTALLED_PENDING_REBOOT"}
    assert result.state == "PENDING_REBOOT"
    assert result.reboot is True
    assert result.reason == f"1 pending reboot: {LIB}; the host needs a reboot"


# --- what stops us from knowing ---------------------------------------------------------------


def test_an_unreachable_host_has_no_packages() -> None:
    scan = HostScan(host="h3", scanned_at=SCANNED, reachable=False, error="ssh: connect timed out")
    result = evaluate(scan, repo_choice("debian-security"), now=NOW, stale_after=STALE_AFTER)
    assert (result.state, result.reason, result.packages, result.baseline) == (
        "UNREACHABLE", "ssh: connect timed out", (), "debian-security@2026.01")


def test_a_failed_scan_is_failed() -> None:
    scan = replace(lab_scan("outdated"), error="apt-get update: lock held")
    result = evaluate(scan, repo_choice("debian-security"), now=NOW, stale_after=STALE_AFTER)
    assert (result.state, result.reason, result.packages, result.install) == (
        "FAILED", "apt-get update: lock held", (), ())


def test_no_baseline() -> None:
    result = evaluate(lab_scan("outdated"), None, now=NOW, stale_after=STALE_AFTER)
    assert (result.state, result.baseline, result.packages) == ("NO_BASELINE", None, ())


def test_stale_evidence_keeps_what_was_seen_but_installs_nothing() -> None:
    scan = replace(lab_scan("outdated"), scanned_at=NOW - timedelta(hours=30))
    result = evaluate(scan, repo_choice("debian-security"), now=NOW, stale_after=STALE_AFTER)
    assert result.state == "STALE"
    assert states(result) == {LIB: M, WEB: M, TOOLS: OTHER}
    assert (result.install, result.reboot) == ((), False)
    assert result.reason.startswith("evidence is 30h00m old (limit 24h00m); last seen: 2 missing")
    assert result.evidence_age_seconds == 30 * 3600


# --- the baseline's rules ---------------------------------------------------------------------


def baseline(**fields: Any) -> BaselineChoice[LinuxBaseline]:
    b = LinuxBaseline(name="test", version="1", source="baselines/test.yml:1", os_family=("debian",), **fields)
    return BaselineChoice(current=b, reason="test")


def judge(scan: HostScan, **fields: Any) -> HostCompliance:
    return evaluate(scan, baseline(**fields), now=NOW, stale_after=STALE_AFTER)


def with_installed(scan: HostScan, **versions: str) -> HostScan:
    return replace(scan, installed={**scan.installed, **{k.replace("_", "-"): v for k, v in versions.items()}})


def test_a_blocking_rejected_package_makes_the_host_non_compliant() -> None:
    scan = with_installed(lab_scan("patched"), telnetd="0.17+2.4-2")
    result = judge(scan, rejected=(RejectedPackage("telnet*"),))
    assert states(result) == {"telnetd": "INSTALLED_REJECTED"}
    assert result.state == "NON_COMPLIANT"
    assert result.reason == "1 rejected: telnetd"


def test_a_rejected_package_allowed_as_a_dependency_is_reported_but_not_blocking() -> None:
    scan = with_installed(lab_scan("patched"), mspdemo_legacy="1.0-1")
    result = judge(scan, rejected=(RejectedPackage("mspdemo-legacy", "allow-as-dependency"),
                                   RejectedPackage("telnetd")))
    assert states(result) == {"mspdemo-legacy": "INSTALLED_REJECTED", "telnetd": "NOT_APPLICABLE"}
    assert result.state == "COMPLIANT"


def test_a_rejected_package_is_never_updated() -> None:
    result = judge(lab_scan("outdated"), rejected=(RejectedPackage(WEB, "allow-as-dependency"),))
    assert states(result)[WEB] == "INSTALLED_REJECTED"
    assert result.install == (f"{LIB}={NEW[LIB]}",)


def test_the_approved_list_approves_whatever_the_classification() -> None:
    result = judge(lab_scan("updates-pending"), approved=("mspdemo-t*", "mspdemo-absent"))
    assert states(result) == {TOOLS: M, "mspdemo-absent": "NOT_APPLICABLE"}
    assert result.install == (f"{TOOLS}={NEW[TOOLS]}",)


@pytest.mark.parametrize(("released", "state", "reason"), [
    (date(2026, 11, 25), OTHER, "3.0.11-1+deb12u1 offered, released 3 days ago, approve after 7"),
    (date(2026, 11, 21), M, "approved security update"),
    (None, M, "approved security update"),  # an unknown release date is approved
])
def test_approve_after_days(released: date | None, state: str, reason: str) -> None:
    scan = lab_scan("web-only")
    scan = replace(scan, updates={LIB: PendingUpdate(LIB, "3.0.11-1", NEW[LIB], "security", released=released)},
                   installed={**scan.installed, LIB: "3.0.11-1"})
    result = judge(scan, approve_after_days=7, exclude=(WEB,))
    [lib] = result.packages
    assert (lib.state, lib.reason) == (state, reason)


def test_excluded_packages_are_neither_touched_nor_reported_nor_counted() -> None:
    result = judge(lab_scan("outdated"), exclude=("mspdemo-*",), minimum_versions={WEB: "9"})
    assert (result.packages, result.install, result.state) == ((), (), "COMPLIANT")
    assert result.installed_count == len(BASE_SYSTEM)


@pytest.mark.parametrize(("minimum", "profile", "state", "required", "install", "reason"), [
    # below the minimum and the offered (normal) update reaches it: installed despite "security only"
    ({TOOLS: "1.3.0-1"}, "updates-pending", M, "1.3.0-1", f"{TOOLS}=1.3.0-1", "below the minimum version 1.3.0-1"),
    ({TOOLS: "1.4"}, "updates-pending", M, "1.4", None,
     "below the minimum version 1.4; no offered version reaches the minimum"),
    ({TOOLS: "1.3.0-1"}, "patched", "INSTALLED", "1.3.0-1", None, "at or above the minimum"),
    ({TOOLS: "1.0"}, "web-only", "NOT_APPLICABLE", "1.0", None, "not installed"),
])
def test_minimum_versions(minimum: dict[str, str], profile: str, state: str, required: str,
                          install: str | None, reason: str) -> None:
    result = judge(lab_scan(profile), minimum_versions=minimum, exclude=(LIB, WEB))
    [tools] = result.packages
    assert (tools.state, tools.required, tools.reason) == (state, required, reason)
    assert result.install == ((install,) if install else ())


@pytest.mark.parametrize(("profile", "pin", "update", "state", "install", "reason"), [
    # the pin equals the installed version: the offered update is not wanted
    ("updates-pending", "1.2.0-1", True, "INSTALLED", None, "held at the pinned version; 1.3.0-1 is not wanted"),
    # below the pin and the pinned version is offered
    ("updates-pending", "1.3.0-1", True, M, f"{TOOLS}=1.3.0-1", "pinned version"),
    # the repository offers a newer version than the pin: it cannot be installed
    ("updates-pending", "1.2.5-1", True, M, None, "the pinned version 1.2.5-1 is not offered (the repository "
                                                  "offers 1.3.0-1)"),
    ("updates-pending", "1.2.5-1", False, M, None, "the pinned version 1.2.5-1 is not offered"),
    # newer than the pin: reported, never downgraded
    ("patched", "1.2.0-1", False, OTHER, None, "newer than the pinned version 1.2.0-1; mspctl does not downgrade"),
])
def test_pins(profile: str, pin: str, update: bool, state: str, install: str | None, reason: str) -> None:
    scan = lab_scan(profile)
    if not update:
        scan = replace(scan, updates={})
    result = judge(scan, classification="all", pins={TOOLS: pin}, exclude=(LIB, WEB))
    [tools] = result.packages
    assert (tools.state, tools.required, tools.reason) == (state, pin, reason)
    assert result.install == ((install,) if install else ())
    assert result.state == ("NON_COMPLIANT" if state == M else "COMPLIANT")


@pytest.mark.parametrize(("policy", "profile", "reboot_required", "update_reboots", "reboot", "state"), [
    ("if-needed", "outdated", False, False, False, "NON_COMPLIANT"),
    ("if-needed", "outdated", False, True, True, "NON_COMPLIANT"),   # the repository says the update needs one
    ("if-needed", "patched", True, False, True, "PENDING_REBOOT"),
    ("always", "outdated", False, False, True, "NON_COMPLIANT"),
    ("always", "patched", False, False, False, "COMPLIANT"),        # nothing installed: no reboot
    ("never", "outdated", False, True, False, "NON_COMPLIANT"),
    ("never", "patched", True, False, False, "COMPLIANT"),          # the policy accepts an outstanding reboot
])
def test_reboot_policy(policy: str, profile: str, reboot_required: bool, update_reboots: bool, reboot: bool,
                       state: str) -> None:
    scan = lab_scan(profile, reboot_required=reboot_required)
    if update_reboots:
        scan = replace(scan, updates={n: replace(u, reboot_required=n == LIB) for n, u in scan.updates.items()})
    result = judge(scan, reboot=policy)
    assert (result.reboot, result.state) == (reboot, state)


def test_a_host_compliant_with_the_previous_version_stays_compliant_during_its_grace() -> None:
    old = LinuxBaseline(name="debian", version="2026.05", source="baselines/debian-2026.05.yml:1",
                        valid_until=date(2026, 11, 20), grace_days=14)
    new = LinuxBaseline(name="debian", version="2026.11", source="baselines/debian-2026.11.yml:1",
                        classification="all", valid_from=date(2026, 11, 15), assign=Assignment())
    choice = BaselineChoice(current=new, reason="client default debian", also_compliant=(old,))
    result = evaluate(lab_scan("updates-pending"), choice, now=NOW, stale_after=STALE_AFTER)
    assert result.state == "COMPLIANT"
    assert result.baseline == "debian@2026.11"
    assert result.reason == ("compliant with debian@2026.05 (grace until 2026-12-04); "
                             f"debian@2026.11 wants: {TOOLS}=1.3.0-1")
    assert states(result) == {TOOLS: M}          # measured against the current version
    assert result.install == (f"{TOOLS}=1.3.0-1",)  # a patch run still moves the host on
    # without the grace period the same host is non-compliant
    assert evaluate(lab_scan("updates-pending"), replace(choice, also_compliant=()), now=NOW,
                    stale_after=STALE_AFTER).state == "NON_COMPLIANT"


# --- network devices --------------------------------------------------------------------------

NET = NetworkOSBaseline(name="network-os", version="2026.11", source="baselines/network-os.yml:1", platforms={
    "cisco_ios": OSRule(approved=("17.9.4a", "17.12.2"), minimum="17.9.4",
                        device_types={"isr4331": OSRule(minimum="17.6.5")}),
    "arista_eos": OSRule(approved=("4.30.1F", "4.28.3M")),
})


@pytest.mark.parametrize(("platform", "device_type", "version", "state", "pkg_state", "required", "reason"), [
    ("cisco_ios", "c9300-48p", "17.9.4a", "COMPLIANT", "INSTALLED", "17.9.4", "runs 17.9.4a, an approved version"),
    ("cisco_ios", "c9300-48p", "17.10.1", "COMPLIANT", "INSTALLED", "17.9.4", "runs 17.10.1, an approved version"),
    ("cisco_ios", "c9300-48p", "17.6.5", "NON_COMPLIANT", "MISSING", "17.9.4",
     "runs 17.6.5; the baseline wants at least 17.9.4 or one of 17.9.4a, 17.12.2"),
    ("cisco_ios", "isr4331", "17.6.5", "COMPLIANT", "INSTALLED", "17.6.5", "runs 17.6.5, an approved version"),
    ("arista_eos", None, "4.29.1F", "NON_COMPLIANT", "MISSING", "4.30.1F",
     "runs 4.29.1F; the baseline wants one of 4.30.1F, 4.28.3M"),
    ("juniper_junos", None, "21.4R3", "NO_BASELINE", "NOT_APPLICABLE", None,
     "platform juniper_junos is not covered by network-os@2026.11"),
])
def test_network_os_versions(platform: str, device_type: str | None, version: str, state: str, pkg_state: str,
                             required: str | None, reason: str) -> None:
    result = evaluate_network("dev1", platform, device_type, version, NET, scanned_at=SCANNED, now=NOW,
                              stale_after=STALE_AFTER)
    [os_result] = result.packages
    assert (result.state, result.reason, result.baseline) == (state, reason, "network-os@2026.11")
    assert (os_result.name, os_result.state, os_result.installed, os_result.required) == (
        "os", pkg_state, version, required)


@pytest.mark.parametrize(("kwargs", "state", "reason", "packages"), [
    ({"reachable": False, "error": "timed out"}, "UNREACHABLE", "timed out", 0),
    ({"error": "show version: % Invalid input"}, "FAILED", "show version: % Invalid input", 0),
    ({"version": None}, "FAILED", "the OS version could not be read from the device", 0),
    ({"baseline": None}, "NO_BASELINE", "no OS baseline is assigned to this device", 0),
    ({"scanned_at": NOW - timedelta(days=3)}, "STALE",
     "evidence is 3d00h old (limit 24h00m); last seen: runs 17.9.4a, an approved version", 1),
])
def test_network_evidence_problems(kwargs: dict[str, Any], state: str, reason: str, packages: int) -> None:
    args: dict[str, Any] = {"version": "17.9.4a", "baseline": NET, "scanned_at": SCANNED, **kwargs}
    result = evaluate_network("dev1", "cisco_ios", "c9300-48p", args.pop("version"), args.pop("baseline"),
                              now=NOW, stale_after=STALE_AFTER, **args)
    assert (result.state, result.reason, len(result.packages)) == (state, reason, packages)
