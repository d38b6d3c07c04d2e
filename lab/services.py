"""PostgreSQL and Redis for the lab: reuse what runs, start what is installed, install what is missing.

Only the standard library is used here, so the lab can be brought up before mspctl's own
virtual environment exists.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, check: bool = True, env: dict[str, str] | None = None,
        quiet: bool = False, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    if not quiet:
        log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, text=True, capture_output=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise SystemExit(
            f"[lab] command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port: int, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.2)
    raise SystemExit(f"[lab] {what} did not start listening on 127.0.0.1:{port} within {timeout:.0f}s")


_apt_updated = False


def apt_install(*packages: str) -> None:
    global _apt_updated
    if os.geteuid() != 0:
        raise SystemExit(f"[lab] {', '.join(packages)} missing; install it (apt-get install {' '.join(packages)}) "
                         "or run the lab as root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        run(["apt-get", "update", "-qq"], env=env)
        _apt_updated = True
    # policy-rc.d keeps the package from trying to start a service through an init system
    # that containers do not have; the lab starts the daemon itself.
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


def ensure_postgres(port: int = 5432) -> None:
    if port_open(port):
        log(f"PostgreSQL: reusing the server on 127.0.0.1:{port}")
        return
    if not shutil.which("pg_ctlcluster"):
        apt_install("postgresql")
    clusters = sorted(glob.glob("/etc/postgresql/*/main"))
    if not clusters:
        apt_install("postgresql")
        clusters = sorted(glob.glob("/etc/postgresql/*/main"))
    version = clusters[-1].split("/")[-2]
    run(["pg_ctlcluster", version, "main", "start"])
    wait_port(port, "PostgreSQL")
    log(f"PostgreSQL {version}: started")


def psql(sql: str, db: str = "postgres") -> str:
    """Run SQL as the postgres superuser (peer authentication over the local socket)."""
    cmd = ["psql", "-v", "ON_ERROR_STOP=1", "-qtA", "-d", db, "-c", sql]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return run(cmd, quiet=True).stdout.strip()


def ensure_redis(port: int = 6379) -> None:
    if port_open(port):
        log(f"Redis: reusing the server on 127.0.0.1:{port}")
        return
    if not shutil.which("redis-server"):
        apt_install("redis-server")
        if port_open(port):  # the package's own init script may have started it
            log("Redis: started by its package")
            return
    run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
         "--save", "", "--appendonly", "no"])
    wait_port(port, "Redis")
    log("Redis: started")
