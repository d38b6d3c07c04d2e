"""Run with NetBox's own interpreter, after seed_demo.py: the brownfield client, through the ORM.

Hooli Media is a client an MSP takes over: its devices were configured by hand for years
(lab/brownfield/configs, loaded verbatim into the simulator by lab/brownfield.py). NetBox models
only what the MSP documented at onboarding: each device, its management interface and address,
a loopback, and the client's NTP and syslog servers. Everything else on the devices (dozens of
ports, AAA, users and keys, routing, banners other than the MSP's) is NetBox's blind spot, and
a push with the default features must leave it alone.
"""

from __future__ import annotations

import django

django.setup()

from dcim.models import Device, DeviceRole, DeviceType, Interface, Platform, Site  # noqa: E402
from extras.models import ConfigContext, Tag  # noqa: E402
from ipam.models import IPAddress  # noqa: E402
from tenancy.models import Tenant, TenantGroup  # noqa: E402

# lab/brownfield.py reads serials, addresses and platforms back from NetBox for the device spec.
# name: (role, type, platform, serial, mgmt interface, mgmt IP, tags, [(interface, type, description, address)])
DEVICES = {
    "hooli-core-sw1": ("core-switch", "c9300-48p", "cisco_ios", "FOC2415X0QZ", "GigabitEthernet0/0", "127.20.9.1",
                       ["critical"], [("Loopback0", "virtual", "Router-ID / TACACS source", "10.255.0.1/32")]),
    "hooli-wan-rtr1": ("router", "isr4331", "cisco_ios", "FDO2231M1HZ", "GigabitEthernet0/0", "127.20.9.2",
                       ["pci"], [("Loopback0", "virtual", "Router-ID / management source", "10.255.0.2/32")]),
    "hooli-leaf1": ("access-switch", "dcs-7050sx3", "arista_eos", "JPE21150042", "Management1", "127.20.9.3",
                    [], [("Loopback0", "virtual", "EVPN_Overlay_Peering", "10.255.1.3/32")]),
}


def main() -> None:
    group = TenantGroup.objects.get(slug="managed-clients")
    tenant, _ = Tenant.objects.get_or_create(slug="hooli", defaults={"name": "Hooli Media", "group": group})
    tenant.custom_field_data.update({"sla_tier": "gold", "maintenance_window": "sun 02:00-05:00 America/Los_Angeles"})
    tenant.save()
    site, _ = Site.objects.get_or_create(slug="hooli-hq", defaults={
        "name": "Hooli HQ Palo Alto", "tenant": tenant, "time_zone": "America/Los_Angeles", "status": "active"})
    for name, (role, dtype, plat, serial, mgmt_if, ip, tags, extra) in DEVICES.items():
        dev = Device.objects.create(
            name=name, site=site, role=DeviceRole.objects.get(slug=role), device_type=DeviceType.objects.get(slug=dtype),
            platform=Platform.objects.get(slug=plat), serial=serial, tenant=tenant, status="active",
            custom_field_data={"patch_group": "network", "maintenance_window": None})
        dev.tags.set([Tag.objects.get(slug=t) for t in tags])
        mgmt = Interface.objects.create(device=dev, name=mgmt_if, type="1000base-t", mgmt_only=True)
        addr = IPAddress.objects.create(address=f"{ip}/32", tenant=tenant, assigned_object=mgmt,
                                        dns_name=f"{name}.hooli.example.net")
        dev.primary_ip4 = addr
        dev.save()
        for if_name, if_type, description, address in extra:
            intf = Interface.objects.create(device=dev, name=if_name, type=if_type, description=description)
            if address:
                IPAddress.objects.create(address=address, tenant=tenant, assigned_object=intf)
    ctx, _ = ConfigContext.objects.get_or_create(name="hooli-overrides", defaults={"weight": 2000, "data": {
        "ntp_servers": ["10.1.1.1", "10.1.1.2"],
        "syslog_servers": ["10.1.1.60"],
        "dns_servers": ["10.1.1.10", "10.1.1.11"],
        "snmp": {"location": "Hooli HQ, Palo Alto", "community_ref": "hooli-snmp"},
    }})
    ctx.tenants.set([tenant])
    print(f"brownfield data: client hooli, {Device.objects.filter(tenant=tenant).count()} devices")


main()
