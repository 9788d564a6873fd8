"""A pairs-ibkr bridge session replayed over HTTP (SPEC A.1.2, §6.5 with A.4).

The bridge polls the waiting list anonymously, PUTs each signal back to /v4/webhook echoing every field as it
received it (timestamp text, ``order_status`` as a one-element list, integers as ``5.0``, order ids as digit
strings), then reports fills to the order endpoint — both legs possibly at the same moment, and the same fills
again and again all day.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.signal_fixtures import add_instruments, webhook


@pytest.fixture
def setup_a(store):
    store.write_sync(add_instruments, {"A": ("STK", "USD", 1), "B": ("STK", "USD", 0)}, {"A-B": (3.0, 1)})


def echo(signal: dict[str, Any], order_id1: int, order_id2: int) -> dict[str, Any]:
    """What the bridge PUTs back: the signal as received, retyped the way it does it."""
    body = dict(signal)
    body.update(passphrase="webhook", order_status=["rerouted"], status_msg="sent to broker",
                order_id1=str(order_id1), order_id2=str(order_id2),
                order_contracts=float(signal["order_contracts"]), mar_pos_size=float(signal["mar_pos_size"]))
    return body


def fill(symbol: str, order_id: int, price: float, qty: float) -> dict[str, Any]:
    return {"passphrase": "webhook", "order_id": str(order_id), "symbol": symbol, "price": price,
            "filled_qty": qty, "cancel": False, "partial": False}


async def poll_and_reroute(api, first_order_id: int) -> list[dict[str, Any]]:
    reply = await api.get("/v4/signals/status/waiting/0")
    assert reply.code == 200 and "signals" in reply.json
    waiting = [s for s in reply.json["signals"] if s["order_status"] == "waiting"]
    for number, signal in enumerate(sorted(waiting, key=lambda s: s["rowid"])):
        ids = (first_order_id + 2 * number, first_order_id + 2 * number + 1)
        reply = await api.put("/v4/webhook", echo(signal, *ids))
        assert reply.code == 200, reply.text
        assert (reply.json["order_status"], reply.json["order_id1"], reply.json["order_id2"]) == ("rerouted", *ids)
        assert reply.json["hedge_param"] == 3.0
    return waiting


@pytest.mark.gen_test(timeout=60)
async def test_bridge_session(api, setup_a) -> None:
    signals = 12
    for _ in range(signals):
        reply = await api.post("/v4/webhook", webhook("NASDAQ:A-3*NYSE:B", order_contracts=100, order_price=1,
                                                      mar_pos_size=100))
        assert reply.code == 200
    before = {s["rowid"]: s for s in (await api.get("/v4/signals/0", token=None)).json["signals"]}
    waiting = await poll_and_reroute(api, 1000)
    assert len(waiting) == signals
    for signal in waiting:  # the echoed timestamp text kept the stored time
        stored = (await api.get(f"/v4/signal/{signal['rowid']}")).json
        assert stored["timestamp"] == signal["timestamp"]
        assert (stored["order_contracts"], stored["mar_pos_size"]) == (100, 100)
    assert set(before) <= {s["rowid"] for s in waiting}
    rerouted = (await api.get("/v4/signals/status/waiting/0")).json["signals"]
    assert {s["order_status"] for s in rerouted} == {"rerouted"}  # still on the bridge's waiting list

    legs = {}
    for number, signal in enumerate(sorted(waiting, key=lambda s: s["rowid"])):
        legs[signal["rowid"]] = (fill("A", 1000 + 2 * number, 41.45, 100), fill("B", 1001 + 2 * number, 15.05, 300))

    # the first half: leg 1 then leg 2, as in §6.6
    rowids = sorted(legs)
    for rowid in rowids[:6]:
        first, second = legs[rowid]
        assert (await api.put("/v4/signal/order", first)).json["order_status"] == "filled(...)"
        assert (await api.put("/v4/signal/order", second)).json["order_status"] == "filled"
    # the second half: both legs at the same moment, all signals at once
    replies = await asyncio.gather(*(api.put("/v4/signal/order", leg) for rowid in rowids[6:] for leg in legs[rowid]))
    assert {r.code for r in replies} == {200}
    for rowid in rowids[6:]:
        row = (await api.get(f"/v4/signal/{rowid}")).json
        # no lost update: both prices are there and the spread was computed from them
        assert (row["price1"], row["price2"], row["fill_price"], row["slip"]) == (41.45, 15.05, -3.7, 4.7)
        # leg 1 last -> its quantity is compared with leg 2's expectation (§6.6, leg-2-first variant)
        assert (row["order_status"], row["status_msg"]) in (("filled", ""), ("part.filled", "remained(B): 200.0"))

    # the bridge re-sends the same fills: every signal ends filled, and after that nothing changes any more
    for rowid in rowids:
        for leg in reversed(legs[rowid]):
            assert (await api.put("/v4/signal/order", leg)).code == 200
    settled = {rowid: (await api.get(f"/v4/signal/{rowid}")).json for rowid in rowids}
    for row in settled.values():
        assert (row["order_status"], row["status_msg"], row["price1"], row["price2"], row["fill_price"],
                row["slip"]) == ("filled", "", 41.45, 15.05, -3.7, 4.7)
    for _ in range(2):
        await asyncio.gather(*(api.put("/v4/signal/order", leg) for rowid in rowids for leg in legs[rowid]))
        await api.put("/v4/signal/order", fill("B", 1001, 99.0, 1))  # a stray late fill at another price
        for rowid in rowids:
            assert (await api.get(f"/v4/signal/{rowid}")).json == settled[rowid]
    assert (await api.get("/v4/signals/status/waiting/0")).json == {"signals": []}
    assert len((await api.get("/v4/signals/status/filled/0")).json["signals"]) == 5  # anonymous cap
