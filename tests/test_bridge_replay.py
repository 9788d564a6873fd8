"""A pairs-ibkr bridge session replayed over HTTP (SPEC A.1.2, Appendix A, §6.5 with A.4).

Every request below has the method, path, body shape and value types of the bridge's own code (pairs-ibkr
``app.py`` ``check_signals``, ``filled_orders.py`` ``update_filled_orders``, and its shipped ``config.ini``, which
still names the v4.0 path ``/v4/signal/updateorder``):

- it polls ``GET /v4/signals/status/waiting/0`` anonymously and indexes ``["signals"]`` of the answer;
- duplicates (same ``ticker`` text on the waiting list): ``GET /v4/signal/<rowid>`` of each older one, then PUTs it
  back with ``order_status "canceled"`` / ``status_msg "duplicate order"``;
- otherwise it takes the newest waiting signal, ``GET /v4/ticker/<ticker1>`` (and ``<ticker2>``), places the
  orders and PUTs the whole signal back to ``/v4/webhook`` as it received it (timestamp text included) with
  ``order_status "created"``, ``status_msg ""``, ``error_msg ""`` and the order ids as integers - or
  ``"rerouted"`` / ``"+route"`` without ids, or ``order_status`` as the tuple ``("canceled",)`` (a one-element JSON
  list) for ``insufficient funds``;
- with SYNC_PAIR it POSTs a leg-2 signal with ``bypass_ticker_status: true``, ``status_msg "created due to sync"``
  and ``order_contracts`` computed from float positions (``5.0``), and later PUTs that one back with
  ``bypass_ticker_status: true`` and ``status_msg "+synced(new order)"``;
- every 5 minutes it PUTs each execution's cumulative fill: ``{"passphrase", "price": float, "order_id": "<digits>",
  "symbol", "filled_qty": float}`` - the same fills again and again all day;
- its cancel ``{"passphrase", "order_id": int, "cancel": true}`` and partial ``{"passphrase", "price", "order_id",
  "partial": true, "order_contracts"}`` messages carry no ``symbol``: §5.3 (and the original) answer 400
  ``symbol`` missing, and the row stays as it was.

It reads only the status codes of its writes.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from pairs import messages
from pairs.db import DeliveryLog, Signal
from tests.signal_fixtures import add_instruments, webhook

UPDATE_ORDER = "/v4/signal/updateorder"  # API_PUT_UPDATE in the bridge's shipped config.ini
WAITING = "/v4/signals/status/waiting/0"  # API_GET_SIGNAL_WAITING


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, {"A": ("STK", "USD", 1), "B": ("STK", "USD", 0), "C": ("STK", "USD", 1)},
                     {"A-B": (3.0, 1)})


class Bridge:
    """The requests of pairs-ibkr, as it builds them."""

    def __init__(self, api):
        self.api = api

    async def poll(self) -> list[dict[str, Any]]:
        reply = await self.api.get(WAITING)
        assert reply.code == 200
        return reply.json["signals"]  # the bridge indexes the key; a KeyError would end its polling

    async def put_back(self, signal: dict[str, Any], **changes: Any) -> Any:
        """``signal_dic["passphrase"] = PASSPHRASE; ...; requests.put(API_PUT_SIGNAL, json=signal_dic)``"""
        body = dict(signal)
        body["passphrase"] = "webhook"
        body.update(changes)
        return await self.api.put("/v4/webhook", body)

    async def ticker(self, symbol: str) -> dict[str, Any]:
        stock = (await self.api.get(f"/v4/ticker/{symbol}")).json
        return {key: stock[key] for key in ("xch", "prixch", "sectype", "currency", "order_type")}

    async def fill(self, order_id: int, symbol: str, avg_price: float, cum_qty: float, path: str = UPDATE_ORDER):
        """update_filled_orders: the order id is text cut out of the Execution's str(), the numbers are floats."""
        return await self.api.put(path, {"passphrase": "webhook", "price": float(avg_price), "order_id": str(order_id),
                                         "symbol": symbol, "filled_qty": float(cum_qty)})

    async def cancel(self, order_id: int):
        return await self.api.put(UPDATE_ORDER, {"passphrase": "webhook", "order_id": order_id, "cancel": True})

    async def partial(self, order_id: int, avg_price: float, filled: float):
        return await self.api.put(UPDATE_ORDER, {"passphrase": "webhook", "price": round(float(avg_price), 2),
                                                 "order_id": int(order_id), "partial": True,
                                                 "order_contracts": abs(int(filled))})


