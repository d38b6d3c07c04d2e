"""Servers through Ansible and ansible-runner (the only importer of ansible_runner).

`AnsibleRunner` runs the MSP repository's patch playbooks (``playbooks/patch_scan.yml`` and
``playbooks/patch_apply.yml``) against an inventory given as a dict, and turns what the hosts
reported into the patch domain model: a `HostScan` per scanned host, a `HostOutcome` per patched
host. Every requested host gets a result; one host that is unreachable or fails never stops the
others (mspctl batches hosts itself, so the playbooks use no ``max_fail_percentage``).

The playbooks name their tasks ``<step>: <what>``; a failed host's step (precheck, install, reboot,
postcheck) is read from that prefix, and the scan and after-state data from fixed task names
(see playbooks/README.md).

Nothing of a run is kept: the runner's private data directory (inventory, events, facts,
Ansible's local temp files) is created per run and removed afterwards, and events are handled in
memory instead of being written to it. SSH master connections are shared by one runner's runs
(scan, then apply) and ended by `AnsibleRunner.close` (or leaving its ``with`` block).
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import ansible_runner

from mspctl.errors import ExitCode, MspctlError
from mspctl.patch.model import HostScan, PendingUpdate, changed_packages
from mspctl.redact import redact

EventStatus = Literal["ok", "changed", "failed", "unreachable", "skipped"]
OutcomeStatus = Literal["ok", "failed", "unreachable"]

SCAN_PLAYBOOK = "patch_scan.yml"
APPLY_PLAYBOOK = "patch_apply.yml"
# Task names the playbooks keep fixed so the results can be read back (playbooks/README.md).
SCAN_FACTS = "scan: facts"
SCAN_UPDATES = "scan: pending updates"
SCAN_PACKAGES = "scan: package facts"
BEFORE_PACKAGES = "precheck: package facts"
REBOOT_TASK = "reboot: reboot"
AFTER_UPDATES = "after-state: pending updates"
AFTER_PACKAGES = "after-state: package facts"
APPLY_FACTS = "precheck: facts"
STEPS = ("precheck", "install", "reboot", "postcheck")
_KEPT_TASKS = {SCAN_FACTS, SCAN_UPDATES, SCAN_PACKAGES, BEFORE_PACKAGES, REBOOT_TASK, AFTER_UPDATES,
               AFTER_PACKAGES, APPLY_FACTS}
_ERROR_LEN = 400


class AnsibleError(MspctlError):
    """Ansible itself could not run (not installed, a missing or bad playbook, bad inventory), as
    opposed to a host failing. The MSP repository's files or mspctl's environment are at fault:
    the settings/files class of exit codes (10)."""

    code = "MSP-ANS-001"
    exit_code = ExitCode.CONFIG


@dataclass(frozen=True, slots=True)
class HostEvent:
    """Live progress: one task finished on one host."""

    host: str
    task: str
    status: EventStatus


@dataclass(frozen=True, slots=True)
class HostOutcome:
    """What a patch run did to one host.

    `failed_step` is ``precheck``, ``install``, ``reboot`` or ``postcheck`` (the after-state read
    counts as postcheck), or the task's name for a task outside those steps; it is also set for an
    unreachable host (where it went dark). `installed` lists ``name=version`` of every package whose
    version changed (dependencies included) and `after` is the host's state at the end; both are known
    only when the host got to the after-state tasks (a host that failed after installing reports
    ``installed=()``: its next scan tells what it has).
    """

    host: str
    status: OutcomeStatus
    changed: bool = False
    failed_step: str | None = None
    error: str | None = None
    rebooted: bool = False
    after: HostScan | None = None
    installed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class _HostRecord:
    """What the event handler keeps of one host: the results of the named tasks, its first failure."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    times: dict[str, datetime] = field(default_factory=dict)
    failed_task: str | None = None
    error: str | None = None
    unreachable: bool = False
    last_task: str | None = None


@dataclass
class _Run:
    hosts: dict[str, _HostRecord] = field(default_factory=dict)
    stats: dict[str, dict[str, int]] | None = None
    status: str = ""
    rc: int | None = None
    output: str = ""


