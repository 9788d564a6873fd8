"""The store: Peewee models with the original table and column names, start-up migrations, and the writer.

Reads run on the caller's thread (each thread has its own connection; SQLite reads are sub-millisecond).
Every write goes through ``Store.write(fn, *args)``: one writer thread takes the queued functions, runs a batch of
them in one transaction (each inside its own savepoint, so one failure does not undo the others), commits once,
and only then resolves each caller's future.  Writes therefore never interleave, a read-modify-write inside ``fn``
is serialized against every other write, the IOLoop never waits on a commit, and an acknowledged write is on
disk (SQLite ``synchronous=FULL``) with one fsync shared by the whole batch.

The database may go away (a PostgreSQL restart, another process holding SQLite's write lock, a full disk): a
statement outside a transaction that failed on a dead connection runs once more on a new one; the writer retries
a batch that never reached its commit until the database is back or the write has waited ``wait_ms``; what still
fails is a ``DatabaseUnavailable``, which the HTTP layer answers with 503 (SPEC A.2).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import functools
import logging
import queue
import re
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from pairs.config import Settings

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


# ---------------------------------------------------------------------------------------------------------------
# Database faults: what an operator must tell apart, and what is answered 503 instead of 500

LOCKED = "locked"
UNREACHABLE = "unreachable"  # refused, closed by the server, or lost on the way
DISK_FULL = "disk full"
IO_ERROR = "I/O error"

# primary result codes (the low byte of the extended code)
_SQLITE_FAULTS = {5: LOCKED, 6: LOCKED, 10: IO_ERROR, 13: DISK_FULL, 14: IO_ERROR}
_POSTGRES_FAULTS = {"53100": DISK_FULL, "55P03": LOCKED}


def _driver_error(exc: BaseException) -> BaseException:
    """The DB-API exception peewee wrapped (``orig``), or ``exc`` itself."""
    return getattr(exc, "orig", None) or exc


def db_fault(exc: BaseException | None) -> str | None:
    """The kind of fault of the database behind ``exc``, or None for an error of the statement itself (a
    constraint, a bug)."""
    found = _find_fault(exc)
    return found[0] if found else None


def _find_fault(exc: BaseException | None) -> tuple[str, BaseException] | None:
    """(kind, the exception that shows it).  Follows the exception's context: a failed ROLLBACK masks the fault
    it was rolling back ("cannot rollback - no transaction is active" after SQLite gave up on a full disk)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DatabaseUnavailable):
            return exc.cause, exc.error
        driver = _driver_error(exc)
        if isinstance(driver, sqlite3.Error):
            code = getattr(driver, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_FAULTS:
                return _SQLITE_FAULTS[code & 0xFF], exc
        elif type(driver).__module__.split(".")[0] in ("psycopg", "psycopg2"):
            state = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
            if state in _POSTGRES_FAULTS:
                return _POSTGRES_FAULTS[state], exc
            if state and state.startswith("40"):  # serialization failure, deadlock: a transaction lost to a lock
                return LOCKED, exc
            if {"OperationalError", "InterfaceError"} & {cls.__name__ for cls in type(driver).__mro__}:
                return UNREACHABLE, exc
        exc = exc.__cause__ or exc.__context__
    return None


class DatabaseUnavailable(peewee.OperationalError):
    """The database is locked, unreachable or out of space: answered 503 (try again), not 500 (a bug).

    ``str()`` is the log line: the cause, the operation and the driver's error, never a parameter's value."""

    def __init__(self, cause: str, operation: str, error: BaseException):
        found = _find_fault(error)
        error = found[1] if found else error
        driver = _driver_error(error)
        super().__init__(f"database {cause} during {operation}: {type(driver).__name__}: "
                         f"{str(driver).strip() or type(error).__name__}")
        self.cause = cause
        self.operation = operation
        self.error = error


_STATEMENT_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE|TABLE)\s+"?(\w+)', re.IGNORECASE)


def describe_sql(sql: str) -> str:
    """``SELECT signals``: what a statement did, for the log (the SQL text, never its parameters)."""
    table = _STATEMENT_TABLE.search(sql)
    return f"{_verb(sql)} {table.group(1)}" if table else _verb(sql)


def _verb(sql: str) -> str:
    return sql.split(None, 1)[0].upper() if sql.strip() else "?"


_READS = frozenset({"SELECT", "PRAGMA", "SHOW", "EXPLAIN"})


