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


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str | None = None,
                err: bool = False) -> None:
    """Print `rows` as a table of `columns` (key, header); cells as `_cell` makes them."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(escape_text(title)) if title is not None else None, box=None, header_style="bold",
                  pad_edge=False)
    for _, header in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text(_cell(row.get(key))) for key, _ in columns))
    out = sys.stderr if err else sys.stdout
    console = Console(file=out, width=None if out.isatty() else 200, highlight=False)
    console.print(table)


def exit_if_nothing_checked(skipped: Sequence[tuple[str, str]], checked: int, what: str = "checked") -> None:
    """A run whose every target was skipped is no success (a scheduled audit that audited
    nothing): name each target and why, then exit 7. `skipped` holds (target, reason)."""
    if checked or not skipped:
        return
    for target, reason in skipped:
        echo_line(f"skipped: {target}: {reason}", err=True)
    click.echo(f"Nothing was {what}: all {len(skipped)} selected target(s) were skipped (exit 7).", err=True)
    raise SystemExit(ExitCode.NOTHING_CHECKED)
