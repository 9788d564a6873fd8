"""The writer after a stop: a late write (a background job finishing during shutdown) fails, it never hangs."""

from __future__ import annotations

import threading

import pytest

from pairs.db import Store


def test_write_after_stop_is_refused(sqlite_url):
    store = Store(sqlite_url)
    store.open()
    store.close()
    with pytest.raises(RuntimeError, match="not running"):
        store.write_sync(lambda: None)


def test_write_queued_behind_the_stop_fails_instead_of_hanging(sqlite_url):
    store = Store(sqlite_url)
    store.open()
    writer = store.writer
    entered, release = threading.Event(), threading.Event()
    first = writer.submit(lambda: (entered.set(), release.wait(10)))
    assert entered.wait(10)
    stopper = threading.Thread(target=writer.stop)
    stopper.start()
    # the stop marker is queued while the first write still runs; this write lands behind it
    while writer._queue.empty():
        threading.Event().wait(0.001)  # waiting for the other thread to queue the marker, not hiding a race
    late = writer.submit(lambda: "written")
    release.set()
    stopper.join(10)
    assert first.result(10) == (None, True)
    with pytest.raises(RuntimeError, match="stopped"):
        late.result(10)
    store.db.close()
