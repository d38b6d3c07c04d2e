"""`mspctl completion bash|zsh|fish`: print the shell completion script."""

from __future__ import annotations

import click


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash: eval "$(mspctl completion bash)"   (or save it under /etc/bash_completion.d/)
    zsh:  eval "$(mspctl completion zsh)"
    fish: mspctl completion fish > ~/.config/fish/completions/mspctl.fish
    """
    from click.shell_completion import get_completion_class

    from mspctl.cli.app import main

    cls = get_completion_class(shell)
    assert cls is not None  # every choice above is a shell click supports
    click.echo(cls(main, {}, "mspctl", "_MSPCTL_COMPLETE").source())
