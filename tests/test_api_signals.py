"""HTTP tests of SPEC §5.1–5.5: every status code and message of the signal routes, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import time

import pytest

from pairs.db import DeliveryLog, Signal
from tests.signal_fixtures import PAIRS_6_4, TICKERS_6_4, add_instruments, signal_count, webhook

OK = (200, "'signal' created successfully.")
PROBLEMATIC = (201, "recorded with problematic ticker!")
UNKNOWN = (201, "recorded with unknown or passive ticker!")

# SPEC §6.4, with the A.4 decisions marked: ticker, extra body, (code, message), stored order_status, status_msg
TABLE_6_4 = [
    ("NYSE:LNT", {}, OK, "waiting", None),
    ("LNT", {}, OK, "waiting", None),
    ("NYSE:LNT-1.25*NYSE:FTS", {}, OK, "waiting", None),
    ("NYSE:LNT-NYSE:FTS*1.25", {}, OK, "waiting", None),
    ("LNT-1.3*FTS", {}, UNKNOWN, "canceled", "wrong hedge"),
    ("LNT-FTS", {}, UNKNOWN, "canceled", "wrong hedge"),
    ("BF.A-0.7*NYSE:BF.B", {}, UNKNOWN, "canceled", "passive ticker"),
    ("NYSE:BF.A", {}, OK, "waiting", None),  # A.4: found as BF.A (the original: error / unknown ticker)
    ("USD.CAD", {}, OK, "waiting", None),
    ("USD.CAD-EUR.USD", {}, OK, "waiting", None),
    ("USDCAD", {}, PROBLEMATIC, "error", "unknown ticker"),
    ("EUR.JPY", {}, PROBLEMATIC, "error", "currency mismatch!"),
    ("BTCUSD", {}, OK, "waiting", None),  # A.4: found as BTCUSD (the original: error / unknown ticker)
    ("BTCUSD-SHIBUSD", {}, UNKNOWN, "canceled", "passive ticker"),
    # A.4: RRPUSD is registered, so the check passes and the parse failure's text stays (as for EUR.JPY)
    ("RRPUSD", {}, PROBLEMATIC, "error", "currency mismatch!"),
    ("PASV", {}, UNKNOWN, "canceled", "passive ticker"),
    ("WTCH", {}, UNKNOWN, "canceled", "passive ticker"),  # A.4: watchlist is not tradable (original: 200)
    ("spy", {}, PROBLEMATIC, "error", "unknown ticker"),
    ("LNT-3*FTS-2*FTS", {}, PROBLEMATIC, "error", "unknown ticker"),
    ("0.7*NYSE:LNT", {}, PROBLEMATIC, "error", "problematic ticker!"),
    ("FTS", {}, UNKNOWN, "canceled", "passive ticker"),
    ("PASV", {"bypass_ticker_status": True}, OK, "waiting", None),
    ("PASV", {"bypass_ticker_status": "yes"}, OK, "waiting", None),
    ("spy", {"bypass_ticker_status": True}, PROBLEMATIC, "error", "problematic ticker!"),
]


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, TICKERS_6_4, PAIRS_6_4)


def stored(rowid: int) -> Signal:
    return Signal.get_by_id(rowid)


@pytest.mark.gen_test(timeout=30)  # dozens of requests: room for a loaded CI machine
async def test_table_6_4_webhook_outcomes(api, instruments) -> None:
    for number, (ticker, extra, answer, status, status_msg) in enumerate(TABLE_6_4, 1):
        reply = await api.post("/v4/webhook", webhook(ticker, **extra))
        assert (reply.code, reply.json) == (answer[0], {"message": answer[1]}), ticker
        row = stored(number)
        assert (row.ticker, row.order_status, row.status_msg) == (ticker, status, status_msg)


@pytest.mark.gen_test
async def test_webhook_stores_every_field_and_derived_legs(api, instruments) -> None:
    reply = await api.post("/v4/webhook", webhook("NYSE:LNT-1.25*NYSE:FTS", timestamp="2026-11-25 08:58:42"))
    assert reply.code == 200
    got = (await api.get("/v4/signal/1")).json
    assert got == {
        "rowid": 1, "timestamp": "2026-11-25 08:58:42", "ticker": "NYSE:LNT-1.25*NYSE:FTS", "order_action": "buy",
        "order_contracts": 10, "order_price": 1.5, "mar_pos": "long", "mar_pos_size": 10, "pre_mar_pos": "flat",
        "pre_mar_pos_size": 0, "order_comment": "Long", "order_status": "waiting", "ticker_type": "pair",
        "ticker1": "LNT", "ticker2": "FTS", "hedge_param": 1.25, "order_id1": None, "order_id2": None,
        "price1": None, "price2": None, "fill_price": None, "slip": None, "error_msg": None, "status_msg": None}
    assert list(got) == list(Signal._meta.fields)  # the key order of SPEC §2.1


@pytest.mark.gen_test
async def test_webhook_defaults_and_single_keeps_body_ticker2(api, instruments) -> None:
    body = {"passphrase": "webhook", "ticker": "LNT", "order_action": "sell", "order_contracts": 3,
            "ticker2": "X", "hedge_param": 2}
    assert (await api.post("/v4/webhook", body)).code == 200
    row = stored(1)
    assert (row.order_comment, row.order_status, row.ticker_type, row.ticker1) == ("", "waiting", "single", "LNT")
    assert (row.ticker2, row.hedge_param) == ("X", 2.0)  # §5.1 quirk: body values survive on singles
    assert row.timestamp is not None


@pytest.mark.gen_test
async def test_tradingview_text_plain_with_trailing_newline(api, instruments) -> None:
    raw = json.dumps(webhook("NYSE:LNT")) + "\n"
    reply = await api.call("POST", "/v4/webhook", raw=raw, content_type="text/plain; charset=utf-8")
    assert (reply.code, reply.json) == (200, {"message": "'signal' created successfully."})
    assert reply.headers["Content-Type"] == "application/json"


@pytest.mark.gen_test
async def test_webhook_post_errors(api, instruments) -> None:
    reply = await api.post("/v4/webhook", {})
    assert (reply.code, reply.json) == (400, {"message": {"passphrase": "'passphrase' cannot be empty!"}})
    reply = await api.post("/v4/webhook", {"passphrase": "webhook"})
    assert (reply.code, reply.json) == (400, {"message": {"ticker": "'ticker' cannot be empty!"}})
    reply = await api.post("/v4/webhook", webhook("LNT", order_contracts="x"))
    assert (reply.code, reply.json) == (400, {"message": {"order_contracts": "'order_contracts' cannot be empty!"}})
    reply = await api.post("/v4/webhook", webhook("LNT", timestamp="25.11.2026"))
    assert (reply.code, reply.json) == (400, {"message": {"timestamp": "date format should be %Y-%m-%d %H:%M:%S."}})
    reply = await api.post("/v4/webhook", webhook("LNT", passphrase="wrong"))
    assert (reply.code, reply.json) == (401, {"message": "incorrect passphrase."})  # flat on POST
    reply = await api.call("POST", "/v4/webhook", raw='{"passphrase": ')
    assert (reply.code, reply.json) == (
        400, {"message": "The browser (or proxy) sent a request that this server could not understand.",
              "detail": "invalid JSON at line 1 column 15: Expecting value"})
    assert signal_count() == 0


@pytest.mark.gen_test
async def test_webhook_put_full_replacement(api, instruments) -> None:
    await api.post("/v4/webhook", webhook("LNT", timestamp="2026-11-25 08:00:00", error_msg="e"))
    body = webhook("NYSE:LNT-1.25*NYSE:FTS", rowid=1, order_status="rerouted", order_id1="555", order_id2=556.0)
    reply = await api.put("/v4/webhook", body)
    assert reply.code == 200
    assert "timestamp" not in reply.json
    assert reply.json["rowid"] == 1
    assert reply.json["hedge_param"] == 1.25 and isinstance(reply.json["hedge_param"], float)  # A.4: a number
    assert (reply.json["order_status"], reply.json["order_id1"], reply.json["order_id2"]) == ("rerouted", 555, 556)
    row = stored(1)
    assert row.error_msg is None  # omitted -> NULL (full replacement)
    assert row.timestamp.strftime("%Y-%m-%d %H:%M:%S") == "2026-11-25 08:00:00"  # A.4: omitted keeps it
    await api.put("/v4/webhook", webhook("LNT", rowid=1, timestamp=None))
    assert stored(1).timestamp.strftime("%Y-%m-%d %H:%M:%S") == "2026-11-25 08:00:00"  # null keeps it too
    await api.put("/v4/webhook", webhook("LNT", rowid=1, timestamp="2026-11-26T10:00:00+01:00"))
    assert stored(1).timestamp.strftime("%Y-%m-%d %H:%M:%S") == "2026-11-26 09:00:00"
    # implicit hedge: a number too (the original answered the integer 1)
    reply = await api.put("/v4/webhook", webhook("USD.CAD-EUR.USD", rowid=1))
    assert reply.json["hedge_param"] == 1.0 and isinstance(reply.json["hedge_param"], float)


@pytest.mark.gen_test
async def test_webhook_put_status_check_and_errors(api, instruments) -> None:
    await api.post("/v4/webhook", webhook("LNT"))
    reply = await api.put("/v4/webhook", webhook("PASV", rowid=1, order_status="rerouted"))
    assert (reply.code, reply.json["order_status"], reply.json["status_msg"]) == (200, "canceled", "passive ticker")
    reply = await api.put("/v4/webhook", webhook("PASV", rowid=1, order_status="rerouted",
                                                 bypass_ticker_status=True))
    assert (reply.code, reply.json["order_status"]) == (200, "rerouted")
    reply = await api.put("/v4/webhook", webhook("LNT", rowid=1, passphrase="nope"))
    assert (reply.code, reply.json) == (401, {"message": {"passphrase": "incorrect passphrase."}})  # nested on PUT
    reply = await api.put("/v4/webhook", webhook("LNT", rowid=99))
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    reply = await api.put("/v4/webhook", webhook("LNT"))  # rowid defaults to 0
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    reply = await api.put("/v4/webhook", {"passphrase": "webhook", "rowid": 1})
    assert (reply.code, reply.json) == (400, {"message": {"ticker": "'ticker' cannot be empty!"}})
    assert stored(1).order_status == "rerouted"


async def pair_signal_with_orders(api) -> None:
    """§6.6 setup A."""
    await api.post("/v4/webhook", webhook("A-3*B", order_contracts=100, order_price=1))
    reply = await api.put("/v4/webhook", webhook("A-3*B", rowid=1, order_contracts=100, order_price=1,
                                                 order_id1=100, order_id2=101))
    assert reply.code == 200


@pytest.fixture
def setup_a(store):
    store.write_sync(add_instruments, {"A": ("STK", "USD", 1), "B": ("STK", "USD", 0)}, {"A-B": (3.0, 1)})


def order(symbol: str, order_id, price, qty, **extra) -> dict:
    return {"passphrase": "webhook", "symbol": symbol, "order_id": order_id, "price": price, "filled_qty": qty,
            **extra}


@pytest.mark.gen_test(timeout=30)  # dozens of requests: room for a loaded CI machine
async def test_order_update_table_6_6(api, setup_a) -> None:
    await pair_signal_with_orders(api)
    reply = await api.put("/v4/signal/order", order("A", 100, 41.45, 90))
    assert reply.code == 200 and "timestamp" not in reply.json
    assert (reply.json["order_status"], reply.json["status_msg"], reply.json["price1"]) == (
        "filled(...)", "remained(A): 10.0", 41.45)
    reply = await api.put("/v4/signal/updateorder", order("B", 101, 15.05, 270))  # the v4.0 name
    assert (reply.json["order_status"], reply.json["status_msg"], reply.json["fill_price"], reply.json["slip"]) == (
        "part.filled", "remained(B): 30.0", -3.7, 4.7)
    reply = await api.put("/v4/signal/order", order("B", 101, 15.05, 300))
    assert (reply.json["order_status"], reply.json["status_msg"]) == ("filled", "")
    reply = await api.put("/v4/signal/order", order("B", 101, 99, 300))
    assert (reply.code, reply.json["price2"], reply.json["order_status"]) == (200, 15.05, "filled")
    reply = await api.put("/v4/signal/order", order("A", 100, 41.45, 90, passphrase="wrong"))
    assert (reply.code, reply.json) == (401, {"message": {"passphrase": "incorrect passphrase."}})
    reply = await api.put("/v4/signal/order", order("A", 200, 41.45, 90))
    assert (reply.code, reply.json) == (404, {"message": "item not found."})


@pytest.mark.gen_test(timeout=30)
async def test_order_update_re_sent_fill_changes_nothing(api, setup_a) -> None:
    """Issue 9 item 20 (A.4): leg 1, leg 2, leg 1 again; the third message used to turn remained(B): 30.0 into
    210.0 (leg 1's 90 subtracted from leg 2's 300). Then the leg-2-first order ends in the same row."""
    await pair_signal_with_orders(api)
    await api.put("/v4/signal/order", order("A", 100, 41.45, 90))
    await api.put("/v4/signal/order", order("B", 101, 15.05, 270))
    after_both = (await api.get("/v4/signal/1")).json
    assert (after_both["order_status"], after_both["status_msg"]) == ("part.filled", "remained(B): 30.0")
    reply = await api.put("/v4/signal/order", order("A", 100, 41.45, 90))
    assert (reply.code, reply.json["status_msg"]) == (200, "remained(B): 30.0")
    assert (await api.get("/v4/signal/1")).json == after_both

    await api.post("/v4/webhook", webhook("A-3*B", order_contracts=100, order_price=1))
    assert (await api.put("/v4/webhook", webhook("A-3*B", rowid=2, order_contracts=100, order_price=1,
                                                 order_id1=200, order_id2=201))).code == 200
    reply = await api.put("/v4/signal/order", order("B", 201, 15.05, 270))
    assert (reply.json["order_status"], reply.json["status_msg"]) == ("filled(...)", "remained(B): 30.0")
    await api.put("/v4/signal/order", order("A", 200, 41.45, 90))
    await api.put("/v4/signal/order", order("B", 201, 15.05, 270))
    leg_2_first = (await api.get("/v4/signal/2")).json
    assert {**leg_2_first, "rowid": 1, "order_id1": 100, "order_id2": 101, "timestamp": None} == {
        **after_both, "timestamp": None}


@pytest.mark.gen_test
async def test_order_update_errors_cancel_partial(api, setup_a) -> None:
    await pair_signal_with_orders(api)
    reply = await api.put("/v4/signal/order", {"passphrase": "webhook", "symbol": "C", "price": 1, "filled_qty": 1})
    assert (reply.code, reply.json) == (400, {"message": {
        "order_id": "Missing required parameter in the JSON body or the post body or the query string"}})
    reply = await api.put("/v4/signal/order", {"passphrase": "webhook", "order_id": 100, "price": 1,
                                               "filled_qty": 1})
    assert (reply.code, reply.json) == (400, {"message": {
        "symbol": "Missing required parameter in the JSON body or the post body or the query string"}})
    reply = await api.put("/v4/signal/order", order("A", 100, 1, 1, partial=True))
    assert (reply.code, reply.json) == (400, {"message": "missing contract amount to update partial fill"})
    reply = await api.put("/v4/signal/order", order("A", 100, 1, 1, partial=True, order_contracts=0))
    assert (reply.code, reply.json) == (400, {"message": "missing contract amount to update partial fill"})
    assert stored(1).order_status == "waiting"
    reply = await api.put("/v4/signal/order", order("A", 100, 1, 1, partial="true", order_contracts=50))
    assert (reply.json["order_contracts"], reply.json["order_status"], reply.json["status_msg"]) == (
        50, "part.filled", "canceled amount: 50")
    reply = await api.put("/v4/signal/order", order("B", 101, 1, 1, cancel=True))
    assert (reply.json["order_status"], reply.json["status_msg"]) == ("canceled", "multiple active orders")


@pytest.mark.gen_test
async def test_order_update_picks_the_newest_signal_with_the_order_id(api, setup_a) -> None:
    for _ in range(2):
        await api.post("/v4/webhook", webhook("A", order_id1=900, order_price=1, order_contracts=5))
    reply = await api.put("/v4/signal/order", order("A", 900, 2, 5))
    assert (reply.json["rowid"], reply.json["order_status"]) == (2, "filled")
    assert stored(1).order_status == "waiting"


@pytest.mark.gen_test(timeout=30)  # dozens of requests: room for a loaded CI machine
async def test_signal_lists(api, instruments, user_token) -> None:
    statuses = ["waiting", "rerouted", "filled", "waiting", "error", "rerouted"] * 5  # 30 signals
    for status in statuses:
        await api.post("/v4/webhook", webhook("LNT", order_status=status, bypass_ticker_status=True))
    await api.post("/v4/webhook", webhook("LNT-1.25*FTS"))
    await api.post("/v4/webhook", webhook("FTS", bypass_ticker_status=True))

    reply = await api.get("/v4/signals/0")
    assert reply.code == 200
    assert list(reply.json) == ["signals", "notoken_limit"]
    assert reply.json["notoken_limit"] == 5
    assert [s["rowid"] for s in reply.json["signals"]] == [32, 31, 30, 29, 28]
    for anonymous_n, expected in (("3", 3), ("00", 5), ("100", 5)):
        assert len((await api.get(f"/v4/signals/{anonymous_n}")).json["signals"]) == expected
    reply = await api.get("/v4/signals/0", token=user_token)
    assert (len(reply.json["signals"]), reply.json["notoken_limit"]) == (32, 5)
    assert len((await api.get("/v4/signals/7", token=user_token)).json["signals"]) == 7

    reply = await api.get("/v4/signals/status/waiting/0")
    assert list(reply.json) == ["signals"]
    rows = reply.json["signals"]
    waiting = [i + 1 for i, s in enumerate(statuses) if s in ("waiting", "rerouted")][::-1]
    assert [s["rowid"] for s in rows] == [32, 31] + waiting[:18]  # anonymous cap 20, newest first, merged
    reply = await api.get("/v4/signals/status/waiting/0", token=user_token)
    assert [s["rowid"] for s in reply.json["signals"]] == [32, 31] + waiting
    reply = await api.get("/v4/signals/status/rerouted/0")
    assert [s["rowid"] for s in reply.json["signals"]] == [30, 26, 24, 20, 18]  # anonymous cap 5
    reply = await api.get("/v4/signals/status/filled/2", token=user_token)
    assert [s["rowid"] for s in reply.json["signals"]] == [27, 21]
    assert (await api.get("/v4/signals/status/nothing/0")).json == {"signals": []}

    reply = await api.get("/v4/signals/ticker/LNT-FTS/0")
    assert [s["rowid"] for s in reply.json["signals"]] == [31]
    reply = await api.get("/v4/signals/ticker/LNT/0", token=user_token)
    assert [s["rowid"] for s in reply.json["signals"]] == list(range(30, 0, -1))  # singles only
    reply = await api.get("/v4/signals/ticker/FTS-X-Y/0")  # three parts: singles of the first
    assert [s["rowid"] for s in reply.json["signals"]] == [32]
    assert len((await api.get("/v4/signals/ticker/LNT/0")).json["signals"]) == 5

    for bad in ("-1", "x", "1.5"):
        reply = await api.get(f"/v4/signals/{bad}")
        assert reply.code == 400 and "number_of_items" in reply.json["message"]
    reply = await api.get("/v4/signals/0", token="garbage")
    assert (reply.code, reply.json["error"]) == (401, "token_invalid")
    reply = await api.delete("/v4/signals/0")
    assert (reply.code, reply.json) == (405, {"message": "The method is not allowed for the requested URL."})


@pytest.mark.gen_test
async def test_single_signal_get_and_delete(api, instruments, admin_token, user_token) -> None:
    await api.post("/v4/webhook", webhook("LNT"))
    assert (await api.get("/v4/signal/1")).json["ticker"] == "LNT"
    for missing in ("2", "abc", "99999999999999", "order"):
        reply = await api.get(f"/v4/signal/{missing}")
        assert (reply.code, reply.json) == (404, {"message": "item not found."}), missing
    reply = await api.delete("/v4/signal/1")
    assert (reply.code, reply.json["error"]) == (401, "authorization_required")
    reply = await api.delete("/v4/signal/1", token=user_token)
    assert (reply.code, reply.json) == (401, {"message": "'admin' privilege required."})
    reply = await api.delete("/v4/signal/1", token=admin_token)
    assert (reply.code, reply.json) == (200, {"message": "'signal' deleted successfully."})
    reply = await api.delete("/v4/signal/1", token=admin_token)
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    reply = await api.delete("/v4/signal/x", token=admin_token)
    assert (reply.code, reply.json) == (404, {"message": "item not found."})


@pytest.mark.gen_test(timeout=30)  # dozens of requests: room for a loaded CI machine
async def test_delivery_log_records_accepted_and_rejected_webhooks(api, app, instruments) -> None:
    await api.post("/v4/webhook", webhook("LNT", passphrase="s3cret-wrong"))
    await api.post("/v4/webhook", webhook("LNT"))
    await api.call("POST", "/v4/webhook", raw="passphrase=webhook&ticker=LNT",
                   content_type="application/x-www-form-urlencoded")
    await api.call("POST", "/v4/webhook", raw='{"passphrase": "webhook", "ticker": ', content_type="text/plain")
    await api.put("/v4/signal/order", order("LNT", 1, 1, 1))
    await app.ctx.store.write(lambda: None)  # the log rows are queued before this: the writer is FIFO
    rows = list(DeliveryLog.select().order_by(DeliveryLog.id))
    assert [(r.method, r.route, r.status) for r in rows] == [
        ("POST", "/v4/webhook", 401), ("POST", "/v4/webhook", 200), ("POST", "/v4/webhook", 400),
        ("POST", "/v4/webhook", 400), ("PUT", "/v4/signal/order", 404)]
    assert json.loads(rows[0].body)["passphrase"] == "***"
    assert json.loads(rows[1].body) == {**webhook("LNT"), "passphrase": "***"}
    assert rows[2].body == "passphrase=***&ticker=LNT"
    assert rows[3].body == '{"passphrase": "***", "ticker": '
    for row in rows:
        assert "webhook\"" not in row.body and "s3cret" not in row.body
        assert row.peer == "127.0.0.1" and row.size > 0 and row.received is not None
    assert rows[0].content_type == "application/json"


@pytest.mark.gen_test
async def test_source_allowlist(api, app, instruments) -> None:
    app.ctx.webhook_networks = [ipaddress.ip_network("203.0.113.0/24")]
    reply = await api.post("/v4/webhook", webhook("LNT"))
    assert (reply.code, reply.json) == (403, {"message": "webhooks are not accepted from this address."})
    reply = await api.put("/v4/webhook", webhook("LNT", rowid=1))
    assert reply.code == 403
    assert signal_count() == 0
    app.ctx.webhook_networks = [ipaddress.ip_network("127.0.0.0/8")]
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    await app.ctx.store.write(lambda: None)
    assert [r.status for r in DeliveryLog.select().order_by(DeliveryLog.id)] == [403, 403, 200]


@pytest.mark.gen_test
async def test_delivery_log_keeps_the_configured_days(api, app, store) -> None:
    from handlers.api_signals import purge_delivery_log, start_delivery_log_purge, stop_delivery_log_purge
    from pairs.db import utcnow

    now = utcnow()

    def add_rows() -> None:
        for age_days in (0, 29, 31, 400):
            DeliveryLog.create(received=now - dt.timedelta(days=age_days), peer="1.2.3.4", method="POST",
                               route="/v4/webhook", content_type=None, size=0, status=200, body="")

    await store.write(add_rows)
    await purge_delivery_log(app.ctx)  # DELIVERY_LOG_DAYS defaults to 30
    assert sorted((now - r.received).days for r in DeliveryLog.select()) == [0, 29]
    app.ctx.settings = dataclasses.replace(app.ctx.settings, delivery_log_days=10)
    start_delivery_log_purge(app.ctx)  # purges once at start, then hourly
    await app.ctx.extras["delivery_log_first_purge"]
    stop_delivery_log_purge(app.ctx)
    assert "delivery_log_purge" not in app.ctx.extras
    assert [(now - r.received).days for r in DeliveryLog.select()] == [0]
    app.ctx.settings = dataclasses.replace(app.ctx.settings, delivery_log_days=0)  # 0: keep everything
    await purge_delivery_log(app.ctx)
    assert DeliveryLog.select().count() == 1


@pytest.mark.gen_test
async def test_expired_token_revocations_are_purged_with_the_delivery_log(app, store) -> None:
    """Issue 9: ``revoked_tokens`` grew for ever (users.purge_revocations_tx was never called)."""
    from handlers.api_signals import start_delivery_log_purge, stop_delivery_log_purge
    from pairs import users
    from pairs.db import RevokedToken

    now = int(time.time())
    for jti, exp in (("expired-1", now - 3600), ("expired-2", now - 1), ("alive", now + 900)):
        await store.write(users.revoke_tx, jti, exp)
    start_delivery_log_purge(app.ctx)  # once at start, then hourly
    await app.ctx.extras["delivery_log_first_purge"]
    stop_delivery_log_purge(app.ctx)
    assert [r.jti for r in RevokedToken.select()] == ["alive"]


@pytest.mark.gen_test(timeout=30)  # dozens of requests: room for a loaded CI machine
async def test_database_faults_answer_the_original_messages(api, store, setup_a, admin_token) -> None:
    """§5.1–5.5: a real database fault (here: the table is gone) is a 500 with the original's text."""
    await pair_signal_with_orders(api)
    store.write_sync(lambda: store.db.execute_sql("ALTER TABLE signals RENAME TO signals_gone"))
    try:
        for call, text in (
            (api.post("/v4/webhook", webhook("A")), "an error occurred inserting the item."),
            (api.put("/v4/webhook", webhook("A", rowid=1)), "an error occurred updating the item."),
            (api.put("/v4/signal/order", order("A", 100, 1, 1)), "an error occurred updating the item."),
            (api.get("/v4/signal/1"), "an error occurred while getting the item(s)."),
            (api.delete("/v4/signal/1", token=admin_token), "an error occurred deleting the item."),
        ):
            reply = await call
            assert (reply.code, reply.json) == (500, {"message": text})
        # the lists: the same, plus an empty "signals" (the bridge reads that key of every waiting-list answer,
        # and a KeyError ends its polling for good, A.1.2)
        for path in ("/v4/signals/0", "/v4/signals/status/waiting/0", "/v4/signals/ticker/A/0"):
            reply = await api.get(path)
            assert (reply.code, reply.json) == (500, {"message": "an error occurred while getting the item(s).",
                                                      "signals": []}), path
            assert list(reply.json) == ["message", "signals"]
    finally:
        store.write_sync(lambda: store.db.execute_sql("ALTER TABLE signals_gone RENAME TO signals"))
    assert (await api.get("/v4/signal/1")).code == 200
