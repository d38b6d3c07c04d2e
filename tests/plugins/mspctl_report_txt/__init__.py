"""A third-party mspctl report format, as a separate package would ship it: ``txt``, a plain-text
summary of the client report (its entry point: ``mspctl.report_formats`` ``txt``). Used by
tests/plugins/test_third_party.py, which builds it into a wheel and pip-installs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class TextSummary:
    name = "txt"
    suffix = ".txt"

    def write(self, report: dict[str, Any], out: Path) -> list[Path]:
        client = report["client"]
        lines = [f"client: {client['slug'] if isinstance(client, dict) else client}",
                 f"period: {report['period']['from']} .. {report['period']['to']}",
                 f"chain head: {report['chain'].get('head')}"]
        for area in ("drift", "patches", "os"):
            s = report["summary"][area]
            lines.append(f"{area}: score {s['score']} of {s['total']} targets")
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [out]


TXT = TextSummary()
