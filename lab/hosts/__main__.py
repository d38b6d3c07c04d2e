"""`python -m lab.hosts up|down|status|cut|restore|reboot|reset|ssh`: real Debian 12 hosts for patch tests."""

from __future__ import annotations

import argparse
import json
import os
import sys

from lab.hosts._util import HostLabError
from lab.hosts.lab import DEFAULT_COUNT, DEFAULT_PREFIX, DEFAULT_SUBNET, HostLab


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab.hosts", description=__doc__)
    parser.add_argument("--prefix", default=os.environ.get("MSPCTL_LAB_HOSTS_PREFIX", DEFAULT_PREFIX),
                        help=f"host name prefix: hosts are <prefix>1..N (default {DEFAULT_PREFIX}, "
                             "or $MSPCTL_LAB_HOSTS_PREFIX); one lab per prefix")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="start the hosts (idempotent: running hosts are reused)")
    p_up.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"number of hosts (default {DEFAULT_COUNT})")
    p_up.add_argument("--subnet", default=DEFAULT_SUBNET, help=f"the lab LAN (default {DEFAULT_SUBNET})")
    p_up.add_argument("--fresh", action="store_true", help="recreate every host from its seeded state")
    p_up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for sshd (default 120)")
    p_up.add_argument("--json", action="store_true", help="print hosts, SSH settings and repository URL as JSON")
    sub.add_parser("down", help="stop and remove the hosts and the repository server (idempotent)")
    p_status = sub.add_parser("status", help="one line per host; exit 1 unless every host answers on SSH")
    p_status.add_argument("--count", type=int, default=None, help="also exit 1 unless there are this many hosts")
    p_status.add_argument("--json", action="store_true")
    sub.add_parser("info", help="print the running lab's JSON (as `up --json`)")
    for name, text in (("cut", "make a host unreachable (its link goes down; packets are dropped)"),
                       ("restore", "make a cut host reachable again")):
        sub.add_parser(name, help=text).add_argument("host", help="name (mspctl-h3), h3 or 3")
    p_reboot = sub.add_parser("reboot", help="reboot a host (new boot_id, /run emptied), as `shutdown -r` inside")
    p_reboot.add_argument("host")
    p_reboot.add_argument("--no-wait", action="store_true", help="return at once instead of waiting for sshd")
    p_reset = sub.add_parser("reset", help="recreate hosts (default: all) from their seeded package state")
    p_reset.add_argument("hosts", nargs="*")
    p_ssh = sub.add_parser("ssh", help="ssh into a host as mspops with the lab key (extra args: a command)")
    p_ssh.add_argument("host")
    p_ssh.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        lab = HostLab(args.prefix)
        if args.cmd == "up":
            info = lab.up(count=args.count, subnet=args.subnet, fresh=args.fresh, timeout=args.timeout)
            if args.json:
                print(json.dumps(info))
            else:
                print(f"{len(info['hosts'])} hosts up; ssh -F {info['ssh_config']} {info['hosts'][0]['name']}")
            return 0
        if args.cmd == "down":
            lab.down()
            return 0
        if args.cmd == "info":
            print(json.dumps(lab.info(), indent=2))
            return 0
        if args.cmd == "status":
            rows = lab.status()
            ok = bool(rows) and all(r["ssh"] for r in rows) and (args.count is None or len(rows) == args.count)
            if args.json:
                print(json.dumps({"ok": ok, "hosts": rows}, indent=2))
            elif not rows:
                print(f"lab {args.prefix!r} is down")
            else:
                for r in rows:
                    state = "ok" if r["ssh"] else ("cut" if r["link"] == "cut" else
                                                   "no-ssh" if r["running"] else "stopped")
                    print(f"{r['name']:<14} {r['address']:<15} {r['profile']:<17} {state}")
            return 0 if ok else 1
        if args.cmd in ("cut", "restore"):
            host = lab.cut(args.host) if args.cmd == "cut" else lab.restore(args.host)
            print(f"{host.name} {'cut' if args.cmd == 'cut' else 'restored'}")
            return 0
        if args.cmd == "reboot":
            host = lab.reboot(args.host, wait=not args.no_wait)
            print(f"{host.name} rebooted")
            return 0
        if args.cmd == "reset":
            hosts = lab.reset(args.hosts)
            print("reset: " + ", ".join(h.name for h in hosts))
            return 0
        host = lab.host(args.host)
        os.execvp("ssh", ["ssh", "-F", str(lab.ssh_config), host.name, *args.command])
    except HostLabError as err:
        print(f"[lab hosts] {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