def positions_add_up(signal: dict[str, Any]) -> bool:
    """The bridge's own check before it trades (else: canceled / "position size mismatch")."""
    sign = -1 if signal["mar_pos"] == "short" else 1
    pre_sign = -1 if signal["pre_mar_pos"] == "short" else 1
    size, pre = sign * signal["mar_pos_size"], pre_sign * signal["pre_mar_pos_size"]
    step = signal["order_contracts"] if signal["order_action"] == "buy" else -signal["order_contracts"]
    return size == pre + step


async def stored(api, rowid: int) -> dict[str, Any]:
    return (await api.get(f"/v4/signal/{rowid}")).json


@pytest.mark.gen_test(timeout=60)
async def test_bridge_session(api, app, store, instruments) -> None:
    bridge = Bridge(api)
    # TradingView: a pair signal, then two alerts for C (a duplicate), as the Appendix A template sends them
    assert (await api.post("/v4/webhook", webhook("NASDAQ:A-3*NYSE:B", order_contracts=100, order_price=1,
                                                  mar_pos_size=100))).code == 200  # rowid 1
    for _ in range(2):  # rowids 2, 3
        assert (await api.post("/v4/webhook", webhook("C", order_contracts=10, order_price=20,
                                                      mar_pos_size=10))).code == 200

    # cycle 1: duplicates -> the older C signal is read by rowid and put back canceled
    waiting = await bridge.poll()
    assert [s["rowid"] for s in waiting] == [3, 2, 1]
    older = await stored(api, 2)
    assert (await bridge.put_back(older, order_status="canceled", status_msg="duplicate order")).code == 200

    # cycle 2: the newest (LIFO) is traded: ticker details read, the whole signal put back with its order id
    waiting = await bridge.poll()
    assert [s["rowid"] for s in waiting] == [3, 1]
    single = waiting[0]
    assert positions_add_up(single)
    assert await bridge.ticker(single["ticker1"]) == {"xch": "SMART", "prixch": "NYSE", "sectype": "STK",
                                                      "currency": "USD", "order_type": "RELATIVE"}
    reply = await bridge.put_back(single, order_status="created", status_msg="", error_msg="", order_id1=2000,
                                  order_contracts=abs(single["order_contracts"]))
    assert reply.code == 200
    assert (reply.json["order_status"], reply.json["order_id1"]) == ("created", 2000)

    # cycle 3: the pair is rejected by the exchange (error 200): put back "rerouted" without ids, still waiting
    (pair,) = await bridge.poll()
    assert positions_add_up(pair) and pair["hedge_param"] == 3.0  # a number: the bridge computes with it
    await bridge.ticker(pair["ticker1"])
    await bridge.ticker(pair["ticker2"])
    assert (await bridge.put_back(pair, order_status="rerouted", status_msg="+route", error_msg="")).code == 200

    # cycle 4: the rerouted pair is sent again as market orders and put back "created" with both order ids
    (pair,) = await bridge.poll()
    assert pair["order_status"] == "rerouted"
    reply = await bridge.put_back(pair, order_status="created", status_msg="+route", error_msg="",
                                  order_id1=1000, order_contracts=abs(pair["order_contracts"]), order_id2=1001)
    assert reply.code == 200
    assert (reply.json["order_status"], reply.json["order_id1"], reply.json["order_id2"]) == ("created", 1000, 1001)
    assert await bridge.poll() == []
    echoed = await stored(api, 1)
    assert echoed["timestamp"] == pair["timestamp"]  # the echoed text kept the stored time
    assert (echoed["ticker_type"], echoed["ticker1"], echoed["ticker2"], echoed["hedge_param"]) == (
        "pair", "A", "B", 3.0)

    # SYNC_PAIR: a leg-2 signal whose size came from float positions; the bridge expects 201, the original and
    # we answer 200 for a signal that was created fine (it only logs the difference)
    sync = {"passphrase": "webhook", "bypass_ticker_status": True, "order_action": "sell", "order_contracts": 5.0,
            "mar_pos": "short", "mar_pos_size": 305, "pre_mar_pos": "short", "pre_mar_pos_size": 300,
            "order_comment": "Enter Short due to sync", "order_status": "waiting", "ticker": "B",
            "status_msg": "created due to sync"}
    reply = await api.post("/v4/webhook", sync)  # rowid 4
    assert (reply.code, reply.json) == (200, {"message": "'signal' created successfully."})
    (synced,) = await bridge.poll()
    assert (synced["order_contracts"], synced["status_msg"], synced["order_status"]) == (
        5, "created due to sync", "waiting")
    reply = await bridge.put_back(synced, order_status="created", status_msg="+synced(new order)", error_msg="",
                                  order_id1=1002, order_contracts=abs(synced["order_contracts"]),
                                  bypass_ticker_status=True)
    assert (reply.code, reply.json["order_status"], reply.json["status_msg"]) == (
        200, "created", "+synced(new order)")  # B is passive: only the bypass keeps it from "canceled"

    # insufficient funds: order_status is the tuple ("canceled",) -> a one-element JSON list
    assert (await api.post("/v4/webhook", webhook("C", order_contracts=10, mar_pos_size=10))).code == 200  # 5
    (funds,) = await bridge.poll()
    reply = await bridge.put_back(funds, order_status=["canceled"], status_msg="insufficient funds")
    assert (reply.code, reply.json["order_status"], reply.json["status_msg"]) == (
        200, "canceled", "insufficient funds")

    # a waiting signal from an original database, whose timestamp was nulled by an original PUT: it is listed as
    # "None", and the echo of that text is accepted (the stored NULL stays)
    store.write_sync(lambda: Signal.insert(timestamp=None, ticker="AMEX:C", order_action="buy", order_contracts=1,
                                           mar_pos="long", mar_pos_size=1, pre_mar_pos="flat", pre_mar_pos_size=0,
                                           order_comment="", order_status="waiting", ticker_type="single",
                                           ticker1="C").execute())  # rowid 6
    (legacy,) = await bridge.poll()
    assert (legacy["rowid"], legacy["timestamp"]) == (6, "None")
    reply = await bridge.put_back(legacy, order_status="created", status_msg="", error_msg="", order_id1=2001,
                                  order_contracts=abs(legacy["order_contracts"]))
    assert (reply.code, reply.json["order_status"]) == (200, "created")
    assert (await stored(api, 6))["timestamp"] == "None"
    assert await bridge.poll() == []

    # fills, every 5 minutes, for all of the day's executions: first leg 1 partly, then everything
    assert (await bridge.fill(1000, "A", 41.45, 90)).json["status_msg"] == "remained(A): 10.0"
    assert (await bridge.fill(2000, "C", 20.5, 4)).json["status_msg"] == "remained: 6.0"
    for _ in range(3):  # the same cumulative fills, again and again
        for order_id, symbol, price, qty in ((1000, "A", 41.45, 100), (1001, "B", 15.05, 300),
                                             (2000, "C", 20.25, 10)):
            assert (await bridge.fill(order_id, symbol, price, qty)).code == 200
        pair_row, single_row = await stored(api, 1), await stored(api, 3)
        assert (pair_row["order_status"], pair_row["status_msg"], pair_row["price1"], pair_row["price2"],
                pair_row["fill_price"], pair_row["slip"]) == ("filled", "", 41.45, 15.05, -3.7, 4.7)
        assert (single_row["order_status"], single_row["status_msg"], single_row["fill_price"],
                single_row["slip"]) == ("filled", "", 20.25, -0.25)

    # its cancel and partial messages have no symbol: 400 as in §5.3 (and the original), nothing changes
    before = [await stored(api, rowid) for rowid in range(1, 7)]
    missing = {"message": {"symbol": messages.MISSING}}
    assert ((r := await bridge.cancel(1000)).code, r.json) == (400, missing)
    assert ((r := await bridge.partial(1000, 41.4512, 90.0)).code, r.json) == (400, missing)
    assert [await stored(api, rowid) for rowid in range(1, 7)] == before

    # every write of the session is in the delivery log with what it was answered
    await app.ctx.store.write(lambda: None)  # the log rows are queued before this: the writer is FIFO
    logged = [(r.method, r.route, r.status) for r in DeliveryLog.select().order_by(DeliveryLog.id)]
    assert logged.count(("PUT", "/v4/webhook", 200)) == 7
    assert logged.count(("PUT", UPDATE_ORDER, 200)) == 11 and logged.count(("PUT", UPDATE_ORDER, 400)) == 2
    assert logged.count(("POST", "/v4/webhook", 200)) == 5


