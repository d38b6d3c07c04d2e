"""Provenance: who ran a run, with which command line, and the versions of what it used.

Every run record carries it (`RunRecord.meta`, docs/history.md): an auditor reading a record
months later can tell whether a person or a CI job ran it, what they asked for, and exactly
which templates, features and baselines the result came from.

- `who()`: the OS user and host, or, in CI, the CI system's job (GitLab, GitHub Actions,
  Jenkins, any other CI that sets ``CI``).
- `command_line(argv)`: the command as typed, with secrets masked (option values, ``X_TOKEN=``
  assignments, passwords in URLs), then through mspctl's scrubber and redactor.
- `repository_version(root)`: the MSP repository's git commit (``git:<sha>``, ``+dirty`` with
  uncommitted changes to tracked files), or, outside git, a content hash of its templates,
  features, baselines and client list (``sha256:<hex>``).

The CLI opens one *run context* per process (`begin`, with the argv; `use_repository` once the
settings say where the repository is); the history store takes `meta()` from it when it saves a
record that has none. Without a context (mspctl used as a library, unit tests) `meta()` is
``{}`` and records are written as before.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MASK = "***"
# The parts of the MSP repository a run's result depends on (repository-relative defaults: the
# settings may point elsewhere, see `use_repository`).
DEFAULT_PARTS = (Path("templates"), Path("baselines"), Path("inventory/clients.yml"))

_SECRET_NAME = (r"[\w.-]*(?:token|password|passwd|passphrase|secret|credential|api[-_]?key|private[-_]?key"  # noqa: S105
                r"|auth[-_]?key)[\w.-]*")  # the name of an option or variable that holds a secret
_SECRET_OPTION = re.compile(rf"^--?{_SECRET_NAME}$", re.IGNORECASE)
_SECRET_ASSIGN = re.compile(rf"^(?P<name>{_SECRET_NAME})=(?P<value>.*)$", re.IGNORECASE | re.DOTALL)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^/@\s]+)(?=@)", re.IGNORECASE)
_PLAIN = re.compile(r"^[\w@%+=:,./*-]+$")  # an argument that needs no shell quoting


# -- who ------------------------------------------------------------------------------------------
def _os_user() -> str:
    """The OS account the process runs as (not `$USER`, which anyone can set)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, OSError):
        import getpass

        try:
            return getpass.getuser()
        except OSError:
            return str(os.geteuid()) if hasattr(os, "geteuid") else "unknown"


