"""The life of a signal (issue 11, SPEC A.9): the rules, every change path writing its event in the same
transaction, the timeline page, the latency aggregates, and no signal without its ``received`` event after a
SIGKILL."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
from pathlib import Path

import pytest

from bench.server_process import ServerProcess
from pairs import dashboard, lifecycle, messages, notify
from pairs.db import DeliveryLog, PriceBar, Signal, SignalEvent, SignalTiming
from pairs.db.urls import open_database
from pairs.fills import OrderUpdate
from pairs.lifecycle import Step
from pairs.wire import SIGNAL_KEYS
from tests.conftest import JWT_SECRET, make_token, wait_until
from tests.signal_fixtures import PAIRS_6_4, TICKERS_6_4, add_instruments, webhook
from tests.test_pages import NOW, Browser

T0 = dt.datetime(2026, 11, 24, 15, 0, 0)


@pytest.fixture
def app(settings, store):
    from handlers.app import make_app

    application = make_app(settings, store, now=lambda: NOW)
    yield application
    application.ctx.executor.shutdown(wait=True)


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, {**TICKERS_6_4, "FTS": ("STK", "USD", 1)}, PAIRS_6_4)


def events(rowid: int = 1) -> list[tuple[str, dict]]:
    return [(kind, detail) for _, kind, detail in lifecycle.events_of(rowid)]


def order(symbol: str, order_id: int, price: float, qty: float, **extra) -> dict:
    return {"passphrase": "webhook", "symbol": symbol, "order_id": order_id, "price": price, "filled_qty": qty,
            **extra}


# ---------------------------------------------------------------------------------------------------------------
# The rules


@pytest.mark.parametrize(("before", "after", "expected"), [
    ({"order_status": "waiting", "status_msg": None}, {"order_status": "created", "status_msg": None},
     {"by": "bridge", "old": ["waiting", None], "new": ["created", None]}),
    ({"order_status": "created", "order_id1": None}, {"order_status": "created", "order_id1": 7},
     {"by": "bridge", "old": ["created", None], "new": ["created", None], "changed": ["order_id1"]}),
    ({"order_status": "waiting"}, {"order_status": "waiting"}, None),
])
def test_status_detail(before, after, expected) -> None:
    assert lifecycle.status_detail(before, after, "bridge") == expected


PAIR_ROW = {"ticker1": "USD.CAD", "ticker2": "EUR.USD", "order_id1": 5, "order_id2": 6}


@pytest.mark.parametrize(("order_id", "symbol", "legs"), [
    (5, "USD.CAD", [1]), (5, "USD", [1]), (6, "EUR", [2]), (6, "USD.CAD", []), (7, "EUR.USD", []),
])
def test_fill_legs(order_id, symbol, legs) -> None:
    assert lifecycle.fill_legs(PAIR_ROW, OrderUpdate(order_id, symbol, 1.0, 1)) == legs


@pytest.mark.parametrize(("action", "hedge", "leg", "buys"), [
    ("buy", 1.25, 1, True), ("buy", 1.25, 2, False), ("sell", 1.25, 2, True), ("sell", -0.5, 2, False),
    ("buy", None, 2, False), ("sell", None, 1, False),
    ("BUY", 1.25, 1, False), ("Buy", 1.25, 2, True),  # only an exact "buy" buys, as for the signal's own slip (§6.5)
])
def test_leg_buys(action, hedge, leg, buys) -> None:
    assert lifecycle.leg_buys({"order_action": action, "hedge_param": hedge}, leg) is buys


@pytest.mark.parametrize(("buys", "reference", "fill", "slip"), [
    (True, 10.0, 9.9, 0.1), (True, 10.0, 10.1, -0.1), (False, 10.0, 10.1, 0.1), (False, 10.0, 10.0, 0.0),
    (True, None, 10.0, None), (True, 10.0, None, None), (True, float("nan"), 10.0, None), (True, 1e308, -1e308, None),
])
def test_leg_slip(buys, reference, fill, slip) -> None:
    assert lifecycle.leg_slip(buys, reference, fill) == slip


BARS = [(T0, 10.0), (T0 + dt.timedelta(minutes=5), 11.0), (T0 + dt.timedelta(minutes=10), 12.0)]


@pytest.mark.parametrize(("when", "expected"), [
    (T0 + dt.timedelta(minutes=5), BARS[0]),  # the bar that closed at the alert
    (T0 + dt.timedelta(minutes=7, seconds=30), BARS[0]),  # a tie: the earlier close
    (T0 + dt.timedelta(minutes=9), BARS[1]),
    (T0 + dt.timedelta(minutes=30), BARS[2]),  # 15 minutes after the last close: still in reach
    (T0 + dt.timedelta(minutes=30, seconds=1), None),
    (T0 - dt.timedelta(minutes=11), None),
])
def test_nearest_bar(when, expected) -> None:
    assert lifecycle.nearest_bar(BARS, when) == expected


def test_timeline_gaps() -> None:
    steps = lifecycle.timeline([(T0, "received", {}), (T0 + dt.timedelta(milliseconds=1500), "status", {}),
                                (T0 + dt.timedelta(minutes=2, milliseconds=1500), "fill", {})])
    assert [s.gap_ms for s in steps] == [None, 1500, 120000]


@pytest.mark.parametrize(("count", "percent", "offset"), [(10, 50, 4), (10, 90, 8), (1, 90, 0), (3, 50, 1),
                                                           (7, 90, 6), (100, 50, 49)])
def test_percentile_offset_is_the_nearest_rank(count, percent, offset) -> None:
    assert lifecycle.percentile_offset(count, percent) == offset


@pytest.mark.parametrize(("ms", "text"), [(None, ""), (850, "850 ms"), (12_340, "12.3 s"), (245_000, "4 min 05 s"),
                                          (7_380_000, "2 h 03 min"), (-2_000, "-2.0 s")])
def test_duration_text(ms, text) -> None:
    assert lifecycle.duration_text(ms) == text


@pytest.mark.parametrize(("kind", "detail", "text"), [
    ("received", {"peer": "1.2.3.4", "alert_time": "2026-11-24 15:00:00.000", "alert_price1": 10.5},
     "from 1.2.3.4, alert time 2026-11-24 15:00:00.000, alert price 1 10.5"),
    ("status", {"by": "fill", "old": ["created", None], "new": ["filled(...)", "remained(A): 0.0"]},
     "created → filled(...) (remained(A): 0.0) by fill"),
    ("fill", {"leg": 2, "order_id": 6, "qty": 4, "price": 9.5, "remaining": 3.0}, "leg 2 order 6: 4 at 9.5 (3 to go)"),
    ("cancel", {"order_id": 6, "partial": True}, "order 6 (the rest)"),
    ("warned", {"channel": "email", "kind": "stuck"}, "stuck by email"),
])
def test_describe(kind, detail, text) -> None:
    assert lifecycle.describe(Step(T0, kind, detail, None)) == text


# ---------------------------------------------------------------------------------------------------------------
# Every change path writes its event, in its own transaction


@pytest.mark.gen_test(timeout=60)
async def test_every_change_path_writes_its_event(api, store, instruments) -> None:
    body = webhook("LNT-1.25*FTS", alert_time="2026-11-24T14:59:58Z", alert_price1=10.0, alert_price2=4.0)
    assert (await api.post("/v4/webhook", body)).code == 200
    [(kind, detail)] = events()
    assert (kind, detail) == ("received", {"peer": "127.0.0.1", "alert_time": "2026-11-24 14:59:58.000",
                                           "alert_price1": 10.0, "alert_price2": 4.0})
    signal = (await api.get("/v4/signal/1")).json
    # the wire is unchanged: the alert's fields are in the event only
    assert list(signal) == list(SIGNAL_KEYS) and (signal["price1"], signal["price2"]) == (None, None)

    # the bridge's echo: waiting -> created, with its order ids
    echo = {**signal, "passphrase": "webhook", "order_status": "created", "order_id1": 11, "order_id2": 12}
    assert (await api.put("/v4/webhook", echo)).code == 200
    assert events()[-1] == ("status", {"by": "bridge", "old": ["waiting", None], "new": ["created", None],
                                       "changed": ["order_id1", "order_id2"]})
    # the same echo again changes nothing: no event
    assert (await api.put("/v4/webhook", echo)).code == 200
    assert len(events()) == 2

    # fills: leg 1 in two parts, leg 2 at once; each re-sent once, which records nothing
    for message in (order("LNT", 11, 10.1, 4), order("LNT", 11, 10.1, 4), order("LNT", 11, 10.2, 10),
                    order("FTS", 12, 3.9, 12), order("FTS", 12, 3.9, 12)):
        assert (await api.put("/v4/signal/order", message)).code == 200
    kinds = [kind for kind, _ in events()]
    assert kinds == ["received", "status", "fill", "status", "fill", "status", "fill", "status"]
    fills = [detail for kind, detail in events() if kind == "fill"]
    assert fills == [
        {"leg": 1, "order_id": 11, "symbol": "LNT", "price": 10.1, "qty": 4.0, "remaining": 6.0},
        {"leg": 1, "order_id": 11, "symbol": "LNT", "price": 10.2, "qty": 10.0, "remaining": 0.0},
        {"leg": 2, "order_id": 12, "symbol": "FTS", "price": 3.9, "qty": 12.0, "remaining": 0.0}]
    assert events()[-1][1]["by"] == "fill" and events()[-1][1]["new"] == ["filled", ""]
    timing = lifecycle.timing_of(1)
    assert timing.alert_ms is not None and timing.pickup_ms is not None
    assert None not in (timing.leg1_ms, timing.leg2_ms, timing.filled_ms)
    # buy the spread: leg 1 bought 0.2 above 10.0, leg 2 sold 0.1 below 4.0, both against the trader
    assert (timing.source1, timing.source2, timing.slip1, timing.slip2) == ("alert", "alert", -0.2, -0.1)

    # the setup page's editor: a PUT with the dashboard's session
    browser = Browser(api)
    await browser.login()
    edited = {**(await api.get("/v4/signal/1")).json, "passphrase": "webhook", "status_msg": "checked"}
    assert (await browser.call("PUT", "/v4/webhook", edited)).code == 200
    assert events()[-1][1] == {"by": "editor admin", "old": ["filled", ""], "new": ["filled", "checked"]}

    # a cancel, and the stuck-order e-mail's marker
    assert (await api.post("/v4/webhook", webhook("LNT", order_id1=21))).code == 200
    assert (await api.put("/v4/signal/order", order("LNT", 21, 1.0, 0, cancel=True))).code == 200
    assert events(2)[-2:] == [
        ("cancel", {"order_id": 21, "symbol": "LNT", "partial": False, "contracts": None}),
        ("status", {"by": "cancel", "old": ["waiting", None], "new": ["canceled", "multiple active orders"]})]
    await store.write(notify.mark_warned_tx, [2, 99])
    assert events(2)[-1] == ("warned", {"channel": "email", "kind": "stuck"})
    assert SignalEvent.select().where(SignalEvent.signal == 99).count() == 0

    # deleting a signal deletes its events and timings
    assert (await api.delete("/v4/signal/1", token=make_token())).code == 200
    assert events(1) == [] and lifecycle.timing_of(1) is None and len(events(2)) == 4


@pytest.mark.gen_test(timeout=30)
async def test_a_bad_alert_time_is_a_400_and_stores_nothing(api, store, instruments) -> None:
    for bad in ("{{timenow}}", "yesterday", "2026-13-01T00:00:00Z"):
        reply = await api.post("/v4/webhook", webhook("LNT", alert_time=bad))
        assert (reply.code, reply.json) == (400, {"message": {"alert_time": messages.ALERT_TIME_HELP}})
    reply = await api.post("/v4/webhook", webhook("LNT", alert_price1="x"))
    assert reply.code == 400 and list(reply.json["message"]) == ["alert_price1"]
    assert Signal.select().count() == 0 and SignalEvent.select().count() == 0


@pytest.mark.gen_test(timeout=30)
async def test_any_alert_time_of_the_calendar_is_stored(api, store, instruments) -> None:
    """Milliseconds over 2**31 (25 days) fit: an old alert time, or a fill weeks after its signal."""
    for stamp in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        assert (await api.post("/v4/webhook", webhook("LNT", alert_time=stamp))).code == 200
    old, future = lifecycle.timing_of(1).alert_ms, lifecycle.timing_of(2).alert_ms
    assert old > 6 * 10**13 and future < -2 * 10**14


@pytest.mark.gen_test(timeout=30)
async def test_a_new_timestamp_alone_is_a_status_event(api, store, instruments) -> None:
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    signal = (await api.get("/v4/signal/1")).json
    moved = {**signal, "passphrase": "webhook", "timestamp": "2026-11-24 15:10:00"}
    assert (await api.put("/v4/webhook", moved)).code == 200
    assert events()[-1] == ("status", {"by": "bridge", "old": ["waiting", None], "new": ["waiting", None],
                                       "changed": ["timestamp"]})
    assert (await api.put("/v4/webhook", moved)).code == 200 and len(events()) == 2  # the same again: none


@pytest.mark.gen_test(timeout=30)
async def test_a_failed_change_leaves_no_event(api, store, instruments) -> None:
    """The event is in the change's transaction: a replacement that fails (no such row) writes none."""
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    reply = await api.put("/v4/webhook", webhook("LNT", rowid=2, order_status="created"))
    assert reply.code == 404
    assert [kind for kind, _ in events()] == ["received"] and SignalEvent.select().count() == 1


