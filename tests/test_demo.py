"""``make demo`` (issue 13): the demo's day, run against a real server on a temporary database, stores what it says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import server
from pairs import demo
from pairs.db import Account, Pair, Signal, Ticker


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, price_source=f"csv:{demo.DEMO_PRICES}")


def _fill(legs: dict[str, tuple[float, float]], hedge: float) -> float:
    (price1, _), (price2, _) = legs.values()
    return round(price1 - hedge * price2, 2)


@pytest.mark.gen_test(timeout=120)
async def test_demo_registers_computes_and_trades_a_day(app, http_server, base_url, store):
    rowids = await server.run_demo(app.ctx, base_url)
    await http_server.close_all_connections()

    assert {t.symbol: (t.prixch, t.active) for t in Ticker.select()} == demo.TICKERS
    assert {p.name: (p.hedge, p.status) for p in Pair.select()} == demo.PAIRS
    computed = {p.name: p for p in Pair.select()}
    for name in ("PEP-KO", "EWC-EWA"):  # the active pair and the watchlist pair get their statistics
        assert computed[name].stats_updated is not None and not computed[name].stale
        assert computed[name].std > 0 and computed[name].sma != 0
    assert computed["BF A-BF B"].stats_updated is None  # a passive pair is not priced

    signals = {s.rowid: s for s in Signal.select()}
    assert sorted(signals) == rowids and len(rowids) == len(demo.DAY)
    assert [(signals[r].order_status, signals[r].status_msg) for r in rowids] == [
        ("filled", ""), ("filled", ""), ("canceled", "passive ticker"), ("error", "unknown ticker"), ("filled", ""),
        ("waiting", None)]
    for rowid, alert in zip(rowids, demo.DAY, strict=True):
        if alert.fills:
            assert signals[rowid].fill_price == pytest.approx(_fill(alert.fills, 2.8))
            assert (signals[rowid].order_id1, signals[rowid].order_id2) == alert.order_ids
    times = [signals[r].timestamp for r in rowids]
    assert times == sorted(times)  # the day in order, every alert before the demo ran

    positions = {t.symbol: (t.active_pos, t.active_cost) for t in Ticker.select().where(Ticker.active_pos != 0)}
    assert positions == {symbol: (pos, cost) for symbol, (pos, cost, _) in demo.POSITIONS.items()}
    account = Account.get()
    assert account.NetLiquidation == demo.ACCOUNT["NetLiquidation"]


def test_running_the_demo_again_starts_from_scratch(tmp_path: Path):
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / (demo.DEMO_DB + suffix)).write_text("old")
    (tmp_path / "pairs.db").write_text("the real database")
    demo.remove_demo_database(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.db"]
    assert demo.demo_database_url(str(tmp_path)) == f"sqlite:///{tmp_path.resolve()}/demo.db"
