"""The backups repository adapter against a real git: one writer at a time, commits that hold
only a run's own files, and change detection against HEAD."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from mspctl.adapters.git import GitRepo, RepoLockedError


def _log(repo: GitRepo) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo.path), "log", "--name-only", "--format=%s"], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def test_a_commit_holds_only_the_paths_given(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "b")
    repo.ensure()
    (repo.path / "a.cfg").write_text("one\n")
    (repo.path / "left-by-a-killed-run.cfg").write_text("stray\n")
    assert repo.commit_paths(["a.cfg"], "run 1") is not None
    assert _log(repo) == ["run 1", "a.cfg"]
    assert repo.committed("a.cfg") == "one\n" and repo.committed("left-by-a-killed-run.cfg") is None
    assert repo.commit_paths(["a.cfg"], "run 2") is None  # nothing differs from HEAD: no empty commit
    (repo.path / "a.cfg").write_text("two\n")
    subprocess.run(["git", "-C", str(repo.path), "add", "left-by-a-killed-run.cfg"], check=True)  # staged stray
    assert repo.commit_paths(["a.cfg"], "run 3")
    assert _log(repo)[:2] == ["run 3", "a.cfg"]  # the staged stray file is not part of run 3


def test_one_writer_at_a_time_and_a_bounded_wait(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "b")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with GitRepo(repo.path).locked(5):
            held.set()
            release.wait(10)
    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    try:
        with pytest.raises(RepoLockedError, match="the backups repository is in use \\(pid ") as err, \
                repo.locked(0.3):
            pass
        assert err.value.code == "MSP-GIT-409" and err.value.exit_code == 6
    finally:
        release.set()
        t.join()
    started = time.monotonic()
    with repo.locked(5):  # free again
        pass
    assert time.monotonic() - started < 5


def test_a_stale_git_index_lock_is_removed_under_the_lock(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    repo = GitRepo(tmp_path / "b")
    repo.ensure()
    stale = repo.path / ".git" / "index.lock"
    stale.write_text("")
    with repo.locked(1):
        assert not stale.exists()
        (repo.path / "a.cfg").write_text("x\n")
        assert repo.commit_paths(["a.cfg"], "after a killed git") is not None
    assert "stale git lock" in caplog.text


def test_reading_many_committed_files_at_once_reads_each_as_committed_does(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.ensure()
    assert repo.committed_all(["a.cfg"]) == {"a.cfg": None}  # no commit yet
    files = {"a.cfg": "hostname a\n", "c/b%20x.cfg": "crlf\r\nline\r\n", "c/empty.cfg": "", "u.cfg": "naïve ✓\n"}
    for rel, text in files.items():
        (repo.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / rel).write_bytes(text.encode())
    repo.commit_paths(list(files), "files")
    (repo.path / "a.cfg").write_text("changed, not committed\n")
    wanted = [*files, "missing.cfg"]
    assert repo.committed_all([*wanted, "c"]) == {**{p: repo.committed(p) for p in wanted}, "c": None}
    assert repo.committed_all(["a.cfg"])["a.cfg"] == "hostname a\n"
