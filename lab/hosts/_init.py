"""PID 1 of one lab host (stdlib only; run with ``python -I -S`` outside the host's root).

Started by ``host.start`` as ``ip netns exec <ns> unshare --pid --fork --kill-child --mount --uts
--propagation private python _init.py ROOT NAME STATE_DIR``: a network, PID, mount and UTS namespace
of its own. It mounts the host's /proc, /sys, /dev, /run (tmpfs) and a fresh boot_id over
/proc/sys/kernel/random/boot_id, runs ``sshd -D`` chrooted into ROOT, restarts sshd if it dies, and:

- SIGHUP  (``shutdown -r``/``reboot`` inside the host): reboot: after a second, kill every process of
  the host, drop /run (so /var/run/reboot-required goes), remount, new boot_id, sshd again;
- SIGTERM (``poweroff`` inside, or ``down``): kill every process of the host and exit.

Because it is PID 1 of the host's PID namespace, its exit kills whatever the host still runs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MNT_DETACH = 2
SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: Path, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    rc = _libc.mount(source.encode(), str(target).encode(), fstype.encode() if fstype else None,
                     ctypes.c_ulong(flags), data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _umount(target: Path) -> None:
    _libc.umount2(str(target).encode(), MNT_DETACH)


def _log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} init: {msg}", flush=True)


class Host:
    def __init__(self, root: Path, name: str, state: Path) -> None:
        self.root, self.name, self.state = root, name, state
        self.mounts: list[Path] = []
        self.sshd: subprocess.Popen[bytes] | None = None

    def boot(self) -> None:
        r = self.root
        self._mount("proc", r / "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        boot_id = self.state / "boot_id"
        boot_id.write_text(f"{uuid.uuid4()}\n")
        self._mount(str(boot_id), r / "proc/sys/kernel/random/boot_id", None, MS_BIND)
        _mount("none", r / "proc/sys/kernel/random/boot_id", None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        self._mount("sysfs", r / "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        self._mount("tmpfs", r / "dev", "tmpfs", MS_NOSUID, "mode=755,size=4m")
        for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                                   ("urandom", 1, 9), ("tty", 5, 0)):
            os.mknod(r / "dev" / name, 0o20666, os.makedev(major, minor))
            os.chmod(r / "dev" / name, 0o666)
        for link, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                           ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")):
            os.symlink(dest, r / "dev" / link)
        (r / "dev/pts").mkdir()
        (r / "dev/shm").mkdir(mode=0o1777)
        os.chmod(r / "dev/shm", 0o1777)
        self._mount("devpts", r / "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                    "newinstance,ptmxmode=0666,mode=620,gid=5")
        self._mount("shm", r / "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m")
        self._mount("tmpfs", r / "run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16m")
        (r / "run/sshd").mkdir(mode=0o755)
        (r / "run/lock").mkdir()
        os.chmod(r / "run/lock", 0o1777)
        _log(f"booted {self.name} (boot_id {boot_id.read_text().strip()})")
        self.start_sshd()

    def _mount(self, source: str, target: Path, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
        _mount(source, target, fstype, flags, data)
        self.mounts.append(target)

    def start_sshd(self) -> None:
        def enter() -> None:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            os.chroot(self.root)
            os.chdir("/")

        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        # preexec_fn is safe here: this process has one thread. It must unblock the signals PID 1 waits for.
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e"], preexec_fn=enter,  # noqa: PLW1509
                                     env=env, stdin=subprocess.DEVNULL)
        _log(f"sshd started (pid {self.sshd.pid})")

    def kill_all(self) -> None:
        """Every other process of this PID namespace: SIGTERM, then SIGKILL after 3 s."""
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            try:
                os.kill(-1, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self.reap()
                if not self.others():
                    return
                time.sleep(0.05)

    def others(self) -> bool:
        return any(p.isdigit() and p != "1" for p in os.listdir(self.root / "proc"))

    def reap(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def shutdown(self) -> None:
        self.kill_all()
        self.sshd = None
        for target in reversed(self.mounts):
            _umount(target)
        self.mounts.clear()


def main(argv: list[str]) -> int:
    root, name, state = Path(argv[0]), argv[1], Path(argv[2])
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    socket.sethostname(name)
    for key in ("all", "default", "lo", "eth0"):
        path = Path(f"/proc/sys/net/ipv6/conf/{key}/disable_ipv6")
        if path.exists():
            path.write_text("1\n")
    host = Host(root, name, state)
    host.boot()
    while True:
        info = signal.sigtimedwait(SIGNALS, 5.0)
        if host.sshd is not None and host.sshd.poll() is not None:
            _log(f"sshd exited ({host.sshd.returncode}); restarting it")
            time.sleep(0.5)
            host.start_sshd()
        host.reap()
        if info is None or info.si_signo == signal.SIGCHLD:
            continue
        if info.si_signo == signal.SIGHUP:
            _log("reboot requested")
            time.sleep(1.0)  # let `shutdown -r` return to its caller first, as a real reboot does
            host.shutdown()
            host.boot()
        else:
            _log("stopping")
            host.shutdown()
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
