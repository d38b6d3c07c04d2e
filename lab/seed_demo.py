"""Run with NetBox's own interpreter: the demo MSP's data, through the ORM.

Three managed clients (tenants in the "managed-clients" group), their sites, network devices
and servers, config contexts with per-client overrides, custom fields and tags. The demo,
the tests and the benchmarks all read this same data; tests/lab_data.py mirrors its facts.
"""

from __future__ import annotations

import django

django.setup()

from core.models import ObjectType  # noqa: E402
from dcim.models import (  # noqa: E402
    Device,
    DeviceRole,
    DeviceType,
    Interface,
    Manufacturer,
    Platform,
    Site,
)
from extras.models import ConfigContext, CustomField, Tag  # noqa: E402
from ipam.models import IPAddress  # noqa: E402
from tenancy.models import Tenant, TenantGroup  # noqa: E402
from virtualization.models import Cluster, ClusterType, VirtualMachine, VMInterface  # noqa: E402

PLATFORMS = {
    "cisco_ios": ("Cisco IOS", "cisco"),
    "arista_eos": ("Arista EOS", "arista"),
    "juniper_junos": ("Juniper Junos", "juniper"),
    "debian": ("Debian", None),
    "ubuntu": ("Ubuntu", None),
}
MANUFACTURERS = {"cisco": "Cisco", "arista": "Arista", "juniper": "Juniper", "dell": "Dell"}
DEVICE_TYPES = {
    "c9300-48p": ("cisco", "C9300-48P"),
    "isr4331": ("cisco", "ISR4331"),
    "dcs-7050sx3": ("arista", "DCS-7050SX3-48YC8"),
    "srx345": ("juniper", "SRX345"),
    "poweredge-r650": ("dell", "PowerEdge R650"),
}
ROLES = {
    "core-switch": ("Core switch", "2196f3"),
    "access-switch": ("Access switch", "4caf50"),
    "router": ("Router", "ff9800"),
    "firewall": ("Firewall", "f44336"),
    "server": ("Server", "9e9e9e"),
}
TAGS = {"pci": "PCI scope", "critical": "Business critical", "backup-exempt": "Backup exempt"}
MGMT_IF = {"cisco_ios": "GigabitEthernet0/0", "arista_eos": "Management1", "juniper_junos": "fxp0",
           "debian": "eth0", "ubuntu": "eth0"}

# slug: (name, SLA tier, maintenance window, sites, devices, VMs)
# device: (name, site, role, type, platform, serial, mgmt IP, status, tags, patch group)
# vm: (name, platform, IP, status, tags, patch group)
CLIENTS = {
    "acme": {
        "name": "Acme Manufacturing", "sla": "gold", "window": "sat 22:00-02:00 Europe/Berlin",
        "sites": {"acme-hq": ("Acme HQ Berlin", "Europe/Berlin"), "acme-plant": ("Acme Plant Leipzig", "Europe/Berlin")},
        "devices": [
            ("acme-core-sw1", "acme-hq", "core-switch", "c9300-48p", "cisco_ios", "FCW2231L0AC", "127.20.1.1", "active", ["critical"], "network"),
            ("acme-edge-rtr1", "acme-hq", "router", "isr4331", "cisco_ios", "FDO2140A0XY", "127.20.1.2", "active", ["critical", "pci"], "network"),
            ("acme-dist-sw1", "acme-plant", "access-switch", "dcs-7050sx3", "arista_eos", "JPE19181234", "127.20.1.3", "active", [], "network"),
            # offline: being replaced (and the lab simulates no Junos), so device runs skip it by default
            ("acme-fw1", "acme-hq", "firewall", "srx345", "juniper_junos", "CY0218AF0042", "127.20.1.4", "offline", ["pci"], "network"),
            ("acme-backup01", "acme-hq", "server", "poweredge-r650", "debian", "7XK2HJ3", "10.250.0.11", "active", ["backup-exempt"], "servers-b"),
        ],
        "vms": [
            ("acme-web01", "debian", "10.250.0.12", "active", ["pci"], "servers-a"),
            ("acme-db01", "debian", "10.250.0.13", "active", ["pci", "critical"], "servers-b"),
            ("acme-app01", "debian", "10.250.0.14", "active", [], "servers-a"),
            ("acme-mail01", "debian", "10.250.0.15", "active", [], "servers-a"),
        ],
    },
    "globex": {
        "name": "Globex Logistics", "sla": "silver", "window": "sun 01:00-05:00 America/Chicago",
        "sites": {"globex-dc1": ("Globex DC1 Chicago", "America/Chicago")},
        "devices": [
            ("globex-core-sw1", "globex-dc1", "core-switch", "dcs-7050sx3", "arista_eos", "JPE20010001", "127.20.2.1", "active", ["critical"], "network"),
            ("globex-core-sw2", "globex-dc1", "core-switch", "dcs-7050sx3", "arista_eos", "JPE20010002", "127.20.2.2", "active", ["critical"], "network"),
            ("globex-rtr1", "globex-dc1", "router", "isr4331", "cisco_ios", "FDO2201B1AB", "127.20.2.3", "active", [], "network"),
            ("globex-acc-sw9", "globex-dc1", "access-switch", "c9300-48p", "cisco_ios", "FCW2301L9ZZ", "127.20.2.9", "planned", [], "network"),
        ],
        "vms": [
            ("globex-app01", "debian", "127.30.2.11", "active", [], "servers-a"),
            ("globex-app02", "debian", "127.30.2.12", "active", [], "servers-b"),
        ],
    },
    "initech": {
        "name": "Initech Dental", "sla": "bronze", "window": "wed 20:00-23:00 America/New_York",
        "sites": {"initech-office": ("Initech Office Austin", "America/Chicago")},
        "devices": [
            ("initech-rtr1", "initech-office", "router", "isr4331", "cisco_ios", "FDO2033C2CD", "127.20.3.1", "active", [], "network"),
            ("initech-sw1", "initech-office", "access-switch", "c9300-48p", "cisco_ios", "FCW2044L3EF", "127.20.3.2", "active", [], "network"),
        ],
        "vms": [
            ("initech-files01", "debian", "127.30.3.11", "active", [], "servers-a"),
            ("initech-legacy01", "ubuntu", "127.30.3.12", "offline", ["backup-exempt"], "servers-a"),
        ],
    },
}


