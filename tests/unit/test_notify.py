"""mspctl/notify.py: which runs notify whom (new drift, failed or refused windows), what the
message says, that it holds no secret, and that notifying never fails a run. Records live in a
real temporary store; the sender is a function that keeps what it was given (Apprise itself is
exercised against a real HTTP receiver in tests/lab/test_notify_lab.py and below)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mspctl import notify
from mspctl.errors import ExitCode, RefusedError
from mspctl.records import RecordStore, RunRecord
from mspctl.redact import register_secret
from mspctl.settings import NotifySettings, Settings, load_settings

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
URL = "json://127.0.0.1:9/hook"


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    return RecordStore(tmp_path / "r.sqlite")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(Settings(), notify=NotifySettings(urls=(URL,)))


class Outbox:
    """A sender that keeps every (url, notice) and answers `fail` (None: sent)."""

    def __init__(self, fail: str | None = None) -> None:
        self.sent: list[tuple[str, notify.Notice]] = []
        self.fail = fail

    def __call__(self, url: str, notice: notify.Notice) -> str | None:
        self.sent.append((url, notice))
        return self.fail


def feature(name: str, missing: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"feature": name, "status": "drift" if missing or extra else "compliant", "missing": list(missing),
            "extra": list(extra), "remediation": []}


def device(name: str, client: str, *features: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    drifted = any(f["status"] == "drift" for f in features)
    return {"device": name, "client": client, "platform": "cisco_ios",
            "status": status or ("drift" if drifted else "compliant"), "features": list(features)}


_ids = iter(range(1, 10_000))


def drift_run(store: RecordStore, hours: int, devices: dict[str, dict[str, Any]]) -> RunRecord:
    """Record a drift run `hours` after T0; `devices`: target -> device data."""
    at = T0 + timedelta(hours=hours)
    record = RunRecord(f"drift-{at:%Y%m%dT%H%M%SZ}-{next(_ids):04x}", "drift", at, at + timedelta(minutes=1),
                       {"source": "live"}, {}, {t: (d["status"], d) for t, d in devices.items()})
    store.save(record)
    return record


NTP = feature("ntp", ("ntp server 198.51.100.2",), ("ntp server 192.0.2.99",))
LOGGING = feature("logging", (), ("logging host 192.0.2.66",))
OK_NTP, OK_LOGGING = feature("ntp"), feature("logging")


def told(store: RecordStore, record: RunRecord) -> dict[str, dict[str, list[str]]]:
    """client -> device -> newly drifted features."""
    return {c: {d.device: [f["feature"] for f in d.features] for d in devs}
            for c, devs in notify.new_drift(store, record).items()}


# -- new drift ----------------------------------------------------------------------------------

def test_first_ever_drift_of_a_device_is_new(store: RecordStore) -> None:
    run = drift_run(store, 0, {"device:1": device("sw1", "acme", NTP, OK_LOGGING),
                               "device:2": device("sw2", "acme", OK_NTP)})
    assert told(store, run) == {"acme": {"sw1": ["ntp"]}}


def test_known_drift_is_not_new_and_a_newly_drifted_feature_is(store: RecordStore) -> None:
    drift_run(store, 0, {"device:1": device("sw1", "acme", NTP, OK_LOGGING)})
    same = drift_run(store, 1, {"device:1": device("sw1", "acme", NTP, OK_LOGGING)})
    assert told(store, same) == {}
    more = drift_run(store, 2, {"device:1": device("sw1", "acme", NTP, LOGGING)})
    assert told(store, more) == {"acme": {"sw1": ["logging"]}}  # only the feature that is new
    fewer = drift_run(store, 3, {"device:1": device("sw1", "acme", OK_NTP, LOGGING)})
    assert told(store, fewer) == {}


def test_drift_after_a_compliant_result_is_new_again(store: RecordStore) -> None:
    drift_run(store, 0, {"device:1": device("sw1", "acme", NTP)})
    drift_run(store, 1, {"device:1": device("sw1", "acme", OK_NTP)})
    again = drift_run(store, 2, {"device:1": device("sw1", "acme", NTP)})
    assert told(store, again) == {"acme": {"sw1": ["ntp"]}}


def test_a_failed_result_in_between_is_no_evidence(store: RecordStore) -> None:
    """Unreachable for one night: the drift it had before is still known, not new."""
    drift_run(store, 0, {"device:1": device("sw1", "acme", NTP)})
    drift_run(store, 1, {"device:1": {"device": "sw1", "client": "acme", "status": "failed", "features": [],
                                      "error": "timed out"}})
    back = drift_run(store, 2, {"device:1": device("sw1", "acme", NTP)})
    assert told(store, back) == {}


def test_the_previous_run_is_the_devices_own_not_the_last_run(store: RecordStore) -> None:
    """A run for another client in between does not make acme's known drift new."""
    drift_run(store, 0, {"device:1": device("sw1", "acme", NTP)})
    drift_run(store, 1, {"device:9": device("gx1", "globex", OK_NTP)})
    again = drift_run(store, 2, {"device:1": device("sw1", "acme", NTP)})
    assert told(store, again) == {}


