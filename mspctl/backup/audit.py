"""`mspctl config audit-history`: secrets that are still in the backups repository's history.

Backups written before a scrubbing rule existed (or by hand, or by another tool) keep their
secrets in git history even after today's backups are clean. This scans every commit on every
ref, every line each one added and every commit message, with today's scrubber; a line it would
still change holds a secret. Findings carry the scrubbed line, never the secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mspctl.adapters.git import GitRepo
from mspctl.errors import ExitCode, MspctlError
from mspctl.secrets import scrub_line
from mspctl.settings import Settings


@dataclass(frozen=True)
class SecretFinding:
    commit: str
    path: str  # "" for the commit's message
    line: int
    text: str  # the line as the scrubber leaves it

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.commit, "file": self.path or "(commit message)", "line": self.line, "text": self.text}


@dataclass(frozen=True)
class HistoryAudit:
    repo: Path
    commits: int
    findings: tuple[SecretFinding, ...]

    @property
    def dirty_commits(self) -> list[str]:
        return list(dict.fromkeys(f.commit for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        return {"repo": str(self.repo), "commits": self.commits, "clean": not self.findings,
                "dirty_commits": self.dirty_commits, "findings": [f.to_dict() for f in self.findings]}


def audit_history(repo: GitRepo) -> HistoryAudit:
    """Every line of `repo`'s history that today's scrubber would change, oldest commit first.
    A file's platform is not recorded in the repository, so every platform's rules apply."""
    commits: set[str] = set()
    findings: list[SecretFinding] = []
    for added in repo.added_lines():
        commits.add(added.commit)
        masked = scrub_line(added.text)
        if masked != added.text:
            findings.append(SecretFinding(added.commit, added.path, added.line, masked))
    return HistoryAudit(repo.path, len(commits), tuple(findings))


def audit_backups(settings: Settings, path: Path | None = None) -> HistoryAudit:
    """Audit the backups repository ([config] backups, or `path`), with every device secret mspctl
    can find registered first (so a device password that reached a backup is found too).

    Raises MspctlError MSP-GIT-404 when there is no repository there, GitError when git fails."""
    from mspctl.credentials import CredentialStore
    from mspctl.repo import load_clients_file

    refs = [c.credentials for c in load_clients_file(settings.clients_path) if c.credentials]
    CredentialStore().register_all(refs)
    repo = GitRepo(path or settings.path(settings.config.backups))
    if not repo.is_repo():
        raise MspctlError(f"{repo.path}: no backups repository here", code="MSP-GIT-404",
                          exit_code=ExitCode.NOT_FOUND, hint="run `mspctl config backup` first, or give --repo")
    return audit_history(repo)
