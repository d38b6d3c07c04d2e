"""Notifications: one message per client and run when something needs a person (docs/notify.md).

Events:

- **new drift** (`drift`): a device whose result in this run is `drift` with a feature that did
  not drift in the device's previous audited drift result (`compliant` or `drift`; a `failed` or
  `skipped` result in between is no evidence either way). A device's first drift result counts.
- **a failed patch window** (`patch window`): some host `failed`, `unreachable` or
  `incomplete` (the canary and failure-share gates only stop a window on such hosts).
- **a refused patch window**: outside its maintenance window, or another window holds the
  client's lock (exit 6); nothing was touched, so the window itself has no run record.
- **an SLA breach** (after a drift audit or a patch window): a breach of the client's SLA over
  the last 30 days, counted as `mspctl report` counts them (docs/reports.md), that no earlier
  notification named. The client's tier comes from the cached inventory (the default tier's
  days when it cannot be read).

What is sent is decided from the run records (`mspctl.records`), so it is the same whichever
command or process wrote them. Every text passes through the config scrubber
(`mspctl.secrets.scrub`) and the registered-secret masker (`mspctl.redact.redact`) before it
leaves. Nothing is sent when `[notify] urls` (or ``MSPCTL_NOTIFY_URLS``) is empty.

Sending never fails a run: each outcome comes back as a `Delivery`, and the hooks
(`after_drift`, `after_window`, `after_refused_window`) return warnings for the CLI to print.
When anything was sent, the outcome is saved as a run record of kind `notify` (its own record:
a run's record is immutable), so `mspctl runs show notify-...` says who was told what.

Apprise (https://github.com/caronc/apprise) is the one sender; it is imported only in the
functions at the bottom of this module, and only when there is something to send.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mspctl.redact import redact
from mspctl.secrets import scrub

if TYPE_CHECKING:
    from mspctl.errors import MspctlError
    from mspctl.records import RecordStore, RunRecord
    from mspctl.reports.client import SlaPolicy
    from mspctl.settings import Settings

log = logging.getLogger(__name__)

EventKind = Literal["new-drift", "window-failed", "window-refused", "sla-breach"]
NotifyType = Literal["info", "warning", "failure"]
# Lines of one feature's finding quoted in a message; the record has them all.
MAX_LINES = 5
AUDITED = ("compliant", "drift")
WINDOW_FAILED = ("failed", "unreachable", "incomplete")  # mspctl.patch.service.APPLY_FAILED


@dataclass(frozen=True)
class Notice:
    """One message for one client about one run: scrubbed and masked when built (`_clean`)."""

    client: str
    event: EventKind
    run_id: str | None  # None: a refused window, which has no run record
    run_kind: str
    title: str
    body: str
    notify_type: NotifyType = "warning"
    keys: tuple[str, ...] = ()  # what it is about, for the next run to tell old news from new (SLA breaches)


@dataclass(frozen=True)
class Delivery:
    """What became of one notice: sent to every URL, or the URLs that failed and why."""

    notice: Notice
    sent: int  # URLs that took it
    failed: tuple[tuple[str, str], ...] = ()  # (URL label, why) of each that did not

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class NotifyResult:
    """The hooks' answer: the deliveries, the notify record's id (when one was saved) and the
    warnings to print (never raised: notifying does not change a run's outcome)."""

    deliveries: list[Delivery] = field(default_factory=list)
    record_id: str | None = None
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the CLI prints on stderr: a line per client told, then each warning."""
        told = [d for d in self.deliveries if d.sent]
        out = [f"notified {d.notice.client} ({d.notice.event})" + (f", recorded as {self.record_id}"
                                                                   if self.record_id else "") for d in told]
        return out + [f"Warning: {w}" for w in self.warnings]


def _clean(text: str, platform: str | None = None) -> str:
    """`text` scrubbed of config secrets (the device's platform rules, else every platform's)
    and of every registered secret."""
    return redact(scrub(text, platform))


# -- deciding: new drift -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceNews:
    """A device with new drift: its name, platform, and the newly drifted features' findings."""

    device: str
    platform: str | None
    features: tuple[dict[str, Any], ...]  # FeatureResult as recorded: feature, missing, extra


def _drifted(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(f.get("feature")): f for f in data.get("features") or [] if f.get("status") == "drift"}


def _previous_audited(store: RecordStore, target: str, record: RunRecord) -> dict[str, Any] | None:
    """The device's newest drift result before `record` that audited it, or None (never audited)."""
    for run_id, started, status in store.history(target, "drift", limit=50):
        if run_id == record.id or started > record.started_at.isoformat():
            continue
        if status in AUDITED:
            return store.get(run_id).results[target][1]
    return None


def new_drift(store: RecordStore, record: RunRecord) -> dict[str, list[DeviceNews]]:
    """Client -> the devices of drift run `record` with new drift (see the module). Pure reads."""
    out: dict[str, list[DeviceNews]] = {}
    for target, (status, data) in sorted(record.results.items(), key=lambda r: str(r[1][1].get("device"))):
        if status != "drift":
            continue
        now = _drifted(data)
        before = _previous_audited(store, target, record)
        seen = set(_drifted(before)) if before is not None else set()
        fresh = tuple(now[f] for f in sorted(now) if f not in seen)
        if fresh:
            client = str(data.get("client") or "")
            out.setdefault(client, []).append(DeviceNews(str(data.get("device") or target), data.get("platform"),
                                                         fresh))
    return out


def _lines(label: str, lines: Sequence[str], platform: str | None) -> list[str]:
    shown = [f"      {label}: {_clean(str(line), platform)}".replace("\n", "\n        ") for line in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        shown.append(f"      ... {len(lines) - MAX_LINES} more {label} line(s)")
    return shown


def drift_notice(client: str, record: RunRecord, devices: Sequence[DeviceNews]) -> Notice:
    """The message about `devices` of `client`'s new drift in run `record`."""
    who = client or "(no client)"
    body = [f"client: {who}", f"run: {record.id} (drift)",
            f"new drift on {len(devices)} device(s):"]
    for d in devices:
        body.append(f"  - {d.device}: {', '.join(str(f.get('feature')) for f in d.features)}")
        for f in d.features:
            body.append(f"    {f.get('feature')}:")
            body += _lines("missing", list(f.get("missing") or []), d.platform)
            body += _lines("extra", list(f.get("extra") or []), d.platform)
    body.append(f"look: mspctl runs show {record.id}")
    names = ", ".join(d.device for d in devices)
    return Notice(who, "new-drift", record.id, "drift",
                  _clean(f"mspctl: new drift for {who}: {names}"), _clean("\n".join(body)), "warning")


def drift_notices(store: RecordStore, record: RunRecord) -> list[Notice]:
    """One notice per client with new drift in `record`, by client name."""
    return [drift_notice(c, record, d) for c, d in sorted(new_drift(store, record).items())]


# -- deciding: patch windows ---------------------------------------------------------------------


def window_notices(record: RunRecord) -> list[Notice]:
    """A failed patch window's notice (some host failed, was unreachable or incomplete), or none."""
    failed = {h: (s, d) for h, (s, d) in record.results.items() if s in WINDOW_FAILED}
    if not failed:
        return []
    client = str(record.params.get("client") or "")
    body = [f"client: {client}", f"run: {record.id} ({record.kind})",
            f"patch window failed on {len(failed)} of {len(record.results)} host(s):"]
    for host in sorted(failed):
        status, data = failed[host]
        why = data.get("failed_step") or ""
        err = str(data.get("error") or "")
        detail = "; ".join(x for x in (f"step {why}" if why else "", err[:300]) if x)
        body.append(f"  - {host}: {status}" + (f" ({detail})" if detail else ""))
    others = sorted(f"{h}: {s}" for h, (s, _) in record.results.items() if h not in failed)
    if others:
        body.append("other hosts: " + ", ".join(others))
    if record.params.get("stopped"):
        body.append(f"stopped: {record.params['stopped']}")
    body.append(f"look: mspctl runs show {record.id}")
    return [Notice(client, "window-failed", record.id, record.kind,
                   _clean(f"mspctl: patch window failed for {client}: {', '.join(sorted(failed))}"),
                   _clean("\n".join(body)), "failure")]


def refused_notice(client: str, error: MspctlError) -> Notice:
    """The notice of a patch window refused before it started (closed window, lock held)."""
    body = [f"client: {client}", "run: none (refused before it started: nothing was touched)",
            f"patch window refused: {error.code}: {error.message}"]
    if error.hint:
        body.append(f"what to do: {error.hint}")
    return Notice(client, "window-refused", None, "patch-window",
                  _clean(f"mspctl: patch window refused for {client}"), _clean("\n".join(body)), "failure")


# -- deciding: SLA breaches ---------------------------------------------------------------------

SLA_WINDOW_DAYS = 30


def _breach_key(area: str, b: dict[str, Any]) -> str:
    return "|".join(str(x) for x in (area, b["target"], b.get("feature") or b.get("package"),
                                    b.get("first_seen") or b.get("available_at")))


def _told(store: RecordStore, client: str) -> set[str]:
    """The SLA breaches earlier notifications named for `client` (sent to at least one URL)."""
    from mspctl.history import RunQuery

    out: set[str] = set()
    for r in store.find(RunQuery(kind="notify", client=client)):
        for _status, data in r.results.values():
            if data.get("event") == "sla-breach" and data.get("client") == client and data.get("sent"):
                out.update(data.get("keys") or ())
    return out


def _policy(settings: Settings, client: str) -> SlaPolicy:
    from mspctl.reports.client import SlaPolicy

    tier: str | None = None
    with contextlib.suppress(Exception):  # the tier is the cache's; without one, the default days
        from mspctl.inventory.service import open_inventory

        known = {c.slug: c for c in open_inventory(settings, offline=True).clients("offline")}
        raw = known[client].custom_fields.get("sla_tier") if client in known else None
        tier = str(raw) if raw else None
    name, patch_days, drift_days = settings.sla.for_tier(tier)
    return SlaPolicy(name, patch_days, drift_days)


def sla_notices(settings: Settings, store: RecordStore, record: RunRecord, now: datetime | None = None) -> list[Notice]:
    """One notice per client of `record` with SLA breaches no earlier notification named, as the
    records stood when `record` was written (default)."""
    from datetime import timedelta

    from mspctl.history import RunQuery
    from mspctl.reports.client import sla_of

    now = now or (record.finished_at if record.finished_at.tzinfo else record.finished_at.replace(tzinfo=UTC))
    out = []
    for client in sorted(record.clients()):
        policy = _policy(settings, client)
        sla = sla_of(store.find(RunQuery(client=client)), client, now - timedelta(days=SLA_WINDOW_DAYS), now, policy)
        told = _told(store, client)
        new = [(area, b) for area in ("patch", "drift") for b in sla[area]["breaches"]
               if _breach_key(area, b) not in told]
        if not new:
            continue
        days = {"patch": policy.patch_days, "drift": policy.drift_days}
        body = [f"client: {client}", f"run: {record.id} ({record.kind})",
                f"SLA tier {policy.tier}: security updates in effect within {policy.patch_days} days, "
                f"drift fixed within {policy.drift_days} days", f"{len(new)} new breach(es):"]
        for area, b in new[:20]:
            what = b.get("package") or b.get("feature")
            state = f"done {b['fixed']}" if b.get("fixed") else "still open"
            body.append(f"  - {b['name']}: {area} {what}: {b['days']} days (allowed {days[area]}), {state}")
        if len(new) > 20:
            body.append(f"  ... and {len(new) - 20} more")
        body.append(f"look: mspctl report --client {client}")
        out.append(Notice(client, "sla-breach", record.id, record.kind,
                          _clean(f"mspctl: {len(new)} SLA breach(es) for {client}"), _clean("\n".join(body)),
                          "failure", tuple(_breach_key(a, b) for a, b in new)))
    return out


# -- sending and recording -----------------------------------------------------------------------

Sender = Callable[[str, Notice], str | None]  # (Apprise URL, notice) -> None when sent, else why not


def url_label(index: int, url: str) -> str:
    """How a URL is named in messages and records: its place and scheme, never its text (an
    Apprise URL often carries a token or a password)."""
    return f"#{index + 1} {url.split('://', 1)[0] if '://' in url else '?'}"


def deliver(urls: Sequence[str], notices: Sequence[Notice], sender: Sender | None = None) -> list[Delivery]:
    """Send each notice to every URL (each URL on its own, so one bad channel does not hide the
    others' outcome). No URLs: nothing is sent."""
    if not urls:
        return []
    send = sender or apprise_send
    out = []
    for notice in notices:
        failed: list[tuple[str, str]] = []
        for i, url in enumerate(urls):
            try:
                why = send(url, notice)
            except Exception as exc:  # a sender's bug or a library error: that channel failed, no more
                why = f"{type(exc).__name__}: {exc}"
            if why is not None:
                failed.append((url_label(i, url), redact(why)))
        out.append(Delivery(notice, len(urls) - len(failed), tuple(failed)))
    return out


def record_deliveries(store: RecordStore, deliveries: Sequence[Delivery], started: datetime,
                      about: str | None, about_kind: str) -> str:
    """Save the deliveries as a `notify` run record; its id."""
    from mspctl.records import RunRecord, new_run_id

    run_id = new_run_id("notify", started)
    results = {}
    for d in deliveries:
        n = d.notice
        results[f"{n.client}:{n.event}"] = ("sent" if d.ok else "failed", {
            "client": n.client, "event": n.event, "run": n.run_id, "run_kind": n.run_kind, "title": n.title,
            "body": n.body, "sent": d.sent, "failed": [{"url": u, "error": e} for u, e in d.failed],
            **({"keys": list(n.keys)} if n.keys else {})})
    summary = {"sent": sum(d.ok for d in deliveries), "failed": sum(not d.ok for d in deliveries)}
    store.save(RunRecord(run_id, "notify", started, datetime.now(UTC),
                         {"run": about, "run_kind": about_kind}, summary, results))
    return run_id


def _finish(settings: Settings, notices: Sequence[Notice], started: datetime, about: str | None,
            about_kind: str, sender: Sender | None, store: RecordStore | None = None) -> NotifyResult:
    result = NotifyResult(deliver(settings.notify.urls, notices, sender))
    for d in result.deliveries:
        for label, why in d.failed:
            result.warnings.append(f"notification for {d.notice.client} ({d.notice.event}) not sent to URL "
                                   f"{label}: {why}")
    if result.deliveries:
        try:
            from mspctl.records import RecordStore

            result.record_id = record_deliveries(store or RecordStore(settings.records_location), result.deliveries,
                                                 started, about, about_kind)
        except Exception as exc:  # the run's own record is written; only this note of it is lost
            result.warnings.append(f"the notification outcome could not be recorded: {redact(str(exc))}")
    return result


def _guarded(what: str, work: Callable[[], NotifyResult]) -> NotifyResult:
    """Run a hook; any failure becomes a warning (a notification never fails a run)."""
    try:
        return work()
    except Exception as exc:
        log.debug("notification after %s failed", what, exc_info=True)
        return NotifyResult(warnings=[f"notifications after {what} failed: {redact(str(exc))}"])


def after_drift(settings: Settings, run_id: str, sender: Sender | None = None,
                store: RecordStore | None = None) -> NotifyResult:
    """Notify each client with new drift in the recorded drift run `run_id`. Never raises."""
    if not settings.notify.urls:
        return NotifyResult()

    def work() -> NotifyResult:
        from mspctl.records import RecordStore

        started = datetime.now(UTC)
        s = store or RecordStore(settings.records_location)
        record = s.get(run_id)
        notices = drift_notices(s, record) + sla_notices(settings, s, record)
        return _finish(settings, notices, started, run_id, "drift", sender, s)
    return _guarded(f"run {run_id}", work)


def after_window(settings: Settings, record: RunRecord, sender: Sender | None = None,
                 store: RecordStore | None = None) -> NotifyResult:
    """Notify the client of a failed patch window (`record`: the window's run record). Never raises."""
    if not settings.notify.urls:
        return NotifyResult()
    def work() -> NotifyResult:
        from mspctl.records import RecordStore

        s = store or RecordStore(settings.records_location)
        notices = window_notices(record) + sla_notices(settings, s, record)
        return _finish(settings, notices, datetime.now(UTC), record.id, record.kind, sender, s)
    return _guarded(f"run {record.id}", work)


def after_refused_window(settings: Settings, client: str, error: MspctlError, sender: Sender | None = None,
                         store: RecordStore | None = None) -> NotifyResult:
    """Notify the client that its patch window was refused (`error`, exit 6). Never raises."""
    if not settings.notify.urls:
        return NotifyResult()
    return _guarded(f"the refused window of {client}",
                    lambda: _finish(settings, [refused_notice(client, error)], datetime.now(UTC), None,
                                    "patch-window", sender, store))


# -- the edge: Apprise ---------------------------------------------------------------------------


@contextlib.contextmanager
def _apprise_quiet() -> Iterator[None]:
    """Apprise's log lines kept from mspctl's stderr handler while inside."""
    alog = logging.getLogger("apprise")
    propagate = alog.propagate
    alog.propagate = False
    try:
        yield
    finally:
        alog.propagate = propagate


def url_problem(url: str) -> str | None:
    """Why Apprise cannot send to `url` (None: it can): an unknown scheme, or a URL its service
    does not accept (a missing token, host or address)."""
    import apprise

    if not url.strip():
        return "is empty"
    with _apprise_quiet():  # its own line would quote the URL (a token, in part)
        loaded = apprise.Apprise.instantiate(url)
    if loaded is None:
        return "is not a URL Apprise can send to (unknown service, or a token, host or address missing)"
    return None


def apprise_send(url: str, notice: Notice) -> str | None:
    """Send `notice` to one Apprise URL; None when it was taken, else Apprise's reason."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return "not a URL Apprise can send to"
    # its failure lines become our one warning, not a second stderr line
    with _apprise_quiet(), apprise.LogCapture(level=logging.WARNING,  # type: ignore[no-untyped-call]
                                              fmt="%(message)s") as captured:
        ok = bool(sender.notify(body=notice.body, title=notice.title,
                                notify_type=apprise.NotifyType(notice.notify_type),
                                body_format=apprise.NotifyFormat.TEXT))
        logs = captured.getvalue().strip()
    if ok:
        return None
    return " ".join(logs.split()) or "Apprise reported a failure"
