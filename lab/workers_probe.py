"""A stand-in worker for the lab's worker namespaces (lab/workers.py): what a real worker needs, no more.

`python -m lab.workers_probe --ready-file F [--device HOST:PORT ...]`:

- PINGs the broker (``MSPCTL_BROKER_URL``, ``redis://HOST:PORT/DB``) and reads the SSH banner of each
  ``--device``, at the addresses the rest of the lab uses;
- starts a child in its process group and a daemon that left it (``setsid``, as an ssh
  ControlPersist master does), so that killing "the machine" has more than one process to kill;
- writes F (JSON: name, pid, netns, pong, banners, child and daemon pids) and then heartbeats the
  broker every ``--interval`` seconds until SIGTERM.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path


def broker_address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def redis_ping(sock: socket.socket) -> str:
    sock.sendall(b"PING\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(64)
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data.decode().strip().lstrip("+")


def banner(host: str, port: int, timeout: float = 10.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        return sock.recv(256).decode(errors="replace").strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.workers_probe", description=__doc__)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--name", default=os.uname().nodename)
    parser.add_argument("--device", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    host, port = broker_address(os.environ.get("MSPCTL_BROKER_URL", "redis://127.0.0.1:6379/5"))
    broker = socket.create_connection((host, port), timeout=10)
    pong = redis_ping(broker)
    banners = {}
    for dev in args.device:
        dhost, _, dport = dev.rpartition(":")
        banners[dev] = banner(dhost, int(dport))
    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(60)"])
    daemon = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(60)"],
                              start_new_session=True)
    info = {"name": args.name, "pid": os.getpid(), "netns": os.readlink("/proc/self/ns/net"), "pong": pong,
            "banners": banners, "child": child.pid, "daemon": daemon.pid}
    tmp = args.ready_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(args.ready_file)
    print(f"probe {args.name} ready: {info}", flush=True)
    while True:
        time.sleep(args.interval)
        try:
            redis_ping(broker)
        except OSError as err:
            print(f"heartbeat: {err}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