def ensure_custom_fields() -> None:
    tenant_ot = ObjectType.objects.get_for_model(Tenant)
    device_ot = ObjectType.objects.get_for_model(Device)
    vm_ot = ObjectType.objects.get_for_model(VirtualMachine)
    specs = [
        ("sla_tier", "SLA tier", "text", [tenant_ot]),
        ("maintenance_window", "Maintenance window", "text", [tenant_ot, device_ot, vm_ot]),
        ("patch_group", "Patch group", "text", [device_ot, vm_ot]),
        # a per-host override of the baseline that inventory/clients.yml assigns
        ("patch_baseline", "Patch baseline", "text", [device_ot, vm_ot]),
        # written back by `mspctl patch apply|window`
        ("last_patched", "Last patched", "datetime", [device_ot, vm_ot]),
        ("patch_compliance", "Patch compliance", "text", [device_ot, vm_ot]),
        # pinned by `mspctl patch apply|window` at first contact, checked on every run
        ("machine_id", "Machine ID", "text", [device_ot, vm_ot]),
    ]
    for name, label, kind, types in specs:
        cf, _ = CustomField.objects.get_or_create(
            name=name, defaults={"label": label, "type": kind, "group_name": "mspctl" if name != "sla_tier" else ""})
        cf.object_types.set(types)