# ---------------------------------------------------------------------------------------------------------------
# The timeline page


def seed_events(rowid: int, steps: list[tuple[dt.timedelta, str, dict]]) -> None:
    for offset, kind, detail in steps:
        SignalEvent.insert(signal=rowid, time=T0 + offset, kind=kind, detail=json.dumps(detail)).execute()


@pytest.mark.gen_test(timeout=30)
async def test_the_timeline_page_shows_each_event_and_the_gap_since_the_previous(api, store, instruments) -> None:
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    store.write_sync(lambda: SignalEvent.delete().execute())
    store.write_sync(seed_events, 1, [
        (dt.timedelta(0), "received", {"peer": "10.0.0.9"}),
        (dt.timedelta(seconds=1, milliseconds=250), "status",
         {"by": "bridge", "old": ["waiting", None], "new": ["created", None]}),
        (dt.timedelta(minutes=4, seconds=6, milliseconds=250), "fill",
         {"leg": 1, "order_id": 3, "price": 1.5, "qty": 10, "remaining": 0.0})])
    assert (await api.get("/signal/1")).code == 302  # logged in only
    browser = Browser(api)
    await browser.login()
    page = await browser.get("/signal/1")
    assert page.code == 200
    timeline = page.text.split('id="timeline"', 1)[1].split("</table>", 1)[0]
    lines = timeline.split("<tr data-kind=")[1:]
    assert [line.split('"')[1] for line in lines] == ["received", "status", "fill"]
    assert 'class="num gap"></td>' in lines[0]
    assert ">1.2 s<" in lines[1] and "waiting → created by bridge" in lines[1]
    assert ">4 min 05 s<" in lines[2] and "leg 1 order 3: 10 at 1.5 (complete)" in lines[2]
    assert (await browser.get("/signal/999")).code == 404
    assert (await browser.get("/signal/x")).code == 404


