"""The display rules of the dashboard (SPEC §7), as pure functions: one table row per case."""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo

import pytest

from pairs import dashboard, market
from pairs.db import Pair, PriceBar, Signal

PACIFIC = zoneinfo.ZoneInfo("US/Pacific")


@pytest.mark.parametrize("status, expected", [
    ("waiting", "st-waiting"), ("rerouted", "st-waiting"), ("created", "st-created"), ("canceled", "st-canceled"),
    ("error", "st-error"), ("critical err", "st-error"), ("part.filled", "st-partial"), ("filled", "st-filled"),
    ("filled(LNT)", "st-filled"), ("something", ""), (None, ""),
])
def test_status_colour(status, expected):
    assert dashboard.status_class(status) == expected


@pytest.mark.parametrize("action, contracts, price, expected", [
    ("close", "100", "1.5", {"order_action": "sell", "pre_mar_pos": "long", "order_contracts": 100, "mar_pos": "flat",
                             "mar_pos_size": 0, "pre_mar_pos_size": 100, "order_price": "1.5"}),
    ("close", "-40", "2", {"order_action": "buy", "pre_mar_pos": "short", "order_contracts": 40, "mar_pos": "flat",
                           "mar_pos_size": 0, "pre_mar_pos_size": 40, "order_price": "2"}),
    ("revert", "100", "1.5", {"order_action": "sell", "pre_mar_pos": "long", "mar_pos": "short",
                              "order_contracts": 200, "mar_pos_size": 100, "pre_mar_pos_size": 100,
                              "order_price": "1.5"}),
    ("revert", "-40", "2", {"order_action": "buy", "pre_mar_pos": "short", "mar_pos": "long", "order_contracts": 80,
                            "mar_pos_size": 40, "pre_mar_pos_size": 40, "order_price": "2"}),
    ("buy", "10", "0.5", {"order_action": "buy", "pre_mar_pos": "flat", "order_contracts": 10, "mar_pos": "long",
                          "mar_pos_size": 10, "pre_mar_pos_size": 0, "order_price": "0.5"}),
    ("sell", "10", "", {"order_action": "sell", "pre_mar_pos": "flat", "order_contracts": 10, "mar_pos": "short",
                        "mar_pos_size": 10, "pre_mar_pos_size": 0, "order_price": ""}),
    ("hold", "10", "1", {}), ("buy", "ten", "1", {}), ("buy", "nan", "1", {}), (None, None, None, {}),
])
def test_quick_trade_prefill(action, contracts, price, expected):
    assert dashboard.quick_trade(action, contracts, price) == expected


@pytest.mark.parametrize("pos1, pos2, hedge, expected", [
    (100, -125, 1.25, ("ok", "")),
    (100, -130, 1.25, ("hedge=1.3", "caution")),
    (100, -150, 1.25, ("hedge=1.5", "warn")),
    (0, 0, 1.25, ("ok", "")),
    (0, 5, 1.25, ("2nd pair", "warn")),
    (0, 1, 1.25, ("2nd pair", "caution")),
])
def test_hedge_check(pos1, pos2, hedge, expected):
    assert dashboard.hedge_check(pos1, pos2, hedge) == expected


@pytest.mark.parametrize("distance, expected", [
    (None, ""), (0.0, "z0"), (0.99, "z0"), (1.0, "z1"), (1.49, "z1"), (1.5, "z15"), (1.99, "z15"), (2.0, "z2"),
    (7.5, "z2"),
])
def test_std_distance_colour(distance, expected):  # SPEC §7.6: >=2 red, >=1.5 orange, >=1 yellow, else blue
    assert dashboard.std_class(distance) == expected


@pytest.mark.parametrize("act_price, sma, side", [(1.0, 2.0, "buy"), (2.0, 2.0, "sell"), (3.0, 2.0, "sell")])
def test_flat_pair_offers_buy_below_the_sma_else_sell(act_price, sma, side):
    pair = Pair(name="A-B", ticker1="A", ticker2="B", hedge=1.5, status=-1, contracts=30, act_price=act_price,
                sma=sma, sma_dist=round(sma - act_price, 4), std=0.5)
    view = dashboard.pair_view(pair, {})
    assert view.actions == [(side, {"tradeaction": side, "tradepair": "A-B", "tradecontracts": "30",
                                    "tradeprice": act_price})]
    assert view.flat and view.label == "A-1.5*B" and view.dist_sma == 30 * abs(sma - act_price)


