"""A.1.4: the server runs on a database the original pairs-api created, keeps every row, and re-hashes the
plain-text passwords it finds there at each user's first login.

The schema below is what SQLAlchemy's ``create_all`` emitted for the original's models (SPEC Part 2), written out
by hand: ``rowid`` primary keys, length-less VARCHARs, FLOAT, server-default timestamps, the quoted mixed-case
account columns, and on PostgreSQL the REAL (``FLOAT(8)``/``FLOAT(4)``) pair columns that migrate widens.
"""

from __future__ import annotations

import sqlite3
import urllib.parse

import jwt
import peewee
import pytest
from conftest import JWT_SECRET, fresh_pg_database, unavailable

from pairs import auth, users
from pairs.config import load_settings
from pairs.db import Store

SQLITE_SCHEMA = """
CREATE TABLE signals (
    rowid INTEGER NOT NULL, timestamp DATETIME DEFAULT (CURRENT_TIMESTAMP), ticker VARCHAR, order_action VARCHAR,
    order_contracts INTEGER, order_price FLOAT, mar_pos VARCHAR, mar_pos_size INTEGER, pre_mar_pos VARCHAR,
    pre_mar_pos_size INTEGER, order_comment VARCHAR, order_status VARCHAR, ticker_type VARCHAR, ticker1 VARCHAR,
    ticker2 VARCHAR, hedge_param FLOAT, order_id1 INTEGER, order_id2 INTEGER, price1 FLOAT, price2 FLOAT,
    fill_price FLOAT, slip FLOAT, error_msg VARCHAR, status_msg VARCHAR,
    PRIMARY KEY (rowid)
);
CREATE TABLE tickers (
    rowid INTEGER NOT NULL, symbol VARCHAR(40), sectype VARCHAR(20), xch VARCHAR(40), prixch VARCHAR(40),
    currency VARCHAR(20), order_type VARCHAR(20), active INTEGER, active_pos FLOAT, active_pnl FLOAT,
    active_cost FLOAT,
    PRIMARY KEY (rowid), UNIQUE (symbol)
);
CREATE TABLE pairs (
    rowid INTEGER NOT NULL, name VARCHAR(81), ticker1 VARCHAR(51), ticker2 VARCHAR(51), hedge FLOAT,
    status INTEGER, notes VARCHAR, contracts INTEGER, act_price FLOAT, sma FLOAT, sma_dist FLOAT, std FLOAT,
    PRIMARY KEY (rowid), UNIQUE (name)
);
CREATE TABLE account (
    rowid INTEGER NOT NULL, timestamp DATETIME DEFAULT (CURRENT_TIMESTAMP), "AvailableFunds" FLOAT,
    "BuyingPower" FLOAT, "DailyPnL" FLOAT, "GrossPositionValue" FLOAT, "MaintMarginReq" FLOAT,
    "NetLiquidation" FLOAT, "RealizedPnL" FLOAT, "UnrealizedPnL" FLOAT,
    PRIMARY KEY (rowid)
);
CREATE TABLE users (
    rowid INTEGER NOT NULL, username VARCHAR(80), password VARCHAR(80),
    PRIMARY KEY (rowid), UNIQUE (username)
);
CREATE TABLE simplesession (
    rowid INTEGER NOT NULL, value VARCHAR(80), expiry DATETIME,
    PRIMARY KEY (rowid), UNIQUE (value)
);
"""

