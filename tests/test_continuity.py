"""The continuity rule (pairs/continuity.py): missed and duplicated strategy alerts, for a ticker and for a pair.

Each case is a sequence of alerts in the order they arrive, and the findings it must leave.  The pure rule
(``replay``, by timestamp) and the recording done with each webhook insert (``signals.insert_signal_tx`` on SQLite
and PostgreSQL, alert by alert in arrival order) must both arrive at them.
"""

from __future__ import annotations

import datetime as dt

import pytest
import test_migrations

from pairs import continuity, signals
from pairs.continuity import DUPLICATE, GAP, Alert
from pairs.db import Finding, Pair, Signal, Store, Ticker
from pairs.db.urls import LOCKED, DatabaseUnavailable, open_database

T0 = dt.datetime(2026, 11, 24, 15, 0)
WINDOW = 60

# (seconds after T0, action, contracts, (before), (after)); None: a signal without the position fields
BUY_10 = ("buy", 10, ("flat", 0), ("long", 10))
SELL_10 = ("sell", 10, ("long", 10), ("flat", 0))
SHORT_5 = ("sell", 5, ("flat", 0), ("short", 5))
COVER_5 = ("buy", 5, ("short", 5), ("flat", 0))
ADD_5 = ("buy", 5, ("long", 10), ("long", 15))
SELL_15 = ("sell", 15, ("long", 15), ("flat", 0))
BARE = ("buy", 3, None, None)
BLANK = ("buy", 3, ("", 0), (" ", 0))  # the template's position words left empty: no position either

# case -> (alerts in arrival order as (seconds, order), {index of the alert found: (kind, index checked against,
# expected, actual)})
CASES = {
    "clean": ([(0, BUY_10), (100, SELL_10), (200, SHORT_5), (300, COVER_5)], {}),
    "missing entry": ([(0, BUY_10), (100, SELL_10), (300, COVER_5)],  # SHORT_5 never came
                      {2: (GAP, 1, ("flat", 0), ("short", 5))}),
    "missing exit": ([(0, BUY_10), (200, SHORT_5)],  # SELL_10 never came
                     {1: (GAP, 0, ("long", 10), ("flat", 0))}),
    "size change without an alert": ([(0, BUY_10), (100, SELL_15)],  # ADD_5 never came
                                     {1: (GAP, 0, ("long", 10), ("long", 15))}),
    "the same alert twice": ([(0, BUY_10), (5, BUY_10), (100, SELL_10)],
                             {1: (DUPLICATE, 0, ("long", 10), ("flat", 0))}),
    "the same alert three times: each against the first": (
        [(0, BUY_10), (20, BUY_10), (50, BUY_10), (100, SELL_10)],
        {1: (DUPLICATE, 0, ("long", 10), ("flat", 0)), 2: (DUPLICATE, 0, ("long", 10), ("flat", 0))}),
    "the same order after the window is a gap": ([(0, BUY_10), (61, BUY_10)],
                                                 {1: (GAP, 0, ("long", 10), ("flat", 0))}),
    "a late alert closes the gap it left": ([(0, BUY_10), (200, SHORT_5), (100, SELL_10)], {}),
    "a late alert opens a gap after it": ([(0, BUY_10), (200, SELL_10), (100, ADD_5)],
                                         {1: (GAP, 2, ("long", 15), ("long", 10))}),
    "a late copy is a duplicate of the first": ([(0, BUY_10), (100, SELL_10), (3, BUY_10)],
                                                {2: (DUPLICATE, 0, ("long", 10), ("flat", 0))}),
    "a late alert before a duplicate pair": ([(0, SHORT_5), (200, BUY_10), (210, BUY_10), (100, COVER_5)], {
        3: None, 2: (DUPLICATE, 1, ("long", 10), ("flat", 0))}),
    "alerts without position fields are skipped": ([(0, BUY_10), (50, BARE), (60, BARE), (100, SELL_10)], {}),
    "only alerts without position fields": ([(0, BARE), (10, BARE)], {}),
    "alerts with blank position words are skipped": ([(0, BUY_10), (50, BLANK), (100, SELL_10)], {}),
}


def alert(rowid: int, seconds: int, order: tuple) -> Alert:
    action, contracts, before, after = order
    return Alert(rowid, T0 + dt.timedelta(seconds=seconds), action, contracts, after and after[0],
                 after and after[1], before and before[0], before and before[1])


def expected_findings(found: dict, rowids: list[int]) -> dict[int, tuple]:
    return {rowids[i]: (kind, rowids[prev], expected, actual)
            for i, value in found.items() if value is not None for kind, prev, expected, actual in [value]}


