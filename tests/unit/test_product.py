"""mspctl's own files (mspctl.product) and how a patch run picks the MSP repository's or the product's."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

from mspctl import product
from mspctl.adapters.ansible import AnsibleError, AnsibleRunner

REPO = Path(__file__).resolve().parents[2]


def test_a_source_checkout_is_its_own_product_root() -> None:
    assert product.root() == REPO
    assert product.path("playbooks/patch_scan.yml").is_file()
    assert (product.path("plugins/inventory") / "mspctl_inventory.py").is_file()


def test_the_wheel_carries_the_folders_the_product_reads() -> None:
    setup = runpy.run_path(str(REPO / "setup.py"), run_name="not_main")  # setup() itself is not called
    assert setup["PRODUCT_FOLDERS"] == product.FOLDERS
    assert setup["COLLECTION"] == "ansible_collections." + product.COLLECTION
    packages, dirs = setup["product_packages"](REPO)
    assert dirs["ansible_collections.mspctl.core.playbooks"] == "playbooks"
    assert dirs["ansible_collections.mspctl.core.playbooks.tasks"] == "playbooks/tasks"
    assert dirs["ansible_collections.mspctl.core.plugins.inventory"] == "plugins/inventory"
    assert not any("__pycache__" in p for p in packages)
    manifest = (REPO / "MANIFEST.in").read_text()
    assert all(f"graft {folder}\n" in manifest for folder in product.FOLDERS)


def test_the_inventory_plugin_answers_to_the_collections_name_and_the_checkouts() -> None:
    text = (REPO / "plugins" / "inventory" / "mspctl_inventory.py").read_text()
    assert f"choices: [{product.INVENTORY_PLUGIN}, mspctl_inventory]" in text


def _repo(tmp_path: Path, *files: str) -> Path:
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("- hosts: all\n  tasks: []\n")
    return tmp_path / "playbooks"


def test_the_repositorys_own_playbook_wins_else_the_products(tmp_path: Path) -> None:
    runner = AnsibleRunner(_repo(tmp_path, "playbooks/patch_apply.yml"), product=REPO)
    assert runner._playbook("patch_apply.yml") == tmp_path / "playbooks" / "patch_apply.yml"
    assert runner._playbook("patch_scan.yml") == REPO / "playbooks" / "patch_scan.yml"
    # no playbooks/ at all (an MSP repository made by `mspctl init`): all of them are the product's
    bare = AnsibleRunner(tmp_path / "bare" / "playbooks", product=REPO)
    assert bare._playbook("patch_scan.yml") == REPO / "playbooks" / "patch_scan.yml"


def test_a_playbook_in_neither_place_is_msp_ans_001(tmp_path: Path) -> None:
    with pytest.raises(AnsibleError, match=r"not found in .* nor in mspctl's own") as missing:
        AnsibleRunner(tmp_path / "playbooks", product=tmp_path / "broken").scan(
            {"all": {"hosts": {"h": {}}}}, ["h"])
    assert missing.value.code == "MSP-ANS-001"
    with pytest.raises(AnsibleError, match=r"playbook .* not found"):  # without a product: the repository's only
        AnsibleRunner(tmp_path / "playbooks")._playbook("patch_scan.yml")


def test_the_repositorys_modules_come_before_the_products(tmp_path: Path) -> None:
    (tmp_path / "plugins" / "modules").mkdir(parents=True)
    runner = AnsibleRunner(tmp_path / "playbooks", product=REPO)
    library = runner._environment(tmp_path)["ANSIBLE_LIBRARY"].split(os.pathsep)
    assert library == [str(tmp_path / "plugins" / "modules"), str(REPO / "plugins" / "modules")]
    runner.close()
    bare = AnsibleRunner(tmp_path / "bare" / "playbooks", product=REPO)
    assert bare._environment(tmp_path)["ANSIBLE_LIBRARY"] == str(REPO / "plugins" / "modules")
    bare.close()
