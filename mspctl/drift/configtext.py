"""Device configuration text as a tree of lines, with the volatile decoration removed.

Pure text handling shared by backup (what is stored), drift (what is compared) and push
(what is applied). Indentation makes sections (``interface X`` and its children); banners
are kept whole: IOS ``banner motd ^C ... ^C`` and EOS ``banner motd`` ... ``EOF``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Lines a device prints that say nothing about its configuration, or change on every read.
VOLATILE = (
    r"^Building configuration\.\.\.$",
    r"^Current configuration\s*:.*$",
    r"^! Last configuration change at .*$",
    r"^! NVRAM config last updated at .*$",
    r"^! Time: .*$",
    r"^ntp clock-period \d+$",
    r"^! Command: show running-config.*$",
    r"^! device: .*$",
    r"^! boot system .*$",
    r"^Using \d+ out of \d+ bytes.*$",
    r"^! Startup-config last modified at .*$",
)
_COMMENT = re.compile(r"^\s*!.*$")
_IOS_BANNER = re.compile(r"^banner\s+\S+\s+(\^C|\S)")


@dataclass
class Line:
    text: str
    children: list[Line] = field(default_factory=list)

    def paths(self, prefix: tuple[str, ...] = ()) -> Iterable[tuple[str, ...]]:
        """Every line as its path from the top: ("interface Gi0/1", "description uplink")."""
        here = (*prefix, self.text)
        yield here
        for child in self.children:
            yield from child.paths(here)


_VOLATILE_RE = re.compile("|".join(f"(?:{p})" for p in VOLATILE))


def clean(text: str, volatile: Sequence[str] = VOLATILE) -> str:
    """Drop volatile lines, comments, ``end`` and trailing blanks; keep everything else as is."""
    # One alternation compiled once: per line, one match instead of one per pattern.
    pattern = _VOLATILE_RE if volatile is VOLATILE else re.compile("|".join(f"(?:{p})" for p in volatile))
    out = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip() or pattern.match(line):
            continue
        if line.strip() == "end" or (_COMMENT.match(line) and not line.startswith("banner")):
            continue
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


def parse(text: str) -> list[Line]:
    """Parse (cleaned or raw) configuration text into top-level lines with children."""
    lines = clean(text).split("\n")
    root: list[Line] = []
    stack: list[tuple[int, Line]] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if not raw:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        text = raw.strip()
        node = Line(text)
        if indent == 0 and text.startswith("banner "):
            i = _banner(node, text, lines, i)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        (stack[-1][1].children if stack else root).append(node)
        stack.append((indent, node))
    return root


def _banner(node: Line, text: str, lines: list[str], i: int) -> int:
    """Fold a banner's body into its node's children; return the index after it."""
    m = _IOS_BANNER.match(text)
    if m:
        delim = m.group(1)
        body = text[m.end():]
        if delim in body:  # one-line banner
            return i
        while i < len(lines):
            node.children.append(Line(lines[i]))
            i += 1
            if delim in node.children[-1].text:
                break
        return i
    while i < len(lines):  # EOS: the body runs to a line holding only EOF
        node.children.append(Line(lines[i]))
        i += 1
        if lines[i - 1].strip() == "EOF":
            break
    return i


def render(lines: Sequence[Line], indent: int = 0) -> str:
    out: list[str] = []
    for line in lines:
        out.append(" " * indent + line.text)
        if line.text.startswith("banner "):
            out.extend(child.text for child in line.children)
        elif line.children:
            out.append(render(line.children, indent + 1).rstrip("\n"))
    return "\n".join(out) + ("\n" if out else "")
