"""Notifications against the lab: the real `mspctl drift` and `mspctl patch window` send through
Apprise's JSON webhook (``json://127.0.0.1:PORT/hook``) to an HTTP receiver this test starts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from lab.network import EXPECTED_DRIFT

# Thursday noon: outside acme's window (sat 22:00 Europe/Berlin, 4h): refused, no host touched.
OUTSIDE = "2026-11-26T12:00:00+00:00"


@dataclass
class Receiver:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 recording every request's method, path, headers and JSON body."""
    box = Receiver(0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                box.requests.append({"method": "POST", "path": self.path,
                                     "content_type": self.headers.get("Content-Type"), "json": json.loads(raw)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()
    thread.join()


def test_new_drift_sends_one_message_for_acme_then_nothing(net, receiver: Receiver):
    env = {"MSPCTL_NOTIFY_URLS": receiver.url}
    first = net("drift", "-c", "acme", "-o", "json", env=env)
    assert first.exit_code == 4, first.output  # drift found: the exit code is the run's, notified or not
    run_id = json.loads(first.stdout)["run_id"]
    assert len(receiver.requests) == 1, receiver.requests
    (req,) = receiver.requests
    assert req["path"] == "/hook" and req["content_type"] == "application/json"
    msg = req["json"]
    assert msg["type"] == "warning" and "acme" in msg["title"]
    body = msg["message"]
    assert "client: acme" in body and f"run: {run_id} (drift)" in body and f"mspctl runs show {run_id}" in body
    acme = {d: f for d, f in EXPECTED_DRIFT.items() if d.startswith("acme-")}
    assert len(acme) == 3
    for device, features in acme.items():
        assert f"{device}: {', '.join(sorted(features))}" in body, (device, body)
        for missing, extra in features.values():
            for line in missing:
                assert f"missing: {line.splitlines()[0]}" in body
            for line in extra:
                assert f"extra: {line.splitlines()[0]}" in body
    assert not any(d in body for d in EXPECTED_DRIFT if not d.startswith("acme-"))
    assert "notified acme (new-drift)" in first.stderr
    # the outcome is its own record, naming the run it was about
    notes = [r for r in json.loads(net("runs", "list", "-o", "json").stdout) if r["kind"] == "notify"]
    assert len(notes) == 1

    second = net("drift", "-c", "acme", "-o", "json", env=env)
    assert second.exit_code == 4, second.output
    assert len(receiver.requests) == 1, receiver.requests[1:]  # the same drift: nothing new, nothing sent
    assert "notified" not in second.stderr


def test_a_refused_window_sends_one_message(mspctl, receiver: Receiver):
    env = {"MSPCTL_NOTIFY_URLS": receiver.url, "MSPCTL_NOW": OUTSIDE}
    quiet = mspctl("patch", "window", "-c", "acme", "--yes", "--no-notify", env=env)
    assert quiet.exit_code == 6, quiet.output
    assert receiver.requests == []  # --no-notify: nothing for this run

    res = mspctl("patch", "window", "-c", "acme", "--yes", env=env)
    assert res.exit_code == 6, res.output  # still refused, whatever notifying did
    assert "MSP-WIN-001" in res.stderr
    (req,) = receiver.requests
    msg = req["json"]
    assert msg["type"] == "failure" and msg["title"] == "mspctl: patch window refused for acme"
    assert "client: acme" in msg["message"] and "MSP-WIN-001" in msg["message"]
    assert "maintenance window" in msg["message"]


def test_an_unreachable_receiver_is_a_warning_only(net, receiver: Receiver):
    """A notification that cannot be sent changes neither the exit code nor the run's record."""
    import socket

    with socket.socket() as s:  # a port nobody listens on once it is closed
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    res = net("drift", "-c", "acme", "-o", "json", env={"MSPCTL_NOTIFY_URLS": f"json://127.0.0.1:{dead}/hook"})
    assert res.exit_code == 4, res.output
    assert "Warning: notification for acme (new-drift) not sent to URL #1 json" in res.stderr
    run_id = json.loads(res.stdout)["run_id"]
    shown = json.loads(net("runs", "show", run_id, "-o", "json").stdout)
    assert shown["kind"] == "drift" and shown["summary"]["drift"] == 3
