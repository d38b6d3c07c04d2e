"""The root `mspctl` group, its global options, error handling, and the per-run App context."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from mspctl import __version__
from mspctl.errors import ExitCode, MspctlError, storage_error
from mspctl.escape import EscapingFilter, escape_text
from mspctl.redact import RedactingFilter, redact
from mspctl.settings import Settings, load_settings

if TYPE_CHECKING:
    from mspctl.executor import Event
    from mspctl.inventory.service import InventoryService, Mode
    from mspctl.model import ProgressFn


@dataclass
class App:
    """What every command gets: settings (loaded on first use), output format and cache mode."""

    overrides: dict[str, dict[str, Any]]
    config_file: Path | None
    output: str = "table"
    debug: bool = False
    mode: Mode = "auto"
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file, overrides=self.overrides)
            _use_repository(self._settings)
            if not self._settings.netbox.verify_tls:
                click.echo("Warning: TLS certificate verification is OFF for NetBox (--insecure).", err=True)
        return self._settings

    def inventory(self) -> InventoryService:
        """The inventory service for these settings (see mspctl.inventory.service.open_inventory)."""
        from mspctl.inventory.service import open_inventory

        return open_inventory(self.settings, offline=self.mode == "offline")

    @contextmanager
    def progress(self, description: str) -> Iterator[ProgressFn | None]:
        """A progress callback drawing a bar on stderr when it is a terminal; None otherwise."""
        if not sys.stderr.isatty():
            yield None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # The bar goes to stderr: stdout stays the command's output (a table, JSON) even in a terminal.
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
            tasks: dict[str, Any] = {}
            lock = threading.Lock()  # events come from the executor's worker threads

            def update(what: str, done: int, total: int) -> None:
                with lock:
                    if what not in tasks:
                        tasks[what] = bar.add_task(f"{description} {what}", total=total)
                    bar.update(tasks[what], completed=done, total=total)

            yield update

    @contextmanager
    def device_progress(self, description: str) -> Iterator[Callable[[Event], None]]:
        """An executor event handler that advances a progress bar as devices finish (drawn from
        the first device's start, so a terminal shows `0/N` while the first one is read)."""
        with self.progress(description) as bar:
            done = 0

            def on_event(event: Event) -> None:
                nonlocal done
                if bar is None:
                    return
                if event.kind == "finished":
                    done = event.done
                if event.kind in ("started", "finished"):
                    bar("devices", done, event.total)

            yield on_event


pass_app = click.make_pass_decorator(App)


def _use_repository(settings: Settings) -> None:
    """The MSP repository this run reads, for its records' provenance (`mspctl.provenance`)."""
    from mspctl import provenance

    provenance.use_repository(settings.repo, [settings.path(settings.config.templates),
                                              settings.path(settings.config.features),
                                              settings.path(settings.patch.baselines), settings.clients_path])


def output_option[F: Callable[..., Any]](func: F) -> F:
    """`-o/--output` on a subcommand, overriding the global one."""

    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.ensure_object(App).output = value

    return click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default=None,
                        expose_value=False, callback=callback, help="Output format (overrides the global one).")(func)


class MspctlGroup(click.Group):
    """Turns every `MspctlError` into one clear line on stderr and its exit code, and opens the
    process's run context (`mspctl.provenance`: the command line every record carries)."""

    def main(self, args: Any = None, prog_name: str | None = None, *rest: Any, **kwargs: Any) -> Any:
        from mspctl import provenance

        argv = list(sys.argv[1:] if args is None else args)
        provenance.begin(["mspctl", *argv])
        try:
            return super().main(args, prog_name, *rest, **kwargs)
        finally:
            provenance.end()  # a test's next invocation, or library use after it, starts clean

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MspctlError as exc:
            app = ctx.find_object(App)
            if app is not None and app.debug:
                raise
            click.echo(escape_text(f"Error: {exc}"), err=True)  # one line, whatever NetBox names it quotes
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug, or a library failure nobody mapped yet
            app = ctx.find_object(App)
            if app is not None and app.debug:
                raise
            full = storage_error(exc, "a file mspctl writes")  # a full disk wherever it hit: not a bug
            if full is not None:
                click.echo(escape_text(redact(f"Error: {full}")), err=True)
                ctx.exit(full.exit_code)
            click.echo(escape_text(redact(f"Error: MSP-000: internal error: {type(exc).__name__}: {exc} "
                                          "(rerun with --debug for the traceback, and report it)")), err=True)
            ctx.exit(ExitCode.ERROR)


