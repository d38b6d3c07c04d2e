"""Provenance (mspctl/provenance.py): who ran a run, its command line with secrets masked, and the
version of the MSP repository it used, as every run record carries them."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mspctl import provenance
from mspctl.provenance import command_line, content_hash, repository_version, who

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# -- the command line -----------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "shown", "hidden"), [
    (["mspctl", "--netbox-token", "abcd1234secret", "clients"], "mspctl --netbox-token *** clients",
     "abcd1234secret"),
    (["mspctl", "--netbox-token=abcd1234secret", "clients"], "mspctl --netbox-token=*** clients", "abcd1234secret"),
    (["mspctl", "x", "--password", "Hunter2", "--secret=s3", "-c", "acme"],
     "mspctl x --password *** --secret=*** -c acme", "Hunter2"),
    (["mspctl", "x", "NETBOX_TOKEN=t0k3n", "-e", "ansible_password=pw pw", "DB_PASSWORD=x"],
     "mspctl x NETBOX_TOKEN=*** -e ansible_password=*** DB_PASSWORD=***", "t0k3n"),
    (["mspctl", "x", "postgresql+psycopg://mspctl:S3cretPw@db.example.net:5432/h"],
     "mspctl x postgresql+psycopg://mspctl:***@db.example.net:5432/h", "S3cretPw"),
    (["mspctl", "x", "nbt_abcdefgh.ijklmnopq"], "mspctl x ***", "ijklmnopq"),  # token-shaped, unnamed
    (["mspctl", "inventory", "list", "-l", "acme-*,!lab*", "--tag", "a b"],
     "mspctl inventory list -l 'acme-*,!lab*' --tag 'a b'", None),
])
def test_the_command_line_masks_its_secrets(argv: list[str], shown: str, hidden: str | None) -> None:
    line = command_line(argv)
    assert line == shown
    assert hidden is None or hidden not in line


def test_a_registered_secret_is_masked_anywhere_in_the_command_line() -> None:
    from mspctl.redact import register_secret

    register_secret("Registered-Device-Pw-77")
    assert command_line(["mspctl", "x", "--limit", "Registered-Device-Pw-77"]) == "mspctl x --limit ***"


# -- who ------------------------------------------------------------------------------------------
def test_a_person_is_the_os_user_and_host() -> None:
    import os
    import pwd

    got = who({})
    assert got == {"user": pwd.getpwuid(os.geteuid()).pw_name, "host": socket.gethostname()}


def test_ci_variables_give_the_ci_job() -> None:
    gitlab = who({"GITLAB_CI": "true", "CI": "true", "CI_JOB_ID": "1234", "CI_JOB_URL": "https://gl/acme/-/jobs/1234",
                  "GITLAB_USER_LOGIN": "bob", "CI_PIPELINE_ID": "77"})
    assert gitlab == {"ci": "gitlab", "job": "1234", "url": "https://gl/acme/-/jobs/1234", "user": "bob",
                      "pipeline": "77", "host": socket.gethostname()}
    github = who({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "99", "GITHUB_ACTOR": "carol",
                  "GITHUB_WORKFLOW": "nightly drift", "GITHUB_SERVER_URL": "https://github.com",
                  "GITHUB_REPOSITORY": "msp/infra"})
    assert github["ci"] == "github" and github["job"] == "99" and github["user"] == "carol"
    assert github["workflow"] == "nightly drift" and github["url"] == "https://github.com/msp/infra/actions/runs/99"
    generic = who({"CI": "1"})
    assert generic["ci"] == "generic" and generic["user"] and generic["host"] == socket.gethostname()
    assert "ci" not in who({"CI": "false"})
    assert provenance.describe_who(gitlab) == "gitlab job 1234 (bob)"
    assert provenance.describe_who({"user": "alice", "host": "ws1"}) == "alice@ws1"


# -- the repository's version ---------------------------------------------------------------------
def _repo(root: Path) -> Path:
    (root / "templates" / "cisco_ios").mkdir(parents=True)
    (root / "templates" / "cisco_ios" / "main.j2").write_text("hostname {{ device.name }}\n")
    (root / "templates" / "features.yml").write_text("features: []\n")
    (root / "baselines").mkdir()
    (root / "baselines" / "debian.yml").write_text("name: debian\n")
    (root / "inventory").mkdir()
    (root / "inventory" / "clients.yml").write_text("clients: []\n")
    (root / "README.md").write_text("not part of the version\n")
    return root


def test_outside_git_the_version_is_a_content_hash_that_follows_the_templates(tmp_path: Path) -> None:
    root = _repo(tmp_path / "msp")
    first = repository_version(root)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    assert repository_version(root) == first
    (root / "README.md").write_text("changed, but no template\n")
    assert repository_version(root) == first
    (root / "templates" / "cisco_ios" / "main.j2").write_text("hostname {{ device.name }}\nntp server 1.1.1.1\n")
    second = repository_version(root)
    assert second != first
    (root / "templates" / "cisco_ios" / "main.j2").rename(root / "templates" / "cisco_ios" / "other.j2")
    assert repository_version(root) not in (first, second)  # a rename is a change: paths are hashed too
    (root / "baselines" / "debian.yml").write_text("name: debian\nversion: 2\n")
    assert repository_version(root) != second
    assert content_hash(tmp_path / "empty") == content_hash(tmp_path / "nothing-here")


def test_in_git_the_version_is_the_commit_and_dirty_with_uncommitted_changes(tmp_path: Path) -> None:
    root = _repo(tmp_path / "msp")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
                              env=env).stdout.strip()

    git("init", "-q")
    assert repository_version(root).startswith("sha256:")  # no commit yet: the content hash
    git("add", "-A")
    git("commit", "-q", "-m", "first")
    sha = git("rev-parse", "HEAD")
    assert repository_version(root) == f"git:{sha}"
    (root / "untracked.txt").write_text("new\n")
    assert repository_version(root) == f"git:{sha}"  # only tracked files make it dirty
    (root / "templates" / "features.yml").write_text("features: [ntp]\n")
    assert repository_version(root) == f"git:{sha}+dirty"
    assert repository_version(root / "templates") == f"git:{sha}+dirty"  # inside the work tree


def test_without_git_the_version_falls_back_to_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path / "msp")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert repository_version(root) == content_hash(root)


# -- the run context and the records --------------------------------------------------------------
def test_without_a_run_context_records_carry_no_provenance(tmp_path: Path) -> None:
    from mspctl.history import HistoryStore, RunRecord

    assert provenance.meta() == {}
    store = HistoryStore(tmp_path / "r.sqlite")
    store.save(RunRecord("drift-1", "drift", NOW, NOW, {}, {}, {}))
    assert store.get("drift-1").meta == {}


@pytest.fixture
def recording_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, Path, Path]]:
    """The real root group with one extra command that saves a record, as every run command does;
    the MSP repository (not a git repository) and its records in tmp_path."""
    from mspctl.cli import main
    from mspctl.cli.app import App, pass_app

    root = _repo(tmp_path / "msp")
    records = tmp_path / "records.sqlite"
    (root / "mspctl.toml").write_text(f'[config]\nrecords = "{records}"\n')
    monkeypatch.setenv("MSPCTL_CONFIG", str(root / "mspctl.toml"))
    monkeypatch.delenv("MSPCTL_RECORDS_URL", raising=False)
    for var in ("CI", "GITLAB_CI", "CI_JOB_ID", "GITHUB_ACTIONS", "GITHUB_RUN_ID", "JENKINS_URL"):
        monkeypatch.delenv(var, raising=False)

    @click.command("record-test")
    @click.option("--password")
    @click.argument("args", nargs=-1)
    @pass_app
    def record_test(app: App, password: str | None, args: tuple[str, ...]) -> None:
        from mspctl.records import RecordStore, RunRecord

        RecordStore(app.settings.records_location).save(RunRecord("test-1", "drift", NOW, NOW, {}, {}, {}))

    main.add_command(record_test)
    try:
        yield CliRunner(), root, records
    finally:
        main.commands.pop("record-test", None)


def test_a_secret_on_the_command_line_never_reaches_the_record(recording_cli: tuple[CliRunner, Path, Path]) -> None:
    from mspctl.cli import main

    cli, root, records = recording_cli
    secrets = ["TokenValue-9f8e7d", "Hunter2-Password", "DbPw-Sekrit", "ApiKey-0a1b2c"]
    res = cli.invoke(main, ["--netbox-token", secrets[0], "record-test", "--password", secrets[1],
                            "postgresql+psycopg://mspctl:DbPw-Sekrit@db/h", "API_KEY=ApiKey-0a1b2c"])
    assert res.exit_code == 0, res.output
    raw = b"".join(p.read_bytes() for p in records.parent.glob("records.sqlite*"))
    assert not [s for s in secrets if s.encode() in raw]
    from mspctl.history import HistoryStore

    meta = HistoryStore(records).get("test-1").meta
    assert meta["command"] == ("mspctl --netbox-token *** record-test --password *** "
                               "postgresql+psycopg://mspctl:***@db/h API_KEY=***")
    assert meta["who"]["host"] == socket.gethostname() and "ci" not in meta["who"]
    assert meta["versions"]["repository"] == repository_version(root)
    assert meta["versions"]["mspctl"]
    assert not provenance.active()  # the context ends with the command


def test_a_ci_job_is_recorded_as_the_ci_job_and_runs_show_prints_it(
        recording_cli: tuple[CliRunner, Path, Path]) -> None:
    from mspctl.cli import main

    cli, root, _records = recording_cli
    env = {"GITLAB_CI": "true", "CI_JOB_ID": "4242", "CI_JOB_URL": "https://gitlab.example/msp/-/jobs/4242",
           "GITLAB_USER_LOGIN": "scheduler"}
    assert cli.invoke(main, ["record-test"], env=env).exit_code == 0
    res = cli.invoke(main, ["runs", "show", "test-1"])
    assert res.exit_code == 0, res.output
    assert "who:      gitlab job 4242 (scheduler)" in res.output
    assert "command:  mspctl record-test" in res.output
    assert f"repository {repository_version(root)}" in res.output
    shown = json.loads(cli.invoke(main, ["runs", "show", "test-1", "-o", "json"]).output)
    assert shown["who"]["ci"] == "gitlab" and shown["who"]["url"] == env["CI_JOB_URL"]
    listed = json.loads(cli.invoke(main, ["runs", "list", "-o", "json"]).output)
    assert listed[0]["who"]["job"] == "4242" and listed[0]["command"] == "mspctl record-test"
    assert listed[0]["versions"]["repository"].startswith("sha256:")
    exported = json.loads(cli.invoke(main, ["runs", "export"]).output.splitlines()[0])
    assert exported["who"]["job"] == "4242" and exported["versions"] == listed[0]["versions"]
    csv_text = cli.invoke(main, ["runs", "export", "--format", "csv"]).output
    assert csv_text.splitlines()[0].endswith(",who,command,repository_version")


def test_a_template_change_between_runs_changes_the_recorded_version(
        recording_cli: tuple[CliRunner, Path, Path]) -> None:
    from mspctl.cli import main
    from mspctl.history import HistoryStore

    cli, root, records = recording_cli
    assert cli.invoke(main, ["record-test"]).exit_code == 0
    (root / "templates" / "cisco_ios" / "main.j2").write_text("hostname changed\n")
    store = HistoryStore(records)
    first = store.get("test-1").meta["versions"]["repository"]
    provenance.begin(["mspctl", "again"])
    provenance.use_repository(root)
    from mspctl.history import RunRecord

    store.save(RunRecord("test-2", "drift", NOW, NOW, {}, {}, {}))
    assert store.get("test-2").meta["versions"]["repository"] not in ("", first)
    assert store.verify().ok
