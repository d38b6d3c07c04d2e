"""Rendering results: table (rich), JSON or YAML. The one place mspctl formats output.

Tables show every cell, title and footer through `mspctl.escape.escape_text` (a newline in a
NetBox name is the two characters ``\\n``, a backslash ``\\\\``), as plain text, never as rich
markup, so each target stays one row and nothing in NetBox styles or moves the terminal. JSON and
YAML keep the exact values.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from mspctl.errors import ExitCode
from mspctl.escape import escape_text

FORMATS = ("table", "json", "yaml")


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def to_json(data: Any, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, default=_default, ensure_ascii=False)


def to_yaml(data: Any) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    # Round-trip through JSON types so dataclass leftovers (tuples, datetimes) dump as plain YAML.
    return yaml.dump(json.loads(to_json(data, None)), Dumper=dumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True)


def render(data: Any, fmt: str, *, columns: Sequence[tuple[str, str]] = (),
           rows: Sequence[dict[str, Any]] | None = None, title: str | None = None,
           footer: str | None = None, err: bool = False) -> None:
    """Print `data` as JSON/YAML, or `rows` (default: `data`) as a table of `columns` (key, header).
    `err`: on stderr (a preview shown before a prompt, so stdout holds only the run's result)."""
    if fmt == "json":
        click.echo(to_json(data), err=err)
        return
    if fmt == "yaml":
        click.echo(to_yaml(data), nl=False, err=err)
        return
    table_rows = rows if rows is not None else data
    print_table(table_rows, columns, title=title, err=err)
    if footer:
        click.echo(escape_text(footer), err=True)


def echo_line(text: str, err: bool = False) -> None:
    """Print `text` as one line, its control characters escaped: for the plain progress and
    preview lines that quote NetBox names next to a table."""
    click.echo(escape_text(text), err=err)


def _cell(value: Any) -> str:
    """A table cell: ``-`` for nothing, lists comma-joined, everything escaped to one line."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return escape_text(",".join(str(v) for v in value)) or "-"
    return escape_text(str(value))


# Columns of free text (errors, details) may wrap at word boundaries; every other column (names,
# files, states) is printed whole or not as a table at all.
_WRAPPING = ("ERROR", "DETAIL", "DRIFT")
_MIN_WRAP_WIDTH = 20
_GAP = 2  # between two columns (rich's padding with box=None, pad_edge=False)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str | None = None,
                err: bool = False) -> None:
    """Print `rows` as a table of `columns` (key, header); cells as `_cell` makes them. When a
    terminal is too narrow for the names whole, one block per row instead (`_print_blocks`)."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    headers = [header for _, header in columns]
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    out = sys.stderr if err else sys.stdout
    console = Console(file=out, width=None if out.isatty() else 200, highlight=False)
    wraps = [any(w in h for w in _WRAPPING) for h in headers]
    natural = [max([cell_len(h), *(cell_len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    needed = sum(min(n, max(_MIN_WRAP_WIDTH, cell_len(h))) if w else n
                 for n, h, w in zip(natural, headers, wraps, strict=True)) + _GAP * max(0, len(headers) - 1)
    # Only on a terminal: piped output keeps one line per target for scripts (and no width limit).
    if cells and out.isatty() and needed > console.width:
        _print_blocks(console.file, cells, headers, title)
        return
    table = Table(title=Text(escape_text(title)) if title is not None else None, box=None, header_style="bold",
                  pad_edge=False)
    for header, wrap in zip(headers, wraps, strict=True):
        table.add_column(header, overflow="fold", no_wrap=not wrap)
    for row_cells in cells:
        table.add_row(*(Text(c) for c in row_cells))
    console.print(table)


def _print_blocks(out: Any, cells: Sequence[Sequence[str]], headers: Sequence[str], title: str | None) -> None:
    """A table too wide for the terminal, one block per row (``HEADER  value`` lines): a folded or
    truncated cell would break a name in two or cut it to ``…``, and names mspctl prints must be
    given back to it. Values are printed whole (the terminal wraps them), never as rich markup."""
    width = max(len(h) for h in headers)
    lines = [escape_text(title), ""] if title is not None else []
    for i, row_cells in enumerate(cells):
        if i:
            lines.append("")
        lines += [f"{h.ljust(width)}  {c}" for h, c in zip(headers, row_cells, strict=True)]
    out.write("\n".join(lines) + "\n")
    out.flush()


def exit_if_nothing_checked(skipped: Sequence[tuple[str, str]], checked: int, what: str = "checked") -> None:
    """A command whose every target was skipped is no success (a render that rendered nothing):
    name each target and why, then exit 7. `skipped` holds (target, reason). Run commands exit
    through `mspctl.reports.present.finish`, which says the same for a `Run`."""
    if checked or not skipped:
        return
    for target, reason in skipped:
        echo_line(f"skipped: {target}: {reason}", err=True)
    click.echo(f"Nothing was {what}: all {len(skipped)} selected target(s) were skipped (exit 7).", err=True)
    raise SystemExit(ExitCode.NOTHING_CHECKED)
