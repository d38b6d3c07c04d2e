"""Compliance: one host's scan measured against its baseline, as a `HostCompliance` value.

Pure functions: no I/O, and the clock is a parameter, so a stored scan can be judged again
later (``mspctl patch status``) with the same answer a live run gave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mspctl.patch.baseline import BaselineChoice, LinuxBaseline, NetworkOSBaseline
from mspctl.patch.model import HostCompliance, HostScan, HostState, PackageResult, PackageState, PendingUpdate
from mspctl.patch.versions import compare


def evaluate(scan: HostScan, choice: BaselineChoice[LinuxBaseline] | None, *, now: datetime,
             stale_after: timedelta) -> HostCompliance:
    """Judge server `scan` against `choice` (from `BaselineSet.for_asset`) at time `now`.

    Returns UNREACHABLE (no packages) for an unreachable scan, FAILED for a failed scan,
    NO_BASELINE without a choice; otherwise the relevant packages with their states (packages the
    baseline has nothing to say about are only counted in ``installed_count``), what a patch run
    installs (``name=version``, sorted) and whether it reboots. A host compliant only with an
    older version still in its grace period counts as COMPLIANT, while ``install`` still targets
    the current version. Evidence older than `stale_after` makes the host STALE: the packages
    are kept to show what was last seen, but ``install`` and ``reboot`` are cleared, because a
    patch run must not act on stale evidence. Never raises.
    """
    age = (now - scan.scanned_at).total_seconds()
    label = choice.current.label if choice else None

    def host(state: HostState, reason: str) -> HostCompliance:
        return HostCompliance(scan.host, state, label, reason=reason, scanned_at=scan.scanned_at,
                              evidence_age_seconds=age)

    if not scan.reachable:
        return host("UNREACHABLE", scan.error or "the host did not answer over SSH")
    if scan.error:
        return host("FAILED", scan.error)
    if choice is None:
        return host("NO_BASELINE", "no baseline is assigned to this host")

    today = now.date()
    result = _check(scan, choice.current, today)
    state, reason = result.state, result.reason
    if state != "COMPLIANT":
        for old in choice.also_compliant:
            if _check(scan, old, today).state == "COMPLIANT":
                wants = ", ".join(result.install) or result.reason
                state = "COMPLIANT"
                reason = (f"compliant with {old.label} (grace until {old.grace_until}); "
                          f"{choice.current.label} wants: {wants}")
                break
    install, reboot = result.install, result.reboot
    if age > stale_after.total_seconds():
        state, reason = "STALE", _stale(age, stale_after, reason)
        install, reboot = (), False
    return HostCompliance(scan.host, state, label, packages=result.packages, install=install, reboot=reboot,
                          reason=reason, scanned_at=scan.scanned_at, evidence_age_seconds=age,
                          installed_count=result.installed_count)


def evaluate_network(device: str, platform: str | None, device_type: str | None, os_version: str | None,
                     baseline: NetworkOSBaseline | None, *, scanned_at: datetime, now: datetime,
                     stale_after: timedelta, reachable: bool = True, error: str | None = None) -> HostCompliance:
    """Judge a network device's running OS version against `baseline`.

    Returns one package result named ``os``: INSTALLED when the version is approved or at least
    the minimum (host COMPLIANT), MISSING with ``required`` = the minimum or the highest approved
    version (NON_COMPLIANT), or NOT_APPLICABLE when the baseline does not cover the platform (the
    host is then NO_BASELINE). Unreachable, failed (`error`, or no version read) and stale
    evidence are reported as for servers. Never raises.
    """
    age = (now - scanned_at).total_seconds()
    label = baseline.label if baseline else None

    def host(state: HostState, reason: str, package: PackageResult | None = None) -> HostCompliance:
        return HostCompliance(device, state, label, packages=(package,) if package else (), reason=reason,
                              scanned_at=scanned_at, evidence_age_seconds=age)

    if not reachable:
        return host("UNREACHABLE", error or "the device did not answer over SSH")
    if error:
        return host("FAILED", error)
    if baseline is None:
        return host("NO_BASELINE", "no OS baseline is assigned to this device")
    rule = baseline.rule_for(platform, device_type)
    if rule is None:
        why = f"platform {platform or 'unknown'} is not covered by {baseline.label}"
        return host("NO_BASELINE", why, PackageResult("os", "NOT_APPLICABLE", os_version, reason=why))
    if not os_version:
        return host("FAILED", "the OS version could not be read from the device")
    state: HostState
    if rule.complies(os_version):
        state, reason = "COMPLIANT", f"runs {os_version}, an approved version"
        package = PackageResult("os", "INSTALLED", os_version, rule.required, reason=reason)
    else:
        wanted = [f"at least {rule.minimum}"] if rule.minimum else []
        wanted += [f"one of {', '.join(rule.approved)}"] if rule.approved else []
        state, reason = "NON_COMPLIANT", f"runs {os_version}; the baseline wants {' or '.join(wanted)}"
        package = PackageResult("os", "MISSING", os_version, rule.required, reason=reason)
    if age > stale_after.total_seconds():
        state, reason = "STALE", _stale(age, stale_after, reason)
    return host(state, reason, package)


# --- one baseline version -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    state: HostState
    packages: tuple[PackageResult, ...]
    install: tuple[str, ...]
    reboot: bool
    reason: str
    installed_count: int


@dataclass(frozen=True, slots=True)
class _Verdict:
    result: PackageResult
    install: str | None = None  # the version to install
    blocking: bool = False      # a rejected package that makes the host non-compliant


type _Cmp = Callable[[str, str], int]


def _check(scan: HostScan, b: LinuxBaseline, today: date) -> _Outcome:
    def cmp(x: str, y: str) -> int:
        return compare(x, y, scan.package_manager)

    # Exact names from the lists are reported even when not installed (NOT_APPLICABLE).
    named = {*b.minimum_versions, *b.pins, *(g for g in b.approved if not _glob(g)),
             *(r.name for r in b.rejected if not _glob(r.name))}
    packages: list[PackageResult] = []
    install: list[tuple[str, str]] = []
    blocking: list[str] = []
    others = 0
    for name in sorted({*scan.installed, *scan.updates, *named}):
        if b.excluded(name):
            continue
        verdict = _package(name, scan, b, today, cmp, name in named)
        if verdict is None:
            others += 1
            continue
        packages.append(verdict.result)
        if verdict.install:
            install.append((name, verdict.install))
        if verdict.blocking:
            blocking.append(name)

    states = {p.state for p in packages}
    state: HostState
    if "MISSING" in states or blocking:
        state = "NON_COMPLIANT"
    elif "INSTALLED_PENDING_REBOOT" in states or (scan.reboot_required and b.reboot != "never"):
        state = "PENDING_REBOOT"
    else:
        state = "COMPLIANT"
    if b.reboot == "never":
        reboot = False
    else:
        # apt says which package needs a reboot only after installing it; the playbook checks then.
        needed = scan.reboot_required or any(scan.updates[n].reboot_required for n, _ in install)
        reboot = needed or (b.reboot == "always" and bool(install))
    return _Outcome(state, tuple(packages), tuple(f"{n}={v}" for n, v in sorted(install)), reboot,
                    _summary(packages, blocking, scan), others)


def _package(name: str, scan: HostScan, b: LinuxBaseline, today: date, cmp: _Cmp, named: bool) -> _Verdict | None:
    """One package's verdict, or None when the baseline has nothing to say about it."""
    update = scan.updates.get(name)
    installed = scan.installed.get(name) or (update.installed if update else None)

    def result(state: PackageState, required: str | None, reason: str) -> PackageResult:
        return PackageResult(name, state, installed, required, update.classification if update else None, reason,
                             update.released.isoformat() if update and update.released else None)

    pin, minimum = b.pins.get(name), b.minimum_versions.get(name)
    if installed is None:
        return _Verdict(result("NOT_APPLICABLE", pin or minimum, "not installed")) if named else None
    rejection = b.rejection(name)
    if rejection is not None:
        if rejection.action == "block":
            return _Verdict(result("INSTALLED_REJECTED", None, "rejected by the baseline"), blocking=True)
        return _Verdict(result("INSTALLED_REJECTED", None, "rejected, but allowed as a dependency"))

    verdict: _Verdict
    if pin is not None:
        verdict = _pinned(pin, installed, update, result, cmp)
    elif minimum is not None and cmp(installed, minimum) < 0:
        if update is not None and cmp(update.candidate, minimum) >= 0:
            verdict = _Verdict(result("MISSING", update.candidate, f"below the minimum version {minimum}"),
                               install=update.candidate)
        else:
            verdict = _Verdict(result("MISSING", minimum,
                                      f"below the minimum version {minimum}; no offered version reaches the minimum"))
    elif update is not None:
        refusal = _refusal(b, update, today)
        if refusal is None:
            verdict = _Verdict(result("MISSING", update.candidate, f"approved {update.classification} update"),
                               install=update.candidate)
        else:
            verdict = _Verdict(result("INSTALLED_OTHER", None, f"{update.candidate} offered, {refusal}"))
    elif named or name in scan.reboot_packages:
        verdict = _Verdict(result("INSTALLED", minimum, "installed" if minimum is None else "at or above the minimum"))
    else:
        return None
    if verdict.result.state == "INSTALLED" and scan.reboot_required and name in scan.reboot_packages:
        return _Verdict(result("INSTALLED_PENDING_REBOOT", verdict.result.required,
                               "installed; the host needs a reboot to use it"))
    return verdict


