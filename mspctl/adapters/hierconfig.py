"""Remediation and rollback configs through hier_config (the only importer of hier_config)."""

from __future__ import annotations

from functools import cache
from typing import Any

_PLATFORMS = {"cisco_ios": "CISCO_IOS", "cisco_xe": "CISCO_IOS", "arista_eos": "ARISTA_EOS",
              "cisco_nxos": "CISCO_NXOS", "cisco_xr": "CISCO_XR", "juniper_junos": "JUNIPER_JUNOS"}


@cache
def _driver(platform: str | None) -> Any:
    """One hier_config driver per platform: building one (its rules) costs more than a small diff."""
    from hier_config import Platform, get_hconfig_driver

    return get_hconfig_driver(getattr(Platform, _PLATFORMS.get(platform or "", "GENERIC")))


def remediation(platform: str | None, running: str, intended: str) -> list[str]:
    """The commands that turn `running` into `intended`, as lines (children indented by one space)."""
    from hier_config import WorkflowRemediation, get_hconfig

    driver = _driver(platform)
    wf = WorkflowRemediation(get_hconfig(driver, running), get_hconfig(driver, intended))
    return [" " * (line.depth() - 1) + line.text for line in wf.remediation_config.all_children_sorted()]
