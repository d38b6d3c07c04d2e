"""`mspctl init DIR`: a new MSP repository, as a git repository with commented examples.

An MSP repository holds only the MSP's data: its settings (``mspctl.toml``), its clients
(``inventory/clients.yml``), accepted risks (``inventory/exceptions.yml``), templates and
compliance features (``templates/``) and baselines (``baselines/``). The templates, features and
baselines start as copies of the product's examples (`mspctl.product`); the playbooks, Ansible
modules and the inventory plugin stay mspctl's own, installed with it, unless the repository
adds a file of the same name (``playbooks/``, ``plugins/modules/``).

Nothing that exists is overwritten: a non-empty folder is refused (`InitRefusedError`) unless
``force``, and then only the missing files are written, and only they are committed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mspctl import product
from mspctl.adapters.git import MSPCTL_IDENTITY, GitRepo
from mspctl.errors import ExitCode, MspctlError

COMMIT_MESSAGE = "mspctl init: a new MSP repository (settings, clients, templates, features, baselines)"
# Folders copied from the product's examples, and what the copy skips.
EXAMPLE_FOLDERS = ("templates", "baselines")
_SKIP = ("__pycache__", ".pyc", ".retry")


class InitRefusedError(MspctlError):
    """`mspctl init` into a folder that is not empty (or is a file), without ``--force``."""

    code = "MSP-INIT-409"
    exit_code = ExitCode.USAGE


FileState = Literal["written", "kept"]


@dataclass(frozen=True)
class ScaffoldFile:
    path: str  # relative to the repository, with forward slashes
    state: FileState  # written now, or kept as it was (it existed)


@dataclass(frozen=True)
class InitResult:
    """What `init_repository` did: every scaffold file and whether it was written or kept, whether
    it ran ``git init``, and the commit of the written files with its author (None and "": nothing
    was written)."""

    path: Path
    files: tuple[ScaffoldFile, ...]
    git_initialized: bool
    commit: str | None
    author: str = ""

    @property
    def written(self) -> list[str]:
        return [f.path for f in self.files if f.state == "written"]


def init_repository(target: Path, force: bool = False) -> InitResult:
    """Scaffold an MSP repository at `target` (created if missing) and commit it to git.

    Raises `InitRefusedError` when `target` is a file, or a folder with anything in it and not
    `force`; with `force`, existing files are kept and only the missing ones are written. Raises
    `mspctl.adapters.git.GitError` when git is missing or fails, `ProductFilesError` when mspctl's
    own examples are missing.
    """
    if target.exists() and not target.is_dir():
        raise InitRefusedError(f"{target}: is a file, not a folder", hint="give a new or empty folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise InitRefusedError(f"{target}: the folder is not empty; nothing was written",
                               hint="give a new or empty folder, or --force to write only the files it "
                                    "lacks; existing files are kept")
    examples = list(_examples())  # before anything is written: a broken install writes nothing
    target.mkdir(parents=True, exist_ok=True)
    files = [_write(target, rel, text) for rel, text in _texts()]
    files += [_copy(target, rel, source) for rel, source in examples]
    git = GitRepo(target, identity=None)
    created = git.init_shared()
    written = [f.path for f in files if f.state == "written"]
    # the user's git identity when there is one (nothing is written to git's config), else mspctl's
    identity = git.user_identity()
    committer = GitRepo(target, identity=None if identity else MSPCTL_IDENTITY)
    commit = committer.commit_paths(written, COMMIT_MESSAGE) if written else None
    name, email = identity or MSPCTL_IDENTITY
    return InitResult(target, tuple(files), created, commit, f"{name} <{email}>" if commit else "")


def _write(target: Path, rel: str, text: str) -> ScaffoldFile:
    dest = target / rel
    if dest.exists():
        return ScaffoldFile(rel, "kept")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("x", encoding="utf-8") as fh:  # never replaces a file that appeared meanwhile
        fh.write(text)
    return ScaffoldFile(rel, "written")


def _copy(target: Path, rel: str, source: Path) -> ScaffoldFile:
    dest = target / rel
    if dest.exists():
        return ScaffoldFile(rel, "kept")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    return ScaffoldFile(rel, "written")


def _examples() -> Iterator[tuple[str, Path]]:
    """(repository path, product file) of every example template, feature file and baseline."""
    root = product.root()
    for folder in EXAMPLE_FOLDERS:
        base = root / folder
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.endswith(_SKIP) and not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(_SKIP) or name.startswith("."):
                    continue
                source = Path(dirpath) / name
                yield f"{folder}/{source.relative_to(base).as_posix()}", source


def _texts() -> list[tuple[str, str]]:
    return [("mspctl.toml", MSPCTL_TOML), ("inventory/clients.yml", CLIENTS_YML),
            ("inventory/exceptions.yml", EXCEPTIONS_YML), ("inventory/all-clients.mspctl.yml", ALL_CLIENTS_YML),
            ("ansible.cfg", ANSIBLE_CFG), (".gitignore", GITIGNORE), ("README.md", README_MD)]


MSPCTL_TOML = """\
# Settings of this MSP repository. mspctl reads them when it runs in this folder or below it;
# `mspctl settings show` prints the effective values and where each came from. Precedence,
# lowest first: built-in defaults, ~/.config/mspctl/mspctl.toml, this file, NETBOX_API /
# NETBOX_TOKEN, MSPCTL_* variables, flags.