class _Reconnecting:
    """Database mixin: a read run outside a transaction (on the IOLoop or in an executor thread) that failed
    because the connection died runs once more on a new connection; a fault that remains is raised as a
    ``DatabaseUnavailable``.  Inside a transaction the writer decides (its batch must be retried whole); a write
    outside one may have committed before its connection died, so it is not run again."""

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        try:
            return super().execute_sql(sql, params)  # type: ignore[misc]
        except peewee.PeeweeException as exc:
            if self.in_transaction():  # type: ignore[attr-defined]
                raise
            cause = db_fault(exc)
            if cause is None:
                raise
            error: BaseException = exc
        if cause == UNREACHABLE:
            self.drop_connection()
        if cause == UNREACHABLE and _verb(sql) in _READS:
            try:
                return super().execute_sql(sql, params)  # type: ignore[misc]
            except peewee.PeeweeException as again:
                cause = db_fault(again)
                if cause is None:
                    raise
                error = again
                if cause == UNREACHABLE:
                    self.drop_connection()
        raise DatabaseUnavailable(cause, describe_sql(sql), error) from error

    def drop_connection(self) -> None:
        """Forget this thread's connection (closed by the server, or broken); the next statement opens a new one."""
        try:
            self.close()  # type: ignore[attr-defined]
        except peewee.PeeweeException:
            pass  # close() forgets the connection even when closing it failed


class SqliteDatabase(_Reconnecting, peewee.SqliteDatabase):
    pass


class PostgresqlDatabase(_Reconnecting, peewee.PostgresqlDatabase):
    pass


def utcnow() -> dt.datetime:
    """Naive UTC, whole seconds: how every timestamp is stored."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# ---------------------------------------------------------------------------------------------------------------
# Database URLs


def open_database(url: str, wait_ms: int | None = None) -> peewee.Database:
    """``sqlite:///relative.db``, ``sqlite:////abs.db``, ``postgresql://u:p@host:port/db`` (or ``postgres://``).

    ``wait_ms``: how long a SQLite statement waits for another process's lock (default: SQLITE_PRAGMAS).

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
        # IMMEDIATE: a transaction takes the write lock at BEGIN, where SQLite waits for it (busy_timeout).  A
        # deferred one that reads first cannot wait: in WAL mode its upgrade to a writer fails at once with
        # "database is locked" while another process writes (issue 15; tests/test_db_faults.py).
        pragmas = SQLITE_PRAGMAS if wait_ms is None else {**SQLITE_PRAGMAS, "busy_timeout": wait_ms}
        return SqliteDatabase(str(Path(path).expanduser()), pragmas=pragmas, check_same_thread=False,
                              lock_type="IMMEDIATE")
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
        return PostgresqlDatabase(urllib.parse.unquote(name), **kwargs)
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
            # the continuity check's "previous alert of this instrument" by time (pairs/continuity.py)
            (("ticker1", "ticker_type", "timestamp", "rowid"), False),
            (("ticker1", "ticker2", "timestamp", "rowid"), False),
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
    half_life = DoubleField(null=True)  # days, at the configured hedge (pairs.stats)
    spread_adf_pvalue = DoubleField(null=True)
    corr = DoubleField(null=True)

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


def new_token_stamp() -> str:
    return secrets.token_hex(16)


class User(BaseModel):
    rowid = AutoField(column_name="rowid")
    username = Varchar(80, unique=True)
    password = Varchar(80, null=True)  # a bcrypt hash; plain text in a database of the original until first login
    is_admin = IntegerField(null=True, default=0)  # ours
    # ours: a random value that every token of this account carries; a new one on each password change, and a
    # new account of the same name has its own, so older tokens stop working (A.5).  NULL until the first start.
    token_stamp = Varchar(32, null=True, default=new_token_stamp)

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
    body = TextField(null=True)  # NULL: not read (refused for its size, or before it came)
    message = TextField(null=True)  # the answer's message (and detail): why a 400 was a 400

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


RETRY_PAUSE_SEC = 0.05  # between two tries of a batch while the database is down: recovery within this of its return


class _BatchFailed(Exception):
    """A batch was rolled back (or its commit failed): ``cause`` is the fault (None: not a database fault)."""

    def __init__(self, error: BaseException, committing: bool):
        super().__init__(str(error))
        self.error = error
        self.cause = db_fault(error)
        self.committing = committing


