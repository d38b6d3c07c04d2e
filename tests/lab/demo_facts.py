"""Facts of the lab's demo data set (lab/seed_demo.py), as the tests expect to read them back."""

from __future__ import annotations

CLIENTS = {"acme": (5, 4), "globex": (4, 2), "initech": (2, 2)}  # slug: (devices, VMs)
ACME = {"acme-core-sw1", "acme-edge-rtr1", "acme-dist-sw1", "acme-fw1", "acme-backup01",
        "acme-web01", "acme-db01", "acme-app01", "acme-mail01"}
# acme's servers are the host lab's Debian hosts (python -m lab.hosts): NetBox name -> lab host
ACME_SERVERS = {"acme-backup01": "mspctl-h1", "acme-web01": "mspctl-h2", "acme-db01": "mspctl-h3",
                "acme-app01": "mspctl-h4", "acme-mail01": "mspctl-h5"}
ROUTERS = {"acme-edge-rtr1", "globex-rtr1", "initech-rtr1"}
PCI = {"acme-edge-rtr1", "acme-fw1", "acme-web01", "acme-db01"}
