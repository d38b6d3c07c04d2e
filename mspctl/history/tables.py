"""The tables at the head revision, as SQLAlchemy Core sees them (the migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Text, primary_key=True), sa.Column("kind", sa.Text, nullable=False),
    sa.Column("started_at", sa.Text, nullable=False), sa.Column("finished_at", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False), sa.Column("summary", sa.Text, nullable=False))
results = sa.Table(
    "results", metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("target", sa.Text, primary_key=True), sa.Column("status", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False))
run_starts = sa.Table(
    "run_starts", metadata,
    sa.Column("id", sa.Text, primary_key=True), sa.Column("kind", sa.Text, nullable=False),
    sa.Column("started_at", sa.Text, nullable=False), sa.Column("params", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False))
journal = sa.Table(
    "journal", metadata,
    sa.Column("run_id", sa.Text, primary_key=True), sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("at", sa.Text, nullable=False), sa.Column("target", sa.Text, nullable=False),
    sa.Column("event", sa.Text, nullable=False), sa.Column("data", sa.Text, nullable=False))
run_chain = sa.Table(  # revision 0002
    "run_chain", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id"), nullable=False, unique=True),
    sa.Column("content_hash", sa.Text, nullable=False), sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("chain_hash", sa.Text, nullable=False))
run_meta = sa.Table(  # revision 0003: a run's provenance, one row per run that has one
    "run_meta", metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("meta", sa.Text, nullable=False))
