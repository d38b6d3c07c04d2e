"""For the `alembic` command line only (new revisions, `alembic history`); mspctl itself migrates
through `mspctl.history.migrate.upgrade`, without an alembic.ini. Give the database with
``alembic -x url=sqlite:///records.sqlite ...``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def _run() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the records database: alembic -x url=sqlite:///path/records.sqlite ...")
    with sa.create_engine(url).connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


try:
    _running = context.config is not None
except (NameError, AttributeError):  # imported as a module (e.g. by a test), not run by alembic
    _running = False
if _running:
    _run()
