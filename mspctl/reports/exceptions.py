"""Accepted risks: ``inventory/exceptions.yml`` in the MSP repository.

    exceptions:
      - client: acme                  # the clients.yml key or NetBox tenant slug
        target: acme-core-sw1         # a name mspctl prints, a NetBox key (device:12), or "*"
        feature: ntp                  # a drift feature ... or:  package: openssl
        reason: "vendor TAC case 123; NTP servers moved in Q1"
        approved_by: "J. Doe (client CISO)"
        expires: 2027-03-31

A finding an exception covers is shown as *excepted*, never as compliant. An exception whose
expiry date has passed covers nothing and is itself a finding. Every malformed entry is an
`ExceptionsFileError` (MSP-EXC-422, exit 10) naming ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from mspctl.errors import ConfigError
from mspctl.repo import YamlDoc

FILE = Path("inventory/exceptions.yml")
_KEYS = {"client", "target", "feature", "package", "reason", "approved_by", "expires"}


class ExceptionsFileError(ConfigError):
    """``inventory/exceptions.yml`` is malformed; the message starts with file:line."""

    code = "MSP-EXC-422"


@dataclass(frozen=True)
class RiskException:
    """One accepted risk: a drift feature or a package of one target (or of all: ``*``)."""

    client: str
    target: str
    reason: str
    approved_by: str
    expires: date
    feature: str | None = None
    package: str | None = None
    source: str = ""  # file:line

    @property
    def subject(self) -> str:
        return f"feature {self.feature}" if self.feature else f"package {self.package}"

    def expired(self, at: datetime) -> bool:
        """Past its expiry date at `at`: it covers the whole day it names."""
        return at.astimezone(UTC).date() > self.expires

    def covers(self, client: str, target_names: tuple[str, ...], *, feature: str | None = None,
               package: str | None = None, at: datetime) -> bool:
        if self.expired(at) or self.client != client:
            return False
        if self.target != "*" and self.target not in target_names:
            return False
        return (feature is not None and self.feature == feature) or (package is not None and self.package == package)

    def to_dict(self) -> dict[str, Any]:
        return {"client": self.client, "target": self.target, "feature": self.feature, "package": self.package,
                "reason": self.reason, "approved_by": self.approved_by, "expires": self.expires.isoformat(),
                "source": self.source}


def load_exceptions(path: Path, client_keys: dict[str, str] | None = None) -> list[RiskException]:
    """Parse the exceptions file (a missing file: none). `client_keys` maps clients.yml keys to
    tenant slugs, so an entry may name either. Raises ExceptionsFileError with file:line."""
    if not path.is_file():
        return []
    doc = YamlDoc(path, ExceptionsFileError)
    root = doc.compose()
    if root is None:
        return []
    top = dict((k.value, v) for k, v in doc.mapping(root, "the exceptions file"))
    if set(top) - {"exceptions"}:
        key = next(k for k, _ in doc.mapping(root, "the exceptions file") if k.value != "exceptions")
        raise doc.err(key, f"unknown key {key.value!r}", hint="the file holds one list: exceptions:")
    node = top.get("exceptions")
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~")):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise doc.err(node, "exceptions must be a list of entries")
    out = []
    for item in node.value:
        pairs = doc.mapping(item, "an exception")
        vals = {k.value: (k, v) for k, v in pairs}
        for key, (knode, _) in vals.items():
            if key not in _KEYS:
                raise doc.err(knode, f"exception: unknown key {key!r}", hint=f"known: {', '.join(sorted(_KEYS))}")
        for need in ("client", "target", "reason", "approved_by", "expires"):
            if need not in vals:
                raise doc.err(item, f"exception: {need} is required",
                              hint="each entry needs client, target, feature or package, reason, approved_by, expires")
        if ("feature" in vals) == ("package" in vals):
            raise doc.err(item, "exception: give exactly one of feature or package")
        text = {k: doc.scalar(v, f"exception {k}") for k, (_, v) in vals.items()}
        expires_node = vals["expires"][1]
        try:
            expires = date.fromisoformat(text["expires"])
        except ValueError:
            raise doc.err(expires_node, f"exception: expires {text['expires']!r} is not a date (YYYY-MM-DD)") from None
        client = text["client"]
        out.append(RiskException(client=(client_keys or {}).get(client, client), target=text["target"],
                                 reason=text["reason"], approved_by=text["approved_by"], expires=expires,
                                 feature=text.get("feature"), package=text.get("package"),
                                 source=f"{path}:{item.start_mark.line + 1}"))
    return out
