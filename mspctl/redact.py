"""Secret masking for everything mspctl prints, logs or writes.

Secrets are registered when they are loaded (the NetBox token, credentials); `redact` then
masks them anywhere they appear. Token-shaped strings are masked even when unregistered.
"""

from __future__ import annotations

import logging
import re

MASK = "********"
_known: set[str] = set()
# Token-shaped strings, masked even when nobody registered them: NetBox v2 tokens
# (nbt_<key>.<secret>) and the value after "Token " / "Bearer " in a header.
# (pattern, what of the match is kept, words one of which a text it matches holds, lower-cased:
# a substring test before the regular expression)
_PATTERNS = [
    (re.compile(r"nbt_[A-Za-z0-9]+\.[A-Za-z0-9]+"), "", ("nbt_",)),
    (re.compile(r"(?i)\b(Token|Bearer)(\s+)[A-Za-z0-9_.]{16,}"), r"\1\2", ("token", "bearer")),
]


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` masks it; values shorter than 4 chars are ignored."""
    if value and len(value) >= 4:
        _known.add(value)


def redact(text: str, mask: str = MASK) -> str:
    """`text` with every registered secret and token-shaped string replaced by `mask`
    (`mspctl.secrets` passes its own, so a config line reads alike whichever way it was masked)."""
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, mask)
    lowered = text.lower()
    for pat, keep, words in _PATTERNS:
        if any(w in lowered for w in words):
            text = pat.sub(keep + mask.replace("\\", "\\\\"), text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True
