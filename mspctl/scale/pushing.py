"""Pushes on workers: the `device.push` operation (`mspctl.scale.celery_backend`).

A push batch carries, per device, its NetBox object, its credentials' name and the digest of
the intended config the coordinator planned with, never the config itself (templates may
render secrets into it). The worker renders the intended config from its own clone of the MSP
repository and its own NetBox access, refuses the device when the digest differs (another
template, another NetBox state: MSP-EXEC-409), and runs the same `push_device` a local run
does. Its journal entries (intent, snapshot, sent, done...) go to the coordinator as events
before the worker goes on, and the coordinator writes them into the run's journal as they
arrive: a worker that dies mid-change leaves a journal that names the device, its snapshot and
what was sent, and the run records the device as `unfinished` (never pushed twice blindly),
for `mspctl config rollback --run` to restore from its snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mspctl.executor import TaskContext
from mspctl.scale.jobs import device_target, journal, operation, stopped, worker_settings


def intended_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def push_to_json(d: Any) -> dict[str, Any]:
    """A `DevicePush` as JSON (what the record keeps: scrubbed lines, digests, the asset)."""
    return {**d.to_dict(), "pre_config": d.pre_config, "pre_digest": d.pre_digest, "post_digest": d.post_digest,
            "asset": d.asset.to_dict(),
            "post_check": [{"feature": f.feature, "status": f.status, "missing": list(f.missing),
                            "extra": list(f.extra)} for f in d.post_check]}


def push_from_json(data: Mapping[str, Any]) -> Any:
    from mspctl.drift.compare import FeatureResult
    from mspctl.model import Asset
    from mspctl.push.service import DevicePush

    return DevicePush(Asset.from_dict(dict(data["asset"])), data["status"],
                      features=list(data.get("features") or []), commands=list(data.get("commands") or []),
                      accepted=list(data.get("accepted") or []), error=data.get("error"),
                      error_code=data.get("error_code"), rollback_commands=list(data.get("rollback_commands") or []),
                      post_check=[FeatureResult(f["feature"], f["status"], tuple(f.get("missing") or ()),
                                                tuple(f.get("extra") or ())) for f in data.get("post_check") or []],
                      pre_config=str(data.get("pre_config") or ""), snapshot=data.get("snapshot"),
                      self_revert=str(data.get("self_revert") or ""), pre_digest=str(data.get("pre_digest") or ""),
                      post_digest=str(data.get("post_digest") or ""), warnings=list(data.get("warnings") or []))


@operation("device.push")
def _device_push(params: Mapping[str, Any], spec: Mapping[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Plan (and with ``apply``, make) one device's change, as `mspctl config push` does locally."""
    from mspctl.drift.features import select_features
    from mspctl.inventory.platforms import PlatformMap
    from mspctl.inventory.service import open_inventory
    from mspctl.model import Asset
    from mspctl.push.service import DevicePush, PushOptions, push_device
    from mspctl.render.service import render_intended

    settings = worker_settings()
    asset = Asset.from_dict(dict(spec["asset"]))
    rendered = render_intended(settings, open_inventory(settings), [asset])[asset.key]
    if rendered.status != "ok" or intended_digest(rendered.text or "") != spec["intended_digest"]:
        why = rendered.error if rendered.status != "ok" else "another intended config than the coordinator planned"
        return push_to_json(DevicePush(asset, "failed", error=f"MSP-EXEC-409: this worker rendered {why}",
                                       error_code="MSP-EXEC-409"))
    features = select_features(settings.path(settings.config.features), list(params["features"]),
                               PlatformMap(settings.platforms))
    options = PushOptions(**dict(params["options"]))
    apply = bool(params["apply"])
    result = push_device(asset, device_target(spec), rendered.text or "", features, apply, ctx,
                         str(params["run_id"]), journal if apply else None, options, stopped)
    return push_to_json(result)
