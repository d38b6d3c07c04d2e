"""`mspctl inventory list | show | export` and `mspctl clients`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.output import render, to_json, to_yaml
from mspctl.errors import UsageError
from mspctl.inventory.filters import KINDS, STATUSES, AssetFilter
from mspctl.model import Asset, Evidence

# NAME is the inventory name (mspctl.inventory.names): unique, and accepted back by every command.
ASSET_COLUMNS = [("inventory_name", "NAME"), ("kind", "KIND"), ("client", "CLIENT"), ("site", "SITE"), ("role", "ROLE"),
                 ("platform", "PLATFORM"), ("status", "STATUS"), ("primary_ip", "PRIMARY IP")]


def scope_options(func: Any) -> Any:
    """--client/--all-clients and the attribute filters, shared by every inventory-reading command."""
    opts = [
        click.option("-c", "--client", "clients", multiple=True, metavar="SLUG",
                     help="A client (NetBox tenant slug or clients.yml name). Repeatable."),
        click.option("-A", "--all-clients", is_flag=True, help="Every client."),
        click.option("--site", "sites", multiple=True, metavar="SLUG", help="Site slug. Repeatable."),
        click.option("--role", "roles", multiple=True, metavar="SLUG", help="Device role slug. Repeatable."),
        click.option("--platform", "platforms", multiple=True, metavar="SLUG", help="Platform slug. Repeatable."),
        click.option("--tag", "tags", multiple=True, metavar="SLUG", help="Tag slug (any of). Repeatable."),
        click.option("--status", "statuses", multiple=True, type=click.Choice(sorted(STATUSES)),
                     help="Status. Repeatable."),
        click.option("--kind", "kinds", multiple=True, type=click.Choice(sorted(KINDS)),
                     help="device or vm. Repeatable."),
        click.option("-l", "--limit", "limit", multiple=True, metavar="PATTERN",
                     help="Ansible-style pattern: names (as listed, or NetBox's), device:ID / vm:ID, groups, "
                          "globs, ~regex, &and, !not. Repeatable: the union of the patterns."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def build_filter(clients: tuple[str, ...], all_clients: bool, sites: tuple[str, ...], roles: tuple[str, ...],
                 platforms: tuple[str, ...], tags: tuple[str, ...], statuses: tuple[str, ...],
                 kinds: tuple[str, ...], limit: str | tuple[str, ...] | None) -> AssetFilter:
    if clients and all_clients:
        raise UsageError("give --client or --all-clients, not both")
    if not clients and not all_clients:
        raise UsageError("choose a scope: --client SLUG (repeatable) or --all-clients",
                         hint="`mspctl clients` lists the clients")
    limits = (limit,) if isinstance(limit, str) else tuple(limit or ())
    return AssetFilter(clients, sites, roles, platforms, tags, statuses, kinds, limits[0] if len(limits) == 1 else
                       (limits or None))


def evidence_line(count: int, ev: Evidence, changed: int | None = None, removed: int = 0) -> str:
    """`count assets; source ..., age ...` (plus what a delta changed, when known)."""
    extra = f", {changed} changed, {removed} removed" if ev.source == "cache-delta" and changed is not None else ""
    return f"{count} assets; source {ev.source}, age {ev.age_seconds:.0f}s{extra}"


@click.command("clients")
@output_option
@pass_app
def clients_cmd(app: App) -> None:
    """List the clients (NetBox tenants) with their device and VM counts."""
    clients = app.inventory().clients(app.mode)
    data = [c.to_dict() for c in clients]
    rows = [{**d, "sla": c.custom_fields.get("sla_tier"),
             "credentials": c.settings.credentials if c.settings else None,
             "baseline": c.settings.baseline if c.settings else None} for d, c in zip(data, clients, strict=True)]
    render(data, app.output, rows=rows, columns=[
        ("slug", "CLIENT"), ("name", "NAME"), ("group", "GROUP"), ("device_count", "DEVICES"),
        ("vm_count", "VMS"), ("sla", "SLA"), ("credentials", "CREDENTIALS"), ("baseline", "BASELINE")])


@click.group("inventory")
def inventory_group() -> None:
    """Client inventories (devices and VMs) from NetBox, cached locally."""


_CONTEXT_OPTION = click.option("--config-context", "with_context", is_flag=True,
                               help="Include each asset's merged config context (read live from NetBox; slower).")


@inventory_group.command("list")
@scope_options
@_CONTEXT_OPTION
@output_option
@pass_app
def list_cmd(app: App, /, with_context: bool, **flt: Any) -> None:
    """List a client's devices and VMs.

    \b
    Examples:
      mspctl inventory list --client acme
      mspctl inventory list -A --role router --status active -o json
      mspctl inventory list -c acme --limit 'acme-*,!platform_debian'
    """
    selection = build_filter(**flt)
    service = app.inventory()
    with app.progress("fetching") as progress:
        inv = service.select(selection, app.mode, progress)
    if with_context:
        inv.assets = service.with_config_contexts(inv.assets)
    names = service.names(app.mode)
    assets = [{**a.to_dict(), "inventory_name": names[a.key]} for a in inv.assets]
    data = {"evidence": inv.evidence, "count": len(assets), "assets": assets}
    render(data, app.output, rows=assets, columns=ASSET_COLUMNS,
           footer=evidence_line(len(inv.assets), inv.evidence, inv.changed, inv.removed))


@inventory_group.command("show")
@click.argument("name", required=False)
@click.option("-c", "--client", metavar="SLUG", help="The client, when two clients use the same name.")
@click.option("--id", "object_id", type=click.IntRange(min=1), metavar="ID",
              help="Pick the asset by its NetBox id instead of a name (with --kind when a device and a VM share it).")
@click.option("--kind", type=click.Choice(sorted(KINDS)), help="With --id: device or vm.")
@output_option
@pass_app
def show_cmd(app: App, name: str | None, client: str | None, object_id: int | None, kind: str | None) -> None:
    """Show one device's or VM's full record, with its merged config context.

    NAME is any name mspctl prints: the inventory name of `inventory list` and `export`
    (`rtr1@acme`, `patch-panel@acme#91`, `device-74`), the NetBox name, or the NetBox object
    (`device:74`, `vm:12`); or give `--id ID` (and `--kind`). NAME may be copied from the table
    output: a name with control characters is shown there escaped (a newline as \\n, a
    backslash as \\\\), and that spelling is found too.
    """
    if (name is None) == (object_id is None):
        raise UsageError("give a NAME or --id ID, one of the two", hint="see `mspctl inventory list`")
    if kind is not None and object_id is None:
        raise UsageError("--kind goes with --id", hint="NAME alone names one asset; or `device:ID` / `vm:ID`")
    service = app.inventory()
    if client:
        client = service.resolve_clients([client], service.clients(app.mode))[0]
    asset = service.show(name, client, app.mode, printed=True, object_id=object_id,
                         kind="vm" if kind == "vm" else "device" if kind == "device" else None)
    data = asset.to_dict()
    if app.output != "table":
        render(data, app.output)
        return
    rows = [{"field": k, "value": (to_json(v) if isinstance(v, dict) else v)} for k, v in data.items()
            if k != "config_context"]
    render(data, "table", rows=rows, columns=[("field", "FIELD"), ("value", "VALUE")], title=asset.name)
    if asset.config_context:
        click.echo("config_context:")
        click.echo(to_yaml(asset.config_context))


@inventory_group.command("export")
@scope_options
@click.option("-f", "--format", "fmt", type=click.Choice(["ansible", "ansible-yaml", "json"]), default="ansible",
              show_default=True,
              help="ansible: `ansible-inventory --list` JSON; ansible-yaml: a YAML inventory file; json: records.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE (atomically).")
@_CONTEXT_OPTION
@pass_app
def export_cmd(app: App, /, fmt: str, out: Path | None, with_context: bool, **flt: Any) -> None:
    """Export an inventory for Ansible (JSON or YAML) or as records.

    \b
    Examples:
      mspctl inventory export -c acme > acme.json
      ansible-inventory -i acme.json --graph  (after --format ansible-yaml --out acme.yml)
    """
    from mspctl.inventory.ansible import to_ansible_list, to_ansible_yaml_tree
    from mspctl.inventory.platforms import PlatformMap

    selection = build_filter(**flt)
    platforms = PlatformMap(app.settings.platforms)

    service = app.inventory()

    def build(assets: list[Asset]) -> str:
        names = service.names(app.mode)  # of the whole inventory: a host's name is the same in every export
        if with_context:
            assets = service.with_config_contexts(assets)
        if fmt == "ansible":
            return to_json(to_ansible_list(assets, platforms, names), indent=None) + "\n"
        if fmt == "ansible-yaml":
            return to_yaml(to_ansible_yaml_tree(assets, platforms, names))
        return to_json({"assets": [{**a.to_dict(), "inventory_name": names[a.key]} for a in assets]}) + "\n"

    # The same inventory and arguments give the same text: reuse it while the cache is unchanged.
    key = f"export|{fmt}|{to_json(dict(app.settings.platforms), indent=None)}"
    with app.progress("fetching") as progress:
        # Config contexts change without touching the assets' last_updated: never reuse such a render.
        text, count, evidence = service.render_cached(selection, key, build, app.mode, progress,
                                                      reuse=not with_context)
    if out is None:
        click.echo(text, nl=False)
    else:
        from mspctl.files import write_atomic

        write_atomic(out, text)
    click.echo(evidence_line(count, evidence), err=True)
