"""The store: Peewee models with the original table and column names, start-up migrations, and the writer.

Reads run on the caller's thread (each thread has its own connection; SQLite reads are sub-millisecond).
Every write goes through ``Store.write(fn, *args)``: one writer thread takes the queued functions, runs a batch of
them in one transaction (each inside its own savepoint, so one failure does not undo the others), commits once,
and only then resolves each caller's future.  Writes therefore never interleave, a read-modify-write inside ``fn``
is serialized against every other write, the IOLoop never waits on a commit, and an acknowledged write is on
disk (SQLite ``synchronous=FULL``) with one fsync shared by the whole batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import functools
import logging
import queue
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import peewee
from peewee import (
    SQL,
    AutoField,
    DatabaseProxy,
    DateTimeField,
    DoubleField,
    Field,
    IntegerField,
    Model,
    TextField,
)
from playhouse.migrate import SchemaMigrator

log = logging.getLogger("pairs.store")

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",  # an acknowledged write survives power loss, not only a crash
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -16000,
}


class StoreError(ValueError):
    """The database URL or the database itself is unusable; the message says what to do."""


def utcnow() -> dt.datetime:
    """Naive UTC, whole seconds: how every timestamp is stored."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# ---------------------------------------------------------------------------------------------------------------
# Database URLs


