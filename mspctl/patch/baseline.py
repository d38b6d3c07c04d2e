"""Patch baselines as code: YAML files in the MSP repository's ``baselines/`` directory.

One baseline document per file (``*.yml``/``*.yaml``), either ``kind: linux`` (the default: which
package updates a server must have) or ``kind: network-os`` (which OS versions a network device
may run). Several files may hold versions of the same baseline name; dates decide which version
is current, and a grace period lets hosts compliant with the previous version stay compliant
while a new version rolls out. Every value keeps its YAML position, so each error names
``file:line``. See docs/patch.md for the file format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal, TypedDict, get_args

import yaml

from mspctl.errors import ConfigError
from mspctl.inventory.platforms import os_family as platform_os_family
from mspctl.model import Asset
from mspctl.patch.model import RebootPolicy
from mspctl.patch.versions import compare, compare_os
from mspctl.repo import YamlDoc

Approval = Literal["security", "all"]
RejectAction = Literal["block", "allow-as-dependency"]
Kind = Literal["linux", "network-os"]

_SLUG = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_NULL_TAG = "tag:yaml.org,2002:null"
_COMMON_KEYS = frozenset({"kind", "name", "version", "description", "valid_from", "valid_until", "grace_days",
                          "assign"})
_LINUX_KEYS = _COMMON_KEYS | {"os_family", "approval", "approved", "rejected", "minimum_versions", "pins",
                              "exclude", "reboot"}
_NETWORK_KEYS = _COMMON_KEYS | {"platforms"}
_APPROVAL_KEYS = frozenset({"classification", "approve_after_days"})
# A delay longer than this approves nothing a host could be missing: a typo, not a policy.
MAX_APPROVE_AFTER_DAYS = 3650
# Names unlike each other: a glob matching all of them matches every package.
_PROBE_NAMES = ("a", "zz9", "libc6", "openssl", "linux-image-6.1.0-28-amd64", "python3.11-minimal", "x-y+z.q")
_REJECTED_KEYS = frozenset({"name", "action"})
_RULE_KEYS = frozenset({"approved", "minimum"})
_ASSIGN_KEYS = ("patch_groups", "tags", "roles", "sites", "clients")  # most specific first
_LEVEL = {"patch_groups": "patch group", "tags": "tag", "roles": "role", "sites": "site", "clients": "client"}
_RPM_FAMILIES = frozenset({"redhat", "suse"})


class BaselineError(ConfigError):
    """A baseline file is invalid (the message starts with ``file:line:``), or no baseline can be chosen."""

    code = "MSP-PATCH-001"


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which hosts a baseline applies to: a host matches a field when any listed value matches."""

    clients: tuple[str, ...] = ()       # tenant slugs
    sites: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    patch_groups: tuple[str, ...] = ()  # the ``patch_group`` custom field


@dataclass(frozen=True, slots=True)
class RejectedPackage:
    """A package (name or fnmatch glob) that must not be installed, unless only as a dependency."""

    name: str
    action: RejectAction = "block"

    def matches(self, package: str) -> bool:
        return fnmatchcase(package, self.name)


@dataclass(frozen=True, slots=True)
class OSRule:
    """Allowed OS versions of one platform: any `approved` version, or at least `minimum`.

    `device_types` (NetBox device type slug -> rule) replace the platform's rule for that type.
    """

    approved: tuple[str, ...] = ()
    minimum: str | None = None
    device_types: dict[str, OSRule] = field(default_factory=dict)

    def complies(self, version: str) -> bool:
        """True when `version` is approved or at least the minimum."""
        if version in self.approved:
            return True
        return self.minimum is not None and compare_os(version, self.minimum) >= 0

    @property
    def required(self) -> str | None:
        """What to upgrade to: the minimum, else the highest approved version."""
        if self.minimum is not None:
            return self.minimum
        best: str | None = None
        for version in self.approved:
            if best is None or compare_os(version, best) > 0:
                best = version
        return best


