"""`mspctl init DIR`: start an MSP repository (mspctl.scaffold)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.output import render


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True,
              help="Add to a folder that is not empty: write only the files it lacks, keep the others.")
@output_option
@pass_app
def init_cmd(app: App, directory: Path, force: bool) -> None:
    """Start an MSP repository in DIRECTORY, as a git repository with one commit.

    \b
    It holds the MSP's data only: mspctl.toml, inventory/clients.yml and inventory/exceptions.yml
    (commented examples), inventory/all-clients.mspctl.yml (the Ansible inventory plugin),
    templates/ with features.yml and baselines/ (mspctl's examples), ansible.cfg and .gitignore.
    The playbooks, Ansible modules and inventory plugin are mspctl's own, installed with it.
    A folder that is not empty is refused (MSP-INIT-409) unless --force; nothing is overwritten.
    """
    from mspctl.scaffold import init_repository

    result = init_repository(directory, force=force)
    data = {"path": str(result.path), "git_initialized": result.git_initialized, "commit": result.commit,
            "author": result.author or None, "files": [asdict(f) for f in result.files]}
    written = len(result.written)
    footer = (f"{directory}: written {written}, kept {len(result.files) - written}; "
              + (f"commit {result.commit[:12]} by {result.author}" if result.commit else "nothing to commit")
              + f". Next: cd {directory}, set NETBOX_API and NETBOX_TOKEN, add your clients to "
                "inventory/clients.yml, then `mspctl clients`.")
    render(data, app.output, rows=[asdict(f) for f in result.files], columns=[("path", "FILE"), ("state", "STATE")],
           footer=footer)
