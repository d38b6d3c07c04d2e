"""`mspctl worker`: a Celery worker that runs batches of other machines' runs (docs/scale.md)."""

from __future__ import annotations

from pathlib import Path

import click

from mspctl.cli.app import App, pass_app
from mspctl.errors import ConfigError


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Batches worked on at once (default: one per core); each batch's targets run on its "
                   "own threads, up to [devices] workers.")
@click.option("--queues", default=None, metavar="Q1,Q2", help="The queues to take batches from "
                                                               "(default: [executor] queue, `mspctl`).")
@click.option("--hostname", default=None, metavar="NAME", help="This worker's name (default: mspctl@<host>).")
@click.option("--pool", type=click.Choice(["prefork", "threads", "solo"]), default="prefork", show_default=True,
              help="Celery's pool: prefork uses every core (SSH sessions cost client CPU).")
@click.option("--ready-file", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="Write FILE (name and pid, JSON) once the worker takes batches: for supervisors.")
@pass_app
def worker_cmd(app: App, concurrency: int | None, queues: str | None, hostname: str | None, pool: str,
               ready_file: Path | None) -> None:
    """Take batches from the broker and run them here, until stopped (Ctrl-C or SIGTERM: the
    batches in hand finish first).

    The worker uses this machine's MSP repository (the current one, as every command does), its
    settings and its credentials: batches name credentials by reference only. A batch planned
    against another version of the repository is refused (MSP-EXEC-409).

    \b
    Needs [executor] broker_url or MSPCTL_BROKER_URL, e.g.
      MSPCTL_BROKER_URL=redis://redis.example.net:6379/0 mspctl worker --concurrency 4
    """
    from mspctl.offline import refuse_offline
    from mspctl.scale.celery_backend import serve

    refuse_offline(app.mode, "worker")
    settings = app.settings
    if not settings.executor.broker_url:
        raise ConfigError("mspctl worker needs a broker",
                          hint="set [executor] broker_url or MSPCTL_BROKER_URL=redis://HOST:6379/0")
    names = [q.strip() for q in (queues or "").split(",") if q.strip()]
    serve(settings, concurrency=concurrency, queues=names, hostname=hostname, pool=pool, ready_file=ready_file)
