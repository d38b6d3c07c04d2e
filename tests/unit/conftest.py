"""Fixtures for the unit tests: pure logic, no lab, no network, no user files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mspctl import provenance, redact
from mspctl.model import Asset

MakeAsset = Callable[..., Asset]


@pytest.fixture(autouse=True)
def _isolated_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no registered secrets, so masking never depends on test order."""
    monkeypatch.setattr(redact, "_known", set())


@pytest.fixture(autouse=True)
def _no_run_context() -> Iterator[None]:
    """No test sees another's run context (mspctl.provenance: the command line records carry)."""
    provenance.end()
    yield
    provenance.end()


@pytest.fixture(autouse=True)
def _isolated_user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never read the developer's own ~/.config/mspctl or write to ~/.cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    for name in ("MSPCTL_CONFIG", "MSPCTL_NETBOX_URL", "MSPCTL_NETBOX_TOKEN", "NETBOX_API", "NETBOX_TOKEN",
                 "MSPCTL_INSECURE", "MSPCTL_CACHE_TTL", "MSPCTL_CACHE_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_asset() -> MakeAsset:
    """Build an Asset with sensible defaults; ids are unique unless given."""
    counter = iter(range(1, 1_000_000))

    def make(name: str, client: str | None = "acme", kind: str = "device", **fields: Any) -> Asset:
        fields.setdefault("id", next(counter))
        return Asset(kind=kind, name=name, client=client, **fields)  # type: ignore[arg-type]

    return make
