"""Run with NetBox's own interpreter: the benchmark data set, 5,000 devices across 50 clients.

Loaded through the ORM with bulk_create: the same data through REST costs 60-90 ms of server
CPU per device (19 minutes for 5,000). The bench clients sit in their own tenant group so
the demo clients stay recognisable beside them.
"""

from __future__ import annotations

import django

django.setup()

from dcim.models import Device, DeviceRole, DeviceType, Interface, Platform, Site  # noqa: E402
from django.db import transaction  # noqa: E402
from extras.models import Tag  # noqa: E402
from ipam.models import IPAddress  # noqa: E402
from tenancy.models import Tenant, TenantGroup  # noqa: E402

CLIENTS = 50
DEVICES_PER_CLIENT = 100
MIX = [  # (role, device type, platform, management interface)
    ("core-switch", "c9300-48p", "cisco_ios", "GigabitEthernet0/0"),
    ("access-switch", "dcs-7050sx3", "arista_eos", "Management1"),
    ("router", "isr4331", "cisco_ios", "GigabitEthernet0/0"),
    ("firewall", "srx345", "juniper_junos", "fxp0"),
    ("server", "poweredge-r650", "debian", "eth0"),
    ("server", "poweredge-r650", "ubuntu", "eth0"),
]


@transaction.atomic
def main() -> None:
    group, _ = TenantGroup.objects.get_or_create(slug="bench", defaults={"name": "Benchmark clients"})
    roles = {r.slug: r for r in DeviceRole.objects.all()}
    dtypes = {t.slug: t for t in DeviceType.objects.all()}
    plats = {p.slug: p for p in Platform.objects.all()}
    tags = list(Tag.objects.filter(slug__in=["pci", "critical"]))
    devices = []
    for c in range(1, CLIENTS + 1):
        tenant = Tenant.objects.create(slug=f"bench-{c:02d}", name=f"Bench Client {c:02d}", group=group,
                                       custom_field_data={"sla_tier": "silver"})
        site = Site.objects.create(slug=f"bench-{c:02d}-dc", name=f"Bench {c:02d} DC", tenant=tenant)
        for d in range(DEVICES_PER_CLIENT):
            role, dtype, plat, _ = MIX[d % len(MIX)]
            devices.append(Device(
                name=f"bench{c:02d}-{role}-{d:03d}", site=site, tenant=tenant, role=roles[role],
                device_type=dtypes[dtype], platform=plats[plat], serial=f"BN{c:02d}{d:05d}", status="active",
                custom_field_data={"patch_group": "servers-a" if d % 2 else "network",
                                   "maintenance_window": None}))
    Device.objects.bulk_create(devices, batch_size=1000)
    devices = list(Device.objects.filter(tenant__group=group).select_related("site", "platform"))
    ifaces = [Interface(device=dev, name=next(m[3] for m in MIX if m[2] == dev.platform.slug),
                        type="1000base-t", mgmt_only=True, _site=dev.site) for dev in devices]
    Interface.objects.bulk_create(ifaces, batch_size=1000)
    ips = [IPAddress(address=f"127.{100 + i // 65025}.{(i // 255) % 255}.{i % 255 + 1}/32",
                     assigned_object=iface, tenant_id=iface.device.tenant_id)
           for i, iface in enumerate(ifaces)]
    IPAddress.objects.bulk_create(ips, batch_size=1000)
    for dev, ip in zip(devices, ips, strict=True):
        dev.primary_ip4 = ip
    Device.objects.bulk_update(devices, ["primary_ip4"], batch_size=1000)
    through = Device.tags.through
    tag_rows = [through(content_object=dev, tag=tags[i % len(tags)]) for i, dev in enumerate(devices) if i % 5 == 0]
    through.objects.bulk_create(tag_rows, batch_size=1000)
    print(f"bench data: {CLIENTS} clients, {len(devices)} devices")


main()
