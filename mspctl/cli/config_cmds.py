"""`mspctl config render | backup | push | rollback`: network configuration as code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.inventory import build_filter, scope_options
from mspctl.cli.output import render
from mspctl.errors import ExitCode


@click.group("config")
def config_group() -> None:
    """Network device configuration: render intended configs, back up, push safely, roll back."""


@config_group.command("render")
@scope_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write <DIR>/<client>/<device>.cfg (each file atomically).")
@click.option("--templates", "source", type=click.Choice(["repo", "netbox"]), default="repo", show_default=True,
              help="The repository's templates/, or the config templates assigned in NetBox (sandboxed).")
@output_option
@pass_app
def render_cmd(app: App, /, out_dir: Path | None, source: str, **flt: Any) -> None:
    """Render intended configurations from templates/<platform>/main.j2 and NetBox data.

    \b
    Context: device (the inventory record), its merged config context (also top-level keys),
    interfaces with addresses, client and site. Undefined variables are errors that cite
    template:line and the device. Devices whose platform has no template are skipped.
    """
    from mspctl.render.service import render_configs

    selection = build_filter(**flt)
    results = render_configs(app.settings, app.inventory(), selection, app.mode, source)  # type: ignore[arg-type]
    if out_dir is not None:
        from mspctl.files import write_atomic

        for r in results:
            if r.status == "ok" and r.text is not None:
                write_atomic(out_dir / (r.asset.client or "no-client") / f"{r.asset.name}.cfg", r.text)
    data = [r.to_dict() for r in results]
    if app.output == "table" and out_dir is None and all(r.status != "failed" for r in results):
        for r in results:
            if r.status == "ok":
                click.echo(f"! ---- {r.asset.name} ({r.asset.client}, {r.template})")
                click.echo(r.text, nl=False)
    else:
        rows = [{**d, "detail": d["error"] or (str(out_dir / (d["client"] or "no-client") / f"{d['device']}.cfg")
                                              if out_dir and d["status"] == "ok" else d["template"])}
                for d in data]
        render([{k: v for k, v in d.items() if k != "config" or out_dir is None} for d in data], app.output,
               rows=rows, columns=[("device", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"),
                                   ("detail", "TEMPLATE / FILE / ERROR")])
    for r in results:
        if r.status == "failed":
            click.echo(f"Error: {r.error_code}: {r.error}", err=True)
    ok = sum(r.status == "ok" for r in results)
    failed = sum(r.status == "failed" for r in results)
    click.echo(f"rendered {ok}, failed {failed}, skipped {len(results) - ok - failed}", err=True)
    if failed:
        raise SystemExit(ExitCode.PARTIAL if ok else ExitCode.CONFIG)


@config_group.command("backup")
@scope_options
@output_option
@pass_app
def backup_cmd(app: App, /, **flt: Any) -> None:
    """Back up running configs over SSH into the backups git repository (one commit per run).

    \b
    Files: <backups>/<client>/<device>.cfg, cleaned of volatile lines and scrubbed of secrets,
    so an unchanged device makes no commit. A failed device keeps its previous backup.
    Exit: 0 all backed up, 3 some devices failed.
    """
    from mspctl.adapters.git import GitRepo
    from mspctl.backup.service import run_backup
    from mspctl.devices import executor_for, network_devices, plan
    from mspctl.inventory.platforms import PlatformMap
    from mspctl.records import RecordStore

    s = app.settings
    inventory = app.inventory()
    assets = network_devices(inventory, build_filter(**flt), app.mode, PlatformMap(s.platforms))
    targets, unreachable = plan(s, inventory, assets)
    with app.device_progress("backing up") as on_event:
        run = run_backup(assets, targets, unreachable, GitRepo(s.path(s.config.backups)), executor_for(s, spread=True),
                         RecordStore(s.config.records), on_event=on_event)
    devices = [{"device": d.asset.name, "client": d.asset.client, "status": d.status, "path": d.path,
                "error": d.error, "error_code": d.error_code, "attempts": d.attempts,
                "seconds": round(d.duration, 2)} for d in run.devices]
    data = {"run_id": run.run_id, "commit": run.commit, "repo": str(run.repo), "summary": run.summary,
            "devices": devices}
    render(data, app.output, rows=devices, columns=[
        ("device", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"), ("path", "FILE"), ("error", "ERROR")],
        footer=f"run {run.run_id}: " + ", ".join(f"{v} {k}" for k, v in run.summary.items() if v) +
        (f"; commit {run.commit[:10]}" if run.commit else "; no changes, no commit"))
    if run.summary["failed"]:
        raise SystemExit(ExitCode.PARTIAL)


def _render_push(app: App, run: Any, footer: str) -> None:
    data = run.to_dict()
    if app.output == "table":
        for d in run.devices:
            if d.commands:
                verb = "applied" if d.status == "applied" else ("would send" if d.status == "planned" else "sent")
                click.echo(f"--- {d.asset.name} ({d.asset.client}): {verb} [{', '.join(d.features)}]")
                click.echo("\n".join(f"  {c}" for c in d.commands))
            if d.rollback_commands:
                click.echo(f"    rolled back with: {'; '.join(c.strip() for c in d.rollback_commands)}")
    rows = [{"device": d.asset.name, "client": d.asset.client, "status": d.status,
             "features": ",".join(d.features) or "-", "commands": len(d.commands), "error": d.error or ""}
            for d in run.devices]
    render(data, app.output, rows=rows, columns=[("device", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"),
                                                  ("features", "FEATURES"), ("commands", "COMMANDS"),
                                                  ("error", "ERROR")], footer=footer)


@config_group.command("push")
@scope_options
@click.option("--feature", "feature_names", multiple=True, metavar="NAME", help="Only these features. Repeatable.")
@click.option("--apply", "do_apply", is_flag=True, help="Make the changes (default: a dry run showing them).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option("--force", is_flag=True, help="Ignore the clients' change windows.")
@output_option
@pass_app
def push_cmd(app: App, /, feature_names: tuple[str, ...], do_apply: bool, yes: bool, force: bool,
             **flt: Any) -> None:
    """Bring devices to their intended config: a dry run by default, --apply to change them.

    \b
    With --apply, per device: pre-change backup, apply the remediation (device errors are
    detected), write memory, then an automatic compliance re-check. A device error, a lost
    connection or a failed re-check rolls that device back, and the rollback is reported.
    Outside a client's change window devices are refused unless --force.
    Exit: 0 done (or dry run), 3 some devices failed, were rolled back or refused.
    """
    from mspctl.push.service import push

    selection = build_filter(**flt)
    if do_apply and not yes:
        planned = push(app.settings, app.inventory(), selection, feature_names, apply=False, mode=app.mode)
        _render_push(app, planned, "dry run before applying")
        n = planned.summary["planned"]
        if n == 0:
            click.echo("Nothing to change.", err=True)
            return
        click.confirm(f"Apply these changes to {n} device(s)?", abort=True, err=True)
    with app.device_progress("pushing" if do_apply else "planning") as on_event:
        run = push(app.settings, app.inventory(), selection, feature_names, apply=do_apply, force=force,
                   mode=app.mode, on_event=on_event)
    s = run.summary
    footer = (f"run {run.run_id}: " + ", ".join(f"{v} {k}" for k, v in s.items() if v) +
              ("" if do_apply else " (dry run: nothing was changed; --apply to change)"))
    _render_push(app, run, footer)
    if run.failed:
        raise SystemExit(ExitCode.PARTIAL)


@config_group.command("rollback")
@click.option("--run", "run_id", required=True, metavar="ID", help="The push run to undo (see `mspctl runs list`).")
@click.option("--apply", "do_apply", is_flag=True, help="Make the changes (default: a dry run).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@output_option
@pass_app
def rollback_cmd(app: App, /, run_id: str, do_apply: bool, yes: bool) -> None:
    """Undo a completed push: restore the pushed features to their pre-change state."""
    from mspctl.push.service import rollback

    if do_apply and not yes:
        click.confirm(f"Roll back the changes of {run_id}?", abort=True, err=True)
    with app.device_progress("rolling back") as on_event:
        run = rollback(app.settings, app.inventory(), run_id, apply=do_apply, mode=app.mode, on_event=on_event)
    _render_push(app, run, f"run {run.run_id}: " + ", ".join(f"{v} {k}" for k, v in run.summary.items() if v) +
                 ("" if do_apply else " (dry run: --apply to change)"))
    if run.failed:
        raise SystemExit(ExitCode.PARTIAL)
