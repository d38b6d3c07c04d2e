"""`mspctl runs list | show`: the recorded runs (backup, drift, push, rollback, patch) and their results."""

from __future__ import annotations

from typing import Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.output import render


@click.group("runs")
def runs_group() -> None:
    """The immutable records of what mspctl found and did."""


KINDS = ["backup", "drift", "push", "rollback", "patch-scan", "patch-apply", "patch-window", "patch-os"]


@runs_group.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only runs of this kind.")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@output_option
@pass_app
def list_cmd(app: App, kind: str | None, limit: int) -> None:
    """List recent runs, newest first."""
    from mspctl.records import RecordStore

    runs = RecordStore(app.settings.config.records).recent(kind, limit)
    data: list[dict[str, Any]] = [{"id": r.id, "kind": r.kind, "started_at": r.started_at.isoformat(timespec="seconds"),
             "seconds": round((r.finished_at - r.started_at).total_seconds(), 1), "targets": len(r.results),
             "summary": r.summary} for r in runs]
    rows = [{**d, "summary": ", ".join(f"{v} {k}" for k, v in d["summary"].items() if v and k != "commit")}
            for d in data]
    render(data, app.output, rows=rows, columns=[("id", "RUN"), ("kind", "KIND"), ("started_at", "STARTED"),
                                                  ("seconds", "SECONDS"), ("targets", "TARGETS"),
                                                  ("summary", "SUMMARY")])


@runs_group.command("show")
@click.argument("run_id")
@output_option
@pass_app
def show_cmd(app: App, run_id: str) -> None:
    """Show one run with its per-target results."""
    from mspctl.records import RecordStore
    from mspctl.secrets import scrub_values

    r = RecordStore(app.settings.config.records).get(run_id)
    # Scrubbed again: a record written by an older mspctl may hold what today's rules mask.
    results = {t: {"status": s, **scrub_values({k: v for k, v in d.items() if k not in ("pre_config", "asset")})}
               for t, (s, d) in r.results.items()}
    data = {"id": r.id, "kind": r.kind, "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat(), "params": r.params, "summary": r.summary, "results": results}
    # A target is its NetBox object (`device:12`): the name beside it is for reading.
    rows = [{"target": t, "name": v.get("device") or v.get("host") or "", "status": v["status"],
             "error": v.get("error") or ""} for t, v in results.items()]
    render(data, app.output, rows=rows, columns=[("target", "TARGET"), ("name", "NAME"), ("status", "STATUS"),
                                                  ("error", "ERROR")],
           title=f"{r.id} ({r.kind})")
