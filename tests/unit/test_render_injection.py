"""A value from NetBox never adds configuration lines of its own: line breaks and control
characters in a rendered value are refused with the template's line and the device."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspctl.render.engine import TemplateEngine, TemplateError

REPO = Path(__file__).resolve().parents[2]


def _engine(tmp_path: Path, main: str) -> TemplateEngine:
    (tmp_path / "t" / "cisco_ios").mkdir(parents=True)
    (tmp_path / "t" / "cisco_ios" / "main.j2").write_text(main)
    return TemplateEngine(tmp_path / "t")


@pytest.mark.parametrize("name", ["rtr1\nusername evil privilege 15 secret 0 x", "rtr1\r\nend", "rtr1\x1b[2J",
                                  "rtr1\u2028no aaa new-model", "rtr1\x00"])
def test_a_name_with_a_line_break_or_control_character_is_refused(tmp_path: Path, name: str) -> None:
    engine = _engine(tmp_path, "!\nhostname {{ device.name }}\n")
    with pytest.raises(TemplateError) as err:
        engine.render("cisco_ios", name, {"device": {"name": name}})
    assert err.value.code == "MSP-TPL-422" and err.value.exit_code == 10
    assert err.value.message.startswith("t/cisco_ios/main.j2:2: ")
    assert "would add configuration lines" in err.value.message and "\n" not in err.value.message


def test_ordinary_values_and_a_banner_marked_multiline_render(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "hostname {{ name }}\ndescription {{ d }}\nbanner motd ^C{{ banner | multiline }}^C\n")
    text = engine.render("cisco_ios", "r1", {"name": "r1", "d": "uplink\tto core", "banner": "Line one\nLine two"})
    assert text == "hostname r1\ndescription uplink\tto core\nbanner motd ^CLine one\nLine two^C\n"
    with pytest.raises(TemplateError, match="control character"):
        engine.render("cisco_ios", "r1", {"name": "r1", "d": "x", "banner": "ok\x1b[31m"})


def test_the_repository_templates_mark_only_the_banner_multiline() -> None:
    marked = [p.relative_to(REPO).as_posix() for p in (REPO / "templates").rglob("*.j2")
              if "| multiline" in p.read_text()]
    assert sorted(marked) == ["templates/arista_eos/banner.j2", "templates/cisco_ios/banner.j2"]
