"""`mspctl runs list | show | export | verify`: the recorded runs (backup, drift, push, rollback,
patch), their results, and the chain that shows the history was not changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.output import echo_line, render

if TYPE_CHECKING:  # the store's imports are deferred, so a cached run starts fast
    from mspctl.history import HistoryStore, RunQuery


@click.group("runs")
def runs_group() -> None:
    """The immutable records of what mspctl found and did."""


KINDS = ["backup", "drift", "push", "rollback", "patch-scan", "patch-apply", "patch-window", "patch-os"]


def _store(app: App) -> HistoryStore:
    from mspctl.history import HistoryStore

    return HistoryStore(app.settings.records_location)


def filter_options[F: Callable[..., Any]](func: F) -> F:
    for option in reversed([
        click.option("--client", metavar="NAME", help="Only runs for this client."),
        click.option("--kind", type=click.Choice(KINDS), help="Only runs of this kind."),
        click.option("--target", metavar="KIND:ID|NAME", help="Only runs with a result for this target "
                                                               "(device:12) or device/host name."),
        click.option("--since", metavar="WHEN", help="Runs started at or after: 2026-11-01, 2026-11-01T08:00Z, 30d."),
        click.option("--until", metavar="WHEN", help="Runs started before: a date, a time or a duration ago."),
    ]):
        func = option(func)
    return func


def _query(client: str | None, kind: str | None, target: str | None, since: str | None, until: str | None,
           limit: int | None) -> RunQuery:
    from mspctl.history import RunQuery
    from mspctl.history.service import parse_when

    return RunQuery(kind=kind, client=client, target=target, since=parse_when(since, "--since"),
                    until=parse_when(until, "--until"), limit=limit)


@runs_group.command("list")
@filter_options
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@output_option
@pass_app
def list_cmd(app: App, client: str | None, kind: str | None, target: str | None, since: str | None,
             until: str | None, limit: int) -> None:
    """List recorded runs, newest first, with who ran each (the JSON also has its command line
    and versions)."""
    from mspctl.history.service import provenance_data
    from mspctl.provenance import describe_who

    runs = _store(app).find(_query(client, kind, target, since, until, limit))
    data: list[dict[str, Any]] = [{"id": r.id, "kind": r.kind, "clients": sorted(r.clients()),
                                   "started_at": r.started_at.isoformat(timespec="seconds"),
                                   "seconds": round((r.finished_at - r.started_at).total_seconds(), 1),
                                   "targets": len(r.results), "summary": r.summary, **provenance_data(r)}
                                  for r in runs]
    rows = [{**d, "clients": ", ".join(d["clients"]), "who": describe_who(d["who"]),
             "summary": ", ".join(f"{v} {k}" for k, v in d["summary"].items() if v and k != "commit")}
            for d in data]
    render(data, app.output, rows=rows, columns=[("id", "RUN"), ("kind", "KIND"), ("clients", "CLIENT"),
                                                  ("started_at", "STARTED"), ("seconds", "SECONDS"),
                                                  ("targets", "TARGETS"), ("summary", "SUMMARY"), ("who", "BY")])


@runs_group.command("show")
@click.argument("run_id")
@output_option
@pass_app
def show_cmd(app: App, run_id: str) -> None:
    """Show one run: who ran it, its command line and versions, its per-target results and its
    chain link."""
    from mspctl.history.service import run_data

    store = _store(app)
    data = run_data(store, store.get(run_id))
    if app.output == "table":
        for line in provenance_lines(data):
            echo_line(line)
    # A target is its NetBox object (`device:12`): the name beside it is for reading.
    rows = [{"target": t, "name": v.get("device") or v.get("host") or "", "status": v["status"],
             "error": v.get("error") or ""} for t, v in data["results"].items()]
    link = data["chain"]
    render(data, app.output, rows=rows, columns=[("target", "TARGET"), ("name", "NAME"), ("status", "STATUS"),
                                                  ("error", "ERROR")],
           title=f"{data['id']} ({data['kind']})",
           footer=f"record #{link['seq']}, content {link['content_hash']}" if link else "not in the chain")


def provenance_lines(data: dict[str, Any]) -> list[str]:
    """`runs show`'s lines above the results: who, the command line, the versions."""
    from mspctl.provenance import describe_who

    who = data.get("who") or {}
    detail = ", ".join(f"{k} {v}" for k, v in who.items() if k not in ("ci", "job", "user") and v) if who else ""
    versions = data.get("versions") or {}
    lines = [f"who:      {describe_who(who) if who else '- (recorded before mspctl kept it)'}"
             + (f" ({detail})" if detail and who.get("ci") else ""),
             f"command:  {data.get('command') or '-'}",
             "versions: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "-")]
    if data.get("sealed_by"):
        lines.append(f"sealed:   by {describe_who(data['sealed_by'])} (its process died before it finished)")
    return lines


@runs_group.command("export")
@filter_options
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="JSON Lines (one run a line, with its results) or CSV (one row per run and target).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@pass_app
def export_cmd(app: App, client: str | None, kind: str | None, target: str | None, since: str | None,
               until: str | None, fmt: str, out: Path | None) -> None:
    """Export the selected runs, newest first."""
    from mspctl.history.service import write_export

    text = write_export(_store(app), _query(client, kind, target, since, until, None), fmt, out)
    if text is not None:
        click.echo(text, nl=False)
    else:
        echo_line(f"wrote {out}", err=True)


@runs_group.command("verify")
@output_option
@pass_app
def verify_cmd(app: App) -> None:
    """Check the chain of run records; exit 4 (MSP-REC-409) naming the first broken link."""
    from mspctl.history.service import verify

    report = verify(_store(app))
    data = {"ok": report.ok, "records": report.records, "head": report.head}
    if app.output in ("json", "yaml"):
        render(data, app.output)
    else:
        echo_line(f"chain OK: {report.records} records, head {report.head or '(empty)'}")
