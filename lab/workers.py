"""Celery workers for the lab, each in a network namespace of its own, like a machine of its own.

`python -m lab workers up --count N` reuses (or starts) the lab's Redis and starts N workers::

    root namespace                                       worker namespace <prefix>N (mspw1, mspw2...)
    Redis 127.0.0.1:6379  <--+                           lo 127/8
    NetBox 127.0.0.1:1808x <-+-- agent (relay) <=======> 0.0.0.0:{6379,18080..,2222} on lo: the worker
    devices 127.x.y.z:2222 <-+   lab/workers_agent.py    connects to 127.0.0.1:6379 or 127.20.1.1:2222
                                                         as anywhere else in the lab
    <hosts>br 10.250.0.1/24 --- <prefix>N (veth) ======= eth0 10.250.0.(200+N)/24 (hosts lab up only)

A worker reaches, at the addresses the rest of the lab uses: the broker (``redis://127.0.0.1:6379/5``),
NetBox's ports on 127.0.0.1, every simulated device (any 127/8 address, the device port 2222), and the
host lab's Debian hosts over the hosts' bridge when that lab is up. Nothing else: other loopback
services of the root namespace are not there (connection refused), and the namespace has no default
route. (The filesystem is shared: Unix sockets are not isolated.)

Each worker has an agent (lab/workers_agent.py): the relay between its namespace and the root
namespace, and the supervisor of its worker process (own session and process group, reaped by the
agent). ``cut`` stops the relay (connections hang: no reset, no FIN; new ones are never served) and
takes the worker's bridge port down; ``restore`` undoes both. ``kill`` SIGKILLs the worker's process
group and everything else in its namespace: the machine dies mid-run. ``up`` again (or ``start``)
restarts it.

State under ``<lab home>/workers/<prefix>/`` (lab home: ``$MSPCTL_LAB_HOME``, ``~/.cache/mspctl-lab``)::

    lock, state.json
    <prefix>N/agent.json agent.log agent.pid agent.sock   the agent: namespace, relay rules
    <prefix>N/worker.json worker.log worker.pid worker.ready cut

Readiness: a worker is ready when ``ready(worker)`` is true while its process lives. The default
``ready`` waits for the file ``{ready_file}`` when the command names it (``mspctl worker
--ready-file``, written once the worker takes batches), otherwise for the process to be alive with
its relay up. Pass any callable (a Celery ping, a log line...) instead.

Standard library only (the lab runs before mspctl's venv exists), root only (namespaces).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab import nbserver
from lab.workers_agent import control_path, ns_pids

PREFIX = "mspw"
PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,9}$")
REDIS_PORT = 6379
BROKER_DB = 5  # NetBox uses 10-15
DEVICE_PORT = 2222  # lab/network.py DEVICE_PORT
FIRST_LAN = 200  # worker N is 10.250.0.(200 + N) on the hosts' LAN
DEFAULT_CONCURRENCY = 2
REPO = nbserver.HERE.parent
HOME = nbserver.LAB_HOME / "workers"
READY_FILE = "worker.ready"
# MSPCTL_/NETBOX_ settings of the caller's shell do not leak into lab workers; pytest's do not
# change a worker's configuration from one test to the next.
_NOT_INHERITED = ("MSPCTL_", "NETBOX_", "PYTEST_")

Ready = Callable[["Worker"], bool]


class WorkersError(RuntimeError):
    """A lab workers operation failed; the message says what and where to look."""


def log(msg: str) -> None:
    print(f"[lab workers] {msg}", file=sys.stderr, flush=True)


# -- names and places ------------------------------------------------------------------------------


def check_prefix(prefix: str) -> None:
    if not PREFIX_RE.match(prefix):
        raise WorkersError(f"bad workers prefix {prefix!r}: lowercase letters, digits and '-', at most 10, "
                           "starting with a letter (interface names are limited to 15 characters)")


def home(prefix: str = PREFIX) -> Path:
    check_prefix(prefix)
    return HOME / prefix


def ns_name(index: int, prefix: str = PREFIX) -> str:
    """The worker's network namespace, also the name of its root-side veth on the hosts' bridge."""
    return f"{prefix}{index}"


def worker_name(index: int, prefix: str = PREFIX) -> str:
    """The worker's name (``--hostname``): lab-w1, lab-w2... (other prefixes: <prefix>-w1...)."""
    return f"lab-w{index}" if prefix == PREFIX else f"{prefix}-w{index}"


