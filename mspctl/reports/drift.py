"""Drift reports, rendered from the run value (`mspctl.run.Run`): JUnit XML (one testcase per
device and feature, `mspctl.reports.junit`) and Markdown; NetBox text in both escaped by
mspctl.reports.text. Each also takes a `DriftRun` and renders its `to_run()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mspctl.escape import escape_text
from mspctl.reports import junit as _junit
from mspctl.reports.text import md, md_code
from mspctl.run import Run

if TYPE_CHECKING:
    from mspctl.drift.service import DriftRun


def _run(run: Run | DriftRun) -> Run:
    return run if isinstance(run, Run) else run.to_run()


def junit(run: Run | DriftRun) -> str:
    return _junit.junit(_run(run))


def markdown(run: Run | DriftRun) -> str:
    r = _run(run)
    s = r.summary
    lines = [f"# Configuration drift: {r.id}", "",
             f"{r.started_at:%Y-%m-%d %H:%M} UTC. {s['compliant']} compliant, {s['drift']} drifted, "
             f"{s['failed']} failed, {s['skipped']} skipped devices; {s['features_drifted']} drifted features.", "",
             "| device | client | status | evidence | drifted features |", "|---|---|---|---|---|"]
    for t in r.results:
        ev = (f"{t.evidence_source}, {t.evidence_age:.0f}s old" if t.evidence_source and t.evidence_age is not None
              else (t.evidence_source or "-"))
        drifted = ", ".join(c.name for c in t.checks if c.data.get("status") == "drift") or (t.error or "-")
        lines.append(f"| {md(t.data['device'])} | {md(t.client)} | {t.status} | {md(ev)} | {md(drifted)} |")
    for t in r.results:
        for c in t.checks:
            if c.data.get("status") != "drift":
                continue
            lines += ["", f"## {md(t.data['device'])}: {md(c.name)}", ""]
            lines += [f"- missing: {md_code(m)}" for m in c.data["missing"]]
            lines += [f"- extra: {md_code(x)}" for x in c.data["extra"]]
            lines += ["", "Remediation:", "", "```", *(escape_text(x) for x in c.data["remediation"]), "```"]
    if r.who or r.command:
        from mspctl.provenance import describe_who

        lines += ["", f"Run by {md(describe_who(r.who))}: {md_code(r.command or '-')}; versions: "
                  + md(", ".join(f"{k} {v}" for k, v in r.versions.items()) or "-") + "."]
    return "\n".join(lines) + "\n"
