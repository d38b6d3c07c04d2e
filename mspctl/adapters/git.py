"""A git repository of configuration backups (plain `git`, through subprocess)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from mspctl.errors import MspctlError
from mspctl.files import private_dir


class GitError(MspctlError):
    code = "MSP-GIT-001"


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="mspctl", GIT_AUTHOR_EMAIL="mspctl@localhost",
                   GIT_COMMITTER_NAME="mspctl", GIT_COMMITTER_EMAIL="mspctl@localhost")
        try:
            proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env,
                                  timeout=120)
        except FileNotFoundError:
            raise GitError("git is not installed", hint="install git") from None
        if check and proc.returncode != 0:
            raise GitError(f"{self.path}: git {args[0]} failed: {proc.stderr.strip()[:300]}")
        return proc

    def ensure(self) -> None:
        """Create the repository on first use; it is private to the user (the folder 0700, and git
        keeps its own files 0600), as backups of device configs should be."""
        private_dir(self.path)
        if (self.path / ".git").is_dir():
            return
        self._git("init", "-q", "-b", "main", "--shared=0600")

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
