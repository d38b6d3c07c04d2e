"""`mspctl plugins list`: the installed plugins of every kind, and where each comes from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.output import render


class PluginChoice(click.ParamType):  # type: ignore[type-arg]
    """An option whose values are the names of one plugin register's plugins (`--format`,
    `--driver`): checked, and completed, against what is installed when the command runs, so a
    third-party plugin needs no change to mspctl."""

    name = "plugin"

    def __init__(self, group: str) -> None:
        self.group = group

    def _names(self) -> list[str]:
        from mspctl.plugins import REGISTERS

        return next(r for r in REGISTERS if r.group == self.group).names()

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self._names()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        names = self._names()
        if value in names:
            return str(value)
        self.fail(f"{value!r} is not one of {', '.join(map(repr, names))} (installed {self.group} plugins; "
                  "see `mspctl plugins list`)", param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in self._names() if n.startswith(incomplete)]


def driver_option[F: Callable[..., Any]](func: F) -> F:
    """`--driver NAME`: the ``mspctl.drivers`` plugin for this run's read sessions, over each
    platform's ``[platforms.<slug>] driver``. Checked by the service before any device is
    contacted, so a name not installed is MSP-PLUG-404 (exit 10) with the installed ones named."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        return PluginChoice("mspctl.drivers").shell_complete(ctx, param, incomplete)

    return click.option("--driver", metavar="NAME", default=None, shell_complete=complete,
                        help="Device driver for this run's reads (netmiko, scrapli, ...; `mspctl plugins list`). "
                             "Default: each platform's [platforms.<slug>] driver, else netmiko.")(func)


@click.group("plugins")
def plugins_group() -> None:
    """The plugins mspctl loads through entry points (docs/plugins.md): inventory sources,
    executors, device drivers and report formats, built-in and third-party alike."""


@plugins_group.command("list")
@click.option("--kind", type=click.Choice(["inventory_sources", "executors", "drivers", "report_formats"]),
              default=None, help="Only the plugins of this kind.")
@output_option
@pass_app
def plugins_list(app: App, kind: str | None) -> None:
    """Every installed plugin: its kind, name, the object it names and the package (and
    version) that provides it. Exit code 0."""
    from mspctl.plugins import installed

    rows = [p.to_dict() for p in installed() if kind is None or p.kind == f"mspctl.{kind}"]
    for r in rows:
        r["kind"] = r["kind"].removeprefix("mspctl.")
        r["from"] = "built-in" if r["builtin"] else f"{r['package']} {r['version']}".strip()
    render(rows, app.output, columns=[("kind", "KIND"), ("name", "NAME"), ("object", "OBJECT"), ("from", "FROM")])
