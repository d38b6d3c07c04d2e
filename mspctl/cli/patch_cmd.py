"""`mspctl patch scan|apply|status|window|baselines`: server patching against baselines as code."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.inventory import build_filter, scope_options
from mspctl.cli.output import echo_line, render
from mspctl.cli.plugins_cmd import driver_option
from mspctl.escape import escape_text
from mspctl.offline import refuse_offline
from mspctl.reports.present import finish, present
from mspctl.run import FailOn, Run
from mspctl.run import fail_on as policy

if TYPE_CHECKING:
    from mspctl.adapters.ansible import HostEvent

# apply and window: a host not patched fails the run (3); a dry run fails only when it had nothing
# to patch (7); status judges the records: a host last seen unreachable is not compliant (4), not
# a failure of this run.
APPLIED = FailOn(findings=False)
DRY_RUN = FailOn(findings=False, failures=False)
FROM_RECORDS = FailOn(failures=False)


@click.group("patch")
def patch_group() -> None:
    """Patch servers to their baselines: scan, apply, unattended windows, compliance status."""


@contextmanager
def _live(app: App, description: str) -> Iterator[Callable[[HostEvent], None]]:
    """Live progress from Ansible's events: a status line on a terminal; in CI logs, one line per
    change, failure or unreachable host (ok and skipped tasks would drown them)."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.text import Text

        with Console(stderr=True).status(description) as status:
            def on_tty(ev: HostEvent) -> None:  # plain text: a host name is never rich markup
                status.update(Text(escape_text(f"{description}: {ev.host} {ev.task} ({ev.status})")))
            yield on_tty
        return

    def on_log(ev: HostEvent) -> None:
        if ev.status in ("changed", "failed", "unreachable"):
            echo_line(f"[{description}] {ev.host}: {ev.task}: {ev.status}", err=True)
    yield on_log


def _footer(run: Run) -> str:
    from mspctl.reports.present import view_for

    return view_for(run.kind).footer(run)


def _write_reports(run: Run, json_path: Path | None, junit_path: Path | None) -> None:
    from mspctl.cli.output import to_json
    from mspctl.files import write_atomic
    from mspctl.reports.patch import junit

    if json_path:
        write_atomic(json_path, to_json(run.to_dict()) + "\n")
    if junit_path:
        write_atomic(junit_path, junit(run))


_report_options = [
    click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
                 help="Also write the run as JSON to FILE."),
    click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False),
                 help="Also write JUnit XML (one testcase per host) to FILE."),
]


def report_options(func: Any) -> Any:
    for opt in reversed(_report_options):
        func = opt(func)
    return func


@patch_group.command("scan")
@scope_options
@report_options
@click.option("--fail-on", type=click.Choice(["noncompliant", "failure", "never"]), default="noncompliant",
              show_default=True, help="Which results make the exit code non-zero. noncompliant: an "
                                      "unreachable or failed host (3, which wins), a host in any other state "
                                      "than COMPLIANT (4: NON_COMPLIANT, PENDING_REBOOT, STALE, NO_BASELINE). "
                                      "failure: only an unreachable or failed host (3). never: 0 whatever the "
                                      "hosts showed (the scan is still reported and recorded). Errors before "
                                      "any host is read exit non-zero whatever --fail-on says.")
@output_option
@pass_app
def scan_cmd(app: App, /, json_path: Path | None, junit_path: Path | None, fail_on: str, **flt: Any) -> None:
    """Scan servers over SSH (package facts and pending updates) and check them against their baselines.

    \b
    Per host: COMPLIANT, NON_COMPLIANT, PENDING_REBOOT, UNREACHABLE, FAILED, STALE or NO_BASELINE,
    and per package the AWS SSM states (INSTALLED, INSTALLED_OTHER, INSTALLED_PENDING_REBOOT,
    INSTALLED_REJECTED, MISSING, FAILED, NOT_APPLICABLE). The scan is stored as a run record.
    Only servers whose platform maps to an OS family mspctl patches (debian, redhat) are
    scanned; every other selected asset (no platform, network gear, another OS) is listed
    NOT_APPLICABLE with the reason, and never contacted.
    Exit: 0 all compliant, 4 some not compliant, 3 some hosts unreachable or failed,
    7 every selected asset was NOT_APPLICABLE (nothing was checked).
    """
    from mspctl.patch.service import scan

    refuse_offline(app.mode, "patch scan")
    with _live(app, "scanning") as on_event:
        run = scan(app.settings, app.inventory(), build_filter(**flt), app.mode, on_event).to_run()
    _write_reports(run, json_path, junit_path)
    present(run, app.output)
    finish(run, policy(fail_on), "scanned")


