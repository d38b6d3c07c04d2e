"""The host lab for these tests: real Debian 12 hosts started once per session by ``python -m lab.hosts up``.

The tests use their own host name prefix and subnet (``mspctl-t1..5`` on 10.250.9.0/24), so a
developer's lab (``mspctl-h*`` on 10.250.0.0/24) keeps running; the Debian base, the repository and
the package layers are shared through the real lab home, so only the first run ever builds them
(debootstrap, about a minute). The session starts from the seeded state (``--fresh``) and tears the
test hosts down at the end.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import pytest
from hostlab import COUNT, SUBNET, HostLab, lab_cli


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/hosts/" in item.nodeid.replace(os.sep, "/"):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def host_lab() -> Iterator[HostLab]:
    if os.geteuid() != 0:
        pytest.skip("the host lab needs root (network namespaces, overlay mounts)")
    if not shutil.which("ssh"):
        pytest.skip("the host lab tests need an ssh client")
    proc = lab_cli("up", "--count", str(COUNT), "--subnet", SUBNET, "--fresh", "--json")
    if proc.returncode != 0:
        pytest.fail(f"lab.hosts up failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    try:
        yield HostLab(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        down = lab_cli("down", timeout=300)
        assert down.returncode == 0, down.stderr
