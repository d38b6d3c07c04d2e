"""Text from NetBox and devices made safe for the report formats (see mspctl.escape).

Markdown: control characters escaped as in tables, then Markdown's own punctuation, so a name
renders exactly as the table shows it and never as a link, emphasis or an extra table column.
JUnit XML: every attribute escaped to one line and every text body line by line, so the
document holds no character XML 1.0 forbids (C0 controls, unpaired surrogates, U+FFFE/U+FFFF).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mspctl.escape import escape_lines, escape_text

_MD_PUNCT = re.compile(r"([\\`*_\[\]<>|~&])")


def md(text: object) -> str:
    """`text` for Markdown prose or a table cell: escaped to one line, Markdown punctuation
    backslash-escaped (``|`` included)."""
    return _MD_PUNCT.sub(r"\\\1", escape_text(str(text)))


def md_code(text: str) -> str:
    """`text` as a Markdown code span, escaped to one line; fenced with two backticks when it
    holds one."""
    body = escape_text(text)
    return f"`` {body} ``" if "`" in body else f"`{body}`"


def escape_tree(root: ET.Element) -> ET.Element:
    """Escape, in place, every attribute value of `root` and its descendants with `escape_text`
    and every text with `escape_lines` (newlines between lines kept). Returns `root`."""
    for el in root.iter():
        for key, value in el.attrib.items():
            el.set(key, escape_text(value))
        if el.text:
            el.text = escape_lines(el.text)
        if el.tail:
            el.tail = escape_lines(el.tail)
    return root
