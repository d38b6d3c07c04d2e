"""The hosts' shared, read-only Debian 12 root filesystem: built once with debootstrap, cached by recipe.

``<hosts home>/base-<key>/`` is a plain directory tree; every host mounts it as the lowest overlayfs
layer. ``<key>`` hashes the recipe below (suite, variant, packages, configure script), so changing
the recipe builds a new base next to the old one; bases no mount uses any more are pruned.
The base has no apt sources, no SSH host keys and no lab key: those are per host or per lab, so
regenerating them never forces a rebuild.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from lab.hosts._util import HostLabError, digest, ensure_tool, log, run

SUITE = "bookworm"
VARIANT = "minbase"
# python3-apt: Ansible's package_facts and apt modules; iproute2: Ansible's network facts.
PACKAGES = ("openssh-server", "python3", "python3-apt", "sudo", "iproute2", "procps")
USER = "mspops"
USER_UID = 1000
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# Hosts have no init system: PID 1 is lab/hosts/_init.py, which reboots the host on SIGHUP and stops
# it on SIGTERM. These stand-ins let `shutdown -r` (Ansible's reboot module) and `reboot` work.
_SHUTDOWN_SHIM = r"""#!/bin/sh
# mspctl lab host: PID 1 is the lab's host init, not systemd. SIGHUP = reboot, SIGTERM = power off.
action=poweroff
case "$(basename "$0")" in reboot) action=reboot ;; esac
for arg in "$@"; do
  case "$arg" in
    -r|--reboot) action=reboot ;;
    -c) echo "no scheduled shutdown"; exit 0 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then echo "$(basename "$0"): must be root" >&2; exit 1; fi
if [ "$action" = reboot ]; then kill -HUP 1; else kill -TERM 1; fi
"""

CONFIGURE = r"""set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
# apt: the lab's repository only (sources are written per host), no recommends, fail fast offline.
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
cat > /etc/apt/apt.conf.d/90mspctl-lab <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::Retries "0";
Acquire::http::Timeout "15";
CONF
mkdir -p /etc/apt/keyrings
# No init system: maintainer scripts must not try to (re)start services.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
rm -f /etc/ssh/ssh_host_*
cat > /etc/ssh/sshd_config.d/00-mspctl-lab.conf <<'CONF'
# mspctl lab host. No PAM (no logind/loginuid in a namespace), keys only.
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
MaxStartups 50:30:200
CONF
useradd --create-home --shell /bin/bash --uid __UID__ __USER__
usermod -p '*' __USER__
install -d -m 700 -o __USER__ -g __USER__ /home/__USER__/.ssh
echo '__USER__ ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/__USER__
chmod 440 /etc/sudoers.d/__USER__
for cmd in shutdown reboot poweroff halt; do
  if [ ! -e /usr/sbin/$cmd ]; then
    cat > /usr/sbin/$cmd <<'SHIM'
__SHIM__SHIM
    chmod 755 /usr/sbin/$cmd
  fi
done
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/bootstrap.log
echo '# mspctl lab host: the lab LAN has no DNS server' > /etc/resolv.conf
rm -f /etc/hostname /etc/machine-id /var/lib/dbus/machine-id
: > /etc/machine-id
""".replace("__UID__", str(USER_UID)).replace("__USER__", USER).replace("__SHIM__", _SHUTDOWN_SHIM)

RECIPE_VERSION = 1


def recipe_key() -> str:
    """The cache key of the base: a hash of everything that shapes its contents (not the mirror)."""
    return digest({"suite": SUITE, "variant": VARIANT, "packages": PACKAGES, "configure": CONFIGURE,
                   "version": RECIPE_VERSION})


def base_dir(home: Path) -> Path:
    return home / f"base-{recipe_key()}"


def ensure_base(home: Path) -> Path:
    """The base rootfs for the current recipe, built with debootstrap when missing (~1 min, network).

    Raises HostLabError when debootstrap or the configure step fails (the half-built tree is removed).
    """
    target = base_dir(home)
    if (target / ".mspctl-base").is_file():
        return target
    ensure_tool("debootstrap", "debootstrap")
    mirror = os.environ.get("MSPCTL_LAB_DEBIAN_MIRROR", DEFAULT_MIRROR)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    home.mkdir(parents=True, exist_ok=True)
    log(f"building the Debian {SUITE} base with debootstrap from {mirror} (once; about a minute) ...")
    started = time.monotonic()
    try:
        run(["debootstrap", f"--variant={VARIANT}", f"--include={','.join(PACKAGES)}", SUITE, tmp, mirror],
            timeout=1800)
        run(["chroot", tmp, "/bin/sh", "-c", CONFIGURE], timeout=300,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"})
    except HostLabError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HostLabError(f"building the host base failed: {err}\n"
                           f"(is {mirror} reachable? MSPCTL_LAB_DEBIAN_MIRROR picks another mirror)") from err
    (tmp / ".mspctl-base").write_text(f"{recipe_key()}\n")
    tmp.rename(target)
    log(f"base {target.name} built in {time.monotonic() - started:.0f}s")
    return target


def prune(home: Path, keep: set[str]) -> None:
    """Remove cached bases and package layers not in ``keep`` that no overlay mount still uses."""
    mountinfo = Path("/proc/self/mountinfo").read_text()
    for path in list(home.glob("base-*")) + list(home.glob("layer-*")):
        if path.name in keep or path.name.endswith(".tmp") or str(path) in mountinfo:
            continue
        log(f"pruning stale {path.name}")
        shutil.rmtree(path, ignore_errors=True)
