"""Runs on two real `mspctl worker`s (Celery on the lab's Redis), each in its own network namespace
(the `lab_workers` fixture): the same backup, drift, push and patch window as the local backend;
a killed or cut worker's read batch is done again by the other, and nothing is lost or counted
twice; a change batch on a killed worker ends `unfinished`, named in the journal, never pushed
twice; no secret crosses the broker."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.devices.control import ControlClient
from lab.network import CREDENTIALS, EXPECTED_DRIFT
from mspctl.errors import ExitCode
from tests.conftest import by_device, wait_until

DEVICES = 8  # the demo network: acme 3, globex 3, initech 2


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def _files(repo: Path) -> dict[str, str]:
    return {p.relative_to(repo).as_posix(): p.read_text() for p in repo.rglob("*.cfg") if ".git" not in p.parts}


def _statuses(run: dict[str, Any]) -> dict[str, str]:
    return {d["device"]: d["status"] for d in run["devices"]}


def _in_background(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        out["result"] = fn()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


def _logins(ctl: ControlClient) -> dict[str, int]:
    return {d["name"]: d["counters"]["logins_ok"] for d in ctl.call("list")["devices"]}


def _in_session(ctl: ControlClient, before: dict[str, int]) -> int:
    """Devices logged in to since `before`. A worker runs 2 batches of 2 at once and a session
    takes seconds: 6 devices logged in to means both workers have started batches (and said so
    to the coordinator)."""
    return sum(1 for name, n in _logins(ctl).items() if n > before.get(name, 0))


def _redis(lab_workers: Any) -> Any:
    import redis

    return redis.Redis.from_url(lab_workers.broker_url, socket_timeout=10)


@pytest.fixture
def workers(lab_workers: Any) -> Any:
    """The two workers, both up and reachable before and after each test."""
    lab_workers.reset()
    yield lab_workers
    lab_workers.reset()


def test_backup_on_two_workers_writes_what_the_local_backend_writes(net, workers, tmp_path: Path) -> None:
    local = net("config", "backup", "-A", "-o", "json", env={"XDG_DATA_HOME": str(tmp_path / "local")})
    assert local.exit_code == 0, local.output
    spread = net("config", "backup", "-A", "-o", "json",
                 env={**workers.client_env(), "XDG_DATA_HOME": str(tmp_path / "spread")})
    assert spread.exit_code == 0, spread.output
    a, b = json.loads(local.stdout), json.loads(spread.stdout)
    assert _statuses(a) == _statuses(b) and set(_statuses(b).values()) == {"new"} and len(_statuses(b)) == DEVICES
    assert a["summary"] == b["summary"]
    ra, rb = Path(a["repo"]), Path(b["repo"])
    assert _files(ra) == _files(rb) and len(_files(rb)) == DEVICES
    # One commit per run, made by the coordinator: the same tree, the same kind of message.
    assert _git(rb, "rev-list", "--count", "HEAD") == "1"
    assert _git(ra, "rev-parse", "HEAD^{tree}") == _git(rb, "rev-parse", "HEAD^{tree}")
    assert _git(rb, "log", "--format=%s") == f"backup {b['run_id']}: {DEVICES} new, 0 changed, 0 unchanged, 0 failed"
    # The same record: every device, with the same result.
    def recorded(run_id: str) -> dict[str, str]:
        shown = json.loads(net("runs", "show", run_id, "-o", "json").stdout)
        return {name: r["status"] for name, r in by_device(shown).items()}

    assert recorded(a["run_id"]) == recorded(b["run_id"]) and len(recorded(b["run_id"])) == DEVICES


def test_drift_on_two_workers_is_the_local_drift(net, workers) -> None:
    local = net("drift", "-A", "-o", "json")
    spread = net("drift", "-A", "-o", "json", env=workers.client_env())
    assert local.exit_code == spread.exit_code == ExitCode.FINDINGS, spread.output

    def view(res: Any) -> dict[str, Any]:
        return {d["device"]: (d["status"], d["source"],
                              sorted((f["feature"], f["status"], tuple(f.get("missing") or ()),
                                      tuple(f.get("extra") or ())) for f in d["features"]))
                for d in json.loads(res.stdout)["devices"]}

    assert view(local) == view(spread)
    assert {d for d, (status, _, _) in view(spread).items() if status == "drift"} == set(EXPECTED_DRIFT)
    assert {source for _, source, _ in view(spread).values()} == {"live"}


def test_push_on_two_workers_fixes_drift_and_records_the_journal(net, workers, lab_network, tmp_path: Path) -> None:
    res = net("config", "push", "-c", "acme", "-c", "initech", "--apply", "--yes", "--force", "-o", "json",
              env=workers.client_env())
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    expected = {d for d in EXPECTED_DRIFT if d.startswith(("acme", "initech"))}
    assert {d for d, s in _statuses(run).items() if s == "applied"} == expected
    assert _statuses(run)["initech-sw1"] == "compliant"
    for d in run["devices"]:
        if d["status"] == "applied":
            assert d["post_check"] and all(p["status"] == "compliant" for p in d["post_check"]), d
            assert d["snapshot"] and d["snapshot"].startswith("flash:mspctl-push-")
    after = net("drift", "-c", "acme", "-c", "initech")
    assert after.exit_code == 0, after.output
    # The workers' journal entries reached the coordinator's journal, in order, per device.
    from mspctl.records import RecordStore

    store = RecordStore(tmp_path / "xdg-cache" / "mspctl" / "records.sqlite")  # the `net` fixture's records
    events: dict[str, list[str]] = {}
    for e in store.entries(run["run_id"]):
        events.setdefault(e.target, []).append(e.event)
    applied = [d["id"] for d in run["devices"] if d["status"] == "applied"]
    assert applied and all(events[k][0] == "intent" and events[k][-1] == "done" and "snapshot" in events[k]
                           for k in applied), events


def test_a_killed_worker_s_read_batch_is_done_again_by_the_other(net, workers, lab_network, tmp_path: Path) -> None:
    ctl = ControlClient(lab_network.control)
    for device in ctl.call("list")["devices"]:
        ctl.set_knobs(device["name"], command_delay=0.7)  # a backup takes seconds: the kill lands mid-batch
    env = {**workers.client_env(), "XDG_DATA_HOME": str(tmp_path / "data")}
    before = _logins(ctl)
    thread, out = _in_background(lambda: net("config", "backup", "-A", "-o", "json", env=env))
    # Both workers hold batches (4 batches of 2, 2 at a time each): kill lab-w1 in the middle.
    wait_until(lambda: _in_session(ctl, before) >= 6, "both workers in sessions", 60)
    workers.kill(1)
    thread.join(timeout=400)
    res = out["result"]
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert _statuses(run) == {name: "new" for name in _statuses(run)} and len(run["devices"]) == DEVICES
    assert run["summary"]["new"] == DEVICES and run["summary"]["failed"] == 0
    repo = Path(run["repo"])
    assert len(_files(repo)) == DEVICES and _git(repo, "rev-list", "--count", "HEAD") == "1"
    assert "was taken again, by lab-w2: lab-w1 did not finish it" in res.stderr
    assert "a read is simply done again" in res.stderr


def test_a_cut_worker_s_batch_is_retried_by_the_other_within_the_window(net, workers, lab_network,
                                                                       tmp_path: Path) -> None:
    ctl = ControlClient(lab_network.control)
    for device in ctl.call("list")["devices"]:
        ctl.set_knobs(device["name"], command_delay=0.7)
    env = {**workers.client_env(), "XDG_DATA_HOME": str(tmp_path / "data")}
    before = _logins(ctl)
    thread, out = _in_background(lambda: net("drift", "-A", "-o", "json", env=env))
    wait_until(lambda: _in_session(ctl, before) >= 6, "both workers in sessions", 60)
    workers.cut(2)  # lab-w2 goes dark: its connections hang, nothing reaches it
    thread.join(timeout=400)
    res = out["result"]
    assert res.exit_code == ExitCode.FINDINGS, res.output
    devices = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    assert len(devices) == DEVICES and {d["source"] for d in devices.values()} == {"live"}
    assert {name for name, d in devices.items() if d["status"] == "drift"} == set(EXPECTED_DRIFT)
    assert "was taken again, by lab-w1: lab-w2 did not finish it" in res.stderr


def test_a_change_batch_s_holder_is_told_alive_while_it_runs_and_dead_once_it_stops(workers, monkeypatch) -> None:
    """On the lab's broker: a second delivery of a change batch (the broker hands it on after the
    visibility timeout, which a long change can outlast) is left to a holder whose heartbeat is
    fresh, and refused as unfinished only once the heartbeat has stopped (Redis's own expiry)."""
    from mspctl.scale import celery_backend as cb

    monkeypatch.setattr(cb, "HEARTBEAT", 0.2)
    monkeypatch.setattr(cb, "HEARTBEAT_TTL", 1)
    r = _redis(workers)
    claim = f"mspctl:job:heartbeat-test-{time.monotonic_ns()}:claim:0"
    with cb._heartbeat(r, claim):
        time.sleep(1.5)  # longer than the TTL: only the beats keep it alive
        assert cb._still_running(r, claim, wait=1.5) is True
    assert not r.exists(f"{claim}:alive")  # ended: removed at once
    assert cb._still_running(r, claim, wait=1.5) is False
    # A holder that died mid-batch (no clean end): its last beat expires, and then it is dead.
    r.set(f"{claim}:alive", "1", ex=1)
    assert cb._still_running(r, claim, wait=10) is False


def test_a_push_batch_on_a_killed_worker_ends_unfinished_named_in_the_journal(net, workers, lab_network,
                                                                             tmp_path: Path) -> None:
    from mspctl.records import RecordStore

    ctl = ControlClient(lab_network.control)
    ctl.set_knobs("initech-rtr1", command_delay=4.0)  # its push takes long enough to die in
    r = _redis(workers)
    data = tmp_path / "data"
    env = {**workers.client_env(), "XDG_CACHE_HOME": str(tmp_path / "cache-home"), "XDG_DATA_HOME": str(data)}
    before = set(r.keys("mspctl:job:*:claim:*"))  # earlier runs' claims outlive them (KEY_TTL)
    thread, out = _in_background(lambda: net("config", "push", "-c", "initech", "--apply", "--yes", "--force",
                                             "-o", "json", env=env))
    records = tmp_path / "cache-home" / "mspctl" / "records.sqlite"
    # The worker that claimed the batch (initech's two devices) is killed once its intent for
    # initech-rtr1 is in the journal: the change may have begun.
    claims: list[bytes] = []

    def claimed() -> bool:
        claims[:] = [k for k in r.keys("mspctl:job:*:claim:*") if k not in before and not k.endswith(b":alive")]
        return bool(claims)

    wait_until(claimed, "the batch claimed", 60)
    assert len(claims) == 1, claims
    holder = r.get(claims[0]).decode()
    assert holder in ("lab-w1", "lab-w2")

    def intent() -> bool:
        if not records.exists():
            return False
        store = RecordStore(records)
        return any(e.event == "intent" and e.target.startswith("device:")
                   for run_id in _started_runs(records) for e in store.entries(run_id))

    wait_until(intent, "the intent journalled", 120)
    workers.kill(int(holder[-1]))
    thread.join(timeout=400)
    res = out["result"]
    assert res.exit_code == ExitCode.PARTIAL, res.output
    run = json.loads(res.stdout)
    status = _statuses(run)
    assert status["initech-rtr1"] == "unfinished", run
    rtr = next(d for d in run["devices"] if d["device"] == "initech-rtr1")
    assert rtr["error_code"] == "MSP-EXEC-425" and rtr["snapshot"] in (None, f"flash:mspctl-{run['run_id']}.cfg")
    # Never run twice: the other worker, given the batch again, refused it.
    other = "lab-w2" if holder == "lab-w1" else "lab-w1"
    assert f"was taken again, by {other}: {holder} did not finish it" in res.stderr
    assert "a change is never run twice" in res.stderr
    store = RecordStore(records)
    entries = [e for e in store.entries(run["run_id"]) if e.target == rtr["id"]]
    assert entries[0].event == "intent" and entries[-1].event == "unfinished"
    assert entries[-1].data["device"] == "initech-rtr1" and entries[-1].data["client"] == "initech"
    # The record marks it undoable, and a rollback by run id resolves it from the snapshot.
    ctl.set_knobs("initech-rtr1", command_delay=0)
    undo = net("config", "rollback", "--run", run["run_id"], "-o", "json", env=env)
    assert "initech-rtr1" in _statuses(json.loads(undo.stdout)), undo.output


def _started_runs(records: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(f"file:{records}?mode=ro", uri=True) as c:
        return [row[0] for row in c.execute("select id from run_starts where kind = 'push'")]


def test_patch_window_on_two_workers_is_the_local_window(patch, lab_servers, workers) -> None:
    inside = {"MSPCTL_NOW": "2026-11-28T22:30:00+01:00"}
    lab_servers.reset()
    local = patch("patch", "window", "-c", "acme", "--yes", "--no-writeback", "-o", "json", env=inside)
    lab_servers.reset()
    spread = patch("patch", "window", "-c", "acme", "--yes", "--no-writeback", "-o", "json",
                   env={**inside, **workers.client_env()})
    assert local.exit_code == spread.exit_code == 0, spread.output

    def view(res: Any) -> dict[str, Any]:
        return {h["host"]: (h["status"], h["state"], h["batch"], sorted(h["installed"]), h["rebooted"])
                for h in json.loads(res.stdout)["hosts"]}

    assert view(local) == view(spread)
    assert {status for status, *_ in view(spread).values()} <= {"patched", "compliant"}
    assert any(status == "patched" for status, *_ in view(spread).values())


def test_no_secret_crosses_the_broker(net, workers, lab_netbox) -> None:
    """Every command Redis receives during a backup, a drift and a dry-run push on the workers
    (MONITOR): the batches' bodies (base64 in Celery's envelope) decoded, and the results and
    events, hold the devices' credential names but no password, enable secret or NetBox token."""
    import redis

    monitor = redis.Redis.from_url(workers.broker_url).monitor()
    seen: list[str] = []
    stop = threading.Event()
    conn = monitor.__enter__()

    def listen() -> None:
        for cmd in conn.listen():
            seen.append(cmd["command"])
            if stop.is_set():
                break

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        env = workers.client_env()
        for args, code in ((("config", "backup", "-A"), 0), (("drift", "-A"), ExitCode.FINDINGS),
                           (("config", "push", "-A"), 0)):
            res = net(*args, env=env)
            assert res.exit_code == code, res.output
    finally:
        stop.set()
        redis.Redis.from_url(workers.broker_url).ping()  # one more command wakes the listener
        listener.join(timeout=10)
    text = "\n".join(seen)
    decoded = [text]
    for chunk in text.split('"body": "')[1:]:
        body = chunk.split('"', 1)[0]
        try:
            decoded.append(base64.b64decode(body).decode("utf-8", "replace"))
        except ValueError:
            continue
    corpus = "\n".join(decoded)
    assert "mspctl.batch" in text and '"credentials": "acme-netops"' in corpus.replace("\\", "")
    assert "device.config" in corpus and "device.push" in corpus and "initech-rtr1" in corpus
    for _name, user, password, enable in CREDENTIALS.values():
        assert password not in corpus and enable not in corpus, (user, "a credential crossed the broker")
    assert lab_netbox.token not in corpus
    time.sleep(0)  # the monitor connection is closed with the test's Redis client
