"""Control characters in NetBox data made visible wherever mspctl prints text for people.

A device named ``rtr1\\n\\x1b[2J`` must not add a table row, clear the terminal or reorder a line
(bidi overrides). Tables, log and progress lines, Markdown and JUnit show such text escaped the
way Python writes string literals: a backslash is ``\\\\``, newline, carriage return and tab are
``\\n``, ``\\r``, ``\\t``, and every other character Python does not count as printable (C0/C1
controls, DEL, bidi and zero-width format characters, line/paragraph separators, spaces other than
U+0020, unpaired surrogates, unassigned code points) is ``\\xHH``, ``\\uHHHH`` or ``\\UHHHHHHHH``.
The escaped form is unambiguous: `unescape_text` gives the original back, so a printed name can
be passed to ``mspctl inventory show``. JSON and YAML output keep the exact values.
"""

from __future__ import annotations

import logging
import re

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SEQUENCE = re.compile(r"\\(\\|n|r|t|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")
_UNNAMED = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """`text` on one line, every non-printable character and the backslash escaped (see the module
    docstring). Printable text without a backslash is returned unchanged. Never raises."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape_char(ch) for ch in text)


def escape_lines(text: str) -> str:
    """`text` with each line escaped by `escape_text` and the ``\\n`` between lines kept: for
    multi-line bodies (a JUnit failure text, a list of commands)."""
    return "\n".join(escape_text(line) for line in text.split("\n"))


def unescape_text(text: str) -> str:
    """The inverse of `escape_text`: ``unescape_text(escape_text(s)) == s`` for every string.
    A backslash that starts no escape sequence is kept as it is."""
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        seq = m.group(1)
        return _UNNAMED[seq] if seq in _UNNAMED else chr(int(seq[1:], 16))

    return _SEQUENCE.sub(one, text)


def spellings(name: str) -> list[str]:
    """The names a user may mean by `name`, first the one it reads as when copied from mspctl's
    table output (its escapes undone), then `name` as typed."""
    plain = unescape_text(name)
    return [plain] if plain == name else [plain, name]


class EscapingFilter(logging.Filter):
    """A logging filter that escapes control characters in the formatted message, so one log
    record stays one line whatever NetBox data it quotes (the traceback of ``--debug`` is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = escape_text(record.getMessage())
        record.args = None
        return True
