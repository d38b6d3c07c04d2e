"""Facts of the lab's demo data set (lab/seed_demo.py), as the tests expect to read them back."""

from __future__ import annotations

CLIENTS = {"acme": (5, 2), "globex": (4, 2), "initech": (2, 2)}  # slug: (devices, VMs)
ACME = {"acme-core-sw1", "acme-edge-rtr1", "acme-dist-sw1", "acme-fw1", "acme-backup01",
        "acme-web01", "acme-db01"}
ROUTERS = {"acme-edge-rtr1", "globex-rtr1", "initech-rtr1"}
PCI = {"acme-edge-rtr1", "acme-fw1", "acme-web01", "acme-db01"}
