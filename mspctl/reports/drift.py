"""Drift reports: JUnit XML (one testcase per device and feature) and Markdown; NetBox text in
both escaped by mspctl.reports.text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mspctl.drift.compare import FeatureResult
from mspctl.drift.service import DeviceDrift, DriftRun
from mspctl.escape import escape_text
from mspctl.reports.text import escape_tree, md, md_code


def junit(run: DriftRun) -> str:
    suites = ET.Element("testsuites", name="mspctl drift", id=run.run_id)
    by_client: dict[str, list[DeviceDrift]] = {}
    for d in run.devices:
        by_client.setdefault(d.asset.client or "no-client", []).append(d)
    for client, devices in sorted(by_client.items()):
        suite = ET.SubElement(suites, "testsuite", name=f"drift.{client}", timestamp=run.started_at.isoformat())
        tests = failures = errors = skipped = 0
        for d in devices:
            cases: list[FeatureResult | None] = list(d.features) or [None]
            for f in cases:
                tests += 1
                case = ET.SubElement(suite, "testcase", classname=f"{client}.{d.asset.name}",
                                     name=f.feature if f else "device")
                if d.status == "failed":
                    errors += 1
                    ET.SubElement(case, "error", type=d.error_code or "error", message=d.error or "").text = d.error
                elif d.status == "skipped":
                    skipped += 1
                    ET.SubElement(case, "skipped", message=d.error or "no features apply")
                elif f is not None and f.status == "drift":
                    failures += 1
                    body = "\n".join([*(f"- missing: {m}" for m in f.missing), *(f"- extra: {x}" for x in f.extra),
                                      "remediation:", *f.remediation])
                    ET.SubElement(case, "failure", type="drift",
                                  message=f"{len(f.missing)} missing, {len(f.extra)} extra").text = body
                if d.source:
                    props = ET.SubElement(case, "properties")
                    ET.SubElement(props, "property", name="evidence", value=d.source)
                    if d.age_seconds is not None:
                        ET.SubElement(props, "property", name="evidence_age_seconds", value=f"{d.age_seconds:.0f}")
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    ET.indent(escape_tree(suites))
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def markdown(run: DriftRun) -> str:
    s = run.summary
    lines = [f"# Configuration drift: {run.run_id}", "",
             f"{run.started_at:%Y-%m-%d %H:%M} UTC. {s['compliant']} compliant, {s['drift']} drifted, "
             f"{s['failed']} failed, {s['skipped']} skipped devices; {s['features_drifted']} drifted features.", "",
             "| device | client | status | evidence | drifted features |", "|---|---|---|---|---|"]
    for d in run.devices:
        ev = f"{d.source}, {d.age_seconds:.0f}s old" if d.source and d.age_seconds is not None else (d.source or "-")
        drifted = ", ".join(f.feature for f in d.features if f.status == "drift") or (d.error or "-")
        lines.append(f"| {md(d.asset.name)} | {md(d.asset.client)} | {d.status} | {md(ev)} | {md(drifted)} |")
    for d in run.devices:
        for f in d.features:
            if f.status != "drift":
                continue
            lines += ["", f"## {md(d.asset.name)}: {md(f.feature)}", ""]
            lines += [f"- missing: {md_code(m)}" for m in f.missing] + [f"- extra: {md_code(x)}" for x in f.extra]
            lines += ["", "Remediation:", "", "```", *(escape_text(r) for r in f.remediation), "```"]
    return "\n".join(lines) + "\n"