def _operation(fn: Callable[..., Any]) -> str:
    return f"write {getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def _claim(future: Any) -> bool:
    """Whether a queued write is still wanted (its caller may have cancelled it); None: a write nobody awaits."""
    if future is None:
        return True
    if isinstance(future, concurrent.futures.Future):
        return future.set_running_or_notify_cancel()
    return not future.cancelled()  # an asyncio future, only read here: it is settled on its loop


def _settle(outcomes: Iterable[tuple[Any, Any, BaseException | None]]) -> None:
    """Hands each (future, result, exception) over: a thread-safe future at once, asyncio futures in one callback
    per loop."""
    on_loops: dict[asyncio.AbstractEventLoop, list] = {}
    for future, result, exc in outcomes:
        if future is None:
            continue  # nobody awaits it; a database fault is logged by the writer, as for every write
        if isinstance(future, concurrent.futures.Future):
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)
        else:
            on_loops.setdefault(future.get_loop(), []).append((future, result, exc))
    for loop, settled in on_loops.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is left to answer
            loop.call_soon_threadsafe(_settle_on_loop, settled)


def _settle_on_loop(settled: list) -> None:
    for future, result, exc in settled:
        if future.done():  # cancelled while its write ran
            continue
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)


class Writer:
    """One thread that runs every write; callers get a future resolved after the commit.

    A write waits up to ``wait_sec`` for a database that is locked, unreachable or full, then fails with
    ``DatabaseUnavailable`` without having stored anything.  A batch is retried only while it cannot have
    committed: on PostgreSQL a commit whose answer was lost may have committed, so it is not run again."""

    def __init__(self, db: peewee.Database, batch_max: int = 256, wait_sec: float = 2.0):
        self.db = db
        self.batch_max = batch_max
        self.wait_sec = wait_sec
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pairs-writer", daemon=True)
        self._started = False
        self._fault_since: float | None = None
        self.batches = 0
        self.writes = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._put(fn, args, future)
        return future

    def submit_async(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        """``submit`` for the IOLoop: an asyncio future, settled on its loop with the rest of its batch in one
        callback (a thread-safe future per write, chained into the loop, cost the IOLoop more: bench/webhooks.py)."""
        future = asyncio.get_running_loop().create_future()
        self._put(fn, args, future)
        return future

    def submit_unawaited(self, fn: Callable[..., Any], *args: Any) -> None:
        """A write nobody waits for (the delivery log's row): like ``submit``, without a future."""
        self._put(fn, args, None)

    def _put(self, fn: Callable[..., Any], args: tuple, future: Any) -> None:
        if not self._started or not self._thread.is_alive():
            raise RuntimeError("the writer is not running")
        self._queue.put((fn, args, future, time.monotonic() + self.wait_sec))

    @staticmethod
    def alone_on_sqlite(fn: Callable[..., Any]) -> Callable[..., Any]:
        """Marks a write that has changed nothing when it raises, on SQLite: its statements before the failing one
        only read (SQLite undoes a failed statement by itself), or it undoes its own.  The writer runs it there
        without the savepoint every other write gets: that savepoint cost as much as the write (a statement
        journal of every page touched, and peewee's three statements).  PostgreSQL always needs it: a failed
        statement ends the whole transaction there."""
        fn.writer_alone_on_sqlite = True  # type: ignore[attr-defined]
        return fn

    def stop(self) -> None:
        """Finish every queued write, then end the thread."""
        if self._started and self._thread.is_alive():
            self._queue.put(_Stop)
            self._thread.join()

    def _run(self) -> None:
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
            if item is not _Stop and _claim(item[2]):
                _settle([(item[2], None, RuntimeError("the writer has stopped"))])

    def _run_batch(self, batch: list) -> None:
        pending = [item for item in batch if _claim(item[2])]
        reconnected = False
        while pending:
            try:
                outcomes = self._attempt(pending)
            except _BatchFailed as failed:
                if failed.cause is None or (failed.committing and not isinstance(self.db, peewee.SqliteDatabase)):
                    # Not a fault of the database, or a PostgreSQL commit that may have happened: never re-run.
                    if failed.cause is None:
                        log.error("write batch of %d failed to commit", len(pending), exc_info=failed.error)
                        error = failed.error
                    else:
                        error = DatabaseUnavailable(failed.cause, "commit (outcome unknown) of " + ", ".join(
                            dict.fromkeys(_operation(item[0]) for item in pending)), failed.error)
                        self.db.drop_connection()
                    _settle([(item[2], None, error) for item in pending])
                    return
                self._fault(failed)
                now = time.monotonic()
                _settle([(item[2], None, DatabaseUnavailable(failed.cause, _operation(item[0]), failed.error))
                         for item in pending if item[3] <= now])
                pending = [item for item in pending if item[3] > now]
                if failed.cause == UNREACHABLE:
                    self.db.drop_connection()
                    if not reconnected:  # the first try on a new connection is at once: the server may be back
                        reconnected = True
                        continue
                if pending:
                    time.sleep(min(RETRY_PAUSE_SEC, min(item[3] for item in pending) - now))
                continue
            self._recovered()
            self.batches += 1
            self.writes += len(outcomes)
            _settle(outcomes)
            return

    def _attempt(self, items: list) -> list:
        """One transaction for ``items``: BEGIN (IMMEDIATE on SQLite), each write in its savepoint, COMMIT."""
        committing = False
        if log.isEnabledFor(logging.DEBUG):
            log.debug("batch of %d: %s", len(items), ", ".join(_operation(item[0]) for item in items))
        try:
            if isinstance(self.db, peewee.SqliteDatabase):  # wait for another writer's lock, but not past a deadline
                wait_ms = max(0, int((min(item[3] for item in items) - time.monotonic()) * 1000))
                self.db.execute_sql(f"PRAGMA busy_timeout = {wait_ms}")
            outcomes = []
            sqlite = isinstance(self.db, peewee.SqliteDatabase)
            with self.db.atomic():
                for fn, args, future, _deadline in items:
                    try:
                        if sqlite and getattr(fn, "writer_alone_on_sqlite", False):
                            outcomes.append((future, fn(*args), None))
                            continue
                        with self.db.atomic():
                            outcomes.append((future, fn(*args), None))
                    except Exception as exc:  # handed to the caller, unless the whole transaction is lost
                        if db_fault(exc) is not None:  # the transaction itself is lost: retry the batch whole
                            raise
                        outcomes.append((future, None, exc))
                committing = True
        except Exception as exc:  # classified by _run_batch
            raise _BatchFailed(exc, committing) from exc
        return outcomes

    def _fault(self, failed: _BatchFailed) -> None:
        if self._fault_since is None:
            self._fault_since = time.monotonic()
            log.warning("%s; each write waits up to %.0f ms for the database, then fails with 503",
                        DatabaseUnavailable(failed.cause, "a write", failed.error), self.wait_sec * 1000)

    def _recovered(self) -> None:
        if self._fault_since is not None:
            log.warning("database writable again after %.1f s", time.monotonic() - self._fault_since)
            self._fault_since = None


class Store:
    """The database of one server: open, migrate, write through the writer, close.

    ``wait_ms`` ([SERVER] DB_WAIT_MS): how long a write waits for a locked, unreachable or full database."""

    def __init__(self, url: str, wait_ms: int = 2000):
        self.url = url
        self.db = open_database(url, wait_ms)
        self.writer = Writer(self.db, wait_sec=wait_ms / 1000.0)

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
        return await self.writer.submit_async(fn, *args)

    def write_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """The same from a thread that is not the IOLoop (jobs, command-line tools)."""
        return self.writer.submit(fn, *args).result()

    def read_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with a connection of this thread's own, opened on first use and closed after: for reads in
        an executor thread (jobs, slow page queries), which must not keep a connection per idle thread."""
        opened_here = self.db.is_closed()
        try:
            return fn(*args)
        finally:
            if opened_here and not self.db.is_closed():
                self.db.drop_connection()

    def probe(self) -> None:
        """A round trip on this thread's connection (reconnecting once if the server closed it); raises
        ``DatabaseUnavailable`` when the database does not answer."""
        self.db.execute_sql("SELECT 1").fetchone()

    def close(self) -> None:
        self.writer.stop()
        if not self.db.is_closed():
            self.db.close()


def open_store(settings: Settings) -> Store:
    """Open and migrate the database of the server and of every sub-command, saying what the migration did."""
    store = Store(settings.effective_database_url, settings.db_wait_ms)
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
    out["half_life"] = row.half_life
    out["spread_adf_pvalue"] = row.spread_adf_pvalue
    out["corr"] = row.corr
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
