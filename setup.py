"""The build step that puts the product's own Ansible and example files into the wheel.

The repository keeps the design's layout: ``playbooks/``, ``plugins/`` (the Ansible modules and
the inventory plugin), ``templates/`` and ``baselines/`` sit at its top, and a source checkout
runs from them. The wheel installs the same folders as the Ansible collection ``mspctl.core``,
``ansible_collections/mspctl/core/`` beside the ``mspctl`` package, where Ansible finds it on
Python's path with no configuration (``plugin: mspctl.core.mspctl_inventory``), and where
``mspctl.product`` finds the playbooks and modules an MSP repository does not override and the
examples ``mspctl init`` copies.

Everything else is declared in pyproject.toml; only the package list is computed here, one
package per folder (so setuptools warns about none of them). MANIFEST.in names the folders'
files, which setuptools' ``include-package-data`` then carries into the sdist and the wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

COLLECTION = "ansible_collections.mspctl.core"
# Top-level folders of the repository that the wheel carries, in mspctl.product's layout.
PRODUCT_FOLDERS = ("playbooks", "plugins", "templates", "baselines")
_SKIP_DIRS = {"__pycache__"}


def product_packages(root: Path = Path()) -> tuple[list[str], dict[str, str]]:
    """(packages, package_dir) mapping each product folder under `root`, and each of its
    subfolders, to a package of the collection ``mspctl.core``."""
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for top in PRODUCT_FOLDERS:
        for dirpath, dirnames, _files in os.walk(root / top):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
            rel = Path(dirpath).relative_to(root)
            name = ".".join([COLLECTION, *rel.parts])
            packages.append(name)
            package_dir[name] = rel.as_posix()
    return packages, package_dir


if __name__ == "__main__":  # setuptools' build backend runs this file as __main__
    from setuptools import find_namespace_packages, setup

    _packages, _dirs = product_packages()
    # namespace packages as well: data folders of mspctl (mspctl/reports/templates) are packages too
    mspctl = find_namespace_packages(include=["mspctl", "mspctl.*"], exclude=["*__pycache__*"])
    setup(packages=[*mspctl, *_packages], package_dir=_dirs)
