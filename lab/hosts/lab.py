"""A running set of lab hosts (one per name prefix): ``up``, ``down``, ``status``, ``cut``/``restore``...

State under ``<hosts home>/`` (``${MSPCTL_LAB_HOME:-~/.cache/mspctl-lab}/hosts/``)::

    lock                       one up/down/reset at a time per lab home
    id_ed25519[.pub]           the lab's SSH key pair (user mspops on every host), generated once
    base-<key>/                the Debian 12 base rootfs (base.py)
    repo-key/, repo-<key>/     the repository signing key and the signed apt repository (repo.py)
    layer-<key>/               one package layer per seeding profile (seed.py)
    labs/<prefix>/             one set of hosts:
        state.json             what ``up`` built (subnet, keys, hosts)
        ssh_config, known_hosts, inventory.json
        repo-http.pid, repo-http.log   the repository's HTTP server
        <prefix>N/             per host (host.py)
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lab.hosts import base, network, repo, seed
from lab.hosts._util import (
    HostLabError,
    hosts_home,
    locked,
    log,
    require_root,
    run,
    ssh_banner,
    write_json,
)
from lab.hosts.host import HostFiles, HostRuntime, LabHost

DEFAULT_PREFIX = "mspctl-h"
DEFAULT_SUBNET = "10.250.0.0/24"
DEFAULT_COUNT = 5
SSH_PORT = 22
WORKERS = 8


class HostLab:
    """The hosts of one prefix in one lab home."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, lab_home: str | Path | None = None) -> None:
        network.check_prefix(prefix)
        self.prefix = prefix
        self.home = hosts_home(lab_home)
        self.dir = self.home / "labs" / prefix
        self.state_file = self.dir / "state.json"
        self.key = self.home / "id_ed25519"

    # -- state -----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return data

    def hosts(self) -> list[LabHost]:
        state = self.state()
        return [LabHost(**h) for h in state["hosts"]] if state else []

    def host(self, ref: str) -> LabHost:
        """A host by name (``mspctl-h3``), short name (``h3``) or number (``3``)."""
        hosts = self.hosts()
        for h in hosts:
            if ref in (h.name, str(h.index), f"h{h.index}"):
                return h
        names = ", ".join(h.name for h in hosts) or "none: run `python -m lab.hosts up`"
        raise HostLabError(f"no host {ref!r} in lab {self.prefix!r} (hosts: {names})")

    def runtime(self, host: LabHost) -> HostRuntime:
        return HostRuntime(self.dir, host)

    # -- up --------------------------------------------------------------------------------------

    def up(self, count: int = DEFAULT_COUNT, subnet: str = DEFAULT_SUBNET, fresh: bool = False,
           timeout: float = 120.0) -> dict[str, Any]:
        """Start ``count`` hosts (reusing running ones; ``fresh``: recreate all from their seed).

        Builds the base, repository and package layers when missing. Returns the lab's info (see
        ``info``). Raises HostLabError when a step fails or a host's sshd does not answer in time.
        """
        require_root()
        net = ipaddress.IPv4Network(subnet)
        if count < 1 or count > network.max_hosts(net):
            raise HostLabError(f"--count must be 1..{network.max_hosts(net)} for subnet {net}")
        with locked(self.home / "lock"):
            base_dir = base.ensure_base(self.home)
            repo_dir = repo.ensure_repo(self.home)
            layers = {p: seed.ensure_layer(self.home, base_dir, repo_dir, p)
                      for p in sorted({seed.profile_for(i) for i in range(1, count + 1)})}
            self._ensure_key()
            state = self.state()
            if state and (fresh or state["subnet"] != str(net) or state["base"] != base_dir.name
                          or state["repo"] != repo_dir.name):
                log(f"recreating lab {self.prefix!r} ({'--fresh' if fresh else 'its recipe or subnet changed'})")
                self._down()
            self.dir.mkdir(parents=True, exist_ok=True)
            hosts = [LabHost(name=network.netns(self.prefix, i), index=i, address=str(network.address(net, i)),
                             port=SSH_PORT, mac=network.host_mac(self.prefix, i), profile=seed.profile_for(i))
                     for i in range(1, count + 1)]
            gw = str(network.gateway(net))
            url = f"http://{gw}:{repo.REPO_PORT}/"
            network.ensure_bridge(self.prefix, net)
            repo.serve(repo_dir, gw, self.dir / "repo-http.pid", self.dir / "repo-http.log")
            files = HostFiles(self.key.with_suffix(".pub").read_text(), repo_dir / repo.KEYRING_NAME, url, gw)
            for extra in (h for h in self._known_indexes() if h > count):
                self._remove_host(extra)
            write_json(self.state_file, {"prefix": self.prefix, "subnet": str(net), "base": base_dir.name,
                                         "repo": repo_dir.name, "repo_url": url,
                                         "hosts": [asdict(h) for h in hosts]})

            def start(h: LabHost) -> None:
                rt = self.runtime(h)
                rt.mount([layers[h.profile], base_dir])
                rt.provision(files)
                network.ensure_host_link(self.prefix, h.index, net)
                rt.start()

            with ThreadPoolExecutor(WORKERS) as pool:
                list(pool.map(start, hosts))
            self._write_client_files(hosts)
            self._wait_ssh(hosts, timeout)
            self._prune()
        return self.info()

    def _ensure_key(self) -> None:
        if not self.key.is_file():
            self.key.with_suffix(".pub").unlink(missing_ok=True)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mspctl-lab", "-f", self.key])

    def _known_indexes(self) -> list[int]:
        pattern = re.compile(rf"^{re.escape(self.prefix)}(\d+)$")
        found = {int(m.group(1)) for p in (self.dir.iterdir() if self.dir.is_dir() else [])
                 if (m := pattern.match(p.name))}
        found |= {int(m.group(1)) for ns in self._netns_list() if (m := pattern.match(ns))}
        return sorted(found)

    @staticmethod
    def _netns_list() -> list[str]:
        netns_dir = Path("/run/netns")
        return [p.name for p in netns_dir.iterdir()] if netns_dir.is_dir() else []

    def _remove_host(self, index: int) -> None:
        name = network.netns(self.prefix, index)
        rt = HostRuntime(self.dir, LabHost(name, index, "", SSH_PORT, "", ""))
        rt.destroy()
        network.remove_host_link(self.prefix, index)

    def _write_client_files(self, hosts: list[LabHost]) -> None:
        known = [f"{h.name},{h.address} ssh-ed25519 {self.runtime(h).host_key()}" for h in hosts]
        (self.dir / "known_hosts").write_text("\n".join(known) + "\n")
        lines = [f"# Generated by `python -m lab.hosts up` (lab {self.prefix!r}); use: ssh -F {self.ssh_config} <host>",
                 ""]
        for h in hosts:
            lines += [f"Host {h.name}", f"    HostName {h.address}", ""]
        lines += ["Host *", f"    User {base.USER}", f"    Port {SSH_PORT}", f"    IdentityFile {self.key}",
                  "    IdentitiesOnly yes", f"    UserKnownHostsFile {self.dir / 'known_hosts'}",
                  "    GlobalKnownHostsFile /dev/null", "    StrictHostKeyChecking yes", "    CheckHostIP no",
                  "    BatchMode yes", "    ConnectTimeout 5",
                  "    # a host that goes dark must fail fast, also under Ansible's ControlPersist",
                  "    ServerAliveInterval 2", "    ServerAliveCountMax 3", "    LogLevel ERROR", ""]
        self.ssh_config.write_text("\n".join(lines))
        inventory = {"all": {
            "vars": {"ansible_user": base.USER, "ansible_ssh_private_key_file": str(self.key),
                     "ansible_ssh_common_args": f"-F {self.ssh_config}",
                     "ansible_python_interpreter": "/usr/bin/python3"},
            "hosts": {h.name: {"ansible_host": h.address, "ansible_port": h.port, "lab_profile": h.profile}
                      for h in hosts}}}
        write_json(self.dir / "inventory.json", inventory)

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    def _wait_ssh(self, hosts: list[LabHost], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(hosts)
        while pending:
            with ThreadPoolExecutor(WORKERS) as pool:
                answers = list(pool.map(lambda h: ssh_banner(h.address, h.port, timeout=1.0), pending))
            pending = [h for h, ok in zip(pending, answers, strict=True) if not ok]
            if pending and time.monotonic() > deadline:
                names = ", ".join(h.name for h in pending)
                raise HostLabError(f"sshd did not answer on {names} within {timeout:.0f}s; "
                                   f"see {self.dir}/<host>/init.log")
            if pending:
                time.sleep(0.1)

    def _prune(self) -> None:
        """Delete cached bases, repositories and layers that neither the recipes nor any lab use."""
        current_repo = repo.current_dir(self.home)
        pairs = {(base.base_dir(self.home).name, current_repo.name if current_repo else "")}
        for state_file in (self.home / "labs").glob("*/state.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                other = json.loads(state_file.read_text())
                pairs.add((other["base"], other["repo"]))
        keep = {"repo-key"} | {name for pair in pairs for name in pair}
        keep |= {f"layer-{seed.layer_key(b, r, p)}" for b, r in pairs for p in seed.PROFILES}
        base.prune(self.home, keep)
        for path in self.home.glob("repo-*"):
            if path.name not in keep and not path.name.endswith(".tmp"):
                log(f"pruning stale {path.name}")
                shutil.rmtree(path, ignore_errors=True)

    # -- info and status -------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """What clients need: hosts, SSH key/user/config, inventory and repository URL."""
        state = self.state()
        if state is None:
            raise HostLabError(f"lab {self.prefix!r} is not up; run `python -m lab.hosts up`")
        return {
            "prefix": self.prefix,
            "subnet": state["subnet"],
            "hosts": [{"name": h.name, "address": h.address, "port": h.port, "profile": h.profile,
                       "mac": h.mac, "installed": seed.installed_versions(h.profile),
                       "updates": seed.expected_updates(h.profile)} for h in self.hosts()],
            "user": base.USER,
            "ssh_private_key": str(self.key),
            "ssh_config": str(self.ssh_config),
            "known_hosts": str(self.dir / "known_hosts"),
            "inventory": str(self.dir / "inventory.json"),
            "repo_url": state["repo_url"],
            "packages": repo.catalog(),
            "state_dir": str(self.dir),
        }

    def status(self) -> list[dict[str, Any]]:
        """Per host: running (PID 1 alive, root mounted), link (``up``/``cut``), ssh (sshd answers)."""
        hosts = self.hosts()

        def one(h: LabHost) -> dict[str, Any]:
            rt = self.runtime(h)
            link = network.port_up(self.prefix, h.index)
            return {"name": h.name, "address": h.address, "port": h.port, "profile": h.profile,
                    "running": rt.running(), "link": "up" if link else "cut",
                    "ssh": link and ssh_banner(h.address, h.port, timeout=1.0)}

        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(one, hosts))

    # -- knobs -----------------------------------------------------------------------------------

    def cut(self, ref: str) -> LabHost:
        """Make a host unreachable (its bridge port down): connections hang, new ones time out."""
        h = self.host(ref)
        network.set_port(self.prefix, h.index, up=False)
        return h

    def restore(self, ref: str) -> LabHost:
        h = self.host(ref)
        network.set_port(self.prefix, h.index, up=True)
        return h

    def reboot(self, ref: str, wait: bool = True, timeout: float = 60.0) -> LabHost:
        """Reboot a host as ``shutdown -r`` inside it would; ``wait``: until sshd answers after the boot."""
        h = self.host(ref)
        rt = self.runtime(h)
        before = rt.boot_id()
        rt.reboot()
        if wait:
            deadline = time.monotonic() + timeout
            while rt.boot_id() == before or not ssh_banner(h.address, h.port, timeout=1.0):
                if time.monotonic() > deadline:
                    raise HostLabError(f"{h.name} did not come back within {timeout:.0f}s; see {rt.logfile}")
                time.sleep(0.1)
        return h

    def reset(self, refs: list[str], timeout: float = 60.0) -> list[LabHost]:
        """Recreate hosts from their seeded state (a new upper layer; the machine id and host key are
        kept, as a VM snapshot rollback keeps them)."""
        require_root()
        with locked(self.home / "lock"):
            state = self.state()
            if state is None:
                raise HostLabError(f"lab {self.prefix!r} is not up; run `python -m lab.hosts up`")
            chosen = [self.host(r) for r in refs] if refs else self.hosts()
            for h in chosen:
                self.runtime(h).destroy()
        count = len(self.hosts())
        self.up(count=count, subnet=state["subnet"], timeout=timeout)
        return chosen

    # -- down ------------------------------------------------------------------------------------

    def down(self) -> None:
        """Stop every host and the repository server; remove namespaces, links, mounts and host state."""
        require_root()
        with locked(self.home / "lock"):
            self._down()
            self._prune()

    def _down(self) -> None:
        indexes = self._known_indexes()
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(self._remove_host, indexes))
        repo.stop(self.dir / "repo-http.pid")
        network.remove_bridge(self.prefix)
        if self.dir.is_dir():
            inside = f"{self.dir}/"
            for line in Path("/proc/self/mountinfo").read_text().splitlines():
                if (mount_point := line.split()[4]).startswith(inside):  # leftovers of a crashed run
                    run(["umount", "-l", mount_point], check=False)
            shutil.rmtree(self.dir)