POSTGRES_SCHEMA = """
CREATE TABLE signals (
    rowid SERIAL NOT NULL, timestamp TIMESTAMP WITHOUT TIME ZONE DEFAULT now(), ticker VARCHAR,
    order_action VARCHAR, order_contracts INTEGER, order_price FLOAT, mar_pos VARCHAR, mar_pos_size INTEGER,
    pre_mar_pos VARCHAR, pre_mar_pos_size INTEGER, order_comment VARCHAR, order_status VARCHAR,
    ticker_type VARCHAR, ticker1 VARCHAR, ticker2 VARCHAR, hedge_param FLOAT, order_id1 INTEGER,
    order_id2 INTEGER, price1 FLOAT, price2 FLOAT, fill_price FLOAT, slip FLOAT, error_msg VARCHAR,
    status_msg VARCHAR,
    PRIMARY KEY (rowid)
);
CREATE TABLE tickers (
    rowid SERIAL NOT NULL, symbol VARCHAR(40), sectype VARCHAR(20), xch VARCHAR(40), prixch VARCHAR(40),
    currency VARCHAR(20), order_type VARCHAR(20), active INTEGER, active_pos FLOAT, active_pnl FLOAT,
    active_cost FLOAT,
    PRIMARY KEY (rowid), UNIQUE (symbol)
);
CREATE TABLE pairs (
    rowid SERIAL NOT NULL, name VARCHAR(81), ticker1 VARCHAR(51), ticker2 VARCHAR(51), hedge FLOAT(8),
    status INTEGER, notes VARCHAR, contracts INTEGER, act_price FLOAT(4), sma FLOAT(4), sma_dist FLOAT(4),
    std FLOAT(4),
    PRIMARY KEY (rowid), UNIQUE (name)
);
CREATE TABLE account (
    rowid SERIAL NOT NULL, timestamp TIMESTAMP WITHOUT TIME ZONE DEFAULT now(), "AvailableFunds" FLOAT,
    "BuyingPower" FLOAT, "DailyPnL" FLOAT, "GrossPositionValue" FLOAT, "MaintMarginReq" FLOAT,
    "NetLiquidation" FLOAT, "RealizedPnL" FLOAT, "UnrealizedPnL" FLOAT,
    PRIMARY KEY (rowid)
);
CREATE TABLE users (
    rowid SERIAL NOT NULL, username VARCHAR(80), password VARCHAR(80),
    PRIMARY KEY (rowid), UNIQUE (username)
);
CREATE TABLE simplesession (
    rowid SERIAL NOT NULL, value VARCHAR(80), expiry TIMESTAMP WITHOUT TIME ZONE
        DEFAULT timezone('UTC', CURRENT_TIMESTAMP),
    PRIMARY KEY (rowid), UNIQUE (value)
);
"""

# rows as the original wrote them (SQLAlchemy stores DateTime with microseconds on SQLite)
ROWS = """
INSERT INTO signals (rowid, timestamp, ticker, order_action, order_contracts, order_price, mar_pos, mar_pos_size,
    pre_mar_pos, pre_mar_pos_size, order_comment, order_status, ticker_type, ticker1, ticker2, hedge_param,
    order_id1, order_id2, price1, price2, fill_price, slip, error_msg, status_msg)
    VALUES (1, '2022-05-27 00:24:17.000000', 'NYSE:LNT-1.25*NYSE:FTS', 'buy', 10, 1.5, 'long', 10, 'flat', 0, '',
            'filled', 'pair', 'LNT', 'FTS', 1.25, 11, 12, 60.5, 47.5, 1.125, -0.375, NULL, NULL);
INSERT INTO signals (rowid, timestamp, ticker, order_action, order_contracts, order_status)
    VALUES (2, NULL, 'AAA', 'sell', 1, 'error');
INSERT INTO tickers (rowid, symbol, sectype, xch, prixch, currency, order_type, active, active_pos, active_pnl,
    active_cost) VALUES (1, 'LNT', 'STK', 'SMART', 'NYSE', 'USD', 'RELATIVE', 0, 0, 0, 0);
INSERT INTO tickers (rowid, symbol, sectype, xch, prixch, currency, order_type, active, active_pos, active_pnl,
    active_cost) VALUES (2, 'BTCUSD', 'CRYPTO', 'PAXOS', 'PAXOS', 'USD', 'MARKET', 1, -0.5, 12.25, NULL);
INSERT INTO pairs (rowid, name, ticker1, ticker2, hedge, status, notes, contracts, act_price, sma, sma_dist, std)
    VALUES (1, 'LNT-FTS', 'LNT', 'FTS', 1.25, 1, 'utility pair', 10, 1.5, 2.25, 0.75, 0.5);
INSERT INTO account (rowid, timestamp, "AvailableFunds", "BuyingPower", "DailyPnL", "GrossPositionValue",
    "MaintMarginReq", "NetLiquidation", "RealizedPnL", "UnrealizedPnL")
    VALUES (1, '2022-05-27 00:24:17.000000', 1000.5, 4000, -1, 250, 100, 2000.25, -1, -1);
INSERT INTO account (rowid, timestamp, "NetLiquidation") VALUES (2, NULL, 3);
INSERT INTO users (rowid, username, password) VALUES (1, 'admin', 'adminpw');
INSERT INTO users (rowid, username, password) VALUES (2, 'user1', 'password');
INSERT INTO simplesession (rowid, value, expiry) VALUES (1, 'abcdefghij', '2022-05-27 00:34:17.000000');
"""
PG_SEQUENCES = [f"SELECT setval('{table}_rowid_seq', 10)" for table in
                ("signals", "tickers", "pairs", "account", "users", "simplesession")]
