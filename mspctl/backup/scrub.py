"""Secret scrubbing for stored configurations: applied before anything is written."""

from __future__ import annotations

import re
from collections.abc import Sequence

MASK = "<removed>"

# Each pattern's group 1 is kept, the rest of the match becomes MASK. IOS/EOS style.
DEFAULT_PATTERNS: tuple[str, ...] = (
    r"^(\s*enable (?:secret|password)(?: \d+)?(?: sha512)? )\S+",
    r"^(\s*username \S+(?: privilege \d+)? (?:secret|password)(?: \d+)?(?: sha512)? )\S+",
    r"^(\s*snmp-server community )\S+",
    r"^(\s*(?:tacacs-server|radius-server) (?:host \S+ )?key(?: \d+)? )\S+",
    r"^(\s*key(?:-string)?(?: \d+)? )\S+",
    r"^(\s*(?:password|secret)(?: \d+)? )\S+",
    r"^(\s*crypto isakmp key(?: \d+)? )\S+",
    r"^(\s*pre-shared-key (?:\w+ )?)\S+",
    r"^(\s*ip ospf message-digest-key \d+ md5(?: \d+)? )\S+",
    r"^(\s*neighbor \S+ password(?: \d+)? )\S+",
)


class Scrubber:
    def __init__(self, patterns: Sequence[str] = DEFAULT_PATTERNS) -> None:
        self._patterns = [re.compile(p, re.MULTILINE) for p in patterns]

    def __call__(self, text: str) -> str:
        for pat in self._patterns:
            text = pat.sub(lambda m: m.group(1) + MASK, text)
        return text
