"""A git repository of configuration backups (plain `git`, through subprocess)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from mspctl.errors import MspctlError


class GitError(MspctlError):
    code = "MSP-GIT-001"


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Literal pathspecs: a backup's file name is never read as a glob or a `:(magic)` pathspec.
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LITERAL_PATHSPECS="1", GIT_AUTHOR_NAME="mspctl",
                   GIT_AUTHOR_EMAIL="mspctl@localhost", GIT_COMMITTER_NAME="mspctl",
                   GIT_COMMITTER_EMAIL="mspctl@localhost")
        try:
            proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env,
                                  timeout=120)
        except FileNotFoundError:
            raise GitError("git is not installed", hint="install git") from None
        if check and proc.returncode != 0:
            raise GitError(f"{self.path}: git {args[0]} failed: {proc.stderr.strip()[:300]}")
        return proc

    def ensure(self) -> None:
        """Create the repository on first use."""
        if (self.path / ".git").is_dir():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._git("init", "-q", "-b", "main")

    def commit_all(self, message: str) -> str | None:
        """Stage everything and commit; None when nothing changed (no empty commits)."""
        self._git("add", "-A")
        if self._git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        self._git("commit", "-q", "-m", message)
        return self._git("rev-parse", "HEAD").stdout.strip()

    def last_commit_time(self, relpath: str) -> datetime | None:
        out = self._git("log", "-1", "--format=%cI", "--", relpath, check=False).stdout.strip()
        return datetime.fromisoformat(out).astimezone(UTC) if out else None
