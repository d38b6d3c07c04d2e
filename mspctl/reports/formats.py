"""The client report's formats, every one from `ClientReport.to_dict()` (the JSON report), so
they cannot disagree: JSON (schema-versioned, `schema/report.schema.json`), Markdown, CSV (one
file per table) and HTML (one self-contained file: inline CSS and SVG, no script, no network).

Text from NetBox and devices is untrusted: HTML autoescapes every value (and shows control
characters escaped, as tables do), Markdown escapes its punctuation (mspctl.reports.text), and
CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) start with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mspctl.escape import escape_text
from mspctl.reports.text import md

if TYPE_CHECKING:
    from jinja2 import Environment

FORMATS = ("html", "md", "json", "csv")
SCHEMA = Path(__file__).parent / "schema" / "report.schema.json"


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# -- shared helpers -------------------------------------------------------------------------------

def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _short(text: str | None, n: int = 12) -> str:
    return (text or "-")[:n]


def _when(text: str | None) -> str:
    """An ISO time as ``2026-11-30 14:05Z`` (minutes, UTC)."""
    if not text:
        return "-"
    return text[:16].replace("T", " ") + "Z"


def sections() -> list[tuple[str, str]]:
    """(anchor, title) of the report's sections, in order (HTML and Markdown both use them)."""
    return [("summary", "Summary"), ("configuration", "Configuration compliance"),
            ("patches", "Patch compliance"), ("sla", "SLA"), ("os", "OS and firmware versions"),
            ("assets", "Assets"), ("trends", "Trends"), ("exceptions", "Exceptions"), ("runs", "Runs")]


def area_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    s = report["summary"]
    return [("Configuration (devices)", s["drift"]), ("Patches (servers)", s["patches"]),
            ("OS versions (devices)", s["os"])]


# -- CSV ------------------------------------------------------------------------------------------

def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = "; ".join(f"{k}={v}" for k, v in value.items())
    text = escape_text(str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_csv_cell(r.get(c)) for c in columns])
    return buf.getvalue()


def csv_tables(report: dict[str, Any]) -> dict[str, str]:
    """File name -> CSV text, one file per table of the report."""
    summary = [{"area": name, "score": a["score"], "total": a["total"], "excepted": a["excepted"],
                **{f"count_{k}": v for k, v in a["counts"].items()}} for name, a in area_rows(report)]
    cols: list[str] = ["area", "score", "total", "excepted"]
    for row in summary:
        cols += [k for k in row if k not in cols]
    sla = report["sla"]
    breaches = [{"area": area, **b} for area in ("patch", "drift") for b in sla[area]["breaches"]]
    return {
        "summary.csv": _table(summary, cols),
        "devices.csv": _table([{**d, "features": d["features"]} for d in report["configuration"]["devices"]],
                              ["target", "name", "state", "features", "evidence_at", "age_seconds", "source", "error"]),
        "features.csv": _table(report["configuration"]["features"], ["feature", "compliant", "drift", "excepted"]),
        "drifts.csv": _table(report["configuration"]["drifts"],
                             ["target", "name", "feature", "first_seen", "fixed_at", "open", "excepted", "days",
                              "missing", "extra"]),
        "hosts.csv": _table(report["patches"]["hosts"],
                            ["target", "name", "state", "baseline", "security_updates_not_in_effect", "packages",
                             "evidence_at", "age_seconds", "error"]),
        "missing_security.csv": _table(report["patches"]["missing_security"],
                                       ["target", "host", "package", "state", "installed", "required",
                                        "available_since", "availability", "days_available", "excepted"]),
        "sla.csv": _table([{"area": a, "days": sla[a]["days"], "eligible": sla[a]["eligible"], "met": sla[a]["met"],
                            "share": sla[a]["share"], "breaches": len(sla[a]["breaches"])} for a in ("patch", "drift")],
                          ["area", "days", "eligible", "met", "share", "breaches"]),
        "sla_breaches.csv": _table(breaches, ["area", "target", "name", "feature", "package", "first_seen",
                                              "available_at", "due", "fixed", "days"]),
        "os.csv": _table(report["os"]["devices"], ["target", "name", "state", "version", "required", "evidence_at"]),
        "assets.csv": _table(report["assets"]["items"],
                             ["target", "name", "kind", "site", "role", "platform", "device_type", "serial", "status"]),
        "trends.csv": _table(report["trends"], ["date", "drift", "patches", "os"]),
        "exceptions.csv": _table([{**e, "expired": False} for e in report["exceptions"]["active"]] +
                                 [{**e, "expired": True} for e in report["exceptions"]["expired"]],
                                 ["client", "target", "feature", "package", "reason", "approved_by", "expires",
                                  "expired", "source"]),
    }


# -- Markdown -------------------------------------------------------------------------------------

