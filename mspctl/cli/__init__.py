"""The command-line interface: thin click commands over the services."""

from __future__ import annotations

from mspctl.cli.app import main, run
from mspctl.cli.completion import completion_cmd
from mspctl.cli.config_cmds import config_group
from mspctl.cli.drift_cmd import drift_cmd
from mspctl.cli.init_cmd import init_cmd
from mspctl.cli.inventory import clients_cmd, inventory_group
from mspctl.cli.metrics_cmd import metrics_cmd
from mspctl.cli.patch_cmd import patch_group
from mspctl.cli.plugins_cmd import plugins_group
from mspctl.cli.report_cmd import report_cmd, status_cmd
from mspctl.cli.runs_cmd import runs_group
from mspctl.cli.settings_cmd import settings_group
from mspctl.cli.worker_cmd import worker_cmd

main.add_command(init_cmd)
main.add_command(clients_cmd)
main.add_command(inventory_group)
main.add_command(settings_group)
main.add_command(config_group)
main.add_command(drift_cmd)
main.add_command(runs_group)
main.add_command(metrics_cmd)
main.add_command(patch_group)
main.add_command(report_cmd)
main.add_command(status_cmd)
main.add_command(completion_cmd)
main.add_command(worker_cmd)
main.add_command(plugins_group)

__all__ = ["main", "run"]
