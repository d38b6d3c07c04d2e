"""Seeded package states: which demo package versions each host starts with.

Hosts rotate through PROFILES (h1 ``outdated``, h2 ``security-pending``, ... h6 ``outdated`` again).
Each profile is one cached overlayfs layer (``<hosts home>/layer-<key>/``, the upper dir of a
``dpkg -i`` run over the base), so a host's root filesystem is ``upper (per host) : profile : base``
and starting 20 hosts installs nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lab.hosts import repo
from lab.hosts._util import HostLabError, digest, log, run

OLD = "old"
NEW = "new"

# profile -> package -> which version is installed (absent: not installed)
PROFILES: dict[str, dict[str, str]] = {
    # every kind of update pending: 2 security (one needs a reboot) and 1 normal
    "outdated": {"mspdemo-openssl-lib": OLD, "mspdemo-web": OLD, "mspdemo-tools": OLD},
    # only security updates pending (and a reboot after them)
    "security-pending": {"mspdemo-openssl-lib": OLD, "mspdemo-web": OLD, "mspdemo-tools": NEW},
    # only a normal (non-security) update pending: "security only" changes nothing here
    "updates-pending": {"mspdemo-openssl-lib": NEW, "mspdemo-web": NEW, "mspdemo-tools": OLD},
    # fully patched: nothing to do
    "patched": {"mspdemo-openssl-lib": NEW, "mspdemo-web": NEW, "mspdemo-tools": NEW},
    # one security update that needs no reboot; mspdemo-tools is not installed (an upgrade must not add it)
    "web-only": {"mspdemo-openssl-lib": NEW, "mspdemo-web": OLD},
}
ROTATION = ("outdated", "security-pending", "updates-pending", "patched", "web-only")


def profile_for(index: int) -> str:
    """The profile of host number ``index`` (1-based)."""
    return ROTATION[(index - 1) % len(ROTATION)]


def installed_versions(profile: str) -> dict[str, str]:
    """Package name -> the version a fresh host of ``profile`` has installed."""
    return {name: (repo.old(name) if which == OLD else repo.new(name)).version
            for name, which in PROFILES[profile].items()}


def expected_updates(profile: str) -> dict[str, dict[str, object]]:
    """Package name -> {from, to, suite, security, reboot_required} for each pending update of ``profile``."""
    out: dict[str, dict[str, object]] = {}
    for name, which in PROFILES[profile].items():
        if which == OLD:
            upd = repo.new(name)
            out[name] = {"from": repo.old(name).version, "to": upd.version, "suite": upd.suite,
                         "security": repo.SUITE_BY_NAME[upd.suite].security, "reboot_required": upd.reboot}
    return out


def layer_key(base_key: str, repo_key: str, profile: str) -> str:
    return digest({"base": base_key, "repo": repo_key, "profile": PROFILES[profile]})


def ensure_layer(home: Path, base: Path, repo_dir: Path, profile: str) -> Path:
    """The profile's package layer over ``base``, built once (``dpkg -i`` in a chroot of an overlay)."""
    target = home / f"layer-{layer_key(base.name, repo_dir.name, profile)}"
    if (target / ".mspctl-layer").is_file():
        return target
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        run(["umount", "-l", tmp / "merged"], check=False)
        shutil.rmtree(tmp)
    upper, work, merged = tmp / "upper", tmp / "work", tmp / "merged"
    for d in (upper, work, merged):
        d.mkdir(parents=True)
    debs = [repo.deb_path(repo_dir, repo.old(n) if w == OLD else repo.new(n)) for n, w in PROFILES[profile].items()]
    log(f"building package layer {profile!r} ...")
    run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={base},upperdir={upper},workdir={work}", merged])
    try:
        staging = merged / "tmp" / "mspctl-seed"
        staging.mkdir(parents=True)
        for deb in debs:
            shutil.copy2(deb, staging / deb.name)
        # A private mount namespace: /proc for dpkg, a throwaway /run so reboot flags do not persist.
        script = ('set -e; root=$1; shift; mount -t proc proc "$root/proc"; mount -t tmpfs tmpfs "$root/run"; '
                  'chroot "$root" dpkg -i "$@"')
        run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", merged,
             *(f"/tmp/mspctl-seed/{deb.name}" for deb in debs)],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"})
        shutil.rmtree(staging)
    except HostLabError as err:
        raise HostLabError(f"seeding profile {profile!r} failed: {err}") from err
    finally:
        run(["umount", merged], check=False)
    shutil.rmtree(work)
    merged.rmdir()
    upper.rename(target)
    (target / ".mspctl-layer").write_text(f"{profile}\n")
    tmp.rmdir()
    return target