def open_database(url: str) -> peewee.Database:
    """``sqlite:///relative.db``, ``sqlite:////abs.db``, ``postgresql://u:p@host:port/db`` (or ``postgres://``).

    Anything else is a StoreError: never a silent in-memory database.
    """
    if not url or "://" not in url:
        raise StoreError(f"database URL {url!r} is malformed; use sqlite:///path/to/file.db or "
                         "postgresql://user:password@host:5432/dbname")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("sqlite", "sqlite3"):
        path = url.split("://", 1)[1]
        if not path.startswith("/") or path in ("/", "//") or ":memory:" in path:
            raise StoreError(f"database URL {url!r} names no file; use sqlite:///data/pairs.db (relative) or "
                             "sqlite:////absolute/path/pairs.db")
        path = path[1:]  # sqlite:///rel -> 'rel'; sqlite:////abs -> '/abs'
        path = path.split("?", 1)[0]
        parent = Path(path).expanduser().resolve().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder {str(parent)!r} for the SQLite database: {exc}") from None
        return peewee.SqliteDatabase(str(Path(path).expanduser()), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        name = parts.path.lstrip("/")
        if not name or "/" in name:
            raise StoreError(f"database URL {_redact(url)!r} names no database; "
                             "use postgresql://user:password@host:5432/dbname")
        try:
            port = parts.port
        except ValueError:
            raise StoreError(f"database URL {_redact(url)!r} has a bad port") from None
        kwargs: dict[str, Any] = {}
        if parts.hostname:
            kwargs["host"] = parts.hostname
        if port:
            kwargs["port"] = port
        if parts.username:
            kwargs["user"] = urllib.parse.unquote(parts.username)
        if parts.password:
            kwargs["password"] = urllib.parse.unquote(parts.password)
        for key, values in urllib.parse.parse_qs(parts.query).items():
            kwargs[key] = values[-1]
        return peewee.PostgresqlDatabase(urllib.parse.unquote(name), **kwargs)
    raise StoreError(f"database URL {_redact(url)!r}: unsupported scheme {scheme!r}; use sqlite:/// or postgresql://")


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


# ---------------------------------------------------------------------------------------------------------------
# Models: table and column names of the original (SPEC Part 2), then ours.


class Varchar(Field):
    """VARCHAR with an optional length, as SQLAlchemy declared it (``String`` has no length)."""

    field_type = "VARCHAR"

    def __init__(self, max_length: int | None = None, *args, **kwargs):
        self.max_length = max_length
        super().__init__(*args, **kwargs)

    def get_modifiers(self):
        return [self.max_length] if self.max_length else None

    def db_value(self, value):
        return value if value is None else str(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Signal(BaseModel):
    rowid = AutoField(column_name="rowid")
    timestamp = DateTimeField(null=True, constraints=[SQL("DEFAULT CURRENT_TIMESTAMP")])
    ticker = Varchar(null=True)
    order_action = Varchar(null=True)
    order_contracts = IntegerField(null=True)
    order_price = DoubleField(null=True)
    mar_pos = Varchar(null=True)
    mar_pos_size = IntegerField(null=True)
    pre_mar_pos = Varchar(null=True)
    pre_mar_pos_size = IntegerField(null=True)
    order_comment = Varchar(null=True)
    order_status = Varchar(null=True)
    ticker_type = Varchar(null=True)
    ticker1 = Varchar(null=True)
    ticker2 = Varchar(null=True)
    hedge_param = DoubleField(null=True)
    order_id1 = IntegerField(null=True)
    order_id2 = IntegerField(null=True)
    price1 = DoubleField(null=True)
    price2 = DoubleField(null=True)
    fill_price = DoubleField(null=True)
    slip = DoubleField(null=True)
    error_msg = Varchar(null=True)
    status_msg = Varchar(null=True)

    class Meta:
        table_name = "signals"
        # Every list is "equality on these columns, ORDER BY rowid DESC LIMIT n": with rowid last in the index
        # both SQLite and PostgreSQL walk it backwards and stop after n rows (pairs/signals.py).
        indexes = (
            (("order_status", "rowid"), False),
            (("ticker1", "ticker2", "rowid"), False),
            (("ticker1", "ticker_type", "rowid"), False),
            (("order_id1",), False),
            (("order_id2",), False),
            (("timestamp",), False),
        )


SIGNAL_KEYS = (
    "rowid", "timestamp", "ticker", "order_action", "order_contracts", "order_price", "mar_pos", "mar_pos_size",
    "pre_mar_pos", "pre_mar_pos_size", "order_comment", "order_status", "ticker_type", "ticker1", "ticker2",
    "hedge_param", "order_id1", "order_id2", "price1", "price2", "fill_price", "slip", "error_msg", "status_msg",
)


class Ticker(BaseModel):
    rowid = AutoField(column_name="rowid")
    symbol = Varchar(40, unique=True)
    sectype = Varchar(20, null=True)
    xch = Varchar(40, null=True)
    prixch = Varchar(40, null=True)
    currency = Varchar(20, null=True)
    order_type = Varchar(20, null=True)
    active = IntegerField(null=True)
    active_pos = DoubleField(null=True)
    active_pnl = DoubleField(null=True)
    active_cost = DoubleField(null=True)
    yahoo_symbol = Varchar(40, null=True)  # ours: overrides the IB -> Yahoo spelling rule of pairs.market

    class Meta:
        table_name = "tickers"


TICKER_KEYS = ("symbol", "sectype", "xch", "prixch", "currency", "order_type", "active", "active_pos", "active_pnl",
               "active_cost")


class Pair(BaseModel):
    rowid = AutoField(column_name="rowid")
    name = Varchar(81, unique=True)
    ticker1 = Varchar(51, null=True)
    ticker2 = Varchar(51, null=True)
    hedge = DoubleField(null=True)
    status = IntegerField(null=True)
    notes = Varchar(null=True)
    contracts = IntegerField(null=True)
    act_price = DoubleField(null=True)
    sma = DoubleField(null=True)
    sma_dist = DoubleField(null=True)
    std = DoubleField(null=True)
    # ours, written by the price job (pairs.jobs); NULL until a run computed them
    zscore = DoubleField(null=True)
    hedge_ols = DoubleField(null=True)
    coint_pvalue = DoubleField(null=True)
    stats_updated = DateTimeField(null=True)
    stale = IntegerField(null=True)  # 1: the last run had no prices for a leg, the values above are older

    class Meta:
        table_name = "pairs"


PAIR_KEYS = ("name", "ticker1", "ticker2", "hedge", "status", "notes", "contracts", "act_price", "sma", "sma_dist",
             "std")


class Account(BaseModel):
    rowid = AutoField(column_name="rowid")
    timestamp = DateTimeField(null=True, constraints=[SQL("DEFAULT CURRENT_TIMESTAMP")])
    AvailableFunds = DoubleField(null=True, column_name="AvailableFunds")
    BuyingPower = DoubleField(null=True, column_name="BuyingPower")
    DailyPnL = DoubleField(null=True, column_name="DailyPnL")
    GrossPositionValue = DoubleField(null=True, column_name="GrossPositionValue")
    MaintMarginReq = DoubleField(null=True, column_name="MaintMarginReq")
    NetLiquidation = DoubleField(null=True, column_name="NetLiquidation")
    RealizedPnL = DoubleField(null=True, column_name="RealizedPnL")
    UnrealizedPnL = DoubleField(null=True, column_name="UnrealizedPnL")

    class Meta:
        table_name = "account"


ACCOUNT_KEYS = ("rowid", "timestamp", "AvailableFunds", "BuyingPower", "DailyPnL", "GrossPositionValue",
                "MaintMarginReq", "NetLiquidation", "RealizedPnL", "UnrealizedPnL")


class User(BaseModel):
    rowid = AutoField(column_name="rowid")
    username = Varchar(80, unique=True)
    password = Varchar(80, null=True)  # a bcrypt hash; plain text in a database of the original until first login
    is_admin = IntegerField(null=True, default=0)  # ours

    class Meta:
        table_name = "users"


class SimpleSession(BaseModel):
    """The original's dashboard session table; ours keeps one row per dashboard login (value = session id)."""

    rowid = AutoField(column_name="rowid")
    value = Varchar(80, unique=True)
    expiry = DateTimeField(null=True)
    username = Varchar(80, null=True)  # ours

    class Meta:
        table_name = "simplesession"


class RevokedToken(BaseModel):
    jti = Varchar(64, primary_key=True)
    expires = DateTimeField(index=True)

    class Meta:
        table_name = "revoked_tokens"


class Setting(BaseModel):
    """Values the server generates once and keeps: the JWT secret, the cookie secret."""

    key = Varchar(80, primary_key=True)
    value = TextField()

    class Meta:
        table_name = "settings"


class DeliveryLog(BaseModel):
    """Every request that reached a passphrase endpoint, accepted or rejected (SPEC A.2)."""

    id = AutoField()
    received = DateTimeField(index=True)
    peer = Varchar(64, null=True)
    method = Varchar(10)
    route = Varchar(200)
    content_type = Varchar(200, null=True)
    size = IntegerField()
    status = IntegerField()
    body = TextField(null=True)

    class Meta:
        table_name = "delivery_log"


ORIGINAL_MODELS: tuple[type[BaseModel], ...] = (Signal, Ticker, Pair, Account, User, SimpleSession)
MODELS: list[type[BaseModel]] = [*ORIGINAL_MODELS, RevokedToken, Setting, DeliveryLog]


def register_model(model: type[BaseModel]) -> type[BaseModel]:
    """Class decorator for models defined in other modules of ``pairs``: they are migrated like the rest."""
    if model not in MODELS:
        MODELS.append(model)
    return model


# ---------------------------------------------------------------------------------------------------------------
# Migrations: additive only.  Missing tables are created, missing columns added (nullable), missing indexes
# created; nothing existing is dropped or rewritten.  On PostgreSQL, REAL (float4) columns of the original are
# widened to double precision, which keeps every stored value.


def migrate(db: peewee.Database, models: Iterable[type[BaseModel]] | None = None) -> list[str]:
    """Bring the schema up to date; returns what was done, one line per change."""
    done: list[str] = []
    models = list(models or MODELS)
    migrator = SchemaMigrator.from_database(db)
    with db.atomic():
        for model in models:
            table = model._meta.table_name
            if not db.table_exists(table):
                model.create_table(safe=True)
                done.append(f"created table {table}")
                continue
            existing = {c.name: c for c in db.get_columns(table)}
            for field in model._meta.sorted_fields:
                if field.column_name not in existing:
                    if not field.null and field.default is None:
                        raise StoreError(f"cannot add NOT NULL column {table}.{field.column_name} without default")
                    migrator.add_column(table, field.column_name, field).run()
                    done.append(f"added column {table}.{field.column_name}")
                elif (isinstance(db, peewee.PostgresqlDatabase) and isinstance(field, DoubleField)
                      and existing[field.column_name].data_type.lower() == "real"):
                    db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{field.column_name}" TYPE double precision')
                    done.append(f"widened {table}.{field.column_name} to double precision")
            model._schema.create_indexes(safe=True)
    for line in done:
        log.info("migration: %s", line)
    return done


# ---------------------------------------------------------------------------------------------------------------
# The writer


class _Stop:
    pass


class Writer:
    """One thread that runs every write; callers get a future resolved after the commit."""

    def __init__(self, db: peewee.Database, batch_max: int = 256):
        self.db = db
        self.batch_max = batch_max
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pairs-writer", daemon=True)
        self._started = False
        self.batches = 0
        self.writes = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        if not self._started or not self._thread.is_alive():
            raise RuntimeError("the writer is not running")
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((fn, args, future))
        return future

    def stop(self) -> None:
        """Finish every queued write, then end the thread."""
        if self._started and self._thread.is_alive():
            self._queue.put(_Stop)
            self._thread.join()

    def _run(self) -> None:
        self.db.connect(reuse_if_open=True)
        try:
            stopping = False
            while not stopping:
                item = self._queue.get()
                if item is _Stop:
                    break
                batch = [item]
                while len(batch) < self.batch_max:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _Stop:
                        stopping = True
                        break
                    batch.append(item)
                self._run_batch(batch)
        finally:
            self._fail_leftovers()
            if not self.db.is_closed():
                self.db.close()

    def _fail_leftovers(self) -> None:
        """A write queued after the stop (a job finishing during shutdown) fails instead of waiting forever."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _Stop and item[2].set_running_or_notify_cancel():
                item[2].set_exception(RuntimeError("the writer has stopped"))

    def _run_batch(self, batch: list) -> None:
        outcomes = []
        try:
            with self.db.atomic():
                for fn, args, future in batch:
                    if not future.set_running_or_notify_cancel():
                        continue
                    try:
                        with self.db.atomic():
                            outcomes.append((future, fn(*args), None))
                    except Exception as exc:  # noqa: BLE001 - handed to the caller
                        outcomes.append((future, None, exc))
        except Exception as exc:  # the commit itself failed: nothing of this batch is stored
            log.exception("write batch of %d failed to commit", len(batch))
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            self._reconnect()
            return
        self.batches += 1
        self.writes += len(outcomes)
        for future, result, exc in outcomes:
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)

    def _reconnect(self) -> None:
        try:
            if not self.db.is_closed():
                self.db.close()
            self.db.connect(reuse_if_open=True)
        except Exception:  # the next batch will report it
            log.exception("writer could not reconnect to the database")


class Store:
    """The database of one server: open, migrate, write through the writer, close."""

    def __init__(self, url: str):
        self.url = url
        self.db = open_database(url)
        self.writer = Writer(self.db)

    @property
    def is_sqlite(self) -> bool:
        return isinstance(self.db, peewee.SqliteDatabase)

    def open(self) -> list[str]:
        database.initialize(self.db)
        try:
            self.db.connect(reuse_if_open=True)
        except peewee.OperationalError as exc:
            raise StoreError(f"cannot open the database {_redact(self.url)}: {exc}".strip()) from None
        changes = migrate(self.db)
        self.writer.start()
        return changes

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the writer thread inside a transaction; returns its result after the commit."""
        return await asyncio.wrap_future(self.writer.submit(fn, *args))

    def write_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """The same from a thread that is not the IOLoop (jobs, command-line tools)."""
        return self.writer.submit(fn, *args).result()

    def read_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with a connection of this thread's own, opened and closed around it: for reads in an
        executor thread (jobs, slow page queries), which must not keep a connection per idle thread."""
        with self.db.connection_context():
            return fn(*args)

    def close(self) -> None:
        self.writer.stop()
        if not self.db.is_closed():
            self.db.close()


def open_store(database_url: str) -> Store:
    """Open and migrate the database of the server and of every sub-command, saying what the migration did."""
    store = Store(database_url)
    changes = store.open()
    log.info("database %s ready (%s)", store.db.database, "; ".join(changes) or "schema up to date")
    return store


# ---------------------------------------------------------------------------------------------------------------
# Settings kept in the database


def get_setting(key: str) -> str | None:
    row = Setting.get_or_none(Setting.key == key)
    return row.value if row else None


def set_setting_tx(key: str, value: str) -> None:
    Setting.insert(key=key, value=value).on_conflict(conflict_target=[Setting.key], preserve=[Setting.value]).execute()


def ensure_setting(key: str, make: Callable[[], str]) -> str:
    """The stored value of ``key``; created from ``make()`` the first time (call from the writer or at start)."""
    value = get_setting(key)
    if value is None:
        Setting.insert(key=key, value=make()).on_conflict_ignore().execute()
        value = get_setting(key)
    assert value is not None
    return value


# ---------------------------------------------------------------------------------------------------------------
# JSON shapes (key order of SPEC Part 2)


def format_timestamp(value: dt.datetime | None) -> str:
    """SPEC A.3: always ``YYYY-MM-DD HH:MM:SS``; a NULL left by the original reads ``"None"`` as it did there."""
    if value is None:
        return "None"
    if isinstance(value, str):  # a row written by another program in a format peewee did not parse
        return value[:19]
    return value.strftime("%Y-%m-%d %H:%M:%S")


@functools.cache
def _float_columns(model: type[Model]) -> frozenset[str]:
    return frozenset(name for name, field in model._meta.fields.items() if isinstance(field, peewee.FloatField))


def row_json(row: Model, keys: Iterable[str]) -> dict[str, Any]:
    """A row as the original shows it: a float column is a JSON float (``0.0``) even when the value in memory is
    a parser default such as the integer ``0`` (the original answered from the row reloaded after the commit)."""
    floats = _float_columns(type(row))
    out: dict[str, Any] = {}
    for key in keys:
        value = getattr(row, key)
        if key == "timestamp":
            value = format_timestamp(value)
        elif type(value) is int and key in floats:
            value = float(value)
        out[key] = value
    return out


def signal_json(row: Signal, with_timestamp: bool = True) -> dict[str, Any]:
    keys = SIGNAL_KEYS if with_timestamp else tuple(k for k in SIGNAL_KEYS if k != "timestamp")
    return row_json(row, keys)


def ticker_json(row: Ticker) -> dict[str, Any]:
    return row_json(row, TICKER_KEYS)


def pair_json(row: Pair) -> dict[str, Any]:
    """The original keys in their order, then the statistics of the price job (null until computed)."""
    out = row_json(row, PAIR_KEYS)
    out["zscore"] = row.zscore
    out["hedge_ols"] = row.hedge_ols
    out["coint_pvalue"] = row.coint_pvalue
    out["stats_updated"] = None if row.stats_updated is None else format_timestamp(row.stats_updated)
    out["stale"] = bool(row.stale)
    return out


def account_json(row: Account) -> dict[str, Any]:
    return row_json(row, ACCOUNT_KEYS)


# ---------------------------------------------------------------------------------------------------------------
# Hot paths


class PreparedQuery:
    """SQL that peewee builds once per kind of database, then runs with fresh parameters.

    For hot paths (the webhook: bench/webhooks.py): building a statement's SQL text costs more than running it.
    """

    def __init__(self, build: Callable[[], peewee.Query]):
        self.build = build
        self._sql: dict[type, str] = {}

    def execute(self, params: Iterable[Any]) -> Any:
        db = database.obj
        sql = self._sql.get(type(db))
        if sql is None:
            sql = self._sql[type(db)] = self.build().sql()[0]
        return db.execute_sql(sql, tuple(params))
