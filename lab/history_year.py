"""A generated year of run records, with the ground truth behind them (the report's history test
and `bench/report`).

`simulate(spec, emit)` plays a year of an MSP's scheduled jobs for one or more clients and hands
each finished run to `emit` (e.g. `RecordStore.save`), in the order the runs finished:

- a drift audit every day at 02:00 UTC (`mspctl drift -A`);
- a patch scan every Wednesday at 10:00 UTC (`mspctl patch scan -A`);
- each client's patch window every Saturday evening (`mspctl patch window -c X`): a scan, the
  approved security updates installed (one canary host first, then the rest), a reboot when an
  update asks for one and the baseline allows it (`reboot: if-needed`), a scan afterwards;
- a network OS check on the first Monday of each month at 03:00 UTC (`mspctl patch os -A`);
- nothing at all during an outage (default Thu 16 to Tue 28 July 2026: the CI runner was down),
  so the evidence goes STALE.

The world behind the runs: each device feature drifts now and then (`interfaces`, `ntp` and
`logging` most) and is put right after a delay from hours to weeks, or not this year; devices
fail an audit now and then, and some for days in a row; security advisories (Debian's, about
four a month) reach the hosts' mirrors on their release day; a window installs them, so most are
in effect within a week, but not on a host that is unreachable for weeks, in a change freeze,
whose install failed, or that never reboots by itself (the database servers: baseline
`debian-security-db`, `reboot: never`, rebooted by their DBAs days to weeks later, pending a
reboot until then); network devices get OS upgrades at random moments.

Records are built with mspctl's own result types and compliance rules (`DeviceDrift`,
`HostScan` judged by `mspctl.patch.compliance.evaluate`, `HostResult` and `PatchRun.record`,
`DeviceOS` judged by `evaluate_network`), exactly as the services build them, so they have the
shapes real runs write (compared with real lab runs: drift audit, patch scan, a patch window
with a host cut off halfway). Nothing here imports mspctl's report code.

The ground truth (`Truth`) comes from the simulation's own state, never from the records: what
each run recorded per target (`*Sighting`), each drift episode (when the device changed, when it
was put right, when an audit first read it drifted and first read it compliant again) and each
security update on each host (its release date, when the mirror offered it, when a scan first
found it missing, when it was installed and rebooted, when a scan first found it in effect).
The simulation checks its state against mspctl's compliance verdict on every scan and stops
(AssertionError) when the two disagree.

Two behaviours real runs have can be switched off (`YearSpec`) for tests that need the report's
view and the truth to meet: hosts cut off in the middle of a window (`window_cuts`), and
updates that only a window's own scan finds first (`window_first_sightings`: offered after the
week's scan, or the host was unreachable at it, or it was rebooted by hand in between). With
the latter off, advisories are released on Sundays and Mondays only, hosts are unreachable for
whole weeks only, and manual reboots happen on Sundays and Mondays.

`python -m lab.history_year --records FILE` writes a year into a SQLite records file (see
`--help`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from mspctl.drift.compare import FeatureResult
from mspctl.drift.service import DeviceDrift, DriftRun
from mspctl.history.model import RunRecord
from mspctl.model import Asset
from mspctl.patch.baseline import BaselineChoice, LinuxBaseline, NetworkOSBaseline, load_baselines
from mspctl.patch.compliance import evaluate, evaluate_network
from mspctl.patch.model import HostCompliance, HostScan, PendingUpdate
from mspctl.patch.network import DeviceOS, OSRun
from mspctl.patch.service import HostResult, PatchHost, PatchRun

REPO = Path(__file__).resolve().parents[1]
STALE_AFTER = timedelta(days=7)
MSPCTL_VERSION = "0.1.0"

# A Debian 12 server's packages, as the lab's hosts report them (a real scan), plus a kernel and curl.
_BASE = (
    "adduser=3.134 apt=2.6.1 base-files=12.4+deb12u15 base-passwd=3.6.1 bash=5.2.15-2+b13 "
    "bsdutils=1:2.38.1-5+deb12u3 coreutils=9.1-1 dash=0.5.12-2 debconf=1.5.82 "
    "debian-archive-keyring=2023.3+deb12u2 debianutils=5.7-0.5~deb12u1 diffutils=1:3.8-4 "
    "distro-info-data=0.58+deb12u7 dpkg=1.21.23 e2fsprogs=1.47.0-2+b2 findutils=4.9.0-4 "
    "gcc-12-base=12.2.0-14+deb12u1 gpgv=2.2.40-1.1+deb12u2 grep=3.8-5 gzip=1.12-1 hostname=3.23+nmu1 "
    "init-system-helpers=1.65.2+deb12u1 iproute2=6.1.0-3 libacl1=2.3.1-3 libapt-pkg6.0=2.6.1 "
    "libattr1=1:2.5.1-4 libaudit-common=1:3.0.9-1 libaudit1=1:3.0.9-1 libblkid1=2.38.1-5+deb12u3 "
    "libbpf1=1:1.1.2-0+deb12u1 libbsd0=0.11.7-2 libbz2-1.0=1.0.8-5+b1 libc-bin=2.36-9+deb12u14 "
    "libc6=2.36-9+deb12u14 libcap-ng0=0.8.3-1+b3 libcap2=1:2.66-4+deb12u3+b1 libcap2-bin=1:2.66-4+deb12u3+b1 "
    "libcbor0.8=0.8.0-2+b1 libcom-err2=1.47.0-2+b2 libcrypt1=1:4.4.33-2 libdb5.3=5.3.28+dfsg2-1 "
    "libdebconfclient0=0.270 libedit2=3.1-20221030-2 libelf1=0.188-2.1 libexpat1=2.5.0-1+deb12u2 "
    "libext2fs2=1.47.0-2+b2 libffi8=3.4.4-1 libfido2-1=1.12.0-2+b1 libgcc-s1=12.2.0-14+deb12u1 "
    "libgcrypt20=1.10.1-3+deb12u1 libgmp10=2:6.2.1+dfsg1-1.1 libgnutls30=3.7.9-2+deb12u7 libgpg-error0=1.46-1 "
    "libgssapi-krb5-2=1.20.1-2+deb12u5 libhogweed6=3.8.1-2 libidn2-0=2.3.3-1+b1 libk5crypto3=1.20.1-2+deb12u5 "
    "libkeyutils1=1.6.3-2 libkrb5-3=1.20.1-2+deb12u5 libkrb5support0=1.20.1-2+deb12u5 liblz4-1=1.9.4-1 "
    "liblzma5=5.4.1-1+deb12u1 libmd0=1.0.4-2 libmnl0=1.0.4-3 libmount1=2.38.1-5+deb12u3 libncursesw6=6.4-4 "
    "libnettle8=3.8.1-2 libnsl2=1.3.0-2 libp11-kit0=0.24.1-2 libpam-modules=1.5.2-6+deb12u2 "
    "libpam-modules-bin=1.5.2-6+deb12u2 libpam-runtime=1.5.2-6+deb12u2 libpam0g=1.5.2-6+deb12u2 "
    "libpcre2-8-0=10.42-1 libproc2-0=2:4.0.2-3 libpython3-stdlib=3.11.2-1+b1 "
    "libpython3.11-minimal=3.11.2-6+deb12u8 libpython3.11-stdlib=3.11.2-6+deb12u8 libreadline8=8.2-1.3 "
    "libseccomp2=2.5.4-1+deb12u1 libselinux1=3.4-1+b6 libsemanage-common=3.4-1 libsemanage2=3.4-1+b5 "
    "libsepol2=3.4-2.1 libsmartcols1=2.38.1-5+deb12u3 libsqlite3-0=3.40.1-2+deb12u2 libss2=1.47.0-2+b2 "
    "libssl3=3.0.20-1~deb12u2 libstdc++6=12.2.0-14+deb12u1 libsystemd0=252.39-1~deb12u2 "
    "libtasn1-6=4.19.0-2+deb12u1 libtinfo6=6.4-4 libtirpc-common=1.3.3+ds-1 libtirpc3=1.3.3+ds-1 "
    "libudev1=252.39-1~deb12u2 libunistring2=1.0-2 libuuid1=2.38.1-5+deb12u3 libwrap0=7.6.q-32 "
    "libxtables12=1.8.9-2 libxxhash0=0.8.1-1 libzstd1=1.5.4+dfsg2-5 login=1:4.13+dfsg1-1+deb12u2 "
    "logsave=1.47.0-2+b2 lsb-base=11.6 mawk=1.3.4.20200120-3.1 media-types=10.0.0 mount=2.38.1-5+deb12u3 "
    "ncurses-base=6.4-4 ncurses-bin=6.4-4 openssh-client=1:9.2p1-2+deb12u10 openssh-server=1:9.2p1-2+deb12u10 "
    "openssh-sftp-server=1:9.2p1-2+deb12u10 passwd=1:4.13+dfsg1-1+deb12u2 perl-base=5.36.0-7+deb12u3 "
    "procps=2:4.0.2-3 python-apt-common=2.6.0 python3=3.11.2-1+b1 python3-apt=2.6.0 python3-minimal=3.11.2-1+b1 "
    "python3.11=3.11.2-6+deb12u8 python3.11-minimal=3.11.2-6+deb12u8 readline-common=8.2-1.3 "
    "runit-helper=2.15.2 sed=4.9-1+deb12u1 sensible-utils=0.0.17+nmu1 sudo=1.9.13p3-1+deb12u4 "
    "sysvinit-utils=3.06-4 tar=1.34+dfsg-1.2+deb12u1 tzdata=2026b-0+deb12u1 ucf=3.0043+nmu1+deb12u1 "
    "usr-is-merged=37~deb12u1 util-linux=2.38.1-5+deb12u3 util-linux-extra=2.38.1-5+deb12u3 "
    "zlib1g=1:1.2.13.dfsg-1 linux-image-amd64=6.1.153-1 curl=7.88.1-10+deb12u14 libcurl4=7.88.1-10+deb12u14"
)
BASE_PACKAGES: dict[str, str] = dict(p.split("=", 1) for p in _BASE.split())

# Server roles: (role, NetBox kind, extra packages). Index = host number % 10.
_ROLE_PACKAGES = {
    "web": {"nginx": "1.22.1-9+deb12u2", "nginx-common": "1.22.1-9+deb12u2"},
    "db": {"postgresql-15": "15.14-0+deb12u1", "libpq5": "15.14-0+deb12u1"},
    "app": {"openjdk-17-jre-headless": "17.0.16+8-1~deb12u1"},
    "mail": {"postfix": "3.7.11-0+deb12u1"},
    "backup": {"bacula-fd": "9.6.7-7+deb12u1"},
}
_HOST_ROLES = ("web", "web", "web", "db", "app", "app", "mail", "app", "backup", "web")
_REBOOT_NEVER = 3    # host % 10: a database server on `reboot: never`
_UNREACHABLE = 5     # host % 10: unreachable for two or three weeks once
_FROZEN = 7          # host % 10: left out of the windows for six weeks (a change freeze)
_FLAKY_DEVICE = 4    # device % 10: fails its audits for five days in a row once

# Security advisories: (binary packages of one source package, asks for a reboot).
_ADVISORIES: tuple[tuple[tuple[str, ...], bool], ...] = (
    (("libc6", "libc-bin"), True), (("libssl3",), True), (("linux-image-amd64",), True),
    (("libsystemd0", "libudev1"), True),
    (("openssh-server", "openssh-client", "openssh-sftp-server"), False), (("sudo",), False),
    (("libexpat1",), False), (("libgnutls30",), False),
    (("libkrb5-3", "libk5crypto3", "libkrb5support0", "libgssapi-krb5-2"), False),
    (("python3.11", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib"), False),
    (("perl-base",), False), (("zlib1g",), False), (("libsqlite3-0",), False), (("tar",), False),
    (("curl", "libcurl4"), False), (("libpam-modules", "libpam-modules-bin", "libpam-runtime", "libpam0g"), False),
    (("nginx", "nginx-common"), False), (("postgresql-15", "libpq5"), False), (("postfix",), False),
    (("openjdk-17-jre-headless",), False), (("bacula-fd",), False),
)
_OTHER_UPDATES = ("tzdata", "distro-info-data")
# Days between two advisories of one source package: longer than a host can go unscanned (an
# unreachable spell, the outage), so a scan sees each advisory's version before the next one.
_ADVISORY_SPACING = 35  # bookworm-updates: not approved by a security baseline

# Network devices: index = device number % 10 -> (role, platform, device type).
_DEVICE_MODELS = (
    ("router", "cisco_ios", "isr4331"), ("core-switch", "cisco_ios", "c9300-48p"),
    ("access-switch", "arista_eos", "dcs-7050sx3"), ("access-switch", "cisco_ios", "c9300-48p"),
    ("access-switch", "arista_eos", "dcs-7050sx3"), ("access-switch", "cisco_ios", "c9300-48p"),
    ("access-switch", "arista_eos", "dcs-7050sx3"), ("distribution-switch", "arista_eos", "dcs-7050sx3"),
    ("access-switch", "cisco_ios", "c9300-48p"), ("access-switch", "arista_eos", "dcs-7050sx3"),
)
# OS versions per device type, as baselines/network-os.yml judges them (the truth's own table).
OS_VERSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "isr4331": {"compliant": ("15.9(3)M7",), "old": ("15.6(3)M2",)},
    "c9300-48p": {"compliant": ("17.9.4a", "17.12.2"), "old": ("17.6.1", "17.3.4")},
    "dcs-7050sx3": {"compliant": ("4.28.3M", "4.30.1F"), "old": ("4.27.2F",)},
}
_IOS_FEATURES = ("hostname", "dns", "ntp", "logging", "snmp", "banner", "aaa", "interfaces", "vty")
_EOS_FEATURES = ("hostname", "dns", "ntp", "logging", "snmp", "banner", "interfaces", "ssh")
# Drifts per feature and device-day, and the lines a drift shows (missing, extra).
_DRIFT_RATE = {"hostname": 0.0004, "dns": 0.0015, "ntp": 0.004, "logging": 0.004, "snmp": 0.002,
               "banner": 0.001, "aaa": 0.001, "interfaces": 0.006, "vty": 0.002, "ssh": 0.002,
               "pci-login": 0.002}
_DRIFT_LINES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hostname": (("hostname {name}",), ("hostname Switch",)),
    "dns": (("ip name-server 198.51.100.53",), ("ip name-server 8.8.8.8",)),
    "ntp": (("ntp server 198.51.100.2",), ("ntp server 192.0.2.99",)),
    "logging": ((), ("logging host 192.0.2.66",)),
    "snmp": (("snmp-server location {site}",), ("snmp-server location TEMP",)),
    "banner": (("banner motd ^CAuthorized access only^C",), ()),
    "aaa": (("aaa authentication login default group tacacs+ local",), ()),
    "interfaces": (("interface Ethernet12 > description uplink-{site}",), ("interface Ethernet12 > description test",)),
    "vty": (("line vty 0 4 > transport input ssh",), ("line vty 0 4 > transport input telnet ssh",)),
    "ssh": (("management ssh > idle-timeout 15",), ()),
    "pci-login": (("login block-for 60 attempts 3 within 60",), ()),
}


@dataclass(frozen=True)
class YearSpec:
    """What to generate. Defaults: one client (acme), 100 network devices and 100 servers, 2026."""

    clients: tuple[str, ...] = ("acme",)
    devices: int = 100  # network devices per client
    hosts: int = 100  # servers per client
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    days: int = 365
    seed: int = 1
    outage: tuple[int, int] = (196, 209)  # days [a, b) from `start` without any run
    unaudited: int = 1  # per client: devices and servers in the inventory that no run covers
    window_cuts: bool = True
    window_first_sightings: bool = True
    id_base: int = 100_000  # NetBox ids above this (apart from a real NetBox's)
    # Each server also carries the rest of a Debian base system (about a hundred packages no
    # advisory names), so records are as large as real ones; off: smaller records, quicker tests.
    full_package_lists: bool = True

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass(frozen=True)
class Target:
    """One inventory entry: a network device (drift, OS) or a server (patches)."""

    client: str
    key: str  # the NetBox object: device:12, vm:3
    name: str
    kind: str  # device | vm
    role: str
    platform: str
    device_type: str | None
    site: str
    network: bool
    audited: bool  # False: in the inventory, in no record
    address: str

    def asset(self) -> Asset:
        return Asset(self.kind, int(self.key.split(":")[1]), self.name, self.client, site=self.site, role=self.role,
                     platform=self.platform, status="active", primary_ip=self.address,
                     serial=f"SN{zlib.crc32(self.key.encode()):010d}" if self.kind == "device" else None,
                     device_type=self.device_type, manufacturer=_MAKER.get(self.platform))


_MAKER = {"cisco_ios": "cisco", "arista_eos": "arista"}


@dataclass(frozen=True)
class RunInfo:
    id: str
    kind: str
    clients: tuple[str, ...]
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class DriftSighting:
    """What one drift run recorded for one device."""

    client: str
    key: str
    run_id: str
    known_at: datetime  # the run's end
    evidence_at: datetime  # when the device was read (a failed read: the run's end)
    status: str  # compliant | drift | failed
    features: dict[str, str]  # feature -> compliant | drift (empty: the audit failed)


@dataclass(frozen=True)
class HostSighting:
    """What one patch run found on one host. `recorded`: the run's result for the host (its
    `compliance`); False for the pre-patch scan of a host the window then patched (the record's
    `before`)."""

    client: str
    key: str
    name: str
    run_id: str
    kind: str
    known_at: datetime
    evidence_at: datetime
    state: str  # COMPLIANT | NON_COMPLIANT | PENDING_REBOOT | UNREACHABLE
    missing: frozenset[str]  # approved security updates not installed
    pending_reboot: frozenset[str]  # security updates installed, waiting for a reboot
    reachable: bool  # False: the result says nothing about the packages
    recorded: bool = True


@dataclass(frozen=True)
class OSSighting:
    client: str
    key: str
    run_id: str
    known_at: datetime
    evidence_at: datetime
    state: str  # COMPLIANT | NON_COMPLIANT | UNREACHABLE
    version: str | None


@dataclass(frozen=True)
class DriftChange:
    """One device feature put out of line on the device, and put right (None: not this year).
    Audits may never see one (changed and put right between two of them)."""

    client: str
    key: str
    feature: str
    drifted_at: datetime
    restored_at: datetime | None
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


@dataclass
class DriftEpisode:
    """One device feature as the audits saw it: from the first audit that read it drifted to the
    first later audit that read it compliant (the changes on the device in between are one
    episode: no audit read it compliant between them)."""

    client: str
    key: str
    name: str
    feature: str
    first_seen: datetime  # evidence time (the device's read) of the first audit that read it drifted
    first_run: str
    drifted_at: datetime  # the change on the device it began with
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    fixed_at: datetime | None = None  # evidence time of the first later audit that read it compliant
    fixed_run: str | None = None
    restored_at: datetime | None = None  # when the device was put right (known once fixed_at is)


@dataclass
class UpdateEpisode:
    """One host's security fix for one package: from its advisory's release until a scan finds it
    in effect (advisories for the package released meanwhile are part of it)."""

    client: str
    key: str
    host: str
    package: str
    advisories: list[str]
    released: datetime  # the first advisory's release date (midnight UTC), as the repository states it
    offered_at: datetime  # the host's mirror offered it
    needs_reboot: bool
    first_seen: datetime | None = None  # the first scan that found it missing (window scans too)
    first_run: str | None = None
    first_seen_by_window_scan: bool = False  # ... and that was a window's pre-patch scan (the record's `before`)
    installed_at: datetime | None = None
    rebooted_at: datetime | None = None
    in_effect_at: datetime | None = None  # the first scan after that found it neither missing nor waiting for a reboot
    in_effect_run: str | None = None
    in_effect_by_window_scan: bool = False
    cut_before_install: bool = False  # a window lost the host after its scan and before installing it


@dataclass
class Truth:
    """Everything the simulation knows, in plain values (`to_dict`: JSON)."""

    spec: YearSpec
    targets: list[Target] = field(default_factory=list)
    runs: list[RunInfo] = field(default_factory=list)
    drift: list[DriftSighting] = field(default_factory=list)
    hosts: list[HostSighting] = field(default_factory=list)
    os: list[OSSighting] = field(default_factory=list)
    drift_episodes: list[DriftEpisode] = field(default_factory=list)
    update_episodes: list[UpdateEpisode] = field(default_factory=list)
    drift_changes: list[DriftChange] = field(default_factory=list)

    @property
    def outage(self) -> tuple[datetime, datetime]:
        a, b = self.spec.outage
        return self.spec.start + timedelta(days=a), self.spec.start + timedelta(days=b)

    def of(self, client: str) -> Truth:
        """This client's part."""
        return Truth(self.spec, [t for t in self.targets if t.client == client],
                     [r for r in self.runs if client in r.clients], [s for s in self.drift if s.client == client],
                     [s for s in self.hosts if s.client == client], [s for s in self.os if s.client == client],
                     [e for e in self.drift_episodes if e.client == client],
                     [e for e in self.update_episodes if e.client == client],
                     [c for c in self.drift_changes if c.client == client])

    def assets(self, client: str) -> list[Asset]:
        return [t.asset() for t in self.targets if t.client == client]

    def to_dict(self) -> dict[str, Any]:
        def plain(obj: Any) -> Any:
            if isinstance(obj, datetime):
                return obj.isoformat()
            if isinstance(obj, dict):
                return {k: plain(v) for k, v in obj.items()}
            if isinstance(obj, list | tuple | frozenset | set):
                return [plain(v) for v in (sorted(obj) if isinstance(obj, frozenset | set) else obj)]
            return obj

        return plain({"spec": asdict(self.spec), "outage": list(self.outage),
                      "targets": [asdict(t) for t in self.targets],
                      "runs": [asdict(r) for r in self.runs], "drift": [asdict(s) for s in self.drift],
                      "hosts": [asdict(s) for s in self.hosts], "os": [asdict(s) for s in self.os],
                      "drift_episodes": [asdict(e) for e in self.drift_episodes],
                      "update_episodes": [asdict(e) for e in self.update_episodes],
                      "drift_changes": [asdict(c) for c in self.drift_changes]})


