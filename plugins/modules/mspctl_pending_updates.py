"""Ansible module: the updates a host's package manager offers, with origin, release date and reboot flag.

Read-only: it never installs, removes or holds a package. The only write is the optional refresh of
the package lists (``apt-get update`` / ``dnf makecache``), which is skipped in check mode.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: mspctl_pending_updates
short_description: Pending package updates with classification, origin, release date and reboot state
description:
  - Lists the installed packages for which the package manager offers a newer version.
  - "apt (python3-apt): installed and candidate version, the candidate's archive (suite/codename), origin
    (C(Label:Version/Suite), as C(apt-get -s upgrade) prints it), classification C(security) when the
    archive ends with C(-security) or the label contains C(Security) (the same rule classifies the
    mspctl lab and real Debian), and the release date: the C(Date:) of the Release/InRelease file of
    the index that offers the candidate."
  - "dnf: best effort and not exercised by mspctl's lab (which has only Debian hosts):
    C(dnf check-update) for the candidates, C(dnf updateinfo list --security) for the classification,
    C(needs-restarting -r) for the reboot flag. No release dates."
  - Also reports the host's reboot flag (C(/var/run/reboot-required), C(/var/run/reboot-required.pkgs))
    and C(/proc/sys/kernel/random/boot_id), so a caller can tell that a reboot happened.
  - Never changes packages; reports C(changed=false) even after refreshing the package lists.
options:
  update_cache:
    description: Refresh the package lists first (skipped in check mode). Needs root.
    type: bool
    default: true
  package_manager:
    description: C(auto) picks apt when python3-apt or apt-get is present, else dnf.
    type: str
    choices: [auto, apt, dnf]
    default: auto
attributes:
  check_mode:
    support: full
"""

RETURN = r"""
package_manager: {description: apt or dnf, type: str, returned: always}
cache_updated: {description: the package lists were refreshed, type: bool, returned: always}
updates:
  description: One entry per upgradable package, sorted by name.
  type: list
  elements: dict
  returned: always
  sample:
    - {name: mspdemo-web, installed: 2.4.57-1, candidate: 2.4.57-1+deb12u1, classification: security,
       archive: bookworm-security, origin: "mspctl-lab-Security:12/stable-security", released: "2026-11-26"}
reboot_required: {description: the host asks for a reboot, type: bool, returned: always}
reboot_packages: {description: packages that asked for the reboot (apt only), type: list, returned: always}
boot_id: {description: the kernel's boot id (changes with every boot), type: str, returned: always}
machine_id: {description: the host's /etc/machine-id (empty when it has none), type: str, returned: always}
"""

import contextlib
import glob
import os
import re
import shutil
from email.utils import parsedate_to_datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.respawn import has_respawned, probe_interpreters_for_module, respawn_module

try:
    import apt_pkg

    HAS_APT_PKG = True
except ImportError:
    HAS_APT_PKG = False

REBOOT_FLAG = "/var/run/reboot-required"
REBOOT_PKGS = "/var/run/reboot-required.pkgs"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
MACHINE_ID = "/etc/machine-id"  # systemd's per-installation id: which machine this is, whatever its address
APT_LISTS = "/var/lib/apt/lists"


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _is_security(archive, codename, label):
    return any(a.endswith("-security") for a in (archive, codename) if a) or "Security" in (label or "")


def _release_files():
    """Release/InRelease files in apt's lists directory, longest prefix first (see `_release_date`)."""
    found = []
    for path in glob.glob(os.path.join(APT_LISTS, "*_InRelease")) + glob.glob(os.path.join(APT_LISTS, "*_Release")):
        prefix = path[: -len("InRelease")] if path.endswith("_InRelease") else path[: -len("Release")]
        found.append((prefix, path))
    # InRelease before Release for the same prefix (apt prefers it too), longer prefixes first
    found.sort(key=lambda pp: (-len(pp[0]), not pp[1].endswith("InRelease")))
    return found