def test_one_message_per_client_naming_only_its_devices(store: RecordStore, settings: Settings) -> None:
    run = drift_run(store, 0, {"device:1": device("acme-sw1", "acme", NTP),
                               "device:2": device("acme-rtr1", "acme", LOGGING),
                               "device:3": device("gx-rtr1", "globex", NTP),
                               "device:4": device("in-sw1", "initech", OK_NTP)})
    out = Outbox()
    result = notify.after_drift(settings, run.id, out, store)
    assert result.warnings == []
    by_client = {n.client: n for _, n in out.sent}
    assert sorted(by_client) == ["acme", "globex"]
    acme, globex = by_client["acme"], by_client["globex"]
    assert acme.event == "new-drift" and acme.run_id == run.id and acme.run_kind == "drift"
    for text in ("client: acme", f"run: {run.id} (drift)", "acme-sw1: ntp", "acme-rtr1: logging",
                 "missing: ntp server 198.51.100.2", "extra: logging host 192.0.2.66",
                 f"look: mspctl runs show {run.id}"):
        assert text in acme.body, text
    assert "gx-rtr1" not in acme.body and "acme-" not in globex.body
    assert "gx-rtr1: ntp" in globex.body
    assert "acme-sw1" in acme.title and "acme-rtr1" in acme.title


def test_nothing_is_sent_without_urls(store: RecordStore) -> None:
    run = drift_run(store, 0, {"device:1": device("sw1", "acme", NTP)})
    out = Outbox()
    result = notify.after_drift(Settings(), run.id, out, store)
    assert out.sent == [] and result.deliveries == [] and result.record_id is None
    assert [r.kind for r in store.recent()] == ["drift"]  # nothing recorded either


def test_nothing_new_sends_nothing_and_records_nothing(store: RecordStore, settings: Settings) -> None:
    drift_run(store, 0, {"device:1": device("sw1", "acme", NTP)})
    again = drift_run(store, 1, {"device:1": device("sw1", "acme", NTP)})
    out = Outbox()
    result = notify.after_drift(settings, again.id, out, store)
    assert out.sent == [] and result.lines() == []
    assert {r.kind for r in store.recent()} == {"drift"}


# -- secrets ------------------------------------------------------------------------------------

COMMUNITY = "H00liR0-c0mm"
PASSWORD = "acme-lab-pw-77"


def test_no_secret_leaves_in_a_message_built_from_raw_findings() -> None:
    """The message is scrubbed itself, whoever built the record it reads (here: never stored)."""
    register_secret(PASSWORD)
    secretive = feature("snmp", (f"snmp-server community {COMMUNITY} RO", f"username netops password {PASSWORD}"),
                        (f"banner motd ^C call {PASSWORD} ^C",))
    record = RunRecord("drift-x", "drift", T0, T0, {}, {}, {"device:1": ("drift", device("sw1", "acme", secretive))})
    news = notify.DeviceNews("sw1", "cisco_ios", (secretive,))
    n = notify.drift_notice("acme", record, [news])
    assert COMMUNITY not in n.body and PASSWORD not in n.body and PASSWORD not in n.title
    assert "snmp-server community <removed> RO" in n.body  # the command stays, the secret goes


def test_the_sent_body_holds_no_secret_seeded_in_a_finding(store: RecordStore, settings: Settings) -> None:
    register_secret(PASSWORD)
    secretive = feature("snmp", (f"snmp-server community {COMMUNITY} RO",), (f"snmp-server location {PASSWORD}",))
    run = drift_run(store, 0, {"device:1": device("sw1", "acme", secretive)})
    out = Outbox()
    notify.after_drift(settings, run.id, out, store)
    ((_, sent),) = out.sent
    assert "sw1: snmp" in sent.body
    assert COMMUNITY not in sent.body and PASSWORD not in sent.body


# -- patch windows ------------------------------------------------------------------------------

def window(results: dict[str, tuple[str, dict[str, Any]]], stopped: str | None = None) -> RunRecord:
    return RunRecord("patch-window-20261128T213000Z-ab12", "patch-window", T0, T0,
                     {"client": "acme", "applied": True, "stopped": stopped}, {}, results)


