"""The render oracle: `mspctl config render` of every demo network device equals its golden file.

The golden files (lab/golden/<platform>/<device>.cfg) are written by hand from the demo data and
the vendors' syntax; the lab also seeds the simulated devices from them. A template bug shows
here as a diff, and in drift as a finding on a device that should be compliant.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from lab.devices.config_tree import parse as device_parse
from lab.devices.control import ControlClient
from lab.network import (
    COMPLIANT,
    DEMO_CLIENTS,
    EXPECTED_DRIFT,
    GOLDEN,
    PLATFORMS,
    SEEDED_DRIFT,
    golden_file,
    perturb,
)

pytestmark = pytest.mark.lab


def _normal(text: str) -> list[str]:
    """The text's lines with trailing whitespace (and trailing blank lines) removed: nothing else."""
    return text.rstrip().splitlines() if text.strip() else []


def _golden() -> dict[tuple[str, str], Path]:
    return {(p.parent.name, p.stem): p for p in sorted(GOLDEN.glob("*/*.cfg"))}


def test_every_demo_device_renders_exactly_its_golden_file(mspctl, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [a for c in DEMO_CLIENTS for a in ("-c", c)]
    res = mspctl("config", "render", *args, "--out", str(out), "-o", "json")
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)
    rendered = {(d["platform"], d["device"]): Path(d["file"]) for d in results if d["status"] == "ok"}
    skipped = {d["device"]: d["platform"] for d in results if d["status"] != "ok"}
    assert not set(skipped.values()) & set(PLATFORMS), skipped  # only platforms without templates skip
    assert sorted(rendered) == sorted(_golden())  # a golden file per rendered device, and no other
    diffs = []
    for key, path in sorted(rendered.items()):
        want, got = _normal(_golden()[key].read_text()), _normal(path.read_text())
        if want != got:
            diffs.append("\n".join(difflib.unified_diff(want, got, f"golden {key[0]}/{key[1]}.cfg",
                                                        "mspctl config render", lineterm="")))
    assert not diffs, "\n\n".join(diffs)


def test_the_simulated_devices_run_their_golden_file_with_only_the_seeded_drift(lab_network) -> None:
    """What each lab device runs is its golden file plus SEEDED_DRIFT (read from the device and
    parsed with the simulator's own parser, not mspctl's)."""
    lab_network.reset()  # every device back to its seed
    ctl = ControlClient(lab_network.control)
    running = {d["name"]: d for d in ctl.call("list")["devices"]}
    assert set(running) == set(EXPECTED_DRIFT) | COMPLIANT  # the active demo devices, each with its golden file
    for platform, name in sorted(_golden()):
        if name not in running:
            continue  # a planned device: rendered above, not simulated
        want = perturb(golden_file(platform, name).read_text(), SEEDED_DRIFT.get(name, []), name)
        assert _paths(ctl.config(name)) == _paths(want), name


def _paths(text: str) -> list[tuple[str, ...]]:
    """Every configuration line as its path from the top, in order (the simulator's parser skips
    the `show` decoration: `Building configuration...`, `!` comments, `end`)."""
    out: list[tuple[str, ...]] = []

    def walk(node, prefix: tuple[str, ...]) -> None:
        for child in node.children:
            out.append((*prefix, child.text))
            walk(child, (*prefix, child.text))
    walk(device_parse(text), ())
    return out
