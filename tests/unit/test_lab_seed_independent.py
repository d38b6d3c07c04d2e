"""The lab seeds its devices from lab/golden, never from mspctl's render: the oracle stays independent.

If the lab rendered the devices' configs with mspctl, the compliant devices would be compliant by
construction and a render bug could never show up in drift or push tests.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from lab import network
from lab.devices.config_tree import Node
from lab.devices.config_tree import parse as device_parse
from lab.devices.platforms import PLATFORMS
from lab.devices.spec import parse_spec
from mspctl.drift.configtext import parse as mspctl_parse
from mspctl.drift.features import load_features

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab"
# What the lab must never use to make the devices' configurations: mspctl's render, and the
# adapters below it (NetBox session, render cache, device sessions).
FORBIDDEN = ("mspctl.render", "mspctl.adapters")


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, at any depth (functions too), with its line."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value))
    return out


def _hits(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(REPO)}:{line}: {name}" for line, name in _imports(path)
            if any(name == p or name.startswith(p + ".") for p in prefixes)]


def test_no_lab_module_imports_mspctls_render_or_adapters() -> None:
    files = sorted(LAB.rglob("*.py"))
    assert LAB / "network.py" in files and len(files) > 10
    hits = [hit for f in files for hit in _hits(f, FORBIDDEN)]
    assert hits == []


def test_the_demo_network_and_the_simulator_import_nothing_of_mspctl() -> None:
    files = [LAB / "network.py", *sorted((LAB / "devices").glob("*.py"))]
    assert [hit for f in files for hit in _hits(f, ("mspctl",))] == []


def test_the_import_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import mspctl.render.engine\nfrom mspctl import render\nfrom mspctl.adapters.netbox import X\n"
                     "def f():\n    from mspctl.render.service import render_configs\n"
                     "importlib.import_module('mspctl.render')\nimport mspctl.renderer\nfrom . import render\n")
    names = [name for _, name in _imports(probe)
             if any(name == p or name.startswith(p + ".") for p in FORBIDDEN)]
    assert names == ["mspctl.render.engine", "mspctl.render", "mspctl.adapters.netbox", "mspctl.adapters.netbox.X",
                     "mspctl.render.service", "mspctl.render.service.render_configs", "mspctl.render"]


def _golden_devices(golden: Path = network.GOLDEN) -> list[network.LabDevice]:
    """A LabDevice per golden file, as NetBox would list it (the client is the name's first part)."""
    return [network.LabDevice(name=p.stem, client=p.stem.split("-")[0], platform=p.parent.name,
                              host=f"127.0.0.{i}", serial=f"LAB{i:04d}", model="")
            for i, p in enumerate(sorted(golden.glob("*/*.cfg")), 1)]


def test_every_demo_network_device_has_a_golden_file() -> None:
    names = {d.name for d in _golden_devices()}
    assert set(network.EXPECTED_DRIFT) | network.COMPLIANT <= names
    assert {d.platform for d in _golden_devices()} == set(network.PLATFORMS)
    assert {d.client for d in _golden_devices()} == set(network.DEMO_CLIENTS)


def test_the_golden_files_cover_every_feature_of_each_platform() -> None:
    """Each compliance feature owns lines in at least one golden file of each platform it is for,
    so the render oracle checks every template (pci-login: acme-edge-rtr1, through its pci tag)."""
    features = load_features(REPO / "templates" / "features.yml")
    for platform in network.PLATFORMS:
        configs = [mspctl_parse(p.read_text()) for p in sorted((network.GOLDEN / platform).glob("*.cfg"))]
        uncovered = [f.name for f in features if (not f.platforms or platform in f.platforms)
                     and not any(f.select(c) for c in configs)]
        assert configs and uncovered == [], platform


def test_devices_are_seeded_with_their_golden_file_and_only_the_seeded_drift() -> None:
    spec = network.device_spec(_golden_devices())
    seeded = {d["name"]: d["running_config"] for d in spec["devices"]}  # type: ignore[attr-defined]
    for dev in _golden_devices():
        golden = network.golden_file(dev.platform, dev.name).read_text()
        if dev.name in network.SEEDED_DRIFT:
            assert seeded[dev.name] != golden, dev.name
            for op, old, new in network.SEEDED_DRIFT[dev.name]:
                assert op == "append" or old in golden, (dev.name, old)
                assert op == "remove" or new in seeded[dev.name], (dev.name, new)
        else:
            assert seeded[dev.name] == golden, dev.name
    for name in network.COMPLIANT:
        assert name not in network.SEEDED_DRIFT
    parse_spec(json.loads(json.dumps(spec)))  # the simulator takes it


def _paths(root: Node) -> list[tuple[str, ...]]:
    return [(*prefix, node.text) for prefix, node in _walk(root, ())]


def _walk(node: Node, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Node]]:
    out = []
    for child in node.children:
        out.append((prefix, child))
        out += _walk(child, (*prefix, child.text))
    return out


def test_a_simulated_device_shows_every_golden_line_as_it_was_seeded() -> None:
    """The simulator parses a seed like a pasted config and shows it in its own format (EOS: three
    spaces, `!` between sections): the same lines in the same sections, none lost or merged."""
    for dev in _golden_devices():
        text = network.golden_file(dev.platform, dev.name).read_text()
        seeded = device_parse(text)
        shown = "\n".join(PLATFORMS[dev.platform].body(seeded))
        assert _paths(device_parse(shown)) == _paths(seeded), dev.name
        assert len(_paths(seeded)) == sum(1 for ln in text.splitlines() if ln.strip()) - _banner_lines(text), dev.name


def _banner_lines(text: str) -> int:
    """Lines that belong to a multi-line banner after its first (one node holds the whole banner)."""
    lines = text.splitlines()
    if "banner motd" in lines:  # EOS: `banner motd`, the text, `EOF`
        return lines.index("EOF") - lines.index("banner motd")
    return 0


def test_a_changed_golden_file_changes_the_spec_so_the_devices_are_seeded_again(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    shutil.copytree(network.GOLDEN, golden)
    devices = _golden_devices(golden)
    before = json.dumps(network.device_spec(devices, golden), indent=1)
    assert before == json.dumps(network.device_spec(devices, golden), indent=1)  # same files: same spec
    path = network.golden_file("cisco_ios", "initech-sw1", golden)
    path.write_text(path.read_text().replace("ntp server 192.0.2.124", "ntp server 192.0.2.125"))
    after = json.dumps(network.device_spec(devices, golden), indent=1)
    assert after != before and "ntp server 192.0.2.125" in after


def test_a_device_without_a_golden_file_stops_the_lab_naming_the_file(tmp_path: Path) -> None:
    dev = network.LabDevice("initech-sw2", "initech", "cisco_ios", "127.0.0.9", "S", "")
    with pytest.raises(SystemExit, match=r"initech-sw2 \(cisco_ios\) has no golden file .*initech-sw2\.cfg"):
        network.device_spec([dev], tmp_path)


def test_seeded_drift_that_no_longer_matches_its_golden_file_is_an_error() -> None:
    with pytest.raises(SystemExit, match="is not in its golden file"):
        network.perturb("hostname r1\n", [("replace", "ntp server 1.2.3.4", "ntp server 5.6.7.8")], "r1")
