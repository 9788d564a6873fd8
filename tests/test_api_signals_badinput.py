"""Bad input on the signal routes: a clear 4xx JSON answer, never a 5xx, never a changed row (SPEC A.2, A.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pairs.db import Signal
from pairs.wire import SIGNAL_KEYS
from tests.signal_fixtures import add_instruments, webhook

BIG = 10**30
GOOD_PUT = webhook("A-3*B", rowid=1, order_id1=100, order_id2=101)
GOOD_ORDER = {"passphrase": "webhook", "order_id": 100, "symbol": "A", "price": 1.0, "filled_qty": 1}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


# method, path, body (dict/list/str/bytes -> raw), content type
CASES: list[tuple[str, str, Any, str]] = [
    *[("POST", "/v4/webhook", with_(webhook("A"), **{field: value}), "application/json")
      for field, value in [("order_contracts", "ten"), ("order_contracts", None), ("order_contracts", 1.5),
                           ("order_contracts", BIG), ("order_contracts", [1, 2]), ("order_contracts", {}),
                           ("order_contracts", True), ("order_price", "cheap"), ("order_price", 1e400),
                           ("order_price", "NaN"), ("order_price", "Infinity"), ("mar_pos_size", "x"),
                           ("order_id1", -BIG), ("order_id1", "12a"), ("hedge_param", [1, 2]), ("price1", {}),
                           ("timestamp", "2026-13-45 99:00:00"), ("timestamp", 1700000000), ("timestamp", "now"),
                           ("ticker", None), ("ticker", {"a": 1}), ("ticker", ["A", "B"]), ("ticker", "A\x00"),
                           ("order_action", None), ("passphrase", None), ("passphrase", 12345),
                           ("bypass_ticker_status", "maybe"), ("bypass_ticker_status", 2)]],
    ("POST", "/v4/webhook", "", "application/json"),
    ("POST", "/v4/webhook", "   \n", "text/plain"),
    ("POST", "/v4/webhook", "[1, 2]", "application/json"),
    ("POST", "/v4/webhook", json.dumps([webhook("A")]), "text/plain"),
    ("POST", "/v4/webhook", "42", "application/json"),
    ("POST", "/v4/webhook", '"text"', "application/json"),
    ("POST", "/v4/webhook", "null", "application/json"),
    ("POST", "/v4/webhook", "{not json", "text/plain"),
    ("POST", "/v4/webhook", '{"passphrase": "webhook", "order_price": NaN}', "application/json"),
    ("POST", "/v4/webhook", b"\xff\xfe{}", "application/json"),
    ("POST", "/v4/webhook", "[" * 100000, "application/json"),
    ("POST", "/v4/webhook", json.dumps(webhook("A", order_comment="x" * 70000)), "application/json"),
    ("POST", "/v4/webhook", "passphrase=webhook&ticker=A&order_action=buy&order_contracts=x",
     "application/x-www-form-urlencoded"),
    *[("PUT", "/v4/webhook", with_(GOOD_PUT, **{field: value}), "application/json")
      for field, value in [("rowid", "one"), ("rowid", BIG), ("rowid", -1), ("rowid", 99), ("rowid", None),
                           ("order_contracts", None), ("order_contracts", "x"), ("ticker", None),
                           ("timestamp", "2026-02-30 00:00:00"), ("order_status", ["a", "b"]),
                           ("passphrase", "wrong"), ("order_id1", 2**31), ("price2", "1e999")]],
    ("PUT", "/v4/webhook", "[]", "application/json"),
    ("PUT", "/v4/webhook", "", "text/plain"),
    *[("PUT", "/v4/signal/order", with_(GOOD_ORDER, **{field: value}), "application/json")
      for field, value in [("order_id", None), ("order_id", "abc"), ("order_id", BIG), ("order_id", 1.5),
                           ("symbol", None), ("price", None), ("price", "x"), ("price", 1e400),
                           ("filled_qty", None), ("filled_qty", "lots"), ("cancel", "perhaps"),
                           ("partial", True), ("partial", "yes"), ("order_contracts", "many"),
                           ("order_contracts", BIG), ("passphrase", "wrong"), ("order_id", 999)]],
    # leg 2 at a price whose spread overflows a double: refused, not stored as infinity
    ("PUT", "/v4/signal/order", {"passphrase": "webhook", "order_id": 101, "symbol": "B", "price": -1e308,
                                 "filled_qty": 1}, "application/json"),
    ("PUT", "/v4/signal/updateorder", "[]", "application/json"),
    ("PUT", "/v4/signal/order", "x" * 70000, "text/plain"),
    ("GET", "/v4/signals/-5", None, ""),
    ("GET", "/v4/signals/abc", None, ""),
    ("GET", "/v4/signals/1e3", None, ""),
    ("GET", "/v4/signals/status/waiting/x", None, ""),
    ("GET", "/v4/signals/ticker/A-B/-1", None, ""),
    ("GET", "/v4/signal/-1", None, ""),
    ("GET", "/v4/signal/1.0", None, ""),
    ("GET", "/v4/signal/" + "9" * 40, None, ""),
    ("DELETE", "/v4/signal/1", None, ""),
    ("POST", "/v4/signal/1", {}, "application/json"),
    ("DELETE", "/v4/signals/0", None, ""),
]


def snapshot() -> list[tuple]:
    return [tuple(getattr(row, key) for key in SIGNAL_KEYS) for row in Signal.select().order_by(Signal.rowid)]


@pytest.mark.gen_test(timeout=60)
async def test_bad_input_on_signal_routes(api, store) -> None:
    store.write_sync(add_instruments, {"A": ("STK", "USD", 1), "B": ("STK", "USD", 0)}, {"A-B": (3.0, 1)})
    assert (await api.post("/v4/webhook", webhook("A-3*B", order_id1=100, order_id2=101))).code == 200
    assert (await api.put("/v4/signal/order", GOOD_ORDER)).code == 200  # price1 set: the row has fill state
    before = snapshot()
    for method, path, body, content_type in CASES:
        if isinstance(body, (dict, list)):
            reply = await api.call(method, path, raw=json.dumps(body), content_type=content_type)
        else:
            reply = await api.call(method, path, raw=body, content_type=content_type or "application/json")
        case = f"{method} {path} {str(body)[:120]!r}"
        assert 400 <= reply.code < 500, f"{case} -> {reply.code} {reply.text[:200]}"
        assert reply.headers["Content-Type"] == "application/json", case
        assert isinstance(reply.json, dict) and "message" in reply.json or "error" in reply.json, case
        assert snapshot() == before, f"{case} changed a row"
