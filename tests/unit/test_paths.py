"""mspctl/files.py path_in/safe_component: NetBox names never leave the folder they are written to."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mspctl.errors import ConfigError, PathEscapeError
from mspctl.files import MAX_COMPONENT_BYTES, name_of, path_in, safe_component, write_atomic

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
