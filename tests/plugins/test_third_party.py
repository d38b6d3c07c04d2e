"""A third-party plugin package, pip-installed into this venv as a user would install one, is
listed by `mspctl plugins list` and used by `mspctl report --format`; a broken entry point of it
fails with MSP-PLUG-500, naming the package; once removed, it is gone."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LabNetBox, lab_env

HERE = Path(__file__).parent
DIST = "mspctl-report-txt"
VERSION = "0.1.0"
ENTRY_POINTS = """[mspctl.report_formats]
txt = mspctl_report_txt:TXT
broken = mspctl_report_txt:NO_SUCH_FORMAT
"""
MSPCTL = Path(sys.executable).parent / "mspctl"


def build_wheel(out: Path) -> Path:
    """The package's wheel, written by hand (the format is a zip with a dist-info folder), so
    building it needs no build backend and no index."""
    name = DIST.replace("-", "_")
    info = f"{name}-{VERSION}.dist-info"
    files = {f"{name}/__init__.py": (HERE / name / "__init__.py").read_bytes(),
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n".encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: mspctl-tests\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n",
             f"{info}/entry_points.txt": ENTRY_POINTS.encode()}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / f"{name}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel


def pip(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    pip("install", "--no-deps", "--no-index", "--force-reinstall", str(wheel))
    yield
    pip("uninstall", "-y", DIST)


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MSPCTL_", "NETBOX_"))}
    return subprocess.run([str(MSPCTL), *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_an_installed_report_format_is_listed_and_used(installed_plugin: None, lab_netbox: LabNetBox,
                                                       tmp_path: Path) -> None:
    env = lab_env(lab_netbox, tmp_path)
    repo = HERE.parents[1]
    listed = run(["plugins", "list", "-o", "json"], env, repo)
    assert listed.returncode == 0, listed.stderr
    plugins = {(p["kind"], p["name"]): p for p in json.loads(listed.stdout)}
    txt = plugins[("report_formats", "txt")]
    assert (txt["package"], txt["version"], txt["builtin"], txt["object"]) == (DIST, VERSION, False,
                                                                               "mspctl_report_txt:TXT")
    builtins = {k for k, p in plugins.items() if p["builtin"]}
    assert {("inventory_sources", "netbox"), ("executors", "local"), ("executors", "celery"),
            ("drivers", "netmiko"), ("report_formats", "html"), ("report_formats", "json")} <= builtins
    table = run(["plugins", "list"], env, repo)
    assert f"{DIST} {VERSION}" in table.stdout and "built-in" in table.stdout

    out = tmp_path / "acme.txt"
    made = run(["report", "-c", "acme", "-f", "txt", "--out", str(out)], env, repo)
    # No run record covers acme in this fresh history: written, and exit 7 (nothing checked).
    assert made.returncode == 7, made.stderr
    assert made.stdout.strip() == str(out)
    # The plugin was handed the same report as the built-in JSON format writes.
    as_json = run(["report", "-c", "acme", "-f", "json", "--out", str(tmp_path / "acme.json")], env, repo)
    assert as_json.returncode == 7, as_json.stderr
    report = json.loads((tmp_path / "acme.json").read_text(encoding="utf-8"))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "client: acme"
    assert lines[3:] == [f"{area}: score {report['summary'][area]['score']} of {report['summary'][area]['total']} "
                         "targets" for area in ("drift", "patches", "os")]
    assert report["summary"]["drift"]["total"] > 0

    broken = run(["report", "-c", "acme", "-f", "broken", "--out", str(tmp_path / "b.txt")], env, repo)
    assert broken.returncode == 10, broken.stderr
    assert "MSP-PLUG-500" in broken.stderr and "mspctl_report_txt:NO_SUCH_FORMAT" in broken.stderr
    assert DIST in broken.stderr and "Traceback" not in broken.stderr
    assert not (tmp_path / "b.txt").exists()


def test_a_removed_plugin_is_gone(lab_netbox: LabNetBox, tmp_path: Path) -> None:
    # Runs after the module fixture's teardown only if ordered last; so remove and check here.
    wheel = build_wheel(tmp_path)
    pip("install", "--no-deps", "--no-index", "--force-reinstall", str(wheel))
    pip("uninstall", "-y", DIST)
    env = lab_env(lab_netbox, tmp_path)
    listed = run(["plugins", "list", "-o", "json"], env, HERE.parents[1])
    assert ("report_formats", "txt") not in {(p["kind"], p["name"]) for p in json.loads(listed.stdout)}
    refused = run(["report", "-c", "acme", "-f", "txt"], env, HERE.parents[1])
    assert refused.returncode == 2 and "'txt' is not one of" in refused.stderr
