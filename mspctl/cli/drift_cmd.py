"""`mspctl drift`: configuration compliance per device and feature."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.inventory import build_filter, scope_options
from mspctl.cli.output import echo_line
from mspctl.cli.plugins_cmd import driver_option
from mspctl.offline import refuse_offline

if TYPE_CHECKING:
    from mspctl.drift.service import ActualSource


@click.command("drift")
@scope_options
@click.option("--source", type=click.Choice(["live", "backup"]), default="live", show_default=True,
              help="Actual config from the devices now, or from the last backup (with its age).")
@click.option("--feature", "feature_names", multiple=True, metavar="NAME", help="Only these features. Repeatable.")
@click.option("--junit", type=click.Path(path_type=Path, dir_okay=False), help="Also write JUnit XML to FILE.")
@click.option("--markdown", type=click.Path(path_type=Path, dir_okay=False), help="Also write Markdown to FILE.")
@click.option("--fail-on", type=click.Choice(["drift", "failure", "never"]), default="drift", show_default=True,
              help="Which results make the exit code non-zero. drift: a failed device (3, which wins over "
                   "drift), drift (4), nothing audited (7). failure: a failed device (3) or nothing audited (7); "
                   "drift alone exits 0. never: 0 whatever the devices showed (the run is still reported and "
                   "recorded). Errors before any device is read (settings, NetBox) and an interrupted run (130) "
                   "exit non-zero whatever --fail-on says.")
@click.option("--no-notify", is_flag=True, help="Send no notification for this run ([notify] urls, docs/notify.md).")
@driver_option
@output_option
@pass_app
def drift_cmd(app: App, /, source: str, feature_names: tuple[str, ...], junit: Path | None, markdown: Path | None,
              fail_on: str, no_notify: bool, driver: str | None, **flt: Any) -> None:
    """Audit configuration drift: rendered intent against the devices' actual configuration.

    \b
    Ctrl-C/SIGTERM: no new device is read; the ones in flight are compared and reported, the
    rest `skipped`; the run is recorded `interrupted`.
    Exit codes: 0 compliant, 4 drift found, 3 some devices failed (the others are reported),
    130 interrupted.
    """
    from mspctl.drift.service import audit
    from mspctl.files import write_atomic
    from mspctl.interrupts import READ_ONLY, graceful_stop
    from mspctl.reports.drift import junit as to_junit
    from mspctl.reports.drift import markdown as to_markdown
    from mspctl.reports.present import finish, present
    from mspctl.run import fail_on as policy

    refuse_offline(app.mode, "drift")
    with graceful_stop(READ_ONLY) as stop, app.device_progress("auditing") as on_event:
        inventory = app.inventory()
        audited = audit(app.settings, inventory, build_filter(**flt), cast("ActualSource", source), feature_names,
                        app.mode, on_event, stop, driver)
    run = audited.to_run(inventory.names(app.mode))  # the table prints names -l takes back
    if junit:
        write_atomic(junit, to_junit(run))
    if markdown:
        write_atomic(markdown, to_markdown(run))
    present(run, app.output)
    if not no_notify:  # new drift, one message per client; a failure to notify is only a warning
        from mspctl.notify import after_drift

        for line in after_drift(app.settings, run.id).lines():
            echo_line(line, err=True)
    finish(run, policy(fail_on), "audited")