def host(name: str, status: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return status, {"host": name, "client": "acme", "status": status, **extra}


def test_a_window_with_failed_hosts_sends_one_failure_message() -> None:
    record = window({"acme-web01": host("acme-web01", "failed", failed_step="install", error="dpkg lock held"),
                     "acme-db01": host("acme-db01", "unreachable", error="ssh: timed out"),
                     "acme-app01": host("acme-app01", "patched"),
                     "acme-mail01": host("acme-mail01", "skipped")},
                    stopped="the canary batch failed on acme-web01")
    (n,) = notify.window_notices(record)
    assert n.client == "acme" and n.event == "window-failed" and n.notify_type == "failure"
    for text in ("client: acme", f"run: {record.id} (patch-window)", "failed on 2 of 4 host(s)",
                 "acme-web01: failed (step install; dpkg lock held)", "acme-db01: unreachable (ssh: timed out)",
                 "other hosts: acme-app01: patched, acme-mail01: skipped",
                 "stopped: the canary batch failed on acme-web01", f"look: mspctl runs show {record.id}"):
        assert text in n.body, text


def test_a_window_without_failed_hosts_sends_nothing() -> None:
    patched = window({"acme-web01": host("acme-web01", "patched"), "acme-db01": host("acme-db01", "compliant")})
    cut = window({"acme-web01": host("acme-web01", "patched"), "acme-db01": host("acme-db01", "skipped")},
                 stopped="the window's cutoff passed (01:30 UTC)")
    assert notify.window_notices(patched) == [] and notify.window_notices(cut) == []


def test_an_incomplete_host_is_a_failed_window() -> None:
    (n,) = notify.window_notices(window({"acme-web01": host("acme-web01", "incomplete", error="pinned version")}))
    assert "acme-web01: incomplete (pinned version)" in n.body


def test_a_refused_window_is_one_message_and_recorded(store: RecordStore, settings: Settings) -> None:
    err = RefusedError("client acme's maintenance window (inventory/clients.yml) is closed",
                       hint="run it inside the window, or pass --force to patch now")
    out = Outbox()
    result = notify.after_refused_window(settings, "acme", err, out, store)
    ((url, n),) = out.sent
    assert url == URL and n.event == "window-refused" and n.run_id is None
    assert "patch window refused: MSP-WIN-001: client acme's maintenance window" in n.body
    assert "what to do: run it inside the window" in n.body
    rec = store.get(result.record_id or "")
    assert rec.kind == "notify" and rec.params["run_kind"] == "patch-window"
    assert rec.results["acme:window-refused"][0] == "sent"


# -- delivery failures are warnings, and recorded -------------------------------------------------

def test_a_failed_delivery_is_a_warning_and_is_recorded(store: RecordStore) -> None:
    settings = replace(Settings(), notify=NotifySettings(urls=(URL, "mailto://u:topsecret@example.net")))
    run = drift_run(store, 0, {"device:1": device("sw1", "acme", NTP)})
    calls: list[str] = []

    def sender(url: str, n: notify.Notice) -> str | None:
        calls.append(url)
        if url.startswith("mailto"):
            raise OSError("connection refused")
        return None

    result = notify.after_drift(settings, run.id, sender, store)
    assert calls == [URL, "mailto://u:topsecret@example.net"]  # the second URL still tried
    (d,) = result.deliveries
    assert d.sent == 1 and d.failed == (("#2 mailto", "OSError: connection refused"),)
    assert result.warnings == ["notification for acme (new-drift) not sent to URL #2 mailto: "
                               "OSError: connection refused"]
    assert "topsecret" not in " ".join(result.lines())
    rec = store.get(result.record_id or "")
    status, data = rec.results["acme:new-drift"]
    assert status == "failed" and data["run"] == run.id and data["failed"][0]["url"] == "#2 mailto"


def test_an_unreadable_run_is_a_warning_not_an_error(settings: Settings, store: RecordStore) -> None:
    result = notify.after_drift(settings, "drift-nosuch", Outbox(), store)
    assert result.deliveries == []
    (warning,) = result.warnings
    assert warning.startswith("notifications after run drift-nosuch failed:") and "no run 'drift-nosuch'" in warning


# -- settings -----------------------------------------------------------------------------------

def test_urls_from_the_file_and_the_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text('[notify]\nurls = [\n  "json://127.0.0.1:8080/hook",\n]\n')
    assert load_settings(cfg, env={}).notify.urls == ("json://127.0.0.1:8080/hook",)
    env = {"MSPCTL_NOTIFY_URLS": "json://127.0.0.1:1/a, jsons://hooks.example.net/b"}
    got = load_settings(cfg, env=env)
    assert got.notify.urls == ("json://127.0.0.1:1/a", "jsons://hooks.example.net/b")
    assert "$MSPCTL_NOTIFY_URLS" in got.sources
    assert load_settings(tmp_path / "mspctl.toml", env={}).notify.urls  # unchanged file
    assert Settings().notify.urls == ()


def test_a_bad_url_in_the_file_is_located_and_not_shown(tmp_path: Path) -> None:
    cfg = tmp_path / "mspctl.toml"
    cfg.write_text('[cache]\nttl = 5\n\n[notify]\nurls = [\n  "json://127.0.0.1:8080/hook",\n'
                   '  "nosuchservice://tok3n-value@x",\n]\n')
    from mspctl.cli import main

    res = CliRunner().invoke(main, ["--config", str(cfg), "settings", "show"])
    assert res.exit_code == ExitCode.CONFIG == 10
    assert res.stderr.startswith(f"Error: MSP-CFG-001: {cfg}:7: notify.urls: URL #2 nosuchservice is not a URL "
                                 "Apprise can send to")
    assert "tok3n-value" not in res.stderr


def test_a_bad_url_in_the_environment_is_a_settings_error(tmp_path: Path) -> None:
    from mspctl.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        load_settings(env={"MSPCTL_NOTIFY_URLS": "json://127.0.0.1:1/a,json://"}, cwd=tmp_path)
    assert exc.value.exit_code == 10
    assert exc.value.message.startswith("environment MSPCTL_NOTIFY_URLS: URL #2 json is not a URL Apprise")


def test_a_non_string_url_is_located(tmp_path: Path) -> None:
    from mspctl.errors import ConfigError

    cfg = tmp_path / "mspctl.toml"
    cfg.write_text("[notify]\nurls = [42]\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg, env={})
    assert exc.value.message == f"{cfg}:2: notify.urls[0] must be str, not int"


def test_urls_are_masked_as_secrets(tmp_path: Path) -> None:
    from mspctl.redact import redact

    load_settings(env={"MSPCTL_NOTIFY_URLS": "json://127.0.0.1:1/hook-t0ken"}, cwd=tmp_path)
    assert "hook-t0ken" not in redact("posting to json://127.0.0.1:1/hook-t0ken")


# -- the Apprise edge, against a real local receiver ------------------------------------------------

@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], got
    server.shutdown()
    server.server_close()


def test_apprise_posts_the_notice_as_json(receiver: tuple[int, list[dict[str, Any]]]) -> None:
    port, got = receiver
    n = notify.Notice("acme", "new-drift", "drift-1", "drift", "mspctl: new drift for acme: sw1", "client: acme")
    assert notify.apprise_send(f"json://127.0.0.1:{port}/hook", n) is None
    (req,) = got
    assert req["path"] == "/hook"
    assert req["json"]["title"] == n.title and req["json"]["message"] == n.body and req["json"]["type"] == "warning"


def test_apprise_failure_is_a_reason_not_an_exception() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    n = notify.Notice("acme", "new-drift", "drift-1", "drift", "t", "b")
    why = notify.apprise_send(f"json://127.0.0.1:{port}/hook", n)
    assert why is not None and why != ""
    assert notify.url_problem("nosuch://x") is not None and notify.url_problem(URL) is None


def test_an_sla_breach_is_told_once_per_client(store: RecordStore, settings: Settings) -> None:
    # the default tier: drift fixed within 7 days. ntp drifts from T0 on and is still open 8 days on
    drift_run(store, 0, {"device:1": device("rtr1", "acme", NTP)})
    quiet = drift_run(store, 24, {"device:1": device("rtr1", "acme", NTP)})
    assert notify.sla_notices(settings, store, quiet) == []  # 1 day: within the SLA
    late = drift_run(store, 8 * 24, {"device:1": device("rtr1", "acme", NTP),
                                     "device:2": device("sw1", "globex", LOGGING)})
    out = Outbox()
    result = notify.after_drift(settings, late.id, sender=out, store=store)
    breaches = [n for _, n in out.sent if n.event == "sla-breach"]
    assert [n.client for n in breaches] == ["acme"]  # globex's drift is new, not late
    assert "rtr1: drift ntp: 8.0 days (allowed 7), still open" in breaches[0].body
    assert result.record_id is not None
    again = drift_run(store, 8 * 24 + 1, {"device:1": device("rtr1", "acme", NTP)})
    assert notify.sla_notices(settings, store, again) == []  # already told