@pytest.mark.parametrize("case", CASES)
def test_the_rule_replays_a_history_by_time(case):
    alerts, found = CASES[case]
    history = [alert(n + 1, seconds, order) for n, (seconds, order) in enumerate(alerts)]
    verdicts = continuity.replay(history, WINDOW)
    assert {rowid: (v.kind, v.previous, v.expected, v.actual) for rowid, v in verdicts.items()} == \
        expected_findings(found, [a.rowid for a in history])


def register(store) -> None:
    def tx():
        for symbol in ("LNT", "FTS"):
            Ticker.create(symbol=symbol, sectype="STK", currency="USD", active=1)
        Pair.create(name="LNT-FTS", ticker1="LNT", ticker2="FTS", hedge=1.25, status=1)
    store.write_sync(tx)


def webhook(ticker: str, seconds: int, order: tuple) -> dict:
    action, contracts, before, after = order
    body = {"ticker": ticker, "order_action": action, "order_contracts": contracts, "order_price": 1.5,
            "timestamp": T0 + dt.timedelta(seconds=seconds)}
    if before is not None:
        body.update(pre_mar_pos=before[0], pre_mar_pos_size=before[1], mar_pos=after[0], mar_pos_size=after[1])
    return body


def stored_findings() -> dict[int, tuple]:
    return {f.signal: (f.kind, f.previous, (f.expected_pos, f.expected_size), (f.actual_pos, f.actual_size))
            for f in Finding.select()}


@pytest.mark.parametrize("ticker", ["NYSE:LNT", "NYSE:LNT-1.25*NYSE:FTS"])
@pytest.mark.parametrize("case", CASES)
def test_each_webhook_records_what_the_rule_finds_in_arrival_order(store, ticker, case):
    register(store)
    alerts, found = CASES[case]
    rowids = []
    for seconds, order in alerts:
        inserted = store.write_sync(signals.insert_signal_tx, webhook(ticker, seconds, order), WINDOW)
        assert inserted.outcome == signals.CREATED
        rowids.append(Signal.select().order_by(Signal.rowid.desc()).first().rowid)
    assert stored_findings() == expected_findings(found, rowids)
    assert {f.name for f in Finding.select()} <= {"LNT" if "FTS" not in ticker else "LNT-FTS"}


def test_a_gap_found_on_arrival_is_withdrawn_when_the_late_alert_comes(store):
    register(store)
    first = store.write_sync(signals.insert_signal_tx, webhook("LNT", 0, BUY_10), WINDOW)
    gap = store.write_sync(signals.insert_signal_tx, webhook("LNT", 200, SHORT_5), WINDOW)
    assert (first.findings, gap.findings) == (0, 1)
    assert [f.kind for f in Finding.select()] == [GAP]
    late = store.write_sync(signals.insert_signal_tx, webhook("LNT", 100, SELL_10), WINDOW)
    assert late.findings == 1  # the gap's finding, removed
    assert Finding.select().count() == 0


def test_a_ticker_and_a_pair_of_it_are_separate_sequences(store):
    register(store)
    store.write_sync(signals.insert_signal_tx, webhook("LNT", 0, BUY_10), WINDOW)
    store.write_sync(signals.insert_signal_tx, webhook("LNT-1.25*FTS", 10, SHORT_5), WINDOW)
    store.write_sync(signals.insert_signal_tx, webhook("LNT", 20, SELL_10), WINDOW)
    store.write_sync(signals.insert_signal_tx, webhook("LNT-1.25*FTS", 30, COVER_5), WINDOW)
    assert Finding.select().count() == 0


def test_the_bridges_sync_signals_are_in_no_sequence(store):
    """The bridge's leg-2 sync signal carries the broker's positions (tests/test_bridge_replay.py): it is neither
    checked nor the previous alert of the strategy's next one."""
    register(store)
    store.write_sync(signals.insert_signal_tx, webhook("LNT", 0, BUY_10), WINDOW)
    sync = {**webhook("LNT", 10, ("sell", 5, ("short", 300), ("short", 305))), "bypass_ticker_status": True,
            "order_comment": "Enter Short due to sync", "status_msg": "created due to sync"}
    assert store.write_sync(signals.insert_signal_tx, sync, WINDOW).findings == 0
    assert store.write_sync(signals.insert_signal_tx, webhook("LNT", 100, SELL_10), WINDOW).findings == 0
    assert Finding.select().count() == 0