@pytest.mark.gen_test(timeout=30)
async def test_a_signal_from_before_the_feature_says_so_and_shows_what_the_row_knows(api, store) -> None:
    store.write_sync(lambda: Signal.insert(timestamp=T0, ticker="LNT", order_action="buy", order_contracts=3,
                                           order_status="filled", fill_price=1.25, slip=-0.05).execute())
    browser = Browser(api)
    await browser.login()
    page = await browser.get("/signal/1")
    assert page.code == 200 and 'id="timeline"' not in page.text and 'id="latencies"' not in page.text
    note = page.text.split('id="no-events">', 1)[1].split("</p>", 1)[0]
    assert "stored before pairs recorded them" in note
    assert "status filled" in note and "fill price 1.25" in note and "slip -0.05" in note
    # every rowid on the pages links to its timeline
    assert '<a href="/signal/1" class="timeline-link"' in (await browser.get("/dashboard")).text
    # its later changes are events, and the page says where its history starts
    await store.write(lambda: notify.mark_warned_tx([1]))
    page = await browser.get("/signal/1")
    assert 'id="partial-events"' in page.text and "stuck by email" in page.text


@pytest.mark.gen_test(timeout=30)
async def test_the_page_says_which_reference_each_leg_slip_used(api, store, instruments) -> None:
    """alert prices; else the 5-minute bar closest to the alert time; else "no reference"."""
    store.write_sync(lambda: PriceBar.insert_many([
        {"symbol": "LNT", "interval": "5m", "time": T0 - dt.timedelta(minutes=5), "close": 10.4},
        {"symbol": "LNT", "interval": "5m", "time": T0, "close": 10.0}]).execute())
    body = webhook("LNT-1.25*FTS", order_id1=1, order_id2=2, alert_time="2026-11-24T15:05:00Z")
    assert (await api.post("/v4/webhook", body)).code == 200
    for message in (order("LNT", 1, 10.1, 10), order("FTS", 2, 4.0, 12)):
        assert (await api.put("/v4/signal/order", message)).code == 200
    timing = lifecycle.timing_of(1)
    assert (timing.ref1, timing.ref2, timing.source1, timing.source2, timing.slip1, timing.slip2) == (
        10.0, None, "5m bar", None, -0.1, None)
    browser = Browser(api)
    await browser.login()
    table = (await browser.get("/signal/1")).text.split('id="leg-slips"', 1)[1].split("</table>", 1)[0]
    legs = table.split("<tr>")[2:]
    assert ">5m bar<" in legs[0] and ">-0.1<" in legs[0] and ">10<" in legs[0]
    assert ">no reference<" in legs[1]