def _release_date(index_file, releases, cache):
    """The ``Date:`` of the Release file that lists ``index_file``, as an ISO date; None when unknown.

    apt names list files after their URI (``<host>_<path>_dists_<suite>_<component>_binary-<arch>_Packages``
    next to ``<host>_<path>_dists_<suite>_InRelease``), so the Release file of an index is the one whose
    name, minus ``InRelease``/``Release``, is the longest prefix of the index's name. python3-apt does not
    expose the Release file of a package file, hence the file names.
    """
    for prefix, path in releases:
        if not index_file.startswith(prefix):
            continue
        if path not in cache:
            cache[path] = None
            for line in (_read(path) or "").splitlines():
                if line.startswith("Date:"):
                    with contextlib.suppress(TypeError, ValueError):
                        cache[path] = parsedate_to_datetime(line[5:].strip()).date().isoformat()
                    break
        return cache[path]
    return None


def _apt_updates(module):
    apt_pkg.init()
    cache = apt_pkg.Cache(None)  # None: no progress output on stdout (it would corrupt the module's JSON)
    depcache = apt_pkg.DepCache(cache)
    releases = _release_files()
    dates = {}
    updates = {}
    for pkg in cache.packages:
        current = pkg.current_ver
        if not current or pkg.name in updates:
            continue
        candidate = depcache.get_candidate_ver(pkg)
        if not candidate or apt_pkg.version_compare(candidate.ver_str, current.ver_str) <= 0:
            continue
        chosen = None
        for pkg_file, _index in candidate.file_list:
            if pkg_file.archive == "now" or pkg_file.index_type == "Debian dpkg status file":
                continue  # /var/lib/dpkg/status: not a repository
            security = _is_security(pkg_file.archive, pkg_file.codename, pkg_file.label)
            # offered by a security and a normal suite: a security update (as unattended-upgrades sees it)
            if chosen is None or (security and not chosen[1]):
                chosen = (pkg_file, security)
        archive = origin = ""
        released = None
        security = False
        if chosen is not None:
            pkg_file, security = chosen
            archive = pkg_file.codename or pkg_file.archive or ""
            suite = pkg_file.archive or pkg_file.codename or ""
            origin = (f"{pkg_file.label}:" if pkg_file.label else "") + (
                f"{pkg_file.version}/{suite}" if pkg_file.version else suite)
            released = _release_date(pkg_file.filename or "", releases, dates)
        updates[pkg.name] = {
            "name": pkg.name,
            "installed": current.ver_str,
            "candidate": candidate.ver_str,
            "classification": "security" if security else "other",
            "archive": archive,
            "origin": origin,
            "released": released,
        }
    reboot_pkgs = sorted({line.strip() for line in (_read(REBOOT_PKGS) or "").splitlines() if line.strip()})
    return [updates[n] for n in sorted(updates)], os.path.exists(REBOOT_FLAG), reboot_pkgs


