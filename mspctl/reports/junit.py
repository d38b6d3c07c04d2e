"""JUnit XML from a `Run` (mspctl.run), for CI: one testsuite per client, one testcase per check
(a drift feature of a device, a patched host); a failure for a finding, an error for a target
that failed, skipped for one not checked. Targets with no check (NOT_APPLICABLE) are not
there: a suite counts what was checked. NetBox text is escaped by mspctl.reports.text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mspctl.reports.text import escape_tree
from mspctl.run import Check, Run, TargetResult


def _provenance(run: Run) -> list[tuple[str, str]]:
    from mspctl.provenance import describe_who

    out = [("mspctl.run", run.id)] if run.who or run.command else []
    if run.who:
        out.append(("mspctl.who", describe_who(run.who)))
    if run.command:
        out.append(("mspctl.command", run.command))
    out += [(f"mspctl.version.{k}", v) for k, v in run.versions.items()]
    return out


def _case(suite: ET.Element, client: str, check: Check) -> str:
    """Add `check`'s testcase to `suite`; its status."""
    case = ET.SubElement(suite, "testcase", classname=client if check.group is None else f"{client}.{check.group}",
                         name=check.name)
    if check.status == "error":
        ET.SubElement(case, "error", type=check.type or "error", message=check.message).text = check.detail
    elif check.status == "skipped":
        ET.SubElement(case, "skipped", message=check.message)
    elif check.status == "failure":
        ET.SubElement(case, "failure", type=check.type or "failure", message=check.message).text = check.detail
    if check.properties:
        props = ET.SubElement(case, "properties")
        for name, value in check.properties:
            ET.SubElement(props, "property", name=name, value=value)
    return check.status


def junit(run: Run) -> str:
    """`run` as a JUnit XML document: ``testsuites`` (``mspctl <kind>``, the run id) holding a
    ``<area>.<client>`` testsuite per client, each with the run's provenance as properties."""
    suites = ET.Element("testsuites", name=f"mspctl {run.kind}", id=run.id)
    area = run.kind.split("-")[0]  # drift, patch
    by_client: dict[str, list[TargetResult]] = {}
    for r in run.results:
        if r.checks:
            by_client.setdefault(r.client or "no-client", []).append(r)
    provenance = _provenance(run)
    for client, results in sorted(by_client.items()):
        suite = ET.SubElement(suites, "testsuite", name=f"{area}.{client}", timestamp=run.started_at.isoformat())
        if provenance:
            props = ET.SubElement(suite, "properties")
            for name, value in provenance:
                ET.SubElement(props, "property", name=name, value=value)
        statuses = [_case(suite, client, c) for r in results for c in r.checks]
        suite.set("tests", str(len(statuses)))
        suite.set("failures", str(statuses.count("failure")))
        suite.set("errors", str(statuses.count("error")))
        suite.set("skipped", str(statuses.count("skipped")))
    ET.indent(escape_tree(suites))
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
