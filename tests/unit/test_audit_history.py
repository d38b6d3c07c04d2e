"""`mspctl config audit-history`: secrets left in the backups repository's git history."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mspctl.adapters.git import GitRepo
from mspctl.backup.audit import audit_history
from mspctl.cli import main
from mspctl.credentials import CredentialStore
from mspctl.errors import ExitCode
from mspctl.redact import redact, register_secret

LEAKED = "H00liR0-c0mm"
DEVICE_PW = "hooli-lab-pw-9"


def _commit(repo: GitRepo, files: dict[str, str], message: str, deleted: tuple[str, ...] = ()) -> str:
    repo.ensure()
    for rel, text in files.items():
        (repo.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / rel).write_text(text)
    commit = repo.commit_paths([*files, *deleted], message)
    assert commit
    return commit


@pytest.fixture
def leaky(tmp_path: Path) -> tuple[GitRepo, str, str]:
    """A backups repository whose first commit (an older mspctl's) kept secrets; today's HEAD is clean."""
    repo = GitRepo(tmp_path / "backups")
    first = _commit(repo, {"acme/r1.cfg": f"hostname r1\nsnmp-server community {LEAKED} RO\n"
                                          " description pw " + DEVICE_PW + "\nntp server 10.1.1.1\n"},
                    f"backup 1: 1 new\n\nfailed: r2: login netops/{DEVICE_PW} refused\n")
    second = _commit(repo, {"acme/r1.cfg": "hostname r1\nsnmp-server community <removed> RO\n description pw <removed>"
                                           "\nntp server 10.1.1.1\n",
                            "acme/r2.cfg": "hostname r2\n"}, "backup 2: 1 new, 1 changed")
    return repo, first, second


def test_every_line_still_holding_a_secret_is_found_by_commit_file_and_line(leaky: tuple[GitRepo, str, str]) -> None:
    repo, first, _ = leaky
    register_secret(DEVICE_PW)
    audit = audit_history(repo)
    assert audit.commits == 2 and audit.dirty_commits == [first]
    found = [(f.commit, f.path, f.line, f.text) for f in audit.findings]
    assert found == [(first, "", 3, "failed: r2: login netops/<removed> refused"),
                     (first, "acme/r1.cfg", 2, "snmp-server community <removed> RO"),
                     (first, "acme/r1.cfg", 3, " description pw <removed>")]
    assert LEAKED not in json.dumps(audit.to_dict()) and DEVICE_PW not in json.dumps(audit.to_dict())


def test_a_clean_history_has_no_finding(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "backups")
    _commit(repo, {"acme/r1.cfg": "hostname r1\nsnmp-server community <removed> RO\n"}, "backup 1")
    assert audit_history(repo).findings == ()


def test_other_branches_merges_and_deleted_files_are_scanned(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "backups")
    _commit(repo, {"a.cfg": "hostname a\n"}, "one")
    subprocess.run(["git", "-C", str(repo.path), "checkout", "-qb", "side"], check=True)
    side = _commit(repo, {"b.cfg": "hostname b\nenable secret 9 $9$gone\n"}, "side")
    (repo.path / "b.cfg").unlink()
    _commit(repo, {}, "delete b", deleted=("b.cfg",))
    subprocess.run(["git", "-C", str(repo.path), "checkout", "-q", "main"], check=True)
    found = audit_history(repo).findings
    assert [(f.commit, f.path, f.line, f.text) for f in found] == [(side, "b.cfg", 2, "enable secret 9 <removed>")]


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["config", "audit-history", *args], env={"NETBOX_API": "http://netbox.invalid",
                                                                           **(env or {})})
    return res.exit_code, res.stdout, res.stderr


def test_the_command_exits_4_with_findings_and_never_prints_the_secret(leaky: tuple[GitRepo, str, str],
                                                                       tmp_path: Path) -> None:
    repo, first, _ = leaky
    creds = tmp_path / "credentials.toml"
    creds.write_text(f'[hooli-netops]\nusername = "noc"\npassword = "{DEVICE_PW}"\n')
    os.chmod(creds, 0o600)
    env = {"MSPCTL_CREDENTIALS_FILE": str(creds)}
    code, out, err = _cli(tmp_path, "--repo", str(repo.path), "-o", "json", env=env)
    assert code == ExitCode.FINDINGS, err
    data = json.loads(out)
    assert data["clean"] is False and data["commits"] == 2 and data["dirty_commits"] == [first]
    assert {(f["file"], f["line"]) for f in data["findings"]} == {("(commit message)", 3), ("acme/r1.cfg", 2),
                                                                   ("acme/r1.cfg", 3)}
    code, table, err = _cli(tmp_path, "--repo", str(repo.path), env=env)
    assert code == ExitCode.FINDINGS
    assert first[:10] in table and "acme/r1.cfg" in table and "3 line(s) in 1 commit(s) still hold a secret" in err
    for text in (out, table, err):
        assert LEAKED not in text and DEVICE_PW not in text


def test_the_command_exits_0_on_a_clean_history_and_13_without_a_repository(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "backups")
    _commit(repo, {"acme/r1.cfg": "hostname r1\n"}, "backup 1")
    code, out, err = _cli(tmp_path, "--repo", str(repo.path), "-o", "json")
    assert code == 0 and json.loads(out)["clean"] is True, err
    code, _, err = _cli(tmp_path, "--repo", str(tmp_path / "nothing"))
    assert code == ExitCode.NOT_FOUND and "MSP-GIT-404" in err


def test_the_help_documents_the_exit_codes() -> None:
    res = CliRunner().invoke(main, ["config", "audit-history", "--help"])
    assert res.exit_code == 0
    assert "0 clean, 4 secrets found" in " ".join(res.output.split())


def test_register_all_registers_every_secret_the_store_can_find(tmp_path: Path) -> None:
    creds = tmp_path / "credentials.toml"
    creds.write_text('[a]\nusername = "u"\npassword = "file-pw-1"\nsecret = "file-en-1"\n[b]\nusername = "u"\n'
                     'password = "file-pw-2"\n')
    os.chmod(creds, 0o600)
    store = CredentialStore(env={"MSPCTL_CRED_C_USERNAME": "u", "MSPCTL_CRED_C_PASSWORD": "env-pw-3"}, file=creds)
    store.register_all(["missing-ref"])
    assert redact("file-pw-1 file-en-1 file-pw-2 env-pw-3") == "******** ******** ******** ********"
