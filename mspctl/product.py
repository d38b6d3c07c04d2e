"""The product's own files: the patch playbooks, the Ansible modules and inventory plugin, and
the example templates, compliance features and baselines.

They live in one folder laid out like the design's repository (``playbooks/``,
``plugins/modules/``, ``plugins/inventory/``, ``templates/``, ``baselines/``): in an installed
mspctl, the Ansible collection ``mspctl.core`` the wheel carries
(``<site-packages>/ansible_collections/mspctl/core/``, see setup.py); in a source checkout, the
checkout itself. An MSP repository holds only its data; for the playbooks and modules, its own
file is used when it has one, else the product's (`mspctl.adapters.ansible.AnsibleRunner`).
Templates, features and baselines are always the MSP repository's: `mspctl init` copies these
examples into a new one (`mspctl.scaffold`).
"""

from __future__ import annotations

from pathlib import Path

from mspctl.errors import MspctlError

COLLECTION = "mspctl.core"  # the Ansible collection's name (plugin: mspctl.core.mspctl_inventory)
INVENTORY_PLUGIN = f"{COLLECTION}.mspctl_inventory"
FOLDERS = ("playbooks", "plugins", "templates", "baselines")  # what the root holds (setup.py's PRODUCT_FOLDERS)

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent  # site-packages, or a source checkout


class ProductFilesError(MspctlError):
    """mspctl's own files (its playbooks, modules, examples) are missing: a broken install."""

    code = "MSP-PROD-404"


def root() -> Path:
    """The folder holding the product's files: the installed collection, else the source checkout
    mspctl runs from. Raises `ProductFilesError` when neither has the playbooks."""
    for candidate in (_PACKAGE_PARENT / "ansible_collections" / "mspctl" / "core", _PACKAGE_PARENT):
        if (candidate / "playbooks" / "patch_scan.yml").is_file():
            return candidate
    raise ProductFilesError(f"mspctl's own playbooks are missing (looked in {_PACKAGE_PARENT}/ansible_collections/"
                            "mspctl/core and beside the mspctl package)",
                            hint="reinstall mspctl (pip install --force-reinstall mspctl)")


def path(relative: str) -> Path:
    """One of the product's files or folders, e.g. ``playbooks`` or ``plugins/inventory``."""
    return root() / relative
