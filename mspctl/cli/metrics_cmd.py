"""`mspctl metrics`: the run records as Prometheus metrics, on stdout and for node_exporter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mspctl.cli.app import App, pass_app
from mspctl.cli.output import echo_line
from mspctl.errors import UsageError

if TYPE_CHECKING:
    from mspctl.reports.client import SlaPolicy


def _policies(app: App) -> tuple[dict[str, SlaPolicy], SlaPolicy]:
    """Each client's SLA from its tenant's `sla_tier` (the cached inventory); when the inventory
    cannot be read (offline without a cache), every client gets the default tier, and says so."""
    from mspctl.errors import MspctlError
    from mspctl.reports.client import SlaPolicy
    from mspctl.reports.service import policy_for

    tier, patch_days, drift_days = app.settings.sla.for_tier(None)
    default = SlaPolicy(tier, patch_days, drift_days)
    try:
        known = app.inventory().clients(app.mode)
    except MspctlError as exc:
        echo_line(f"warning: SLA tiers unknown ({exc.code}): mspctl_sla_breaches uses the default tier's days",
                  err=True)
        return {}, default
    return {c.slug: policy_for(app.settings, c) for c in known}, default


@click.command("metrics")
@click.option("--textfile", "textfile", type=click.Path(path_type=Path, exists=True, file_okay=False),
              metavar="DIR", help="Also write DIR/mspctl.prom (atomically) for node_exporter's textfile collector.")
@click.option("-c", "--client", "clients", multiple=True, metavar="SLUG",
              help="A client (NetBox tenant slug, as the records name it). Repeatable.")
@click.option("-A", "--all-clients", is_flag=True, help="Every client the records name.")
@pass_app
def metrics_cmd(app: App, textfile: Path | None, clients: tuple[str, ...], all_clients: bool) -> None:
    """Print Prometheus metrics computed from the run records (no NetBox, no SSH).

    \b
    Per client: devices by drift state, hosts by patch state (old evidence is STALE), SLA
    breaches over the last 30 days by area, and per kind the last run, the last success and the
    unfinished runs; plus whether the records' chain verifies. docs/metrics.md describes each metric.
    Exit codes: 0 written (a broken chain is reported as mspctl_records_chain_ok 0 and on
    stderr), 2 usage, 14 the textfile cannot be written.
    """
    from mspctl.metrics import collect, exposition, write_textfile

    if clients and all_clients:
        raise UsageError("give --client or --all-clients, not both")
    if not clients and not all_clients:
        raise UsageError("choose a scope: --client SLUG (repeatable) or --all-clients",
                         hint="`mspctl runs list` shows the clients the records name")
    s = app.settings
    policies, default = _policies(app)
    metrics = collect(s.records_location, stale_after=timedelta(seconds=s.patch.stale_after),
                      clients=clients or None, policies=policies, default_policy=default)
    text = exposition(metrics)
    if textfile is not None:
        echo_line(f"wrote {write_textfile(metrics, textfile)}", err=True)
    click.echo(text, nl=False)
    for client in sorted(set(clients) - set(metrics.clients)):
        echo_line(f"warning: no run records for client {client}: no series for it", err=True)
    if not metrics.chain.ok:
        echo_line(f"warning: MSP-REC-409: the run records' chain is broken at run {metrics.chain.broken_run}: "
                  f"{metrics.chain.reason} (mspctl_records_chain_ok 0; `mspctl runs verify`)", err=True)
    if metrics.unattributed:
        echo_line(f"warning: {metrics.unattributed} results name no client and are not counted", err=True)
