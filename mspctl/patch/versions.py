"""Version ordering as the package managers and network OSes define it.

Every function returns a negative number, zero or a positive number, like ``cmp``: only the sign
means anything. `compare_deb` follows dpkg's ``verrevcmp`` exactly and `compare_rpm` librpm's
``rpmvercmp``/``rpmverCmp``, so "is the candidate newer?" gives the answer apt or dnf would.
"""

from __future__ import annotations

import re
from string import ascii_letters, digits

_DEB_MANAGERS = frozenset({"apt", "dpkg"})
_RPM_MANAGERS = frozenset({"dnf", "yum", "rpm"})


def compare(a: str, b: str, manager: str) -> int:
    """Compare versions `a` and `b` with the rules of package `manager`.

    ``apt``/``dpkg`` use dpkg's rules, ``dnf``/``yum``/``rpm`` rpm's; anything else (including an
    unknown or empty manager) falls back to dpkg's, the stricter of the two.
    Raises ValueError when a Debian version has a non-numeric epoch.
    """
    if manager.lower() in _RPM_MANAGERS:
        return compare_rpm(a, b)
    return compare_deb(a, b)


# --- dpkg -----------------------------------------------------------------------------------


def compare_deb(a: str, b: str) -> int:
    """Compare two Debian versions ``[epoch:]upstream[-revision]`` as ``dpkg --compare-versions``.

    The epoch compares numerically; upstream and revision with dpkg's ``verrevcmp`` (``~`` before
    everything, even the end; letters before other characters; digit runs as numbers). A missing
    revision equals ``0``. Raises ValueError when the epoch is not a number.
    """
    ea, ua, ra = _deb_split(a)
    eb, ub, rb = _deb_split(b)
    if ea != eb:
        return ea - eb
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def _deb_split(version: str) -> tuple[int, str, str]:
    whole = version = version.strip()
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        if not head.isascii() or not head.isdigit():
            raise ValueError(f"version {whole!r} has a non-numeric epoch {head!r}")
        epoch = int(head)
    upstream, _, revision = version.rpartition("-")
    if not upstream:  # no hyphen: the whole string is the upstream version
        return epoch, revision, ""
    return epoch, upstream, revision


def _deb_order(c: str) -> int:
    # dpkg's order(): digits (and the end of the string) 0, '~' below everything, letters by
    # their code, every other character after all letters.
    if c == "" or c in digits:
        return 0
    if c == "~":
        return -1
    if c in ascii_letters:
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and a[i] not in digits) or (j < len(b) and b[j] not in digits):
            ac = _deb_order(a[i] if i < len(a) else "")
            bc = _deb_order(b[j] if j < len(b) else "")
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        first_diff = 0
        while i < len(a) and a[i] in digits and j < len(b) and b[j] in digits:
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        # The longer digit run (leading zeros gone) is the larger number.
        if i < len(a) and a[i] in digits:
            return 1
        if j < len(b) and b[j] in digits:
            return -1
        if first_diff:
            return first_diff
    return 0


# --- rpm ------------------------------------------------------------------------------------


def compare_rpm(a: str, b: str) -> int:
    """Compare two RPM versions ``[epoch:]version[-release]`` as ``rpmdev-vercmp`` does.

    Epoch (missing = 0), then version, then release with ``rpmvercmp``: alphanumeric segments,
    numbers newer than letters, ``~`` sorts before everything (pre-releases), ``^`` after the
    base version but before any further segment (snapshots). When either side has no release,
    releases are not compared (as librpm's ``rpmverCmp``). Never raises.
    """
    ea, va, ra = _rpm_split(a)
    eb, vb, rb = _rpm_split(b)
    rc = _rpmvercmp(ea, eb) or _rpmvercmp(va, vb)
    if rc or ra is None or rb is None:
        return rc
    return _rpmvercmp(ra, rb)


def _rpm_split(evr: str) -> tuple[str, str, str | None]:
    evr = evr.strip()
    epoch = "0"
    if ":" in evr:
        epoch, evr = evr.split(":", 1)
    version, sep, release = evr.rpartition("-")
    if not sep:
        return epoch or "0", release, None
    return epoch or "0", version, release


def _alnum(c: str) -> bool:
    return c in digits or c in ascii_letters


def _rpmvercmp(a: str, b: str) -> int:
    """librpm's ``rpmvercmp`` on one version or release string: -1, 0 or 1."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if "~" in (ca, cb):
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        if "^" in (ca, cb):
            # A caret is newer than the end of the string, older than any other segment.
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        kind = digits if ca in digits else ascii_letters
        i2, j2 = i, j
        while i2 < len(a) and a[i2] in kind:
            i2 += 1
        while j2 < len(b) and b[j2] in kind:
            j2 += 1
        seg_a, seg_b = a[i:i2], b[j:j2]
        if not seg_b:  # different segment types: numbers are newer than letters
            return 1 if kind is digits else -1
        if kind is digits:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
        i, j = i2, j2
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


# --- network operating systems --------------------------------------------------------------

_OS_RUN = re.compile(r"\d+|[A-Za-z]+")


def compare_os(a: str, b: str) -> int:
    """Compare network OS versions such as ``17.9.4a``, ``4.28.3M`` or ``15.2(7)E8``.

    Both are split into runs of digits and of letters (punctuation only separates): digit runs
    compare as numbers, letter runs case-insensitively, a number is newer than letters at the
    same position, and with an equal prefix the version with more runs is newer
    (``17.9.4a`` > ``17.9.4``). Never raises.
    """
    ra, rb = _OS_RUN.findall(a), _OS_RUN.findall(b)
    for x, y in zip(ra, rb, strict=False):
        xn, yn = x.isdigit(), y.isdigit()
        if xn and yn:
            if int(x) != int(y):
                return 1 if int(x) > int(y) else -1
        elif xn != yn:
            return 1 if xn else -1
        elif x.lower() != y.lower():
            return 1 if x.lower() > y.lower() else -1
    return (len(ra) > len(rb)) - (len(ra) < len(rb))
