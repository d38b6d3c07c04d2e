"""The hosts' only apt repository: tiny demo packages in old and new versions, split like Debian's.

Layout (``<hosts home>/repo-<key>/``, served over HTTP from the root namespace by each running lab)::

    debian/           suites bookworm (the old versions) and bookworm-updates (normal updates)
    debian-security/  suite bookworm-security (security updates)

Each suite has its own signed Release file (Origin ``mspctl-lab``; Label ``mspctl-lab`` or
``mspctl-lab-Security``; Suite ``stable``, ``stable-updates`` or ``stable-security``), so apt tells the
origins apart exactly as on a real Debian host: ``apt-get -s upgrade`` prints
``(3.0.11-1+deb12u1 mspctl-lab-Security:12/stable-security [all])``. The signing key is generated once
per lab home (``repo-key/``); ``<key>`` hashes the package recipe and that key's fingerprint.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.hosts._util import HostLabError, digest, ensure_tool, kill_pidfile, log, pid_alive, port_open, run

REPO_PORT = 8080
ORIGIN = "mspctl-lab"
KEYRING_NAME = "mspctl-lab-archive.gpg"


@dataclass(frozen=True)
class Suite:
    codename: str
    archive: str  # top directory: debian | debian-security
    suite: str
    label: str
    security: bool


SUITES = (
    Suite("bookworm", "debian", "stable", ORIGIN, security=False),
    Suite("bookworm-updates", "debian", "stable-updates", ORIGIN, security=False),
    Suite("bookworm-security", "debian-security", "stable-security", f"{ORIGIN}-Security", security=True),
)
SUITE_BY_NAME = {s.codename: s for s in SUITES}


@dataclass(frozen=True)
class DemoPackage:
    """One version of one demo package, published in one suite."""

    name: str
    version: str
    suite: str
    summary: str
    depends: str = ""
    reboot: bool = False  # its postinst flags /var/run/reboot-required, like libc6 or a kernel

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version}_all.deb"


_LIB = "mspdemo-openssl-lib"
_WEB = "mspdemo-web"
_TOOLS = "mspdemo-tools"
PACKAGES = (
    DemoPackage(_LIB, "3.0.11-1", "bookworm", "TLS library stand-in", reboot=True),
    DemoPackage(_LIB, "3.0.11-1+deb12u1", "bookworm-security", "TLS library stand-in", reboot=True),
    DemoPackage(_WEB, "2.4.57-1", "bookworm", "web server stand-in", depends=f"{_LIB} (>= 3.0.11-1)"),
    DemoPackage(_WEB, "2.4.57-1+deb12u1", "bookworm-security", "web server stand-in",
                depends=f"{_LIB} (>= 3.0.11-1)"),
    DemoPackage(_TOOLS, "1.2.0-1", "bookworm", "admin tools stand-in"),
    DemoPackage(_TOOLS, "1.3.0-1", "bookworm-updates", "admin tools stand-in"),
)
PACKAGE_NAMES = (_LIB, _WEB, _TOOLS)
RECIPE_VERSION = 2


def old(name: str) -> DemoPackage:
    """The version a seeded host starts with (published in the base suite ``bookworm``)."""
    return next(p for p in PACKAGES if p.name == name and p.suite == "bookworm")


def new(name: str) -> DemoPackage:
    """The update on offer: the package's version in ``bookworm-security`` or ``bookworm-updates``."""
    return next(p for p in PACKAGES if p.name == name and p.suite != "bookworm")


def catalog() -> dict[str, dict[str, object]]:
    """Per package: old and new version, the new one's suite, whether it is a security update, reboot."""
    return {name: {"old": old(name).version, "new": new(name).version, "new_suite": new(name).suite,
                   "security": SUITE_BY_NAME[new(name).suite].security, "reboot_required": new(name).reboot}
            for name in PACKAGE_NAMES}


# -- signing key -------------------------------------------------------------------------------------