# NetBox: the URL may live here; the token never does (NETBOX_TOKEN, or a CI secret).
# [netbox]
# url = "https://netbox.example.net"
# verify_tls = true

[inventory]
clients_file = "inventory/clients.yml"   # per-client settings: tenant, credentials name, baseline, window

[config]
templates = "templates"                  # <platform>/main.j2, rendered with each device's NetBox data
features = "templates/features.yml"      # the compliance features `mspctl drift` checks
# backups = "~/.local/share/mspctl/backups"   # running configs, a git repository made on first use

[patch]
baselines = "baselines"                  # patch baselines, one YAML file per version
# The patch playbooks and Ansible modules are mspctl's own, installed with it (the Ansible
# collection mspctl.core). A file of the same name here overrides one: playbooks/<name>.yml,
# plugins/modules/<name>.py.
# playbooks = "playbooks"
# ssh_config = "~/.ssh/msp_config"      # or MSPCTL_SSH_CONFIG: users, keys, jump hosts for the servers
# connect_timeout = 10                   # seconds for a host's SSH connection, then UNREACHABLE
canary = 1                               # one host first, then the rest
max_fail_percent = 25                    # no new batch once more hosts than this failed
stale_after = "7d"                       # older scan evidence is STALE

# [devices]
# ssh_port = 22

# The run history: SQLite under ~/.cache/mspctl by default; a team shares one in PostgreSQL
# (keep the password out of git: MSPCTL_RECORDS_URL).
# [records]
# url = "postgresql+psycopg://mspctl@db.example.net:5432/mspctl_history"