def test_unregistered_tickers_are_in_no_sequence(store):
    store.write_sync(signals.insert_signal_tx, webhook("NOPE", 0, BUY_10), WINDOW)
    assert store.write_sync(signals.insert_signal_tx, webhook("NOPE", 200, SHORT_5), WINDOW).findings == 0
    assert store.write_sync(signals.insert_signal_tx, webhook("OTHER", 300, SHORT_5), WINDOW).findings == 0


# ---------------------------------------------------------------------------------------------------------------
# The lookup of the previous alert at 1,000,000 stored signals: an index, one row, whatever the table's size

BIG = 1_000_000


def fill(db, first: int, last: int) -> None:
    """Signals ``first``..``last``: 1,000 tickers, alternately single (T<n>) and pair (T<n>-U<n>), one a second."""
    if isinstance(db, __import__("peewee").SqliteDatabase):
        db.execute_sql(f"""
            WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last})
            INSERT INTO signals (timestamp, ticker, order_action, order_contracts, mar_pos, mar_pos_size,
                                 pre_mar_pos, pre_mar_pos_size, order_status, ticker_type, ticker1, ticker2)
            SELECT datetime('2020-01-01', '+' || i || ' seconds'), 'x', 'buy', 1, 'long', 1, 'flat', 0, 'filled',
                   CASE WHEN i % 2 = 1 THEN 'single' ELSE 'pair' END, 'T' || (i % 1000),
                   CASE WHEN i % 2 = 1 THEN NULL ELSE 'U' || (i % 1000) END FROM n""")
    else:
        db.execute_sql(f"""
            INSERT INTO signals (timestamp, ticker, order_action, order_contracts, mar_pos, mar_pos_size,
                                 pre_mar_pos, pre_mar_pos_size, order_status, ticker_type, ticker1, ticker2)
            SELECT timestamp '2020-01-01' + i * interval '1 second', 'x', 'buy', 1, 'long', 1, 'flat', 0, 'filled',
                   CASE WHEN MOD(i, 2) = 1 THEN 'single' ELSE 'pair' END, 'T' || MOD(i, 1000),
                   CASE WHEN MOD(i, 2) = 1 THEN NULL ELSE 'U' || MOD(i, 1000) END
            FROM generate_series({first}, {last}) AS i""")


def analyze(store) -> None:
    store.db.execute_sql("ANALYZE" if store.is_sqlite else "ANALYZE signals")


LOOKUPS = {  # (pair, until) -> parameters of the prepared lookup
    (False, False): [DUPLICATE, "T1", "single", "%due to sync", 1],
    (False, True): [DUPLICATE, "T1", "single", "%due to sync", dt.datetime(2020, 1, 2), 1],
    (True, False): [DUPLICATE, "T2", "pair", "U2", "%due to sync", 1],
    (True, True): [DUPLICATE, "T2", "pair", "U2", "%due to sync", dt.datetime(2020, 1, 2), 1],
}


def work(store, sql: str, params: list) -> int:
    """What one lookup costs, counted by the database and not by a clock: SQLite's virtual-machine steps (the
    progress handler, called every step); on PostgreSQL the rows the plan's nodes produced and the rows they read
    and threw away (EXPLAIN ANALYZE)."""
    db = store.db
    if store.is_sqlite:
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0
        connection = db.connection()
        db.execute_sql(sql, params).fetchall()  # compiled once, kept in the statement cache: count the run only
        connection.set_progress_handler(count, 1)
        try:
            db.execute_sql(sql, params).fetchall()
        finally:
            connection.set_progress_handler(None, 1)
        return steps[0]
    plan = db.execute_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]

    def rows(node: dict) -> int:
        return (node.get("Actual Rows", 0) * node.get("Actual Loops", 1) + node.get("Rows Removed by Filter", 0)
                + sum(rows(child) for child in node.get("Plans", [])))
    return rows(plan)


def test_the_previous_alert_is_found_through_an_index_in_constant_work(store):
    sqls = {key: query.build().sql()[0] for key, query in continuity._LATEST.items()}
    store.write_sync(fill, store.db, 1, 10_000)
    analyze(store)
    small = {key: work(store, sqls[key], params) for key, params in LOOKUPS.items()}
    def grow() -> None:  # building the indexes once afterwards is several times faster than row by row
        Signal._schema.drop_indexes(safe=True)
        fill(store.db, 10_001, BIG)
        Signal._schema.create_indexes(safe=True)
    store.write_sync(grow)
    analyze(store)
    assert Signal.select().count() == BIG
    db = store.db
    for key, params in LOOKUPS.items():
        if store.is_sqlite:
            plan = " | ".join(row[-1] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sqls[key], params))
            index = "ticker2" if key[0] else "ticker_type"
            assert f"USING INDEX signals_ticker1_{index}_timestamp_rowid" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            plan = " | ".join(row[0] for row in db.execute_sql("EXPLAIN " + sqls[key], params))
            assert "Index Scan Backward using signals_ticker1_" in plan and "Sort" not in plan, plan
            assert "Seq Scan on signals" not in plan, plan
        # the same work at 100 times the rows: the walk stops at the first row of the ticker
        assert work(store, sqls[key], params) == small[key], key
    newest = db.execute_sql(sqls[(False, False)], LOOKUPS[(False, False)]).fetchone()
    assert newest[0] == BIG - 999 and newest[-1] is None  # T1's newest single signal, not a duplicate


