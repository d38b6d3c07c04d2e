"""docs/reliability.md: the fault table names real tests, and holds at least 40 faults."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _rows() -> list[str]:
    text = (REPO / "docs" / "reliability.md").read_text()
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| fault |")]


def test_every_test_the_fault_table_names_exists() -> None:
    defined: set[str] = set()
    files: set[str] = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        files.add(path.relative_to(REPO).as_posix())
        defined |= set(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.M))
    named = {m for row in _rows() for m in re.findall(r"`(?:[\w/.]+\.py::)?(test_\w+)", row)}
    paths = {m for row in _rows() for m in re.findall(r"`(tests/[\w/]+\.py)", row)}
    assert named, "the table names no test"
    assert not named - defined, sorted(named - defined)
    assert not paths - files, sorted(paths - files)


def test_the_fault_table_has_at_least_40_rows_each_with_its_test() -> None:
    rows = _rows()
    assert len(rows) >= 40
    assert all(row.count("|") >= 4 and ("test_" in row.split("|")[-2] or "same test" in row) for row in rows), [
        row for row in rows if "test_" not in row.split("|")[-2] and "same test" not in row]