# -- the world ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Advisory:
    name: str
    packages: tuple[str, ...]
    reboot: bool
    released: date
    security: bool = True


@dataclass
class _Host:
    target: Target
    choice: BaselineChoice[LinuxBaseline]
    installed: dict[str, str]
    boot_id: str
    machine_id: str
    offers: list[tuple[datetime, _Advisory]]  # oldest first; popped as they reach the mirror
    pending: dict[str, PendingUpdate] = field(default_factory=dict)
    reboot_packages: set[str] = field(default_factory=set)
    open: dict[str, UpdateEpisode] = field(default_factory=dict)  # security fixes not yet seen in effect
    manual_reboot_at: datetime | None = None
    unreachable: tuple[datetime, datetime] | None = None
    frozen: tuple[datetime, datetime] | None = None
    patch_host: PatchHost | None = None

    @property
    def never_reboots(self) -> bool:
        return self.choice.current.reboot == "never"


@dataclass
class _Device:
    target: Target
    features: tuple[str, ...]
    changes: dict[str, list[DriftChange]]  # feature -> its changes, oldest first
    versions: list[tuple[datetime, str]]  # (from, version), oldest first
    down: tuple[datetime, datetime] | None = None
    seen: dict[str, DriftEpisode] = field(default_factory=dict)  # feature -> the episode the audits see open