def _apt_refresh(module):
    rc, out, err = module.run_command(["apt-get", "-q", "update"], environ_update={"LANG": "C", "LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"apt-get update failed (rc {rc}): {(err or out).strip()[-800:]}", rc=rc)


_DNF_LINE = re.compile(r"^(?P<name>\S+)\.(?P<arch>[^.\s]+)\s+(?P<evr>\S+)\s+(?P<repo>\S+)\s*$")


def _dnf_updates(module):
    """Best effort, untested in mspctl's lab: parse ``dnf check-update`` and ``dnf updateinfo``."""
    dnf = module.get_bin_path("dnf", required=True)
    env = {"LANG": "C", "LC_ALL": "C"}
    rc, out, err = module.run_command([dnf, "-q", "-C", "check-update"], environ_update=env)
    if rc not in (0, 100):  # 100: updates available
        module.fail_json(msg=f"dnf check-update failed (rc {rc}): {(err or out).strip()[-800:]}", rc=rc)
    # long names wrap onto the next line: join the pieces before matching
    joined, pending = [], ""
    for line in out.splitlines():
        if not line.strip() or line.startswith(("Obsoleting", "Security:", "Last metadata")):
            continue
        pending = f"{pending} {line.strip()}".strip()
        if len(pending.split()) >= 3:
            joined.append(pending)
            pending = ""
    candidates = {}
    for line in joined:
        m = _DNF_LINE.match(line)
        if m:
            candidates.setdefault(m["name"], (m["evr"], m["repo"]))
    security = set()  # (name, version-release) of packages named by a security advisory
    rc, out, _err = module.run_command([dnf, "-q", "-C", "updateinfo", "list", "--security", "--updates"],
                                       environ_update=env)
    if rc == 0:
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[-1].count("-") >= 2:
                # name-[epoch:]version-release.arch
                name, version, release = parts[-1].rsplit(".", 1)[0].rsplit("-", 2)
                security.add((name, f"{version.split(':')[-1]}-{release}"))
    installed = {}
    if candidates:
        rpm = module.get_bin_path("rpm", required=True)
        rc, out, _err = module.run_command(
            [rpm, "-q", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n", *sorted(candidates)], environ_update=env)
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                installed.setdefault(parts[0], parts[1][2:] if parts[1].startswith("0:") else parts[1])
    updates = []
    for name in sorted(candidates):
        evr, repo = candidates[name]
        classification = "security" if (name, evr.split(":")[-1]) in security else "other"
        updates.append({"name": name, "installed": installed.get(name, ""), "candidate": evr,
                        "classification": classification, "archive": repo, "origin": repo, "released": None})
    reboot = False
    for cmd in (["needs-restarting", "-r"], [dnf, "needs-restarting", "-r"]):
        path = shutil.which(cmd[0]) if cmd[0] == "needs-restarting" else cmd[0]
        if not path:
            continue
        rc, _out, _err = module.run_command([path, *cmd[1:]], environ_update=env)
        if rc in (0, 1):  # 1: a reboot is needed
            reboot = rc == 1
            break
    return updates, reboot, []


def main():
    module = AnsibleModule(
        argument_spec={"update_cache": {"type": "bool", "default": True},
                       "package_manager": {"type": "str", "default": "auto", "choices": ["auto", "apt", "dnf"]}},
        supports_check_mode=True,
    )
    manager = module.params["package_manager"]
    if manager == "auto":
        manager = "apt" if (HAS_APT_PKG or module.get_bin_path("apt-get")) else "dnf"
    if manager == "apt" and not HAS_APT_PKG:
        # like Ansible's apt module: the system python may see python3-apt when the configured one does not
        interpreter = None if has_respawned() else probe_interpreters_for_module(["/usr/bin/python3"], "apt_pkg")
        if interpreter:
            respawn_module(interpreter)
        module.fail_json(msg="python3-apt is required on the host for apt (apt-get install python3-apt)")
    refresh = module.params["update_cache"] and not module.check_mode
    if refresh:
        (_apt_refresh if manager == "apt" else _dnf_refresh)(module)
    updates, reboot_required, reboot_pkgs = (_apt_updates if manager == "apt" else _dnf_updates)(module)
    module.exit_json(changed=False, package_manager=manager, cache_updated=refresh, updates=updates,
                     reboot_required=reboot_required, reboot_packages=reboot_pkgs,
                     boot_id=(_read(BOOT_ID) or "").strip(), machine_id=(_read(MACHINE_ID) or "").strip())


def _dnf_refresh(module):
    rc, out, err = module.run_command(["dnf", "-q", "makecache"], environ_update={"LANG": "C", "LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"dnf makecache failed (rc {rc}): {(err or out).strip()[-800:]}", rc=rc)


if __name__ == "__main__":
    main()
