"""Back up running configs with Nornir + nornir_netmiko, the way its docs show it.

Run by bench/backup with the Nornir venv's interpreter (never the project's: no mspctl import).
Nornir's default threaded runner (num_workers 20) unless --workers is given; one
``netmiko_send_command("show running-config", enable=True)`` per host; each result written to
<out>/<host>.cfg; the connections closed at the end. Prints one JSON line: ok, failed, errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nornir import InitNornir
from nornir_netmiko.tasks import netmiko_send_command


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--inventory", type=Path, required=True, help="SimpleInventory folder")
    p.add_argument("--out", type=Path, required=True, help="folder for <host>.cfg")
    p.add_argument("--workers", type=int, default=None, help="num_workers (default: Nornir's own, 20)")
    args = p.parse_args()

    runner: dict[str, object] = {"plugin": "threaded"}
    if args.workers:
        runner["options"] = {"num_workers": args.workers}
    nr = InitNornir(
        runner=runner,
        inventory={"plugin": "SimpleInventory", "options": {
            "host_file": str(args.inventory / "hosts.yaml"), "group_file": str(args.inventory / "groups.yaml"),
            "defaults_file": str(args.inventory / "defaults.yaml")}},
        logging={"enabled": False},
    )
    try:
        result = nr.run(task=netmiko_send_command, command_string="show running-config", enable=True)
    finally:
        nr.close_connections()
    args.out.mkdir(parents=True, exist_ok=True)
    ok, errors = 0, {}
    for host, multi in result.items():
        if multi.failed:
            exc = multi[0].exception
            errors[host] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
            continue
        (args.out / f"{host}.cfg").write_text(str(multi[0].result))
        ok += 1
    workers = nr.runner.num_workers  # type: ignore[attr-defined]
    print(json.dumps({"ok": ok, "failed": len(errors), "workers": workers, "errors": dict(list(errors.items())[:5])}))
    return 0 if not errors else 3


if __name__ == "__main__":
    sys.exit(main())
