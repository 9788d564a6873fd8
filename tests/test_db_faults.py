"""The database goes away (issue 15): a PostgreSQL restart or stop, another process holding SQLite's write lock, a
full disk.  A write waits up to DB_WAIT_MS, then answers 503 with Retry-After and stores nothing; a dead connection
is replaced without a restart of pairs; every 2xx is stored; every 5xx logs its cause once.

PostgreSQL faults run on a cluster of this module's own (restarted and stopped here), never on the shared one.
Nothing here sleeps: a lock is held until the test releases it, and a test waits on events, not on time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import peewee
import pytest

from pairs import messages
from pairs.db import Signal, Store
from pairs.db.urls import UNREACHABLE, DatabaseUnavailable, SqliteDatabase, db_fault
from tests.conftest import ThrowawayPostgres, fresh_pg_database, make_token, unavailable
from tests.test_jobs import FIXTURES as PRICES
from tests.test_jobs import add_pairs_tx

WAITING = "/v4/signals/status/waiting/0"  # the bridge's poll


# ---------------------------------------------------------------------------------------------------------------
# Databases: every test here names the one it needs


@pytest.fixture(scope="module")
def own_postgres(request: pytest.FixtureRequest):
    """A cluster for this module alone: its tests restart and stop it."""
    try:
        server = ThrowawayPostgres()
        url = server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        unavailable(request.config, "postgres", f"no throwaway PostgreSQL cluster: {exc}")
    try:
        yield server, url
    finally:
        server.stop()


@pytest.fixture
def tiny_disk(request: pytest.FixtureRequest, tmp_path: Path):
    """A 4 MB tmpfs: a filesystem that a test can fill and free."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0:
        unavailable(request.config, "tmpfs", "mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        unavailable(request.config, "tmpfs", f"cannot mount a tmpfs: {mounted.stderr.decode(errors='replace')}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Overrides conftest's: ``sqlite``, ``sqlite-tmpfs`` (on ``tiny_disk``), ``postgresql`` (the shared server),
    ``own-postgresql`` (this module's cluster)."""
    kind = request.param
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/pairs.db"
    if kind == "sqlite-tmpfs":
        return f"sqlite:///{request.getfixturevalue('tiny_disk')}/pairs.db"
    if kind == "own-postgresql":
        return fresh_pg_database(request.getfixturevalue("own_postgres")[1])
    admin_url = request.getfixturevalue("pg_admin_url")
    if admin_url.startswith("unavailable:"):
        unavailable(request.config, "postgres", f"PostgreSQL {admin_url}")
    return fresh_pg_database(admin_url)


def database(kind: str):
    return pytest.mark.parametrize("db_url", [kind], indirect=True)


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def hook(comment: str) -> dict[str, Any]:
    return {"passphrase": "webhook", "ticker": "NYSE:LNT", "order_action": "buy", "order_contracts": 1,
            "order_comment": comment}


def stored(comment: str) -> bool:
    return Signal.select().where(Signal.order_comment == comment).exists()


def assert_unavailable(reply: Any) -> None:
    assert reply.code == 503, reply
    assert reply.headers["Retry-After"] == "1"
    assert reply.json == {"message": messages.DB_UNAVAILABLE}


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name == "pairs.http"]


class LockHolder:
    """Another process holding SQLite's write lock (``BEGIN IMMEDIATE``) until ``release()``."""

    SCRIPT = ("import sqlite3, sys\n"
              "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "c.execute('BEGIN IMMEDIATE')\n"
              "c.execute(\"INSERT INTO settings (key, value) VALUES ('lock-holder', 'x')\")\n"
              "print('locked', flush=True)\n"
              "sys.stdin.readline()\n"
              "c.execute('ROLLBACK')\n")

    def __init__(self, path: str):
        self.process = subprocess.Popen([sys.executable, "-c", self.SCRIPT, path], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.process.communicate("\n", timeout=30)


def sqlite_path(store) -> str:
    return store.db.database


async def first_of(*awaitables: Any) -> None:
    """Wait until one of them is done (an event set by another thread, or a reply)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)


def event_set(event: threading.Event) -> Any:
    return asyncio.get_running_loop().run_in_executor(None, event.wait, 60)


# ---------------------------------------------------------------------------------------------------------------
# SQLite: a lock held by another process


@database("sqlite")
@pytest.mark.gen_test(timeout=60)
async def test_a_webhook_waits_for_a_lock_held_by_another_process(api, store, monkeypatch):
    store.writer.wait_sec = 60.0  # the lock is held until the test releases it, however slow the machine
    begun = threading.Event()
    begin = store.db.begin

    def spy(*args: Any, **kwargs: Any) -> Any:
        begun.set()
        return begin(*args, **kwargs)

    holder = LockHolder(sqlite_path(store))
    try:
        monkeypatch.setattr(store.db, "begin", spy)
        reply = asyncio.ensure_future(api.post("/v4/webhook", hook("waited")))
        await first_of(event_set(begun), reply)  # the writer is at its BEGIN, behind the other process's lock
        assert not reply.done(), reply.result()  # before the fix: 500 "database is locked" at once
    finally:
        holder.release()
    assert (await reply).code in (200, 201)
    assert stored("waited")


@database("sqlite")
@pytest.mark.gen_test(timeout=60)
async def test_a_lock_held_past_db_wait_is_503_stores_nothing_and_is_logged_once(api, store, caplog):
    store.writer.wait_sec = 0.2
    caplog.set_level(logging.INFO)
    holder = LockHolder(sqlite_path(store))
    try:
        assert_unavailable(await api.post("/v4/webhook", hook("refused")))
        polled = await api.get(WAITING)  # readers are not blocked by a writer in WAL mode
        assert polled.code == 200 and polled.json["signals"] == []
    finally:
        holder.release()
    assert (await api.post("/v4/webhook", hook("accepted"))).code in (200, 201)
    assert not stored("refused") and stored("accepted")
    logged = errors(caplog)
    assert logged == ["POST /v4/webhook answered 503: database locked during write pairs.signals.insert_signal_tx: "
                      "OperationalError: database is locked"]
    assert "webhook" not in logged[0].replace("/v4/webhook", "")  # the passphrase never reaches the log


@database("sqlite")
def test_sqlite_transactions_take_the_write_lock_at_begin(store):
    """The cause of issue 15's instant 500s, pinned: a deferred transaction that reads first cannot wait for the
    lock (SQLite fails its upgrade to a writer at once in WAL mode); BEGIN IMMEDIATE waits at BEGIN."""
    assert store.db._lock_type == "IMMEDIATE"
    holder = LockHolder(sqlite_path(store))
    try:
        store.db.execute_sql("PRAGMA busy_timeout = 0")
        with pytest.raises(peewee.OperationalError, match="database is locked"), store.db.atomic():
            pass  # fails at BEGIN: nothing read or written before the lock was refused
    finally:
        holder.release()
        store.db.drop_connection()


def test_refresh_prices_beside_a_server_waits_for_the_write_lock(tmp_path, sqlite_url, monkeypatch):
    """The command-line job writes with the server's discipline (BEGIN IMMEDIATE, then wait up to DB_WAIT_MS):
    it waits for the lock another process holds instead of failing, and it holds the lock only per short write."""
    import server

    setup = Store(sqlite_url)
    setup.open()
    setup.write_sync(add_pairs_tx)
    setup.close()
    config = tmp_path / "config.ini"
    config.write_text(f"[SMA]\nPRICE_SOURCE = csv:{PRICES}\n[SERVER]\nDB_WAIT_MS = 60000\n")
    monkeypatch.setattr(server, "configure_logging", lambda level: None)
    begun = threading.Event()
    begin = SqliteDatabase.begin

    def spy(self: SqliteDatabase, *args: Any, **kwargs: Any) -> Any:
        begun.set()
        return begin(self, *args, **kwargs)

    monkeypatch.setattr(SqliteDatabase, "begin", spy)
    codes: list[int] = []
    command = threading.Thread(target=lambda: codes.append(server.main(
        ["refresh-prices", "--watchlist", "--once", "--config", str(config), "--database-url", sqlite_url])))
    holder = LockHolder(sqlite_url.removeprefix("sqlite:///"))
    try:
        command.start()
        assert begun.wait(60)  # the command's first transaction is at its BEGIN, behind the other process's lock
        assert command.is_alive()  # waiting, not failed
    finally:
        holder.release()
        command.join(120)
    assert codes == [0]


# ---------------------------------------------------------------------------------------------------------------
# SQLite: a full disk


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


@database("sqlite-tmpfs")
@pytest.mark.gen_test(timeout=60)
async def test_a_full_disk_is_503_reads_keep_working_and_writes_resume(api, store, caplog):
    store.writer.wait_sec = 0.2
    caplog.set_level(logging.INFO)
    assert (await api.post("/v4/webhook", hook("before"))).code in (200, 201)
    store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # no room left in the write-ahead log either
    filler = fill(Path(sqlite_path(store)).parent)
    assert_unavailable(await api.post("/v4/webhook", hook("refused")))
    reads = await api.get("/v4/signals/0", token=make_token())
    assert reads.code == 200 and [s["order_comment"] for s in reads.json["signals"]] == ["before"]
    filler.unlink()
    assert (await api.post("/v4/webhook", hook("after"))).code in (200, 201)
    assert not stored("refused") and stored("after")
    assert errors(caplog) == ["POST /v4/webhook answered 503: database disk full during write "
                              "pairs.signals.insert_signal_tx: OperationalError: database or disk is full"]


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL: restart, stop


@database("own-postgresql")
@pytest.mark.gen_test(timeout=120)
async def test_after_a_postgresql_restart_the_first_webhook_is_stored_and_reads_work(api, store, own_postgres):
    token = make_token()
    executor = concurrent.futures.ThreadPoolExecutor(1)  # a thread that keeps its connection, as a job's does
    in_thread = functools.partial(asyncio.get_running_loop().run_in_executor, executor)
    assert (await api.post("/v4/webhook", hook("before"))).code in (200, 201)
    assert (await api.get("/v4/signals/0", token=token)).code == 200  # the IOLoop's connection is open
    assert await in_thread(Signal.select().count) == 1
    own_postgres[0].pg_ctl("restart", "-m", "fast")  # every connection of pairs is now dead
    assert await in_thread(Signal.select().count) == 1
    assert await in_thread(store.read_in_thread, Signal.select().count) == 1
    await in_thread(store.db.close)
    executor.shutdown()
    assert (await api.post("/v4/webhook", hook("first after restart"))).code in (200, 201)
    assert stored("first after restart")
    latest = await api.get("/v4/signals/0", token=token)
    assert latest.code == 200
    assert [s["order_comment"] for s in latest.json["signals"]] == ["first after restart", "before"]
    for path in (WAITING, "/v4/tickers/0", "/v4/signal/1"):
        assert (await api.get(path, token=token)).code == 200, path
    assert (await api.get("/healthz")).code == 200


@database("own-postgresql")
@pytest.mark.gen_test(timeout=120)
async def test_while_postgresql_is_stopped_everything_is_503_and_it_recovers_without_restart(
        api, store, own_postgres, caplog):
    store.writer.wait_sec = 0.3
    caplog.set_level(logging.INFO)
    cluster = own_postgres[0]
    assert (await api.post("/v4/webhook", hook("before"))).code in (200, 201)
    cluster.pg_ctl("stop", "-m", "fast")
    try:
        assert_unavailable(await api.post("/v4/webhook", hook("refused")))
        polled = await api.get(WAITING)
        assert polled.code == 503 and polled.json == {"message": messages.DB_UNAVAILABLE, "signals": []}
        assert_unavailable(await api.get("/v4/tickers/0", token=make_token()))
        page = await api.get("/dashboard")
        assert page.code == 503 and messages.DB_UNAVAILABLE in page.text
        health = await api.get("/healthz")
        assert health.code == 503
        assert health.json["database"] == {"ok": False, "error": "OperationalError", "cause": UNREACHABLE}
    finally:
        cluster.start_server()
    assert (await api.get("/healthz")).code == 200  # the same process: no restart of pairs
    assert (await api.get("/dashboard")).code == 200
    assert (await api.post("/v4/webhook", hook("after"))).code in (200, 201)
    assert not stored("refused") and stored("before") and stored("after")
    logged = errors(caplog)
    assert len(logged) == 4, logged  # one line per 503 answered, each with its cause and operation
    assert logged[0].startswith("POST /v4/webhook answered 503: database unreachable during write "
                                "pairs.signals.insert_signal_tx: OperationalError: ")
    assert logged[1].startswith(f"GET {WAITING} answered 503: database unreachable during SELECT signals: ")
    assert logged[2].startswith("GET /v4/tickers/0 answered 503: database unreachable during SELECT tickers: ")
    assert logged[3].startswith("GET /dashboard answered 503: database unreachable during SELECT signals: ")


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL: which writes are retried


def terminate_other_backends(store) -> None:
    store.db.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@database("postgresql")
def test_outside_a_transaction_a_read_is_run_again_on_a_new_connection_a_write_is_not(store):
    def kill_this_threads_connection() -> None:
        store.write_sync(terminate_other_backends, store)  # from the writer's connection

    assert store.db.execute_sql("SELECT count(*) FROM signals").fetchone() == (0,)  # opens this thread's
    kill_this_threads_connection()
    assert store.db.execute_sql("SELECT count(*) FROM signals").fetchone() == (0,)
    kill_this_threads_connection()
    with pytest.raises(DatabaseUnavailable, match="^database unreachable during INSERT signals: "):
        Signal.insert(order_comment="once at most").execute()  # it may have committed: not run again
    assert not stored("once at most")  # this one had not: the connection was dead when it was sent


@database("postgresql")
@pytest.mark.gen_test(timeout=60)
async def test_a_write_that_failed_before_its_commit_is_run_again_on_a_new_connection(store):
    calls = []

    def insert_and_lose_the_connection_once(comment: str) -> None:
        calls.append(comment)
        Signal.insert(order_comment=comment).execute()
        if len(calls) == 1:
            store.db.execute_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    await store.write(lambda: None)  # the writer's connection is open ...
    terminate_other_backends(store)  # ... and now dead, as after a restart
    await store.write(insert_and_lose_the_connection_once, "retried")
    assert calls == ["retried", "retried"]
    assert Signal.select().where(Signal.order_comment == "retried").count() == 1


@database("postgresql")
@pytest.mark.gen_test(timeout=60)
async def test_a_commit_whose_outcome_is_unknown_is_not_run_again(store):
    """The connection dies during COMMIT (a deferred trigger ends its own backend): the write may have
    committed, so it fails with DatabaseUnavailable instead of running twice."""
    store.db.execute_sql("""
        CREATE FUNCTION die_at_commit() RETURNS trigger AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$ LANGUAGE plpgsql""")
    store.db.execute_sql("""
        CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON signals DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.order_comment = 'doomed') EXECUTE FUNCTION die_at_commit()""")
    calls = []

    def insert(comment: str) -> None:
        calls.append(comment)
        Signal.insert(order_comment=comment).execute()

    with pytest.raises(DatabaseUnavailable) as raised:
        await store.write(insert, "doomed")
    assert calls == ["doomed"]
    assert raised.value.cause == UNREACHABLE
    assert str(raised.value).startswith("database unreachable during commit (outcome unknown) of write ")
    await store.write(insert, "next")  # the writer has a new connection
    assert stored("next")


# ---------------------------------------------------------------------------------------------------------------
# Both databases


@database("sqlite")
def test_db_fault_tells_a_query_error_from_a_fault_of_the_database(store):
    with pytest.raises(peewee.PeeweeException) as raised:
        store.db.execute_sql("SELECT no_such_column FROM signals")
    assert db_fault(raised.value) is None  # a bug: 500, not 503
    assert db_fault(ValueError("x")) is None
    assert db_fault(DatabaseUnavailable("locked", "write x", ValueError("y"))) == "locked"

