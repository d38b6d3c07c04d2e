"""A git repository of configuration backups (plain `git`, through subprocess)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mspctl.errors import MspctlError, RefusedError, storage_error
from mspctl.files import private_dir, private_file

log = logging.getLogger(__name__)


class RepoLockedError(RefusedError):
    code = "MSP-GIT-409"


class GitError(MspctlError):
    code = "MSP-GIT-001"


@dataclass(frozen=True)
class AddedLine:
    """A line a commit brought: into `path` at `line` (1-based, in the file as the commit left
    it), or, with `path` "", line `line` of the commit's message."""

    commit: str
    path: str
    line: int
    text: str


# `git log` output: a record separator, the commit id and its message up to a unit separator, then its diff.
_LOG_FORMAT = "--format=%x1e%H%n%B%x1f"
_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


MSPCTL_IDENTITY = ("mspctl", "mspctl@localhost")


class GitRepo:
    def __init__(self, path: Path, identity: tuple[str, str] | None = MSPCTL_IDENTITY) -> None:
        """`identity` is the (name, e-mail) of the commits made here (mspctl's own for backups);
        None: git's configuration decides (the user's, for an MSP repository)."""
        self.path = path
        self.identity = identity

    def _env(self) -> dict[str, str]:
        # Literal pathspecs: a backup's file name is never read as a glob or a `:(magic)` pathspec.
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LITERAL_PATHSPECS="1")
        if self.identity is not None:
            name, email = self.identity
            env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name,
                       GIT_COMMITTER_EMAIL=email)
        return env

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                                  env=self._env(), timeout=120)
        except FileNotFoundError:
            raise GitError("git is not installed", hint="install git") from None
        if check and proc.returncode != 0:
            full = storage_error(RuntimeError(proc.stderr), f"{self.path}: git {args[0]} failed")
            if full is not None:  # git leaves the repository as it was: the commit is all or nothing
                raise full
            raise GitError(f"{self.path}: git {args[0]} failed: {proc.stderr.strip()[:300]}")
        return proc

    def ensure(self) -> None:
        """Create the repository on first use; it is private to the user (the folder 0700, and git
        keeps its own files 0600), as backups of device configs should be."""
        private_dir(self.path)
        if (self.path / ".git").is_dir():
            return
        self._git("init", "-q", "-b", "main", "--shared=0600")

    def init_shared(self) -> bool:
        """`git init` (branch main) unless `path` is a repository already; True when it made one.
        Unlike `ensure`, files keep the user's umask: this is a repository to share (an MSP's)."""
        if (self.path / ".git").exists():
            return False
        self._git("init", "-q", "-b", "main")
        return True

    def user_identity(self) -> tuple[str, str] | None:
        """git's configured user.name and user.email here (local, global or system config); None
        when either is missing."""
        name = self._git("config", "--get", "user.name", check=False).stdout.strip()
        email = self._git("config", "--get", "user.email", check=False).stdout.strip()
        return (name, email) if name and email else None

    @property
    def lock_path(self) -> Path:
        """The file `locked` holds: beside the repository (it exists before the repository does)."""
        return self.path.parent / f".{self.path.name}.mspctl-lock"

    def commit_paths(self, paths: Sequence[str], message: str) -> str | None:
        """Commit exactly `paths` as they are in the working tree (whatever else is staged or
        changed stays out of it); None when none of them differs from HEAD."""
        if not paths:
            return None
        self._git("add", "-A", "--", *paths)
        if self._git("diff", "--cached", "--quiet", "HEAD", "--", *paths, check=False).returncode == 0 \
                and self.head() is not None:
            return None
        self._git("commit", "-q", "-m", message, "--", *paths)
        return self.head()

    def head(self) -> str | None:
        out = self._git("rev-parse", "--verify", "-q", "HEAD", check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def work_tree_state(self) -> tuple[str, bool] | None:
        """(HEAD's full commit id, whether tracked files have uncommitted changes) when `path` is
        inside a git work tree with a commit; None otherwise (not a repository, no commit yet,
        git missing or refusing it). Reads only: no optional locks, so a concurrent git is never
        blocked by an index refresh."""
        try:
            inside = self._git("rev-parse", "--is-inside-work-tree", check=False)
            if inside.returncode != 0 or inside.stdout.strip() != "true":
                return None
            commit = self.head()
            if commit is None:
                return None
            status = self._git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no", check=False)
        except (GitError, OSError, subprocess.SubprocessError):
            return None
        return commit, status.returncode != 0 or bool(status.stdout.strip())

    def committed(self, relpath: str) -> str | None:
        """`relpath` as the last commit has it (None: not in HEAD, or no commit yet)."""
        out = self._git("show", f"HEAD:{relpath}", check=False)
        return out.stdout if out.returncode == 0 else None

    def committed_all(self, relpaths: Sequence[str]) -> dict[str, str | None]:
        """Each file of `relpaths` as `committed` reads it, all through one ``git cat-file --batch``
        (a backup of 500 devices otherwise starts 500 git processes, one after the other)."""
        if self.head() is None:
            return dict.fromkeys(relpaths)
        simple = [p for p in relpaths if "\n" not in p and "\r" not in p]
        found: dict[str, str | None] = {p: self.committed(p) for p in relpaths if p not in simple}
        if not simple:
            return found
        try:
            proc = subprocess.run(["git", "-C", str(self.path), "cat-file", "--batch"], capture_output=True,
                                  input="".join(f"HEAD:{p}\n" for p in simple).encode(), env=self._env(), timeout=120)
        except FileNotFoundError:
            raise GitError("git is not installed", hint="install git") from None
        if proc.returncode != 0:
            raise GitError(f"{self.path}: git cat-file failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
        out, pos = proc.stdout, 0
        for path in simple:  # each answer: "<object> blob <size>\n<content>\n", or "<name> missing\n"
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) != 3:  # missing (or ambiguous): not in HEAD
                found[path] = None
                continue
            size = int(header[2])
            # A file as `git show` reads it in text mode: UTF-8, universal newlines (a folder: None).
            content = out[pos:pos + size]
            found[path] = (content.decode().replace("\r\n", "\n").replace("\r", "\n")
                           if header[1] == b"blob" else None)
            pos += size + 1
        return found

    @contextlib.contextmanager
    def locked(self, wait: float) -> Iterator[None]:
        """Hold the repository's lock (one mspctl writer at a time), waiting up to `wait` seconds.

        Raises RepoLockedError when another process keeps it. Under the lock, a git
        ``index.lock`` can only be a killed git's leftover: it is removed, with a warning.
        The lock file sits beside the repository, so that two first runs do not both create it."""
        fh = private_file(self.lock_path).open("a+")
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        fh.seek(0)
                        holder = fh.read().strip() or "another process"
                        raise RepoLockedError(f"{self.path}: the backups repository is in use ({holder}); "
                                              f"waited {wait:.0f}s", hint="run again when it is done") from None
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
            fh.flush()
            self.ensure()
            stale = self.path / ".git" / "index.lock"
            if stale.exists():
                log.warning("%s: removing a stale git lock left by a killed git process", stale)
                stale.unlink(missing_ok=True)
            yield
        finally:
            fh.close()  # releases the lock

    def last_commit_time(self, relpath: str) -> datetime | None:
        out = self._git("log", "-1", "--format=%cI", "--", relpath, check=False).stdout.strip()
        return datetime.fromisoformat(out).astimezone(UTC) if out else None

    def is_repo(self) -> bool:
        return (self.path / ".git").is_dir() or (self.path / "HEAD").is_file()

    def added_lines(self) -> Iterator[AddedLine]:
        """Every line of every commit on every ref, oldest first: each commit's message, and each
        line its diff adds (a merge: against its first parent). Together they are every version of
        every file the history holds. Streamed: a long history is never held in memory."""
        cmd = ["git", "-C", str(self.path), "-c", "core.quotePath=false", "log", "--all", "--reverse", "--no-color",
               "--no-renames", "--no-ext-diff", "--diff-merges=first-parent", "-U0", "-p", _LOG_FORMAT]
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env(),
                                    encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise GitError("git is not installed", hint="install git") from None
        assert proc.stdout is not None
        with proc:
            yield from _parse_log(proc.stdout)
            err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode not in (0, None) and "does not have any commits" not in err:
            raise GitError(f"{self.path}: git log failed: {err.strip()[:300]}")


def _parse_log(lines: Iterator[str]) -> Iterator[AddedLine]:
    commit, path = "", ""
    in_message, number = False, 0
    old_left = new_left = 0  # the lines of the current hunk still to come
    for raw in lines:
        line = raw.removesuffix("\n")
        if old_left or new_left:  # inside a hunk: content, whatever it looks like
            if line.startswith("+"):
                if path:
                    yield AddedLine(commit, path, number, line[1:])
                number, new_left = number + 1, new_left - 1
            elif line.startswith("-"):
                old_left -= 1
            continue
        if line.startswith("\x1e"):
            commit, path, in_message, number = line[1:], "", True, 0
        elif in_message:
            text, end, _ = line.partition("\x1f")
            if text or not end:
                number += 1
                yield AddedLine(commit, "", number, text)
            in_message = not end
        elif line.startswith("+++ "):
            name = line[4:].strip('"')  # a quoted name keeps its escapes: it is only shown
            path = name[2:] if name.startswith("b/") else ""  # "": /dev/null, the file was deleted
        elif m := _HUNK.match(line):
            old_left = int(m[1]) if m[1] is not None else 1
            number, new_left = int(m[2]), int(m[3]) if m[3] is not None else 1
