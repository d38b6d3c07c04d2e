"""Compliance features: named slices of a configuration, defined in YAML per platform.

    # templates/features.yml
    features:
      - name: ntp
        platforms: [cisco_ios, arista_eos]   # default: every platform
        lines: ["ntp server "]               # top-level lines starting with these
      - name: interfaces
        sections: ["interface "]             # sections (with their children) starting with these
        scope: intended                      # own only the sections the intended config has
        children: [description, ip address, shutdown]  # and in them only these child lines
      - name: pci-login
        lines: ["login block-for"]
        targets: {tags: [pci]}               # only for assets with this tag (or roles:, clients:)

Errors cite file:line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mspctl.drift.configtext import Line
from mspctl.errors import ConfigError
from mspctl.files import read_text
from mspctl.inventory.platforms import PlatformMap
from mspctl.model import Asset

_KEYS = {"name", "platforms", "lines", "sections", "targets", "description", "scope", "children"}
_SCOPES = ("all", "intended")
_TARGETS = {"roles", "tags", "clients", "sites"}


@dataclass(frozen=True)
class Feature:
    name: str
    lines: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    source: str = ""
    # "intended": a device section the intended config lacks is not this feature's (NetBox does
    # not model it: a physical port, Null0, a sub-interface); "all": every matching section.
    scope: str = "all"
    # Within owned sections, only child lines starting with these (after an optional "no ");
    # empty: every child. What the source of truth does not model is left alone.
    children: tuple[str, ...] = ()

    def applies_to(self, asset: Asset) -> bool:
        if self.platforms and asset.platform not in self.platforms:
            return False
        if self.roles and asset.role not in self.roles:
            return False
        if self.clients and asset.client not in self.clients:
            return False
        if self.sites and asset.site not in self.sites:
            return False
        return not self.tags or bool(set(self.tags) & set(asset.tags))

    def select(self, config: Sequence[Line]) -> list[Line]:
        """The top-level lines of `config` this feature owns (sections with their children)."""
        prefixes = self.lines + self.sections  # `sections` documents intent; both keep children
        return [self._trim(line) for line in config if line.text.startswith(prefixes)]

    def owned(self, intended: Sequence[Line], actual: Sequence[Line]) -> tuple[list[Line], list[Line]]:
        """(intended, actual) lines this feature owns, compared and remediated together."""
        want, have = self.select(intended), self.select(actual)
        if self.scope == "intended":
            headers = {ln.text for ln in want}
            have = [ln for ln in have if ln.text in headers or not ln.text.startswith(self.sections)]
        return want, have

    def _trim(self, line: Line) -> Line:
        if not self.children or not line.children:
            return line
        keep = [c for c in line.children if c.text.removeprefix("no ").startswith(self.children)]
        return Line(line.text, keep)


def select_features(path: Path, names: Sequence[str] = (), platforms: PlatformMap | None = None) -> list[Feature]:
    """The features defined in `path`, or only `names` of them (unknown names are a usage error)."""
    from mspctl.errors import UsageError

    features = load_features(path, platforms)
    unknown = sorted(set(names) - {f.name for f in features})
    if unknown:
        raise UsageError(f"unknown feature(s) {', '.join(unknown)}",
                         hint=f"defined in {path}: {', '.join(f.name for f in features)}")
    return [f for f in features if not names or f.name in names]


def load_features(path: Path, platform_map: PlatformMap | None = None) -> list[Feature]:
    """The features of `path`. Raises ConfigError (``file:line``) for bad YAML or a bad feature:
    an unknown key, no lines or sections, an empty prefix (it would own the whole config), or
    a platform that `platform_map` (default: the built-in map) does not know as a network platform."""
    known = platform_map or PlatformMap()
    if not path.is_file():
        raise ConfigError(f"{path}: compliance features file not found",
                          hint="set [config] features in mspctl.toml, or create templates/features.yml")
    try:
        root = yaml.compose(read_text(path), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML: {exc.problem}") from None

    def err(node: yaml.Node, msg: str) -> ConfigError:
        return ConfigError(f"{path}:{node.start_mark.line + 1}: {msg}")

    def strings(node: yaml.Node, what: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode):
            return (str(node.value),)
        if not isinstance(node, yaml.SequenceNode) or not all(isinstance(n, yaml.ScalarNode) for n in node.value):
            raise err(node, f"{what} must be a list of strings")
        return tuple(str(n.value) for n in node.value)

    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:1: expected `features:` with a list")
    top = {k.value: v for k, v in root.value}
    if "features" not in top or not isinstance(top["features"], yaml.SequenceNode):
        raise ConfigError(f"{path}:1: expected `features:` with a list")
    out: list[Feature] = []
    names: dict[str, int] = {}
    for item in top["features"].value:
        if not isinstance(item, yaml.MappingNode):
            raise err(item, "each feature must be a mapping with a name")
        fields = {k.value: (k, v) for k, v in item.value}
        for key, (knode, _) in fields.items():
            if key not in _KEYS:
                raise err(knode, f"unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        if "name" not in fields:
            raise err(item, "feature without a name")
        name = str(fields["name"][1].value)
        line = item.start_mark.line + 1
        if name in names:
            raise err(item, f"feature {name!r} is already defined on line {names[name]}")
        names[name] = line
        lines = strings(fields["lines"][1], f"{name}.lines") if "lines" in fields else ()
        sections = strings(fields["sections"][1], f"{name}.sections") if "sections" in fields else ()
        if not lines and not sections:
            raise err(item, f"feature {name!r} needs `lines:` or `sections:`")
        if any(not prefix.strip() for prefix in lines + sections):
            raise err(item, f"feature {name!r}: an empty prefix in `lines:`/`sections:` would own the whole config")
        targets: dict[str, tuple[str, ...]] = {}
        if "targets" in fields:
            tnode = fields["targets"][1]
            if not isinstance(tnode, yaml.MappingNode):
                raise err(tnode, f"{name}.targets must be a mapping")
            for k, v in tnode.value:
                if k.value not in _TARGETS:
                    raise err(k, f"{name}.targets: unknown key {k.value!r} (known: {', '.join(sorted(_TARGETS))})")
                targets[k.value] = strings(v, f"{name}.targets.{k.value}")
        platforms = strings(fields["platforms"][1], f"{name}.platforms") if "platforms" in fields else ()
        for slug in platforms:
            if not known.resolve(slug).network:
                raise err(fields["platforms"][1], f"{name}.platforms: {slug!r} is not a network platform mspctl "
                                                  "knows (e.g. cisco_ios, arista_eos; or add [platforms."
                                                  f"{slug}] to mspctl.toml)")
        scope = "all"
        if "scope" in fields:
            scope = str(fields["scope"][1].value)
            if scope not in _SCOPES:
                raise err(fields["scope"][1], f"{name}.scope must be one of {', '.join(_SCOPES)}, not {scope!r}")
        children = strings(fields["children"][1], f"{name}.children") if "children" in fields else ()
        out.append(Feature(name, lines, sections, platforms, source=f"{path}:{line}", scope=scope,
                           children=children, **targets))
    return out