ORIGINAL_TABLES = ("signals", "tickers", "pairs", "account", "users", "simplesession")


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class Original:
    """A database of the original, reachable with plain SQL (no peewee models) to look at it from outside."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.db = peewee.SqliteDatabase(url[len("sqlite:///"):])
        else:
            parts = urllib.parse.urlsplit(url)
            self.db = peewee.PostgresqlDatabase(parts.path.lstrip("/"), host=parts.hostname, port=parts.port,
                                                user=parts.username)

    def execute(self, *sql: str) -> None:
        with self.db.connection_context():
            for statement in sql:
                self.db.execute_sql(statement)

    def rows(self, table: str) -> list[tuple]:
        with self.db.connection_context():
            return [tuple(r) for r in self.db.execute_sql(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()]

    def columns(self, table: str) -> dict[str, str]:
        with self.db.connection_context():
            if self.is_sqlite:
                return {r[1]: r[2] for r in self.db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()}
            return dict(self.db.execute_sql(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
                (table,)).fetchall())


@pytest.fixture(params=["sqlite", "postgresql"])
def original(request, tmp_path) -> Original:
    if request.param == "sqlite":
        path = tmp_path / "data.db"
        with sqlite3.connect(path) as conn:
            conn.executescript(SQLITE_SCHEMA + ROWS)
        conn.close()
        return Original(f"sqlite:///{path}")
    admin_url = request.getfixturevalue("pg_admin_url")
    if admin_url.startswith("unavailable:"):
        unavailable(request.config, "postgres", f"PostgreSQL {admin_url}")
    db = Original(fresh_pg_database(admin_url))
    db.execute(*statements(POSTGRES_SCHEMA), *statements(ROWS), *PG_SEQUENCES)
    return db


@pytest.fixture
def before(original) -> dict[str, list[tuple]]:
    return {table: original.rows(table) for table in ORIGINAL_TABLES}


@pytest.fixture
def columns_before(original) -> dict[str, dict[str, str]]:
    return {table: original.columns(table) for table in ORIGINAL_TABLES}


@pytest.fixture
def app(original, before, columns_before, tmp_path):
    """The server started on the original's database, as `python server.py --database-url ...` does."""
    from handlers.app import make_app
    from server import prepare_users

    settings = load_settings(None, environ={}, data_dir=str(tmp_path), database_url=original.url, bcrypt_rounds=4,
                             jwt_secret_key=JWT_SECRET)
    store = Store(settings.effective_database_url)
    store.open()
    prepare_users(settings, store)
    application = make_app(settings, store)
    yield application
    application.ctx.executor.shutdown(wait=True)
    store.close()