def test_signal_row_slip_money_elapsed_today_and_nulls():
    now = dt.datetime(2026, 11, 25, 12, 0, 0)
    sig = Signal(rowid=7, timestamp=now - dt.timedelta(seconds=150), ticker="A-B", order_action="buy",
                 order_contracts=1500, order_price=1234.5, order_status="created", fill_price=1234.6, slip=0.1234)
    row = dashboard.signal_row(sig, now, PACIFIC)
    assert (row.time, row.today, row.quantity, row.price) == ("2026-11-25 03:57:30", True, "1,500", "1,234.500")
    assert (row.status_class, row.elapsed, row.slip) == ("st-created", 2, "0.123 | $185.10")
    last_year = dashboard.signal_row(Signal(rowid=8, timestamp=now - dt.timedelta(days=365)), now, PACIFIC)
    assert last_year.today is False  # the original ignored the year
    empty = dashboard.signal_row(Signal(rowid=9), now, PACIFIC)
    assert (empty.time, empty.status, empty.elapsed, empty.price, empty.quantity, empty.slip) == ("", "", None, "",
                                                                                                  "", "")


def test_day_window_is_whole_days_of_the_display_zone():
    now = dt.datetime(2026, 11, 25, 5, 0)  # still 24 November in California
    start, end, since, until = dashboard.day_window(None, None, PACIFIC, now)
    assert (start, end) == (dt.date(2026, 11, 24), dt.date(2026, 11, 24))
    assert (since, until) == (dt.datetime(2026, 11, 24, 8, 0), dt.datetime(2026, 11, 25, 8, 0))
    start, end, _, _ = dashboard.day_window(dt.date(2026, 11, 20), dt.date(2026, 11, 10), PACIFIC, now)
    assert (start, end) == (dt.date(2026, 11, 10), dt.date(2026, 11, 20))
    assert dashboard.parse_day("2026-11-24.123") == dt.date(2026, 11, 24)
    assert dashboard.parse_day("24/11/2026") is None


TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize("start, end, zone, since, until", [
    # the calendar's last day west of UTC, and its first day east of it: the window stays open at that end
    (dt.date(9999, 12, 31), dt.date(9999, 12, 31), PACIFIC, dt.datetime(9999, 12, 31, 8), dt.datetime.max),
    (dt.date(9999, 12, 31), dt.date(9999, 12, 31), TOKYO, dt.datetime(9999, 12, 30, 15), dt.datetime.max),
    # (local mean time then: Tokyo +9:18:59, Los Angeles -7:52:58)
    (dt.date(1, 1, 1), dt.date(1, 1, 1), TOKYO, dt.datetime.min, dt.datetime(1, 1, 1, 14, 41, 1)),
    (dt.date(1, 1, 1), dt.date(1, 1, 1), PACIFIC, dt.datetime(1, 1, 1, 7, 52, 58), dt.datetime(1, 1, 2, 7, 52, 58)),
])
def test_day_window_at_the_edges_of_the_calendar(start, end, zone, since, until):
    assert dashboard.day_window(start, end, zone, dt.datetime(2026, 11, 25)) == (start, end, since, until)


@pytest.mark.parametrize("stamp, zone, shown", [
    (dt.datetime(1, 1, 1), PACIFIC, "0001-01-01 00:00:00"),  # the year 0 in California: shown as stored (UTC)
    (dt.datetime(9999, 12, 31, 23, 59, 59), TOKYO, "9999-12-31 23:59:59"),
    (dt.datetime(2026, 11, 25, 5), PACIFIC, "2026-11-24 21:00:00"),
    (None, PACIFIC, ""),
])
def test_any_stored_time_can_be_shown(stamp, zone, shown):
    assert dashboard.format_local(stamp, zone) == shown