def main() -> None:
    ensure_custom_fields()
    for slug, name in MANUFACTURERS.items():
        Manufacturer.objects.get_or_create(slug=slug, defaults={"name": name})
    platforms = {}
    for slug, (name, mfr) in PLATFORMS.items():
        platforms[slug], _ = Platform.objects.get_or_create(
            slug=slug, defaults={"name": name, "manufacturer": Manufacturer.objects.get(slug=mfr) if mfr else None})
    dtypes = {}
    for slug, (mfr, model) in DEVICE_TYPES.items():
        dtypes[slug], _ = DeviceType.objects.get_or_create(
            slug=slug, defaults={"model": model, "manufacturer": Manufacturer.objects.get(slug=mfr)})
    roles = {}
    for slug, (name, color) in ROLES.items():
        roles[slug], _ = DeviceRole.objects.get_or_create(slug=slug, defaults={"name": name, "color": color})
    tags = {}
    for slug, name in TAGS.items():
        tags[slug], _ = Tag.objects.get_or_create(slug=slug, defaults={"name": name})
    group, _ = TenantGroup.objects.get_or_create(slug="managed-clients", defaults={"name": "Managed clients"})
    ctype, _ = ClusterType.objects.get_or_create(slug="proxmox", defaults={"name": "Proxmox VE"})

    ConfigContext.objects.get_or_create(name="msp-baseline", defaults={"weight": 1000, "data": {
        "ntp_servers": ["192.0.2.123", "192.0.2.124"],
        "syslog_servers": ["192.0.2.50"],
        "snmp": {"location": "managed by Northwind MSP", "community_ref": "snmp-ro"},
        "banner": "Authorized access only. Managed by Northwind MSP.",
        "dns_servers": ["192.0.2.53"],
    }})

    for slug, spec in CLIENTS.items():
        tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": spec["name"], "group": group})
        tenant.custom_field_data.update({"sla_tier": spec["sla"], "maintenance_window": spec["window"]})
        tenant.save()
        sites = {}
        for sslug, (sname, tz) in spec["sites"].items():
            sites[sslug], _ = Site.objects.get_or_create(
                slug=sslug, defaults={"name": sname, "tenant": tenant, "time_zone": tz, "status": "active"})
        cluster, _ = Cluster.objects.get_or_create(
            name=f"{slug}-pve", defaults={"type": ctype, "tenant": tenant, "scope": next(iter(sites.values()))})
        for (dname, site, role, dtype, plat, serial, ip, status, dtags, pgroup) in spec["devices"]:
            dev = Device.objects.create(
                name=dname, site=sites[site], role=roles[role], device_type=dtypes[dtype],
                platform=platforms[plat], serial=serial, tenant=tenant, status=status,
                custom_field_data={"patch_group": pgroup, "maintenance_window": None})
            dev.tags.set([tags[t] for t in dtags])
            mgmt = Interface.objects.create(device=dev, name=MGMT_IF[plat], type="1000base-t", mgmt_only=True)
            Interface.objects.create(device=dev, name="uplink1" if plat in ("debian", "ubuntu") else
                                     {"cisco_ios": "GigabitEthernet1/0/1", "arista_eos": "Ethernet1",
                                      "juniper_junos": "ge-0/0/0"}[plat], type="10gbase-x-sfpp")
            addr = IPAddress.objects.create(address=f"{ip}/32", tenant=tenant, assigned_object=mgmt,
                                            dns_name=f"{dname}.{slug}.example.net")
            dev.primary_ip4 = addr
            dev.save()
        for (vname, plat, ip, status, vtags, pgroup) in spec["vms"]:
            vm = VirtualMachine.objects.create(
                name=vname, cluster=cluster, site=cluster.scope, tenant=tenant, platform=platforms[plat],
                role=roles["server"], status=status, vcpus=2, memory=4096, disk=40,
                custom_field_data={"patch_group": pgroup, "maintenance_window": None})
            vm.tags.set([tags[t] for t in vtags])
            vif = VMInterface.objects.create(virtual_machine=vm, name="eth0")
            addr = IPAddress.objects.create(address=f"{ip}/32", tenant=tenant, assigned_object=vif,
                                            dns_name=f"{vname}.{slug}.example.net")
            vm.primary_ip4 = addr
            vm.save()

    # Per-client overrides: a heavier weight wins on the keys it sets.
    acme_ctx, _ = ConfigContext.objects.get_or_create(name="acme-overrides", defaults={"weight": 2000, "data": {
        "ntp_servers": ["198.51.100.1", "198.51.100.2"],
        "banner": "Acme Manufacturing - authorized staff only.",
    }})
    acme_ctx.tenants.set([Tenant.objects.get(slug="acme")])
    globex_ctx, _ = ConfigContext.objects.get_or_create(name="globex-overrides", defaults={"weight": 2000, "data": {
        "syslog_servers": ["198.51.100.50", "198.51.100.51"],
        "snmp": {"location": "Globex DC1", "community_ref": "globex-snmp"},
    }})
    globex_ctx.tenants.set([Tenant.objects.get(slug="globex")])
    pci_ctx, _ = ConfigContext.objects.get_or_create(name="pci-hardening", defaults={"weight": 3000, "data": {
        "pci": True, "login_block": {"attempts": 3, "within_seconds": 60},
    }})
    pci_ctx.tags.set([tags["pci"]])
    print(f"demo data: {Tenant.objects.filter(group=group).count()} clients, "
          f"{Device.objects.count()} devices, {VirtualMachine.objects.count()} VMs")


main()