def worker_dir(index: int, prefix: str = PREFIX) -> Path:
    return home(prefix) / ns_name(index, prefix)


def broker_url(port: int = REDIS_PORT, db: int = BROKER_DB) -> str:
    return f"redis://127.0.0.1:{port}/{db}"


def venv_bin() -> Path:
    """The bin directory of mspctl's venv: this interpreter's when it has mspctl, else the checkout's."""
    here = Path(sys.executable).parent
    return here if (here / "mspctl").exists() else REPO / ".venv" / "bin"


def default_cmd() -> list[str]:
    return [str(venv_bin() / "mspctl"), "worker", "--concurrency", "{concurrency}", "--hostname", "{name}",
            "--ready-file", "{ready_file}"]


def _mac(kind: int, prefix: str, index: int) -> str:
    h = hashlib.sha256(prefix.encode()).digest()
    return f"02:6d:{kind:02x}:{h[0]:02x}:{h[1]:02x}:{index:02x}"


def _run(cmd: Sequence[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise WorkersError(f"failed ({proc.returncode}): {' '.join(cmd)}\n{(proc.stderr or proc.stdout).strip()}")
    return proc


def _link_exists(name: str, ns: str | None = None) -> bool:
    return _run(["ip", *(["-n", ns] if ns else []), "link", "show", "dev", name], check=False).returncode == 0


def _netns_exists(ns: str) -> bool:
    return Path("/run/netns", ns).exists()


def _tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def _locked(prefix: str) -> contextlib.AbstractContextManager[None]:
    """One workers operation at a time per lab home (the hosts lab's lock)."""
    from lab.hosts._util import locked

    return locked(home(prefix) / "lock")


# -- what the workers see --------------------------------------------------------------------------


@dataclass(frozen=True)
class Worker:
    """One lab worker as ``status`` sees it."""

    index: int
    name: str  # its --hostname
    ns: str
    dir: Path
    pid: int | None  # the worker process (its process group id too)
    alive: bool
    cut: bool
    agent_pid: int | None
    lan_address: str | None  # on the hosts' bridge, when attached

    @property
    def log(self) -> Path:
        return self.dir / "worker.log"

    @property
    def ready_file(self) -> Path:
        return self.dir / READY_FILE

    @property
    def ready(self) -> bool:
        return self.alive and self.ready_file.exists()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(dir=str(self.dir), log=str(self.log), ready_file=str(self.ready_file), ready=self.ready)
        return data


@dataclass(frozen=True)
class WorkersInfo:
    prefix: str
    broker_url: str
    workers: list[Worker] = field(default_factory=list)
    hosts_lan: dict[str, str] | None = None  # bridge and subnet, when the workers are on the hosts' LAN

    def worker(self, index: int) -> Worker:
        for w in self.workers:
            if w.index == index:
                return w
        raise WorkersError(f"no worker {index} (workers: {[w.index for w in self.workers]})")

    def to_json(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "broker_url": self.broker_url, "hosts_lan": self.hosts_lan,
                "workers": [w.to_json() for w in self.workers]}


def allowed_targets(device_ports: Iterable[int] = (DEVICE_PORT,),
                    extra: Iterable[tuple[str, int]] = ()) -> list[tuple[str, int]]:
    """The (network, port) pairs a worker reaches through its relay: Redis and NetBox on 127.0.0.1,
    the simulated devices on any loopback address."""
    rules = [("127.0.0.1/32", REDIS_PORT)]
    rules += [("127.0.0.1/32", port) for port in sorted(set(nbserver.PORTS.values()))]
    rules += [("127.0.0.0/8", int(port)) for port in device_ports]
    rules += [(str(ipaddress.IPv4Network(net)), int(port)) for net, port in extra]
    return rules


def read_env_file(path: str | Path) -> dict[str, str]:
    """``KEY=VALUE`` or ``export KEY=VALUE`` lines (shell quoting allowed), as `python -m lab env` prints."""
    out: dict[str, str] = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise WorkersError(f"{path}: not KEY=VALUE: {raw!r}")
        words = shlex.split(value) if value else [""]
        out[key] = words[0] if words else ""
    return out


def lab_settings() -> dict[str, str]:
    """The demo's settings for mspctl commands, as `python -m lab env` prints them: NetBox, the demo
    network's credentials and device port, the host lab's SSH config (those that are up)."""
    from lab import network
    from lab.hosts.lab import HostLab

    out: dict[str, str] = {}
    if nbserver.env_file("demo").exists():
        out.update(read_env_file(nbserver.env_file("demo")))
    if network.CREDENTIALS_FILE.exists():
        out.update(MSPCTL_CREDENTIALS_FILE=str(network.CREDENTIALS_FILE), MSPCTL_DEVICE_PORT=str(network.DEVICE_PORT))
    ssh_config = HostLab().ssh_config
    if ssh_config.exists():
        out["MSPCTL_SSH_CONFIG"] = str(ssh_config)
    return out


def worker_env(env: Mapping[str, str] | None = None, env_file: str | Path | None = None,
               broker: str | None = None) -> dict[str, str]:
    """The worker's environment: the caller's (less MSPCTL_*, NETBOX_*, PYTEST_*), then the lab's
    demo settings (only when neither ``env`` nor ``env_file`` is given), ``env_file``, ``env``; the
    lab's broker and ``MSPCTL_EXECUTOR=celery`` unless those set them; the venv's bin first on PATH."""
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(_NOT_INHERITED) or k.startswith("MSPCTL_LAB_")}
    if env is None and env_file is None:
        out.update(lab_settings())
    if env_file is not None:
        out.update(read_env_file(env_file))
    out.update(env or {})
    out.setdefault("MSPCTL_BROKER_URL", broker or broker_url())
    out.setdefault("MSPCTL_EXECUTOR", "celery")
    path = out.get("PATH", os.defpath)
    out["PATH"] = f"{venv_bin()}:{path}"
    return out


# -- the agent's control socket --------------------------------------------------------------------


def _ask(directory: Path, op: str, timeout: float = 30.0, **extra: Any) -> dict[str, Any] | None:
    """One request to a worker's agent; None when no agent answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(control_path(directory)))
            sock.sendall(json.dumps({"op": op, **extra}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                data += chunk
    except OSError:
        return None
    answer: dict[str, Any] = json.loads(data)
    return answer


def _must(directory: Path, op: str, timeout: float = 30.0, **extra: Any) -> dict[str, Any]:
    answer = _ask(directory, op, timeout, **extra)
    if answer is None:
        raise WorkersError(f"the agent of {directory.name} does not answer ({op}); see {directory / 'agent.log'}"
                           " or run `python -m lab workers up` again")
    if not answer.get("ok"):
        raise WorkersError(f"{directory.name}: {op}: {answer.get('error')}")
    return answer


def _agent_pid(directory: Path) -> int | None:
    from lab.hosts._util import pid_alive

    return pid_alive(directory / "agent.pid", "lab.workers_agent")


def _start_agent(directory: Path, timeout: float = 20.0) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.workers_agent", str(directory)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise WorkersError(f"the agent of {directory.name} failed to start:\n{proc.stderr[-2000:]}")
    deadline = time.monotonic() + timeout
    while _ask(directory, "ping", timeout=2) is None:
        if time.monotonic() > deadline:
            raise WorkersError(f"the agent of {directory.name} did not answer within {timeout:.0f}s:\n"
                               f"{_tail(directory / 'agent.log')}")
        time.sleep(0.05)


def _stop_agent(directory: Path, grace: float = 10.0) -> None:
    from lab.hosts._util import proc_start, wait_exited

    pid = _agent_pid(directory)
    started = proc_start(pid) if pid is not None else None
    answered = _ask(directory, "shutdown", timeout=grace + 20, grace=grace) is not None
    if pid is not None and started is not None and not (answered and wait_exited(pid, started, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_exited(pid, started, 10)
    (directory / "agent.pid").unlink(missing_ok=True)
    control_path(directory).unlink(missing_ok=True)


# -- namespaces and links --------------------------------------------------------------------------


def _hosts_lan(hosts_prefix: str) -> tuple[str, ipaddress.IPv4Network, set[str]] | None:
    """The hosts lab's bridge, subnet and host addresses, when that lab is up."""
    from lab.hosts import network as hnet
    from lab.hosts.lab import HostLab

    state = HostLab(hosts_prefix).state()
    br = hnet.bridge(hosts_prefix)
    if not state or not _link_exists(br):
        return None
    return br, ipaddress.IPv4Network(state["subnet"]), {h["address"] for h in state.get("hosts", [])}


def _ensure_ns(ns: str) -> None:
    if not _netns_exists(ns):
        _run(["ip", "netns", "add", ns])
    _run(["ip", "-n", ns, "link", "set", "lo", "up"])


def _disable_ipv6(ns: str) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{ns}/disable_ipv6").write_text("1\n")  # the root-side veth
    _run(["ip", "netns", "exec", ns, "sh", "-c",
          "for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 > $f; done 2>/dev/null; true"], check=False)


def _ensure_lan(index: int, prefix: str, lan: tuple[str, ipaddress.IPv4Network, set[str]] | None,
                cut: bool) -> str | None:
    """The worker's veth on the hosts' bridge (fixed MACs, an address above the hosts'), or none
    when the hosts lab is down. Returns the worker's address there."""
    ns = ns_name(index, prefix)
    if lan is None:
        if _link_exists(ns):
            _run(["ip", "link", "del", ns], check=False)
        return None
    br, subnet, host_addresses = lan
    if FIRST_LAN + index >= subnet.num_addresses - 1:
        raise WorkersError(f"the hosts' subnet {subnet} has no room for worker {index}")
    address = str(subnet[FIRST_LAN + index])
    if address in host_addresses:
        raise WorkersError(f"worker {index}'s LAN address {address} is a lab host's: run fewer hosts")
    if not _link_exists("eth0", ns):
        if _link_exists(ns):
            _run(["ip", "link", "del", ns])
        _run(["ip", "link", "add", ns, "address", _mac(0x76, prefix, index), "type", "veth",
              "peer", "name", "eth0", "address", _mac(0x77, prefix, index), "netns", ns])
    _run(["ip", "link", "set", ns, "master", br])
    _run(["ip", "link", "set", ns, "down" if cut else "up"])
    _run(["ip", "-n", ns, "addr", "replace", f"{address}/{subnet.prefixlen}", "dev", "eth0"])
    _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    return address


def _lan_address(ns: str) -> str | None:
    proc = _run(["ip", "-n", ns, "-j", "-4", "addr", "show", "dev", "eth0"], check=False)
    if proc.returncode != 0 or not _link_exists(ns):
        return None
    for iface in json.loads(proc.stdout or "[]"):
        for a in iface.get("addr_info", []):
            return str(a["local"])
    return None


def _known_indexes(prefix: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    found = set()
    for parent in (home(prefix), Path("/run/netns")):
        if parent.is_dir():
            found |= {int(m.group(1)) for p in parent.iterdir() if (m := pattern.match(p.name))}
    return sorted(found)


def _kill_ns(ns: str) -> None:
    """SIGKILL whatever still runs in the namespace (a worker orphaned by a dead agent); returns
    once each has exited (a process leaves its namespace before it has finished exiting)."""
    from lab.hosts._util import proc_start, wait_exited

    deadline = time.monotonic() + 10
    killed: dict[int, str] = {}
    while (left := ns_pids(f"/run/netns/{ns}")) and time.monotonic() < deadline:
        for pid in left:
            if (started := proc_start(pid)) is not None:
                killed.setdefault(pid, started)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    for pid, started in killed.items():
        wait_exited(pid, started, max(0.0, deadline - time.monotonic()))


def _remove(index: int, prefix: str) -> None:
    ns, directory = ns_name(index, prefix), worker_dir(index, prefix)
    _stop_agent(directory)
    _kill_ns(ns)
    if _link_exists(ns):
        _run(["ip", "link", "del", ns], check=False)
    if _netns_exists(ns):
        _run(["ip", "netns", "del", ns], check=False)
    shutil.rmtree(directory, ignore_errors=True)


# -- operations ------------------------------------------------------------------------------------


def _format_cmd(cmd: Sequence[str] | str | None, values: Mapping[str, object]) -> list[str]:
    words = shlex.split(cmd) if isinstance(cmd, str) else list(cmd or default_cmd())
    return [w.format(**values) for w in words]


def _per_worker(value: str, values: Mapping[str, object]) -> str:
    """``{index}``, ``{name}`` and ``{ns}`` in an environment value (other braces are left alone)."""
    for key in ("index", "name", "ns"):
        value = value.replace("{" + key + "}", str(values[key]))
    return value


def _uses_ready_file(cmd: Sequence[str] | str | None) -> bool:
    words = shlex.split(cmd) if isinstance(cmd, str) else list(cmd or default_cmd())
    return any("{ready_file}" in w for w in words)


def up(count: int = 2, *, concurrency: int = DEFAULT_CONCURRENCY, cmd: Sequence[str] | str | None = None,
       env: Mapping[str, str] | None = None, env_file: str | Path | None = None, cwd: str | Path | None = None,
       ready: Ready | None = None, timeout: float = 120.0, prefix: str = PREFIX,
       device_ports: Iterable[int] = (DEVICE_PORT,), targets: Iterable[tuple[str, int]] = (),
       hosts_prefix: str = "mspctl-h") -> WorkersInfo:
    """Start ``count`` workers (idempotent: a running worker of the same configuration is kept, one of
    another is restarted, workers above ``count`` are removed) and wait until each is ready.

    ``cmd``: argv (or a shell-quoted string) run in the namespace, with ``{index}``, ``{name}``,
    ``{ns}``, ``{ready_file}``, ``{concurrency}``, ``{bin}`` (the venv's bin) and ``{python}``
    substituted; default ``mspctl worker --concurrency C --hostname lab-wN --ready-file F``.
    ``env``/``env_file``: see ``worker_env``; ``{index}``, ``{name}`` and ``{ns}`` in a value are
    substituted too (a cache directory per worker). ``cwd``: the MSP repository (default: the checkout).
    ``ready``: see the module doc. ``targets``: more (network, port) pairs the relay may reach.
    """
    if os.geteuid() != 0:
        raise WorkersError("lab workers need root (network namespaces)")
    if count < 1:
        raise WorkersError("--count must be at least 1")
    cwd = Path(cwd or REPO).resolve()
    try:
        from lab.services import ensure_redis

        ensure_redis(REDIS_PORT)
    except SystemExit as exc:
        raise WorkersError(str(exc)) from None
    broker = broker_url()
    environment = worker_env(env, env_file, broker)
    rules = allowed_targets(device_ports, targets)
    ready_mode = "file" if _uses_ready_file(cmd) else "alive"
    with _locked(prefix):
        lan = _hosts_lan(hosts_prefix)
        for extra in (i for i in _known_indexes(prefix) if i > count):
            log(f"removing {ns_name(extra, prefix)}")
            _remove(extra, prefix)
        for index in range(1, count + 1):
            ns, directory = ns_name(index, prefix), worker_dir(index, prefix)
            directory.mkdir(parents=True, exist_ok=True)
            _ensure_ns(ns)
            _ensure_lan(index, prefix, lan, cut=(directory / "cut").exists())
            _disable_ipv6(ns)
            agent_cfg = json.dumps({"ns": ns, "rules": rules}, indent=1)
            agent_file = directory / "agent.json"
            if _agent_pid(directory) is not None and agent_file.exists() and agent_file.read_text() != agent_cfg:
                log(f"{ns}: relay rules changed, restarting its agent")
                _stop_agent(directory)
            if _agent_pid(directory) is None or _ask(directory, "ping", timeout=5) is None:
                _stop_agent(directory, grace=2)
                _kill_ns(ns)
                agent_file.write_text(agent_cfg)
                _start_agent(directory)
            values = {"index": index, "name": worker_name(index, prefix), "ns": ns,
                      "ready_file": directory / READY_FILE, "concurrency": concurrency, "bin": venv_bin(),
                      "python": sys.executable}
            argv = _format_cmd(cmd, values)
            own_env = {k: _per_worker(v, values) for k, v in environment.items()}
            spec = {"argv": argv, "env": own_env, "cwd": str(cwd), "ready_file": str(directory / READY_FILE),
                    "ready_mode": ready_mode}
            spec["digest"] = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
            _write_private(directory / "worker.json", json.dumps(spec, indent=1))
            st = _must(directory, "ping")
            if st["alive"] and st["digest"] != spec["digest"]:
                log(f"{ns}: its worker's command or environment changed, restarting it")
                _must(directory, "stop", timeout=60)
            _must(directory, "start")
        hosts_lan = {"bridge": lan[0], "subnet": str(lan[1])} if lan else None
        _write_private(home(prefix) / "state.json", json.dumps(
            {"prefix": prefix, "count": count, "broker_url": broker, "hosts_lan": hosts_lan}, indent=1))
    wait_ready(range(1, count + 1), ready=ready, timeout=timeout, prefix=prefix)
    log(f"{count} worker(s) ready; broker {broker}")
    return status(prefix)


def start(index: int, *, ready: Ready | None = None, timeout: float = 120.0, prefix: str = PREFIX) -> Worker:
    """Start a worker that was killed (or ended) again, with the command and environment of the last
    ``up``, and wait until it is ready."""
    _must(worker_dir(index, prefix), "start")
    wait_ready([index], ready=ready, timeout=timeout, prefix=prefix)
    return status(prefix).worker(index)


def wait_ready(indexes: Iterable[int], *, ready: Ready | None = None, timeout: float = 120.0,
               prefix: str = PREFIX) -> None:
    """Wait until each worker is ready (see the module doc); raises WorkersError with the worker's log
    when one ends first or the deadline passes."""
    pending = list(indexes)
    deadline = time.monotonic() + timeout
    while pending:
        workers = {w.index: w for w in status(prefix).workers}
        for index in list(pending):
            w = workers.get(index)
            if w is None:
                raise WorkersError(f"no worker {index}")
            if not w.alive:
                raise WorkersError(f"worker {w.name} ({w.ns}) ended before it was ready; {w.log}:\n{_tail(w.log)}")
            if ready is not None:
                ok = ready(w)
            else:
                mode = json.loads((w.dir / "worker.json").read_text()).get("ready_mode", "alive")
                ok = w.ready_file.exists() if mode == "file" else True
            if ok:
                pending.remove(index)
        if pending and time.monotonic() > deadline:
            names = ", ".join(ns_name(i, prefix) for i in pending)
            raise WorkersError(f"workers not ready within {timeout:.0f}s: {names}; see "
                               f"{worker_dir(pending[0], prefix) / 'worker.log'}:\n"
                               f"{_tail(worker_dir(pending[0], prefix) / 'worker.log')}")
        if pending:
            time.sleep(0.1)


def status(prefix: str = PREFIX) -> WorkersInfo:
    """What runs: the broker URL, and per worker its namespace, pid, whether it lives and is cut."""
    try:
        state = json.loads((home(prefix) / "state.json").read_text())
    except (OSError, ValueError):
        state = {}
    workers = []
    for index in _known_indexes(prefix):
        ns, directory = ns_name(index, prefix), worker_dir(index, prefix)
        st = _ask(directory, "ping", timeout=5) if _agent_pid(directory) else None
        workers.append(Worker(index=index, name=worker_name(index, prefix), ns=ns, dir=directory,
                              pid=st["pid"] if st else None, alive=bool(st and st["alive"]),
                              cut=(directory / "cut").exists(), agent_pid=st["agent_pid"] if st else None,
                              lan_address=_lan_address(ns) if _netns_exists(ns) else None))
    return WorkersInfo(prefix=prefix, broker_url=state.get("broker_url", broker_url()), workers=workers,
                       hosts_lan=state.get("hosts_lan"))


def cut(index: int, prefix: str = PREFIX) -> Worker:
    """The worker's network goes dark: its relay stops moving bytes and accepting (connections hang,
    with no reset), its bridge port goes down. The worker itself runs on."""
    ns, directory = ns_name(index, prefix), worker_dir(index, prefix)
    _must(directory, "cut")
    if _link_exists(ns):
        _run(["ip", "link", "set", ns, "down"])
    return status(prefix).worker(index)


def restore(index: int, prefix: str = PREFIX) -> Worker:
    """Undo ``cut``: held connections move on, new ones are served."""
    ns, directory = ns_name(index, prefix), worker_dir(index, prefix)
    if _link_exists(ns):
        _run(["ip", "link", "set", ns, "up"])
    _must(directory, "restore")
    return status(prefix).worker(index)


def kill(index: int, prefix: str = PREFIX) -> Worker:
    """SIGKILL the worker's process group and every other process in its namespace (the machine dies
    mid-run); returns once none is left. ``start`` or ``up`` restarts it."""
    _must(worker_dir(index, prefix), "kill")
    return status(prefix).worker(index)


def down(prefix: str = PREFIX) -> None:
    """Stop every worker (SIGTERM, then SIGKILL), its agent and namespace (idempotent). Redis stays."""
    if os.geteuid() != 0:
        raise WorkersError("lab workers need root (network namespaces)")
    with _locked(prefix):
        for index in _known_indexes(prefix):
            _remove(index, prefix)
        (home(prefix) / "state.json").unlink(missing_ok=True)


def netns_exec(index: int, prefix: str = PREFIX) -> list[str]:
    """The argv prefix that runs a command in the worker's namespace (as its worker sees the network)."""
    ns = ns_name(index, prefix)
    if not _netns_exists(ns):
        raise WorkersError(f"no worker namespace {ns}: run `python -m lab workers up`")
    return ["ip", "netns", "exec", ns]


def run_in(index: int, argv: Sequence[str], prefix: str = PREFIX, **popen: Any) -> subprocess.Popen[Any]:
    """Start ``argv`` in the worker's namespace (not supervised by its agent): for tests and probes."""
    return subprocess.Popen([*netns_exec(index, prefix), *argv], **popen)


def flush_broker(port: int = REDIS_PORT, db: int = BROKER_DB) -> None:
    """Empty the broker's database (queues, unacknowledged batches, results): for a fresh session."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        data = b""
        while data.count(b"\r\n") < 2:
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
    if data.count(b"+OK") < 2:
        raise WorkersError(f"Redis did not flush db {db}: {data!r}")


# -- CLI -------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab workers", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default=os.environ.get("MSPCTL_LAB_WORKERS_PREFIX", PREFIX),
                        help=f"namespace prefix: workers are <prefix>1..N (default {PREFIX})")
    sub = parser.add_subparsers(dest="op", required=True)
    p_up = sub.add_parser("up", help="start Redis (or reuse it) and N workers, each in its namespace (idempotent)")
    p_up.add_argument("--count", type=int, default=2, help="number of workers (default 2)")
    p_up.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                      help=f"each worker's --concurrency (default {DEFAULT_CONCURRENCY})")
    p_up.add_argument("--cmd", dest="worker_cmd", default=None,
                      help="the worker command, shell-quoted, with {index} {name} {ns} {ready_file} {concurrency} "
                           "{bin} {python} (default: <venv>/bin/mspctl worker --concurrency C --hostname lab-wN "
                           "--ready-file F)")
    p_up.add_argument("--env-file", default=None, help="KEY=VALUE / export lines for the workers' environment "
                                                       "(default: the lab's demo settings, as `python -m lab env`)")
    p_up.add_argument("--cwd", default=None, help="the MSP repository the workers run in (default: the checkout)")
    p_up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness (default 120)")
    p_up.add_argument("--json", action="store_true", help="print the status JSON")
    sub.add_parser("down", help="stop the workers, their relays and namespaces (Redis stays)")
    sub.add_parser("status", help="JSON: broker url, each worker's namespace, pid, alive, cut; exit 1 if one is dead")
    for name, text in (("cut", "pull a worker's network: connections hang without reset"),
                       ("restore", "give a cut worker its network back"),
                       ("kill", "SIGKILL a worker's process group and every process in its namespace"),
                       ("start", "start a killed worker again (the last `up`'s command)")):
        sub.add_parser(name, help=text).add_argument("index", type=int)
    p_exec = sub.add_parser("exec", help="run a command in a worker's namespace: exec 1 -- CMD...")
    p_exec.add_argument("index", type=int)
    p_exec.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("flush", help=f"empty the broker's database (Redis db {BROKER_DB})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.op == "up":
            info = up(args.count, concurrency=args.concurrency, cmd=args.worker_cmd, env_file=args.env_file,
                      cwd=args.cwd, timeout=args.timeout, prefix=args.prefix)
            print(json.dumps(info.to_json(), indent=None if args.json else 2))
            return 0
        if args.op == "down":
            down(args.prefix)
            return 0
        if args.op == "status":
            info = status(args.prefix)
            print(json.dumps(info.to_json(), indent=2))
            return 0 if info.workers and all(w.alive for w in info.workers) else 1
        if args.op in ("cut", "restore", "kill", "start"):
            fn = {"cut": cut, "restore": restore, "kill": kill}.get(args.op)
            w = fn(args.index, args.prefix) if fn else start(args.index, prefix=args.prefix)
            print(json.dumps(w.to_json()))
            return 0
        if args.op == "exec":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            os.execvp("ip", [*netns_exec(args.index, args.prefix), *(command or ["sh"])])
        if args.op == "flush":
            flush_broker()
            return 0
    except WorkersError as err:
        print(f"[lab workers] {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
