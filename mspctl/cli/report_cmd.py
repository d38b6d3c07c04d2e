"""`mspctl report` (a client's audit report over a period) and `mspctl status` (the fleet as
the records show it at one moment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.output import echo_line, render
from mspctl.cli.plugins_cmd import PluginChoice
from mspctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from mspctl.reports.client import ClientReport



def _period(period: str | None, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    from mspctl.history.service import parse_when

    if period and (start or end):
        raise UsageError("give --period or --from/--to, not both")
    now = datetime.now(UTC)
    until = parse_when(end, "--to") or now
    if start:
        since = parse_when(start, "--from")
        if since is not None:
            return since, until
    text = (period or "30d").strip()
    if not text[:-1].isdigit() or text[-1] not in "dw" or int(text[:-1]) < 1:
        raise UsageError(f"--period {text!r}: expected days or weeks, e.g. 30d, 4w")
    days = int(text[:-1]) * (7 if text[-1] == "w" else 1)
    return until - timedelta(days=days), until


@click.command("report")
@click.option("-c", "--client", "clients", multiple=True, metavar="NAME",
              help="A client (clients.yml key or tenant slug). Repeatable.")
@click.option("-A", "--all-clients", is_flag=True,
              help="Every client: one report each into --out DIR, plus index.html ranking them by score.")
@click.option("--period", metavar="DURATION", help="The period up to --to (default now): 30d (the default), 4w.")
@click.option("--from", "start", metavar="WHEN", help="The period's start: 2026-11-01, 2026-11-01T00:00Z.")
@click.option("--to", "end", metavar="WHEN", help="The period's end (exclusive of later records; default: now).")
@click.option("-f", "--format", "fmt", type=PluginChoice("mspctl.report_formats"), default="html", show_default=True,
              help="html: one self-contained file; md; json (schema-versioned); csv: a folder, one file per table; "
                   "or a third-party format (`mspctl plugins list`).")
@click.option("--out", type=click.Path(path_type=Path), metavar="PATH",
              help="The file (a folder for csv, or for several clients). Default: ./<client>-<date>.<ext>.")
@pass_app
def report_cmd(app: App, clients: tuple[str, ...], all_clients: bool, period: str | None, start: str | None,
               end: str | None, fmt: str, out: Path | None) -> None:
    """Write a client's audit report: compliance, patches, SLA, OS versions, assets, trends and
    accepted risks over a period, from the run records (docs/reports.md).

    \b
    Every figure comes from the recorded runs; the cover names the MSP repository version and
    the record chain's head the report was built from.
    Exit codes: 0 written; 4 written, but the record chain is broken (MSP-REC-409);
    7 written, but no record covers a client in the period (nothing was checked);
    2 usage, 10 a malformed inventory/exceptions.yml (file:line), 13 unknown client,
    14 the report cannot be written.
    """
    from mspctl.reports.service import all_client_slugs, client_reports, write_reports

    if bool(clients) == all_clients:
        raise UsageError("choose a scope: --client NAME (repeatable) or --all-clients")
    since, until = _period(period, start, end)
    inventory = app.inventory()
    names = list(clients) if clients else all_client_slugs(inventory, app.mode)
    reports = client_reports(app.settings, inventory, names, since, until, app.mode)
    several = all_clients or len(reports) > 1
    if several and out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: several reports go into a folder, and this is a file")
    if several:
        out = out or Path.cwd()
        out.mkdir(parents=True, exist_ok=True)
    from mspctl.plugins import REPORT_FORMATS

    written = write_reports(reports, fmt, out, index=several)
    folder = not REPORT_FORMATS.get(fmt).suffix  # a format of several files writes a folder
    empty = []
    for r in reports:
        paths = written.reports[r.inp.client]
        where = paths[0].parent if folder else paths[0]
        echo_line(f"{r.inp.client}: wrote {where}", err=True)
        if not _has_evidence(r):
            empty.append(r.inp.client)
    if written.index is not None:
        echo_line(f"index: wrote {written.index}", err=True)
    for r in reports:
        first = written.reports[r.inp.client][0]
        click.echo(first.parent if folder else first)
    chain = reports[0].inp.chain if reports else None
    if chain is not None and not chain.ok:
        echo_line(f"warning: MSP-REC-409: the run records' chain is broken at run {chain.broken_run}: {chain.reason}; "
                  "the report says so on its cover (`mspctl runs verify`)", err=True)
        raise SystemExit(ExitCode.FINDINGS)
    if empty:
        echo_line(f"warning: no run record covers {', '.join(empty)} by the period's end: the report shows "
                  "NO_EVIDENCE, not compliance (exit 7)", err=True)
        raise SystemExit(ExitCode.NOTHING_CHECKED)


def _has_evidence(report: ClientReport) -> bool:
    st = report.state
    return any(d.evidence_at for d in st.devices) or any(h.evidence_at for h in st.hosts) or \
        any(o.evidence_at for o in st.os)


_STATUS_COLUMNS = [("area", "AREA"), ("name", "TARGET"), ("state", "STATE"), ("detail", "DETAIL"),
                   ("evidence", "EVIDENCE"), ("age", "AGE")]


def _age(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _stamp(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ") if at else None


@click.command("status")
@click.option("-c", "--client", required=True, metavar="NAME", help="The client (clients.yml key or tenant slug).")
@click.option("--at", metavar="WHEN", help="The moment: 2026-11-01T00:00Z, 2026-11-01 (midnight UTC), 7d (ago). "
                                            "Default: now.")
@output_option
@pass_app
def status_cmd(app: App, client: str, at: str | None) -> None:
    """The client's fleet as the run records show it at one moment: per device, configuration
    compliance by feature and OS version; per host, patch state; each with its evidence's age.

    \b
    Evidence older than [patch] stale_after is STALE, never its old state; a target no record
    covers is NO_EVIDENCE. Reads the records and the (cached) inventory only.
    Exit codes: 0 every target compliant with fresh evidence; 4 something is not (drift, not
    compliant, stale, failed); 7 no record covers the client by then; 13 unknown client.
    """
    from mspctl.history.service import parse_when
    from mspctl.reports.service import fleet_status

    when = parse_when(at, "--at")
    state, chain = fleet_status(app.settings, app.inventory(), client, when, app.mode)
    rows = []
    for d in state.devices:
        drifted = [k for k, v in d.features.items() if v != "compliant"]
        feats = (f"drift: {', '.join(drifted)}; " if drifted else "") + \
            f"{len(d.features) - len(drifted)}/{len(d.features)} features compliant" if d.features else None
        rows.append({"area": "config", "target": d.key, "name": d.name, "state": d.state, "detail": feats,
                     "evidence": _stamp(d.evidence_at), "age": _age(d.age_seconds)})
    for o in state.os:
        detail = f"{o.version or '?'} (baseline {o.required})" if o.required else o.version
        rows.append({"area": "os", "target": o.key, "name": o.name, "state": o.state, "detail": detail,
                     "evidence": _stamp(o.evidence_at), "age": _age(o.age_seconds)})
    for h in state.hosts:
        rows.append({"area": "patch", "target": h.key, "name": h.name, "state": h.state, "detail": h.baseline,
                     "evidence": _stamp(h.evidence_at), "age": _age(h.age_seconds)})
    data = {**state.to_dict(), "chain": {"ok": chain.ok, "head": chain.head}}
    render(data, app.output, columns=_STATUS_COLUMNS, rows=rows,
           title=f"{state.client} at {state.at.isoformat(timespec='minutes')}",
           footer=f"evidence older than {state.stale_after.total_seconds() / 86400:g}d is STALE")
    if not any(r["evidence"] for r in rows):
        echo_line(f"no run record covers {state.client} by {state.at.isoformat()} (exit 7)", err=True)
        raise SystemExit(ExitCode.NOTHING_CHECKED)
    good = {"compliant", "COMPLIANT"}
    if any(r["state"] not in good for r in rows):
        raise SystemExit(ExitCode.FINDINGS)
