"""Start-up migrations from every schema the project has shipped (tests/fixtures/schemas), data kept.

Each snapshot is a SQL script per dialect: the schema of one released version (or of the original pairs-api) and
sample rows.  The test loads it into an empty database, opens the store on it as the server does, and compares
every row it had before with the same columns after.  ``python -m tests.fixtures.schemas.snapshot`` writes the
snapshot of the current version; commit it with each release that changes the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee
import pytest

from pairs import __version__
from pairs.db import Store, Ticker
from pairs.db.models import MODELS
from pairs.db.urls import open_database

FOLDER = Path(__file__).parent / "fixtures" / "schemas"
DIALECTS = ("sqlite", "postgresql")
VERSIONS = sorted({p.name.rsplit(".", 2)[0] for p in FOLDER.glob("*.sql")})


def statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";")]


def rows_of(db: peewee.Database, table: str) -> list[dict[str, Any]]:
    cursor = db.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1')
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def load_snapshot(db_url: str, version: str) -> str:
    """Load one shipped schema with its sample rows into the empty database; returns the dialect."""
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    db = open_database(db_url)
    db.connect()
    for statement in statements((FOLDER / f"{version}.{dialect}.sql").read_text()):
        db.execute_sql(statement)
    db.close()
    return dialect


def test_every_snapshot_exists_for_both_dialects_and_the_current_version_has_one():
    assert f"pairs-{__version__}" in VERSIONS, "run `python -m tests.fixtures.schemas.snapshot` and commit it"
    assert "pairs-api-4.1" in VERSIONS
    for version in VERSIONS:
        for dialect in DIALECTS:
            assert (FOLDER / f"{version}.{dialect}.sql").is_file(), f"{version}.{dialect}.sql is missing"


@pytest.mark.parametrize("version", VERSIONS)
def test_start_up_migration_keeps_every_row(version, db_url):
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    db = open_database(db_url)
    db.connect()
    for statement in statements((FOLDER / f"{version}.{dialect}.sql").read_text()):
        db.execute_sql(statement)
    tables = db.get_tables()
    before = {table: rows_of(db, table) for table in tables}
    assert sum(map(len, before.values())) >= 9, "the snapshot should carry sample rows"
    db.close()

    store = Store(db_url)
    store.open()  # what the server does at start-up: migrate
    try:
        for table, rows in before.items():
            after = rows_of(store.db, table)
            assert [{column: row[column] for column in old} for row, old in zip(after, rows)] == rows, table
            assert len(after) == len(rows), table
        for model in MODELS:
            present = {c.name for c in store.db.get_columns(model._meta.table_name)}
            assert {f.column_name for f in model._meta.sorted_fields} <= present, model._meta.table_name
        # the migrated database takes new rows (sequences and defaults intact)
        store.write_sync(lambda: Ticker.create(symbol="NEW-AFTER-MIGRATION", active=0))
        assert Ticker.select().count() == len(before["tickers"]) + 1
    finally:
        store.close()


def test_the_original_databases_numbers_survive_widening(db_url):
    """pairs-api on PostgreSQL stored pair statistics as REAL; after the migration they are double precision."""
    dialect = load_snapshot(db_url, "pairs-api-4.1")
    store = Store(db_url)
    store.open()
    try:
        row = store.db.execute_sql('SELECT hedge, act_price, sma, sma_dist, std FROM "pairs"').fetchone()
        assert row == (1.25, 2.5, 2.25, -0.25, 0.5)
        if dialect == "postgresql":
            kinds = {c.name: c.data_type for c in store.db.get_columns("pairs")}
            assert kinds["hedge"] == kinds["std"] == "double precision"
    finally:
        store.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_every_user_of_a_shipped_schema_gets_its_own_token_stamp_at_start(version, db_url, tmp_path):
    """Issue 9 items 4 and 5: tokens carry the account's stamp; rows from before it get one at the first start."""
    from pairs import auth, users
    from pairs.config import load_settings
    from pairs.db import User

    load_snapshot(db_url, version)
    settings = load_settings(None, environ={}, data_dir=str(tmp_path), database_url=db_url, bcrypt_rounds=4)
    store = Store(db_url)
    store.open()
    try:
        names = [u.username for u in User.select().order_by(User.rowid)]
        store.write_sync(users.ensure_defaults_tx, settings, lambda pw: auth.hash_password(pw, 4))
        stamps = {u.username: u.token_stamp for u in User.select()}
        assert sorted(stamps) == sorted(names) and len(names) >= 2
        assert all(len(stamp) == 32 for stamp in stamps.values())
        assert len(set(stamps.values())) == len(stamps)
        store.write_sync(users.ensure_defaults_tx, settings, lambda pw: auth.hash_password(pw, 4))
        assert {u.username: u.token_stamp for u in User.select()} == stamps  # kept at every later start
    finally:
        store.close()