def _set(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _clean(d: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in d.items() if v}


def who(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Who runs mspctl: ``{"user": ..., "host": ...}`` for a person; in CI the CI system and its
    job (``{"ci": "gitlab", "job": "1234", "url": ..., "user": ..., "host": ...}``): GitLab
    (``CI_JOB_ID``, ``CI_JOB_URL``, ``GITLAB_USER_LOGIN``), GitHub Actions (``GITHUB_RUN_ID``,
    ``GITHUB_ACTOR``, ``GITHUB_WORKFLOW``), Jenkins (``BUILD_TAG``, ``BUILD_URL``), or any CI
    that sets ``CI`` (``"ci": "generic"``, the OS user). `env`: default the process's."""
    env = os.environ if env is None else env
    host = socket.gethostname()
    if _set(env, "GITLAB_CI") or env.get("CI_JOB_ID"):
        return _clean({"ci": "gitlab", "job": env.get("CI_JOB_ID"), "url": env.get("CI_JOB_URL"),
                       "user": env.get("GITLAB_USER_LOGIN"), "pipeline": env.get("CI_PIPELINE_ID"),
                       "project": env.get("CI_PROJECT_PATH"), "host": host})
    if _set(env, "GITHUB_ACTIONS") or env.get("GITHUB_RUN_ID"):
        run_id, server, repo = env.get("GITHUB_RUN_ID"), env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
        url = f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}" if run_id and server and repo else None
        return _clean({"ci": "github", "job": run_id, "url": url, "user": env.get("GITHUB_ACTOR"),
                       "workflow": env.get("GITHUB_WORKFLOW"), "project": repo, "host": host})
    if env.get("JENKINS_URL"):
        return _clean({"ci": "jenkins", "job": env.get("BUILD_TAG") or env.get("BUILD_NUMBER"),
                       "url": env.get("BUILD_URL"), "user": env.get("BUILD_USER_ID") or _os_user(), "host": host})
    if _set(env, "CI"):
        return _clean({"ci": "generic", "job": env.get("CI_JOB_ID") or env.get("BUILD_ID") or env.get("JOB_ID"),
                       "user": _os_user(), "host": host})
    return {"user": _os_user(), "host": host}


# -- the command line -----------------------------------------------------------------------------
def _mask_arg(arg: str) -> str:
    m = _SECRET_ASSIGN.match(arg)
    if m:  # `--netbox-token=x`, `NETBOX_TOKEN=x`, `-e ansible_password=x`
        return f"{m['name']}={MASK}" if m["value"] else arg
    return _URL_PASSWORD.sub(lambda u: u["head"] + MASK, arg)


def _quote(arg: str) -> str:
    return arg if _PLAIN.match(arg) else shlex.quote(arg)


def command_line(argv: Sequence[str]) -> str:
    """`argv` as one shell-quoted line with its secrets masked (``***``): the value of an option
    whose name says it is one (``--token X``, ``--netbox-token=X``, ``--password X``), a
    ``NAME_TOKEN=X`` / ``...PASSWORD=X`` style argument, the password of a URL
    (``postgresql+psycopg://u:pw@h/db`` -> ``u:***@h``); then every secret mspctl registered
    (`mspctl.redact`) and every config secret its scrubber knows (`mspctl.secrets`)."""
    from mspctl.redact import redact
    from mspctl.secrets import scrub_line

    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        masked = _mask_arg(arg)
        if masked == arg and _SECRET_OPTION.match(arg) and not arg.lower().startswith("--no-"):
            mask_next = True  # its value is the next argument
        out.append(masked)
    # The scrubber sees the text between the masks: a masked URL password stays `***`.
    return MASK.join(scrub_line(part) for part in redact(" ".join(_quote(a) for a in out), MASK).split(MASK))


# -- the repository's version ---------------------------------------------------------------------
def _files(root: Path, parts: Sequence[Path]) -> Iterator[tuple[str, Path]]:
    """(name, path) of every file under `parts` (files or folders, relative to `root` unless
    absolute), each once; the name is the path relative to `root` (POSIX), else absolute."""
    seen: set[Path] = set()
    for part in parts:
        base = part if part.is_absolute() else root / part
        if base.is_file():
            found = [base]
        elif base.is_dir():
            found = [Path(d) / f for d, dirs, files in os.walk(base) for f in files
                     if not any(p.startswith(".git") for p in Path(d).relative_to(base).parts)]
        else:
            continue
        for path in found:
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            try:
                name = path.relative_to(root).as_posix()
            except ValueError:
                name = path.as_posix()
            yield name, path


def content_hash(root: Path, parts: Sequence[Path] = DEFAULT_PARTS) -> str:
    """``sha256:<hex>`` over every file of `parts` (templates, features, baselines, the client
    list), sorted by relative path; each file's path and bytes are hashed, length-prefixed, so a
    renamed, added, removed or edited file changes it."""
    digest = hashlib.sha256()
    for name, path in sorted(_files(root, parts)):
        data = path.read_bytes()
        encoded = name.encode()
        digest.update(b"%d:%s\0%d:" % (len(encoded), encoded, len(data)))
        digest.update(data)
    return f"sha256:{digest.hexdigest()}"


def _version(root: Path, parts: Sequence[Path]) -> str:
    from mspctl.adapters.git import GitRepo

    state = GitRepo(root).work_tree_state() if root.is_dir() else None
    if state is not None:
        commit, dirty = state
        return f"git:{commit}{'+dirty' if dirty else ''}"
    return content_hash(root, parts)


def repository_version(root: Path) -> str:
    """The MSP repository's version: ``git:<full commit sha>`` (``+dirty`` when tracked files
    have uncommitted changes) when `root` is in a git work tree with a commit; otherwise
    ``sha256:<hex>``, the `content_hash` of its templates, features (templates/features.yml),
    baselines and inventory/clients.yml. Never raises for a missing git: it falls back to the
    hash."""
    return _version(root, DEFAULT_PARTS)


# -- the run context of this process --------------------------------------------------------------
@dataclass
class _Context:
    argv: list[str]
    root: Path | None = None
    parts: tuple[Path, ...] = DEFAULT_PARTS
    _version: str | None = field(default=None, repr=False)


class _Current:
    """The process's one run context (not a contextvar: a run's worker threads save records too)."""

    context: _Context | None = None


_lock = threading.Lock()
_current = _Current()


def begin(argv: Sequence[str]) -> None:
    """Open this process's run context: the command line every record it saves will carry."""
    with _lock:
        _current.context = _Context(list(argv))


def use_repository(root: Path, parts: Sequence[Path] | None = None) -> None:
    """Name the MSP repository the run reads (its version is taken when a record first needs
    it); `parts`: where its templates, features, baselines and client list are, when the
    settings moved them."""
    with _lock:
        ctx = _current.context
        if ctx is not None:
            ctx.root = root
            ctx.parts = tuple(parts) if parts is not None else DEFAULT_PARTS
            ctx._version = None


def end() -> None:
    """Close the run context (records saved afterwards carry no provenance)."""
    with _lock:
        _current.context = None


def active() -> bool:
    return _current.context is not None


def meta() -> dict[str, Any]:
    """What a record saved now carries: ``{"who": ..., "command": ..., "versions": {"mspctl": ...,
    "repository": ...}}``; ``{}`` when no run context is open. The repository's version is
    computed once per context."""
    from mspctl import __version__

    with _lock:
        ctx = _current.context
        if ctx is None:
            return {}
        if ctx.root is not None and ctx._version is None:
            ctx._version = _version(ctx.root, ctx.parts)
        versions = {"mspctl": __version__}
        if ctx._version is not None:
            versions["repository"] = ctx._version
        return {"who": who(), "command": command_line(ctx.argv), "versions": versions}


def describe_who(who_: Mapping[str, Any]) -> str:
    """`who()` as one phrase: ``alice@ws1``, ``gitlab job 1234 (bob)``; ``-`` when unknown."""
    if who_.get("ci"):
        by = f" ({who_['user']})" if who_.get("user") else ""
        return f"{who_['ci']} job {who_.get('job') or '?'}{by}"
    if who_.get("user"):
        return f"{who_['user']}@{who_['host']}" if who_.get("host") else str(who_["user"])
    return "-"


def scrubbed(obj: Any) -> Any:
    """`obj` (provenance: dicts, lists, strings) with every string scrubbed of secrets
    (`mspctl.secrets.scrub`) around the masks already in it: a URL's masked password stays
    ``***`` rather than being masked twice."""
    from mspctl.secrets import scrub

    if isinstance(obj, str):
        return MASK.join(scrub(part) for part in obj.split(MASK))
    if isinstance(obj, dict):
        return {k: scrubbed(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrubbed(v) for v in obj]
    return obj
