"""`python -m lab up|down|status|env`: the mspctl lab (real NetBox on loopback)."""

from __future__ import annotations

import argparse
import json
import sys

from lab import nbserver as netbox


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["workers"]:  # its own parser: lab/workers.py
        from lab import workers

        return workers.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="start PostgreSQL, Redis and NetBox; load a data set (idempotent)")
    p_up.add_argument("--dataset", choices=sorted(netbox.SEEDS), default="demo",
                      help="demo: 3 demo clients; bench: demo plus 5,000 devices across 50 clients; "
                           "brownfield: demo plus hooli, whose devices were configured by hand")
    p_up.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    p_up.add_argument("--fresh", action="store_true",
                      help="reload the data set from its cached dump, undoing changes made since")
    p_up.add_argument("--json", action="store_true", help="print url, token and env file as JSON on stdout")
    p_down = sub.add_parser("down", help="stop NetBox (PostgreSQL and Redis stay up for reuse)")
    p_down.add_argument("--dataset", choices=sorted(netbox.SEEDS), default=None, help="default: every data set")
    sub.add_parser("status", help="print the lab's state; exit 1 when NetBox is not running")
    p_net = sub.add_parser("network", help="the demo network: simulated IOS/EOS devices with seeded drift")
    p_net.add_argument("action", choices=["up", "down"])
    p_net.add_argument("--json", action="store_true", help="print the lab settings as JSON on stdout")
    p_brown = sub.add_parser("brownfield", help="the brownfield client's devices: real-world configs, verbatim")
    p_brown.add_argument("action", choices=["up", "down"])
    p_brown.add_argument("--json", action="store_true", help="print the lab settings as JSON on stdout")
    p_brown.add_argument("--fresh", action="store_true", help="reload NetBox's brownfield data from its dump")
    sub.add_parser("workers", help="Celery workers, each in its own network namespace "
                                   "(python -m lab workers up|down|status|cut|restore|kill --help)")
    p_env = sub.add_parser("env", help="print NETBOX_API/NETBOX_TOKEN exports for a data set's NetBox")
    p_env.add_argument("--dataset", choices=sorted(netbox.SEEDS), default="demo")
    args = parser.parse_args(argv)
    if args.cmd == "up":
        info = netbox.up(args.dataset, args.workers, args.fresh)
        if args.json:
            print(json.dumps(info))
        return 0
    if args.cmd == "down":
        netbox.down(args.dataset)
        return 0
    if args.cmd == "network":
        from lab import network

        if args.action == "down":
            network.down()
            return 0
        info = network.up()
        if args.json:
            print(json.dumps(info))
        return 0
    if args.cmd == "brownfield":
        from lab import brownfield

        if args.action == "down":
            brownfield.down()
            return 0
        info = brownfield.up(args.fresh)
        if args.json:
            print(json.dumps(info))
        return 0
    if args.cmd == "env":
        from lab import network

        print(netbox.write_env_file(netbox.load_state(), args.dataset).read_text(), end="")
        if args.dataset == "demo":
            from lab.hosts.lab import HostLab

            print(network.env_lines(), end="")
            # acme's servers are the host lab's Debian hosts: reach them with its SSH config
            print(f"export MSPCTL_SSH_CONFIG={HostLab().ssh_config}")
        return 0
    return netbox.status()


if __name__ == "__main__":
    sys.exit(main())
