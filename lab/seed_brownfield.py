"""Run with NetBox's own interpreter, after seed_demo.py: the brownfield client, through the ORM.

Hooli Media is a client an MSP takes over: its devices were configured by hand for years
(lab/brownfield/configs, loaded verbatim into the simulator by lab/brownfield.py). NetBox models
only what the MSP documented at onboarding: each device, its management interface and address,
a loopback, and the client's NTP and syslog servers. Everything else on the devices (dozens of
ports, AAA, users and keys, routing, banners other than the MSP's) is NetBox's blind spot, and
a push with the default features must leave it alone.

Vandelay Industries (tenant ``vandelay``) is a client whose NetBox was filled by several people
over years, before anyone agreed on conventions (issue 9, section 8): an empty second tenant
(``vandelay-legacy``), devices with no tenant, an unnamed device, a virtual chassis of two access
switches, three patch panels sharing one name, PDUs and switches with no platform, platform slugs
as NetBox's own UI makes them (``cisco-ios``, ``ubuntu-linux-20-04``) and a device named like
another client's (``acme-edge-rtr1``). None of its addresses answers: mspctl must judge all of it
from NetBox alone (render, the export, patch targets), never by trying SSH.

Every object is created with get_or_create / update_or_create, so running the seed again changes
nothing. lab/nbserver.py keys the seeded dump by this file's contents: a changed seed reseeds.
"""

from __future__ import annotations

import django

django.setup()

from dcim.models import (  # noqa: E402
    Device,
    DeviceRole,
    DeviceType,
    Interface,
    Manufacturer,
    Platform,
    Site,
    VirtualChassis,
)
from extras.models import ConfigContext, Tag  # noqa: E402
from ipam.models import IPAddress  # noqa: E402
from tenancy.models import Tenant, TenantGroup  # noqa: E402
from virtualization.models import Cluster, ClusterType, VirtualMachine, VMInterface  # noqa: E402

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
        dev, _ = Device.objects.get_or_create(name=name, site=site, tenant=tenant, defaults={
            "role": DeviceRole.objects.get(slug=role), "device_type": DeviceType.objects.get(slug=dtype),
            "platform": Platform.objects.get(slug=plat), "serial": serial, "status": "active",
            "custom_field_data": {"patch_group": "network", "maintenance_window": None}})
        dev.tags.set([Tag.objects.get(slug=t) for t in tags])
        mgmt, _ = Interface.objects.get_or_create(device=dev, name=mgmt_if,
                                                  defaults={"type": "1000base-t", "mgmt_only": True})
        addr, _ = IPAddress.objects.get_or_create(address=f"{ip}/32", defaults={
            "tenant": tenant, "assigned_object": mgmt, "dns_name": f"{name}.hooli.example.net"})
        dev.primary_ip4 = addr
        dev.save()
        for if_name, if_type, description, address in extra:
            intf, _ = Interface.objects.get_or_create(device=dev, name=if_name,
                                                      defaults={"type": if_type, "description": description})
            if address:
                IPAddress.objects.get_or_create(address=address, defaults={"tenant": tenant, "assigned_object": intf})
    ctx, _ = ConfigContext.objects.get_or_create(name="hooli-overrides", defaults={"weight": 2000, "data": {
        "ntp_servers": ["10.1.1.1", "10.1.1.2"],
        "syslog_servers": ["10.1.1.60"],
        "dns_servers": ["10.1.1.10", "10.1.1.11"],
        "snmp": {"location": "Hooli HQ, Palo Alto", "community_ref": "hooli-snmp"},
    }})
    ctx.tenants.set([tenant])
    print(f"brownfield data: client hooli, {Device.objects.filter(tenant=tenant).count()} devices")
    messy()


# -- vandelay: a NetBox nobody here wrote ---------------------------------------------------------

MESSY = "vandelay"
# Platforms as NetBox's UI slugs them (its own slugify of the name), next to the demo's netmiko-style ones.
MESSY_PLATFORMS = {"cisco-ios": ("Cisco IOS (imported)", "cisco"), "ubuntu-linux-20-04": ("Ubuntu Linux 20.04", None)}
MESSY_SITES = {"vandelay-hq": "Vandelay HQ New York", "vandelay-wh": "Vandelay Warehouse Newark",
               "vandelay-lab": "Vandelay Lab Queens"}
# (name or None, tenant?, site, role, device type, platform slug or None, mgmt IP or None)
MESSY_DEVICES = [
    ("vdl-rtr1", True, "vandelay-hq", "router", "isr4331", "cisco-ios", "127.20.10.1"),
    ("vdl-fw1", True, "vandelay-hq", "firewall", "srx345", "juniper_junos", "127.20.10.2"),
    ("acme-edge-rtr1", True, "vandelay-hq", "router", "isr4331", "cisco_ios", "127.20.10.3"),  # acme has one too
    ("vdl-acc-stack1", True, "vandelay-hq", "access-switch", "c9300-48p", None, None),  # virtual chassis members
    ("vdl-acc-stack2", True, "vandelay-hq", "access-switch", "c9300-48p", None, None),
    ("patch-panel", True, "vandelay-hq", "patch-panel", "pp-24", None, None),  # one name, three sites
    ("patch-panel", True, "vandelay-wh", "patch-panel", "pp-24", None, None),
    ("patch-panel", True, "vandelay-lab", "patch-panel", "pp-24", None, None),
    ("vdl-pdu1", True, "vandelay-hq", "pdu", "ap7900", None, None),
    (None, True, "vandelay-wh", "pdu", "ap7900", None, None),  # unnamed
    ("spare-sw1", False, "vandelay-hq", "access-switch", "c9300-48p", None, None),  # no tenant
    ("patch-panel", False, "vandelay-hq", "patch-panel", "pp-24", None, None),  # no tenant, a shared name
]


