"""Device drivers (``mspctl.drivers``): netmiko and scrapli behind one register, chosen per
platform (``[platforms.<slug>] driver``) or per run (``--driver``); scrapli's platforms, its
errors as mspctl's, and its timeouts. No device needed: the lab tests read real ones."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mspctl.adapters.netmiko import NETMIKO, DeviceAuthError, DeviceConnectionError, DeviceError, DeviceTarget
from mspctl.adapters.scrapli import LOOP, SCRAPLI, connection_args, scrapli_driver
from mspctl.credentials import CredentialStore
from mspctl.devices import resolve_targets
from mspctl.errors import ConfigError, ExitCode, UnknownPluginError
from mspctl.inventory.platforms import PlatformMap
from mspctl.model import Asset, ClientSettings
from mspctl.plugins import DRIVERS, DeviceDriver
from mspctl.scale.jobs import describe, device_target
from mspctl.settings import load_settings


def target(device_type: str = "cisco_ios", host: str = "127.0.0.1", port: int = 22, **kw: str) -> DeviceTarget:
    return DeviceTarget("rtr1", host, port, device_type, "netops", "pw", "en", credentials="acme-netops", **kw)


# -- the register ----------------------------------------------------------------------------------
def test_both_drivers_are_registered_built_ins_and_netmiko_is_the_default() -> None:
    assert DRIVERS.get("netmiko") is NETMIKO and DRIVERS.get("scrapli") is SCRAPLI
    assert isinstance(NETMIKO, DeviceDriver) and isinstance(SCRAPLI, DeviceDriver)
    assert {p.name: p.builtin for p in DRIVERS.entries()}.items() >= {"netmiko": True, "scrapli": True}.items()
    assert target().driver == "netmiko"


def test_the_driver_crosses_to_workers_and_the_secrets_do_not() -> None:
    spec = describe(target(driver="scrapli"), platform="cisco_ios")
    assert spec["driver"] == "scrapli" and not {"username", "password", "secret"} & set(spec)

    class Store:
        def get(self, name: str, for_what: str = "") -> object:
            from mspctl.credentials import Credentials

            return Credentials("netops", "pw", "en")

    assert device_target(spec, Store()).driver == "scrapli"


# -- scrapli's platforms and arguments -------------------------------------------------------------
@pytest.mark.parametrize(("device_type", "cls"), [("cisco_ios", "AsyncIOSXEDriver"), ("cisco_xe", "AsyncIOSXEDriver"),
                                                  ("arista_eos", "AsyncEOSDriver")])
def test_scrapli_drives_ios_and_eos(device_type: str, cls: str) -> None:
    assert scrapli_driver(device_type) == cls
    import scrapli.driver.core

    assert hasattr(scrapli.driver.core, cls)  # the classic scrapli API (2026.10+ is another library)


@pytest.mark.parametrize("device_type", ["juniper_junos", "cisco_nxos", "mikrotik_routeros"])
def test_other_platforms_are_a_clear_permanent_error_before_any_connection(device_type: str) -> None:
    started = time.monotonic()
    with pytest.raises(DeviceError) as err:
        SCRAPLI.session(target(device_type, host="192.0.2.1"), 30)  # TEST-NET: never contacted
    assert time.monotonic() - started < 1
    assert f"scrapli has no driver for platform {device_type!r}, use --driver netmiko" in str(err.value)
    assert err.value.permanent and not isinstance(err.value, OSError)


def test_scrapli_checks_host_keys_as_the_netmiko_path_does_and_bounds_each_step() -> None:
    args = connection_args(target(), 40)
    # netmiko: paramiko's auto-add policy, no known_hosts read or written, no agent, keys or ssh_config
    assert args["auth_strict_key"] is False and args["ssh_known_hosts_file"] is False
    assert args["ssh_config_file"] is False and args["transport"] == "asyncssh"
    ssh = args["transport_options"]["asyncssh"]
    assert ssh["known_hosts"] is None and ssh["client_keys"] is None and ssh["agent_path"] is None
    assert ssh["config"] is None and "publickey" not in ssh["preferred_auth"]
    # AES-GCM preferred, and every cipher asyncssh offers by default still offered (older devices)
    assert ssh["encryption_algs"][0] == "aes128-gcm@openssh.com" and "aes128-ctr" in ssh["encryption_algs"]
    assert ssh["kex_algs"][0] == "curve25519-sha256"  # what the netmiko path (paramiko) negotiates
    assert len(set(ssh["kex_algs"])) == len(ssh["kex_algs"]) and "diffie-hellman-group14-sha256" in ssh["kex_algs"]
    assert args["timeout_socket"] == 15 and args["timeout_ops"] == 15
    assert connection_args(target(), 4)["timeout_ops"] == 4  # a shorter per-target timeout wins


# -- scrapli's failures as mspctl's errors -----------------------------------------------------------
@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts and never says anything (no SSH banner)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join(2)
    for s in held:
        s.close()
    srv.close()


def test_a_device_that_never_answers_is_a_retryable_timeout_within_the_budget(silent_server: int) -> None:
    started = time.monotonic()
    with pytest.raises(DeviceConnectionError) as err:
        SCRAPLI.session(target(port=silent_server), 1.5)
    assert time.monotonic() - started < 6
    assert isinstance(err.value, OSError)  # the executor retries it
    assert "rtr1: session setup: no answer from 127.0.0.1:" in str(err.value) and "within 1.5s" in str(err.value)


def test_a_refused_connection_is_retryable_and_names_the_device() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DeviceConnectionError) as err:
        SCRAPLI.session(target(port=port), 5)
    assert str(err.value).startswith(f"rtr1: cannot connect to 127.0.0.1:{port}")
    assert "pw" not in str(err.value).split(":", 1)[1].replace("127.0.0.1", "")  # no secret in the message


def test_auth_errors_are_permanent_device_auth_errors() -> None:
    assert issubclass(DeviceAuthError, DeviceError) and DeviceAuthError.permanent
    assert DeviceAuthError.code == "MSP-DEV-401"


def test_one_event_loop_serves_every_thread_and_a_stuck_step_times_out() -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def where() -> int:
        return threading.get_ident()

    with ThreadPoolExecutor(4) as pool:
        assert len(set(pool.map(lambda _: LOOP.run(where(), 5), range(8)))) == 1
    with pytest.raises(TimeoutError):
        LOOP.run(asyncio.sleep(10), 0.2)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")  # as the spread executor forks
def test_a_forked_worker_gets_its_own_event_loop() -> None:
    import asyncio
    import multiprocessing

    async def answer() -> int:
        return 42

    assert LOOP.run(answer(), 5) == 42  # the parent's loop thread exists before the fork
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply(_run_in_child, ()) == 42
    assert asyncio.iscoroutinefunction(answer)


def _run_in_child() -> int:
    async def answer() -> int:
        return 42

    return LOOP.run(answer(), 5)


# -- selection: per platform, per run ------------------------------------------------------------------
def test_a_platform_names_its_driver_by_slug_or_canonical_platform() -> None:
    pm = PlatformMap({"cisco-ios": {"driver": "scrapli"}, "arista_eos": {"netmiko": "arista_eos", "driver": "netmiko"}})
    assert pm.resolve("cisco-ios").driver == "scrapli"
    assert pm.resolve("cisco_ios").driver == "scrapli"  # what device runs see after normalising
    assert pm.resolve("arista_eos").driver == "netmiko"
    assert pm.resolve("juniper_junos").driver is None
    # the driver changes nothing else about the platform
    assert pm.resolve("cisco_ios").netmiko == PlatformMap().resolve("cisco_ios").netmiko == "cisco_ios"
    assert pm.resolve("cisco-ios").network and pm.resolve("cisco-ios").name == "cisco_ios"


def _assets() -> list[Asset]:
    return [Asset("device", 1, "acme-rtr1", "acme", platform="cisco_ios", primary_ip="127.0.0.2"),
            Asset("device", 2, "acme-sw1", "acme", platform="arista_eos", primary_ip="127.0.0.3")]


def _resolve(tmp_path: Path, toml: str, driver: str | None = None) -> dict[str, DeviceTarget]:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text(toml, encoding="utf-8")
    settings = load_settings(config_file=cfg, env={}, cwd=tmp_path)
    store = CredentialStore(env={"MSPCTL_CRED_ACME_NETOPS_USERNAME": "netops",
                                 "MSPCTL_CRED_ACME_NETOPS_PASSWORD": "pw"}, file=tmp_path / "none.toml")
    targets, problems = resolve_targets(_assets(), settings, {"acme": ClientSettings("acme", "acme", "acme-netops")},
                                        store, driver)
    assert not problems
    return targets


def test_platform_settings_choose_the_driver_and_a_run_overrides_them(tmp_path: Path) -> None:
    toml = '[platforms.cisco_ios]\ndriver = "scrapli"\n'
    targets = _resolve(tmp_path, toml)
    assert targets["device:1"].driver == "scrapli" and targets["device:2"].driver == "netmiko"
    assert targets["device:1"].device_type == "cisco_ios"
    assert {t.driver for t in _resolve(tmp_path, toml, "netmiko").values()} == {"netmiko"}
    assert {t.driver for t in _resolve(tmp_path, "", "scrapli").values()} == {"scrapli"}
    assert {t.driver for t in _resolve(tmp_path, "").values()} == {"netmiko"}


def test_an_unknown_run_driver_is_msp_plug_404_listing_the_installed(tmp_path: Path) -> None:
    with pytest.raises(UnknownPluginError) as err:
        _resolve(tmp_path, "", "telnetlib")
    assert err.value.code == "MSP-PLUG-404" and err.value.exit_code == ExitCode.CONFIG == 10
    assert "netmiko" in (err.value.hint or "") and "scrapli" in (err.value.hint or "")


def test_an_unknown_platform_driver_names_the_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text('[devices]\nworkers = 10\n\n[platforms.cisco_ios]\nnetmiko = "cisco_ios"\ndriver = "scrapy"\n',
                   encoding="utf-8")
    with pytest.raises(UnknownPluginError) as err:
        load_settings(config_file=cfg, env={}, cwd=tmp_path)
    assert f"{cfg}:6: platforms.cisco_ios.driver = 'scrapy'" in err.value.message
    assert err.value.exit_code == 10 and "scrapli" in (err.value.hint or "")


def test_a_driver_that_is_not_a_string_names_the_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text("[platforms.arista_eos]\ndriver = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=cfg, env={}, cwd=tmp_path)
    assert err.value.message.startswith(f"{cfg}:2: platforms.arista_eos.driver:")
    assert "driver" in err.value.message.split(":", 3)[-1]
