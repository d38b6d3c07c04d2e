"""`python -m lab.devices serve|up|down|status|ctl`: simulated network devices over real SSH."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lab.devices import runner
from lab.devices.spec import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.devices", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)

    def with_spec(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--spec", type=Path, default=runner.DEMO_SPEC,
                       help=f"device spec file, YAML or JSON (default: {runner.DEMO_SPEC.name})")
        return p

    p_serve = with_spec(sub.add_parser("serve", help="serve the spec's devices in the foreground until Ctrl-C"))
    p_serve.add_argument("--control", type=Path, default=None,
                         help="control socket path (default: in the lab state dir)")
    p_serve.add_argument("--pidfile", type=Path, default=None,
                         help="write the pid here once listening (default: in the lab state dir)")
    p_up = with_spec(sub.add_parser("up", help="start the devices as a daemon; wait until every port accepts"))
    p_up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the ports (default 60)")
    p_up.add_argument("--json", action="store_true", help="print the pid and control socket as JSON")
    with_spec(sub.add_parser("down", help="stop the daemon (no-op when not running)"))
    with_spec(sub.add_parser("status", help="list devices and ports; exit 1 unless all listen"))
    p_ctl = with_spec(sub.add_parser("ctl", help="send one control request, e.g. ctl reset '{\"device\": \"r1\"}'"))
    p_ctl.add_argument("op", help="ping, list, info, set_knobs, reset, config, run, disconnect")
    p_ctl.add_argument("params", nargs="?", default="{}", help="the request's parameters as a JSON object")
    args = parser.parse_args(argv)

    try:
        if args.cmd == "serve":
            return runner.serve(args.spec, args.control, args.pidfile)
        if args.cmd == "up":
            inst = runner.up(args.spec, args.timeout)
            if args.json:
                print(json.dumps({"pid": inst.pid(), "control": str(inst.control), "log": str(inst.logfile)}))
            return 0
        if args.cmd == "down":
            runner.down(args.spec)
            return 0
        if args.cmd == "status":
            return runner.status(args.spec)
        from lab.devices.control import ControlClient, ControlError

        try:
            answer = ControlClient(runner.Instance.of(args.spec).control).call(args.op, **json.loads(args.params))
        except ControlError as err:
            print(err, file=sys.stderr)
            return 1
        if set(answer) in ({"config"}, {"output"}):
            print(next(iter(answer.values())), end="")
        else:
            print(json.dumps(answer, indent=2))
        return 0
    except SpecError as err:
        print(f"[lab devices] {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
