"""Every render runs under the [render] limits (issue 9 §7): a NetBox config template cannot hold a
run with a nested loop or fill its memory with one string, and its errors name it by NetBox name
and id. A render over a limit fails that device only; the others render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mspctl.errors import ConfigError
from mspctl.model import Client, DeviceDetails
from mspctl.render.engine import TemplateEngine, TemplateError
from mspctl.render.service import render_devices
from mspctl.settings import RenderSettings, load_settings

REPO = Path(__file__).resolve().parents[2]
FAST = RenderSettings(template_timeout=0.3)  # the work below never ends on its own: a short budget suffices


def _netbox(templates: dict[int, tuple[str, str]], per_device: dict[str, int],
            limits: RenderSettings | None = None) -> TemplateEngine:
    """An engine over NetBox config templates, as render_configs builds it: NetBox id -> (name, code)."""
    return TemplateEngine(Path("netbox"), sandboxed=True, limits=limits,
                          sources={f"netbox:{i}": code for i, (_, code) in templates.items()},
                          origins={f"netbox:{i}": (name, i) for i, (name, _) in templates.items()},
                          per_device={d: f"netbox:{i}" for d, i in per_device.items()})


def _refused(code: str, limits: RenderSettings | None = None, context: dict[str, Any] | None = None) -> TemplateError:
    engine = _netbox({7: ("hostile", code)}, {"acme-sw1": 7}, limits)
    with pytest.raises(TemplateError) as caught:
        engine.render(None, "acme-sw1", context or {})
    return caught.value


TOO_LONG = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "loops over a list, no call inside": "{% set xs = range(1000) | list %}"
                                         "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}"
                                         "{% endfor %}{% endfor %}",
    "a range past the sandbox's cap": "{% for i in range(10 ** 9) %}{% endfor %}",
    "exponential macro recursion": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
                                   "{{ f(60) }}",
}


@pytest.mark.parametrize("what", list(TOO_LONG))
def test_a_template_that_would_run_on_is_stopped_and_located(what: str) -> None:
    err = _refused(TOO_LONG[what], FAST if "recursion" in what else None)
    assert err.code == "MSP-TPL-408" and err.exit_code == 10
    assert err.message.startswith("netbox template 'hostile' (id 7):1: ")
    assert err.message.endswith("(device acme-sw1)")
    assert "[render]" in err.message


def test_the_time_limit_stops_a_render_the_loop_budget_allows() -> None:
    code = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    err = _refused(code, RenderSettings(template_timeout=0.3, max_loop_iterations=10**12))
    assert err.code == "MSP-TPL-408" and "template_timeout (0.3 s)" in err.message


TOO_LARGE = {
    "a string multiplied": "{{ 'x' * 50000000 }}",
    "a list multiplied": "{% set xs = [1] * 10000000 %}",
    "a string doubled in a loop": "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
                                  "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "a string added to itself in a loop": "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
                                          "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "a padded string (filter)": "{{ 'x' | center(100000000) }}",
    "a padded string (method)": "{{ 'x'.ljust(100000000) }}",
    "a wide str.format": "{{ '{:>100000000}'.format(1) }}",
    "a wide % format": "{{ '%0100000000d' % 1 }}",
    "a wide format filter": "{{ '%0100000000d' | format(1) }}",
    "a huge power": "{{ 2 ** 100000000 }}",
    "a joined list": "{{ range(100000) | map('string') | map('center', 20) | join(',') }}",
}


@pytest.mark.parametrize("what", list(TOO_LARGE))
def test_a_value_over_the_size_limit_is_refused_before_it_fills_memory(what: str) -> None:
    err = _refused(TOO_LARGE[what])
    assert err.code == "MSP-TPL-413" and err.exit_code == 10
    assert err.message.startswith("netbox template 'hostile' (id 7):1: ")
    assert "over [render] max_output_bytes (1000000)" in err.message and "(device acme-sw1)" in err.message


def test_output_over_the_limit_is_cut_at_the_limit() -> None:
    err = _refused("{% for i in range(100000) %}interface Ethernet{{ i }}\n description {{ 'x' * 60 }}\n"
                   "{% endfor %}", RenderSettings(max_output_bytes=100_000))
    assert err.code == "MSP-TPL-413"
    assert err.message.startswith("netbox template 'hostile' (id 7): the rendered configuration is over")
    # bytes, not characters: 40,000 three-byte characters are 120,000 bytes
    err = _refused("{{ '€' * 40000 }}\n", RenderSettings(max_output_bytes=100_000))
    assert err.code == "MSP-TPL-413" and "UTF-8 bytes" in err.message


def test_errors_in_a_netbox_template_name_it_by_name_and_id_not_netbox_2() -> None:
    engine = _netbox({7: ("ios-base", "hostname {{ device.name }}\nntp server {{ ntp_primary }}\n"),
                      9: ("broken", "hostname {{ device.name }\n")}, {"acme-sw1": 7, "acme-rtr1": 9})
    with pytest.raises(TemplateError) as undefined:
        engine.render(None, "acme-sw1", {"device": {"name": "acme-sw1"}})
    assert undefined.value.message == ("netbox template 'ios-base' (id 7):2: UndefinedError: 'ntp_primary' is "
                                       "undefined (device acme-sw1)")
    with pytest.raises(TemplateError) as syntax:
        engine.render(None, "acme-rtr1", {"device": {"name": "acme-rtr1"}})
    assert syntax.value.message.startswith("netbox template 'broken' (id 9):1: ")


def test_one_device_over_a_limit_fails_alone_and_two_templates_may_share_a_name(make_asset: Any) -> None:
    devices = [make_asset("acme-sw1", id=1), make_asset("acme-sw2", id=2), make_asset("acme-rtr1", id=3)]
    engine = _netbox({7: ("base", "hostname {{ device.name }}\n"), 8: ("base", "{{ 'x' * 50000000 }}"),
                      9: ("slow", TOO_LONG["nested loops"])}, {"device:1": 7, "device:2": 8, "device:3": 9})
    results = {r.asset.name: r for r in render_devices(devices, {}, engine, {"acme": Client("acme", "Acme")})}
    assert results["acme-sw1"].status == "ok" and results["acme-sw1"].text == "hostname acme-sw1\n"
    assert results["acme-sw1"].template == "base"
    assert (results["acme-sw2"].status, results["acme-sw2"].error_code) == ("failed", "MSP-TPL-413")
    assert results["acme-sw2"].error and results["acme-sw2"].error.startswith("netbox template 'base' (id 8):1: ")
    assert (results["acme-rtr1"].status, results["acme-rtr1"].error_code) == ("failed", "MSP-TPL-408")
    assert results["acme-rtr1"].error and "netbox template 'slow' (id 9):1: " in results["acme-rtr1"].error


def test_ordinary_templates_render_as_plain_jinja_renders_them() -> None:
    import jinja2.sandbox

    code = ("{% for i in interfaces %}{{ loop.index }}/{{ loop.length }} {{ i.name | upper }}"
            "{% if loop.last %} last{% endif %}\n{% else %}none\n{% endfor %}"
            "{{ servers | map('upper') | join(',') }} {{ 'a' ~ 'b' ~ 1 }} {{ '%-4s|' % 'ab' }} "
            "{{ '{:>3}'.format(7) }}\n"
            "{% for s in servers | select('ne', 'b') %}{{ s }}{% endfor %} {{ range(3) | list }}"
            " {{ [1, 2] * 2 }} {{ 2 ** 10 }} {{ servers | length }} {{ '%s-%s' | format('a', 1) }}\n"
            "{% for k, v in opts | dictsort %}{{ k }}={{ v }};{% endfor %}{% for x in 'ab' %}{{ x }}{% endfor %}\n")
    plain = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                                                lstrip_blocks=True, keep_trailing_newline=True)
    engine = _netbox({7: ("ok", code)}, {"acme-sw1": 7})
    full = {"interfaces": [{"name": "ge0"}, {"name": "ge1"}], "servers": ["a", "b", "c"], "opts": {"b": 2, "a": 1}}
    empty = {"interfaces": [], "servers": [], "opts": {}}
    rendered = [engine.render(None, "acme-sw1", c) for c in (full, empty)]
    assert rendered == [plain.from_string(code).render(c) for c in (full, empty)]
    assert rendered[0].startswith("1/2 GE02/2 GE1 lastA,B,C ab1 ab  |   7\n") and rendered[1].startswith("none")


def test_the_repository_templates_run_under_the_same_limits(tmp_path: Path) -> None:
    (tmp_path / "t" / "cisco_ios").mkdir(parents=True)
    main = tmp_path / "t" / "cisco_ios" / "main.j2"
    main.write_text("hostname {{ device.name }}\n{% for i in range(10 ** 7) %}{% endfor %}\n")
    with pytest.raises(TemplateError) as caught:
        TemplateEngine(tmp_path / "t").render("cisco_ios", "acme-sw1", {"device": {"name": "acme-sw1"}})
    assert caught.value.code == "MSP-TPL-408"
    assert caught.value.message.startswith("t/cisco_ios/main.j2:2: ")
    main.write_text("{% for i in range(20000) %}{{ 'x' * 100 }}\n{% endfor %}")
    with pytest.raises(TemplateError) as caught:
        TemplateEngine(tmp_path / "t").render("cisco_ios", "acme-sw1", {})
    assert caught.value.code == "MSP-TPL-413"
    assert caught.value.message.startswith("t/cisco_ios/main.j2: the rendered configuration is over")


@pytest.mark.parametrize("platform", ["cisco_ios", "arista_eos"])
def test_the_shipped_templates_render_as_plain_jinja_renders_them(make_asset: Any, platform: str) -> None:
    import jinja2

    from mspctl.model import Interface
    from mspctl.render.engine import FILTERS, _finalize
    from mspctl.render.service import build_context

    asset = make_asset("acme-core-sw1", platform=platform, role="switch")
    details = DeviceDetails({"ntp_servers": ["192.0.2.1", "192.0.2.2"], "syslog_servers": ["192.0.2.50"],
                             "dns_servers": ["192.0.2.53"], "banner": "Authorized access only.",
                             "snmp": {"location": "DC1", "community_ref": "snmp-ro"},
                             "pci": True, "login_block": {"attempts": 3, "within_seconds": 60}},
                            (Interface("Loopback0", addresses=("127.20.1.2/32",)),
                             Interface("Ethernet1", enabled=False),
                             Interface("Management1", mgmt_only=True, description="oob")))
    context = build_context(asset, details, Client("acme", "Acme"))
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(str(REPO / "templates")),
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True, finalize=_finalize)
    plain.filters.update(FILTERS)
    text = TemplateEngine(REPO / "templates").render(platform, asset.name, context)
    assert text == plain.get_template(f"{platform}/main.j2").render(context)
    assert "hostname acme-core-sw1" in text and "192.0.2.2" in text


def test_render_settings_have_defaults_and_are_validated_with_file_and_line(tmp_path: Path) -> None:
    assert load_settings(env={}, cwd=tmp_path).render == RenderSettings(10.0, 1_000_000, 1_000_000)
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text('[render]\ntemplate_timeout = "2m"\nmax_output_bytes = 5_000_000\n')
    s = load_settings(config_file=cfg, env={})
    assert (s.render.template_timeout, s.render.max_output_bytes) == (120.0, 5_000_000)
    for line, problem in (("max_output_bytes = 10", "must be 1000 to 1e+09"),
                          ('template_timeout = "0s"', "must be 0.1 to 3600"),
                          ("template_timeout = -1", "must be 0.1 to 3600"),
                          ('template_timeout = "soon"', "is not a duration"),
                          ("max_loop_iterations = true", "must be int")):
        cfg.write_text(f"[render]\n# limits\n{line}\n")
        with pytest.raises(ConfigError) as caught:
            load_settings(config_file=cfg, env={})
        assert caught.value.message.startswith(f"{cfg}:3: render."), line
        assert problem in caught.value.message, (line, caught.value.message)


def test_two_clients_devices_of_one_name_each_get_their_own_netbox_template(make_asset: Any) -> None:
    devices = [make_asset("edge-rtr1", client="acme", id=1), make_asset("edge-rtr1", client="globex", id=2)]
    engine = _netbox({7: ("acme-base", "hostname acme {{ device.id }}\n"),
                      8: ("globex-base", "hostname globex {{ device.id }}\n")}, {"device:1": 7, "device:2": 8})
    clients = {"acme": Client("acme", "Acme"), "globex": Client("globex", "Globex")}
    results = {r.asset.client: r for r in render_devices(devices, {}, engine, clients)}
    assert (results["acme"].text, results["acme"].template) == ("hostname acme 1\n", "acme-base")
    assert (results["globex"].text, results["globex"].template) == ("hostname globex 2\n", "globex-base")
