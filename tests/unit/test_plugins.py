"""The plugin register (mspctl/plugins.py): built-ins come from mspctl's own entry points, as a
third party's would; unknown names and broken plugins are clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mspctl.errors import ExitCode, PluginError, UnknownPluginError
from mspctl.executor import ThreadExecutor
from mspctl.plugins import (
    DRIVERS,
    EXECUTORS,
    INVENTORY_SOURCES,
    REPORT_FORMATS,
    ExecutorBackend,
    PluginRegister,
    ReportFormat,
    installed,
)


def test_the_built_ins_are_entry_points_of_mspctl() -> None:
    found = {(p.kind, p.name): p for p in installed()}
    for kind, name in [("mspctl.inventory_sources", "netbox"), ("mspctl.executors", "local"),
                       ("mspctl.executors", "celery"), ("mspctl.drivers", "netmiko"),
                       ("mspctl.report_formats", "html"), ("mspctl.report_formats", "md"),
                       ("mspctl.report_formats", "json"), ("mspctl.report_formats", "csv")]:
        info = found[(kind, name)]
        assert info.builtin and info.distribution == "mspctl", info
    assert REPORT_FORMATS.get("csv").suffix == "" and REPORT_FORMATS.get("html").suffix == ".html"
    assert INVENTORY_SOURCES.get("netbox").name == "netbox"  # a class: built from settings
    assert EXECUTORS.get("celery").name == "celery"


def test_an_unknown_name_lists_what_is_installed() -> None:
    with pytest.raises(UnknownPluginError) as err:
        DRIVERS.get("telnetlib")
    assert err.value.code == "MSP-PLUG-404" and err.value.exit_code == ExitCode.CONFIG
    assert "no driver plugin named 'telnetlib'" in str(err.value) and "netmiko" in str(err.value)


class _Format:
    name = "yaml"
    suffix = ".yaml"

    def write(self, report: dict[str, Any], out: Path) -> list[Path]:
        out.write_text(str(sorted(report)), encoding="utf-8")
        return [out]


def test_a_plugin_registered_in_code_is_used_and_listed(tmp_path: Path) -> None:
    REPORT_FORMATS.register("yaml", _Format())
    try:
        assert isinstance(REPORT_FORMATS.get("yaml"), ReportFormat)
        assert "yaml" in REPORT_FORMATS.names()
        (paths,) = [REPORT_FORMATS.get("yaml").write({"b": 1, "a": 2}, tmp_path / "r.yaml")]
        assert paths == [tmp_path / "r.yaml"] and (tmp_path / "r.yaml").read_text() == "['a', 'b']"
    finally:
        REPORT_FORMATS.unregister("yaml")
    assert "yaml" not in REPORT_FORMATS


def test_an_object_of_the_wrong_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    reg: PluginRegister[ExecutorBackend] = PluginRegister("mspctl.test_executors", ExecutorBackend)
    ep = metadata.EntryPoint("wrong", "mspctl.reports.formats:HTML", "mspctl.test_executors")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep] if group == "mspctl.test_executors" else [])
    with pytest.raises(PluginError) as err:
        reg.get("wrong")
    assert err.value.code == "MSP-PLUG-500" and "is not a ExecutorBackend" in str(err.value)
    ep2 = metadata.EntryPoint("gone", "no_such_module_xyz:THING", "mspctl.test_executors")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep2])
    reg2: PluginRegister[ExecutorBackend] = PluginRegister("mspctl.test_executors", ExecutorBackend)
    with pytest.raises(PluginError, match="does not load: ModuleNotFoundError"):
        reg2.get("gone")


def test_the_local_executor_comes_from_the_register(tmp_path: Path) -> None:
    from mspctl.devices import executor_for
    from mspctl.settings import load_settings

    settings = load_settings(cwd=tmp_path, env={})
    assert isinstance(executor_for(settings, change=True), ThreadExecutor)
    with pytest.raises(UnknownPluginError, match=r"executor\.backend = 'nosuch'"):
        load_settings(cwd=tmp_path, env={"MSPCTL_EXECUTOR": "nosuch"})