@pytest.mark.gen_test
async def test_original_rows_read_back_through_the_api(api, original):
    reply = await api.get("/v4/tickers/0")
    assert reply.text == (
        '{"tickers": [{"symbol": "BTCUSD", "sectype": "CRYPTO", "xch": "PAXOS", "prixch": "PAXOS", "currency": "USD", '
        '"order_type": "MARKET", "active": 1, "active_pos": -0.5, "active_pnl": 12.25, "active_cost": null}, '
        '{"symbol": "LNT", "sectype": "STK", "xch": "SMART", "prixch": "NYSE", "currency": "USD", '
        '"order_type": "RELATIVE", "active": 0, "active_pos": 0.0, "active_pnl": 0.0, "active_cost": 0.0}]}\n')
    reply = await api.get("/v4/pair/LNT-FTS")
    assert reply.text.startswith('{"name": "LNT-FTS", "ticker1": "LNT", "ticker2": "FTS", "hedge": 1.25, '
                                 '"status": 1, "notes": "utility pair", "contracts": 10, "act_price": 1.5, '
                                 '"sma": 2.25, "sma_dist": 0.75, "std": 0.5')  # the job's statistics may follow
    reply = await api.get("/v4/pnls/0")
    assert reply.text == (
        '{"pnls": [{"rowid": 2, "timestamp": "None", "AvailableFunds": null, "BuyingPower": null, "DailyPnL": null, '
        '"GrossPositionValue": null, "MaintMarginReq": null, "NetLiquidation": 3.0, "RealizedPnL": null, '
        '"UnrealizedPnL": null}, {"rowid": 1, "timestamp": "2022-05-27 00:24:17", "AvailableFunds": 1000.5, '
        '"BuyingPower": 4000.0, "DailyPnL": -1.0, "GrossPositionValue": 250.0, "MaintMarginReq": 100.0, '
        '"NetLiquidation": 2000.25, "RealizedPnL": -1.0, "UnrealizedPnL": -1.0}], "notoken_limit": 5}\n')
    assert (await api.get("/v4/pnl/1")).json["timestamp"] == "2022-05-27 00:24:17"
    # new rows continue the original's rowids
    assert (await api.post("/v4/pnl", {"passphrase": "webhook", "NetLiquidation": 4})).code == 201
    assert (await api.get("/v4/pnls/1")).json["pnls"][0]["rowid"] == (3 if original.is_sqlite else 11)


@pytest.mark.gen_test
async def test_plain_text_password_logs_in_once_and_is_rehashed(api, original, before):
    assert (await api.post("/v4/login", {"username": "admin", "password": "wrong"})).code == 401
    reply = await api.post("/v4/login", {"username": "admin", "password": "adminpw"})
    assert reply.code == 200
    claims = jwt.decode(reply.json["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["is_admin"]) == ("admin", True)  # the configured admin name became the admin
    stored = {row[1]: row[2] for row in original.rows("users")}
    assert auth.is_hashed(stored["admin"]) and auth.check_password(stored["admin"], "adminpw")
    assert stored["user1"] == "password"  # untouched until user1 logs in
    assert (await api.post("/v4/login", {"username": "admin", "password": "adminpw"})).code == 200
    reply = await api.get("/v4/users/0", token=reply.json["access_token"])
    assert reply.json == {"users": [{"username": "user1"}, {"username": "admin"}]}


@pytest.mark.gen_test
async def test_nothing_of_the_original_is_dropped_or_rewritten(api, original, before, columns_before):
    await api.post("/v4/login", {"username": "user1", "password": "password"})
    for table in ORIGINAL_TABLES:
        columns = original.columns(table)
        kept = {name: kind for name, kind in columns.items() if name in columns_before[table]}
        expected = dict(columns_before[table])
        if not original.is_sqlite and table == "pairs":  # REAL widened to double precision (SPEC 10.3.22)
            expected.update({c: "double precision" for c in ("hedge", "act_price", "sma", "sma_dist", "std")})
            assert columns_before[table]["hedge"] == "real"
        assert kept == expected, table
        rows = original.rows(table)
        width = len(columns_before[table])
        old = [row[:width] for row in rows]  # our added columns come after the original's
        if table == "users":
            assert [r[:2] for r in old] == [r[:2] for r in before[table]]
            assert [auth.is_hashed(r[2]) for r in old] == [False, True]  # only user1 logged in
        else:
            assert old == before[table], table
    assert set(original.columns("users")) - set(columns_before["users"]) == {"is_admin", "token_stamp"}
    assert users.find("admin").is_admin == 1 and users.find("user1").is_admin == 0


@pytest.mark.gen_test
async def test_no_default_users_are_added_to_an_original_database(api, original):
    assert [row[1] for row in original.rows("users")] == ["admin", "user1"]
    assert (await api.post("/v4/login", {"username": "admin", "password": "password"})).code == 401
