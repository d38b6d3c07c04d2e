"""The patch domain: what a scan found on a host, and how it compares with a baseline.

States follow AWS Systems Manager Patch Manager, so auditors read them without a glossary.
Adapters (ansible.py) produce `HostScan`; compliance.py turns a scan plus a `Baseline` into
`HostCompliance`; services store and render those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

# Per package, as SSM reports per patch.
PackageState = Literal[
    "INSTALLED",                 # the approved version (or newer) is installed
    "INSTALLED_OTHER",           # installed; a newer version exists that the baseline does not approve
    "INSTALLED_PENDING_REBOOT",  # the approved version is installed but the host still needs a reboot for it
    "INSTALLED_REJECTED",        # a rejected package (or version) is installed
    "MISSING",                   # an approved update is not installed
    "FAILED",                    # installing it failed
    "NOT_APPLICABLE",            # the baseline names it, but the host does not have the package
]
# Per host: the package states rolled up, plus what stops us from knowing.
HostState = Literal[
    "COMPLIANT",
    "NON_COMPLIANT",      # something MISSING, FAILED or a blocking INSTALLED_REJECTED
    "PENDING_REBOOT",     # all installed, but a reboot is outstanding (RMM tools call this green; we do not)
    "UNREACHABLE",        # no SSH session: no evidence
    "FAILED",             # reached, but the scan or patch run failed
    "STALE",              # the newest evidence is older than the staleness threshold
    "NO_BASELINE",        # no baseline is assigned to the host
    "NOT_APPLICABLE",     # not a server mspctl patches (no platform, network gear, another OS); never contacted
]
Classification = Literal["security", "other"]
RebootPolicy = Literal["if-needed", "never", "always"]


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """An update the host's package manager offers for an installed package."""

    name: str
    installed: str                  # the version installed now
    candidate: str                  # the version the package manager would install
    classification: Classification  # from the archive: a ``*-security`` suite is security
    archive: str = ""               # e.g. ``bookworm-security`` (apt suite/codename) or the dnf repo id
    origin: str = ""                # e.g. ``Debian-Security:12/stable-security``
    released: date | None = None    # when the candidate was published, when the repository says so
    reboot_required: bool = False   # known only after install on apt (``/var/run/reboot-required.pkgs``)


@dataclass(frozen=True, slots=True)
class HostScan:
    """One host's package evidence, gathered over SSH. `reachable=False` carries no package data."""

    host: str                           # the inventory name (NetBox name)
    scanned_at: datetime                # UTC
    reachable: bool = True
    error: str | None = None            # set when the scan failed (reachable or not)
    os_family: str = ""                 # Ansible's ansible_os_family, lower case: ``debian``, ``redhat``
    distribution: str = ""              # ``debian``
    distribution_version: str = ""      # ``12``
    package_manager: str = ""           # ``apt`` or ``dnf``
    installed: dict[str, str] = field(default_factory=dict)          # name -> version
    updates: dict[str, PendingUpdate] = field(default_factory=dict)  # name -> pending update
    reboot_required: bool = False       # ``/var/run/reboot-required`` exists (apt) / needs-restarting (dnf)
    reboot_packages: tuple[str, ...] = ()  # packages that asked for the reboot
    boot_id: str = ""
    machine_id: str = ""                # /etc/machine-id: which machine answered at the host's address

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["scanned_at"] = self.scanned_at.isoformat()
        out["reboot_packages"] = list(self.reboot_packages)
        for upd in out["updates"].values():
            upd["released"] = upd["released"].isoformat() if upd["released"] else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostScan:
        d = dict(data)
        d["scanned_at"] = datetime.fromisoformat(d["scanned_at"])
        d["reboot_packages"] = tuple(d.get("reboot_packages") or ())
        d["updates"] = {n: PendingUpdate(**{**u, "released": date.fromisoformat(u["released"])
                                            if u.get("released") else None})
                        for n, u in (d.get("updates") or {}).items()}
        return cls(**d)


def changed_packages(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[str, ...]:
    """``name=version`` of every package of `after` whose version is not the one in `before`
    (new packages, dependencies included), sorted."""
    return tuple(sorted(f"{n}={v}" for n, v in after.items() if before.get(n) != v))


def changes_since(before: HostScan, after: HostScan) -> tuple[tuple[str, ...], bool]:
    """What happened to a host between two of its scans: (packages installed, rebooted). A
    reboot shows as a new kernel boot id; an unreadable host tells nothing."""
    if not (before.reachable and after.reachable):
        return (), False
    rebooted = bool(before.boot_id and after.boot_id and before.boot_id != after.boot_id)
    return changed_packages(before.installed, after.installed), rebooted


@dataclass(frozen=True, slots=True)
class PackageResult:
    """One package's state on one host against one baseline."""

    name: str
    state: PackageState
    installed: str | None          # version installed now (None: not installed)
    required: str | None = None    # the version the baseline wants (candidate, pin or minimum)
    classification: Classification | None = None
    reason: str = ""               # why this state, in words an auditor understands
    released: str | None = None    # when the offered update was published (ISO date), when the repository says


@dataclass(frozen=True, slots=True)
class HostCompliance:
    """A host's compliance with its baseline, with every package that matters and the evidence."""

    host: str
    state: HostState
    baseline: str | None                      # ``name@version``
    packages: tuple[PackageResult, ...] = ()
    install: tuple[str, ...] = ()             # what a patch run installs: ``name=version``, sorted
    reboot: bool = False                      # a patch run reboots afterwards (policy + need)
    reason: str = ""
    scanned_at: datetime | None = None
    evidence_age_seconds: float | None = None
    installed_count: int = 0                  # installed packages the baseline has nothing to say about (not listed)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.packages:
            out[p.state] = out.get(p.state, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["scanned_at"] = self.scanned_at.isoformat() if self.scanned_at else None
        out["packages"] = [asdict(p) for p in self.packages]
        out["install"] = list(self.install)
        out["counts"] = self.counts()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostCompliance:
        """The inverse of `to_dict` (``counts`` is derived, so it is dropped)."""
        d = {k: v for k, v in data.items() if k != "counts"}
        d["packages"] = tuple(PackageResult(**p) for p in d.get("packages") or ())
        d["install"] = tuple(d.get("install") or ())
        d["scanned_at"] = datetime.fromisoformat(d["scanned_at"]) if d.get("scanned_at") else None
        return cls(**d)


@dataclass(frozen=True, slots=True)
class PatchNote:
    """What NetBox records about one host after a patch run: a journal entry and two custom fields."""

    kind: Literal["device", "vm"]
    id: int                         # the NetBox object id
    name: str
    compliance: str                 # the host state after the run (``COMPLIANT``, ``UNREACHABLE`` ...)
    level: Literal["info", "success", "warning", "danger"]
    comments: str                   # Markdown for the journal entry
    patched_at: datetime | None     # set when the run changed the host: NetBox's ``last_patched``
    machine_id: str | None = None   # pin this machine id on the NetBox object (first contact)
