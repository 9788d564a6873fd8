"""Database URLs and connections: which database a URL names, and which of its faults are answered 503.

The database may go away (a PostgreSQL restart, another process holding SQLite's write lock, a full disk): a
statement outside a transaction that failed on a dead connection runs once more on a new one (``_Reconnecting``);
the writer (pairs/db/writer.py) retries a batch that never reached its commit; what still fails is a
``DatabaseUnavailable``, which the HTTP layer answers with 503 (SPEC A.2).
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

import peewee

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


# ---------------------------------------------------------------------------------------------------------------
# Database URLs


PG_CONNECT_TIMEOUT_SEC = 5  # libpq's own default is to wait for the operating system (minutes)


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
        kwargs["connect_timeout"] = PG_CONNECT_TIMEOUT_SEC  # an unanswering host: a 503 in seconds, not minutes
        for key, values in urllib.parse.parse_qs(parts.query).items():
            kwargs[key] = values[-1]  # ?connect_timeout=N in the URL wins
        return PostgresqlDatabase(urllib.parse.unquote(name), **kwargs)
    raise StoreError(f"database URL {_redact(url)!r}: unsupported scheme {scheme!r}; use sqlite:/// or postgresql://")


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url
