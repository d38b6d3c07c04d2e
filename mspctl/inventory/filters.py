"""Selecting assets: scope (clients), attribute filters, and Ansible-style --limit patterns.

Pure logic over `Asset` values, so it is unit-tested without NetBox.

Limit patterns follow Ansible's: terms separated by ``,`` or ``:``; each term is a host or
group name, a glob (``acme-*``) or a regex (``~^acme-(web|db)``); ``&term`` intersects and
``!term`` excludes. ``acme-*,&role_router,!acme-edge-rtr1``. A host is named by its NetBox name,
its inventory name (``rtr1@acme``, mspctl.inventory.names; also as the table prints it, escaped)
or its NetBox object, ``device:74`` / ``vm:12`` (one term: the ``:`` before the id separates
nothing). Several patterns (a repeated ``-l``) select the union of what each selects.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mspctl.errors import InvalidFilterError
from mspctl.escape import unescape_text
from mspctl.inventory.groups import group_names
from mspctl.inventory.names import is_key
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
    # One --limit pattern, or several (a repeated -l): their union.
    limit: str | tuple[str, ...] | None = None
    _limit: tuple[LimitPattern, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bad = [s for s in self.statuses if s not in STATUSES]
        if bad:
            raise InvalidFilterError(f"invalid --status {', '.join(bad)}",
                                     hint=f"choose from {', '.join(sorted(STATUSES))}")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise InvalidFilterError(f"invalid --kind {', '.join(bad)}", hint="choose device or vm")
        object.__setattr__(self, "_limit", tuple(LimitPattern.parse(p) for p in self.limits))

    @property
    def limits(self) -> tuple[str, ...]:
        """The --limit patterns given (none: no limit)."""
        if isinstance(self.limit, str):
            return (self.limit,) if self.limit else ()
        return tuple(p for p in self.limit or () if p)

    def describe(self) -> str:
        parts = [f"{name}={','.join(vals)}" for name, vals in (
            ("client", self.clients), ("site", self.sites), ("role", self.roles),
            ("platform", self.platforms), ("tag", self.tags), ("status", self.statuses),
            ("kind", self.kinds)) if vals]
        parts.extend(f"limit={p}" for p in self.limits)
        return " ".join(parts) or "(no filter)"

    def matches(self, asset: Asset, name: str | None = None) -> bool:
        """Whether `asset` is selected; `name` is its inventory name (mspctl.inventory.names),
        which --limit terms may use."""
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
        return not self._limit or any(p.matches(asset, name) for p in self._limit)

    def apply(self, assets: Iterable[Asset], names: Mapping[str, str] | None = None) -> list[Asset]:
        """The selected assets, in order. `names`: inventory names by asset key, for --limit."""
        if names is None:
            return [a for a in assets if self.matches(a)]
        return [a for a in assets if self.matches(a, names.get(a.key))]


@dataclass(frozen=True)
class _Term:
    op: str  # "", "&" or "!"
    text: str
    regex: re.Pattern[str] | None
    plain: str = ""  # `text` as the table output's escapes read (mspctl.escape)

    def matches(self, asset: Asset, groups: Sequence[str], name: str) -> bool:
        if self.regex is not None:
            return (bool(self.regex.search(asset.name)) or (name != asset.name and bool(self.regex.search(name)))
                    or any(self.regex.search(g) for g in groups))
        if self.text in ("all", "*"):
            return True
        if is_key(self.text):
            return asset.key == self.text
        if any(ch in self.text for ch in "*?["):
            return fnmatch.fnmatchcase(asset.name, self.text) or fnmatch.fnmatchcase(name, self.text) or any(
                fnmatch.fnmatchcase(g, self.text) for g in groups)
        return self.text in (asset.name, name) or self.plain in (asset.name, name) or self.text in groups


def _split(chunk: str) -> list[str]:
    """A ``,``-chunk's ``:``-separated terms, with ``device:74`` / ``vm:12`` (after an optional
    ``&`` or ``!``) kept as one term."""
    parts = chunk.split(":")
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if part.strip().lstrip("&!") in ("device", "vm") and i + 1 < len(parts) and parts[i + 1].strip().isdigit():
            out.append(f"{part}:{parts[i + 1]}")
            i += 2
            continue
        out.append(part)
        i += 1
    return out


@dataclass(frozen=True)
class LimitPattern:
    terms: tuple[_Term, ...]

    @classmethod
    def parse(cls, pattern: str) -> LimitPattern:
        terms = []
        # ':' separates terms too, but not inside a regex term (which may contain it).
        raw_terms = [t for chunk in pattern.split(",") for t in
                     ([chunk] if chunk.lstrip("&!").startswith("~") else _split(chunk))]
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
            terms.append(_Term(op, text, regex, unescape_text(text)))
        if not terms:
            raise InvalidFilterError(f"invalid --limit {pattern!r}: no terms")
        return cls(tuple(terms))

    def matches(self, asset: Asset, name: str | None = None) -> bool:
        """Whether the pattern selects `asset`; `name` is its inventory name (default: its NetBox name)."""
        groups = group_names(asset)
        shown = name or asset.name
        positive = [t for t in self.terms if t.op == ""]
        if positive and not any(t.matches(asset, groups, shown) for t in positive):
            return False
        if any(not t.matches(asset, groups, shown) for t in self.terms if t.op == "&"):
            return False
        return not any(t.matches(asset, groups, shown) for t in self.terms if t.op == "!")
