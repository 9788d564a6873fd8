"""Every signal list and lookup walks an index and stops after ``limit`` rows: no sort of the matching rows,
no scan of the table, on SQLite and on PostgreSQL (bench/webhooks.py measures it at 1,000,000 rows)."""

from __future__ import annotations

import logging

import pytest

from pairs import signals
from pairs.db import Signal

QUERIES = [
    ("latest", lambda: signals.latest_signals(20)),
    ("waiting", lambda: signals.signals_with_status("waiting", 20)),
    ("filled", lambda: signals.signals_with_status("filled", 5)),
    ("pair", lambda: signals.signals_for_ticker("LNT-FTS", 5)),
    ("single", lambda: signals.signals_for_ticker("LNT", 5)),
    ("order", lambda: signals.find_order_signal(100, "LNT")),
]


def fill_table() -> None:
    rows = [{"ticker": "x", "order_status": ("waiting", "filled", "rerouted", "error")[n % 4],
             "ticker_type": ("single", "pair")[n % 2], "ticker1": ("LNT", "FTS", "BF A")[n % 3],
             "ticker2": (None, "FTS")[n % 2], "order_id1": n, "order_id2": n + 1} for n in range(3000)]
    for start in range(0, len(rows), 500):
        Signal.insert_many(rows[start:start + 500]).execute()


def captured_sql(caplog: pytest.LogCaptureFixture, run) -> list[tuple[str, tuple]]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        run()
    return [r.msg for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]


def test_list_queries_use_indexes(store, caplog) -> None:
    store.write_sync(fill_table)
    db = store.db
    if store.is_sqlite:
        db.execute_sql("ANALYZE")
    else:
        db.execute_sql("ANALYZE signals")
        # make any plan that needs a sort or a full scan look prohibitively expensive: if one is still chosen,
        # no index can serve the query
        db.execute_sql("SET enable_sort = off")
        db.execute_sql("SET enable_seqscan = off")
    for name, run in QUERIES:
        statements = captured_sql(caplog, run)
        assert statements, name
        for sql, params in statements:
            if store.is_sqlite and name == "order":
                # one order id matches a handful of rows: SQLite may sort those few, but it must search by the id
                plan = " | ".join(row[-1] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
                assert "USING INDEX signals_order_id" in plan, plan
            elif store.is_sqlite:
                plan = " | ".join(row[-1] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
                assert "TEMP B-TREE" not in plan, f"{name}: {plan}"
                assert "USING INDEX" in plan or "USING COVERING INDEX" in plan or plan == "SCAN t1", \
                    f"{name}: {plan}"  # "SCAN t1": the rowid (primary key) walked backwards
            else:
                plan = " | ".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params))
                assert "Sort" not in plan and "Seq Scan" not in plan, f"{name}: {plan}"
                assert "Index" in plan and "Limit" in plan, f"{name}: {plan}"
    if not store.is_sqlite:
        db.execute_sql("RESET enable_sort")
        db.execute_sql("RESET enable_seqscan")


def test_waiting_list_merges_both_statuses_newest_first(store) -> None:
    store.write_sync(fill_table)
    rows = signals.signals_with_status("waiting", 7)
    assert [r["rowid"] for r in rows] == [2999, 2997, 2995, 2993, 2991, 2989, 2987]
    assert {r["order_status"] for r in rows} == {"waiting", "rerouted"}
    assert len(signals.signals_with_status("waiting", 0)) == 1500