@patch_group.command("status")
@scope_options
@output_option
@pass_app
def status_cmd(app: App, /, **flt: Any) -> None:
    """Compliance from the recorded scans and patch runs only: no SSH. Evidence older than
    [patch] stale_after (default 7 days), or a host never scanned, is STALE.
    Exit: 0 all compliant, 4 otherwise, 7 every selected asset NOT_APPLICABLE."""
    from mspctl.patch.service import status

    refuse_offline(app.mode, "patch status")
    run = status(app.settings, app.inventory(), build_filter(**flt), app.mode).to_run()
    present(run, app.output, footer="from run records: " + ", ".join(f"{n} {s}" for s, n in run.summary.items()))
    finish(run, FROM_RECORDS, "judged")


@patch_group.command("apply")
@scope_options
@click.option("--apply", "do_apply", is_flag=True, help="Patch the hosts (default: a dry run showing the plan).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option("--no-writeback", is_flag=True, help="Do not record the results in NetBox.")
@report_options
@output_option
@pass_app
def apply_cmd(app: App, /, do_apply: bool, yes: bool, no_writeback: bool, json_path: Path | None,
              junit_path: Path | None, **flt: Any) -> None:
    """Install each host's approved updates, through playbooks/patch_apply.yml (ansible-runner).

    \b
    A dry run by default. With --apply: a fresh scan, then a canary batch ([patch] canary hosts),
    then the rest (in batches of [patch] batch_size); no batch starts once more than
    [patch] max_fail_percent of the hosts failed. Per host: pre-checks (disk space, package
    manager lock), install exact versions, reboot per the baseline's policy, post-checks; then
    its compliance is checked again. Results go to NetBox (journal + custom fields).
    Assets that are no patch target (no platform, network gear, another OS) are NOT_APPLICABLE.
    Exit: 0 every host compliant, 3 some host failed, was unreachable or was skipped,
    7 every selected asset NOT_APPLICABLE (nothing to patch).
    """
    from mspctl.interrupts import graceful_stop
    from mspctl.patch.service import apply

    refuse_offline(app.mode, "patch apply")
    selection = build_filter(**flt)
    if do_apply and not yes:
        with _live(app, "planning") as on_event:
            planned = apply(app.settings, app.inventory(), selection, dry_run=True, mode=app.mode,
                            on_event=on_event).to_run()
        present(planned, app.output, footer="dry run before applying", err=True)  # stdout: only the run's result
        finish(planned, DRY_RUN, "patched")
        n = planned.summary.get("planned", 0)
        if n == 0:
            click.echo("Nothing to patch.", err=True)
            return
        click.confirm(f"Patch these {n} host(s)?", abort=True, err=True)
    with graceful_stop() as stop, _live(app, "patching" if do_apply else "planning") as on_event:
        run = apply(app.settings, app.inventory(), selection, dry_run=not do_apply, mode=app.mode,
                    writeback=not no_writeback, on_event=on_event, stop=stop).to_run()
    _write_reports(run, json_path, junit_path)
    present(run, app.output,
            footer=_footer(run) + ("" if do_apply else " (dry run: nothing was changed; --apply to patch)"))
    finish(run, APPLIED if do_apply else DRY_RUN, "patched")


@patch_group.command("window")
@click.option("-c", "--client", required=True, metavar="SLUG", help="The client (tenant slug or clients.yml name).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (required when stdin is not a terminal).")
@click.option("--force", is_flag=True, help="Run even outside the client's maintenance window.")
@click.option("--no-writeback", is_flag=True, help="Do not record the results in NetBox.")
@click.option("--no-notify", is_flag=True, help="Send no notification for this window ([notify] urls, docs/notify.md).")
@report_options
@output_option
@pass_app
def window_cmd(app: App, /, client: str, yes: bool, force: bool, no_writeback: bool, no_notify: bool,
               json_path: Path | None, junit_path: Path | None) -> None:
    """Run a client's patch window unattended (for scheduled CI jobs).

    \b
    Refused outside the client's maintenance window (inventory/clients.yml, else the tenant's
    maintenance_window custom field) unless --force; no batch starts after the window's cutoff.
    One window per client at a time (a lock). A killed window is resumed by the next run: hosts
    it finished keep their results, the others are scanned and patched.
    A failed canary host stops the rollout ([patch] canary_must_pass). Ctrl-C/SIGTERM: no new
    batch starts, the one running finishes, the run is recorded `interrupted` (exit 130).
    NetBox unreachable at write-back: reports and the record are still written; exit 12, and
    `mspctl patch writeback --run ID` replays it.
    Exit: 0 all hosts compliant, 3 some failed/unreachable/skipped, 6 refused (closed or locked),
    7 every asset of the client NOT_APPLICABLE,
    12 write-back failed, 130 interrupted.
    """
    from mspctl.errors import RefusedError
    from mspctl.interrupts import graceful_stop
    from mspctl.notify import after_refused_window, after_window
    from mspctl.patch.window import run_window

    refuse_offline(app.mode, "patch window")
    if not yes:
        click.confirm(f"Patch client {client}'s servers now?", abort=True, err=True)
    try:
        with graceful_stop() as stop, _live(app, f"window {client}") as on_event:
            window = run_window(app.settings, app.inventory(), client, force=force, mode=app.mode,
                                writeback=not no_writeback, on_event=on_event, stop=stop)
    except RefusedError as exc:  # closed or locked (exit 6): the client hears of it, then the error
        if not no_notify:
            for line in after_refused_window(app.settings, client, exc).lines():
                echo_line(line, err=True)
        raise
    run = window.to_run()
    _write_reports(run, json_path, junit_path)
    resumed = run.params.get("resumed_hosts") or []
    present(run, app.output, footer=_footer(run) + (f"; resumed, kept {len(resumed)} host(s)" if resumed else ""))
    if not no_notify:  # a failed window; a failure to notify is only a warning
        for line in after_window(app.settings, window.record()).lines():
            echo_line(line, err=True)
    # Reports are written first; then a failed write-back (its own code, 12), an interruption or
    # a failed host decides the exit code.
    finish(run, APPLIED, "patched")


@patch_group.command("writeback")
@click.option("--run", "run_id", required=True, metavar="ID", help="An applied patch run (`mspctl runs list`).")
@pass_app
def writeback_cmd(app: App, /, run_id: str) -> None:
    """Write a recorded patch run's results to NetBox again (journal entries, patch_compliance,
    last_patched), e.g. after NetBox was unreachable at the end of a window."""
    from mspctl.patch.service import replay_writeback

    refuse_offline(app.mode, "patch writeback")
    run = replay_writeback(app.settings, app.inventory(), run_id)
    click.echo(f"run {run.run_id}: wrote {len(run.hosts)} host(s) to NetBox", err=True)


@patch_group.command("baselines")
@output_option
@pass_app
def baselines_cmd(app: App) -> None:
    """List (and validate) the baselines in [patch] baselines: name, version, validity, rules."""
    from mspctl.patch.baseline import load_baselines

    found = load_baselines(app.settings.path(app.settings.patch.baselines))
    data = found.describe()
    render(data, app.output, rows=data, columns=[("name", "NAME"), ("version", "VERSION"), ("kind", "KIND"),
                                                 ("valid", "VALID"), ("rules", "RULES"), ("source", "SOURCE")])


@patch_group.command("os")
@scope_options
@click.option("--fail-on", type=click.Choice(["noncompliant", "failure", "never"]), default="noncompliant",
              show_default=True, help="As for `patch scan`.")
@driver_option
@output_option
@pass_app
def os_cmd(app: App, /, fail_on: str, driver: str | None, **flt: Any) -> None:
    """Network OS compliance: each device's `show version` (its read driver) against its network-OS
    baseline (approved versions or a minimum, per platform and device type).

    \b
    Exit: 0 all compliant, 4 some device runs an unapproved version, 3 some devices failed.
    """
    from mspctl.patch.network import os_compliance

    refuse_offline(app.mode, "patch os")
    with app.device_progress("reading versions") as on_event:
        run = os_compliance(app.settings, app.inventory(), build_filter(**flt), app.mode, on_event,
                            driver).to_run()
    present(run, app.output)
    finish(run, policy(fail_on))