def _pinned(pin: str, installed: str, update: PendingUpdate | None,
            result: Callable[[PackageState, str | None, str], PackageResult], cmp: _Cmp) -> _Verdict:
    # A pin holds exactly one version: never past it, and never downgraded to it.
    order = cmp(installed, pin)
    if order == 0:
        return _Verdict(result("INSTALLED", pin, "held at the pinned version"
                               + (f"; {update.candidate} is not wanted" if update else "")))
    if order > 0:
        return _Verdict(result("INSTALLED_OTHER", pin, f"newer than the pinned version {pin}; mspctl does not "
                                                       "downgrade"))
    if update is not None and cmp(update.candidate, pin) == 0:
        return _Verdict(result("MISSING", pin, "pinned version"), install=pin)
    offered = f" (the repository offers {update.candidate})" if update else ""
    return _Verdict(result("MISSING", pin, f"the pinned version {pin} is not offered{offered}"))


def _refusal(b: LinuxBaseline, update: PendingUpdate, today: date) -> str | None:
    """Why the baseline does not approve `update`, or None when it does."""
    if b.listed_approved(update.name):
        return None
    if b.classification == "security" and update.classification != "security":
        return f"not a security update ({update.archive or update.classification})"
    if b.approve_after_days and update.released is not None:
        days = (today - update.released).days
        if days < b.approve_after_days:
            return f"released {days} days ago, approve after {b.approve_after_days}"
    return None


def _summary(packages: list[PackageResult], blocking: list[str], scan: HostScan) -> str:
    def names(state: PackageState) -> list[str]:
        return [p.name for p in packages if p.state == state]

    parts = [f"{len(found)} {what}: {', '.join(found)}" for what, found in (
        ("missing", names("MISSING")), ("rejected", blocking), ("pending reboot", names("INSTALLED_PENDING_REBOOT")),
        ("not approved", [p.name for p in packages if p.state == "INSTALLED_OTHER"])) if found]
    if scan.reboot_required:
        parts.append("the host needs a reboot")
    return "; ".join(parts) or "every approved update is installed"


def _stale(age: float, limit: timedelta, reason: str) -> str:
    return f"evidence is {_duration(age)} old (limit {_duration(limit.total_seconds())}); last seen: {reason}"


def _glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d{hours % 24:02d}h"
