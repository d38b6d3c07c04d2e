"""Patch runs on workers: the scan and the apply of a batch of hosts as one ansible-runner run
on one worker (`mspctl.scale.celery_backend`).

`CeleryRunner` has the interface of `mspctl.adapters.ansible.AnsibleRunner` (``scan``, ``apply``),
so a patch window's plan, canary, gates and cutoff stay exactly as they are: each of its batches
is sent to the workers (split again by `[executor] batch_size`), and the window waits for it
before its gates decide on the next. The hosts' Ansible inventory travels with the batch (it
holds what NetBox says of the hosts, no secret); each worker pins host keys in its own
known_hosts. An apply is a change: a worker lost in the middle leaves its hosts `failed` with
MSP-EXEC-408 (unfinished), never patched twice blindly; the next scan tells what they have.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mspctl.patch.model import HostScan
from mspctl.scale.jobs import BATCH_OPERATIONS, RemoteTask

if TYPE_CHECKING:
    from mspctl.adapters.ansible import HostEvent, HostOutcome
    from mspctl.scale.celery_backend import CeleryExecutor
    from mspctl.settings import Settings


def outcome_to_json(o: HostOutcome) -> dict[str, Any]:
    return {"host": o.host, "status": o.status, "changed": o.changed, "failed_step": o.failed_step,
            "error": o.error, "rebooted": o.rebooted, "after": o.after.to_dict() if o.after else None,
            "installed": list(o.installed)}


def outcome_from_json(data: Mapping[str, Any]) -> HostOutcome:
    from mspctl.adapters.ansible import HostOutcome

    return HostOutcome(str(data["host"]), data["status"], bool(data["changed"]), data.get("failed_step"),
                       data.get("error"), bool(data.get("rebooted")),
                       HostScan.from_dict(data["after"]) if data.get("after") else None,
                       tuple(data.get("installed") or ()))


def subset(inventory: Mapping[str, Any], hosts: Sequence[str]) -> dict[str, Any]:
    """`inventory` (Ansible's YAML shape) with only `hosts`, in every group: a batch carries its
    own hosts, not the whole fleet's."""
    keep = set(hosts)

    def group(node: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in node.items() if k not in ("hosts", "children")}
        if "hosts" in node:
            out["hosts"] = {h: v for h, v in (node.get("hosts") or {}).items() if h in keep}
        if "children" in node:
            out["children"] = {name: group(child or {}) for name, child in (node.get("children") or {}).items()}
        return out

    return {name: group(node or {}) for name, node in inventory.items()}


@dataclass
class CeleryRunner:
    """An `AnsibleRunner` whose runs happen on the workers."""

    settings: Settings
    executor: CeleryExecutor

    def __enter__(self) -> CeleryRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    def scan(self, inventory: Mapping[str, Any], hosts: Sequence[str],
             on_event: Callable[[HostEvent], None] | None = None) -> dict[str, HostScan]:
        results = self._send("ansible.scan", inventory, hosts, {}, on_event, change=False)
        now = datetime.now(UTC)
        return {h: HostScan.from_dict(r.value) if r.ok and r.value else
                HostScan(h, now, reachable=False, error=r.error or "the worker returned no scan") for h, r in results}

    def apply(self, inventory: Mapping[str, Any], hosts: Sequence[str], host_vars: Mapping[str, Mapping[str, Any]],
              on_event: Callable[[HostEvent], None] | None = None) -> dict[str, HostOutcome]:
        from mspctl.adapters.ansible import HostOutcome

        results = self._send("ansible.apply", inventory, hosts, host_vars, on_event, change=True)
        return {h: outcome_from_json(r.value) if r.ok and r.value else
                HostOutcome(h, "failed", error=r.error or "the worker returned no outcome") for h, r in results}

    def _send(self, operation: str, inventory: Mapping[str, Any], hosts: Sequence[str],
              host_vars: Mapping[str, Mapping[str, Any]], on_event: Callable[[HostEvent], None] | None,
              change: bool) -> list[tuple[str, Any]]:
        from mspctl.adapters.ansible import HostEvent

        def progress(host: str, detail: str) -> None:
            task, _, status = detail.rpartition("|")
            if on_event is not None and status in ("ok", "changed", "failed", "unreachable", "skipped"):
                on_event(HostEvent(host, task, status))  # type: ignore[arg-type]

        def refuse(_ctx: Any) -> Any:
            raise RuntimeError("a patch batch runs on the workers")

        size = self.settings.executor.batch_size
        out: list[tuple[str, Any]] = []
        for start in range(0, len(hosts), size):  # one inventory per message: its own hosts only
            part = list(hosts[start:start + size])
            task: RemoteTask[Any] = RemoteTask(operation, refuse, {h: {"host_vars": dict(host_vars.get(h, {}))}
                                                                   for h in part},
                                               {"inventory": subset(inventory, part)}, change=change,
                                               run_id=operation.replace(".", "-"))
            longest = self.settings.executor.visibility_timeout - 10  # an ansible run: bounded by its playbook
            results = self.executor.dispatch(task, part, on_progress=progress, timeout=longest)
            out += [(r.target, r) for r in results]
        return out


def _worker_settings() -> Settings:
    from mspctl.scale.celery_backend import _This

    if _This.worker is None:
        raise RuntimeError("a patch batch runs in `mspctl worker` only")
    return _This.worker.settings


def _repinned(settings: Settings, inventory: Mapping[str, Any]) -> dict[str, Any]:
    """The batch's inventory with host keys pinned in this worker's own known_hosts."""
    from mspctl.patch.service import pin_host_keys

    tree: dict[str, Any] = json.loads(json.dumps(inventory))  # a copy: the message stays as it came
    pin_host_keys(settings, tree)
    return tree


def _scan(params: Mapping[str, Any], targets: Sequence[Mapping[str, Any]],
          progress: Callable[[str, str], None]) -> dict[str, Any]:
    from mspctl.patch.service import runner_for

    settings = _worker_settings()
    hosts = [str(t["key"]) for t in targets]
    with runner_for(settings) as runner:
        scans = runner.scan(_repinned(settings, params["inventory"]), hosts,
                            on_event=lambda e: progress(e.host, f"{e.task}|{e.status}"))
    return {h: s.to_dict() for h, s in scans.items()}


def _apply(params: Mapping[str, Any], targets: Sequence[Mapping[str, Any]],
           progress: Callable[[str, str], None]) -> dict[str, Any]:
    from mspctl.patch.service import runner_for

    settings = _worker_settings()
    hosts = [str(t["key"]) for t in targets]
    host_vars = {str(t["key"]): dict(t.get("host_vars") or {}) for t in targets}
    with runner_for(settings) as runner:
        outcomes = runner.apply(_repinned(settings, params["inventory"]), hosts, host_vars,
                                on_event=lambda e: progress(e.host, f"{e.task}|{e.status}"))
    return {h: outcome_to_json(o) for h, o in outcomes.items()}


BATCH_OPERATIONS["ansible.scan"] = _scan
BATCH_OPERATIONS["ansible.apply"] = _apply
