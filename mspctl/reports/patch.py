"""Patch reports: JUnit XML, one testcase per host (a failure when not compliant, an error when
unreachable or failed, skipped when not applicable), grouped in one suite per client. Selected
assets that are no patch target (`PatchRun.not_applicable`) are in the run's JSON and table, not
here: a JUnit suite counts what was checked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mspctl.patch.service import HostResult, PatchRun
from mspctl.reports.text import escape_tree


def junit(run: PatchRun) -> str:
    suites = ET.Element("testsuites", name=f"mspctl {run.kind}", id=run.run_id)
    by_client: dict[str, list[HostResult]] = {}
    for r in run.hosts:
        by_client.setdefault(r.host.asset.client or "no-client", []).append(r)
    for client, results in sorted(by_client.items()):
        suite = ET.SubElement(suites, "testsuite", name=f"patch.{client}", timestamp=run.started_at.isoformat())
        failures = errors = skipped = 0
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=f"{client}", name=r.host.name)
            c = r.compliance
            if r.status == "skipped" or c.state == "NOT_APPLICABLE":
                skipped += 1
                ET.SubElement(case, "skipped", message=r.error or c.reason or "not started")
            elif c.state in ("UNREACHABLE", "FAILED") or r.status in ("failed", "unreachable"):
                errors += 1
                ET.SubElement(case, "error", type=c.state, message=r.error or c.reason or c.state).text = r.error
            elif c.state != "COMPLIANT":
                failures += 1
                body = "\n".join(f"- {p.name}: {p.state} (installed {p.installed or '-'}, required "
                                 f"{p.required or '-'}) {p.reason}" for p in c.packages if p.state != "INSTALLED")
                ET.SubElement(case, "failure", type=c.state, message=f"{c.state} against {c.baseline}").text = body
            props = ET.SubElement(case, "properties")
            for name, value in (("baseline", r.host.baseline or ""), ("state", c.state), ("status", r.status or ""),
                                ("installed", " ".join(r.installed)), ("rebooted", str(r.rebooted).lower()),
                                ("scanned_at", c.scanned_at.isoformat() if c.scanned_at else "")):
                ET.SubElement(props, "property", name=name, value=value)
        suite.set("tests", str(len(results)))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    ET.indent(escape_tree(suites))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
