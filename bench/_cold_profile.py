"""Where a cold ``mspctl inventory export --all-clients --format ansible`` spends its time.

Run as a script (by bench/inventory, in a fresh process with an empty MSPCTL_CACHE_PATH):
``python bench/_cold_profile.py OUT.json``. It times the imports, runs the real CLI in-process
with timing wrappers around the NetBox adapter, the cache and the renderer, records every HTTP
request, then probes what one page of 1,000 devices costs NetBox for a few query shapes.
The parent formats the JSON with `report()`.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
_timings: dict[str, list[float]] = defaultdict(list)
_requests: list[dict[str, Any]] = []
_lock = threading.Lock()


def _timed(name: str, func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            with _lock:
                _timings[name].append(time.perf_counter() - start)

    return wrapper


def _patch(obj: Any, attr: str, name: str) -> None:
    setattr(obj, attr, _timed(name, getattr(obj, attr)))


def _instrument() -> None:
    import requests
    import requests.models

    import mspctl.cli.inventory as cli_inventory
    from mspctl import settings
    from mspctl.adapters import cache, netbox
    from mspctl.cli import output
    from mspctl.inventory import ansible, service

    original_send = requests.Session.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        resp = original_send(self, request, **kwargs)
        end = time.perf_counter()
        with _lock:
            _requests.append({"url": request.url.split("/api/", 1)[-1], "start": start - T0, "end": end - T0,
                              "headers_s": resp.elapsed.total_seconds(), "bytes": len(resp.content),
                              "status": resp.status_code, "thread": threading.current_thread().name})
        return resp

    requests.Session.send = send  # type: ignore[method-assign]
    _patch(requests.models.Response, "json", "client: JSON decode (all responses, summed over threads)")
    _patch(settings, "load_settings", "client: load settings")
    _patch(netbox.NetBoxSource, "server_time", "netbox: GET status (server time)")
    _patch(netbox.NetBoxSource, "fetch_assets", "netbox: fetch_assets (pages + Asset objects)")
    _patch(netbox.NetBoxSource, "_paged", "netbox: _paged (HTTP + JSON, per listing)")
    _patch(netbox.NetBoxSource, "clients", "netbox: clients (tenants listing)")
    _patch(netbox, "asset_from_record", "client: asset_from_record (summed)")
    _patch(cache.InventoryCache, "__init__", "cache: open SQLite")
    _patch(cache.InventoryCache, "replace_all", "cache: replace_all (write)")
    _patch(service.InventoryService, "load", "service: load (fetch + cache write)")
    _patch(service.InventoryService, "select", "service: select (load + filter)")
    _patch(ansible, "to_ansible_list", "render: to_ansible_list")
    _patch(output, "to_json", "render: to_json")
    _patch(cli_inventory, "to_json", "render: to_json")


def _probe_server(api: str, token: str, page_size: int, workers: int) -> dict[str, Any]:
    """What NetBox needs per page of devices, by query shape, and what parallel pages gain."""
    import requests

    from mspctl.adapters.netbox import FIELDS

    s = requests.Session()
    s.headers.update({"Authorization": f"{'Bearer' if token.startswith('nbt_') else 'Token'} {token}",
                      "Accept": "application/json"})
    url = f"{api}/api/dcim/devices/"
    no_tags_cf = ",".join(f for f in FIELDS["device"].split(",") if f not in ("tags", "custom_fields"))
    shapes = {
        "mspctl today: fields=<15 fields>": {"fields": FIELDS["device"]},
        "fields= without tags,custom_fields": {"fields": no_tags_cf},
        "omit=config_context (every other field)": {"omit": "config_context"},
        "exclude=config_context (nb_inventory's; ignored by 4.7)": {"exclude": "config_context"},
        "brief=true": {"brief": "true"},
    }
    out: dict[str, Any] = {"page_size": page_size, "shapes": {}}
    for label, params in shapes.items():
        walls = []
        size = 0
        for _ in range(3):
            start = time.perf_counter()
            resp = s.get(url, params={**params, "limit": page_size, "offset": page_size}, timeout=120)
            resp.raise_for_status()
            walls.append(time.perf_counter() - start)
            size = len(resp.content)
        out["shapes"][label] = {"median_s": statistics.median(walls), "bytes": size}
    total = int(s.get(url, params={"limit": 1, "fields": "id"}, timeout=60).json()["count"])
    offsets = list(range(0, total, page_size))
    out["device_pages"] = len(offsets)

    def page(off: int) -> None:
        s.get(url, params={"fields": FIELDS["device"], "limit": page_size, "offset": off}, timeout=120)

    from concurrent.futures import ThreadPoolExecutor

    for n in sorted({1, workers}):
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(page, offsets))
        out[f"all_pages_{n}_threads_s"] = time.perf_counter() - start
    return out


def main(out_path: str) -> int:
    t_imports = time.perf_counter()
    import mspctl.cli  # the console script's import

    eager = time.perf_counter() - t_imports
    t_lazy = time.perf_counter()
    # What export imports on first use (deferred in mspctl); timed here so the run is pure work.
    import pynetbox  # noqa: F401
    import requests  # noqa: F401

    import mspctl.adapters.netbox
    import mspctl.inventory.ansible
    import mspctl.inventory.platforms
    import mspctl.inventory.service  # noqa: F401

    lazy = time.perf_counter() - t_lazy
    _instrument()

    from mspctl.cli.app import main as cli_main
    from mspctl.settings import load_settings

    real_stdout = sys.stdout
    start = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        try:
            rc = cli_main(["inventory", "export", "--all-clients", "--format", "ansible"], prog_name="mspctl",
                          standalone_mode=False)
        finally:
            sys.stdout = real_stdout
    run_s = time.perf_counter() - start
    settings = load_settings()
    data = {
        "imports_eager_s": eager,
        "imports_lazy_s": lazy,
        "run_s": run_s,
        "rc": rc if isinstance(rc, int) else 0,
        "run_start": start - T0,
        "timings": {k: {"total_s": sum(v), "calls": len(v)} for k, v in _timings.items()},
        "requests": sorted(_requests, key=lambda r: r["start"]),
        "workers": settings.netbox.workers,
        "page_size": settings.netbox.page_size,
        "cpus": os.cpu_count(),
    }
    data["probe"] = _probe_server(settings.netbox.url or "", settings.netbox.token or "",
                                  settings.netbox.page_size, settings.netbox.workers)
    Path(out_path).write_text(json.dumps(data, indent=2))
    return 0


def report(data: dict[str, Any], startup_s: float, process_wall_s: float) -> list[str]:
    """Human-readable lines for the JSON that `main` wrote."""
    lines = []
    req = data["requests"]
    t = data["timings"]

    def tot(key: str) -> float:
        return float(t.get(key, {}).get("total_s", 0.0))

    lines.append(f"  cold run in-process {data['run_s']:.2f} s, as a CLI process {process_wall_s:.2f} s "
                 f"(workers={data['workers']}, page_size={data['page_size']}, {data['cpus']} CPUs shared "
                 "with NetBox)")
    lines.append(f"  {'interpreter start (python -c pass)':<56}{startup_s:7.2f} s")
    lines.append(f"  {'import mspctl.cli (eager)':<56}{data['imports_eager_s']:7.2f} s")
    lines.append(f"  {'deferred imports (pynetbox, requests, service...)':<56}{data['imports_lazy_s']:7.2f} s")
    if req:
        span = req[-1]["end"] - req[0]["start"]
        lines.append(f"  {'HTTP: first request start -> last response':<56}{span:7.2f} s "
                     f"({len(req)} requests, {sum(r['bytes'] for r in req) / 1e6:.1f} MB)")
    for key in ("netbox: GET status (server time)", "netbox: fetch_assets (pages + Asset objects)",
                "netbox: _paged (HTTP + JSON, per listing)", "client: asset_from_record (summed)",
                "client: JSON decode (all responses, summed over threads)", "netbox: clients (tenants listing)",
                "cache: open SQLite", "cache: replace_all (write)", "render: to_ansible_list", "render: to_json",
                "client: load settings"):
        if key in t:
            lines.append(f"  {key:<56}{tot(key):7.2f} s  ({t[key]['calls']} calls)")
    lines.append("  requests (start..end relative to script start, thread):")
    for r in req:
        lines.append(f"    {r['start']:6.2f}..{r['end']:6.2f}  {r['end'] - r['start']:5.2f} s  "
                     f"{r['bytes'] / 1e3:8.0f} kB  {r['thread']:<26} {r['url'][:90]}")
    p = data["probe"]
    lines.append(f"  NetBox cost of ONE page of {p['page_size']} devices, sequential, median of 3:")
    for label, v in p["shapes"].items():
        lines.append(f"    {label:<58}{v['median_s']:6.2f} s  {v['bytes'] / 1e6:5.2f} MB")
    for k, v in p.items():
        if k.startswith("all_pages_"):
            n = k.split("_")[2]
            lines.append(f"  all {p['device_pages']} device pages with {n} thread(s): {v:.2f} s")
    return lines


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