@pytest.mark.gen_test(timeout=30)
async def test_the_timeline_links_the_webhooks_delivery_log_row(api, store, instruments) -> None:
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    wait_until(lambda: DeliveryLog.select().count() == 1, 10, "the delivery row")
    browser = Browser(api)
    await browser.login()
    page = await browser.get("/signal/1")
    assert "row #1</a> (127.0.0.1, answered 200" in page.text.split('id="delivery"', 1)[1]


# ---------------------------------------------------------------------------------------------------------------
# Aggregates


def seed_timings(count: int) -> None:
    """``count`` pair signals of LNT-FTS at T0 + i minutes: pickup (i+1)*100 ms, leg 1 (i+1)*10 ms, no alert time;
    every other one fully filled ((i+1) s); slips of leg 1 i/100, leg 2 only on the first."""
    for i in range(count):
        rowid = Signal.insert(timestamp=T0 + dt.timedelta(minutes=i), ticker="LNT-1.25*FTS", order_action="buy",
                              order_contracts=1, ticker_type="pair", ticker1="LNT", ticker2="FTS",
                              hedge_param=1.25).execute()
        SignalTiming.insert(signal=rowid, stored=T0, pickup_ms=(i + 1) * 100, leg1_ms=(i + 1) * 10,
                            filled_ms=(i + 1) * 1000 if i % 2 == 0 else None, slip1=i / 100,
                            slip2=0.5 if i == 0 else None).execute()
    # a signal stored before the feature (no timings) is counted, but has no latency
    Signal.insert(timestamp=T0 - dt.timedelta(seconds=30), ticker="x", ticker_type="pair", ticker1="LNT",
                  ticker2="FTS").execute()
    # another pair's signal in the same window, and this pair's signal after it (and after the pair page's
    # "now"): neither counts
    for ticker2, stamp in (("XYZ", T0), ("FTS", T0 + dt.timedelta(days=5))):
        rowid = Signal.insert(timestamp=stamp, ticker="x", ticker_type="pair", ticker1="LNT",
                              ticker2=ticker2).execute()
        SignalTiming.insert(signal=rowid, stored=stamp, pickup_ms=10**9, slip1=99.0).execute()


