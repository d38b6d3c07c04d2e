"""docs/errors.md is the contract: every error code mspctl can raise is listed there with its exit
code. An error class (anywhere in the package) must appear with its class's exit code; every
other ``MSP-...`` code in the source (an instance's ``code=``) must appear at all."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import mspctl
from mspctl.errors import MspctlError

REPO = Path(__file__).resolve().parents[2]
_CODE = re.compile(r"[\"'](MSP-(?:[A-Z]+-)?[0-9]{3})[\"']")


def _documented() -> dict[str, set[int]]:
    """Code -> the exit codes its row names (``10 (3 in a run ...)`` names 10 and 3)."""
    rows: dict[str, set[int]] = {}
    for line in (REPO / "docs" / "errors.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `MSP-"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for code in re.findall(r"`(MSP-[A-Z0-9-]+)`", cells[0]):
            rows[code] = {int(n) for n in re.findall(r"\b\d+\b", cells[1])}
    return rows


def _subclasses(cls: type[MspctlError]) -> Iterator[type[MspctlError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _error_classes() -> list[type[MspctlError]]:
    for module in pkgutil.walk_packages(mspctl.__path__, "mspctl."):
        importlib.import_module(module.name)  # errors defined deep in a module count too
    return sorted({MspctlError, *_subclasses(MspctlError)}, key=lambda c: (c.__module__, c.__name__))


DOCUMENTED = _documented()


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_error_class_is_documented_with_its_exit_code(cls: type[MspctlError]) -> None:
    assert cls.code in DOCUMENTED, f"{cls.code} ({cls.__module__}.{cls.__name__}) has no row in docs/errors.md"
    assert cls.exit_code in DOCUMENTED[cls.code], (
        f"{cls.code}: exit {cls.exit_code} in {cls.__module__}.{cls.__name__}, docs/errors.md says "
        f"{sorted(DOCUMENTED[cls.code])}")


def _source_codes() -> list[tuple[str, str]]:
    """(code, where it first appears) for every ``"MSP-..."`` literal in the package."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "mspctl").rglob("*.py")):
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for code in _CODE.findall(line):
                found.setdefault(code, f"{path.relative_to(REPO)}:{line_no}")
    return sorted(found.items())


@pytest.mark.parametrize(("code", "where"), _source_codes(), ids=lambda v: v if v.startswith("MSP-") else "")
def test_every_code_in_the_source_is_documented(code: str, where: str) -> None:
    assert code in DOCUMENTED, f"{where}: {code} has no row in docs/errors.md"


def test_the_documented_exit_codes_are_exit_codes() -> None:
    from mspctl.errors import ExitCode

    known = {v for k, v in vars(ExitCode).items() if k.isupper()}
    assert DOCUMENTED and all(codes and codes <= known for codes in DOCUMENTED.values()), {
        c: e for c, e in DOCUMENTED.items() if not e or not e <= known}


def test_a_missing_playbook_is_a_files_error_not_an_internal_one() -> None:
    from mspctl.adapters.ansible import AnsibleError
    from mspctl.errors import ExitCode

    assert (AnsibleError.code, AnsibleError.exit_code) == ("MSP-ANS-001", ExitCode.CONFIG)
