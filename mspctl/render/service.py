"""Render intended configurations for many devices; one device's error never stops the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from mspctl.errors import MspctlError, PathEscapeError
from mspctl.files import path_in, write_atomic
from mspctl.inventory.filters import AssetFilter
from mspctl.inventory.platforms import PlatformMap
from mspctl.inventory.service import InventoryService, Mode
from mspctl.model import Asset, Client, DeviceDetails, Interface
from mspctl.render.engine import TemplateEngine
from mspctl.settings import Settings

RenderStatus = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class RenderResult:
    asset: Asset
    status: RenderStatus
    template: str | None = None
    text: str | None = None
    error: str | None = None
    error_code: str | None = None
    file: Path | None = None  # where `render --out` wrote it

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.asset.name, "client": self.asset.client, "platform": self.asset.platform,
                "status": self.status, "template": self.template, "config": self.text,
                "error": self.error, "error_code": self.error_code,
                "file": str(self.file) if self.file is not None else None}


def config_file(out_dir: Path, asset: Asset) -> Path:
    """``<out_dir>/<client>/<device>.cfg``, the names encoded by `mspctl.files.path_in` (ordinary
    names unchanged; a device without a client goes under ``no-client``). Raises PathEscapeError."""
    return path_in(out_dir, asset.client or "no-client", asset.name, suffix=".cfg")


def write_configs(results: Sequence[RenderResult], out_dir: Path) -> list[RenderResult]:
    """Write each rendered config to its `config_file` in `out_dir`, atomically.

    Returns `results` with ``file`` set on those written; a device whose file would resolve outside
    `out_dir` (a symbolic link inside it) is not written and comes back failed with MSP-PATH-400.
    """
    out = []
    for r in results:
        if r.status != "ok" or r.text is None:
            out.append(r)
            continue
        try:
            path = config_file(out_dir, r.asset)
        except PathEscapeError as exc:
            out.append(replace(r, status="failed", error=exc.message, error_code=exc.code))
            continue
        write_atomic(path, r.text)
        out.append(replace(r, file=path))
    return out


_DEVICE_FIELDS = [f.name for f in fields(Asset) if f.name not in ("config_context", "tags", "custom_fields")]
_INTERFACE_FIELDS = [f.name for f in fields(Interface)]


def build_context(asset: Asset, details: DeviceDetails, client: Client | None) -> dict[str, Any]:
    """What a template sees. ``config_context`` keys are also available at the top level.

    Built field by field: `dataclasses.asdict` deep-copies recursively and was a third of the
    render time over 10,000 devices. Values are plain scalars, so shallow copies are enough.
    """
    device: dict[str, Any] = {name: getattr(asset, name) for name in _DEVICE_FIELDS}
    device["tags"] = list(asset.tags)
    device["custom_fields"] = dict(asset.custom_fields)
    context: dict[str, Any] = dict(details.config_context)
    context.update({
        "device": device,
        "config_context": details.config_context,
        "interfaces": [{name: getattr(i, name) for name in _INTERFACE_FIELDS} for i in details.interfaces],
        "client": {"slug": asset.client, "name": client.name if client else asset.client,
                   "custom_fields": client.custom_fields if client else {}},
        "site": {"slug": asset.site},
        "tags": list(asset.tags),
    })
    return context


def render_devices(assets: Sequence[Asset], details: Mapping[int, DeviceDetails], engine: TemplateEngine,
                   clients: Mapping[str, Client]) -> list[RenderResult]:
    """Render each device's ``<platform>/main.j2``; devices without a template are skipped."""
    out = []
    for asset in assets:
        name = engine.template_for(asset.platform, asset.name, asset.key)
        if not engine.has_template(asset.platform, asset.name, asset.key):
            out.append(RenderResult(asset, "skipped", error=f"no template {name or 'assigned in NetBox'}"))
            continue
        ctx = build_context(asset, details.get(asset.id, DeviceDetails({}, ())),
                            clients.get(asset.client or ""))
        try:
            text = engine.render(asset.platform, asset.name, ctx, asset.key)
        except MspctlError as exc:
            out.append(RenderResult(asset, "failed", engine.display_name(name), error=exc.message,
                                    error_code=exc.code))
            continue
        out.append(RenderResult(asset, "ok", engine.display_name(name), text=text))
    return out


def render_intended(settings: Settings, inventory: InventoryService, assets: Sequence[Asset],
                    mode: Mode = "auto") -> dict[str, RenderResult]:
    """The intended configuration of `assets` from the repository's templates, by asset key (`kind:id`)."""
    engine = TemplateEngine(settings.path(settings.config.templates), limits=settings.render,
                            platforms=PlatformMap(settings.platforms))
    results = render_devices(assets, inventory.details(assets), engine, inventory.clients_by_slug(mode))
    return {r.asset.key: r for r in results}


def render_configs(settings: Settings, inventory: InventoryService, flt: AssetFilter,
                   mode: Mode = "auto", templates: Literal["repo", "netbox"] = "repo") -> list[RenderResult]:
    """Select network devices, fetch their rendering data from NetBox, render them all.

    `templates`: the repository's templates/ folder, or the config templates assigned in NetBox
    (device, else role, else platform), rendered in Jinja's sandbox because anyone with NetBox
    write access can change them.
    """
    selected = inventory.select(flt, mode).assets
    devices = [a for a in selected if a.kind == "device"]
    if not devices:
        from mspctl.errors import NoMatchError

        raise NoMatchError(f"no device matches {flt.describe()} (VMs have no device configuration)")
    if templates == "netbox":
        # Keyed by NetBox id: two config templates may share a name. Errors name both.
        assigned = {device_id: (f"netbox:{nb_id}", name, code, nb_id)
                    for device_id, (name, code, nb_id) in inventory.config_templates(devices).items()}
        engine = TemplateEngine(Path("netbox"), sandboxed=True, limits=settings.render,
                                platforms=PlatformMap(settings.platforms),
                                sources={key: code for key, _, code, _ in assigned.values()},
                                origins={key: (name, nb_id) for key, name, _, nb_id in assigned.values()},
                                per_device={d.key: assigned[d.id][0] for d in devices if d.id in assigned})
    else:
        engine = TemplateEngine(settings.path(settings.config.templates), limits=settings.render,
                                platforms=PlatformMap(settings.platforms))
    return render_devices(devices, inventory.details(devices), engine, inventory.clients_by_slug(mode))