@pytest.mark.gen_test(timeout=60)
async def test_both_legs_reported_at_the_same_moment(api, instruments) -> None:
    """A.4: concurrent fills of both legs of many signals lose no price; re-sent fills change nothing."""
    bridge = Bridge(api)
    count = 8
    for _ in range(count):
        assert (await api.post("/v4/webhook", webhook("A-3*B", order_contracts=100, order_price=1,
                                                      mar_pos_size=100))).code == 200
    legs = {}
    for signal in await bridge.poll():
        ids = (1000 + 2 * signal["rowid"], 1001 + 2 * signal["rowid"])
        reply = await bridge.put_back(signal, order_status="created", status_msg="", error_msg="", order_id1=ids[0],
                                      order_contracts=abs(signal["order_contracts"]), order_id2=ids[1])
        assert reply.code == 200
        legs[signal["rowid"]] = ((ids[0], "A", 41.45, 100), (ids[1], "B", 15.05, 300))
    assert len(legs) == count

    # the v4.1 path this time; both legs of all signals at once
    replies = await asyncio.gather(*(bridge.fill(*leg, path="/v4/signal/order") for both in legs.values()
                                     for leg in both))
    assert {r.code for r in replies} == {200}
    for rowid in legs:
        row = await stored(api, rowid)
        # no lost update: both prices are there and the spread was computed from them
        assert (row["price1"], row["price2"], row["fill_price"], row["slip"]) == (41.45, 15.05, -3.7, 4.7)
        # leg 2's full quantity decides, whichever leg was written last (A.4: a remainder only from its own leg)
        assert (row["order_status"], row["status_msg"]) == ("filled", "")

    # the bridge re-sends the same fills: every signal ends filled, and after that nothing changes any more
    for both in legs.values():
        for leg in reversed(both):
            assert (await bridge.fill(*leg)).code == 200
    settled = {rowid: await stored(api, rowid) for rowid in legs}
    for row in settled.values():
        assert (row["order_status"], row["status_msg"], row["price1"], row["price2"], row["fill_price"],
                row["slip"]) == ("filled", "", 41.45, 15.05, -3.7, 4.7)
    for _ in range(2):
        await asyncio.gather(*(bridge.fill(*leg) for both in legs.values() for leg in both))
        first = min(legs)
        await bridge.fill(legs[first][1][0], "B", 99.0, 1)  # a stray late fill at another price
        for rowid in legs:
            assert await stored(api, rowid) == settled[rowid]
    assert await bridge.poll() == []
    assert len((await api.get("/v4/signals/status/filled/0")).json["signals"]) == 5  # anonymous cap
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", settled[first]["timestamp"])  # emitted format (A.3)


