"""`mspctl config render | backup | audit-history | push | rollback`: network configuration as code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.inventory import build_filter, scope_options
from mspctl.cli.output import echo_line, exit_if_nothing_checked, render
from mspctl.cli.plugins_cmd import driver_option
from mspctl.errors import ExitCode
from mspctl.offline import refuse_offline
from mspctl.reports.present import finish, present
from mspctl.run import FailOn, Run

# What makes a run command exit non-zero: a failed device (3); a backup that backed up nothing (7).
BACKUP_FAILS_ON = FailOn(findings=False)
PUSH_FAILS_ON = FailOn(findings=False, nothing_checked=False)


@click.group("config")
def config_group() -> None:
    """Network device configuration: render intended configs, back up, push safely, roll back,
    audit the backups' history for secrets."""


@config_group.command("render")
@scope_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write <DIR>/<client>/<device>.cfg (each file atomically; characters outside "
                   "[A-Za-z0-9._-] in a name are %-encoded).")
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
    What is printed (table, JSON, YAML) is scrubbed of secrets; the --out files are the
    real rendered text.
    """
    from mspctl.render.service import render_configs, write_configs
    from mspctl.secrets import scrub

    refuse_offline(app.mode, "config render")
    selection = build_filter(**flt)
    results = render_configs(app.settings, app.inventory(), selection, app.mode,
                             "netbox" if source == "netbox" else "repo")  # click.Choice allows only these
    if out_dir is not None:
        results = write_configs(results, out_dir)
    data = [{**r.to_dict(), "config": scrub(r.text, r.asset.platform) if r.text is not None else None}
            for r in results]
    if app.output == "table" and out_dir is None and all(r.status != "failed" for r in results):
        for r in results:
            if r.status == "ok":
                echo_line(f"! ---- {r.asset.name} ({r.asset.client}, {r.template})")
                click.echo(scrub(r.text or "", r.asset.platform), nl=False)
    else:
        rows = [{**d, "detail": d["error"] or d["file"] or d["template"]} for d in data]
        render([{k: v for k, v in d.items() if k != "config" or out_dir is None} for d in data], app.output,
               rows=rows, columns=[("device", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"),
                                   ("detail", "TEMPLATE / FILE / ERROR")])
    for r in results:
        if r.status == "failed":
            echo_line(f"Error: {r.error_code}: {r.error}", err=True)
    ok = sum(r.status == "ok" for r in results)
    failed = sum(r.status == "failed" for r in results)
    click.echo(f"rendered {ok}, failed {failed}, skipped {len(results) - ok - failed}", err=True)
    exit_if_nothing_checked([(r.asset.name, r.error or "skipped") for r in results if r.status == "skipped"],
                            ok + failed, "rendered")
    if failed:
        raise SystemExit(ExitCode.PARTIAL if ok else ExitCode.CONFIG)


@config_group.command("backup")
@scope_options
@driver_option
@output_option
@pass_app
def backup_cmd(app: App, /, driver: str | None, **flt: Any) -> None:
    """Back up running configs over SSH into the backups git repository (one commit per run).

    \b
    Files: <backups>/<client>/<device>.cfg (characters outside [A-Za-z0-9._-] in a name are
    %-encoded), cleaned of volatile lines and scrubbed of secrets (docs/secrets.md), so an
    unchanged device makes no commit. A failed device keeps its previous backup. Changes are
    judged against the last commit, and a commit holds only this run's files. One run at a time
    per repository: another waits up to 2 minutes, then exits 6 (MSP-GIT-409), recorded; a
    stale git index.lock is removed and named. `config audit-history` finds secrets older
    backups left in git. Ctrl-C/SIGTERM: no new device starts, the ones in flight finish and
    are committed; the run is recorded `interrupted`.
    Exit: 0 all backed up, 3 some devices failed, 6 the repository stayed busy, 130 interrupted.
    """
    from mspctl.adapters.git import GitRepo
    from mspctl.backup.service import run_backup
    from mspctl.devices import executor_for, network_devices, plan
    from mspctl.interrupts import READ_ONLY, graceful_stop
    from mspctl.inventory.platforms import PlatformMap
    from mspctl.records import RecordStore

    s = app.settings
    inventory = app.inventory()
    assets = network_devices(inventory, build_filter(**flt), app.mode, PlatformMap(s.platforms))
    targets, unreachable = plan(s, inventory, assets, driver=driver)
    with graceful_stop(READ_ONLY) as stop, app.device_progress("backing up") as on_event:
        backup = run_backup(assets, targets, unreachable, GitRepo(s.path(s.config.backups)),
                            executor_for(s, spread=True), RecordStore(s.records_location), on_event=on_event,
                            stop=stop, shared=inventory.shared_in_client(app.mode))
    run = backup.to_run(inventory.names(app.mode))  # the table prints names -l takes back
    present(run, app.output)
    finish(run, BACKUP_FAILS_ON, "backed up")


@config_group.command("audit-history")
@click.option("--repo", "repo_path", type=click.Path(path_type=Path, file_okay=False),
              help="Audit this git repository instead of [config] backups.")
@output_option
@pass_app
def audit_history_cmd(app: App, /, repo_path: Path | None) -> None:
    """Scan the backups repository's whole git history for secrets today's scrubber would remove.

    \b
    Every commit on every branch, each line it added to any file, and its message are checked
    with today's rules (docs/secrets.md) and every secret mspctl can find (the credentials
    file's and the environment's device passwords, the NetBox token). Each line that still
    holds one is listed by commit, file and line number, as the scrubber leaves it: the
    secret itself is never printed.
    Exit: 0 clean, 4 secrets found (rotate them; rewrite that history, e.g. with
    git filter-repo, and every clone of it), 13 no repository there (MSP-GIT-404), 1 git failed.
    """
    from mspctl.backup.audit import audit_backups

    audit = audit_backups(app.settings, repo_path)
    rows = [{**f.to_dict(), "commit": f.commit[:10]} for f in audit.findings]
    found = (f"{len(audit.findings)} line(s) in {len(audit.dirty_commits)} commit(s) still hold a secret"
             if audit.findings else "no secret found")
    render(audit.to_dict(), app.output, rows=rows, columns=[("commit", "COMMIT"), ("file", "FILE"),
                                                            ("line", "LINE"), ("text", "LINE, SCRUBBED")],
           footer=f"{audit.repo}: {audit.commits} commit(s) scanned: {found}")
    if audit.findings:
        raise SystemExit(ExitCode.FINDINGS)


def _footer(run: Run, applied: bool, dry: str) -> str:
    from mspctl.reports.present import view_for

    return view_for(run.kind).footer(run) + ("" if applied else dry)


@config_group.command("push")
@scope_options
@click.option("--feature", "feature_names", multiple=True, metavar="NAME", help="Only these features. Repeatable.")
@click.option("--apply", "do_apply", is_flag=True, help="Make the changes (default: a dry run showing them).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option("--force", is_flag=True, help="Ignore the clients' change windows.")
@click.option("--allow-destructive", is_flag=True,
              help="Push plans that remove interfaces or more than [push] max_remove_share of a config.")
@output_option
@pass_app
def push_cmd(app: App, /, feature_names: tuple[str, ...], do_apply: bool, yes: bool, force: bool,
             allow_destructive: bool, **flt: Any) -> None:
    """Bring devices to their intended config: a dry run by default, --apply to change them.

    \b
    With --apply, per device: the intent is recorded first; the running config is snapshot
    onto the device's flash; the commands go in a self-reverting session where the platform
    has one (EOS commit timer, IOS revert timer, which needs an `archive` path); then a
    compliance re-check, confirm, write memory. A refused line, a lost session or a failed
    re-check restores the snapshot (configure replace) and verifies it.
    Plans that remove interfaces, or more than [push] max_remove_share of a config, are refused
    unless --allow-destructive. Outside a client's change window devices are refused unless
    --force. Ctrl-C/SIGTERM: no new device starts, the ones in flight finish or roll back.
    Exit: 0 done (or dry run), 3 some devices failed, were rolled back or refused,
    130 interrupted.
    """
    from mspctl.interrupts import graceful_stop
    from mspctl.push.service import push

    refuse_offline(app.mode, "config push")
    selection = build_filter(**flt)
    if do_apply and not yes:
        with app.device_progress("planning") as on_plan:
            planned = push(app.settings, app.inventory(), selection, feature_names, apply=False, mode=app.mode,
                           on_event=on_plan, allow_destructive=allow_destructive).to_run()
        present(planned, app.output, footer="dry run before applying", err=True)  # stdout: only the run's result
        n = planned.summary["planned"]
        if n == 0:
            click.echo("Nothing to change.", err=True)
            finish(planned, PUSH_FAILS_ON)
            return
        click.confirm(f"Apply these changes to {n} device(s)?", abort=True, err=True)
    with graceful_stop() as stop, app.device_progress("pushing" if do_apply else "planning") as on_event:
        run = push(app.settings, app.inventory(), selection, feature_names, apply=do_apply, force=force,
                   mode=app.mode, on_event=on_event, allow_destructive=allow_destructive, stop=stop).to_run()
    present(run, app.output, footer=_footer(run, do_apply, " (dry run: nothing was changed; --apply to change)"))
    finish(run, PUSH_FAILS_ON)


@config_group.command("rollback")
@click.option("--run", "run_id", required=True, metavar="ID", help="The push run to undo (see `mspctl runs list`).")
@click.option("--apply", "do_apply", is_flag=True, help="Make the changes (default: a dry run).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Restore snapshots even on devices changed since the push.")
@output_option
@pass_app
def rollback_cmd(app: App, /, run_id: str, do_apply: bool, yes: bool, force: bool) -> None:
    """Undo a push run: restore each device it changed (or may have changed, if the run was
    interrupted or killed) to its pre-change config.

    \b
    Devices with a snapshot on their flash get it back exactly (configure replace): banners,
    secrets and deleted lines included. A device changed since the push is refused unless
    --force. Records from before snapshots restore the pushed features line by line.
    Exit: 0 done (or dry run), 3 some devices failed or were refused, 130 interrupted.
    """
    from mspctl.interrupts import graceful_stop
    from mspctl.push.service import rollback

    if do_apply and not yes:
        click.confirm(f"Roll back the changes of {run_id}?", abort=True, err=True)
    with graceful_stop() as stop, app.device_progress("rolling back") as on_event:
        run = rollback(app.settings, app.inventory(), run_id, apply=do_apply, mode=app.mode, on_event=on_event,
                       force=force, stop=stop).to_run()
    present(run, app.output, footer=_footer(run, do_apply, " (dry run: --apply to change)"))
    finish(run, PUSH_FAILS_ON)
