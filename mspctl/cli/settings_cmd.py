"""`mspctl settings show`: the effective settings and where they came from (token masked)."""

from __future__ import annotations

from typing import Any

import click

from mspctl import product
from mspctl.cli.app import App, output_option, pass_app
from mspctl.cli.output import render
from mspctl.redact import MASK


@click.group("settings")
def settings_group() -> None:
    """Inspect mspctl's own settings."""


@settings_group.command("show")
@output_option
@pass_app
def show_cmd(app: App) -> None:
    """Print the effective settings, their sources, and the precedence used."""
    s = app.settings
    data: dict[str, Any] = {
        "netbox": {"url": s.netbox.url, "token": MASK if s.netbox.token else None,
                   "verify_tls": s.netbox.verify_tls, "timeout": s.netbox.timeout,
                   "page_size": s.netbox.page_size, "workers": s.netbox.workers,
                   "graphql": s.netbox.graphql},
        "cache": {"path": str(s.cache.path), "ttl": s.cache.ttl},
        "render": {"template_timeout": s.render.template_timeout, "max_output_bytes": s.render.max_output_bytes,
                   "max_loop_iterations": s.render.max_loop_iterations},
        "patch": {"baselines": str(s.path(s.patch.baselines)), "playbooks": str(s.path(s.patch.playbooks)),
                  "forks": s.patch.forks, "canary": s.patch.canary, "batch_size": s.patch.batch_size,
                  "max_fail_percent": s.patch.max_fail_percent, "stale_after": s.patch.stale_after,
                  "ssh_config": str(s.patch.ssh_config) if s.patch.ssh_config else None,
                  "connect_timeout": s.patch.connect_timeout,
                  "state": str(s.patch.state), "host_keys": s.patch.host_keys,
                  "known_hosts": str(s.patch.known_hosts)},
        "repo": str(s.repo),
        # mspctl's own playbooks and modules (used where [patch] playbooks lacks one) and examples
        "product": str(product.root()),
        "clients_file": str(s.clients_path),
        "platforms": dict(s.platforms),
        "sources": list(s.sources),
    }
    rows = [{"key": f"{sec}.{k}", "value": v} for sec in ("netbox", "cache", "render", "patch")
            for k, v in data[sec].items()]
    rows += [{"key": k, "value": data[k]} for k in ("repo", "product", "clients_file", "sources")]
    render(data, app.output, rows=rows, columns=[("key", "SETTING"), ("value", "VALUE")])