@dataclass(frozen=True, slots=True)
class _Versioned:
    """What both kinds of baseline share: identity, where it is defined, validity and assignment."""

    name: str
    version: str
    source: str                   # file:line of the document
    description: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    grace_days: int = 0
    assign: Assignment = field(default_factory=Assignment)

    @property
    def label(self) -> str:
        """``name@version``, as reports show it."""
        return f"{self.name}@{self.version}"

    @property
    def grace_until(self) -> date | None:
        """The last day hosts compliant with this version still count as compliant (None: no end)."""
        return self.valid_until + timedelta(days=self.grace_days) if self.valid_until else None

    def valid_on(self, day: date) -> bool:
        """True when `day` lies within valid_from..valid_until (both inclusive, either open)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until)

    def dates(self) -> str:
        """The validity period as ``FROM..UNTIL`` (``always`` / ``open-ended`` when not set)."""
        start = self.valid_from.isoformat() if self.valid_from else "always"
        end = self.valid_until.isoformat() if self.valid_until else "open-ended"
        return f"{start}..{end}"


@dataclass(frozen=True, slots=True)
class LinuxBaseline(_Versioned):
    """Which package updates a Linux server must have (``kind: linux``)."""

    os_family: tuple[str, ...] = ()          # Ansible os_family values; empty: any
    classification: Approval = "security"    # security: only security updates are approved
    approve_after_days: int = 0              # approve an update this long after its release date
    approved: tuple[str, ...] = ()           # globs approved whatever the classification
    rejected: tuple[RejectedPackage, ...] = ()
    minimum_versions: dict[str, str] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)   # hold exactly this version
    exclude: tuple[str, ...] = ()            # globs never touched, never reported
    reboot: RebootPolicy = "if-needed"

    def excluded(self, package: str) -> bool:
        return any(fnmatchcase(package, glob) for glob in self.exclude)

    def rejection(self, package: str) -> RejectedPackage | None:
        return next((r for r in self.rejected if r.matches(package)), None)

    def listed_approved(self, package: str) -> bool:
        return any(fnmatchcase(package, glob) for glob in self.approved)


@dataclass(frozen=True, slots=True)
class NetworkOSBaseline(_Versioned):
    """Which OS versions network devices may run, per platform (``kind: network-os``)."""

    platforms: dict[str, OSRule] = field(default_factory=dict)

    def rule_for(self, platform: str | None, device_type: str | None) -> OSRule | None:
        """The rule for a device: its device type's, else its platform's; None when not covered."""
        rule = self.platforms.get(platform or "")
        if rule is None:
            return None
        if device_type and device_type in rule.device_types:
            return rule.device_types[device_type]
        return rule if rule.approved or rule.minimum else None


type Baseline = LinuxBaseline | NetworkOSBaseline


@dataclass(frozen=True)  # no slots: typing sets __orig_class__ on BaselineChoice[...](...) instances
class BaselineChoice[B: (LinuxBaseline, NetworkOSBaseline)]:
    """The baseline a host is measured against, and why that one."""

    current: B                       # what a patch run patches to
    reason: str                      # e.g. "patch group servers-a (baselines/debian-all.yml:1)"
    also_compliant: tuple[B, ...] = ()  # older versions still within valid_until + grace_days


@dataclass(frozen=True, slots=True)
class BaselineSet:
    """Every baseline of the MSP repository, all versions, in file order."""

    linux: tuple[LinuxBaseline, ...] = ()
    network: tuple[NetworkOSBaseline, ...] = ()

    def names(self) -> list[str]:
        """Every baseline name, sorted."""
        return sorted({b.name for b in (*self.linux, *self.network)})

    def describe(self) -> list[dict[str, str]]:
        """One row per baseline version for listings: name, version, kind, valid, rules, source."""
        rows = []
        every: list[Baseline] = [*self.linux, *self.network]
        for b in sorted(every, key=lambda b: (b.name, _start(b), b.version)):
            if isinstance(b, LinuxBaseline):
                kind = "linux"
                rules = [f"{b.classification} updates", f"reboot {b.reboot}"]
                if b.approve_after_days:
                    rules.append(f"after {b.approve_after_days}d")
                rules += [f"{len(v)} {what}" for what, v in (("approved", b.approved), ("rejected", b.rejected),
                                                               ("minimum", b.minimum_versions), ("pins", b.pins),
                                                               ("excluded", b.exclude)) if v]
            else:
                kind = "network-os"
                rules = sorted(b.platforms)
            valid = b.dates()
            if b.grace_days:
                valid += f" (+{b.grace_days}d grace)"
            rows.append({"name": b.name, "version": b.version, "kind": kind, "valid": valid,
                         "rules": ", ".join(rules), "source": b.source})
        return rows

    def for_asset(self, asset: Asset, *, client_default: str | None, today: date,
                  os_family: str | None = None) -> BaselineChoice[LinuxBaseline] | None:
        """The Linux baseline for server `asset` on `today`.

        Precedence: ``config_context["patch_baseline"]`` > ``custom_fields["patch_baseline"]`` >
        assignment rules (patch group > tag > role > site > client) > `client_default` (the
        client's ``baseline`` in clients.yml). Only baselines whose ``os_family`` includes the
        host's are candidates; `os_family` is the scan's ``ansible_os_family`` when known, else
        it is derived from the asset's platform (unknown: every family fits). A client default
        for another family selects nothing.
        Returns None when nothing is assigned. Raises BaselineError for an unknown name, an
        explicit name of the wrong kind or family, two names matching at the same specificity,
        or a name with no version valid on `today`.
        """
        # the platform's OS family as the one normaliser reads it (``ubuntu-linux-20-04`` -> debian)
        family = (os_family or platform_os_family(asset.platform or "") or "").lower()

        def fits(b: LinuxBaseline) -> bool:
            return not family or not b.os_family or family in b.os_family

        return _select(self.linux, self._other_kind(self.network), asset, client_default, today, "linux", fits,
                       f"os_family {family}")

    def for_network_device(self, asset: Asset, *, client_default: str | None = None,
                           today: date) -> BaselineChoice[NetworkOSBaseline] | None:
        """The network-OS baseline for device `asset` on `today`; same precedence as `for_asset`.

        A `client_default` naming a Linux baseline (the usual case: clients.yml's ``baseline`` is
        for servers) selects nothing. Returns None when nothing is assigned; raises BaselineError
        as `for_asset` does.
        """
        return _select(self.network, self._other_kind(self.linux), asset, client_default, today, "network-os",
                       lambda _: True, "")

    @staticmethod
    def _other_kind(baselines: Iterable[Baseline]) -> dict[str, str]:
        return {b.name: b.source for b in baselines}


def _select[B: (LinuxBaseline, NetworkOSBaseline)](
        baselines: tuple[B, ...], other_kind: dict[str, str], asset: Asset, client_default: str | None,
        today: date, kind: str, fits: Callable[[B], bool], fit_label: str) -> BaselineChoice[B] | None:
    by_name: dict[str, list[B]] = {}
    for b in baselines:
        by_name.setdefault(b.name, []).append(b)

    def known(name: str, where: str) -> list[B]:
        if name in by_name:
            return by_name[name]
        if name in other_kind:
            raise BaselineError(f"{asset.name}: {where} names {name!r}, which is not a {kind} baseline "
                                f"({other_kind[name]})")
        names = sorted({*by_name, *other_kind})
        raise BaselineError(f"{asset.name}: {where} names unknown baseline {name!r}",
                            hint=f"known: {', '.join(names) or 'none'}")

    for where, values in (("config context patch_baseline", asset.config_context or {}),
                          ("custom field patch_baseline", asset.custom_fields)):
        name = values.get("patch_baseline")
        if name in (None, ""):
            continue
        if not isinstance(name, str):
            raise BaselineError(f"{asset.name}: {where} must be a baseline name, not {name!r}")
        choice = _choose(name, known(name, where), today, f"{where} = {name}")
        if not fits(choice.current):
            raise BaselineError(f"{asset.name}: {where} names {choice.current.label} ({choice.current.source}), "
                                f"which is not for {fit_label}")
        return choice

    group = asset.custom_fields.get("patch_group")
    host_values: dict[str, list[str | None]] = {
        "patch_groups": [group if isinstance(group, str) else None], "tags": list(asset.tags),
        "roles": [asset.role], "sites": [asset.site], "clients": [asset.client]}
    for key in _ASSIGN_KEYS:
        matches: dict[str, tuple[B, str]] = {}
        for name, versions in by_name.items():
            governing = _current(versions, today) or max(versions, key=_start)
            if not fits(governing):
                continue
            listed = getattr(governing.assign, key)
            hit = next((v for v in host_values[key] if v and v in listed), None)
            if hit is not None:
                matches[name] = (governing, hit)
        if len(matches) > 1:
            found = "; ".join(f"{n} by {_LEVEL[key]} {hit} ({b.source})" for n, (b, hit) in sorted(matches.items()))
            raise BaselineError(f"{asset.name}: ambiguous baseline: {found}",
                                hint="make one assignment more specific (patch group > tag > role > site > client) "
                                     "or set patch_baseline on the host")
        if matches:
            [(name, (b, hit))] = matches.items()
            return _choose(name, by_name[name], today, f"{_LEVEL[key]} {hit} ({b.source})")

    if client_default:
        if client_default in other_kind and client_default not in by_name:
            return None  # the client's default is for the other kind of host
        choice = _choose(client_default, known(client_default, "the client's default baseline"), today,
                         f"client default {client_default}")
        return choice if fits(choice.current) else None
    return None


def _start(b: _Versioned) -> date:
    return b.valid_from or date.min


def _current[B: (LinuxBaseline, NetworkOSBaseline)](versions: list[B], today: date) -> B | None:
    # The latest start wins; equal starts (e.g. none given) fall back to the higher version.
    valid = [v for v in versions if v.valid_on(today)]
    if not valid:
        return None
    best = valid[0]
    for v in valid[1:]:
        if _start(v) > _start(best) or (_start(v) == _start(best) and compare_os(v.version, best.version) > 0):
            best = v
    return best


def _choose[B: (LinuxBaseline, NetworkOSBaseline)](name: str, versions: list[B], today: date,
                                                   reason: str) -> BaselineChoice[B]:
    current = _current(versions, today)
    if current is None:
        dates = "; ".join(f"{v.version}: {v.dates()}" for v in sorted(versions, key=_start))
        raise BaselineError(f"no version of {name} is valid on {today.isoformat()} ({dates})",
                            hint=f"add a version valid today or extend valid_until ({versions[0].source})")
    older = [v for v in versions if v is not current and _start(v) <= today
             and (until := v.grace_until) is not None and today <= until]
    older.sort(key=_start, reverse=True)
    return BaselineChoice(current=current, reason=reason, also_compliant=tuple(older))


# --- loading --------------------------------------------------------------------------------


def load_baselines(directory: Path) -> BaselineSet:
    """Read every ``*.yml``/``*.yaml`` baseline in `directory` (not recursive), in name order.

    Returns the validated set (empty when the directory holds no baseline files).
    Raises BaselineError, its message starting with ``file:line:``, for invalid YAML, unknown
    keys, wrong types or enum values, bad or inverted dates, a pin below its minimum version, a
    duplicate (name, version) or a name used by both kinds; and when `directory` does not exist.
    """
    if not directory.is_dir():
        raise BaselineError(f"{directory}: baselines directory not found",
                            hint="create it with one YAML file per baseline (name, version, approval ...), "
                                 "or point [patch] baselines at the right directory")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    linux: list[LinuxBaseline] = []
    network: list[NetworkOSBaseline] = []
    seen: dict[tuple[str, str], str] = {}
    kinds: dict[str, tuple[Kind, str]] = {}
    for path in files:
        doc = YamlDoc(path, BaselineError)
        baseline = _parse(doc, doc.compose())
        kind: Kind = "linux" if isinstance(baseline, LinuxBaseline) else "network-os"
        key = (baseline.name, baseline.version)
        if key in seen:
            raise BaselineError(f"{baseline.source}: baseline {baseline.label} is also defined at {seen[key]}",
                                hint="give one of them a new version")
        seen[key] = baseline.source
        other = kinds.setdefault(baseline.name, (kind, baseline.source))
        if other[0] != kind:
            raise BaselineError(f"{baseline.source}: {baseline.name!r} is a {kind} baseline here but a "
                                f"{other[0]} baseline at {other[1]}", hint="use different names")
        if isinstance(baseline, LinuxBaseline):
            linux.append(baseline)
        else:
            network.append(baseline)
    return BaselineSet(linux=tuple(linux), network=tuple(network))


class _Common(TypedDict, total=False):
    name: str
    version: str
    source: str
    description: str
    valid_from: date
    valid_until: date
    grace_days: int
    assign: Assignment


class _LinuxFields(TypedDict, total=False):
    os_family: tuple[str, ...]
    classification: Approval
    approve_after_days: int
    approved: tuple[str, ...]
    rejected: tuple[RejectedPackage, ...]
    minimum_versions: dict[str, str]
    pins: dict[str, str]
    exclude: tuple[str, ...]
    reboot: RebootPolicy


type _Fields = dict[str, tuple[yaml.ScalarNode, yaml.Node]]


def _parse(doc: YamlDoc, root: yaml.Node | None) -> Baseline:
    if root is None:
        raise doc.err(None, "empty file: expected one baseline (a mapping with name and version)")
    top = _fields(doc, root, "baseline")
    kind: Kind = "linux"
    if "kind" in top:
        kind = _enum(doc, top["kind"][1], "kind", get_args(Kind))
    _known_keys(doc, top, _LINUX_KEYS if kind == "linux" else _NETWORK_KEYS, f"a {kind} baseline")
    for required in ("name", "version", *(("platforms",) if kind == "network-os" else ())):
        if required not in top:
            raise doc.err(root, f"missing {required!r}")
    name_node = top["name"][1]
    name = doc.scalar(name_node, "name")
    if not _SLUG.fullmatch(name):
        raise doc.err(name_node, f"name {name!r} must be a slug (a-z, 0-9, '.', '-' and '_')")
    common = _Common(name=name, version=doc.scalar(top["version"][1], f"{name}: version"),
                     source=f"{doc.path}:{root.start_mark.line + 1}")
    if "description" in top and not _null(top["description"][1]):
        common["description"] = doc.scalar(top["description"][1], f"{name}: description")
    if "valid_from" in top:
        common["valid_from"] = _date(doc, top["valid_from"][1], f"{name}: valid_from")
    if "valid_until" in top:
        common["valid_until"] = end = _date(doc, top["valid_until"][1], f"{name}: valid_until")
        if "valid_from" in common and end < common["valid_from"]:
            raise doc.err(top["valid_until"][1], f"{name}: valid_until {end} is before valid_from "
                                                 f"{common['valid_from']}")
    if "grace_days" in top:
        common["grace_days"] = _int(doc, top["grace_days"][1], f"{name}: grace_days")
    if "assign" in top:
        common["assign"] = _assignment(doc, top["assign"][1], f"{name}: assign")
    if kind == "network-os":
        platforms = {p: _os_rule(doc, node, f"{name}: platforms.{p}", nested=True)
                     for p, node in _slug_map(doc, top["platforms"][1], f"{name}: platforms")}
        return NetworkOSBaseline(**common, platforms=platforms)
    return LinuxBaseline(**common, **_linux_fields(doc, top, name))


def _linux_fields(doc: YamlDoc, top: _Fields, what: str) -> _LinuxFields:
    out = _LinuxFields()
    if "os_family" in top:
        out["os_family"] = tuple(v.lower() for v in _strings(doc, top["os_family"][1], f"{what}: os_family"))
    if "approval" in top:
        approval = _fields(doc, top["approval"][1], f"{what}: approval")
        _known_keys(doc, approval, _APPROVAL_KEYS, f"{what}: approval")
        if "classification" in approval:
            out["classification"] = _enum(doc, approval["classification"][1], f"{what}: approval.classification",
                                          get_args(Approval))
        if "approve_after_days" in approval:
            node = approval["approve_after_days"][1]
            out["approve_after_days"] = days = _int(doc, node, f"{what}: approval.approve_after_days")
            if days > MAX_APPROVE_AFTER_DAYS:
                raise doc.err(node, f"{what}: approval.approve_after_days {days} approves nothing released in the "
                                    f"last {days // 365} years: every host would look compliant",
                              hint=f"use at most {MAX_APPROVE_AFTER_DAYS} days")
    if "approved" in top:
        out["approved"] = tuple(_strings(doc, top["approved"][1], f"{what}: approved"))
    if "exclude" in top:
        out["exclude"] = tuple(_strings(doc, top["exclude"][1], f"{what}: exclude"))
        everything = [g for g in out["exclude"] if all(fnmatchcase(p, g) for p in _PROBE_NAMES)]
        if everything:
            raise doc.err(top["exclude"][1], f"{what}: exclude {everything[0]!r} matches every package: the baseline "
                                             "would patch nothing and every host would look compliant",
                          hint="exclude packages by name, or drop the client from patching")
    if "rejected" in top:
        out["rejected"] = tuple(_rejected(doc, top["rejected"][1], f"{what}: rejected"))
    if "reboot" in top:
        out["reboot"] = _enum(doc, top["reboot"][1], f"{what}: reboot", get_args(RebootPolicy))
    # Versions compare as the family's package manager does; a mixed list falls back to dpkg's rules.
    families = out.get("os_family", ())
    manager = "rpm" if families and all(f in _RPM_FAMILIES for f in families) else "apt"
    minimum = _version_map(doc, top, "minimum_versions", what, manager)
    pins = _version_map(doc, top, "pins", what, manager)
    out["minimum_versions"] = {p: v for p, (v, _) in minimum.items()}
    out["pins"] = {p: v for p, (v, _) in pins.items()}
    for package, (pin, node) in pins.items():
        if package in minimum and compare(pin, minimum[package][0], manager) < 0:
            raise doc.err(node, f"{what}: pins.{package} {pin} is below its minimum version {minimum[package][0]} "
                                f"(line {minimum[package][1].start_mark.line + 1})",
                          hint="raise the pin or lower the minimum")
    return out


def _version_map(doc: YamlDoc, top: _Fields, key: str, what: str, manager: str) -> dict[str, tuple[str, yaml.Node]]:
    """``package: version`` pairs with their nodes; a version the package manager cannot parse is an error."""
    out: dict[str, tuple[str, yaml.Node]] = {}
    for package, node in doc.mapping(top[key][1], f"{what}: {key}") if key in top else []:
        value = doc.scalar(node, f"{what}: {key}.{package.value}")
        try:
            compare(value, value, manager)
        except ValueError as exc:
            raise doc.err(node, f"{what}: {key}.{package.value}: {exc}") from None
        out[package.value] = (value, node)
    return out


def _rejected(doc: YamlDoc, node: yaml.Node, what: str) -> list[RejectedPackage]:
    if not isinstance(node, yaml.SequenceNode):
        raise doc.err(node, f"{what} must be a list")
    out = []
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            out.append(RejectedPackage(doc.scalar(item, what)))
            continue
        fields = _fields(doc, item, f"{what} entry")
        _known_keys(doc, fields, _REJECTED_KEYS, f"{what} entry")
        if "name" not in fields:
            raise doc.err(item, f"{what} entry: missing 'name'")
        action: RejectAction = "block"
        if "action" in fields:
            action = _enum(doc, fields["action"][1], f"{what}.action", get_args(RejectAction))
        out.append(RejectedPackage(doc.scalar(fields["name"][1], f"{what}.name"), action))
    return out


def _os_rule(doc: YamlDoc, node: yaml.Node, what: str, *, nested: bool) -> OSRule:
    fields = _fields(doc, node, what)
    _known_keys(doc, fields, _RULE_KEYS | ({"device_types"} if nested else set()), what)
    approved = tuple(_strings(doc, fields["approved"][1], f"{what}.approved")) if "approved" in fields else ()
    minimum = doc.scalar(fields["minimum"][1], f"{what}.minimum") if "minimum" in fields else None
    device_types = {t: _os_rule(doc, n, f"{what}.device_types.{t}", nested=False)
                    for t, n in _slug_map(doc, fields["device_types"][1], f"{what}.device_types")
                    } if "device_types" in fields else {}
    if not approved and minimum is None and not device_types:
        raise doc.err(node, f"{what}: needs 'approved' or 'minimum'")
    return OSRule(approved=approved, minimum=minimum, device_types=device_types)


def _assignment(doc: YamlDoc, node: yaml.Node, what: str) -> Assignment:
    fields = _fields(doc, node, what)
    _known_keys(doc, fields, frozenset(_ASSIGN_KEYS), what)
    return Assignment(**{k: tuple(_strings(doc, v, f"{what}.{k}")) for k, (_, v) in fields.items()})


# --- node helpers: each error cites the offending node's line --------------------------------


def _fields(doc: YamlDoc, node: yaml.Node, what: str) -> _Fields:
    return {k.value: (k, v) for k, v in doc.mapping(node, what)}


def _known_keys(doc: YamlDoc, fields: _Fields, allowed: Iterable[str], what: str) -> None:
    allowed = sorted(allowed)
    for name, (key, _) in fields.items():
        if name not in allowed:
            raise doc.err(key, f"unknown key {name!r} in {what}", hint=f"allowed: {', '.join(allowed)}")


def _null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _strings(doc: YamlDoc, node: yaml.Node, what: str) -> list[str]:
    """A list of strings, or one string; an empty value is an empty list."""
    return [] if _null(node) else [value for value, _ in doc.seq(node, what)]


def _slug_map(doc: YamlDoc, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
    pairs = doc.mapping(node, what)
    for key, _ in pairs:
        if not _SLUG.fullmatch(key.value):
            raise doc.err(key, f"{what}: {key.value!r} must be a slug (a-z, 0-9, '.', '-' and '_')")
    return [(k.value, v) for k, v in pairs]


def _enum[T: str](doc: YamlDoc, node: yaml.Node, what: str, allowed: tuple[T, ...]) -> T:
    value = doc.scalar(node, what)
    for option in allowed:
        if value == option:
            return option
    raise doc.err(node, f"{what}: {value!r} is not one of {', '.join(allowed)}")


def _int(doc: YamlDoc, node: yaml.Node, what: str) -> int:
    value = doc.scalar(node, what)
    if not value.isascii() or not value.isdigit():
        raise doc.err(node, f"{what}: {value!r} is not a whole number of days (0 or more)")
    return int(value)


def _date(doc: YamlDoc, node: yaml.Node, what: str) -> date:
    value = doc.scalar(node, what)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise doc.err(node, f"{what}: {value!r} is not a YYYY-MM-DD date") from None