@click.group(cls=MspctlGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              envvar="MSPCTL_CONFIG", help="Settings file (default: ./mspctl.toml, then the user config dir).")
@click.option("--netbox-url", metavar="URL", help="NetBox URL. Env: NETBOX_API or MSPCTL_NETBOX_URL.")
@click.option("--netbox-token", metavar="TOKEN",
              help="NetBox API token. Prefer the env: NETBOX_TOKEN or MSPCTL_NETBOX_TOKEN.")
@click.option("--insecure", is_flag=True, default=None,
              help="Do not verify NetBox's TLS certificate (prints a warning).")
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), envvar="MSPCTL_OUTPUT",
              default="table", show_default=True, help="Output format. Env: MSPCTL_OUTPUT.")
@click.option("--refresh", "mode", flag_value="refresh", help="Re-read the whole inventory from NetBox.")
@click.option("--offline", "mode", flag_value="offline",
              help="Use only the local cache, backups and records; never contact NetBox. Commands that need "
                   "NetBox (render, drift, push, patch runs) refuse at once (MSP-OFFLINE-400; docs/offline.md).")
@click.option("--cache-ttl", metavar="DURATION", help="Serve the cache without asking NetBox for this long (300, 5m).")
@click.option("--debug", is_flag=True, envvar="MSPCTL_DEBUG", help="Tracebacks and HTTP debug logs (secrets masked).")
@click.version_option(__version__, "-V", "--version", prog_name="mspctl")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, netbox_url: str | None, netbox_token: str | None,
         insecure: bool | None, output: str, mode: str | None, cache_ttl: str | None, debug: bool) -> None:
    """mspctl: manage client assets, configuration and patches as code, from NetBox.

    \b
    Settings precedence (lowest first): defaults, user file, ./mspctl.toml (or --config),
    NETBOX_API/NETBOX_TOKEN, MSPCTL_* variables, flags.
    Exit codes: 0 ok, 2 usage, 3 partial failure, 4 findings, 5 nothing matched, 6 refused,
    7 nothing checked, 10 settings, 11 NetBox auth, 12 NetBox unreachable, 13 not found,
    14 disk full or read-only, 130 interrupted (docs/errors.md).
    """
    from mspctl.settings import parse_duration

    overrides: dict[str, dict[str, Any]] = {
        "netbox": {"url": netbox_url, "token": netbox_token,
                   "verify_tls": False if insecure else None},
        "cache": {"ttl": parse_duration(cache_ttl, "--cache-ttl") if cache_ttl else None},
    }
    if netbox_token:
        from mspctl.redact import register_secret

        register_secret(netbox_token)
    ctx.obj = App(overrides=overrides, config_file=config_file, output=output, debug=debug,
                  mode=cast("Mode", mode or "auto"))
    _setup_logging(debug)


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.addFilter(EscapingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    # urllib3 warns at every retry of a NetBox read; mspctl's own error says how many tries failed.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.ERROR)


def run() -> None:
    """Console entry point."""
    try:
        main(prog_name="mspctl")
    except Exception as exc:  # only with --debug: show the traceback, masked
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(exc))))
        sys.exit(exc.exit_code if isinstance(exc, MspctlError) else ExitCode.ERROR)
    sys.exit(ExitCode.OK)