def _gpg(home: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback",
                "--passphrase", "", *args], input=input)


def signing_key(hosts_home: Path) -> tuple[Path, str]:
    """The repository signing key (generated once): its gnupg home and fingerprint."""
    ensure_tool("gpg", "gnupg")
    gnupg = hosts_home / "repo-key"
    fpr_file = gnupg / "fingerprint"
    if fpr_file.is_file():
        return gnupg, fpr_file.read_text().strip()
    if gnupg.exists():
        shutil.rmtree(gnupg)
    gnupg.mkdir(mode=0o700, parents=True)
    try:
        _gpg(gnupg, "--quick-gen-key", "mspctl lab archive <lab@mspctl.invalid>", "ed25519", "sign", "never")
        listing = _gpg(gnupg, "--with-colons", "--list-secret-keys").stdout
    finally:
        _stop_agent(gnupg)
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    fpr_file.write_text(fpr + "\n")
    return gnupg, fpr


def _stop_agent(gnupg: Path) -> None:
    # gpg starts a gpg-agent per home; do not leave it running behind the lab.
    subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"], capture_output=True, check=False)


# -- build -------------------------------------------------------------------------------------------


def recipe_key(fingerprint: str) -> str:
    return digest({"packages": [asdict(p) for p in PACKAGES], "suites": [asdict(s) for s in SUITES],
                   "fingerprint": fingerprint, "version": RECIPE_VERSION, "postinst": _REBOOT_POSTINST})


_REBOOT_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    touch /var/run/reboot-required
    grep -qsx "$DPKG_MAINTSCRIPT_PACKAGE" /var/run/reboot-required.pkgs \\
        || echo "$DPKG_MAINTSCRIPT_PACKAGE" >> /var/run/reboot-required.pkgs