def _bump(version: str, n: int) -> str:
    m = re.search(r"deb12u(\d+)", version)
    if m:
        return f"{version[:m.start(1)]}{int(m.group(1)) + n}{version[m.end(1):]}"
    return f"{version}+deb12u{n}"


class _Simulation:
    def __init__(self, spec: YearSpec, emit: Callable[[RunRecord], None]) -> None:
        self.spec = spec
        self.emit = emit
        self.truth = Truth(spec)
        self.rng = random.Random(f"history-year:{spec.seed}")
        baselines = load_baselines(REPO / "baselines")
        security = next(b for b in baselines.linux if b.name == "debian-security")
        db = replace(security, name="debian-security-db", reboot="never",
                     source="baselines/debian-security-db.yml:1", description="Security updates; the DBAs reboot")
        self.linux = {"if-needed": BaselineChoice(security, "client default debian-security"),
                      "never": BaselineChoice(db, "role db")}
        self.network_os: NetworkOSBaseline = next(b for b in baselines.network if b.name == "network-os")
        self.devices: list[_Device] = []
        self.hosts: list[_Host] = []
        self._job = 880_000
        self._build()

    # -- the fleet -------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.spec
        next_device, next_vm = s.id_base + 1, s.id_base + 1
        advisories = self._advisories()
        for ci, client in enumerate(s.clients):
            for i in range(s.devices + s.unaudited):
                role, platform, dtype = _DEVICE_MODELS[i % 10]
                short = {"router": "rtr", "core-switch": "core", "distribution-switch": "dist"}.get(role, "sw")
                t = Target(client, f"device:{next_device}", f"{client}-{short}{i + 1:03d}", "device", role, platform,
                           dtype, f"{client}-site{i % 4 + 1}", True, i < s.devices,
                           f"10.{ci % 200}.{i // 200}.{i % 200 + 10}")
                next_device += 1
                self.truth.targets.append(t)
                if t.audited:
                    self.devices.append(self._device(t, i))
            for i in range(s.hosts + s.unaudited):
                role = _HOST_ROLES[i % 10]
                kind = "device" if role == "backup" else "vm"
                key = f"device:{next_device}" if kind == "device" else f"vm:{next_vm}"
                if kind == "device":
                    next_device += 1
                else:
                    next_vm += 1
                t = Target(client, key, f"{client}-{role}{i + 1:03d}", kind, "server", "debian-12",
                           "poweredge-r650" if kind == "device" else None, f"{client}-site{i % 4 + 1}", False,
                           i < s.hosts, f"10.{ci % 200 + 50}.{i // 200}.{i % 200 + 10}")
                self.truth.targets.append(t)
                if t.audited:
                    self.hosts.append(self._host(t, i, advisories))

    def _device(self, t: Target, i: int) -> _Device:
        rng = random.Random(f"{self.spec.seed}:device:{t.key}")
        feats = _IOS_FEATURES if t.platform == "cisco_ios" else _EOS_FEATURES
        if t.role == "router":
            feats = (*feats, "pci-login")
        start, end = self.spec.start, self.spec.end
        changes: dict[str, list[DriftChange]] = {}
        for f in feats:
            found: list[DriftChange] = []
            at = start + timedelta(days=rng.expovariate(_DRIFT_RATE[f]))
            while at < end:
                r = rng.random()
                delay = (timedelta(hours=rng.uniform(2, 20)) if r < 0.3 else
                         timedelta(days=rng.uniform(1, 2)) if r < 0.6 else
                         timedelta(days=rng.uniform(2, 7)) if r < 0.8 else
                         timedelta(days=rng.uniform(7, 45)) if r < 0.92 else None)
                missing, extra = _DRIFT_LINES[f]
                c = DriftChange(t.client, t.key, f, at, at + delay if delay else None,
                                tuple(x.format(name=t.name, site=t.site) for x in missing), extra)
                found.append(c)
                self.truth.drift_changes.append(c)
                if c.restored_at is None:
                    break
                at = c.restored_at + timedelta(days=rng.expovariate(_DRIFT_RATE[f]))
            changes[f] = found
        table = OS_VERSIONS[t.device_type or ""]
        first = rng.choice(table["old"] if rng.random() < 0.4 else table["compliant"])
        versions = [(start - timedelta(days=400), first)]
        if versions[0][1] in table["old"] and rng.random() < 0.7:
            versions.append((start + timedelta(days=rng.uniform(20, 330)), rng.choice(table["compliant"])))
        down = None
        if i % 10 == _FLAKY_DEVICE:
            d0 = start + timedelta(days=rng.randrange(10, self.spec.days - 10), hours=rng.uniform(0, 24))
            down = (d0, d0 + timedelta(days=5))
        return _Device(t, feats, changes, versions, down)

    def _advisories(self) -> list[_Advisory]:
        rng = random.Random(f"{self.spec.seed}:advisories")
        out: list[_Advisory] = []
        last: dict[tuple[str, ...], int] = {}
        n = 0
        for day in range(self.spec.days):
            for _ in range(3):  # about four a month
                if rng.random() >= 0.045:
                    continue
                packages, reboot = rng.choice(_ADVISORIES)
                d = day
                if not self.spec.window_first_sightings:
                    while (self.spec.start + timedelta(days=d)).weekday() not in (6, 0):  # Sunday, Monday
                        d -= 1
                if d < 0 or d - last.get(packages, -999) < _ADVISORY_SPACING:
                    continue
                last[packages] = d
                n += 1
                out.append(_Advisory(f"DSA-{5800 + n}-1", packages, reboot,
                                     (self.spec.start + timedelta(days=d)).date()))
            if rng.random() < 0.01:
                out.append(_Advisory(f"DLU-{100 + day}", (rng.choice(_OTHER_UPDATES),), False,
                                     (self.spec.start + timedelta(days=day)).date(), security=False))
        return sorted(out, key=lambda a: a.released)

    def _host(self, t: Target, i: int, advisories: list[_Advisory]) -> _Host:
        rng = random.Random(f"{self.spec.seed}:host:{t.key}")
        role = _HOST_ROLES[i % 10]
        named = {p for packages, _ in _ADVISORIES for p in packages} | set(_OTHER_UPDATES)
        base = BASE_PACKAGES if self.spec.full_package_lists else {p: v for p, v in BASE_PACKAGES.items() if p in named}
        installed = {**base, **_ROLE_PACKAGES[role]}
        offers = []
        for a in advisories:
            if any(p in installed for p in a.packages):
                midnight = datetime.combine(a.released, time(), UTC)
                offers.append((midnight + timedelta(hours=rng.uniform(1, 20)), a))
        offers.sort(key=lambda o: o[0])
        h = _Host(t, self.linux["never" if i % 10 == _REBOOT_NEVER else "if-needed"], installed,
                  _hex(rng, 32, "-"), _hex(rng, 32), offers)
        days = self.spec.days
        if i % 10 == _UNREACHABLE:
            week = rng.randrange(4, max(5, days // 7 - 6))
            if self.spec.window_first_sightings:
                begin = self.spec.start + timedelta(days=week * 7 + rng.uniform(0, 7))
            else:  # whole weeks, Sunday to Sunday: the week's scan and window alike
                begin = self._sunday(self.spec.start + timedelta(days=week * 7))
            h.unreachable = (begin, begin + timedelta(days=rng.choice((14, 21))))
        if i % 10 == _FROZEN:
            begin = self.spec.start + timedelta(days=rng.randrange(240, 290))
            h.frozen = (begin, begin + timedelta(days=42))
        h.patch_host = PatchHost(t.asset(), h.choice, t.name)
        return h

    def _sunday(self, at: datetime) -> datetime:
        d = at.date()
        while d.weekday() != 6:
            d += timedelta(days=1)
        return datetime.combine(d, time(), UTC)

    # -- the schedule ----------------------------------------------------------------------------
    def run(self) -> Truth:
        s = self.spec
        outage = self.truth.outage
        for day in range(s.days):
            d0 = s.start + timedelta(days=day)
            if outage[0] <= d0 < outage[1]:
                continue
            pending: list[RunRecord] = []
            pending.append(self._drift_run(d0 + timedelta(hours=2, seconds=self.rng.uniform(0, 600))))
            if d0.weekday() == 0 and d0.day <= 7:
                pending.append(self._os_run(d0 + timedelta(hours=3, seconds=self.rng.uniform(0, 300))))
            if d0.weekday() == 2:
                pending.append(self._scan_run(d0 + timedelta(hours=10, seconds=self.rng.uniform(0, 300))))
            if d0.weekday() == 5:
                for ci, client in enumerate(s.clients):
                    at = d0 + timedelta(hours=20, minutes=25 * (ci % 8), seconds=self.rng.uniform(0, 60))
                    pending.append(self._window_run(client, at))
            for record in sorted(pending, key=lambda r: r.finished_at):
                self.truth.runs.append(RunInfo(record.id, record.kind, tuple(sorted(record.clients())),
                                               record.started_at, record.finished_at))
                self.emit(record)
        self.truth.drift.sort(key=lambda o: (o.known_at, o.key))
        self.truth.hosts.sort(key=lambda o: (o.known_at, o.key, o.evidence_at))
        self.truth.os.sort(key=lambda o: (o.known_at, o.key))
        for h in self.hosts:  # episodes still open at the year's end
            self.truth.update_episodes.extend(h.open.values())
        self.truth.update_episodes.sort(key=lambda e: (e.released, e.host, e.package))
        self.truth.drift_episodes.sort(key=lambda e: (e.first_seen, e.name, e.feature))
        self.truth.drift_changes.sort(key=lambda c: (c.drifted_at, c.key, c.feature))
        return self.truth

    def _run_id(self, kind: str, at: datetime) -> str:
        return f"{kind}-{at:%Y%m%dT%H%M%SZ}-{self.rng.getrandbits(16):04x}"

    def _meta(self, command: str) -> dict[str, Any]:
        self._job += 1
        return {"command": command,
                "versions": {"mspctl": MSPCTL_VERSION, "repository": f"git:{self.rng.getrandbits(160):040x}"},
                "who": {"ci": "gitlab", "host": "runner-01", "job": str(self._job), "pipeline": str(self._job // 4),
                        "project": "msp/netops", "url": f"https://gitlab.example.net/msp/netops/-/jobs/{self._job}",
                        "user": "msp-ci"}}

    # -- drift -----------------------------------------------------------------------------------
    def _drift_run(self, started: datetime) -> RunRecord:
        run_id = self._run_id("drift", started)
        reads: list[tuple[_Device, datetime | None]] = []
        for n, d in enumerate(self.devices):
            read = started + timedelta(seconds=2 + n * 0.35 + self.rng.uniform(0, 0.3))
            failed = (d.down is not None and d.down[0] <= read < d.down[1]) or self.rng.random() < 0.01
            reads.append((d, None if failed else read))
        finished = started + timedelta(seconds=4 + len(self.devices) * 0.35)
        results: list[DeviceDrift] = []
        for d, at in reads:
            asset = d.target.asset()
            if at is None:
                results.append(DeviceDrift(asset, "failed", source="live", error_code="DeviceConnectionError",
                                           error=f"{d.target.name}: cannot connect to {d.target.address}:22: "
                                                 "TCP connection to device failed."))
                self.truth.drift.append(DriftSighting(d.target.client, d.target.key, run_id, finished, finished,
                                                      "failed", {}))
                continue
            feats = []
            for f in d.features:
                c = next((c for c in d.changes[f]
                          if c.drifted_at <= at and (c.restored_at is None or at < c.restored_at)), None)
                ep = d.seen.get(f)
                if c is not None:
                    if ep is None:
                        ep = d.seen[f] = DriftEpisode(d.target.client, d.target.key, d.target.name, f, at, run_id,
                                                      c.drifted_at, c.missing, c.extra)
                        self.truth.drift_episodes.append(ep)
                    feats.append(FeatureResult(f, "drift", c.missing, c.extra,
                                               tuple(f"no {x}" for x in c.extra) + c.missing))
                else:
                    feats.append(FeatureResult(f, "compliant"))
                    if ep is not None:  # the first audit to read it right again
                        ep.fixed_at, ep.fixed_run = at, run_id
                        ep.restored_at = max(x.restored_at for x in d.changes[f]
                                             if x.restored_at is not None and x.restored_at <= at)
                        del d.seen[f]
            status = "drift" if any(f.status == "drift" for f in feats) else "compliant"
            results.append(DeviceDrift(asset, status, feats, "live", at, (finished - at).total_seconds()))
            self.truth.drift.append(DriftSighting(d.target.client, d.target.key, run_id, finished, at, status,
                                                  {f.feature: f.status for f in feats}))
        run = DriftRun(run_id, started, finished, results)
        return RunRecord(run_id, "drift", started, finished, {"source": "live", "interrupted": None}, run.summary,
                         {r.asset.key: (r.status, r.to_dict()) for r in results}, self._meta("mspctl drift -A"))

    # -- patches ---------------------------------------------------------------------------------
    def _advance(self, h: _Host, at: datetime) -> None:
        """Offers and manual reboots up to `at`."""
        while h.offers and h.offers[0][0] <= at:
            offered, a = h.offers.pop(0)
            for p in a.packages:
                if p not in h.installed:
                    continue
                current = h.pending[p].candidate if p in h.pending else h.installed[p]
                h.pending[p] = PendingUpdate(p, h.installed[p], _bump(current, 1),
                                             "security" if a.security else "other",
                                             "bookworm-security" if a.security else "bookworm-updates",
                                             "Debian-Security:12/stable-security" if a.security
                                             else "Debian:12/stable-updates", a.released, a.reboot)
                if not a.security:
                    continue
                ep = h.open.get(p)
                if ep is None:
                    h.open[p] = UpdateEpisode(h.target.client, h.target.key, h.target.name, p, [a.name],
                                              datetime.combine(a.released, time(), UTC), offered, a.reboot)
                else:
                    ep.advisories.append(a.name)
                    ep.needs_reboot = ep.needs_reboot or a.reboot
        if h.manual_reboot_at is not None and h.manual_reboot_at <= at:
            self._reboot(h, h.manual_reboot_at)
            h.manual_reboot_at = None

    def _reboot(self, h: _Host, at: datetime) -> None:
        for p in h.reboot_packages:
            ep = h.open.get(p)
            if ep is not None and p not in h.pending:
                ep.rebooted_at = at
        h.reboot_packages.clear()
        h.boot_id = _hex(random.Random(f"{h.target.key}:{at.isoformat()}"), 32, "-")

    def _reachable(self, h: _Host, at: datetime, chance: float) -> bool:
        if h.unreachable and h.unreachable[0] <= at < h.unreachable[1]:
            return False
        return self.rng.random() >= chance

    def _scan(self, h: _Host, at: datetime, reachable: bool) -> HostScan:
        if not reachable:
            return HostScan(h.target.name, at, reachable=False,
                            error=f"Failed to connect to the host via ssh: ssh: connect to host {h.target.address} "
                                  "port 22: Connection timed out")
        return HostScan(h.target.name, at, os_family="debian", distribution="debian", distribution_version="12",
                        package_manager="apt", installed=dict(h.installed), updates=dict(h.pending),
                        reboot_required=bool(h.reboot_packages), reboot_packages=tuple(sorted(h.reboot_packages)),
                        boot_id=h.boot_id, machine_id=h.machine_id)

    def _judge(self, h: _Host, scan: HostScan, now: datetime, run_id: str, kind: str, known_at: datetime,
               recorded: bool = True) -> HostCompliance:
        """mspctl's verdict on `scan`, checked against the world's; the sighting goes into the truth."""
        comp = evaluate(scan, h.choice, now=now, stale_after=STALE_AFTER)
        missing = frozenset(p for p, u in h.pending.items() if u.classification == "security")
        waiting = frozenset(p for p in h.reboot_packages if p not in h.pending)
        if not scan.reachable:
            state = "UNREACHABLE"
        else:
            state = "NON_COMPLIANT" if missing else "PENDING_REBOOT" if waiting else "COMPLIANT"
            got = {p.name: p.state for p in comp.packages}
            want = {**dict.fromkeys(missing, "MISSING"), **dict.fromkeys(waiting, "INSTALLED_PENDING_REBOOT")}
            assert {p: s for p, s in got.items() if s in ("MISSING", "INSTALLED_PENDING_REBOOT")} == want, \
                (h.target.name, got, want)
        assert comp.state == state, (h.target.name, comp.state, state, comp.reason)
        self._sighting(h, HostSighting(h.target.client, h.target.key, h.target.name, run_id, kind, known_at,
                                       scan.scanned_at, state, missing if scan.reachable else frozenset(),
                                       waiting if scan.reachable else frozenset(), scan.reachable, recorded))
        return comp

    def _sighting(self, h: _Host, s: HostSighting) -> None:
        self.truth.hosts.append(s)
        if not s.reachable:
            return
        out = s.missing | s.pending_reboot
        for p, ep in list(h.open.items()):
            if p in out:
                if ep.first_seen is None:
                    ep.first_seen, ep.first_run, ep.first_seen_by_window_scan = s.evidence_at, s.run_id, not s.recorded
            elif ep.offered_at <= s.evidence_at:
                ep.in_effect_at, ep.in_effect_run, ep.in_effect_by_window_scan = s.evidence_at, s.run_id, not s.recorded
                self.truth.update_episodes.append(h.open.pop(p))

    def _not_applicable(self, clients: Iterable[str]) -> dict[str, str]:
        wanted = set(clients)
        return {d.target.name: f"network device (platform {d.target.platform}): its OS is checked with "
                               "`mspctl patch os`" for d in self.devices if d.target.client in wanted}

    def _scan_run(self, started: datetime) -> RunRecord:
        run_id = self._run_id("patch-scan", started)
        finished = started + timedelta(seconds=8 + 4.5 * (len(self.hosts) // 20 + 1))
        chance = 0.02 if self.spec.window_first_sightings else 0.0
        results = []
        for n, h in enumerate(self.hosts):
            at = started + timedelta(seconds=3 + 4.5 * (n // 20) + self.rng.uniform(0, 2))
            self._advance(h, at)
            scan = self._scan(h, at, self._reachable(h, at, chance))
            comp = self._judge(h, scan, at + timedelta(seconds=1.5), run_id, "patch-scan", finished)
            assert h.patch_host is not None
            results.append(HostResult(h.patch_host, comp, scan=scan))
        run = PatchRun(run_id, "patch-scan", started, finished, results, params={"filter": "(no filter)"},
                       not_applicable=[])
        record = run.record()
        record.params["not_applicable"] = self._not_applicable(self.spec.clients)
        record.meta = self._meta("mspctl patch scan -A --junit scan.xml")
        return record

    def _window_run(self, client: str, started: datetime) -> RunRecord:
        run_id = self._run_id("patch-window", started)
        hosts = [h for h in self.hosts if h.target.client == client
                 and not (h.frozen and h.frozen[0] <= started < h.frozen[1])]
        assert all(h.patch_host is not None for h in hosts)
        done: list[HostResult] = []
        todo: list[tuple[_Host, HostScan, HostCompliance]] = []
        for n, h in enumerate(hosts):
            at = started + timedelta(seconds=5 + 4.5 * (n // 20) + self.rng.uniform(0, 2))
            self._advance(h, at)
            scan = self._scan(h, at, self._reachable(h, at, 0.02))
            comp = evaluate(scan, h.choice, now=at + timedelta(seconds=2), stale_after=STALE_AFTER)
            needs_work = comp.install or comp.reboot or comp.state == "PENDING_REBOOT"
            if not needs_work:  # its result is this scan
                comp = self._judge(h, scan, at + timedelta(seconds=2), run_id, "patch-window", started)
                status = "unreachable" if comp.state == "UNREACHABLE" else "compliant"
                done.append(HostResult(h.patch_host, comp, status=status, scan=scan,
                                       error=scan.error if status == "unreachable" else None))
            else:
                todo.append((h, scan, comp))
        t = started + timedelta(seconds=10 + 4.5 * (len(hosts) // 20 + 1))
        patched: list[HostResult] = []
        for batch_no, batch in enumerate((todo[:1], todo[1:]) if len(todo) > 1 else (todo,), 1):
            if not batch:
                continue
            t_install = t + timedelta(seconds=90)
            for h, before_scan, before in batch:
                patched.append(self._patch(h, before_scan, before, batch_no, t_install, run_id))
            t = t_install + timedelta(seconds=150)
        finished = t + timedelta(seconds=20)
        results = done + patched
        self._settle(run_id, finished)
        run = PatchRun(run_id, "patch-window", started, finished, sorted(results, key=lambda r: r.host.name),
                       applied=True, params={"client": client, "window": "inventory/clients.yml:4",
                                             "window_state": f"open until {started + timedelta(hours=4):%Y-%m-%d %H:%M}"
                                                             " UTC",
                                             "forced": False, "resumed_hosts": [], "resume_rejected": [],
                                             "recovered": {}, "in_flight_unread": [], "canary": 1, "batch_size": 0,
                                             "max_fail_percent": 25})
        record = run.record()
        record.params["not_applicable"] = self._not_applicable((client,))
        record.params["writeback"] = "done"
        record.meta = self._meta(f"mspctl patch window -c {client} --yes --junit window.xml")
        return record

    def _settle(self, run_id: str, finished: datetime) -> None:
        """Sightings of a window become known when it ends."""
        for i in range(len(self.truth.hosts) - 1, -1, -1):
            s = self.truth.hosts[i]
            if s.run_id != run_id:
                break
            self.truth.hosts[i] = replace(s, known_at=finished)

    def _patch(self, h: _Host, before_scan: HostScan, before: HostCompliance, batch_no: int, at: datetime,
               run_id: str) -> HostResult:
        """One host of a batch: its install (and reboot), or what stopped it."""
        assert h.patch_host is not None
        ph = h.patch_host
        # The pre-patch scan: the record keeps it as `before` only.
        self._judge(h, before_scan, before_scan.scanned_at, run_id, "patch-window", at, recorded=False)
        roll = self.rng.random() if batch_no > 1 else 1.0  # the canary never fails (it would stop the rollout)
        if self.spec.window_cuts and roll < 0.04:
            reason = (f"precheck: facts: Task failed: Failed to connect to the host via ssh: ssh: connect to host "
                      f"{h.target.address} port 22: Connection timed out")
            for p in h.open:
                h.open[p].cut_before_install = True
            comp = HostCompliance(ph.name, "UNREACHABLE", ph.baseline, reason=reason)
            self.truth.hosts.append(HostSighting(h.target.client, h.target.key, h.target.name, run_id,
                                                 "patch-window", at, before_scan.scanned_at, "UNREACHABLE",
                                                 frozenset(), frozenset(), False))
            return HostResult(ph, comp, before, "unreachable", batch_no, failed_step="precheck",
                              error=reason + " (it could not be read again: packages it got before that are unknown)",
                              scan=before_scan)
        if roll < 0.07:  # the install failed; the host is read again: nothing changed
            again = self._scan(h, at + timedelta(seconds=30), True)
            comp = self._judge(h, again, at + timedelta(seconds=31), run_id, "patch-window", at)
            return HostResult(ph, comp, before, "failed", batch_no, failed_step="install",
                              error="install: packages: E: Sub-process /usr/bin/dpkg returned an error code (1)",
                              scan=again)
        installed = tuple(before.install)
        for item in installed:
            name, version = item.split("=", 1)
            update = h.pending.pop(name)
            assert update.candidate == version
            h.installed[name] = version
            ep = h.open.get(name)
            if ep is not None:
                ep.installed_at = at
            if update.reboot_required:
                h.reboot_packages.add(name)
        rebooted = False
        done_at = at + timedelta(seconds=60)
        if h.reboot_packages and not h.never_reboots:
            self._reboot(h, done_at)
            rebooted = True
            done_at += timedelta(seconds=60)
        elif h.reboot_packages and h.manual_reboot_at is None:
            h.manual_reboot_at = self._manual_reboot(at)
        after = self._scan(h, done_at + timedelta(seconds=10), True)
        comp = self._judge(h, after, done_at + timedelta(seconds=11), run_id, "patch-window", at)
        status = "patched" if comp.state == "COMPLIANT" else "incomplete"
        return HostResult(ph, comp, before, status, batch_no, installed, rebooted,
                          error=comp.reason if status == "incomplete" else None, scan=after,
                          patched_at=done_at if (installed or rebooted) else None)

    def _manual_reboot(self, after: datetime) -> datetime:
        if self.spec.window_first_sightings:
            return after + timedelta(days=self.rng.uniform(1, 25))
        d = self._sunday(after + timedelta(days=self.rng.choice((0, 7, 14, 21))))
        return d + timedelta(days=self.rng.choice((0, 1)), hours=self.rng.uniform(9, 17))

    # -- network OS ------------------------------------------------------------------------------
    def _os_run(self, started: datetime) -> RunRecord:
        run_id = self._run_id("patch-os", started)
        finished = started + timedelta(seconds=3 + len(self.devices) * 0.2)
        out: list[DeviceOS] = []
        for n, d in enumerate(self.devices):
            at = started + timedelta(seconds=1 + n * 0.2)
            t = d.target
            asset = t.asset()
            version = next(v for since, v in reversed(d.versions) if since <= at)
            if self.rng.random() < 0.02 or (d.down is not None and d.down[0] <= at < d.down[1]):
                comp = evaluate_network(t.name, t.platform, t.device_type, None, self.network_os, scanned_at=finished,
                                        now=finished, stale_after=STALE_AFTER, reachable=False,
                                        error=f"{t.name}: cannot connect to {t.address}:22: TCP connection to device "
                                              "failed.")
                state, shown = "UNREACHABLE", None
            else:
                comp = evaluate_network(t.name, t.platform, t.device_type, version, self.network_os, scanned_at=at,
                                        now=finished, stale_after=STALE_AFTER)
                state = "COMPLIANT" if version in OS_VERSIONS[t.device_type or ""]["compliant"] else "NON_COMPLIANT"
                shown = version
            assert comp.state == state, (t.name, version, comp.state, comp.reason)
            out.append(DeviceOS(asset, comp, shown))
            self.truth.os.append(OSSighting(t.client, t.key, run_id, finished, at if shown else finished, state, shown))
        run = OSRun(run_id, started, finished, out)
        return RunRecord(run_id, "patch-os", started, finished, {"filter": "(no filter)"}, run.summary,
                         {d.asset.key: (d.compliance.state, {**d.to_dict(), "compliance": d.compliance.to_dict()})
                          for d in out}, self._meta("mspctl patch os -A"))


def _hex(rng: random.Random, n: int, dash: str = "") -> str:
    text = f"{rng.getrandbits(4 * n):0{n}x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}" if dash else text


# -- entry points ------------------------------------------------------------------------------

def simulate(spec: YearSpec, emit: Callable[[RunRecord], None]) -> Truth:
    """Play `spec`'s year: each finished run to `emit`, in the order the runs finished; returns
    the ground truth."""
    return _Simulation(spec, emit).run()


def inventory(spec: YearSpec) -> list[Target]:
    """The inventory `spec`'s year covers (every client's devices and servers), without playing it."""
    return _Simulation(spec, lambda _: None).truth.targets


def generate(spec: YearSpec) -> tuple[list[RunRecord], Truth]:
    """The year's records in memory (oldest first), and the truth."""
    records: list[RunRecord] = []
    truth = simulate(spec, records.append)
    return records, truth


def write_year(location: Path | str, spec: YearSpec) -> Truth:
    """Write the year through `RecordStore.save` into the records at `location` (a SQLite path or
    a database URL), one record at a time; returns the truth."""
    from mspctl.records import RecordStore

    store = RecordStore(location)
    try:
        return simulate(spec, store.save)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.history_year", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", required=True, help="the SQLite records file (or a database URL) to write into")
    p.add_argument("--clients", default="acme",
                   help="comma-separated client slugs, or a number N: client01..clientN (default acme)")
    p.add_argument("--devices", type=int, default=100, help="network devices per client (default 100)")
    p.add_argument("--hosts", type=int, default=100, help="servers per client (default 100)")
    p.add_argument("--start", default="2026-01-01", help="the first day (UTC, default 2026-01-01)")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--truth", help="also write the ground truth here (JSON)")
    args = p.parse_args(argv)
    clients = (tuple(f"client{i + 1:02d}" for i in range(int(args.clients))) if args.clients.isdigit()
               else tuple(c.strip() for c in args.clients.split(",") if c.strip()))
    start = datetime.combine(date.fromisoformat(args.start), time(), UTC)
    spec = YearSpec(clients, args.devices, args.hosts, start, args.days, args.seed)
    truth = write_year(args.records, spec)
    if args.truth:
        Path(args.truth).write_text(json.dumps(truth.to_dict()))
    print(json.dumps({"records": args.records, "runs": len(truth.runs), "clients": list(clients),
                      "drift_episodes": len(truth.drift_episodes), "update_episodes": len(truth.update_episodes)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
