"""The writer's batch: each write in its own savepoint, so one failure does not undo the others (pairs/db/writer.py).

On PostgreSQL a failed statement without a savepoint aborts the whole transaction, so the other writes fail too; on
SQLite nothing aborts, and without the savepoint the failed write's own changes would be committed with the rest.
"""

from __future__ import annotations

import asyncio
import threading

import peewee
import pytest

from pairs import delivery, signals
from pairs.db import Signal, Ticker
from pairs.db.writer import Writer


def add_signal(ticker: str) -> int:
    return Signal.create(ticker=ticker).rowid


def add_signal_then_fail(ticker: str) -> None:
    Signal.create(ticker=ticker)
    raise ValueError("refused after its insert")


def test_one_failing_write_in_a_batch_does_not_undo_the_others(store) -> None:
    writer = store.writer
    entered, release = threading.Event(), threading.Event()
    blocker = writer.submit(lambda: (entered.set(), release.wait(10)))
    assert entered.wait(10)
    batches = writer.batches  # the blocker's batch is not counted until it commits
    # queued while the writer is busy: it takes all three as one batch
    futures = [writer.submit(add_signal, "A"), writer.submit(add_signal_then_fail, "BAD"),
               writer.submit(add_signal, "B")]
    release.set()
    assert blocker.result(10) == (None, True)
    first, last = futures[0].result(10), futures[2].result(10)
    with pytest.raises(ValueError, match="refused after its insert"):
        futures[1].result(10)
    assert writer.batches == batches + 2
    stored = store.write_sync(lambda: [(s.rowid, s.ticker) for s in Signal.select().order_by(Signal.rowid)])
    assert [ticker for _, ticker in stored] == ["A", "B"]  # BAD's insert was undone with its savepoint
    assert [rowid for rowid, _ in stored] == [first, last]


def add_ticker(symbol: str) -> int:
    """One INSERT: a second one of the same symbol fails on the unique index, having changed nothing."""
    return Ticker.insert(symbol=symbol).execute()


def held_batch(writer: Writer, *writes: tuple) -> list:
    """``writes`` queued while the writer is busy, so that it takes them as one batch -> their futures."""
    entered, release = threading.Event(), threading.Event()
    blocker = writer.submit(lambda: (entered.set(), release.wait(10)))
    assert entered.wait(10)
    futures = [writer.submit(fn, *args) for fn, *args in writes]
    release.set()
    blocker.result(10)
    return futures


@pytest.mark.parametrize("marked", [False, True], ids=["savepoint", "alone_on_sqlite"])
def test_a_write_marked_alone_on_sqlite_ends_as_one_in_its_savepoint(store, marked) -> None:
    """The mark skips the savepoint on SQLite only: a failed write's outcome, its neighbours' and the stored rows
    are the same with it as without it, on both databases."""
    write = Writer.alone_on_sqlite(lambda symbol: add_ticker(symbol)) if marked else add_ticker
    futures = held_batch(store.writer, (write, "AAA"), (write, "AAA"), (write, "BBB"))
    assert futures[0].result(10) > 0 and futures[2].result(10) > 0
    with pytest.raises(peewee.IntegrityError):
        futures[1].result(10)
    stored = store.write_sync(lambda: [t.symbol for t in Ticker.select().order_by(Ticker.rowid)])
    assert stored == ["AAA", "BBB"]


def test_a_marked_write_that_raises_after_writing_leaves_nothing_and_its_batch_lands(store) -> None:
    """The mark is only a bet that the write will not raise: when it does after an INSERT, its row is undone and the
    batch runs again with every write in its savepoint, so the neighbours land once, on both databases."""

    def add_then_fail(symbol: str) -> None:
        add_ticker(symbol)
        raise ValueError("after the insert")

    futures = held_batch(store.writer, (add_ticker, "AAA"), (Writer.alone_on_sqlite(add_then_fail), "BBB"),
                         (add_ticker, "CCC"))
    assert futures[0].result(10) > 0 and futures[2].result(10) > 0
    with pytest.raises(ValueError, match="after the insert"):
        futures[1].result(10)
    stored = store.write_sync(lambda: [t.symbol for t in Ticker.select().order_by(Ticker.rowid)])
    assert stored == ["AAA", "CCC"]


def test_the_webhook_writes_are_marked_alone_on_sqlite() -> None:
    # a failure after their first INSERT is undone by the writer: see Writer.alone_on_sqlite
    assert signals.insert_signal_tx.writer_alone_on_sqlite and delivery.record_tx.writer_alone_on_sqlite
    assert not hasattr(signals.replace_signal_tx, "writer_alone_on_sqlite")


@pytest.mark.gen_test(timeout=30)
async def test_writes_awaited_on_the_loop_get_each_their_own_outcome(store) -> None:
    """``Store.write`` (the IOLoop's way): results and errors of one batch reach each caller, and a write cancelled
    before the writer took it is not run."""
    entered, release = threading.Event(), threading.Event()
    blocker = store.writer.submit(lambda: (entered.set(), release.wait(10)))
    assert entered.wait(10)
    first = asyncio.ensure_future(store.write(add_ticker, "AAA"))
    failing = asyncio.ensure_future(store.write(add_ticker, "AAA"))
    cancelled = asyncio.ensure_future(store.write(add_ticker, "CCC"))
    last = asyncio.ensure_future(store.write(add_signal, "B"))
    await asyncio.sleep(0)  # each task has queued its write
    cancelled.cancel()
    release.set()
    assert blocker.result(10) == (None, True)
    assert await first > 0 and await last > 0
    with pytest.raises(peewee.IntegrityError):
        await failing
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    stored = store.write_sync(lambda: [t.symbol for t in Ticker.select().order_by(Ticker.rowid)])
    assert stored == ["AAA"]
    store.writer.submit_unawaited(add_ticker, "DDD")
    assert await store.write(lambda: Ticker.select().where(Ticker.symbol == "DDD").count()) == 1
