"""Where an ``mspctl inventory export --all-clients --format ansible`` run spends its time.

Run as a script by bench/inventory, in a fresh process whose MSPCTL_CACHE_PATH is empty (cold)
or filled (warm): ``python bench/_profile.py OUT.json [--probe] [MSPCTL GLOBAL FLAGS...]``.
It times the imports, runs the real CLI in-process with timing wrappers around the NetBox
adapter, the cache and the renderer, and records every HTTP request. With --probe it then asks
NetBox for one page of 1,000 devices in a few query shapes, to show what the server pays.
The parent formats the JSON with `report()`. Wrappers are best-effort: a function that the
adapter no longer has is simply not timed.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
EXPORT = ["inventory", "export", "--all-clients", "--format", "ansible"]
_timings: dict[str, list[float]] = defaultdict(list)
_requests: list[dict[str, Any]] = []
_lock = threading.Lock()

# (module, class or None, attribute, label), in report order
TARGETS = [
    ("mspctl.settings", None, "load_settings", "client: load settings"),
    ("mspctl.adapters.cache", "InventoryCache", "__init__", "cache: open SQLite"),
    ("mspctl.inventory.service", "InventoryService", "load", "service: load (all of the data work)"),
    ("mspctl.inventory.service", "InventoryService", "_delta", "service: delta refresh"),
    ("mspctl.adapters.netbox", "NetBoxSource", "server_time", "netbox: server_time (GET status)"),
    ("mspctl.adapters.netbox", "NetBoxSource", "fetch_assets", "netbox: fetch_assets"),
    ("mspctl.adapters.netbox", "NetBoxSource", "_fetch_all_graphql", "netbox: GraphQL full read"),
    ("mspctl.adapters.netbox", "NetBoxSource", "_paged", "netbox: REST listings (_paged)"),
    ("mspctl.adapters.netbox", "NetBoxSource", "count_assets", "netbox: count_assets"),
    ("mspctl.adapters.netbox", "NetBoxSource", "asset_ids", "netbox: asset_ids"),
    ("mspctl.adapters.netbox", "NetBoxSource", "clients", "netbox: clients (tenants)"),
    ("mspctl.adapters.netbox", None, "asset_from_record", "client: asset_from_record (summed)"),
    ("requests.models", "Response", "json", "client: JSON decode (summed over threads)"),
    ("mspctl.adapters.cache", "InventoryCache", "replace_all", "cache: replace_all"),
    ("mspctl.adapters.cache", "InventoryCache", "apply_delta", "cache: apply_delta"),
    ("mspctl.adapters.cache", "InventoryCache", "assets", "cache: read assets"),
    ("mspctl.inventory.ansible", None, "to_ansible_list", "render: to_ansible_list"),
    ("mspctl.cli.output", None, "to_json", "render: to_json"),
    ("mspctl.cli.inventory", None, "to_json", "render: to_json"),
]


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


def _instrument() -> None:
    import importlib

    import requests

    for module, cls, attr, label in TARGETS:
        owner: Any = importlib.import_module(module)
        if cls is not None:
            owner = getattr(owner, cls, None)
        if owner is not None and hasattr(owner, attr):
            setattr(owner, attr, _timed(label, getattr(owner, attr)))

    original_send = requests.Session.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        resp = original_send(self, request, **kwargs)
        end = time.perf_counter()
        what = request.url.split("/api/", 1)[-1] if "/api/" in request.url else request.url.rsplit("/", 2)[-2] + "/"
        if request.body and b"query" in (request.body if isinstance(request.body, bytes) else request.body.encode()):
            body = request.body if isinstance(request.body, str) else request.body.decode()
            what += " " + " ".join(json.loads(body)["query"].split())[:70]
        with _lock:
            _requests.append({"what": what, "start": start - T0, "end": end - T0, "bytes": len(resp.content),
                              "status": resp.status_code, "thread": threading.current_thread().name})
        return resp

    requests.Session.send = send  # type: ignore[method-assign]


def _probe_server(api: str, token: str, page_size: int, workers: int) -> dict[str, Any]:
    """What NetBox needs for one page of devices, by query shape, and what parallel pages gain."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from mspctl.adapters import netbox

    s = requests.Session()
    s.headers.update({"Authorization": f"{'Bearer' if token.startswith('nbt_') else 'Token'} {token}",
                      "Accept": "application/json"})
    url = f"{api}/api/dcim/devices/"
    fields = netbox.FIELDS["device"]
    no_tags = ",".join(f for f in fields.split(",") if f != "tags")
    gql = getattr(netbox, "GRAPHQL", {}).get("device")
    if gql is None:
        gql = ("device_list", "id name serial last_updated status tenant { slug } site { slug } role { slug } "
                              "platform { slug } primary_ip4 { address } primary_ip6 { address } cluster { name } "
                              "tags { slug } custom_fields device_type { slug manufacturer { slug } }")
    shapes: dict[str, tuple[str, dict[str, Any]]] = {
        "REST fields=<mspctl's 15>": ("GET", {"fields": fields}),
        "REST fields=<the same without tags>": ("GET", {"fields": no_tags}),
        "REST omit=config_context (all other fields)": ("GET", {"omit": "config_context"}),
        "REST exclude=config_context (nb_inventory's)": ("GET", {"exclude": "config_context"}),
        "REST brief=true (not enough data)": ("GET", {"brief": "true"}),
        "GraphQL device_list, mspctl's fields": ("POST", {}),
    }
    out: dict[str, Any] = {"page_size": page_size, "shapes": {}}
    # Interleaved rounds, so a slow spell on this shared machine hits every shape alike.
    walls: dict[str, list[float]] = defaultdict(list)
    sizes: dict[str, int] = {}
    for _ in range(3):
        for label, (method, params) in shapes.items():
            start = time.perf_counter()
            if method == "GET":
                query: dict[str, Any] = {**params, "limit": page_size, "offset": page_size}
                resp = s.get(url, params=query, timeout=120)
            else:
                q = f"query {{ {gql[0]}(pagination: {{offset: {page_size}, limit: {page_size}}}) {{ {gql[1]} }} }}"
                resp = s.post(f"{api}/graphql/", json={"query": q}, timeout=120)
            walls[label].append(time.perf_counter() - start)
            sizes[label] = len(resp.content) if resp.ok else -resp.status_code
    for label in shapes:
        out["shapes"][label] = {"median_s": statistics.median(walls[label]), "min_s": min(walls[label]),
                                "bytes": sizes[label]}
    count_query: dict[str, Any] = {"limit": 1, "fields": "id"}
    total = int(s.get(url, params=count_query, timeout=60).json()["count"])
    offsets = list(range(0, total, page_size))
    out["device_pages"] = len(offsets)

    def page(off: int) -> None:
        query: dict[str, Any] = {"fields": fields, "limit": page_size, "offset": off}
        s.get(url, params=query, timeout=120)

    out["parallel"] = {}
    for n in sorted({1, 2, workers}):
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(page, offsets))
        out["parallel"][str(n)] = time.perf_counter() - start
    return out


