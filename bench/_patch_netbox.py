"""bench/patch's NetBox side: the `bench-patch` client on the lab's bench NetBox, through REST.

Idempotent: every object is looked up first and created (or corrected) only when missing or
different, so a second run sends GETs only. Modelled like lab/seed_demo.py's VMs: tenant (in no
tenant group, so the other benches' `tenant_group=bench` selections never see it), a site and a
Proxmox cluster for the tenant, VMs `bench-patch-01..N` (platform debian, role server, status
active) each with an interface eth0 and the host lab's address `<subnet>.(10+i)/32` as primary
IPv4. The custom fields `mspctl patch apply` writes back (last_patched, patch_compliance) are made
the way seed_demo.py's ensure_custom_fields makes them when the NetBox lacks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from _common import BenchError, log
from _netbox_api import NetBoxApi

TENANT = "bench-patch"
SITE = "bench-patch-dc"
CLUSTER = "bench-patch-pve"
CLUSTER_TYPE = "proxmox"
OBJECT_TYPES = ["dcim.device", "virtualization.virtualmachine"]
CUSTOM_FIELDS = {  # name: (label, type, object types)
    "patch_group": ("Patch group", "text", OBJECT_TYPES),
    "last_patched": ("Last patched", "datetime", OBJECT_TYPES),
    "patch_compliance": ("Patch compliance", "text", OBJECT_TYPES),
}


@dataclass(frozen=True)
class Vm:
    name: str
    id: int
    address: str  # without prefix length


def vm_name(i: int) -> str:
    return f"{TENANT}-{i:02d}"


def _ensure(api: NetBoxApi, path: str, lookup: Mapping[str, Any], body: Mapping[str, Any],
            created: list[str]) -> dict[str, Any]:
    """The object `lookup` finds, created from `body` when missing."""
    found = api.one(path, **lookup)
    if found is not None:
        return found
    created.append(f"{path.rstrip('/').rsplit('/', 1)[-1]} {body.get('name') or body.get('address')}")
    return api.request("POST", path, json=dict(body))  # type: ignore[no-any-return]


def ensure_custom_fields(api: NetBoxApi, created: list[str]) -> None:
    for name, (label, kind, types) in CUSTOM_FIELDS.items():
        cf = api.one("extras/custom-fields/", name=name)
        if cf is None:
            created.append(f"custom field {name}")
            api.request("POST", "extras/custom-fields/", json={
                "name": name, "label": label, "type": kind, "group_name": "mspctl", "object_types": types})
        elif not set(types) <= set(cf.get("object_types") or []):
            created.append(f"custom field {name} (object types)")
            api.request("PATCH", f"extras/custom-fields/{cf['id']}/",
                        json={"object_types": sorted({*types, *(cf.get("object_types") or [])})})


def ensure_client(netbox: Mapping[str, str], addresses: list[str]) -> list[Vm]:
    """Register the tenant and one VM per address (VM i gets addresses[i-1]); return the VMs."""
    api = NetBoxApi(netbox)
    created: list[str] = []
    ensure_custom_fields(api, created)
    platform = api.one("dcim/platforms/", slug="debian")
    role = api.one("dcim/device-roles/", slug="server")
    if platform is None or role is None:
        raise BenchError("the bench NetBox has no platform `debian` or role `server` (lab/seed_demo.py makes them)")
    ctype = _ensure(api, "virtualization/cluster-types/", {"slug": CLUSTER_TYPE},
                    {"name": "Proxmox VE", "slug": CLUSTER_TYPE}, created)
    tenant = _ensure(api, "tenancy/tenants/", {"slug": TENANT},
                     {"name": "Bench patch client", "slug": TENANT,
                      "description": "bench/patch: VMs backed by the host lab mspctl-b"}, created)
    site = _ensure(api, "dcim/sites/", {"slug": SITE},
                   {"name": "Bench patch DC", "slug": SITE, "status": "active", "tenant": tenant["id"]}, created)
    cluster = _ensure(api, "virtualization/clusters/", {"name": CLUSTER},
                      {"name": CLUSTER, "type": ctype["id"], "tenant": tenant["id"], "status": "active",
                       "scope_type": "dcim.site", "scope_id": site["id"]}, created)
    existing = {v["name"]: v for v in api.all("virtualization/virtual-machines/", tenant=TENANT,
                                               omit="config_context")}
    out = []
    for i, address in enumerate(addresses, 1):
        name = vm_name(i)
        want = {"status": "active", "platform": platform["id"], "role": role["id"], "site": site["id"],
                "cluster": cluster["id"], "tenant": tenant["id"]}
        vm = existing.get(name)
        if vm is None:
            created.append(f"vm {name}")
            vm = api.request("POST", "virtualization/virtual-machines/", json={
                "name": name, **want, "vcpus": 1, "memory": 512, "disk": 4,
                "custom_fields": {"patch_group": "servers-a"}})
        else:
            have = {"status": (vm.get("status") or {}).get("value"),
                    **{k: (vm.get(k) or {}).get("id") for k in want if k != "status"}}
            if have != want:
                created.append(f"vm {name} (fields)")
                vm = api.request("PATCH", f"virtualization/virtual-machines/{vm['id']}/", json=want)
        iface = _ensure(api, "virtualization/interfaces/", {"virtual_machine_id": vm["id"], "name": "eth0"},
                        {"virtual_machine": vm["id"], "name": "eth0"}, created)
        cidr = f"{address}/32"
        ip = api.one("ipam/ip-addresses/", address=cidr, vminterface_id=iface["id"])
        if ip is None:
            # an address left behind elsewhere (e.g. by an interrupted run) is reassigned, not duplicated
            ip = api.one("ipam/ip-addresses/", address=cidr, tenant=TENANT)
            body = {"address": cidr, "tenant": tenant["id"], "status": "active",
                    "assigned_object_type": "virtualization.vminterface", "assigned_object_id": iface["id"],
                    "dns_name": f"{name}.{TENANT}.example.net"}
            created.append(f"ip {cidr} -> {name}")
            ip = (api.request("PATCH", f"ipam/ip-addresses/{ip['id']}/", json=body) if ip is not None
                  else api.request("POST", "ipam/ip-addresses/", json=body))
        if (vm.get("primary_ip4") or {}).get("id") != ip["id"]:
            if not any(c.startswith(f"vm {name}") for c in created):
                created.append(f"vm {name} primary IPv4")
            vm = api.request("PATCH", f"virtualization/virtual-machines/{vm['id']}/", json={"primary_ip4": ip["id"]})
        out.append(Vm(name, int(vm["id"]), address))
    extra = sorted(set(existing) - {v.name for v in out})
    if extra:  # from an earlier run with more hosts: keep them out of the selection
        for name in extra:
            vm = existing[name]
            if (vm.get("status") or {}).get("value") != "offline":
                created.append(f"vm {name} -> offline")
                api.request("PATCH", f"virtualization/virtual-machines/{vm['id']}/", json={"status": "offline"})
    log(f"NetBox: tenant {TENANT}, {len(out)} VMs: " + (f"made/updated {len(created)} objects ("
        + ", ".join(created[:6]) + (" ..." if len(created) > 6 else "") + ")" if created else "all present"))
    return out