@pytest.mark.gen_test(timeout=60)
async def test_fx_fills_named_by_their_base_currency_reach_the_signal(api, store) -> None:
    """The bridge names an execution by IB's contract.symbol: ``USD`` for the leg ``USD.CAD``, ``EUR`` for
    ``EUR.USD``. The original matched only the full leg, so FX (and crypto) signals never learnt their fills."""
    store.write_sync(add_instruments, {"USD.CAD": ("CASH", "CAD", 1), "EUR.USD": ("CASH", "USD", 0)},
                     {"USD.CAD-EUR.USD": (1.0, 1)})
    bridge = Bridge(api)
    assert (await api.post("/v4/webhook", webhook("USD.CAD-EUR.USD", order_price=0.5))).code == 200
    assert (await api.post("/v4/webhook", webhook("USD.CAD", order_price=1.3))).code == 200
    waiting = {signal["ticker"]: signal for signal in await bridge.poll()}
    pair, single = waiting["USD.CAD-EUR.USD"], waiting["USD.CAD"]
    assert (pair["ticker1"], pair["ticker2"], single["ticker1"]) == ("USD.CAD", "EUR.USD", "USD.CAD")
    for signal, ids in ((pair, (500, 501)), (single, (600, None))):
        reply = await bridge.put_back(signal, order_status="created", status_msg="", error_msg="",
                                      order_id1=ids[0], order_id2=ids[1])
        assert reply.code == 200

    assert (await bridge.fill(500, "USD", 1.37, 10)).code == 200
    assert (await bridge.fill(501, "CAD", 9.0, 10)).code == 404  # the quote currency is no leg
    assert (await bridge.fill(501, "EUR", 1.05, 10)).code == 200
    assert (await bridge.fill(600, "USD", 1.36, 4)).code == 200
    assert (await bridge.fill(700, "USD", 1.36, 4)).code == 404  # no signal has that order id
    row = await stored(api, pair["rowid"])
    assert (row["order_status"], row["price1"], row["price2"], row["fill_price"], row["slip"]) == (
        "filled", 1.37, 1.05, 0.32, 0.18)
    row = await stored(api, single["rowid"])
    assert (row["order_status"], row["status_msg"], row["fill_price"], row["slip"]) == (
        "part.filled", "remained: 6.0", 1.36, -0.06)
    assert (await bridge.fill(600, "USD", 1.36, 4)).code == 200  # re-sent all day: nothing changes
    assert await stored(api, single["rowid"]) == row
