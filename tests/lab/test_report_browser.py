"""The HTML audit report in a real headless Chromium (lab/browser.py), after the demo's runs
against the lab: a drift audit, a patch scan and the network OS versions of acme.

The page must show every section, the figures of the JSON report of the same period (the two
formats render one value), no console error (the page loads with the network blocked, so a
report that fetched anything would show one), and its screenshot is kept as a test artifact
(out/test-artifacts/report-acme.png).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lab.browser import png_size
from mspctl.errors import ExitCode
from tests.conftest import Chromium, Invoke, LabNetwork, LabServers

SECTIONS = ("cover", "summary", "configuration", "patches", "sla", "os", "assets", "trends", "exceptions", "runs")
HEADINGS = ("Summary", "Configuration compliance", "Patch compliance", "SLA", "OS and firmware versions",
            "Assets", "Trends", "Exceptions")
AREAS = ("drift", "patches", "os")  # the summary's areas, in the report's order
SERIES = {"Configuration": "drift", "Patches": "patches", "OS": "os"}  # trend lines by their legend


def _percent(shown: str) -> float | None:
    """A score as the page shows it: `40.0 %`, or `n/a` for none."""
    if shown.strip() == "n/a":
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", shown)
    assert match, f"not a percentage: {shown!r}"
    return float(match.group(1))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _cells(row_text: str) -> list[str]:
    return [c.strip() for c in row_text.split("\t")]


def test_the_html_report_in_chromium_shows_the_json_reports_figures(
        mspctl: Invoke, lab_network: LabNetwork, lab_servers: LabServers, chromium: Chromium,
        tmp_path: Path) -> None:
    lab_network.reset()
    env = {"MSPCTL_CREDENTIALS_FILE": lab_network.credentials_file, "MSPCTL_DEVICE_PORT": lab_network.device_port,
           "MSPCTL_SSH_CONFIG": lab_servers.ssh_config}
    # the demo's runs: drift (the lab seeds some), a patch scan and the network OS versions
    drift = mspctl("drift", "-c", "acme", "--no-notify", env=env)
    assert drift.exit_code == ExitCode.FINDINGS, drift.output
    scan = mspctl("patch", "scan", "-c", "acme", env=env)
    assert scan.exit_code in (0, ExitCode.FINDINGS), scan.output
    os_run = mspctl("patch", "os", "-c", "acme", env=env)
    assert os_run.exit_code in (0, ExitCode.FINDINGS), os_run.output

    # one period for both formats, so that they render the same records
    to = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    period = ["--from", (to - timedelta(days=30)).isoformat(), "--to", to.isoformat()]
    html, data_file = tmp_path / "acme.html", tmp_path / "acme.json"
    for fmt, out in (("html", html), ("json", data_file)):
        res = mspctl("report", "-c", "acme", *period, "--format", fmt, "--out", str(out), env=env)
        assert res.exit_code == 0, res.output
    data = json.loads(data_file.read_text())

    page = chromium.open(html, "report-acme", (
        "section[id]", "#summary [data-field=score]", "#summary [data-field=total]", "#summary [data-state]",
        "#configuration tr[data-target]", "#patches tr[data-target]", "#sla tr[data-sla]",
        "#assets [data-field=asset-total]", "#trends svg", "#trends svg line", "#trends svg text",
        "#trends polyline.trend"))

    # no console errors: nothing failed to load, no script error
    assert page.console_errors == [], page.console
    # the screenshot is kept
    assert page.screenshot == chromium.artifacts / "report-acme.png"
    width, height = png_size(page.screenshot)
    assert width >= 1000 and height > 1500

    # every section, with its heading
    assert [e.attributes["id"] for e in page.elements["section[id]"]] == list(SECTIONS)
    client = data["client"]["name"]
    assert page.heading_texts(1) == [f"Audit report: {client}"]
    assert client in page.title
    assert set(HEADINGS) <= set(page.heading_texts(2)), page.heading_texts(2)
    sections = {e.attributes["id"]: e.text for e in page.elements["section[id]"]}

    # cover: the record chain and the repository version the report was built from
    assert data["chain"]["head"] in sections["cover"]
    assert f"{data['chain']['records']} records" in sections["cover"]
    assert data["repository_version"] in sections["cover"]

    # summary: each area's score, total and counts by state
    summary = data["summary"]
    assert [_percent(e.text) for e in page.elements["#summary [data-field=score]"]] == \
        [_rounded(summary[a]["score"]) for a in AREAS]
    assert [int(e.text) for e in page.elements["#summary [data-field=total]"]] == [summary[a]["total"] for a in AREAS]
    shown_counts = [(e.attributes["data-state"], int(e.text.split()[-1]))
                    for e in page.elements["#summary [data-state]"]]
    assert shown_counts == [(s, n) for a in AREAS for s, n in summary[a]["counts"].items()]
    assert sum(summary["drift"]["counts"].values()) == summary["drift"]["total"]

    # configuration compliance: each device's state
    devices = {e.attributes["data-target"]: _cells(e.text) for e in page.elements["#configuration tr[data-target]"]}
    assert {t: c[:2] for t, c in devices.items()} == \
        {d["target"]: [d["name"], d["state"]] for d in data["configuration"]["devices"]}
    assert {d["state"] for d in data["configuration"]["devices"]} == {"drift"}  # the lab's seeded drift

    # patch compliance: each host's state, baseline and security updates not in effect
    hosts = {e.attributes["data-target"]: _cells(e.text) for e in page.elements["#patches tr[data-target]"]}
    assert {t: c[:4] for t, c in hosts.items()} == {
        h["target"]: [h["name"], h["state"], h["baseline"] or "-", str(h["security_updates_not_in_effect"])]
        for h in data["patches"]["hosts"]}
    assert len(hosts) == 5  # acme's five servers
    for missing in data["patches"]["missing_security"]:
        assert f"{missing['host']}\t{missing['package']}\t{missing['state']}" in sections["patches"]
    assert len(data["patches"]["missing_security"]) == summary["missing_security_updates"]

    # SLA: the share met and the breaches, per area
    sla = {e.attributes["data-sla"]: _cells(e.text) for e in page.elements["#sla tr[data-sla]"]}
    for area in ("patch", "drift"):
        s = data["sla"][area]
        days, eligible, met, share, breaches = sla[area][1:6]
        assert [days, eligible, met, breaches] == [str(s["days"]), str(s["eligible"]), str(s["met"]),
                                                   str(len(s["breaches"]))]
        assert _percent(share) == _rounded(s["share"])

    # OS versions: each device's state and running version
    for d in data["os"]["devices"]:
        assert f"{d['name']}\t{d['state']}\t{d['version'] or '-'}" in sections["os"]

    # assets: the total, and every asset with its serial number
    assert int(page.elements["#assets [data-field=asset-total]"][0].text) == data["assets"]["total"]
    for asset in data["assets"]["items"]:
        assert asset["name"] in sections["assets"] and (asset["serial"] or "") in sections["assets"]

    # trends: an inline SVG chart whose points are the JSON's daily scores
    assert len(page.elements["#trends svg"]) == 1
    _check_trend_chart(page.elements, data["trends"])

    # exceptions and runs
    if not data["exceptions"]["active"] and not data["exceptions"]["expired"]:
        assert "None." in sections["exceptions"]
    for x in [*data["exceptions"]["active"], *data["exceptions"]["expired"]]:
        assert x["reason"] in sections["exceptions"]
    assert {r["kind"] for r in data["runs"]} >= {"drift", "patch-scan"}
    for run in data["runs"]:
        assert run["id"] in sections["runs"]


def _check_trend_chart(elements: dict, trends: list[dict]) -> None:
    """Read the chart back: the y of the grid's `0 %` and `100 %` lines give the scale; each
    series' points, left to right, must be that area's non-empty daily scores."""
    labels = {e.text: float(e.attributes["y"]) for e in elements["#trends svg text"] if e.text.endswith("%")}
    grid = sorted(float(e.attributes["y1"]) for e in elements["#trends svg line"])
    zero, hundred = max(grid), min(grid)
    assert labels["0 %"] > labels["100 %"], "0 % is at the bottom"
    shown: dict[str, list[tuple[float, float]]] = {}
    for line in elements["#trends polyline.trend"]:
        points = [tuple(map(float, p.split(","))) for p in line.attributes["points"].split()]
        shown.setdefault(line.attributes["data-series"], []).extend(points)
    for label, key in SERIES.items():
        expected = [t[key] for t in trends if t[key] is not None]
        values = [100 * (zero - y) / (zero - hundred) for _, y in sorted(shown.get(label, []))]
        assert len(values) == len(expected), (label, values, expected)
        for got, want in zip(values, expected, strict=True):
            assert abs(got - want) < 0.2, (label, values, expected)
    assert any(t["drift"] is not None for t in trends), "the drift audit is in the trend"
