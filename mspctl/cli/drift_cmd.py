"""`mspctl drift`: configuration compliance per device and feature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.inventory import build_filter, scope_options
from mspctl.cli.output import exit_if_nothing_checked, render
from mspctl.errors import ExitCode


@click.command("drift")
@scope_options
@click.option("--source", type=click.Choice(["live", "backup"]), default="live", show_default=True,
              help="Actual config from the devices now, or from the last backup (with its age).")
@click.option("--feature", "feature_names", multiple=True, metavar="NAME", help="Only these features. Repeatable.")
@click.option("--junit", type=click.Path(path_type=Path, dir_okay=False), help="Also write JUnit XML to FILE.")
@click.option("--markdown", type=click.Path(path_type=Path, dir_okay=False), help="Also write Markdown to FILE.")
@click.option("--fail-on", type=click.Choice(["drift", "failure", "never"]), default="drift", show_default=True,
              help="drift: exit 4 on drift; failure: only failed devices exit non-zero; never: always 0.")
@output_option
@pass_app
def drift_cmd(app: App, /, source: str, feature_names: tuple[str, ...], junit: Path | None, markdown: Path | None,
              fail_on: str, **flt: Any) -> None:
    """Audit configuration drift: rendered intent against the devices' actual configuration.

    \b
    Exit codes: 0 compliant, 4 drift found, 3 some devices failed (the others are reported).
    """
    from mspctl.drift.service import audit
    from mspctl.files import write_atomic
    from mspctl.reports.drift import junit as to_junit
    from mspctl.reports.drift import markdown as to_markdown

    with app.device_progress("auditing") as on_event:
        run = audit(app.settings, app.inventory(), build_filter(**flt), source, feature_names,  # type: ignore[arg-type]
                    app.mode, on_event)
    if junit:
        write_atomic(junit, to_junit(run))
    if markdown:
        write_atomic(markdown, to_markdown(run))
    data = run.to_dict()
    rows = []
    for d in run.devices:
        drifted = [f for f in d.features if f.status == "drift"]
        rows.append({"device": d.asset.name, "client": d.asset.client, "status": d.status,
                     "features": f"{len(d.features) - len(drifted)}/{len(d.features)} ok" if d.features else "-",
                     "drift": ", ".join(f.feature for f in drifted) or (d.error or ""),
                     "evidence": f"{d.source} {d.age_seconds:.0f}s" if d.source and d.age_seconds is not None
                     else (d.source or "-")})
    s = run.summary
    render(data, app.output, rows=rows, columns=[("device", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"),
                                                  ("features", "FEATURES"), ("drift", "DRIFT / ERROR"),
                                                  ("evidence", "EVIDENCE")],
           footer=f"run {run.run_id}: {s['compliant']} compliant, {s['drift']} drifted, {s['failed']} failed, "
                  f"{s['skipped']} skipped")
    if fail_on != "never":
        exit_if_nothing_checked([(d.asset.name, d.error or "skipped") for d in run.devices if d.status == "skipped"],
                                s["compliant"] + s["drift"] + s["failed"], "audited")
    if s["failed"] and fail_on != "never":
        raise SystemExit(ExitCode.PARTIAL)
    if s["drift"] and fail_on == "drift":
        raise SystemExit(ExitCode.FINDINGS)