def _md_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> list[str]:
    if not rows:
        return ["_None._", ""]
    out = ["| " + " | ".join(md(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(md("-" if c is None else c) for c in r) + " |" for r in rows]
    return [*out, ""]


def render_markdown(r: dict[str, Any]) -> str:
    c = r["client"]
    lines = [f"# Audit report: {md(c['name'])} ({md(c['slug'])})", "",
             f"- Period: {_when(r['period']['from'])} to {_when(r['period']['to'])}",
             f"- Generated: {_when(r['generated_at'])}",
             f"- MSP repository: {md(r['repository_version'])}",
             f"- Record chain head: {md(r['chain']['head'] or 'empty')} ({r['chain']['records']} records, "
             f"{'verified' if r['chain']['ok'] else 'BROKEN at ' + md(r['chain']['broken_run'])})",
             f"- SLA tier: {md(c['sla_tier'])}", ""]
    for anchor, title in sections():
        lines += [f"## {title}", ""]
        lines += _MD_SECTIONS[anchor](r)
    return "\n".join(lines).rstrip() + "\n"


def _md_summary(r: dict[str, Any]) -> list[str]:
    states = sorted({k for _, a in area_rows(r) for k in a["counts"]})
    rows = [[name, pct(a["score"]), a["total"], *[a["counts"].get(s, "") for s in states]]
            for name, a in area_rows(r)]
    s = r["summary"]
    return [*_md_table(rows, ["Area", "Score", "Total", *states]),
            f"Open drifts: {s['open_drifts']}; security updates not in effect: {s['missing_security_updates']}; "
            f"SLA breaches: {s['sla_breaches']}; expired exceptions: {s['expired_exceptions']}.", ""]


def _md_configuration(r: dict[str, Any]) -> list[str]:
    conf = r["configuration"]
    features = [[f["feature"], f["compliant"], f["drift"], f["excepted"]] for f in conf["features"]]
    devices = [[d["name"], d["state"], ", ".join(f"{k}: {v}" for k, v in d["features"].items()),
                _when(d["evidence_at"])] for d in conf["devices"]]
    out = ["### By feature", "", *_md_table(features, ["Feature", "Compliant", "Drift", "Excepted"])]
    out += ["### By device", "", *_md_table(devices, ["Device", "State", "Features", "Evidence"])]
    mttr = conf["mttr_hours"]
    out += ["### Drifts", "", f"Fixed in the period: {conf['fixed_in_period']}; mean time to remediate: "
            f"{'n/a' if mttr is None else f'{mttr:.2f} h'}.", ""]
    out += _md_table([[d["name"], d["feature"], _when(d["first_seen"]), _when(d["fixed_at"]) if d["fixed_at"] else
                       ("excepted" if d["excepted"] else "open"), "; ".join(d["missing"]), "; ".join(d["extra"])]
                      for d in conf["drifts"]], ["Device", "Feature", "First seen", "Fixed", "Missing", "Extra"])
    return out


def _md_patches(r: dict[str, Any]) -> list[str]:
    p = r["patches"]
    out = ["### By host", "", *_md_table([[h["name"], h["state"], h["baseline"], h["security_updates_not_in_effect"],
                                           _when(h["evidence_at"])] for h in p["hosts"]],
                                         ["Host", "State", "Baseline", "Security updates not in effect", "Evidence"])]
    out += ["### Security updates not in effect", "",
            *_md_table([[m["host"], m["package"], m["state"], m["installed"], m["required"],
                         _when(m["available_since"]), m["days_available"], "yes" if m["excepted"] else ""]
                        for m in p["missing_security"]],
                       ["Host", "Package", "State", "Installed", "Required", "Available since", "Days", "Excepted"])]
    return out


def _md_sla(r: dict[str, Any]) -> list[str]:
    s = r["sla"]
    out = [f"Tier {md(s['tier'])}: security updates in effect within {s['patch']['days']} days of becoming "
           f"available; drift fixed within {s['drift']['days']} days of being found.", ""]
    out += _md_table([[area, s[k]["days"], s[k]["eligible"], s[k]["met"], pct(s[k]["share"]), len(s[k]["breaches"])]
                      for area, k in (("Security updates", "patch"), ("Drift", "drift"))],
                     ["Area", "Days", "Due or done", "Met", "Share", "Breaches"])
    out += ["### Breaches", "", *_md_table(
        [[b["name"], b.get("package") or b.get("feature"), _when(b.get("available_at") or b.get("first_seen")),
          _when(b["due"]), _when(b["fixed"]) if b["fixed"] else "not yet", b["days"]]
         for k in ("patch", "drift") for b in s[k]["breaches"]],
        ["Target", "Package / feature", "Found", "Due", "Done", "Days"])]
    return out


def _md_os(r: dict[str, Any]) -> list[str]:
    return _md_table([[o["name"], o["state"], o["version"], o["required"], _when(o["evidence_at"])]
                      for o in r["os"]["devices"]], ["Device", "State", "Version", "Required", "Evidence"])


def _md_assets(r: dict[str, Any]) -> list[str]:
    a = r["assets"]
    out = [f"{a['total']} assets.", ""]
    for key, title in (("by_kind", "Kind"), ("by_site", "Site"), ("by_role", "Role"), ("by_platform", "Platform")):
        out += _md_table(sorted(a[key].items()), [title, "Count"])
    out += _md_table([[i["name"], i["kind"], i["site"], i["role"], i["platform"], i["serial"]] for i in a["items"]],
                     ["Name", "Kind", "Site", "Role", "Platform", "Serial"])
    return out


def _md_trends(r: dict[str, Any]) -> list[str]:
    return _md_table([[t["date"], pct(t["drift"]), pct(t["patches"]), pct(t["os"])] for t in r["trends"]],
                     ["Day", "Configuration", "Patches", "OS"])


def _md_exceptions(r: dict[str, Any]) -> list[str]:
    e = r["exceptions"]
    rows = [[x["target"], x["feature"] or x["package"], x["reason"], x["approved_by"], x["expires"], status]
            for status, items in (("active", e["active"]), ("EXPIRED: a finding", e["expired"])) for x in items]
    return _md_table(rows, ["Target", "Feature / package", "Reason", "Approved by", "Expires", "Status"])


def _md_runs(r: dict[str, Any]) -> list[str]:
    return _md_table([[x["id"], x["kind"], _when(x["finished_at"])] for x in r["runs"]], ["Run", "Kind", "Finished"])


_MD_SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "summary": _md_summary, "configuration": _md_configuration, "patches": _md_patches, "sla": _md_sla,
    "os": _md_os, "assets": _md_assets, "trends": _md_trends, "exceptions": _md_exceptions, "runs": _md_runs,
}


# -- HTML -----------------------------------------------------------------------------------------

_SERIES = (("drift", "Configuration", "#1f77b4"), ("patches", "Patches", "#d62728"), ("os", "OS", "#2ca02c"))


def trend_svg(trends: Sequence[dict[str, Any]], width: int = 720, height: int = 220) -> dict[str, Any]:
    """The trend chart's geometry (numbers only: the template draws it as inline SVG): one
    polyline per area over the days, 0-100 %, gaps where an area had no evidence."""
    left, right, top, bottom = 40, 10, 10, 30
    w, h = width - left - right, height - top - bottom
    n = max(1, len(trends) - 1)

    def xy(i: int, v: float) -> str:
        return f"{left + w * i / n:.1f},{top + h * (1 - v / 100):.1f}"

    lines = []
    for key, label, colour in _SERIES:
        segments: list[list[str]] = [[]]
        for i, t in enumerate(trends):
            if t[key] is None:
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append(xy(i, t[key]))
        lines.append({"label": label, "colour": colour,
                      "segments": [" ".join(s) if len(s) > 1 else s[0] for s in segments if s],
                      "points": [p for s in segments for p in s]})
    grid = [{"y": top + h * (1 - v / 100), "label": f"{v} %"} for v in (0, 25, 50, 75, 100)]
    ticks = []
    if trends:
        step = max(1, len(trends) // 6)
        ticks = [{"x": left + w * i / n, "label": trends[i]["date"][5:]} for i in range(0, len(trends), step)]
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": top + h, "lines": lines, "grid": grid, "ticks": ticks}


def _env() -> Environment:
    """Jinja2 for the HTML formats: every value autoescaped, control characters shown escaped."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["t"] = lambda v: "-" if v is None else escape_text(str(v))
    env.filters["pct"] = pct
    env.filters["when"] = _when
    env.filters["short"] = _short
    return env


def render_html(r: dict[str, Any]) -> str:
    return _env().get_template("report.html.j2").render(r=r, sections=sections(), areas=area_rows(r),
                                                     chart=trend_svg(r["trends"]))


def render_index(entries: Sequence[dict[str, Any]], generated_at: str, period: dict[str, Any]) -> str:
    """The MSP-wide index: every client's report linked, ranked by score (lowest first: who needs
    attention). `entries`: client, name, file (relative), scores, breaches."""
    return _env().get_template("index.html.j2").render(entries=entries, generated_at=generated_at, period=period)


def overall(report: dict[str, Any]) -> float | None:
    """A client's score for ranking: the mean of its areas' scores (areas without any: left out)."""
    scores = [a["score"] for _, a in area_rows(report) if a["score"] is not None]
    return round(sum(scores) / len(scores), 1) if scores else None


# -- the built-in formats, as `mspctl.report_formats` plugins ------------------------------------

@dataclass(frozen=True)
class TextFormat:
    """A format of one file: `render` turns the report into its text. `suffix` is the file's
    extension (``.html``)."""

    name: str
    suffix: str
    render: Callable[[dict[str, Any]], str]

    def write(self, report: dict[str, Any], out: Path) -> list[Path]:
        from mspctl.files import write_atomic

        write_atomic(out, self.render(report))
        return [out]


@dataclass(frozen=True)
class CsvFormat:
    """CSV: the folder `out`, one file per table (`csv_tables`). An empty `suffix` means a folder."""

    name: str = "csv"
    suffix: str = ""

    def write(self, report: dict[str, Any], out: Path) -> list[Path]:
        from mspctl.files import write_atomic

        paths = []
        for name, text in csv_tables(report).items():
            write_atomic(out / name, text)
            paths.append(out / name)
        return paths


HTML = TextFormat("html", ".html", render_html)
MARKDOWN = TextFormat("md", ".md", render_markdown)
JSON = TextFormat("json", ".json", render_json)
CSV = CsvFormat()