@pytest.mark.parametrize("version", test_migrations.VERSIONS)
def test_every_shipped_schema_gets_the_findings_table_and_the_lookup_indexes(version, db_url):
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    db = open_database(db_url)
    db.connect()
    for statement in test_migrations.statements((test_migrations.FOLDER / f"{version}.{dialect}.sql").read_text()):
        db.execute_sql(statement)
    db.close()
    store = Store(db_url)
    changes = store.open()
    try:
        assert "created table continuity_findings" in changes
        indexes = {index.name for index in store.db.get_indexes("signals")}
        assert {"signals_ticker1_ticker_type_timestamp_rowid", "signals_ticker1_ticker2_timestamp_rowid"} <= indexes
        assert "continuity_findings_signal_rowid_kind" in {i.name for i in store.db.get_indexes("continuity_findings")}
        store.write_sync(lambda: Ticker.create(symbol="ZZCONT", sectype="STK", currency="USD", active=1))
        body = {"ticker": "ZZCONT", "order_action": "sell", "order_contracts": 5, "pre_mar_pos": "flat",
                "pre_mar_pos_size": 0, "mar_pos": "short", "mar_pos_size": 5, "timestamp": T0}
        store.write_sync(signals.insert_signal_tx, body, WINDOW)
        inserted = store.write_sync(signals.insert_signal_tx, {**body, "timestamp": T0 + dt.timedelta(1)}, WINDOW)
        assert (inserted.outcome, inserted.findings) == (signals.CREATED, 1)
    finally:
        store.close()


@pytest.mark.parametrize("broken", ["_newest", "_store"])
def test_a_failing_check_never_costs_the_signal(store, monkeypatch, broken):
    register(store)
    store.write_sync(signals.insert_signal_tx, webhook("LNT", 0, BUY_10), WINDOW)

    def fail(*args):
        Signal.select().where(Signal.rowid == "not a number").count()  # a statement the database refuses
        raise RuntimeError("boom")
    monkeypatch.setattr(continuity, broken, fail)
    inserted = store.write_sync(signals.insert_signal_tx, webhook("LNT", 200, SHORT_5), WINDOW)
    assert (inserted.outcome, inserted.findings) == (signals.CREATED, 0)
    assert [s.order_action for s in Signal.select().order_by(Signal.rowid)] == ["buy", "sell"]
    assert Finding.select().count() == 0


@pytest.mark.parametrize("broken", ["_newest", "_store"])
def test_a_lost_transaction_in_the_check_is_the_writers_to_retry_not_swallowed(store, monkeypatch, broken):
    """A fault of the database (locked, away, full) is not a row the check cannot read: the whole write fails and
    stores nothing (the writer retries, then answers 503), instead of going on without its transaction."""
    register(store)
    store.write_sync(signals.insert_signal_tx, webhook("LNT", 0, BUY_10), WINDOW)

    def fail(*args):
        raise DatabaseUnavailable(LOCKED, "the check", RuntimeError("database is locked"))
    monkeypatch.setattr(continuity, broken, fail)
    with pytest.raises(DatabaseUnavailable):
        store.write_sync(signals.insert_signal_tx, webhook("LNT", 200, SHORT_5), WINDOW)  # a gap: _store runs
    monkeypatch.undo()
    assert [s.order_action for s in Signal.select().order_by(Signal.rowid)] == ["buy"]


def test_a_timestamp_stored_as_other_text_is_no_predecessor(store):
    if not store.is_sqlite:
        pytest.skip("only SQLite keeps text in a timestamp column")
    register(store)
    store.write_sync(signals.insert_signal_tx, webhook("LNT", 0, BUY_10), WINDOW)
    store.write_sync(lambda: Signal.update(timestamp="yesterday-ish").execute())
    assert store.write_sync(signals.insert_signal_tx, webhook("LNT", 200, SHORT_5), WINDOW).findings == 0
    assert Signal.select().count() == 2