def main(argv: list[str]) -> int:
    out_path, rest = argv[0], argv[1:]
    probe = "--probe" in rest
    flags = [a for a in rest if a != "--probe"]
    t = time.perf_counter()
    import mspctl.cli  # what the console script imports

    eager = time.perf_counter() - t
    t = time.perf_counter()
    # What export imports on first use (deferred in mspctl), timed apart so the run is pure work.
    import pynetbox  # noqa: F401
    import requests  # noqa: F401

    import mspctl.adapters.netbox
    import mspctl.inventory.ansible
    import mspctl.inventory.platforms
    import mspctl.inventory.service  # noqa: F401

    lazy = time.perf_counter() - t
    _instrument()
    from mspctl.cli.app import main as cli_main
    from mspctl.settings import load_settings

    real_stdout = sys.stdout
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        try:
            rc = cli_main([*flags, *EXPORT], prog_name="mspctl", standalone_mode=False)
        finally:
            sys.stdout = real_stdout
    run_s = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    settings = load_settings()
    data: dict[str, Any] = {
        "flags": flags,
        "imports_eager_s": eager,
        "imports_lazy_s": lazy,
        "run_s": run_s,
        "run_cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "rc": rc if isinstance(rc, int) else 0,
        "timings": {k: {"total_s": sum(v), "calls": len(v)} for k, v in _timings.items()},
        "requests": sorted(_requests, key=lambda r: r["start"]),
        "workers": settings.netbox.workers,
        "page_size": settings.netbox.page_size,
        "cpus": os.cpu_count(),
    }
    if probe:
        data["probe"] = _probe_server(settings.netbox.url or "", settings.netbox.token or "",
                                      settings.netbox.page_size, settings.netbox.workers)
    Path(out_path).write_text(json.dumps(data, indent=2))
    return 0


def report(data: dict[str, Any], startup_s: float, process_wall_s: float) -> list[str]:
    """Human-readable lines for the JSON that `main` wrote."""
    req, t = data["requests"], data["timings"]
    lines = [
        f"  in-process run {data['run_s']:.2f} s (client CPU {data['run_cpu_s']:.2f} s); the CLI process median "
        f"was {process_wall_s:.2f} s. workers={data['workers']}, page_size={data['page_size']}, "
        f"{data['cpus']} CPUs shared with NetBox",
        f"  {'interpreter start (python -c pass)':<52}{startup_s:7.3f} s",
        f"  {'import mspctl.cli':<52}{data['imports_eager_s']:7.3f} s",
        f"  {'deferred imports (pynetbox, requests, service ...)':<52}{data['imports_lazy_s']:7.3f} s",
    ]
    if req:
        span = req[-1]["end"] - req[0]["start"]
        lines.append(f"  {'HTTP: first request start -> last response end':<52}{span:7.3f} s  ({len(req)} requests, "
                     f"{sum(r['bytes'] for r in req) / 1e6:.1f} MB)")
    for _, _, _, label in TARGETS:
        if label in t and not any(line.startswith(f"  {label}") for line in lines):
            lines.append(f"  {label:<52}{t[label]['total_s']:7.3f} s  ({t[label]['calls']} calls)")
    lines.append("  requests (start..end in s from process start; thread; size):")
    for r in req:
        lines.append(f"    {r['start']:5.2f}..{r['end']:5.2f} {r['end'] - r['start']:5.2f}s {r['thread'][-20:]:<20}"
                     f"{r['bytes'] / 1e3:7.0f} kB  {r['what'][:88]}")
    p = data.get("probe")
    if p:
        lines.append(f"  NetBox, ONE page of {p['page_size']} devices (3 interleaved rounds): median / min")
        for label, v in p["shapes"].items():
            size = f"{v['bytes'] / 1e6:5.2f} MB" if v["bytes"] >= 0 else f"HTTP {-v['bytes']}"
            lines.append(f"    {label:<48}{v['median_s']:6.2f} s / {v['min_s']:5.2f} s  {size}")
        par = ", ".join(f"{n} thread(s) {s:.2f} s" for n, s in p["parallel"].items())
        lines.append(f"  all {p['device_pages']} REST device pages (mspctl's fields): {par}")
    return lines


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
