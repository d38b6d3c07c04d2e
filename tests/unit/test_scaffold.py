"""`mspctl init DIR`: a new MSP repository, committed to git, whose files mspctl reads as they are."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mspctl import product
from mspctl.cli import main
from mspctl.errors import ExitCode
from mspctl.scaffold import InitRefusedError, init_repository

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _git_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git with no identity of its own (no global or system config); tests add one when they need it."""
    gitconfig = tmp_path_factory.mktemp("git") / "config"
    gitconfig.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    return gitconfig


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_init_writes_the_msp_data_and_commits_it(tmp_path: Path) -> None:
    repo = tmp_path / "msp"
    result = init_repository(repo)
    assert result.git_initialized and result.commit
    written = set(result.written)
    assert {"mspctl.toml", "inventory/clients.yml", "inventory/exceptions.yml", "inventory/all-clients.mspctl.yml",
            "ansible.cfg", ".gitignore", "README.md", "templates/features.yml", "templates/cisco_ios/main.j2",
            "templates/arista_eos/main.j2", "baselines/debian-security.yml", "baselines/network-os.yml"} <= written
    # the examples are the product's own, byte for byte
    for rel in [p for p in written if p.startswith(("templates/", "baselines/"))]:
        assert (repo / rel).read_bytes() == (product.root() / rel).read_bytes(), rel
    # only data: the playbooks, modules and inventory plugin stay mspctl's
    assert not (repo / "playbooks").exists() and not (repo / "plugins").exists()
    # one commit with exactly those files, nothing left uncommitted
    assert _git(repo, "rev-parse", "HEAD").strip() == result.commit
    assert set(_git(repo, "ls-files").split()) == written
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "log", "--format=%an <%ae>").strip() == "mspctl <mspctl@localhost>" == result.author
    # and git's config was left alone: the engineer's own identity signs the next commits
    assert subprocess.run(["git", "-C", str(repo), "config", "--local", "--get", "user.email"]).returncode == 1


def test_the_scaffolded_files_are_valid_for_mspctl(tmp_path: Path) -> None:
    from mspctl.drift.features import load_features
    from mspctl.patch.baseline import load_baselines
    from mspctl.repo import load_clients_file
    from mspctl.reports.exceptions import load_exceptions
    from mspctl.settings import load_settings

    repo = tmp_path / "msp"
    init_repository(repo)
    settings = load_settings(cwd=repo / "inventory", env={})  # found from a subfolder, as in daily use
    assert settings.repo == repo and settings.sources == (str(repo / "mspctl.toml"),)
    assert settings.path(settings.config.templates) == repo / "templates"
    assert load_clients_file(settings.clients_path) == []
    assert load_exceptions(repo / "inventory" / "exceptions.yml") == []
    assert {f.name for f in load_features(settings.path(settings.config.features))} >= {"hostname", "ntp"}
    assert load_baselines(settings.path(settings.patch.baselines))
    plugin = (repo / "inventory" / "all-clients.mspctl.yml").read_text()
    assert f"plugin: {product.INVENTORY_PLUGIN}\n" in plugin


def test_init_uses_the_users_git_identity_when_there_is_one(tmp_path: Path, _git_config: Path) -> None:
    _git_config.write_text("[user]\n\tname = Jo Engineer\n\temail = jo@msp.example\n")
    result = init_repository(tmp_path / "msp")
    assert result.author == "Jo Engineer <jo@msp.example>"
    assert _git(tmp_path / "msp", "log", "--format=%an <%ae>|%cn <%ce>").strip() == \
        "Jo Engineer <jo@msp.example>|Jo Engineer <jo@msp.example>"


def test_init_refuses_a_folder_that_is_not_empty_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(InitRefusedError) as refused:
        init_repository(tmp_path)
    assert refused.value.code == "MSP-INIT-409" and refused.value.exit_code == ExitCode.USAGE
    assert "not empty; nothing was written" in str(refused.value) and "--force" in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    with pytest.raises(InitRefusedError, match="is a file"):
        init_repository(tmp_path / "notes.txt", force=True)


def test_force_writes_only_what_is_missing_and_commits_only_that(tmp_path: Path) -> None:
    repo = tmp_path / "msp"
    first = init_repository(repo)
    (repo / "mspctl.toml").write_text("# ours\n")
    (repo / "baselines" / "network-os.yml").unlink()
    _git(repo, "-c", "user.name=Jo", "-c", "user.email=jo@msp.example", "commit", "-qam", "ours")
    (repo / "inventory" / "clients.yml").write_text("clients: {}\n# being edited\n")  # uncommitted work
    again = init_repository(repo, force=True)
    assert not again.git_initialized
    assert again.written == ["baselines/network-os.yml"]
    assert {f.path for f in again.files if f.state == "kept"} == {f.path for f in first.files} - set(again.written)
    assert (repo / "mspctl.toml").read_text() == "# ours\n"
    assert _git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["baselines/network-os.yml"]
    assert _git(repo, "status", "--porcelain").strip() == "M inventory/clients.yml"  # left to its owner
    # nothing missing: nothing written, no commit
    assert init_repository(repo, force=True).commit is None
    assert len(_git(repo, "log", "--format=%H").split()) == 3


def test_init_into_an_existing_empty_folder_and_an_existing_clone(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert init_repository(empty).git_initialized
    clone = tmp_path / "clone"
    clone.mkdir()
    _git(clone, "init", "-q")
    result = init_repository(clone, force=True)
    assert not result.git_initialized and result.commit is not None


def test_cli_init(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["--offline", "init", str(tmp_path / "msp")])  # never needs NetBox
    assert res.exit_code == 0, res.output
    assert "mspctl.toml" in res.stdout and "written" in res.stdout
    assert "Next: cd" in res.stderr and "inventory/clients.yml" in res.stderr
    res = runner.invoke(main, ["init", str(tmp_path / "msp")])
    assert res.exit_code == ExitCode.USAGE
    assert res.stderr.startswith("Error: MSP-INIT-409: ")
    res = runner.invoke(main, ["init", "--force", "-o", "json", str(tmp_path / "msp")])
    assert res.exit_code == 0
    assert '"commit": null' in res.stdout and '"state": "kept"' in res.stdout