def test_latency_aggregates_on_a_seeded_set(store) -> None:
    store.write_sync(seed_timings, 10)
    found, slips = dashboard.latency_aggregates("LNT-FTS", T0 - dt.timedelta(hours=1), T0 + dt.timedelta(days=1))
    table = {a.name: (a.count, a.percentiles[50], a.percentiles[90]) for a in found}
    assert table == {"alert_ms": (0, None, None), "pickup_ms": (10, 500, 900), "leg1_ms": (10, 50, 90),
                     "leg2_ms": (0, None, None), "filled_ms": (5, 5000, 9000)}
    assert slips == {"slip1": pytest.approx(0.045), "slip2": 0.5, "n1": 10, "n2": 1, "signals": 11,
                     "capped": False}
    # over the newest 4 signals of the range only: pickups 1000, 900, 800, 700
    found, slips = lifecycle.aggregates((Signal.ticker2 == "FTS") & (Signal.timestamp < T0 + dt.timedelta(days=1)),
                                        limit=4)
    assert [(a.count, a.percentiles[50], a.percentiles[90]) for a in found if a.name == "pickup_ms"] == [
        (4, 800, 1000)]
    assert (slips["signals"], slips["capped"], slips["slip1"]) == (4, True, pytest.approx(0.075))
    # "capped" only when the range held more than the limit: its 11 signals exactly are not
    window = (Signal.ticker2 == "FTS") & (Signal.timestamp < T0 + dt.timedelta(days=1))
    assert [lifecycle.aggregates(window, limit=n)[1]["capped"] for n in (10, 11, 12)] == [True, False, False]


