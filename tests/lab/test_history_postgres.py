"""The history store's tests (tests/history_contract.py) on a real PostgreSQL: the lab's server
(started through lab.services if it is not running), a role of its own, and a fresh database for
each test, dropped after it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.history_contract import *  # noqa: F403

ROLE = "mspctl_history_test"


@dataclass
class PostgresBackend:
    dbname: str
    password: str
    name: str = "postgresql"

    @property
    def location(self) -> str:
        return f"postgresql+psycopg://{ROLE}:{self.password}@127.0.0.1:5432/{self.dbname}"

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=5432, user=ROLE, password=self.password, dbname=self.dbname,
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql, params or None)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []

    def unprotect(self, table: str) -> None:
        self.raw(f"ALTER TABLE {table} DISABLE TRIGGER USER")


@pytest.fixture(scope="session")
def pg_role() -> Iterator[str]:
    """The lab's PostgreSQL, with a login role for these tests (its password new each session)."""
    from lab import services

    services.ensure_postgres()
    password = secrets.token_hex(12)
    services.psql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='{ROLE}') THEN "
                  f"CREATE ROLE {ROLE} LOGIN; END IF; END$$;")
    services.psql(f"ALTER ROLE {ROLE} WITH LOGIN PASSWORD '{password}'")
    yield password
    for (name,) in [(n,) for n in services.psql(
            f"SELECT datname FROM pg_database WHERE datname LIKE '{ROLE}_%'").splitlines() if n]:
        services.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # left by an interrupted test


@pytest.fixture
def backend(pg_role: str) -> Iterator[PostgresBackend]:
    from lab import services

    dbname = f"{ROLE}_{secrets.token_hex(4)}"
    services.psql(f"CREATE DATABASE {dbname} OWNER {ROLE}")
    yield PostgresBackend(dbname, pg_role)
    services.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def test_the_store_is_on_postgresql(backend: PostgresBackend) -> None:
    from mspctl.history import HistoryStore

    store = HistoryStore(backend.location)
    assert not store.sqlite and store.migrated == ["0001", "0002", "0003"]
    assert backend.raw("SELECT version_num FROM alembic_version") == [("0003",)]
    assert ROLE + ":***@" in store.where  # the password is never shown
    with pytest.raises(Exception, match="immutable"):
        backend.raw("TRUNCATE journal")


def test_an_unreachable_database_is_a_coded_error(backend: PostgresBackend) -> None:
    from mspctl.errors import MspctlError
    from mspctl.history import HistoryStore

    with pytest.raises(MspctlError, match="cannot reach the run records database") as exc:
        HistoryStore(backend.location.replace(":5432/", ":1/"))
    assert (exc.value.code, exc.value.exit_code) == ("MSP-REC-503", 12)
    assert backend.password not in str(exc.value)


def test_mspctl_runs_reads_the_postgresql_history(backend: PostgresBackend, tmp_path: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from mspctl.cli import main
    from mspctl.history import HistoryStore
    from tests.history_contract import record

    HistoryStore(backend.location).save(record("drift-pg"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MSPCTL_CONFIG", raising=False)
    env = {"MSPCTL_RECORDS_URL": backend.location, "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = CliRunner().invoke(main, ["runs", "list", "-o", "json"], env=env)
    assert out.exit_code == 0, out.output
    assert [r["id"] for r in json.loads(out.output)] == ["drift-pg"]
    out = CliRunner().invoke(main, ["runs", "verify"], env=env)
    assert out.exit_code == 0 and "chain OK: 1 records" in out.output
    assert not (tmp_path / "cache" / "mspctl" / "records.sqlite").exists()  # nothing went to SQLite
