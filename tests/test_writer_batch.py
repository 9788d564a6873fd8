"""The writer's batch: each write in its own savepoint, so one failure does not undo the others (pairs/db/writer.py).

On PostgreSQL a failed statement without a savepoint aborts the whole transaction, so the other writes fail too; on
SQLite nothing aborts, and without the savepoint the failed write's own changes would be committed with the rest.
"""

from __future__ import annotations

import threading

import pytest

from pairs.db import Signal


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