@pytest.mark.gen_test(timeout=30)
async def test_list_and_pair_pages_show_the_aggregates(api, store, instruments) -> None:
    store.write_sync(seed_timings, 10)
    browser = Browser(api)
    await browser.login()
    pages = ["/list?tradetype=pair&ticker_webhook=LNT-FTS&start_date=2026-11-24&end_date=2026-11-25",
             "/pair/LNT-FTS"]
    for path in pages:
        html = (await browser.get(path)).text
        table = html.split('id="latency-aggregates"', 1)[1].split("</table>", 1)[0]
        pickup = table.split('data-name="pickup_ms"', 1)[1].split("</tr>", 1)[0]
        assert '"p50">500 ms<' in pickup and '"p90">900 ms<' in pickup, path
        filled = table.split('data-name="filled_ms"', 1)[1].split("</tr>", 1)[0]
        assert '"p50">5.0 s<' in filled and '"p90">9.0 s<' in filled, path
        assert "leg 1: 0.04500" in table and "leg 2: 0.50000" in table, path
    # anonymous: the LIST page computes none
    assert 'id="latency-aggregates"' not in (await api.get(pages[0])).text


# ---------------------------------------------------------------------------------------------------------------
# SIGKILL


def test_no_signal_without_its_received_event_after_a_sigkill(tmp_path: Path, db_url: str) -> None:
    server = ServerProcess(tmp_path, db_url, env={"JWT_SECRET_KEY": JWT_SECRET}).start()
    acked: list[int] = []
    stop = threading.Event()

    def stream() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = json.dumps(webhook("NYSE:LNT", alert_time="2026-11-24T15:00:00Z"))
        try:
            while not stop.is_set():
                connection.request("POST", "/v4/webhook", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                acked.append(response.status)
        except (OSError, http.client.HTTPException):
            return  # the server is gone
        finally:
            connection.close()

    clients = [threading.Thread(target=stream) for _ in range(4)]
    try:
        for thread in clients:
            thread.start()
        wait_until(lambda: len(acked) >= 200, 60, "acknowledged webhooks")
        server.kill()
        stop.set()
        for thread in clients:
            thread.join(15)
    finally:
        stop.set()
        server.kill()
    db = open_database(db_url)
    try:
        signals = db.execute_sql("SELECT COUNT(*) FROM signals").fetchone()[0]
        orphans = db.execute_sql(
            "SELECT COUNT(*) FROM signals s WHERE NOT EXISTS (SELECT 1 FROM signal_events e "
            "WHERE e.signal_rowid = s.rowid AND e.kind = 'received')").fetchone()[0]
        events_without_signal = db.execute_sql(
            "SELECT COUNT(*) FROM signal_events e WHERE NOT EXISTS (SELECT 1 FROM signals s "
            "WHERE s.rowid = e.signal_rowid)").fetchone()[0]
    finally:
        db.close()
    assert signals >= len([status for status in acked if status in (200, 201)]) >= 200
    assert (orphans, events_without_signal) == (0, 0)


@pytest.mark.parametrize(("values", "leg", "expected"), [
    ({"alert_price1": 10.5, "price1": 9.0}, 1, 10.5),  # alert_priceN first
    ({"price1": 9.0}, 1, 9.0),  # else the v4 field the alert carried
    ({"price2": 4.2}, 2, 4.2),
    ({"price1": 9.0}, 2, None),  # another leg's price is not this leg's
    ({}, 1, None),  # neither: the 5-minute bar decides
])
def test_the_reference_price_an_alert_gives(values: dict, leg: int, expected: float | None) -> None:
    assert lifecycle.alert_reference(values, leg) == expected
