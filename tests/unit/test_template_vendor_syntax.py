"""Template lines that the demo's golden files cannot show (one DNS server there), in the form each
platform shows them: a line in another form never matches the device's, so drift never converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspctl.render.engine import TemplateEngine

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _dns(platform: str, servers: list[str]) -> list[str]:
    engine = TemplateEngine(TEMPLATES)
    text = engine.env.get_template(f"{platform}/dns.j2").render(client={"slug": "acme"}, dns_servers=servers)
    return text.splitlines()


@pytest.mark.parametrize(("servers", "lines"), [
    ([], ["ip domain name acme.example.net"]),
    (["192.0.2.53"], ["ip domain name acme.example.net", "ip name-server 192.0.2.53"]),
    (["10.1.1.10", "10.1.1.11"], ["ip domain name acme.example.net", "ip name-server 10.1.1.10 10.1.1.11"]),
])
def test_ios_keeps_its_name_servers_on_one_line(servers: list[str], lines: list[str]) -> None:
    assert _dns("cisco_ios", servers) == lines


def test_eos_shows_each_name_server_with_its_vrf() -> None:
    assert _dns("arista_eos", ["10.1.1.10", "10.1.1.11"]) == [
        "dns domain acme.example.net", "ip name-server vrf default 10.1.1.10", "ip name-server vrf default 10.1.1.11"]


def test_no_eos_template_renders_the_ios_only_password_encryption() -> None:
    assert not [p.name for p in (TEMPLATES / "arista_eos").glob("*.j2")
                if "service password-encryption" in p.read_text().replace("`service password-encryption`", "")]