# Notifications of new drift and failed patch windows (Apprise URLs; real ones belong in
# MSPCTL_NOTIFY_URLS, they carry tokens).
# [notify]
# urls = ["json://tickets.example.net:8080/mspctl"]
"""

CLIENTS_YML = """\
# This MSP's clients: one entry per client, keyed by the name used on the command line
# (`mspctl inventory list -c acme`). A client is a NetBox tenant. Secrets never live here:
# `credentials` names an entry resolved at run time from MSPCTL_CRED_<NAME>_USERNAME/_PASSWORD/
# _SECRET, the credentials file (MSPCTL_CREDENTIALS_FILE, default ~/.config/mspctl/credentials.toml)
# or the system keyring.
#
# clients:
#   acme:
#     tenant: acme                  # NetBox tenant slug (default: the key)
#     credentials: acme-netops      # the devices' login, by name
#     baseline: debian-security     # baselines/debian-security.yml, for its servers
#     maintenance_window:           # patch windows and config pushes only inside it (--force overrides)
#       days: [sat]
#       start: "22:00"
#       duration: 4h
#       timezone: Europe/Berlin
#       cutoff: 30m                 # no new host this close to the end
#       blackout: [2026-12-24, 2026-12-31]
clients: {}
"""

EXCEPTIONS_YML = """\
# Accepted risks, shown in `mspctl report` as *excepted* (never as compliant) until they expire;
# an expired entry covers nothing and is itself a finding (mspctl's docs/reports.md#exceptions).
#
# exceptions:
#   - client: acme                    # clients.yml key or NetBox tenant slug
#     target: acme-core-sw1           # a name mspctl prints, a NetBox key (device:12), or "*"
#     feature: ntp                    # a drift feature (templates/features.yml) ... or
#     # package: openssl              # ... a package of the host's baseline
#     reason: "NTP servers move in Q1; the old ones stay until then"
#     approved_by: "J. Doe, Acme CISO"
#     expires: 2027-03-31
exceptions: []
"""

ALL_CLIENTS_YML = """\
# Every client's live inventory for Ansible, through mspctl's inventory plugin (installed with
# mspctl as the collection mspctl.core; nothing to configure):
#   ansible-inventory -i inventory/all-clients.mspctl.yml --graph
#   ansible-playbook -i inventory/all-clients.mspctl.yml mspctl.core.patch_scan
# One client: a file <client>.mspctl.yml with `clients: [acme]` instead of `all_clients: true`.
# Filters as on the command line: site, role, platform, tag, status, kind, limit.
plugin: mspctl.core.mspctl_inventory
all_clients: true
"""

ANSIBLE_CFG = """\
# Ansible settings of this MSP repository (mspctl's patch runs use them too). mspctl's inventory
# plugin, patch playbooks and modules come with mspctl (the collection mspctl.core): Ansible
# finds them beside mspctl when it runs from mspctl's environment, so no paths are needed here.
[defaults]
# host keys are checked: mspctl pins them per NetBox object ([patch] host_keys)
host_key_checking = True
retry_files_enabled = False
interpreter_python = auto_silent

[ssh_connection]
# one SSH round trip per task (needs `requiretty` off in sudoers, the default on Debian and RHEL)
pipelining = True
"""

GITIGNORE = """\
# mspctl keeps its cache, run records, backups and window state outside the repository
# (~/.cache/mspctl, ~/.local/share/mspctl, ~/.local/state/mspctl). These are a run's outputs.
/out/
/reports/
*.retry
__pycache__/
.venv/
"""

README_MD = """\
# MSP repository

The data mspctl works from: settings, clients, templates, compliance features, baselines and
accepted risks. mspctl itself (its playbooks, Ansible modules and inventory plugin) is installed
apart: `pipx install mspctl` or `pip install mspctl`.

| path | what |
|---|---|
| `mspctl.toml` | settings (NetBox URL, paths, patch rollout) |
| `inventory/clients.yml` | per-client settings: NetBox tenant, credentials name, baseline, maintenance window |
| `inventory/exceptions.yml` | accepted risks for the reports, each with an approver and an expiry |
| `inventory/*.mspctl.yml` | live Ansible inventories (plugin `mspctl.core.mspctl_inventory`) |
| `templates/<platform>/main.j2`, `templates/features.yml` | configuration templates and compliance features |
| `baselines/*.yml` | patch baselines (Linux and network OS) |
| `playbooks/`, `plugins/modules/` | only to override one of mspctl's own, by file name |

```bash
export NETBOX_API=https://netbox.example.net NETBOX_TOKEN=...
mspctl clients
mspctl inventory list -c acme
mspctl drift -c acme              # exit 4 when drift is found
mspctl patch scan -c acme         # exit 4 when a host misses approved updates
```
"""
