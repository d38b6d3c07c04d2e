"""mspctl/files.py path_in/safe_component, and every place a NetBox name becomes a path:
render --out, backups (and drift reading them back), patch window state, template names."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from mspctl.errors import ConfigError, PathEscapeError
from mspctl.files import MAX_COMPONENT_BYTES, name_of, path_in, safe_component, write_atomic
from mspctl.model import Asset

HOSTILE = [
    "acme-edge-rtr1", "../../../elsewhere/pwned", "../acme/acme-edge-rtr1", "/etc/passwd", "/", "a/b", "a\\b",
    "a\x00b", "\x00", "a\nb", "a\rb", "a\tb", "\x1b[2J\x1b[31mred", "$(touch pwned)", "`id`", "a;rm -rf ~",
    ".", "..", "...", ".hidden", "-rf", "--help", "", " ", "  leading", "trailing ", "~", "~root", "*", "?",
    "[a]", ":(glob)*", "é", "e\u0301", "名前", "\u202eevil", "\u200b", "\ufeffbom", "\ud800", "😀",
    "x" * 300, "é" * 150, "x" * MAX_COMPONENT_BYTES, "x" * (MAX_COMPONENT_BYTES + 1),
    "Acme", "acme", "ACME-EDGE-RTR1", "%2e%2e", "%2E%2E", "%2E.", "%2F", "a%2Fb", "%", "%25", "%%", "%zz",
    "con", "NUL", "no-client",
]
# Names that are already the encoded form of another name must not collide with it.
NAMES = list(dict.fromkeys(HOSTILE + [safe_component(n) for n in HOSTILE]))
ORDINARY = ["acme", "acme-core-sw1", "globex_rtr.1", "no-client", "R1", "a..b", "x-"]


def test_ordinary_names_map_to_themselves() -> None:
    for name in ORDINARY:
        assert safe_component(name) == name
    assert path_in(Path("/srv/b"), "acme", "acme-edge-rtr1", suffix=".cfg") == Path("/srv/b/acme/acme-edge-rtr1.cfg")


@pytest.mark.parametrize("name", NAMES, ids=repr)
def test_every_component_is_one_safe_bounded_component(name: str) -> None:
    c = safe_component(name)
    assert re.fullmatch(r"[A-Za-z0-9._%~-]+", c), c
    assert c not in (".", "..") and not c.startswith((".", "-"))
    assert len(c.encode()) <= MAX_COMPONENT_BYTES


@pytest.mark.parametrize("name", NAMES, ids=repr)
def test_encoding_round_trips_unless_shortened(name: str) -> None:
    c = safe_component(name)
    if "~" in c:  # cut to fit: ends with a hash of the whole name, never decodes to a wrong name
        assert re.search(r"~[0-9a-f]{16}$", c) and name_of(c) is None
        assert len(name.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES // 3
    else:
        assert name_of(c) == name


def test_no_two_names_share_a_component() -> None:
    components = [safe_component(n) for n in NAMES]
    assert len(set(components)) == len(NAMES)


def test_name_of_refuses_what_no_name_encodes_to() -> None:
    for text in ("%2e", "a%2", "%41", ".x", "-x", "a/b", "x~0123456789abcdef", "%FF", ""):
        assert name_of(text) is None, text


def test_every_path_stays_under_root_and_no_two_names_share_a_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    real_root = Path(os.path.realpath(root))
    seen: dict[Path, tuple[str, str]] = {}
    for client in NAMES[::3]:
        for device in NAMES:
            p = path_in(root, client, device, suffix=".cfg")
            assert p.parent.parent == root and p.name.endswith(".cfg")
            assert Path(os.path.realpath(p)).is_relative_to(real_root)
            assert seen.setdefault(p, (client, device)) == (client, device)


def test_files_written_for_hostile_names_are_all_inside_root_and_read_back(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    for name in NAMES:
        write_atomic(path_in(root, name, name, suffix=".cfg"), name.encode("utf-8", "surrogatepass").hex())
    written = [p for p in root.rglob("*") if p.is_file()]
    assert len(written) == len(NAMES)
    assert all(p.resolve().is_relative_to(root.resolve()) and len(p.relative_to(root).parts) == 2 for p in written)
    assert list(outside.iterdir()) == [] and not (tmp_path / "elsewhere").exists()
    back = {bytes.fromhex(p.read_text()).decode("utf-8", "surrogatepass") for p in written}
    assert back == set(NAMES)
    for p in written:
        name = name_of(p.name.removesuffix(".cfg"))
        assert name is None or p.read_text() == name.encode("utf-8", "surrogatepass").hex()


def test_a_symlink_planted_inside_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "inside").mkdir(parents=True)
    outside.mkdir()
    (root / "acme").symlink_to(outside)
    with pytest.raises(PathEscapeError, match=r"root/acme/rtr1\.cfg: the file for 'acme' / 'rtr1' would be outside") \
            as info:
        path_in(root, "acme", "rtr1", suffix=".cfg")
    assert isinstance(info.value, ConfigError) and info.value.code == "MSP-PATH-400" and info.value.exit_code == 10
    (root / "globex").mkdir()
    (root / "globex" / "rtr1.lock").symlink_to(outside / "victim")  # the file itself
    with pytest.raises(PathEscapeError):
        path_in(root, "globex", "rtr1", suffix=".lock")
    (root / "alias").symlink_to(root / "inside")  # a link that stays inside is the folder owner's business
    assert path_in(root, "alias", "rtr1", suffix=".cfg") == root / "alias" / "rtr1.cfg"
    link_root = tmp_path / "link-root"
    link_root.symlink_to(root)  # the root itself may be a link
    assert path_in(link_root, "inside", suffix=".cfg") == link_root / "inside.cfg"


def test_suffix_must_be_safe_and_a_name_is_needed(tmp_path: Path) -> None:
    for suffix in ("/../x", "\n", ".c/g"):
        with pytest.raises(ValueError, match="unsafe suffix"):
            path_in(tmp_path, "a", suffix=suffix)
    with pytest.raises(ValueError, match="at least one name"):
        path_in(tmp_path)


# -- the call sites ---------------------------------------------------------------------------


def _assets(client: str = "hostile") -> list[Asset]:
    # NetBox names a device without a name `device-<id>`, and stores no unpaired surrogate (PostgreSQL
    # text is UTF-8); both are covered by the tests of safe_component above.
    names = [n for n in NAMES if n and "\ud800" not in n]
    return [Asset("device", i, name, client if i % 5 else name, platform="cisco_ios") for i, name in
            enumerate(names, 1)]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts)


def test_render_out_writes_each_device_once_inside_the_folder(tmp_path: Path) -> None:
    from mspctl.render.service import RenderResult, config_file, write_configs

    out = tmp_path / "out"
    assets = _assets()
    results = write_configs([RenderResult(a, "ok", "cisco_ios/main.j2", text=f"! {a.id}\n") for a in assets], out)
    files = _files(out)
    assert len(files) == len(assets) and all(r.status == "ok" and r.file is not None for r in results)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in files)
    for r in results:
        assert r.file == config_file(out, r.asset) and r.file.read_text() == f"! {r.asset.id}\n"
    assert config_file(out, Asset("device", 1, "acme-edge-rtr1", "acme")) == out / "acme" / "acme-edge-rtr1.cfg"
    assert config_file(out, Asset("device", 1, "r1", None)) == out / "no-client" / "r1.cfg"


def test_render_out_refuses_a_planted_link_for_that_device_only(tmp_path: Path) -> None:
    from mspctl.render.service import RenderResult, write_configs

    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "evil").symlink_to(outside)
    results = write_configs([RenderResult(Asset("device", 1, "r1", "evil"), "ok", "t", text="x\n"),
                             RenderResult(Asset("device", 2, "r2", "acme"), "ok", "t", text="y\n")], out)
    assert [(r.status, r.error_code) for r in results] == [("failed", "MSP-PATH-400"), ("ok", None)]
    assert list(outside.iterdir()) == [] and (out / "acme" / "r2.cfg").read_text() == "y\n"


def _cli_render(monkeypatch: pytest.MonkeyPatch, assets: list[Asset]) -> None:
    from mspctl.cli.app import App
    from mspctl.render import service
    from mspctl.render.service import RenderResult

    monkeypatch.setattr(App, "inventory", lambda self: None)
    monkeypatch.setattr(service, "render_configs", lambda *a, **k: [
        RenderResult(x, "ok", "cisco_ios/main.j2", text=f"hostname {x.id}\n") for x in assets])


def test_cli_render_out_with_hostile_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.cli import main

    assets = [a for a in _assets() if len(a.name) <= 20]  # longer ones fold in a 200-column table
    _cli_render(monkeypatch, assets)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["config", "render", "-c", "hostile", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert len(_files(out)) == len(assets)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in _files(out))
    assert not (tmp_path / "elsewhere").exists()
    lines = res.stdout.splitlines()
    assert len(lines) == 1 + len(assets)  # the header and one row per device, whatever the names hold
    assert "\x1b" not in res.stdout and "\x00" not in res.stdout
    res = CliRunner().invoke(main, ["config", "render", "-c", "hostile", "--out", str(out), "-o", "json"])
    data = json.loads(res.stdout)
    assert [d["device"] for d in data] == [a.name for a in assets]  # JSON keeps the exact names
    assert all(Path(d["file"]).read_text() == f"hostname {a.id}\n" for d, a in zip(data, assets, strict=True))


def test_cli_render_planted_link_is_a_located_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.cli import main

    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "evil").symlink_to(outside)
    _cli_render(monkeypatch, [Asset("device", 1, "r1", "evil"), Asset("device", 2, "r2", "acme")])
    res = CliRunner().invoke(main, ["config", "render", "-c", "evil", "--out", str(out)])
    assert res.exit_code == 3
    assert f"Error: MSP-PATH-400: {out}/evil/r1.cfg: the file for 'evil' / 'r1' would be outside" in res.stderr
    assert list(outside.iterdir()) == []


def test_backup_with_hostile_names_writes_only_inside_the_repository(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.adapters.git import GitRepo
    from mspctl.adapters.netmiko import DeviceTarget
    from mspctl.backup import service
    from mspctl.drift.service import run_drift
    from mspctl.executor import ThreadExecutor
    from mspctl.records import RecordStore
    from mspctl.render.service import RenderResult

    assets = _assets()
    monkeypatch.setattr(service, "fetch_config", lambda target, timeout, scrub: f"hostname {target.host}\n")
    targets = {a.key: DeviceTarget(a.name, str(a.id), 22, "cisco_ios", "u", "p") for a in assets}
    repo = GitRepo(tmp_path / "backups")
    run = service.run_backup(assets, targets, {}, repo, ThreadExecutor(workers=4), RecordStore(tmp_path / "r.sqlite"))
    assert run.summary["new"] == len(assets) and run.commit
    files = _files(repo.path)
    assert len(files) == len(assets)
    assert all(p.resolve().is_relative_to(repo.path.resolve()) for p in files)
    assert {d.path for d in run.devices} == {p.relative_to(repo.path).as_posix() for p in files}
    assert next(d.path for d in run.devices if d.asset.name == "acme-edge-rtr1") in (
        "hostile/acme-edge-rtr1.cfg", "acme-edge-rtr1/acme-edge-rtr1.cfg")
    # drift --source backup finds each one again, with its commit time (git pathspecs stay literal)
    rendered = {a.key: RenderResult(a, "ok", "t", text=f"hostname {a.id}\n") for a in assets}
    drift = run_drift(assets, rendered, [], "backup", {}, {}, ThreadExecutor(), repo, None)
    assert all(d.error is None and d.evidence_at is not None for d in drift.devices), [
        d.error for d in drift.devices if d.error]


def test_backup_refuses_a_planted_link_for_that_device_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mspctl.adapters.git import GitRepo
    from mspctl.adapters.netmiko import DeviceTarget
    from mspctl.backup import service
    from mspctl.executor import ThreadExecutor
    from mspctl.records import RecordStore

    outside = tmp_path / "outside"
    outside.mkdir()
    repo = GitRepo(tmp_path / "backups")
    repo.ensure()
    (repo.path / "evil").symlink_to(outside)
    assets = [Asset("device", 1, "r1", "evil"), Asset("device", 2, "r2", "acme")]
    monkeypatch.setattr(service, "fetch_config", lambda target, timeout, scrub: "hostname x\n")
    targets = {a.key: DeviceTarget(a.name, "h", 22, "cisco_ios", "u", "p") for a in assets}
    run = service.run_backup(assets, targets, {}, repo, ThreadExecutor(), RecordStore(tmp_path / "r.sqlite"))
    assert [(d.status, d.error_code) for d in run.devices] == [("failed", "MSP-PATH-400"), ("new", None)]
    assert list(outside.iterdir()) == []


def test_window_state_files_stay_in_the_state_folder(tmp_path: Path) -> None:
    from mspctl.patch.window import SavedWindow, WindowLock

    state = tmp_path / "state"
    lock = WindowLock(state, "../acme")
    assert lock.lock_path == state / "%2E.%2Facme.lock" and lock.resume_path == state / "%2E.%2Facme.json"
    lock.acquire()
    lock.save(SavedWindow("patch-window-1", datetime.now(UTC)))
    lock.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    assert WindowLock(state, "acme").lock_path == state / "acme.lock"
    (state / "evil.lock").symlink_to(tmp_path / "victim")
    with pytest.raises(PathEscapeError):
        WindowLock(state, "evil")


def test_template_names_from_platform_slugs_stay_in_the_templates_folder(tmp_path: Path) -> None:
    from mspctl.render.engine import TemplateEngine

    (tmp_path / "templates" / "cisco_ios").mkdir(parents=True)
    (tmp_path / "templates" / "cisco_ios" / "main.j2").write_text("x\n")
    (tmp_path / "main.j2").write_text("outside\n")
    engine = TemplateEngine(tmp_path / "templates")
    assert engine.template_for("cisco_ios") == "cisco_ios/main.j2" and engine.has_template("cisco_ios")
    assert engine.template_for("..") == "%2E./main.j2" and not engine.has_template("..")


def test_push_snapshot_names_hold_no_netbox_data() -> None:
    from mspctl.records import new_run_id

    tag = f"mspctl-{new_run_id('push')}"  # mspctl/push/service.py: flash:<tag>.cfg, the EOS session name
    assert safe_component(tag) == tag
