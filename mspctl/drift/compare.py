"""Compare one feature of intended and actual configuration: missing, extra, remediation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mspctl.adapters.hierconfig import remediation as hier_remediation
from mspctl.drift.configtext import Line, render
from mspctl.drift.features import Feature

FeatureStatus = Literal["compliant", "drift"]


@dataclass(frozen=True)
class FeatureResult:
    feature: str
    status: FeatureStatus
    missing: tuple[str, ...] = ()  # intended lines the device lacks ("parent > child" for children)
    extra: tuple[str, ...] = ()  # device lines the intent does not have
    remediation: tuple[str, ...] = field(default=())  # commands that fix it


def _paths(lines: Sequence[Line]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for line in lines:
        if line.text.startswith("banner "):  # a banner compares whole
            out.append((render([line]).rstrip("\n"),))
        else:
            out.extend(line.paths())
    return out


def _show(path: tuple[str, ...]) -> str:
    return " > ".join(path)


def compare_feature(feature: Feature, platform: str | None, intended: Sequence[Line],
                    actual: Sequence[Line]) -> FeatureResult:
    want, have = feature.owned(intended, actual)
    want_paths, have_paths = _paths(want), _paths(have)
    have_set, want_set = set(have_paths), set(want_paths)
    missing = tuple(_show(p) for p in want_paths if p not in have_set)
    extra = tuple(_show(p) for p in have_paths if p not in want_set)
    if not missing and not extra:
        return FeatureResult(feature.name, "compliant")
    return FeatureResult(feature.name, "drift", missing, extra, tuple(remediation(platform, have, want)))


def remediation(platform: str | None, running: Sequence[Line], intended: Sequence[Line]) -> list[str]:
    """Commands turning `running` into `intended`. Banners are replaced whole (set again)."""
    banners_want = [ln for ln in intended if ln.text.startswith("banner ")]
    banners_have = {render([ln]) for ln in running if ln.text.startswith("banner ")}
    plain_want = [ln for ln in intended if not ln.text.startswith("banner ")]
    plain_have = [ln for ln in running if not ln.text.startswith("banner ")]
    out = hier_remediation(platform, render(plain_have), render(plain_want))
    for banner in banners_want:
        if render([banner]) not in banners_have:
            out.extend(render([banner]).rstrip("\n").split("\n"))
    return out
