"""Selecting assets: scope (clients), attribute filters, and Ansible-style --limit patterns.

Pure logic over `Asset` values, so it is unit-tested without NetBox.

Limit patterns follow Ansible's: terms separated by ``,`` or ``:``; each term is a host or
group name, a glob (``acme-*``) or a regex (``~^acme-(web|db)``); ``&term`` intersects and
``!term`` excludes. ``acme-*,&role_router,!acme-edge-rtr1``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mspctl.errors import InvalidFilterError
from mspctl.inventory.groups import group_names
from mspctl.model import Asset

STATUSES = frozenset({"active", "offline", "planned", "staged", "failed", "inventory",
                      "decommissioning", "paused"})
KINDS = frozenset({"device", "vm"})


@dataclass(frozen=True)
class AssetFilter:
    """Every field narrows the selection; an empty tuple means "any"."""

    clients: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    limit: str | None = None
    _limit: LimitPattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bad = [s for s in self.statuses if s not in STATUSES]
        if bad:
            raise InvalidFilterError(f"invalid --status {', '.join(bad)}",
                                     hint=f"choose from {', '.join(sorted(STATUSES))}")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise InvalidFilterError(f"invalid --kind {', '.join(bad)}", hint="choose device or vm")
        if self.limit:
            object.__setattr__(self, "_limit", LimitPattern.parse(self.limit))

    def describe(self) -> str:
        parts = [f"{name}={','.join(vals)}" for name, vals in (
            ("client", self.clients), ("site", self.sites), ("role", self.roles),
            ("platform", self.platforms), ("tag", self.tags), ("status", self.statuses),
            ("kind", self.kinds)) if vals]
        if self.limit:
            parts.append(f"limit={self.limit}")
        return " ".join(parts) or "(no filter)"

    def matches(self, asset: Asset) -> bool:
        if self.clients and asset.client not in self.clients:
            return False
        if self.sites and asset.site not in self.sites:
            return False
        if self.roles and asset.role not in self.roles:
            return False
        if self.platforms and asset.platform not in self.platforms:
            return False
        if self.tags and not set(self.tags) & set(asset.tags):
            return False
        if self.statuses and asset.status not in self.statuses:
            return False
        if self.kinds and asset.kind not in self.kinds:
            return False
        return self._limit is None or self._limit.matches(asset)

    def apply(self, assets: Iterable[Asset]) -> list[Asset]:
        return [a for a in assets if self.matches(a)]


@dataclass(frozen=True)
class _Term:
    op: str  # "", "&" or "!"
    text: str
    regex: re.Pattern[str] | None

    def matches(self, asset: Asset, groups: Sequence[str]) -> bool:
        if self.regex is not None:
            return bool(self.regex.search(asset.name)) or any(self.regex.search(g) for g in groups)
        if self.text in ("all", "*"):
            return True
        if any(ch in self.text for ch in "*?["):
            return fnmatch.fnmatchcase(asset.name, self.text) or any(
                fnmatch.fnmatchcase(g, self.text) for g in groups)
        return asset.name == self.text or self.text in groups


@dataclass(frozen=True)
class LimitPattern:
    terms: tuple[_Term, ...]

    @classmethod
    def parse(cls, pattern: str) -> LimitPattern:
        terms = []
        # ':' separates terms too, but not inside a regex term (which may contain it).
        raw_terms = [t for chunk in pattern.split(",") for t in
                     ([chunk] if chunk.lstrip("&!").startswith("~") else chunk.split(":"))]
        for term in raw_terms:
            raw = term.strip()
            if not raw:
                continue
            op = raw[0] if raw[0] in "&!" else ""
            text = raw[1:] if op else raw
            if not text:
                raise InvalidFilterError(f"invalid --limit {pattern!r}: {raw!r} names nothing")
            regex = None
            if text.startswith("~"):
                try:
                    regex = re.compile(text[1:])
                except re.error as exc:
                    raise InvalidFilterError(f"invalid --limit {pattern!r}: bad regex {text[1:]!r}: {exc}") from None
            terms.append(_Term(op, text, regex))
        if not terms:
            raise InvalidFilterError(f"invalid --limit {pattern!r}: no terms")
        return cls(tuple(terms))

    def matches(self, asset: Asset) -> bool:
        groups = group_names(asset)
        positive = [t for t in self.terms if t.op == ""]
        if positive and not any(t.matches(asset, groups) for t in positive):
            return False
        if any(not t.matches(asset, groups) for t in self.terms if t.op == "&"):
            return False
        return not any(t.matches(asset, groups) for t in self.terms if t.op == "!")
