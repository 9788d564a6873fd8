"""How long an online backup of a large SQLite database takes, and what it costs the writes that go on meanwhile.
Prints figures; asserts nothing.

    .venv/bin/python bench/backup.py [--signals 200000] [--folder /tmp/x]

Fills a database with signals (bulk inserts), then starts a stream of single-signal writes through the store's
writer (as webhooks make them) and takes a backup in the middle of it: the backup's duration and size, the copy's
integrity check, and the write latencies (p50/p99/max) without and during the backup.  Also times a restore check
(integrity + migration on a scratch copy) and GET /healthz's handler function.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import handlers.app  # noqa: F401 - registers every model
from handlers.ops import health_report
from pairs import backup
from pairs.db import Signal, Store

ROW = {"ticker": "NYSE:KO-0.8*NYSE:PEP", "order_action": "buy", "order_contracts": 10, "order_price": 1.25,
       "order_status": "filled", "ticker_type": "pair", "ticker1": "KO", "ticker2": "PEP", "hedge_param": 0.8,
       "order_comment": "bench", "price1": 61.2, "price2": 74.1, "fill_price": 1.92, "slip": 0.01}


def fill(store: Store, count: int) -> None:
    def insert_many(n: int) -> None:
        Signal.insert_many([ROW] * n).execute()

    for start in range(0, count, 5000):
        store.write_sync(insert_many, min(5000, count - start))


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"n={len(ordered)} p50={statistics.median(ordered) * 1000:.2f} ms p99={p99 * 1000:.2f} ms "
            f"max={ordered[-1] * 1000:.2f} ms")


def timed_writes(store: Store, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        store.write_sync(lambda: Signal.insert(ROW).execute())
        out.append(time.perf_counter() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=200_000)
    parser.add_argument("--folder", help="where to put the databases (default: a temporary folder)")
    args = parser.parse_args()
    folder = Path(args.folder or tempfile.mkdtemp(prefix="pairs-bench-backup-"))
    live = folder / "pairs.db"
    store = Store(f"sqlite:///{live}")
    store.open()
    began = time.perf_counter()
    fill(store, args.signals)
    print(f"filled {args.signals} signals in {time.perf_counter() - began:.1f} s; "
          f"database {live.stat().st_size / 1e6:.1f} MB")

    quiet: list[float] = []
    stop = threading.Event()
    writer = threading.Thread(target=timed_writes, args=(store, stop, quiet))
    writer.start()
    time.sleep(2)  # a bench script, not a test: sample two seconds of writes without a backup
    stop.set()
    writer.join()
    print(f"writes without a backup: {percentiles(quiet)}")

    during: list[float] = []
    stop.clear()
    writer = threading.Thread(target=timed_writes, args=(store, stop, during))
    writer.start()
    time.sleep(0.5)
    before = len(during)
    began = time.perf_counter()
    counts = backup.backup_sqlite(live, folder / "copy.db", overwrite=True)
    took = time.perf_counter() - began
    in_backup = during[before:len(during)]
    stop.set()
    writer.join()
    print(f"backup: {took:.2f} s for {counts['signals']} signals, copy {(folder / 'copy.db').stat().st_size / 1e6:.1f}"
          f" MB, integrity ok; {len(in_backup)} writes committed meanwhile")
    if in_backup:
        print(f"writes during the backup: {percentiles(in_backup)}")

    began = time.perf_counter()
    backup.check_restorable(folder / "copy.db", folder / "scratch.db")
    print(f"restore check (copy, integrity, migration, integrity): {time.perf_counter() - began:.2f} s")

    samples = []
    for _ in range(200):
        began = time.perf_counter()
        status, _ = health_report(store.db)
        samples.append(time.perf_counter() - began)
    print(f"healthz report (status {status}): {percentiles(samples)}")
    store.close()
    print(f"files in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
