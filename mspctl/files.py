"""File helpers shared by every writer: nothing is ever left half-written, and no name taken
from NetBox (device, VM, client, site) ever leaves the folder it is written to.

`path_in` is the one function that turns such names into paths. Each name becomes one path
component through `safe_component`: ordinary names (``acme``, ``acme-core-sw1``) map to
themselves, anything else is percent-encoded, so two names never share a file and the name can be
read back from the file name (`name_of`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from mspctl.errors import PathEscapeError, storage_error

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# Room under the usual 255-byte limit for a suffix (``.lock``) and write_atomic's temporary
# name (``.<name>.XXXXXXXX``).
MAX_COMPONENT_BYTES = 200
_HASHED = re.compile(r"~[0-9a-f]{16}\Z")
_ENCODED = re.compile(r"(?:[A-Za-z0-9._-]|%[0-9A-F]{2})+\Z")


def safe_component(name: str) -> str:
    """One path component for `name`, safe on every POSIX filesystem.

    Input: any string (NUL, ``/``, newlines, ``..``, unpaired surrogates included).
    Output: ASCII drawn from ``[A-Za-z0-9._%~-]``, never ``.``, ``..``, empty or starting with ``.``
    or ``-``, at most `MAX_COMPONENT_BYTES` bytes. Every UTF-8 byte outside ``[A-Za-z0-9._-]`` is
    written ``%XX`` (``%`` itself is ``%25``), and so are a leading ``.`` or ``-``; the empty name is
    ``%``. A longer result is cut and ends ``~<16 hex digits of its SHA-256>`` (``~`` appears in
    no other result). Distinct names give distinct components (the cut ones up to a hash collision),
    and the uncut ones decode back with `name_of`. Never raises.
    """
    data = name.encode("utf-8", "surrogatepass")
    if not data:
        return "%"
    out = "".join(chr(b) if b in _SAFE and not (i == 0 and b in b".-") else f"%{b:02X}"
                  for i, b in enumerate(data))
    if len(out) <= MAX_COMPONENT_BYTES:
        return out
    head = out[:MAX_COMPONENT_BYTES - 17]
    if "%" in head[-2:]:  # never cut a %XX in half
        head = head[:head.rindex("%")]
    return f"{head}~{hashlib.sha256(data).hexdigest()[:16]}"


def name_of(component: str) -> str | None:
    """The name `safe_component` encoded as `component`; None for a shortened (hashed) component or
    a string no name encodes to."""
    if component == "%":
        return ""
    if _HASHED.search(component) or not _ENCODED.match(component):
        return None
    raw = re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), component.encode("ascii"))
    try:
        name = raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    return name if safe_component(name) == component else None


def path_in(root: Path, *names: str, suffix: str = "") -> Path:
    """``root/<name>/<name>...<suffix>``: each name (NetBox data) made one component by
    `safe_component`; `suffix` (a constant such as ``.cfg``) is appended to the last.

    Output: the path as spelled under `root` (not resolved). Raises `PathEscapeError` when the
    path, resolved with its symbolic links (`os.path.realpath`), is not inside the resolved `root`:
    a link planted inside the folder points out of it. Nothing is created. ValueError (a bug in the
    caller): no name, or a suffix that is not itself safe.
    """
    if not names:
        raise ValueError("path_in needs at least one name")
    if safe_component("x" + suffix) != "x" + suffix:
        raise ValueError(f"unsafe suffix {suffix!r}")
    parts = [safe_component(n) for n in names]
    path = root.joinpath(*parts[:-1], parts[-1] + suffix)
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root) or real == real_root:
        raise PathEscapeError(f"{path}: the file for {' / '.join(repr(n) for n in names)} would be outside "
                              f"{root}: it resolves to {real}",
                              hint=f"a symbolic link inside {root} points out of it; remove the link")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see either the old file or the whole new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise storage_error(exc, f"{path}: cannot write") or exc from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)  # never a half-written file left behind
        if isinstance(exc, OSError) and (err := storage_error(exc, f"{path}: cannot write")) is not None:
            raise err from None
        raise


def private_dir(path: Path) -> Path:
    """`path` as a folder only its owner can read (0700), created with its parents if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """`path` as a file only its owner can read or write (0600), created empty if missing. Not for
    SQLite databases (see `seal_database`)."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    os.chmod(path, 0o600)
    return path


def seal_database(path: Path) -> Path:
    """An SQLite database file made 0600, after SQLite created or opened it (its folder already
    `private_dir`). Never opens the file: closing any descriptor of a database file drops every
    POSIX lock this process's SQLite connections hold on it, another thread's write lock included,
    and concurrent writers then corrupt it (sqlite.org/howtocorrupt.html, 2.2). Its journals take
    the file's mode."""
    os.chmod(path, 0o600)
    return path


def read_text(path: Path) -> str:
    """A settings or repository file as UTF-8 text. Raises ConfigError naming ``file:line`` of
    the first byte that is not UTF-8 (a file saved in another encoding)."""
    from mspctl.errors import ConfigError

    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 (byte {raw[exc.start]:#04x})",
                          hint="save the file as UTF-8") from None