def messy() -> None:
    group = TenantGroup.objects.get(slug="managed-clients")
    tenant, _ = Tenant.objects.update_or_create(slug=MESSY, defaults={"name": "Vandelay Industries", "group": group})
    Tenant.objects.update_or_create(slug=f"{MESSY}-legacy",  # a second tenant, with nothing in it
                                    defaults={"name": "Vandelay (old contract)", "group": group})
    apc, _ = Manufacturer.objects.get_or_create(slug="apc", defaults={"name": "APC"})
    generic, _ = Manufacturer.objects.get_or_create(slug="generic", defaults={"name": "Generic"})
    DeviceType.objects.get_or_create(slug="ap7900", defaults={"model": "AP7900B", "manufacturer": apc})
    DeviceType.objects.get_or_create(slug="pp-24", defaults={"model": "24-port patch panel", "manufacturer": generic,
                                                             "u_height": 1})
    DeviceRole.objects.get_or_create(slug="pdu", defaults={"name": "PDU", "color": "795548"})
    DeviceRole.objects.get_or_create(slug="patch-panel", defaults={"name": "Patch panel", "color": "607d8b"})
    for slug, (name, mfr) in MESSY_PLATFORMS.items():
        Platform.objects.get_or_create(slug=slug, defaults={
            "name": name, "manufacturer": Manufacturer.objects.get(slug=mfr) if mfr else None})
    sites = {slug: Site.objects.get_or_create(slug=slug, defaults={
        "name": name, "tenant": tenant, "time_zone": "America/New_York", "status": "active"})[0]
        for slug, name in MESSY_SITES.items()}
    devices: dict[str, Device] = {}
    for name, owned, site, role, dtype, plat, ip in MESSY_DEVICES:
        # An unnamed device has no natural key: it is found by its site, role and tenant instead.
        dev, _ = Device.objects.get_or_create(
            name=name, site=sites[site], tenant=tenant if owned else None, role=DeviceRole.objects.get(slug=role),
            defaults={"device_type": DeviceType.objects.get(slug=dtype), "status": "active",
                      "platform": Platform.objects.get(slug=plat) if plat else None})
        if name:
            devices[name] = dev
        if ip and dev.primary_ip4 is None:
            mgmt, _ = Interface.objects.get_or_create(device=dev, name="GigabitEthernet0/0" if plat != "juniper_junos"
                                                      else "fxp0", defaults={"type": "1000base-t", "mgmt_only": True})
            addr, _ = IPAddress.objects.get_or_create(address=f"{ip}/32", defaults={
                "tenant": tenant, "assigned_object": mgmt, "dns_name": f"{name}.vandelay.example.net"})
            dev.primary_ip4 = addr
            dev.save()
    stack, _ = VirtualChassis.objects.get_or_create(name="vdl-acc-stack", defaults={"domain": "vandelay-hq"})
    for position, name in enumerate(("vdl-acc-stack1", "vdl-acc-stack2"), 1):
        member = devices[name]
        member.virtual_chassis, member.vc_position, member.vc_priority = stack, position, 256 - position
        member.save()
    stack.master = devices["vdl-acc-stack1"]
    stack.save()
    cluster, _ = Cluster.objects.get_or_create(name=f"{MESSY}-pve", defaults={
        "type": ClusterType.objects.get(slug="proxmox"), "tenant": tenant, "scope": sites["vandelay-hq"]})
    # offline (being migrated): patch runs skip it unless asked for; the export still lists it.
    vm, _ = VirtualMachine.objects.get_or_create(name="vdl-app01", cluster=cluster, tenant=tenant, defaults={
        "site": sites["vandelay-hq"], "platform": Platform.objects.get(slug="ubuntu-linux-20-04"),
        "role": DeviceRole.objects.get(slug="server"), "status": "offline", "vcpus": 2, "memory": 4096, "disk": 40})
    if vm.primary_ip4 is None:
        vif, _ = VMInterface.objects.get_or_create(virtual_machine=vm, name="eth0")
        addr, _ = IPAddress.objects.get_or_create(address="127.30.10.11/32", defaults={
            "tenant": tenant, "assigned_object": vif, "dns_name": "vdl-app01.vandelay.example.net"})
        vm.primary_ip4 = addr
        vm.save()
    print(f"brownfield data: client {MESSY}, {Device.objects.filter(tenant=tenant).count()} devices, "
          f"{Device.objects.filter(tenant=None).count()} devices without a tenant")


main()
