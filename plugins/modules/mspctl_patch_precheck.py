"""Ansible module: may this host be patched now? Free disk space and package-manager locks, read-only."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mspctl_patch_precheck
short_description: Fail unless a host has free space and no package manager holds its lock
description:
  - Checks the free space (for unprivileged users as C(df) shows it) on each of I(paths) that exists;
    a path on the same filesystem as an earlier one is checked once.
  - Checks that no process holds a lock in I(locks). dpkg and apt take C(fcntl) (POSIX record) locks,
    which C(flock(1)) cannot see, so the module asks the kernel with C(F_GETLK); it never takes a lock,
    so it cannot race with a package manager that is starting.
  - Fails with one message naming every problem; changes nothing (check mode is the same run).
options:
  min_free_mb:
    description: Minimum free MiB on every path.
    type: int
    default: 100
  paths:
    description: Filesystems to check; missing paths are skipped.
    type: list
    elements: path
    default: [/, /var]
  locks:
    description: Lock files that must not be held by any process; missing files are skipped.
    type: list
    elements: path
    default: [/var/lib/dpkg/lock-frontend, /var/lib/dpkg/lock, /var/lib/apt/lists/lock, /var/cache/apt/archives/lock]
attributes:
  check_mode:
    support: full
"""

RETURN = r"""
free_mb: {description: path -> free MiB, type: dict, returned: always}
locks_held: {description: "held locks: [{path, pid, command}]", type: list, returned: always}
"""

import fcntl
import os
import struct

from ansible.module_utils.basic import AnsibleModule

# struct flock on 64-bit Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (+ padding)
_FLOCK = "hhqqi4x"


def _lock_holder(path):
    """The pid holding a POSIX write-conflicting lock on ``path``, 0 when free, None when unknown."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        l_type, _whence, _start, _len, pid = struct.unpack(_FLOCK, answer)
        return 0 if l_type == fcntl.F_UNLCK else pid
    finally:
        os.close(fd)


def _command(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:120]
    except OSError:
        return ""


def main():
    module = AnsibleModule(
        argument_spec={
            "min_free_mb": {"type": "int", "default": 100},
            "paths": {"type": "list", "elements": "path", "default": ["/", "/var"]},
            "locks": {"type": "list", "elements": "path",
                      "default": ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock",
                                  "/var/cache/apt/archives/lock"]},
        },
        supports_check_mode=True,
    )
    problems = []
    free_mb, seen_devices = {}, set()
    for path in module.params["paths"]:
        if not os.path.exists(path):
            continue
        if os.stat(path).st_dev in seen_devices:
            continue  # /var on the root filesystem: already checked
        seen_devices.add(os.stat(path).st_dev)
        st = os.statvfs(path)
        free_mb[path] = st.f_bavail * st.f_frsize // (1024 * 1024)
        if free_mb[path] < module.params["min_free_mb"]:
            problems.append(f"only {free_mb[path]} MiB free on {path} (need {module.params['min_free_mb']} MiB)")
    held = []
    for path in module.params["locks"]:
        if not os.path.exists(path):
            continue
        if not os.access(path, os.R_OK):
            module.fail_json(msg=f"cannot read lock file {path}: run with become", free_mb=free_mb, locks_held=[])
        pid = _lock_holder(path)
        if pid:
            held.append({"path": path, "pid": pid, "command": _command(pid)})
            problems.append(f"{path} is locked by pid {pid} ({_command(pid) or 'unknown command'}): "
                            "another package manager run is in progress")
    if problems:
        module.fail_json(msg="; ".join(problems), free_mb=free_mb, locks_held=held)
    module.exit_json(changed=False, free_mb=free_mb, locks_held=held)


if __name__ == "__main__":
    main()
