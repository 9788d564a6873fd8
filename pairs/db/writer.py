"""The writer: every write of the server goes through ``Store.write(fn, *args)``.

Reads run on the caller's thread (each thread has its own connection; SQLite reads are sub-millisecond).  One
writer thread takes the queued functions, runs a batch of them in one transaction (each inside its own savepoint,
so one failure does not undo the others), commits once, and only then resolves each caller's future.  Writes
therefore never interleave, a read-modify-write inside ``fn`` is serialized against every other write, the IOLoop
never waits on a commit, and an acknowledged write is on disk (SQLite ``synchronous=FULL``) with one fsync shared
by the whole batch.

The writer retries a batch that never reached its commit until the database is back or the write has waited
``wait_ms``; what still fails is a ``DatabaseUnavailable`` (pairs/db/urls.py), answered with 503 (SPEC A.2).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import peewee

from pairs.db.migrate import migrate
from pairs.db.models import database
from pairs.db.urls import UNREACHABLE, DatabaseUnavailable, StoreError, _redact, db_fault, open_database

if TYPE_CHECKING:
    from pairs.config import Settings

log = logging.getLogger("pairs.store")


class _Stop:
    pass


RETRY_PAUSE_SEC = 0.05  # between two tries of a batch while the database is down: recovery within this of its return


class _Unguarded(Exception):
    """A write the writer ran without its savepoint (``Writer.alone_on_sqlite``) raised: whatever it changed before
    is undone with its whole batch, which runs again with every write in its savepoint."""


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
        """Marks a write that almost never raises, on SQLite: the writer runs it there without the savepoint every
        other write gets, which cost as much as the write (a statement journal of every page touched, and peewee's
        three statements).  Should it raise after all, what it wrote is undone with its batch, and the batch runs
        again with every write in its savepoint (``_Unguarded``): the outcome is the same as with the savepoint.
        PostgreSQL always takes it: a failed statement ends the whole transaction there."""
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
        guarded = False  # every write in its savepoint, also those marked alone_on_sqlite
        while pending:
            try:
                outcomes = self._attempt(pending, guarded)
            except _Unguarded:
                guarded = True
                continue
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

    def _attempt(self, items: list, guarded: bool = False) -> list:
        """One transaction for ``items``: BEGIN (IMMEDIATE on SQLite), each write in its savepoint (on SQLite, not
        those marked ``alone_on_sqlite`` unless ``guarded``), COMMIT."""
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
                    alone = sqlite and not guarded and getattr(fn, "writer_alone_on_sqlite", False)
                    try:
                        if alone:
                            outcomes.append((future, fn(*args), None))
                            continue
                        with self.db.atomic():
                            outcomes.append((future, fn(*args), None))
                    except Exception as exc:  # handed to the caller, unless the whole transaction is lost
                        if db_fault(exc) is not None:  # the transaction itself is lost: retry the batch whole
                            raise
                        if alone:  # it may have written before it raised: undo the batch, run it again guarded
                            raise _Unguarded from exc
                        outcomes.append((future, None, exc))
                committing = True
        except _Unguarded:
            raise
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
