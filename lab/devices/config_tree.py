"""A device configuration as a tree of lines: parse from text, render back, edit in place.

The tree keeps exactly what the device "remembers": global lines and sections (``interface X``,
``router bgp N``, ``line vty 0 4``) with their indented children, in the order they were added.
Decoration that a real device generates on output (``!`` separators, ``end``, the
``Building configuration...`` header, ``exit-address-family``, the ``quit`` after certificate
hex) is dropped on parse and put back by the platform's renderer, so a config read from a
device can seed another one. Lines are the same setting when their words are: IOS prints
``30 deny   any log`` for a typed ``30 deny any log``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# Lines a device prints around its configuration but never stores as configuration.
_DECORATION = re.compile(
    r"^(?:!.*|end|exit-address-family|quit|Building configuration\.\.\.|Current configuration\s*:.*"
    r"|Using \d+ out of \d+ bytes.*)$"
)
# IOS shows every banner delimiter as ^C; EOS ends a banner with a line holding only EOF.
_IOS_BANNER = re.compile(r"^banner\s+\S+\s+(\^C|\S)(.*)$")
_EOS_BANNER = re.compile(r"^banner\s+(?:motd|login)\s*$")
# Sections whose children are certificate hex blocks, each ended by a ``quit`` line (IOS).
_CERT_CHAIN = re.compile(r"^crypto (?:pki|ca) certificate chain ")


def same_line(a: str, b: str) -> bool:
    """One setting: the same text, or for one-line texts the same words (spacing differs)."""
    return a == b or ("\n" not in a and "\n" not in b and a.split() == b.split())


@dataclass
class Node:
    """One configuration line and, for a section, the lines indented below it."""

    text: str
    children: list[Node] = field(default_factory=list)

    def find(self, text: str) -> Node | None:
        """The child whose line is ``text`` (spacing aside, see ``same_line``), or None."""
        for child in self.children:
            if same_line(child.text, text):
                return child
        return None

    def copy(self) -> Node:
        return Node(self.text, [child.copy() for child in self.children])

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Node]]:
        """Every descendant with its depth (children of the root are depth 0)."""
        for child in self.children:
            yield depth, child
            yield from child.walk(depth + 1)


def parse(text: str) -> Node:
    """Parse configuration text into a tree rooted at an unnamed node.

    Nesting follows indentation (any width); decoration lines are skipped; multi-line
    banners become one node whose text holds the newlines.
    """
    root = Node("")
    stack: list[tuple[int, Node]] = [(-1, root)]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip()
        i += 1
        stripped = raw.strip()
        if not stripped or _DECORATION.match(stripped):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent == 0:
            banner, i = _take_banner(stripped, lines, i)
            if banner is not None:
                root.children.append(Node(banner))
                stack = [(-1, root)]
                continue
        while stack[-1][0] >= indent:
            stack.pop()
        node = Node(stripped)
        stack[-1][1].children.append(node)
        stack.append((indent, node))
    return root


def _take_banner(first: str, lines: list[str], i: int) -> tuple[str | None, int]:
    """A multi-line banner starting at ``first``: (its text, index after it), else (None, i)."""
    if _EOS_BANNER.match(first):
        end = "EOF"
    else:
        m = _IOS_BANNER.match(first)
        if m is None or m.group(1) in m.group(2):
            return None, i  # not a banner, or a one-line banner: an ordinary line
        end = m.group(1)
    body = [first]
    while i < len(lines):
        body.append(lines[i].rstrip())
        i += 1
        if end in body[-1]:
            break
    return "\n".join(body), i


def render(root: Node, indent: int, separators: bool) -> list[str]:
    """Lines of the tree, children indented by ``indent`` spaces per level.

    A ``!`` line separates top-level sections; with ``separators`` (IOS style) one also opens
    each ``address-family`` block, which then ends with ``exit-address-family``.
    """
    out: list[str] = []
    for child in root.children:
        if child.children and out and out[-1] != "!":
            out.append("!")
        _render_node(child, 0, indent, separators, out)
        if child.children:
            out.append("!")
    return out


def _render_node(node: Node, depth: int, indent: int, separators: bool, out: list[str]) -> None:
    pad = " " * (indent * depth)
    out.extend(pad + line if n == 0 else line for n, line in enumerate(node.text.split("\n")))
    for child in node.children:
        if separators and child.text.startswith("address-family"):  # IOS sets these apart with " !"
            out.append(" " * (indent * (depth + 1)) + "!")
        _render_node(child, depth + 1, indent, separators, out)
        if separators and _CERT_CHAIN.match(node.text):  # IOS ends each certificate's hex with "  <TAB>quit"
            out.append(" " * (indent * (depth + 2)) + "\tquit")
    if separators and depth == 1 and node.text.startswith("address-family"):
        out.append(" " * (indent * depth) + "exit-address-family")


def key_of(text: str, key_words: int) -> tuple[str, ...]:
    return tuple(text.split()[:key_words])


def set_line(parent: Node, text: str, key_words: int = 0) -> bool:
    """Add ``text`` under ``parent``; with ``key_words`` it replaces a line with the same first words.

    Returns True when the tree changed.
    """
    if parent.find(text) is not None:
        return False
    if key_words:
        key = key_of(text, key_words)
        for n, child in enumerate(parent.children):
            if key_of(child.text, key_words) == key:
                parent.children[n] = Node(text, child.children)
                return True
    parent.children.append(Node(text))
    return True


def open_section(parent: Node, header: str) -> Node:
    """The section ``header`` under ``parent``, created at the end when it does not exist."""
    node = parent.find(header)
    if node is None:
        node = Node(header)
        parent.children.append(node)
    return node


def remove(parent: Node, text: str) -> int:
    """Remove the child line ``text`` (with its section); failing that, every child it prefixes.

    ``no ip address`` thus removes ``ip address 10.0.0.1 255.255.255.0``. Returns the count removed.
    """
    exact = [c for c in parent.children if same_line(c.text, text)]
    words = text.split()
    doomed = exact or [c for c in parent.children if c.text.split()[: len(words)] == words
                       and len(c.text.split()) > len(words)]
    gone = {id(c) for c in doomed}
    parent.children = [c for c in parent.children if id(c) not in gone]
    return len(doomed)