@dataclass
class AnsibleRunner:
    """Runs the patch playbooks in ``playbook_dir`` through ansible-runner.

    ``playbook_dir``'s parent is the MSP repository: its ``ansible.cfg`` and ``plugins/modules``
    (the ``mspctl_*`` modules) are used. ``product`` is a folder laid out the same way
    (``playbooks/``, ``plugins/modules/``; mspctl's own files, `mspctl.product.root`): a playbook
    the repository does not have is run from there, and its modules come after the repository's
    (Ansible takes a module from the first folder that has it). ``forks`` bounds the hosts worked on at once. With
    ``ssh_config``, every host without its own ``ansible_ssh_common_args`` is reached with ``ssh -F
    <ssh_config>`` and host keys are checked as that file says (Ansible's own checking stays on).
    ``connect_timeout`` (seconds) is how long a host's SSH connection may take (Ansible's
    ``timeout``; it is put on ssh's command line, so it wins over the SSH config's ConnectTimeout).
    ``timeout`` (seconds) bounds a whole run (ansible-runner checks it every few seconds); hosts that
    had not reached their last task then fail with a timeout error. ``env`` adds or overrides
    environment variables for ansible-playbook. Host names go to ``--limit`` as they are, so they
    must not contain commas.
    """

    playbook_dir: Path
    forks: int = 20
    ssh_config: Path | None = None
    connect_timeout: int = 10
    timeout: int | None = None
    env: Mapping[str, str] | None = None
    product: Path | None = None
    # SSH master connections live here across this runner's runs (a scan, then the apply of the
    # same hosts, reuses them, as plain Ansible does within ControlPersist); `close` ends them.
    _control_dir: Path | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> AnsibleRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the SSH master connections of this runner's runs and remove their sockets' directory."""
        if self._control_dir is not None:
            _stop_ssh_masters(self._control_dir)
            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None

    def _controls(self) -> Path:
        if self._control_dir is None:
            self._control_dir = Path(tempfile.mkdtemp(prefix="mspctl-ssh-"))  # mode 0700
        return self._control_dir

    def scan(self, inventory: Mapping[str, Any], hosts: Sequence[str],
             on_event: Callable[[HostEvent], None] | None = None) -> dict[str, HostScan]:
        """Scan ``hosts`` (names in ``inventory``) for installed packages and pending updates.

        ``inventory`` is Ansible's YAML-inventory shape (``{"all": {"hosts": ..., "vars": ...,
        "children": ...}}``). Returns a `HostScan` for every requested host: unreachable hosts (and
        names the inventory does not have) with ``reachable=False`` and the error; hosts where a scan
        task failed with ``error`` set and whatever was gathered before. Raises `AnsibleError` when
        Ansible itself cannot run.
        """
        known, unknown = _split_known(inventory, hosts)
        run = self._run(SCAN_PLAYBOOK, _prepared(inventory, {}, self.ssh_config), known, on_event) if known else _Run()
        now = datetime.now(UTC)
        out: dict[str, HostScan] = {}
        for name in hosts:
            if name in unknown:
                out[name] = HostScan(name, now, reachable=False, error=f"{name}: not in the Ansible inventory")
                continue
            rec = run.hosts.get(name) or _HostRecord()
            error = _host_error(name, rec, run)
            if rec.unreachable:
                out[name] = HostScan(name, now, reachable=False, error=error)
                continue
            out[name] = _to_scan(name, rec.results.get(SCAN_FACTS), rec.results.get(SCAN_UPDATES),
                                 rec.results.get(SCAN_PACKAGES), rec.times.get(SCAN_UPDATES, now), error)
        return out

    def apply(self, inventory: Mapping[str, Any], hosts: Sequence[str], host_vars: Mapping[str, Mapping[str, Any]],
              on_event: Callable[[HostEvent], None] | None = None) -> dict[str, HostOutcome]:
        """Patch ``hosts`` with ``playbooks/patch_apply.yml``; ``host_vars`` are its variables per host.

        The variables (``mspctl_install``, ``mspctl_reboot``, ...; playbooks/README.md) become host
        variables of a copy of ``inventory``, so each host gets its own install list. Returns a
        `HostOutcome` for every requested host; raises `AnsibleError` when Ansible itself cannot run.
        """
        known, unknown = _split_known(inventory, hosts)
        prepared = _prepared(inventory, {h: host_vars.get(h, {}) for h in known}, self.ssh_config)
        run = self._run(APPLY_PLAYBOOK, prepared, known, on_event) if known else _Run()
        now = datetime.now(UTC)
        out: dict[str, HostOutcome] = {}
        for name in hosts:
            if name in unknown:
                out[name] = HostOutcome(name, "failed", failed_step="precheck",
                                        error=f"{name}: not in the Ansible inventory")
                continue
            rec = run.hosts.get(name) or _HostRecord()
            error = _host_error(name, rec, run)
            stats = run.stats or {}
            changed = bool(stats.get("changed", {}).get(name))
            status: OutcomeStatus = "unreachable" if rec.unreachable else "failed" if error else "ok"
            after = None
            if AFTER_UPDATES in rec.results:
                after = _to_scan(name, rec.results.get(APPLY_FACTS), rec.results[AFTER_UPDATES],
                                 rec.results.get(AFTER_PACKAGES), rec.times.get(AFTER_UPDATES, now), None)
            installed: tuple[str, ...] = ()
            if BEFORE_PACKAGES in rec.results and AFTER_PACKAGES in rec.results:
                installed = changed_packages(_packages(rec.results[BEFORE_PACKAGES]),
                                              _packages(rec.results[AFTER_PACKAGES]))
            failed_task = rec.failed_task or (rec.last_task if error else None)
            out[name] = HostOutcome(
                name, status, changed=changed, failed_step=_step(failed_task) if status != "ok" else None,
                error=error, rebooted=bool(rec.results.get(REBOOT_TASK, {}).get("rebooted")), after=after,
                installed=installed)
        return out

    # -- running ansible-playbook ------------------------------------------------------------

    def _environment(self, private: Path) -> dict[str, str]:
        repo = self.playbook_dir.resolve().parent
        # ansible-runner starts ansible-playbook from PATH: the one next to this interpreter comes first
        # (a venv's bin is not on PATH unless the venv is activated, and rc 127 says nothing useful).
        venv_bin = str(Path(sys.executable).parent)
        env = {
            "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", os.defpath)]),
            "ANSIBLE_LIBRARY": os.pathsep.join(str(d) for d in self._module_dirs()),
            "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),  # removed with the run: module copies, no facts left
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            # one SSH round trip per task instead of three (no temp file upload); hosts need no requiretty
            "ANSIBLE_PIPELINING": "True",
            # an SSH master per host, shared by this runner's runs; `close` ends them
            "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=30s",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self._controls()),
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_TIMEOUT": str(self.connect_timeout),
        }
        if (repo / "ansible.cfg").is_file():
            env["ANSIBLE_CONFIG"] = str(repo / "ansible.cfg")
        # Host keys are always checked. ansible-runner turns Ansible's checking off by default, which
        # puts StrictHostKeyChecking=no on ssh's command line ahead of the ssh_config's and the
        # inventory's own options (ssh takes the first value it sees).
        env["ANSIBLE_HOST_KEY_CHECKING"] = "True"
        env.update(self.env or {})
        return env

    def _module_dirs(self) -> list[Path]:
        """The repository's ``plugins/modules``, then the product's: those that exist (the
        repository's alone when neither does)."""
        dirs = [self.playbook_dir.resolve().parent / "plugins" / "modules"]
        if self.product is not None:
            dirs.append(self.product / "plugins" / "modules")
        return [d for d in dirs if d.is_dir()] or dirs[:1]

    def _playbook(self, playbook: str) -> Path:
        """The repository's ``playbook`` when it has one, else the product's; AnsibleError if neither."""
        own = self.playbook_dir.resolve() / playbook
        if own.is_file() or self.product is None:
            if not own.is_file():
                raise AnsibleError(f"playbook {own} not found",
                                   hint="set [patch] playbooks to the repository's playbooks/ directory")
            return own
        packaged = self.product / "playbooks" / playbook
        if not packaged.is_file():
            raise AnsibleError(f"playbook {playbook} not found in {own.parent} nor in mspctl's own {packaged.parent}",
                               hint="reinstall mspctl, or put the playbook in [patch] playbooks")
        return packaged

    def _run(self, playbook: str, inventory: dict[str, Any], hosts: Sequence[str],
             on_event: Callable[[HostEvent], None] | None) -> _Run:
        path = self._playbook(playbook)
        run = _Run(hosts={h: _HostRecord() for h in hosts})
        private = Path(tempfile.mkdtemp(prefix="mspctl-ansible-"))  # mode 0700
        try:
            inv_file = private / "inventory.json"
            fd = os.open(inv_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(inventory, f)
            try:
                result = ansible_runner.run(
                    private_data_dir=str(private), project_dir=str(path.parent), playbook=str(path),
                    inventory=str(inv_file), limit=",".join(hosts), forks=self.forks,
                    envvars=self._environment(private), quiet=True, timeout=self.timeout,
                    event_handler=lambda e: _on_runner_event(e, run, on_event),
                    # Without a callback ansible-runner takes SIGINT/SIGTERM itself and cancels
                    # the playbook mid-host. mspctl's own handler (mspctl.interrupts) lets the
                    # batch in flight finish and starts no other.
                    cancel_callback=lambda: False)
            except Exception as exc:  # ansible_runner raises plain exceptions for a broken setup
                raise AnsibleError(redact(f"ansible-runner could not start {playbook}: {exc}"),
                                   hint="check that ansible-core is installed next to mspctl") from exc
            run.status, run.rc = str(result.status), result.rc
            if run.stats is None:
                stdout = Path(result.config.artifact_dir) / "stdout"
                if stdout.is_file():
                    run.output = stdout.read_text(encoding="utf-8", errors="replace")[-2000:]
        finally:
            shutil.rmtree(private, ignore_errors=True)
        if run.stats is None and run.status != "timeout":
            # ansible-playbook ended before its recap: its own problem, not a host's
            lines = [ln.strip() for ln in run.output.splitlines() if ln.strip()]
            # Ansible's own error line when there is one (with its file:line origin), else the output's tail
            first = next((i for i, ln in enumerate(lines) if ln.startswith(("[ERROR]", "ERROR!"))), None)
            picked = lines[first:first + 2] if first is not None else lines[-4:]
            detail = " ".join(picked)[:800] or "no output"
            hint = ("ansible-playbook was not found: install ansible-core in mspctl's environment" if run.rc == 127
                    else "run the playbook with ansible-playbook --syntax-check to see more")
            message = f"ansible-playbook {playbook} failed (status {run.status}, rc {run.rc}): {detail}"
            raise AnsibleError(redact(message), hint=hint)
        return run


def _stop_ssh_masters(control_dir: Path) -> None:
    """End the SSH master connections now rather than after ControlPersist: nothing outlives a runner."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        # the host argument is required by ssh but unused with -O; the socket names the master
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "mspctl-run"], capture_output=True,
                       timeout=10, check=False)


def _on_runner_event(event: Mapping[str, Any], run: _Run, on_event: Callable[[HostEvent], None] | None) -> bool:
    """ansible-runner's event handler: keep what the results need, report progress, write nothing to disk."""
    kind = event.get("event", "")
    data = event.get("event_data") or {}
    if kind == "playbook_on_stats":
        run.stats = {k: dict(v or {}) for k, v in data.items()
                     if k in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")}
        return False
    if not kind.startswith("runner_on_") or kind == "runner_on_start":
        return False
    host, task = str(data.get("host", "")), str(data.get("task", ""))
    rec = run.hosts.get(host)
    if rec is None:  # a host outside the limit: not ours (cannot happen with --limit, cheap to guard)
        return False
    res = data.get("res") or {}
    status: EventStatus
    if kind == "runner_on_ok":
        status = "changed" if res.get("changed") else "ok"
        if task in _KEPT_TASKS:
            rec.results[task] = res
            rec.times[task] = datetime.now(UTC)
    elif kind == "runner_on_failed":
        status = "failed"
        if not data.get("ignore_errors") and rec.failed_task is None:
            rec.failed_task, rec.error = task, _result_message(res)
    elif kind == "runner_on_unreachable":
        status = "unreachable"
        rec.unreachable = True
        if rec.failed_task is None:
            rec.failed_task, rec.error = task, _result_message(res) or "unreachable"
    elif kind == "runner_on_skipped":
        status = "skipped"
    else:
        return False
    rec.last_task = task
    if on_event is not None:
        on_event(HostEvent(host, task, status))
    return False


def _result_message(res: Mapping[str, Any]) -> str:
    """A failed result's message, short: Ansible's msg, else the command's stderr or stdout."""
    text = ""
    for key in ("msg", "stderr", "stdout", "module_stderr"):
        value = res.get(key)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            break
    if not text and isinstance(res.get("results"), list):  # a loop: the first failed item's message
        text = next((_result_message(r) for r in res["results"] if isinstance(r, Mapping) and r.get("failed")), "")
    return " ".join(text.split())


def _host_error(name: str, rec: _HostRecord, run: _Run) -> str | None:
    """The host's error for the user: which task, what it said, redacted and short; None when it is fine."""
    if rec.failed_task is not None:
        text = f"{rec.failed_task}: {rec.error or 'failed'}"
    elif run.status == "timeout" and not ({SCAN_PACKAGES, AFTER_PACKAGES} & rec.results.keys()):
        # a host that got to its last task before the run was stopped is done; the others are not
        text = f"the Ansible run timed out (last task on this host: {rec.last_task or 'none'})"
    elif run.stats is not None and (run.stats.get("failures", {}).get(name) or run.stats.get("dark", {}).get(name)):
        text = f"{rec.last_task or 'a task'}: failed"
    elif run.stats is not None and name not in set().union(*(run.stats.get(k, {}) for k in ("ok", "skipped"))):
        text = "Ansible did not run on this host (not matched by the inventory or the limit)"
    else:
        return None
    text = redact(text)
    return text if len(text) <= _ERROR_LEN else text[: _ERROR_LEN - 3] + "..."


def _step(task: str | None) -> str | None:
    if task is None:
        return None
    prefix = task.split(":", 1)[0].strip()
    if prefix == "after-state":
        return "postcheck"
    return prefix if prefix in STEPS else task


def _packages(res: Mapping[str, Any] | None) -> dict[str, str]:
    """package_facts' result as name -> version (rpm: ``[epoch:]version-release``, as dnf prints it)."""
    facts = ((res or {}).get("ansible_facts") or {}).get("packages") or {}
    out: dict[str, str] = {}
    for name, entries in facts.items():
        if not entries:
            continue
        e = entries[0]
        version = str(e.get("version", ""))
        if e.get("release"):
            version = f"{version}-{e['release']}"
            if e.get("epoch") not in (None, 0, "0", ""):
                version = f"{e['epoch']}:{version}"
        out[str(name)] = version
    return out


def _to_scan(name: str, facts_res: Mapping[str, Any] | None, updates_res: Mapping[str, Any] | None,
             packages_res: Mapping[str, Any] | None, scanned_at: datetime, error: str | None) -> HostScan:
    """Translate the scan tasks' results (Ansible facts, mspctl_pending_updates, package_facts) into a `HostScan`."""
    facts = (facts_res or {}).get("ansible_facts") or {}
    upd = updates_res or {}
    updates: dict[str, PendingUpdate] = {}
    for u in upd.get("updates") or []:
        released = None
        if u.get("released"):
            try:
                released = date.fromisoformat(str(u["released"]))
            except ValueError:
                released = None
        updates[str(u["name"])] = PendingUpdate(
            name=str(u["name"]), installed=str(u.get("installed", "")), candidate=str(u.get("candidate", "")),
            classification="security" if u.get("classification") == "security" else "other",
            archive=str(u.get("archive") or ""), origin=str(u.get("origin") or ""), released=released)
    return HostScan(
        host=name, scanned_at=scanned_at, reachable=True, error=error,
        os_family=str(facts.get("ansible_os_family", "")).lower(),
        distribution=str(facts.get("ansible_distribution", "")).lower(),
        distribution_version=str(facts.get("ansible_distribution_major_version", "")),
        package_manager=str(upd.get("package_manager") or facts.get("ansible_pkg_mgr", "")),
        installed=_packages(packages_res), updates=updates,
        reboot_required=bool(upd.get("reboot_required")),
        reboot_packages=tuple(str(p) for p in upd.get("reboot_packages") or ()),
        boot_id=str(upd.get("boot_id") or ""), machine_id=str(upd.get("machine_id") or ""))


def _groups(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in (node.get("children") or {}).values():
        if isinstance(child, Mapping):
            yield from _groups(child)


def _inventory_hosts(inventory: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for top in inventory.values():
        if isinstance(top, Mapping):
            for group in _groups(top):
                names.update(group.get("hosts") or ())
    return names


def _split_known(inventory: Mapping[str, Any], hosts: Sequence[str]) -> tuple[list[str], set[str]]:
    known = _inventory_hosts(inventory)
    return [h for h in dict.fromkeys(hosts) if h in known], {h for h in hosts if h not in known}


def _prepared(inventory: Mapping[str, Any], host_vars: Mapping[str, Mapping[str, Any]],
              ssh_config: Path | None) -> dict[str, Any]:
    """A copy of ``inventory`` with the run's host variables and the SSH config as a default for every host."""
    tree: dict[str, Any] = copy.deepcopy(dict(inventory))
    top = tree.setdefault("all", {})
    if ssh_config is not None:
        # in all.vars: the weakest place, so a group or host that sets its own SSH arguments keeps them
        top.setdefault("vars", {}).setdefault("ansible_ssh_common_args", f"-F {shlex.quote(str(ssh_config))}")
    if host_vars:
        hosts = top.setdefault("hosts", {})
        for name, hv in host_vars.items():
            hosts[name] = {**(hosts.get(name) or {}), **hv}
    return tree
