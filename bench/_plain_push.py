"""The baseline side of bench/push: what a push without safety does, per device, with plain
Netmiko on a thread pool (what a Nornir netmiko_send_config task does): read the running config,
send the same remediation lines, write memory, read again. No journal, no snapshot, no
self-reverting session, no confirm, no identity check.

Usage: python bench/_plain_push.py PLAN.json WORKERS   (PLAN: [{host, port, device_type,
username, password, secret, commands}])
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from netmiko import ConnectHandler


def push(device: dict[str, Any]) -> int:
    conn = ConnectHandler(device_type=device["device_type"], host=device["host"], port=device["port"],
                          username=device["username"], password=device["password"], secret=device["secret"],
                          fast_cli=True, allow_agent=False, use_keys=False, ssh_config_file=None)
    try:
        conn.enable()
        conn.send_command("show running-config")
        conn.send_config_set(device["commands"], cmd_verify=True)
        conn.save_config()
        conn.send_command("show running-config")
    finally:
        conn.disconnect()
    return len(device["commands"])


def main() -> int:
    plan = json.loads(Path(sys.argv[1]).read_text())
    with ThreadPoolExecutor(int(sys.argv[2])) as pool:
        sent = list(pool.map(push, plan))
    print(json.dumps({"devices": len(sent), "commands": sum(sent)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