fi
"""


def _build_deb(pkg: DemoPackage, out: Path, scratch: Path) -> None:
    root = scratch / f"{pkg.name}_{pkg.version}"
    (root / "DEBIAN").mkdir(parents=True)
    share = root / "usr/share/mspdemo"
    share.mkdir(parents=True)
    (share / f"{pkg.name}.version").write_text(f"{pkg.version}\n")
    doc = root / "usr/share/doc" / pkg.name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("A dummy package of the mspctl lab. Public domain.\n")
    control = [f"Package: {pkg.name}", f"Version: {pkg.version}", "Architecture: all",
               "Maintainer: mspctl lab <lab@mspctl.invalid>", "Section: misc", "Priority: optional"]
    if pkg.depends:
        control.append(f"Depends: {pkg.depends}")
    control += [f"Description: mspctl lab demo package: {pkg.summary}",
                " A tiny dummy package for patch-management tests; it only installs a version file."]
    (root / "DEBIAN/control").write_text("\n".join(control) + "\n")
    if pkg.reboot:
        postinst = root / "DEBIAN/postinst"
        postinst.write_text(_REBOOT_POSTINST)
        postinst.chmod(0o755)
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, out / pkg.filename],
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SOURCE_DATE_EPOCH": "1700000000"})


def _release(suite: Suite, dist: Path) -> None:
    options = {"Origin": ORIGIN, "Label": suite.label, "Suite": suite.suite, "Codename": suite.codename,
               "Version": "12", "Architectures": "amd64", "Components": "main",
               "Description": f"mspctl lab {suite.codename}"}
    args = ["apt-ftparchive"]
    for key, value in options.items():
        args += ["-o", f"APT::FTPArchive::Release::{key}={value}"]
    text = run([*args, "release", "."], cwd=dist).stdout
    (dist / "Release").write_text(text)


def current_dir(hosts_home: Path) -> Path | None:
    """Where the repository of the current recipe and signing key is built (None: no key yet)."""
    fpr_file = hosts_home / "repo-key" / "fingerprint"
    if not fpr_file.is_file():
        return None
    return hosts_home / f"repo-{recipe_key(fpr_file.read_text().strip())}"


def ensure_repo(hosts_home: Path) -> Path:
    """The signed repository for the current recipe, built when missing (a second or two)."""
    gnupg, fpr = signing_key(hosts_home)
    target = hosts_home / f"repo-{recipe_key(fpr)}"
    if (target / ".mspctl-repo").is_file():
        return target
    ensure_tool("dpkg-deb", "dpkg")
    ensure_tool("apt-ftparchive", "apt-utils")
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    log("building the lab apt repository ...")
    with tempfile.TemporaryDirectory(prefix="mspctl-debs-") as scratch:
        for suite in SUITES:
            pool = tmp / suite.archive / "pool" / suite.codename / "main"
            pool.mkdir(parents=True, exist_ok=True)
            for pkg in (p for p in PACKAGES if p.suite == suite.codename):
                (pool / pkg.name[0] / pkg.name).mkdir(parents=True, exist_ok=True)
                _build_deb(pkg, pool / pkg.name[0] / pkg.name, Path(scratch))
            dist = tmp / suite.archive / "dists" / suite.codename
            # Architecture: all packages listed under binary-amd64 only (apt shows each origin once)
            binary = dist / "main" / "binary-amd64"
            binary.mkdir(parents=True)
            text = run(["apt-ftparchive", "packages", f"pool/{suite.codename}"], cwd=tmp / suite.archive).stdout
            (binary / "Packages").write_text(text)
            (binary / "Packages.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
            _release(suite, dist)
            try:
                _gpg(gnupg, "--local-user", fpr, "--clearsign", "--output", str(dist / "InRelease"),
                     str(dist / "Release"))
                _gpg(gnupg, "--local-user", fpr, "--armor", "--detach-sign", "--output", str(dist / "Release.gpg"),
                     str(dist / "Release"))
            finally:
                _stop_agent(gnupg)
    # a binary keyring: not through run(), whose text mode would mangle it
    subprocess.run(["gpg", "--homedir", str(gnupg), "--batch", "--yes", "--output", str(tmp / KEYRING_NAME),
                    "--export", fpr], check=True, capture_output=True)
    _stop_agent(gnupg)
    (tmp / ".mspctl-repo").write_text(f"{fpr}\n")
    tmp.rename(target)
    return target


def deb_path(repo: Path, pkg: DemoPackage) -> Path:
    suite = SUITE_BY_NAME[pkg.suite]
    return repo / suite.archive / "pool" / suite.codename / "main" / pkg.name[0] / pkg.name / pkg.filename


def sources(url: str) -> str:
    """The deb822 sources file of every host: the lab repository, nothing else."""
    keyring = f"/etc/apt/keyrings/{KEYRING_NAME}"
    return (f"Types: deb\nURIs: {url}debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
            f"Signed-By: {keyring}\n\n"
            f"Types: deb\nURIs: {url}debian-security\nSuites: bookworm-security\nComponents: main\n"
            f"Signed-By: {keyring}\n")


# -- HTTP server -------------------------------------------------------------------------------------


def serve(repo: Path, address: str, pidfile: Path, logfile: Path, port: int = REPO_PORT) -> None:
    """Serve ``repo`` on ``address:port`` (root namespace) with python's http.server, as a daemon.

    Reuses a running server of the same repository; raises HostLabError when the port does not open.
    """
    needle = f"--directory {repo} "
    if pid_alive(pidfile, needle) and port_open(address, port):
        return
    kill_pidfile(pidfile, "http.server")
    with logfile.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", address, "--directory", str(repo),
                                 str(port)], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, cwd="/")
    pidfile.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 15
    while not port_open(address, port, timeout=0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise HostLabError(f"the repository server did not start on {address}:{port}; see {logfile}")
        time.sleep(0.05)


def stop(pidfile: Path) -> None:
    kill_pidfile(pidfile, "http.server")
