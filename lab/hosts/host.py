"""One lab host: its overlay root filesystem, per-host files, network and PID-1 process.

Per host, under the lab's state dir (``<hosts home>/labs/<prefix>/<name>/``)::

    upper/ work/   the overlayfs upper and work dirs: everything the host changed (dpkg state, keys...)
    merged/        the host's root, mounted in the root namespace: lowerdir=<profile layer>:<base>
    lower          the lowerdir it was created with (a different one means: recreate the host)
    init.pid       pid of ``unshare`` running _init.py, the host's PID 1 (its child)
    init.log       the init's and sshd's output
    boot_id        the host's current /proc/sys/kernel/random/boot_id (new at every boot)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from lab.hosts import base, repo
from lab.hosts._util import HostLabError, mounted, pid_alive, run

INIT = Path(__file__).resolve().parent / "_init.py"


@dataclass(frozen=True)
class LabHost:
    """One host as the lab reports it."""

    name: str
    index: int
    address: str
    port: int
    mac: str
    profile: str


@dataclass(frozen=True)
class HostFiles:
    """Lab-wide inputs every host's provisioning needs."""

    authorized_key: str
    keyring: Path
    repo_url: str
    gateway: str


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class HostRuntime:
    """Start, stop and signal one host; paths of its state."""

    def __init__(self, lab_dir: Path, host: LabHost) -> None:
        self.host = host
        self.dir = lab_dir / host.name
        self.upper, self.work, self.merged = self.dir / "upper", self.dir / "work", self.dir / "merged"
        self.pidfile, self.logfile = self.dir / "init.pid", self.dir / "init.log"

    @property
    def _needle(self) -> str:
        return f"{INIT} {self.merged} "

    def init_pid(self) -> int | None:
        """The pid of the host's ``unshare`` (whose only child is the host's PID 1), when running."""
        return pid_alive(self.pidfile, self._needle)

    def pid1(self) -> int | None:
        """The root-namespace pid of the host's PID 1."""
        pid = self.init_pid()
        if pid is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            return int(children[0]) if children else None
        return None

    def running(self) -> bool:
        return self.init_pid() is not None and mounted(self.merged)

    def boot_id(self) -> str:
        try:
            return (self.dir / "boot_id").read_text().strip()
        except OSError:
            return ""

    def host_key(self) -> str:
        return (self.merged / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2][1]

    def mount(self, lowers: list[Path]) -> None:
        """Mount the overlay; a host created over other layers is wiped first (fresh seeded state)."""
        lower = ":".join(str(p) for p in lowers)
        lower_file = self.dir / "lower"
        if self.dir.exists() and (not lower_file.is_file() or lower_file.read_text().strip() != lower):
            self.destroy()
        for d in (self.upper, self.work, self.merged):
            d.mkdir(parents=True, exist_ok=True)
        if not lower_file.is_file():
            lower_file.write_text(lower + "\n")
        if not mounted(self.merged):
            run(["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={lower},upperdir={self.upper},workdir={self.work}", self.merged])

    def provision(self, files: HostFiles) -> None:
        """Write the host's own files into its root (once per host): identity, keys, apt sources."""
        marker = self.dir / "provisioned"
        if marker.is_file():
            return
        m, h = self.merged, self.host
        (m / "etc/hostname").write_text(f"{h.name}\n")
        (m / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n{h.address}\t{h.name}\n{files.gateway}\tmspctl-repo\n")
        # Stable per host name, like a VM's: a reset (a snapshot rollback) keeps the machine's identity.
        (m / "etc/machine-id").write_text(f"{uuid.uuid5(uuid.NAMESPACE_URL, f'mspctl-lab:{h.name}').hex}\n")
        # The SSH host key too: made once per host name and kept outside the host's state, so a
        # reset keeps it (mspctl pins host keys at first contact and refuses a changed one).
        kept = self.dir.parent / "host-keys" / h.name / "ssh_host_ed25519_key"
        if not kept.is_file():
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.with_suffix(".pub").unlink(missing_ok=True)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{h.name}", "-f", kept])
        key = m / "etc/ssh/ssh_host_ed25519_key"
        for src, dest in ((kept, key), (kept.with_suffix(".pub"), key.with_suffix(".pub"))):
            dest.unlink(missing_ok=True)
            shutil.copyfile(src, dest)
        os.chmod(key, 0o600)
        (m / "etc/ssh/sshd_config.d/10-listen.conf").write_text(f"ListenAddress {h.address}:{h.port}\n")
        ssh_dir = m / "home" / base.USER / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        auth = ssh_dir / "authorized_keys"
        auth.write_text(files.authorized_key.strip() + "\n")
        auth.chmod(0o600)
        for path in (ssh_dir, auth):
            os.chown(path, base.USER_UID, base.USER_UID)
        (m / "etc/apt/sources.list.d/mspctl-lab.sources").write_text(repo.sources(files.repo_url))
        shutil.copyfile(files.keyring, m / "etc/apt/keyrings" / repo.KEYRING_NAME)
        (m / "etc/apt/keyrings" / repo.KEYRING_NAME).chmod(0o644)
        marker.write_text(f"{h.name}\n")

    def start(self) -> None:
        """Start the host's PID 1 (which mounts /proc, /dev, /run... and runs sshd), unless running."""
        if self.init_pid() is not None:
            return
        with self.logfile.open("ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.host.name,
                 "unshare", "--pid", "--fork", "--kill-child", "--mount", "--uts", "--propagation", "private",
                 sys.executable, "-I", "-S", str(INIT), str(self.merged), self.host.name, str(self.dir)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, cwd="/")
        self.pidfile.write_text(f"{proc.pid}\n")

    def stop(self) -> None:
        """Kill the host: its PID 1 and so every process in its PID namespace. Idempotent."""
        # unshare ignores SIGTERM while it waits; SIGKILL makes --kill-child take PID 1 (and all) down.
        pid, pid1 = self.init_pid(), self.pid1()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            # Zombies count as gone: the machine's init may reap orphans late. Once PID 1 of the host
            # is a zombie, the kernel has killed and reaped every other process of its namespace.
            deadline = time.monotonic() + 10
            while not (_gone(pid) and (pid1 is None or _gone(pid1))) and time.monotonic() < deadline:
                time.sleep(0.02)
        self.pidfile.unlink(missing_ok=True)

    def reboot(self) -> None:
        """Ask the host's PID 1 to reboot (as ``shutdown -r`` inside does)."""
        pid = self.pid1()
        if pid is None:
            raise HostLabError(f"{self.host.name} is not running; `up` starts it")
        os.kill(pid, signal.SIGHUP)

    def unmount(self) -> None:
        if mounted(self.merged):
            proc = run(["umount", self.merged], check=False)
            if proc.returncode != 0:
                run(["umount", "-l", self.merged], check=False)

    def destroy(self) -> None:
        """Stop, unmount and delete the host's state (its upper layer: all changes since seeding)."""
        self.stop()
        self.unmount()
        if self.dir.exists():
            shutil.rmtree(self.dir)
