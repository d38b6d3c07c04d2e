"""The history store: run records in SQLite (embedded, the default) or PostgreSQL (shared by a
team), through SQLAlchemy Core, with the schema migrated by Alembic as the store opens.

A run (backup, drift, push, rollback, patch) is written once, in one transaction, when it ends:
its id, kind, times, parameters, summary, one result per target, and its link in the chain
(`mspctl.history.chain`). Nothing is updated or deleted afterwards: triggers refuse UPDATE,
DELETE and (SQLite) INSERT OR REPLACE, (PostgreSQL) TRUNCATE, so the history can be trusted, and
`verify` shows whether it was changed behind mspctl's back.

A run that changes things also writes a *start* row and *journal* entries while it works
(`start`, `journal`): the intent of each change is committed before the first command reaches a
device. A start without a finished run whose process is gone (killed, crashed, power lost) is
sealed by the next mspctl process that opens the store: it becomes a run record whose targets
are `unfinished`, with what the journal says they may have had done to them.

Every string a record holds is scrubbed of secrets (`mspctl.secrets`) as it is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from mspctl import provenance
from mspctl.errors import ExitCode, MspctlError, NotFoundError, storage_error
from mspctl.files import private_dir, seal_database
from mspctl.history import chain, migrate
from mspctl.history.model import ChainLink, ChainReport, JournalEntry, RunRecord
from mspctl.history.tables import journal, results, run_chain, run_meta, run_starts, runs
from mspctl.redact import redact
from mspctl.secrets import scrub_values

log = logging.getLogger(__name__)
_TARGET_KEY = re.compile(r"^[a-z_]+:\d+$")  # a NetBox object: `device:12`, `vm:3`


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when it is gone: a pid
    and its start time name one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _owner_alive(owner: dict[str, Any]) -> bool | None:
    """True/False for a process of this host; None when it ran elsewhere (cannot tell)."""
    if owner.get("host") != socket.gethostname():
        return None
    start = _process_start(int(owner.get("pid", 0)))
    return start is not None and start == owner.get("start")


def _dump(obj: Any) -> str:
    """A record's JSON: every string scrubbed of secrets (config lines, commands, messages) on the
    way in, whoever built it."""
    return redact(json.dumps(scrub_values(obj), default=str, sort_keys=True))


def _dump_meta(meta: dict[str, Any]) -> str:
    """Provenance's JSON, scrubbed like everything else around the masks it already holds."""
    return redact(json.dumps(provenance.scrubbed(meta), default=str, sort_keys=True), provenance.MASK)


def _reason(exc: BaseException) -> BaseException:
    """The driver's own error under SQLAlchemy's wrapper (its message names the disk problem)."""
    return getattr(exc, "orig", None) or exc


@dataclass(frozen=True)
class RunQuery:
    """Which runs `find` returns: every field narrows (None: any). `target` is a NetBox key
    (`device:12`) or a name (a device's or host's); `since` inclusive, `until` exclusive."""

    kind: str | None = None
    client: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


def location_url(location: Path | str) -> str:
    """The SQLAlchemy URL of a records path (SQLite) or URL (``postgresql+psycopg://...``)."""
    text = str(location)
    return text if "://" in text else f"sqlite:///{Path(text)}"