@pytest.mark.parametrize("text, key", [
    ("2026-11-24T10:00:00~5", (dt.datetime(2026, 11, 24, 10), 5)),
    ("2026-11-24T10:00:00~99999999999999999999", None),  # beyond INTEGER: no database may be asked for it
    ("2026-11-24T10:00:00~" + "9" * 5000, None), ("2026-11-24T10:00:00~²", None), ("junk", None), ("", None),
])
def test_history_key(text, key):
    assert dashboard.parse_history_key(text) == key


@pytest.mark.parametrize("target, goes_to", [
    ("/setup?tab=pairs", "/setup?tab=pairs"), ("/list?ticker_webhook=KO-PEP&x=http://a", "/list?ticker_webhook=KO-"
                                                                                          "PEP&x=http://a"),
    ("/%09/evil.example", "/%09/evil.example"),  # percent-encoded: a path segment, not a tab
    ("/\t/evil.example", "/dashboard"), ("/\n/evil.example", "/dashboard"), ("/\r\nSet-Cookie:x", "/dashboard"),
    ("/ /evil.example", "/dashboard"), ("/\x00", "/dashboard"), ("/\x7f/x", "/dashboard"),
    ("/\u2028/evil.example", "/dashboard"), ("/\u00a0/evil.example", "/dashboard"), ("/é", "/dashboard"),
    ("//evil.example/", "/dashboard"), ("/\\evil.example", "/dashboard"), ("/a\\b", "/dashboard"),
    ("https://evil.example/", "/dashboard"), ("evil.example", "/dashboard"), ("", "/dashboard"), (None, "/dashboard"),
])
def test_login_redirects_only_to_a_path_on_this_site(target, goes_to):
    assert dashboard.login_redirect(target) == goes_to


def test_money_and_averages():
    assert dashboard.money(-1234.4) == "-$1,234.40" and dashboard.money(None) == "" and dashboard.money(0.4) == "$0.40"
    assert dashboard.money(-3, "C$") == "-C$3.00" and dashboard.money(-0.001) == "$0.00"  # no "-$0.00"
    assert dashboard.money(1234567.891) == "$1,234,567.89"
    assert dashboard.slip_average_text(None) == "?" and dashboard.slip_average_text(0.0) == "0.00000"


def test_spread_series_sma_and_sample_std_over_20_days():
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(25)]
    closes1 = [(d, 10.0 + i * 0.5 + (i % 3)) for i, d in enumerate(days)]
    closes2 = [(d, 4.0 + (i % 4) * 0.25) for i, d in enumerate(days) if i != 3]  # a day leg 2 did not trade
    points = dashboard.spread_series(closes1, closes2, 1.25)
    assert len(points) == 24 and all(p["t"] != days[3].isoformat() for p in points)
    spreads = [round(c1 - 1.25 * dict(closes2)[d], 5) for d, c1 in closes1 if d in dict(closes2)]
    assert [p["spread"] for p in points] == spreads
    assert points[18]["sma"] is None and points[19]["sma"] == round(statistics.fmean(spreads[:20]), 5)
    assert points[-1]["std"] == round(statistics.stdev(spreads[-20:]), 5)


def test_chart_reads_the_stored_daily_bars(store):
    pair = Pair(name="KO-PEP", ticker1="KO", ticker2="PEP", hedge=0.5)
    assert dashboard.pair_chart(pair) == {"pair": "KO-PEP", "points": []}
    start = dt.datetime(2026, 1, 1)
    bars = [{"symbol": symbol, "interval": interval, "time": start + dt.timedelta(days=i), "close": close + i}
            for i in range(30) for symbol, close in (("KO", 60.0), ("PEP", 150.0))
            for interval in (market.DAILY, market.INTRADAY)]
    store.write_sync(lambda: PriceBar.insert_many(bars).execute())
    chart = dashboard.pair_chart(pair, days=5)
    assert [p["t"] for p in chart["points"]] == [f"2026-01-{d}" for d in range(26, 31)]
    assert chart["points"][-1]["spread"] == round(89.0 - 0.5 * 179.0, 5)
    assert chart["points"][-1]["sma"] is not None and chart["points"][-1]["std"] == round(0.5 * statistics.stdev(range(20)), 5)
