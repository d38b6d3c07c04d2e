"""mspctl/escape.py and its users: tables, plain lines, logs, Markdown and JUnit show NetBox
text escaped to one line; JSON keeps it exact; a printed name can be given back."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from mspctl.escape import EscapingFilter, escape_lines, escape_text, spellings, unescape_text
from mspctl.model import Asset, Client

HOSTILE = ["a\nb", "a\r\nb", "a\tb", "\x1b[2J\x1b[31mred", "\x00", "\x7f", "\x85", "\x9b31m", "\u202eevil\u202c",
           "\u2066x\u2069", "\u200bzw", "\ufeff", "\u2028", "\u2029", "a\u00a0b", "\ud800", "\U000e0041",
           "back\\slash", "\\n", "\\\\n", "\\x1b", "\\u202e", "\\", "\\q", "[bold]b[/bold]", "[/]", ":smile:",
           "|pipe|", "`tick`", "*star*", "<b>&amp;", "plain", "é", "名前", "😀", ""]


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_escaped_text_is_one_printable_line_and_round_trips(text: str) -> None:
    shown = escape_text(text)
    assert shown.isprintable() and "\n" not in shown and "\x1b" not in shown
    assert unescape_text(shown) == text
    assert spellings(shown)[0] == text


def test_escapes_are_readable_and_printable_text_is_unchanged() -> None:
    assert escape_text("a\nb") == "a\\nb"
    assert escape_text("a\\b") == "a\\\\b"
    assert escape_text("\x1b[2J") == "\\x1b[2J"
    assert escape_text("\u202eevil") == "\\u202eevil"
    assert escape_text("\U000e0041") == "\\U000e0041"
    for text in ("acme-core-sw1", "é", "名前", "😀", "a b", ""):
        assert escape_text(text) is text
    assert len({escape_text(t) for t in HOSTILE}) == len(HOSTILE)  # distinct text, distinct display
    assert escape_lines("a\x1b\nb\\") == "a\\x1b\nb\\\\"


def test_spellings_try_the_printed_reading_first() -> None:
    assert spellings("rtr1") == ["rtr1"]
    assert spellings("a\\nb") == ["a\nb", "a\\nb"]
    assert spellings("C:\\q") == ["C:\\q"]  # no escape sequence: only as typed


def test_log_records_stay_one_line() -> None:
    record = logging.LogRecord("mspctl", logging.WARNING, __file__, 1, "device %s gone", ("a\nWARNING forged",), None)
    assert EscapingFilter().filter(record)
    assert record.getMessage() == "device a\\nWARNING forged gone"


def test_table_keeps_one_row_per_target_and_shows_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    from mspctl.cli.output import print_table, render

    rows = [{"name": n, "tags": [n, "x"]} for n in HOSTILE if n]
    print_table(rows, [("name", "NAME"), ("tags", "TAGS")], title="a\nb")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].strip() == "a\\nb" and len(lines) == 2 + len(rows)
    assert "\x1b" not in out and "\u202e" not in out and "\u2028" not in out
    assert "[bold]b[/bold]" in out and ":smile:" in out  # shown as is, not rich markup or emoji
    for row, line in zip(rows, lines[2:], strict=True):
        assert line.startswith(escape_text(row["name"]))
    rows = [r for r in rows if r["name"] != "\ud800"]  # JSON is written as UTF-8: no unpaired surrogates
    render(rows, "json", columns=[("name", "NAME")])
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == [r["name"] for r in rows]


def _service(tmp_path: Path, assets: list[Asset]):  # type: ignore[no-untyped-def]
    from mspctl.adapters.cache import InventoryCache
    from mspctl.inventory.service import InventoryService
    from tests.unit.test_cache_and_service import URL, FakeSource

    return InventoryService(FakeSource(assets, [Client("hostile", "Hostile")]), InventoryCache(tmp_path, URL),
                            ttl=3600)


def test_inventory_list_rows_and_names_given_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.cli import main
    from mspctl.cli.app import App

    names = ["a\nb", "a\\nb", "\x1b[31mred", "[red]x", "\u202eevil", "tab\there", "plain"]
    assets = [Asset("device", i, n, "hostile", status="active") for i, n in enumerate(names, 1)]
    service = _service(tmp_path, assets)
    monkeypatch.setattr(App, "inventory", lambda self: service)
    res = CliRunner().invoke(main, ["inventory", "list", "-c", "hostile"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 1 + len(names) and "\x1b" not in res.stdout
    printed = [line.split("  ")[0] for line in lines[1:]]
    assert sorted(printed) == sorted(escape_text(n) for n in names)
    for shown in printed:
        res = CliRunner().invoke(main, ["-o", "json", "inventory", "show", shown])
        assert res.exit_code == 0, res.output
        assert escape_text(json.loads(res.stdout)["name"]) == shown  # the exact device, not a look-alike
    res = CliRunner().invoke(main, ["-o", "json", "inventory", "list", "-c", "hostile"])
    assert sorted(a["name"] for a in json.loads(res.stdout)["assets"]) == sorted(names)


def test_error_lines_stay_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.cli import main
    from mspctl.cli.app import App
    from mspctl.errors import RefusedError
    from mspctl.render import service

    def refuse(*_a: object, **_k: object) -> None:
        raise RefusedError("client a\nError: forged is locked")

    monkeypatch.setattr(App, "inventory", lambda self: None)
    monkeypatch.setattr(service, "render_configs", refuse)
    res = CliRunner().invoke(main, ["config", "render", "-c", "x"])
    assert res.exit_code == 6
    assert res.stderr == "Error: MSP-WIN-001: client a\\nError: forged is locked\n"


# -- reports ------------------------------------------------------------------------------------


def _drift_run():  # type: ignore[no-untyped-def]
    from mspctl.drift.compare import FeatureResult
    from mspctl.drift.service import DeviceDrift, DriftRun

    now = datetime(2026, 12, 1, tzinfo=UTC)
    devices = [DeviceDrift(Asset("device", i, n, f"c{n}"), "drift",
                           [FeatureResult("ntp", "drift", (f"ntp server {n}",), ("x`y",), (f"ntp server {n}",))],
                           "backup", now, 5.0, error=None)
               for i, n in enumerate(h for h in HOSTILE if h != "\ud800")]
    devices.append(DeviceDrift(Asset("device", 99, "f\x00\nail", "c"), "failed", error="gone\x00\nError: x",
                               error_code="MSP-DEV-504"))
    return DriftRun("drift-1", now, now, devices)


def test_drift_junit_is_valid_xml_with_one_line_names() -> None:
    from mspctl.reports.drift import junit

    run = _drift_run()
    text = junit(run)
    root = ET.fromstring(text)  # raises on characters XML 1.0 forbids
    cases = root.findall(".//testcase")
    assert len(cases) == len(run.devices)
    assert [c.get("classname") for c in cases if c.get("classname") is not None]
    for d in run.devices:
        assert any(c.get("classname") == escape_text(f"c{d.asset.name}" if d.status == "drift" else "c") + "." +
                   escape_text(d.asset.name) for c in cases)
    assert all("\n" not in v for c in root.iter() for v in c.attrib.values())


def test_drift_markdown_keeps_one_table_row_per_device() -> None:
    from mspctl.reports.drift import markdown

    run = _drift_run()
    text = markdown(run)
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| device")]
    assert len(rows) == len(run.devices)
    for row in rows:  # five cells: every | of a name is escaped
        assert row.replace("\\\\", "").replace("\\|", "").count("|") == 6
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
    assert "## back\\\\\\\\slash: ntp" in text  # renders as back\\slash, the table spelling
    assert "- extra: `` x`y ``" in text


def test_patch_junit_is_valid_xml() -> None:
    from mspctl.patch.model import HostCompliance
    from mspctl.patch.service import HostResult, PatchHost, PatchRun
    from mspctl.reports.patch import junit

    now = datetime(2026, 12, 1, tzinfo=UTC)
    hosts = [HostResult(PatchHost(Asset("vm", i, n, "c\x1b"), None), HostCompliance(n, "UNREACHABLE", None),
                        status="unreachable", error=f"{n}: no route\x00")
             for i, n in enumerate(h for h in HOSTILE if h != "\ud800")]
    root = ET.fromstring(junit(PatchRun("patch-1", "patch-scan", now, now, hosts)))
    assert sorted(c.get("name") or "" for c in root.iter("testcase")) == sorted(escape_text(h.host.name)
                                                                                 for h in hosts)