class HistoryStore:
    """The run records in one database. Safe to share between the threads of one process; several
    processes may write the same SQLite file or PostgreSQL database at once."""

    def __init__(self, location: Path | str, recover: bool = True) -> None:
        url = sa.engine.make_url(location_url(location))
        self.sqlite = url.get_backend_name() == "sqlite"
        self.path: Path | None = Path(url.database or "") if self.sqlite else None
        self.where = str(self.path) if self.path else url.render_as_string(hide_password=True)
        self._lock = threading.RLock()
        self._immediate = False
        self._seq: dict[str, int] = {}
        self.recovered: list[RunRecord] = []  # runs found abandoned and sealed when this store opened
        self.migrated: list[str] = []  # the revisions applied as this store opened
        try:
            if self.path is not None:  # 0600 in a 0700 folder: records name devices, hosts and changes
                private_dir(self.path.parent)
            self._engine = self._make_engine(url)
            self._conn = self._engine.connect()
            if self.path is not None:
                seal_database(self.path)
            self._migrate()
        except MspctlError:
            raise
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            raise self._open_error(exc) from None
        except Exception as exc:  # Alembic: a revision this mspctl does not know
            if type(exc).__module__.startswith("alembic"):
                raise MspctlError(f"{self.where}: the run records were written by a newer mspctl: {exc}",
                                  code="MSP-REC-426", exit_code=ExitCode.CONFIG,
                                  hint="upgrade mspctl to the version that wrote them") from None
            raise
        if recover:
            self.recovered = self.recover()
            for r in self.recovered:
                touched = [t for t, (s, _) in r.results.items() if s == "unfinished"]
                log.warning("run %s (%s) did not finish: its process is gone; recorded as unfinished%s", r.id,
                            r.kind, f"; it may have changed {', '.join(touched)}: `mspctl config rollback --run "
                                    f"{r.id}` restores them" if touched and r.kind == "push" else "")

    # -- connection and transactions ------------------------------------------------------------
    def _make_engine(self, url: sa.URL) -> sa.Engine:
        if not self.sqlite:
            return sa.create_engine(url, poolclass=sa.NullPool, connect_args={"connect_timeout": 10})
        # One SQLite connection per store, as before: autocommit at the driver, and each write
        # transaction BEGIN IMMEDIATE (the write lock first, so two writers never deadlock on an
        # upgrade from a read lock), waiting up to 30 s for another process's.
        engine = sa.create_engine(url, poolclass=sa.NullPool,
                                  connect_args={"timeout": 30, "check_same_thread": False, "isolation_level": None})

        @event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if self._immediate else "BEGIN")

        return engine

    def _open_error(self, exc: BaseException) -> MspctlError:
        orig = _reason(exc)
        err = storage_error(orig, f"{self.where}: cannot open the run records", code="MSP-REC-507")
        if err is not None:
            return err
        if not self.sqlite and isinstance(exc, sa.exc.OperationalError):
            return MspctlError(f"{self.where}: cannot reach the run records database: {orig}", code="MSP-REC-503",
                               exit_code=ExitCode.UNREACHABLE,
                               hint="check the server and `[records] url` (or MSPCTL_RECORDS_URL)")
        return MspctlError(f"{self.where}: cannot open the run records: {orig}", code="MSP-REC-001")

    @contextlib.contextmanager
    def _tx(self, what: str | None = None) -> Iterator[sa.Connection]:
        """One transaction: a write (`what` says what is recorded) or a read (None).

        A full or read-only disk under the records is `StorageError` (MSP-REC-507); the database
        has then rolled the transaction back, so no record is half-written."""
        with self._lock:
            self._immediate = what is not None
            try:
                with self._conn.begin():
                    yield self._conn
            except sa.exc.DBAPIError as exc:
                if what is not None:
                    err = storage_error(_reason(exc), f"{self.where}: cannot record {what}", code="MSP-REC-507")
                    if err is not None:
                        raise err from None
                if not self.sqlite and exc.connection_invalidated:
                    raise self._open_error(exc) from None
                raise
            except OSError as exc:
                err = storage_error(exc, f"{self.where}: cannot record {what or 'a read'}", code="MSP-REC-507")
                if err is None:
                    raise
                raise err from None
            finally:
                self._immediate = False

    def _migrate(self) -> None:
        with self._tx() as c:
            if migrate.current(c) == migrate.HEAD:
                return
        with self._tx("the schema migration") as c:
            self.migrated = migrate.upgrade(c)
        if self.migrated:
            log.info("%s: run records migrated to revision %s", self.where, self.migrated[-1])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._engine.dispose()

    # -- writing --------------------------------------------------------------------------------
    def save(self, record: RunRecord) -> None:
        """Write a finished run and its results, with its provenance and chain link, in one
        transaction. A record without `meta` gets this process's (`mspctl.provenance.meta`:
        who, the command line, the versions) when the CLI opened a run context."""
        run_row = {"id": record.id, "kind": record.kind, "started_at": record.started_at.isoformat(),
                   "finished_at": record.finished_at.isoformat(), "params": _dump(record.params),
                   "summary": _dump(record.summary)}
        result_rows = [{"run_id": record.id, "target": t, "status": s, "data": _dump(d)}
                       for t, (s, d) in record.results.items()]
        meta = record.meta or provenance.meta()
        meta_text = _dump_meta(meta) if meta else None
        with self._tx(f"run {record.id}") as c:
            if not self.sqlite:  # the chain grows one link at a time (SQLite: BEGIN IMMEDIATE)
                c.execute(sa.text("LOCK TABLE run_chain IN EXCLUSIVE MODE"))
            c.execute(runs.insert(), run_row)
            if result_rows:
                c.execute(results.insert(), result_rows)
            if meta_text is not None:
                c.execute(run_meta.insert(), {"run_id": record.id, "meta": meta_text})
            last = c.execute(sa.select(run_chain.c.seq, run_chain.c.chain_hash)
                             .order_by(run_chain.c.seq.desc()).limit(1)).first()
            prev = last.chain_hash if last else chain.GENESIS
            content = chain.content_hash(run_row, [(r["target"], r["status"], r["data"]) for r in result_rows],
                                         meta_text)
            c.execute(run_chain.insert(), {"seq": (last.seq if last else 0) + 1, "run_id": record.id,
                                           "content_hash": content, "prev_hash": prev,
                                           "chain_hash": chain.link_hash(prev, content)})

    # -- the journal of a run in progress -------------------------------------------------------
    def start(self, run_id: str, kind: str, started_at: datetime, params: dict[str, Any] | None = None) -> None:
        """Mark a run as begun, before it touches anything; `save` of the same id finishes it. The
        start keeps the run's provenance, for the record `recover` seals if its process dies."""
        meta = provenance.meta()
        owner = {**_owner(), **({"meta": json.loads(_dump_meta(meta))} if meta else {})}
        with self._tx(f"the start of run {run_id}") as c:
            c.execute(run_starts.insert(), {"id": run_id, "kind": kind, "started_at": started_at.isoformat(),
                                            "params": _dump(params or {}), "owner": json.dumps(owner)})
        self._seq[run_id] = 0

    def journal(self, run_id: str, target: str, event: str, data: dict[str, Any] | None = None) -> None:
        """Append one entry to a started run's journal: committed (durable) when this returns."""
        with self._lock, self._tx(f"{event} of {target} in run {run_id}") as c:
            seq = self._seq.get(run_id, 0) + 1
            c.execute(journal.insert(), {"run_id": run_id, "seq": seq, "at": datetime.now(UTC).isoformat(),
                                         "target": target, "event": event, "data": _dump(data or {})})
            self._seq[run_id] = seq

    def entries(self, run_id: str) -> list[JournalEntry]:
        with self._tx() as c:
            rows = c.execute(sa.select(journal.c.seq, journal.c.at, journal.c.target, journal.c.event,
                                       journal.c.data).where(journal.c.run_id == run_id)
                             .order_by(journal.c.seq)).all()
        return [JournalEntry(q, datetime.fromisoformat(a), t, e, json.loads(d)) for q, a, t, e, d in rows]

    def recover(self) -> list[RunRecord]:
        """Seal every started run whose process is gone without finishing it: a record whose targets
        are `unfinished` (each with its journal's facts merged, newest last) and params
        ``unfinished: true``, with the provenance its start kept and who sealed it (`sealed_by`).
        Runs of live processes, or of other hosts, are left alone."""
        finished = sa.select(runs.c.id).where(runs.c.id == run_starts.c.id).exists()
        with self._tx() as c:
            rows = c.execute(sa.select(run_starts).where(~finished)).all()
        sealed: list[RunRecord] = []
        for run_id, kind, started, params, owner_text in rows:
            owner = json.loads(owner_text)
            if _owner_alive(owner) is not False:
                continue
            entries = self.entries(run_id)
            found: dict[str, tuple[str, dict[str, Any]]] = {}
            for e in entries:
                if e.target == "":
                    continue
                _, data = found.get(e.target, ("", {}))
                found[e.target] = ("unfinished", {**data, **e.data, "last_event": e.event,
                                                  "events": [*data.get("events", []), e.event]})
            for target, (_, data) in list(found.items()):
                if data["last_event"] == "done":  # the journal says this target finished: keep its status
                    found[target] = (str(data.get("status", "unfinished")), data)
            summary: dict[str, Any] = {}
            for status, _ in found.values():
                summary[status] = summary.get(status, 0) + 1
            last = entries[-1].at if entries else datetime.fromisoformat(started)
            record = RunRecord(run_id, kind, datetime.fromisoformat(started), last,
                               {**json.loads(params), "unfinished": True}, summary, found,
                               {**(owner.get("meta") or {}), "sealed_by": provenance.who()})
            try:
                self.save(record)
            except sa.exc.IntegrityError:  # another process sealed it first
                continue
            sealed.append(record)
        return sealed

    # -- reading --------------------------------------------------------------------------------
    def _load(self, c: sa.Connection, ids: list[str]) -> dict[str, RunRecord]:
        out: dict[str, RunRecord] = {}
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            for row in c.execute(sa.select(runs).where(runs.c.id.in_(chunk))):
                out[row.id] = RunRecord(row.id, row.kind, datetime.fromisoformat(row.started_at),
                                        datetime.fromisoformat(row.finished_at), json.loads(row.params),
                                        json.loads(row.summary), {})
            for run_id, target, status, data in c.execute(sa.select(results).where(results.c.run_id.in_(chunk))):
                out[run_id].results[target] = (status, json.loads(data))
            for run_id, meta in c.execute(sa.select(run_meta).where(run_meta.c.run_id.in_(chunk))):
                if run_id in out:
                    out[run_id].meta = json.loads(meta)
        return out

    def get(self, run_id: str) -> RunRecord:
        with self._tx() as c:
            found = self._load(c, [run_id])
            if run_id not in found:
                running = c.execute(sa.select(run_starts.c.id).where(run_starts.c.id == run_id)).first()
                raise NotFoundError(f"run {run_id!r} has not finished yet" if running else
                                    f"no run {run_id!r} in {self.where}", code="MSP-REC-404",
                                    hint="`mspctl runs list` shows the recorded runs")
        return found[run_id]

    def recent(self, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
        return self.find(RunQuery(kind=kind, limit=limit))

    def find(self, query: RunQuery) -> list[RunRecord]:
        """The runs `query` selects, newest first."""
        q = sa.select(runs.c.id).order_by(runs.c.started_at.desc(), runs.c.id.desc())
        if query.kind:
            q = q.where(runs.c.kind == query.kind)
        if query.target and _TARGET_KEY.match(query.target):
            q = q.where(sa.select(results.c.run_id).where(results.c.run_id == runs.c.id,
                                                          results.c.target == query.target).exists())
        python_side = bool(query.client or query.since or query.until or
                           (query.target and not _TARGET_KEY.match(query.target)))
        if query.limit is not None and not python_side:
            q = q.limit(query.limit)
        with self._tx() as c:
            ids = list(c.execute(q).scalars())
            loaded = self._load(c, ids)
        out: list[RunRecord] = []
        for rid in ids:
            r = loaded[rid]
            if query.client and query.client not in r.clients():
                continue
            if query.since and r.started_at < query.since:
                continue
            if query.until and r.started_at >= query.until:
                continue
            if query.target and not _TARGET_KEY.match(query.target) and \
                    query.target not in r.results and query.target not in r.names().values():
                continue
            out.append(r)
            if query.limit is not None and len(out) >= query.limit:
                break
        return out

    def history(self, target: str, kind: str, limit: int = 20) -> list[tuple[str, str, str]]:
        """(run id, started_at, status) of a target's last runs of `kind`, newest first."""
        q = (sa.select(runs.c.id, runs.c.started_at, results.c.status).join(results, results.c.run_id == runs.c.id)
             .where(results.c.target == target, runs.c.kind == kind)
             .order_by(runs.c.started_at.desc()).limit(limit))
        with self._tx() as c:
            return [(a, b, s) for a, b, s in c.execute(q)]

    def latest(self, kind: str, targets: list[str]) -> dict[str, tuple[str, datetime, dict[str, Any]]]:
        """Per target: (run id, started_at, data) of its newest result among runs of `kind`."""
        out: dict[str, tuple[str, datetime, dict[str, Any]]] = {}
        with self._tx() as c:
            for target in targets:
                row = c.execute(sa.select(runs.c.id, runs.c.started_at, results.c.data)
                                .join(results, results.c.run_id == runs.c.id)
                                .where(results.c.target == target, runs.c.kind == kind)
                                .order_by(runs.c.started_at.desc()).limit(1)).first()
                if row is not None:
                    out[target] = (row[0], datetime.fromisoformat(row[1]), json.loads(row[2]))
        return out

    # -- the chain ------------------------------------------------------------------------------
    def link(self, run_id: str) -> ChainLink | None:
        """The chain link of a run, or None (a run written behind mspctl's back)."""
        with self._tx() as c:
            row = c.execute(sa.select(run_chain).where(run_chain.c.run_id == run_id)).first()
        return ChainLink(row.seq, row.run_id, row.content_hash, row.prev_hash, row.chain_hash) if row else None

    def head(self) -> ChainLink | None:
        """The newest link: its `chain_hash` stands for the whole history up to it."""
        with self._tx() as c:
            row = c.execute(sa.select(run_chain).order_by(run_chain.c.seq.desc()).limit(1)).first()
        return ChainLink(row.seq, row.run_id, row.content_hash, row.prev_hash, row.chain_hash) if row else None

    def verify(self) -> ChainReport:
        """Walk the chain from its first link, recomputing each record's content hash and each
        link; the first broken link (run id and why), or OK with the head and the count."""
        with self._tx() as c:
            links = c.execute(sa.select(run_chain).order_by(run_chain.c.seq)).all()
            stored = {r.id: r._asdict() for r in c.execute(sa.select(runs))}
            rows: dict[str, list[tuple[str, str, str]]] = {}
            for run_id, target, status, data in c.execute(sa.select(results)):
                rows.setdefault(run_id, []).append((target, status, data))
            metas = {run_id: meta for run_id, meta in c.execute(sa.select(run_meta))}

        def broken(seq: int, run_id: str, why: str) -> ChainReport:
            return ChainReport(False, len(links), None, run_id, seq, why)

        prev = chain.GENESIS
        for expected, lk in enumerate(links, 1):
            if lk.seq != expected:
                return broken(lk.seq, lk.run_id, f"the record before it (#{expected}) is missing: deleted")
            if lk.prev_hash != prev:
                return broken(lk.seq, lk.run_id, "its previous-record hash does not match the record before it: "
                                                 "a record before it was removed or rewritten")
            run = stored.get(lk.run_id)
            if run is None:
                return broken(lk.seq, lk.run_id, "its record is missing: deleted")
            if chain.content_hash(run, rows.get(lk.run_id, []), metas.get(lk.run_id)) != lk.content_hash:
                return broken(lk.seq, lk.run_id, "its content (the run or one of its results) does not match "
                                                 "its hash: changed after it was written")
            if chain.link_hash(prev, lk.content_hash) != lk.chain_hash:
                return broken(lk.seq, lk.run_id, "its link hash is wrong: the chain was rewritten")
            prev = lk.chain_hash
        chained = {lk.run_id for lk in links}
        extra = sorted((r["started_at"], rid) for rid, r in stored.items() if rid not in chained)
        if extra:
            return broken(0, extra[0][1], "it is not in the chain: written behind mspctl's back")
        orphans = sorted((set(rows) | set(metas)) - set(stored))
        if orphans:
            return broken(0, orphans[0], "results without their run: the run was deleted")
        return ChainReport(True, len(links), prev if links else None)
