"""The rules of SPEC §3, §5.1–5.5 and Appendix C for the signal routes that the table tests do not show:
which error wins, the texts of untyped arguments, full-replacement defaults, key orders, the exact wire format.
"""

from __future__ import annotations

import json

import pytest

from pairs import messages
from pairs.db import DeliveryLog, Signal
from pairs.wire import SIGNAL_KEYS
from tests.conftest import make_token
from tests.signal_fixtures import PAIRS_6_4, TICKERS_6_4, add_instruments, webhook

WITHOUT_TIMESTAMP = [k for k in SIGNAL_KEYS if k != "timestamp"]
NESTED_WRONG = {"message": {"passphrase": "incorrect passphrase."}}


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, {**TICKERS_6_4, "A": ("STK", "USD", 1), "B": ("STK", "USD", 0)},
                     {**PAIRS_6_4, "A-B": (3.0, 1)})


def count() -> int:
    return Signal.select().count()


def order(symbol: str, order_id, price, qty, **extra) -> dict:
    return {"passphrase": "webhook", "symbol": symbol, "order_id": order_id, "price": price, "filled_qty": qty,
            **extra}


@pytest.mark.gen_test(timeout=30)
async def test_the_body_is_parsed_before_the_passphrase_is_checked(api, instruments) -> None:
    """§3.3 step 4 (and §5.1–5.3 step 1/2): a field error wins over a wrong passphrase."""
    reply = await api.post("/v4/webhook", {"passphrase": "wrong", "ticker": "LNT", "order_contracts": 1})
    assert (reply.code, reply.json) == (400, {"message": {"order_action": "'order_action' cannot be empty!"}})
    reply = await api.put("/v4/webhook", {"passphrase": "wrong", "rowid": 1, "ticker": "LNT", "order_action": "buy"})
    assert (reply.code, reply.json) == (400, {"message": {"order_contracts": "'order_contracts' cannot be empty!"}})
    reply = await api.put("/v4/signal/order", {"passphrase": "wrong", "order_id": 1, "price": 1, "filled_qty": 1})
    assert (reply.code, reply.json) == (400, {"message": {"symbol": messages.MISSING}})
    # and the passphrase wins over a missing row (§5.2 step 2 before 3, §5.3 before the lookup)
    reply = await api.put("/v4/webhook", webhook("LNT", rowid=99, passphrase="wrong"))
    assert (reply.code, reply.json) == (401, NESTED_WRONG)
    reply = await api.put("/v4/signal/order", order("A", 999, 1, 1, passphrase="wrong"))
    assert (reply.code, reply.json) == (401, NESTED_WRONG)
    reply = await api.put("/v4/signal/updateorder", order("A", 999, 1, 1, passphrase=None))
    assert (reply.code, reply.json) == (400, {"message": {"passphrase": "'passphrase' cannot be empty!"}})
    assert count() == 0


@pytest.mark.gen_test(timeout=30)
async def test_first_failing_argument_in_declaration_order(api, instruments) -> None:
    """§3.1: only the first failing argument of §5.1's order is reported; untyped ones carry Python's text."""
    cases = [
        ({"passphrase": "webhook", "timestamp": "x"}, "timestamp", messages.DATE_HELP),  # before ticker
        ({"passphrase": "webhook", "ticker": "LNT", "order_action": "buy", "order_price": "x"},
         "order_contracts", "'order_contracts' cannot be empty!"),  # missing, and before order_price
        (webhook("LNT", order_price="abc"), "order_price", "could not convert string to float: 'abc'"),
        (webhook("LNT", mar_pos_size="abc"), "mar_pos_size", "invalid literal for int() with base 10: 'abc'"),
        (webhook("LNT", pre_mar_pos_size="1.5"), "pre_mar_pos_size", "invalid literal for int() with base 10: '1.5'"),
        (webhook("LNT", order_price="abc", mar_pos_size="abc"), "order_price",
         "could not convert string to float: 'abc'"),
        ({**webhook("LNT"), "ticker": None}, "ticker", "'ticker' cannot be empty!"),  # null: required (A.3)
    ]
    for body, field, text in cases:
        reply = await api.post("/v4/webhook", body)
        assert (reply.code, reply.json) == (400, {"message": {field: text}}), body
    for body, field, text in [
        ({"passphrase": "webhook", "order_id": "abc", "symbol": "A", "price": 1, "filled_qty": 1}, "order_id",
         "invalid literal for int() with base 10: 'abc'"),
        ({"passphrase": "webhook", "order_id": None, "symbol": "A", "price": 1, "filled_qty": 1}, "order_id",
         messages.MISSING),
        ({"passphrase": "webhook", "order_id": 1, "symbol": "A", "filled_qty": 1}, "price", messages.MISSING),
        ({"passphrase": "webhook", "order_id": 1, "symbol": "A", "price": "x", "filled_qty": 1}, "price",
         "could not convert string to float: 'x'"),
        ({"passphrase": "webhook", "order_id": 1, "symbol": "A", "price": 1}, "filled_qty", messages.MISSING),
    ]:
        reply = await api.put("/v4/signal/order", body)
        assert (reply.code, reply.json) == (400, {"message": {field: text}}), body
    assert count() == 0


@pytest.mark.gen_test
async def test_wire_format_of_answers(api, instruments) -> None:
    """§3.2: `", "`/`": "` separators, a trailing newline, application/json."""
    reply = await api.post("/v4/webhook", webhook("LNT"))
    assert reply.text == '{"message": "\'signal\' created successfully."}\n'
    assert reply.headers["Content-Type"] == "application/json"
    reply = await api.post("/v4/webhook", {})
    assert reply.text == '{"message": {"passphrase": "\'passphrase\' cannot be empty!"}}\n'
    reply = await api.get("/v4/signal/1")
    assert reply.text.startswith('{"rowid": 1, "timestamp": "') and reply.text.endswith('"status_msg": null}\n')


@pytest.mark.gen_test
async def test_rowid_is_ignored_on_post_and_values_come_from_query_and_form(api, instruments) -> None:
    """§5.1: rowid is ignored on POST; §3.1/A.3: the query string and form bodies are read, JSON wins."""
    assert (await api.post("/v4/webhook", webhook("LNT", rowid=7))).code == 200
    assert [r.rowid for r in Signal.select()] == [1]
    reply = await api.post("/v4/webhook?passphrase=webhook&ticker=FTS&order_action=sell&order_contracts=2",
                           webhook("LNT", order_contracts=3))
    assert reply.code == 200
    row = Signal.get_by_id(2)
    assert (row.ticker, row.order_action, row.order_contracts) == ("LNT", "buy", 3)  # JSON wins
    reply = await api.post("/v4/webhook?passphrase=webhook&ticker=LNT&order_action=sell&order_contracts=2")
    assert (reply.code, Signal.get_by_id(3).order_action) == (200, "sell")
    reply = await api.call("POST", "/v4/webhook", raw="passphrase=webhook&ticker=LNT&order_action=buy&"
                           "order_contracts=4&order_price=1.25", content_type="application/x-www-form-urlencoded")
    assert reply.code == 200
    assert (Signal.get_by_id(4).order_contracts, Signal.get_by_id(4).order_price) == (4, 1.25)


@pytest.mark.gen_test
async def test_more_than_two_legs_keep_the_ticker_fields_of_the_body(api, instruments) -> None:
    """§6.1 step 1 over HTTP: nothing is derived, so the body's ticker_type/ticker1/ticker2/hedge_param stay."""
    body = webhook("LNT-3*FTS-2*FTS", ticker_type="pair", ticker1="LNT", ticker2="FTS", hedge_param=3)
    reply = await api.post("/v4/webhook", body)
    assert (reply.code, reply.json) == (201, {"message": "recorded with problematic ticker!"})
    got = (await api.get("/v4/signal/1")).json
    assert (got["ticker_type"], got["ticker1"], got["ticker2"], got["hedge_param"]) == ("pair", "LNT", "FTS", 3.0)
    # the status check ran on them: the pair LNT-FTS exists, but its hedge is 1.25
    assert (got["order_status"], got["status_msg"]) == ("canceled", "wrong hedge")


@pytest.mark.gen_test
async def test_resource_test_examples_and_boolean_texts(api, instruments) -> None:
    """§6.4's resource-test examples; A.3/§10.3-1: "false" is false (the original took it as true)."""
    for ticker, extra, answer in [
        ("A-3*B", {}, (200, "'signal' created successfully.")),
        ("B", {}, (201, "recorded with unknown or passive ticker!")),
        ("abc-2.35*DEF", {}, (201, "recorded with problematic ticker!")),
        ("abc-2.35*DEF", {"bypass_ticker_status": True}, (201, "recorded with problematic ticker!")),
        ("PASV", {"bypass_ticker_status": "false"}, (201, "recorded with unknown or passive ticker!")),
        ("PASV", {"bypass_ticker_status": "FALSE"}, (201, "recorded with unknown or passive ticker!")),
        ("PASV", {"bypass_ticker_status": 0}, (201, "recorded with unknown or passive ticker!")),
        ("PASV", {"bypass_ticker_status": "1"}, (200, "'signal' created successfully.")),
    ]:
        reply = await api.post("/v4/webhook", webhook(ticker, **extra))
        assert (reply.code, reply.json) == (answer[0], {"message": answer[1]}), (ticker, extra)


@pytest.mark.gen_test
async def test_put_is_a_full_replacement_with_the_original_defaults(api, instruments) -> None:
    """§5.2 step 5: omitted fields become NULL, order_comment "" and order_status "waiting"; the answer has every
    key but timestamp, in the §2.1 order, with the requested rowid."""
    full = webhook("LNT", order_status="rerouted", order_comment="c", error_msg="e", status_msg="s", order_id1=5,
                   price1=1.5, fill_price=1.5, slip=0.5, mar_pos="long")
    await api.post("/v4/webhook", full)
    reply = await api.put("/v4/webhook", {"passphrase": "webhook", "rowid": "1", "ticker": "LNT",
                                          "order_action": "sell", "order_contracts": "7"})
    assert reply.code == 200
    assert list(reply.json) == WITHOUT_TIMESTAMP
    assert reply.json == {
        "rowid": 1, "ticker": "LNT", "order_action": "sell", "order_contracts": 7, "order_price": None,
        "mar_pos": None, "mar_pos_size": None, "pre_mar_pos": None, "pre_mar_pos_size": None, "order_comment": "",
        "order_status": "waiting", "ticker_type": "single", "ticker1": "LNT", "ticker2": None, "hedge_param": None,
        "order_id1": None, "order_id2": None, "price1": None, "price2": None, "fill_price": None, "slip": None,
        "error_msg": None, "status_msg": None}
    stored = (await api.get("/v4/signal/1")).json
    assert stored == {**reply.json, "timestamp": stored["timestamp"]}
    assert stored["timestamp"] != "None"  # A.4: kept


@pytest.mark.gen_test
async def test_order_answers_and_boolean_texts(api, instruments) -> None:
    """§5.3: the answer is the signal without timestamp; A.3: "cancel": "false" is a fill, not a cancel."""
    await api.post("/v4/webhook", webhook("A", order_id1=100, order_contracts=10, order_price=20))
    reply = await api.put("/v4/signal/order", order("A", 100, 20.5, 4, cancel="false", partial="no"))
    assert reply.code == 200
    assert list(reply.json) == WITHOUT_TIMESTAMP
    assert (reply.json["order_status"], reply.json["status_msg"], reply.json["slip"]) == (
        "part.filled", "remained: 6.0", -0.5)
    reply = await api.put("/v4/signal/order", order("A", 100, 20.5, 4, cancel=1))
    assert (reply.json["order_status"], reply.json["status_msg"]) == ("canceled", "multiple active orders")
    # other methods on the literal route fall through to the rowid route (§5 routing note)
    for path in ("/v4/signal/order", "/v4/signal/updateorder"):
        reply = await api.get(path)
        assert (reply.code, reply.json) == (404, {"message": "item not found."})


@pytest.mark.gen_test
async def test_appendix_c_list_entry_of_an_unregistered_single(api, instruments) -> None:
    reply = await api.post("/v4/webhook", {"passphrase": "webhook", "ticker": "AAA", "order_action": "buy",
                                           "order_contracts": 1})
    assert (reply.code, reply.json) == (201, {"message": "recorded with problematic ticker!"})
    listed = (await api.get("/v4/signals/0")).json
    entry = listed["signals"][0]
    assert entry == {
        "rowid": 1, "timestamp": entry["timestamp"], "ticker": "AAA", "order_action": "buy", "order_contracts": 1,
        "order_price": None, "mar_pos": None, "mar_pos_size": None, "pre_mar_pos": None, "pre_mar_pos_size": None,
        "order_comment": "", "order_status": "error", "ticker_type": "single", "ticker1": "", "ticker2": None,
        "hedge_param": None, "order_id1": None, "order_id2": None, "price1": None, "price2": None,
        "fill_price": None, "slip": None, "error_msg": None, "status_msg": "unknown ticker"}
    assert list(entry) == list(SIGNAL_KEYS)
    assert listed["notoken_limit"] == 5


@pytest.mark.gen_test(timeout=30)
async def test_list_limits(api, instruments, user_token) -> None:
    """§5.4 with A.3: the caps apply to the integer; a non-Bearer header is anonymous; bad numbers are 400 for
    everyone; the A-B list takes any ticker_type."""
    for _ in range(25):
        await api.post("/v4/webhook", webhook("LNT", bypass_ticker_status=True))
    single_with_leg2 = webhook("LNT", ticker2="FTS")  # a single keeps the body's ticker2 (§5.1 quirk)
    assert (await api.post("/v4/webhook", single_with_leg2)).code == 200
    for path, anonymous in [("/v4/signals/status/waiting/00", 20), ("/v4/signals/status/waiting/21", 20),
                            ("/v4/signals/ticker/LNT/00", 5), ("/v4/signals/ticker/LNT/000", 5),
                            ("/v4/signals/status/waiting/3", 3)]:
        assert len((await api.get(path)).json["signals"]) == anonymous, path
        reply = await api.get(path, headers={"Authorization": "Token abc"})  # not Bearer: anonymous (§3.5)
        assert len(reply.json["signals"]) == anonymous, path
    assert len((await api.get("/v4/signals/status/waiting/0", token=user_token)).json["signals"]) == 26
    reply = await api.get("/v4/signals/ticker/LNT-FTS/0")
    assert [(s["rowid"], s["ticker_type"]) for s in reply.json["signals"]] == [(26, "single")]
    for path in ("/v4/signals/x", "/v4/signals/status/waiting/-1", "/v4/signals/ticker/LNT/1.5"):
        reply = await api.get(path, token=user_token)
        assert (reply.code, list(reply.json["message"])) == (400, ["number_of_items"]), path
    garbled = make_token("user1", False, True)[:-2] + "xx"
    assert (await api.get("/v4/signals/status/waiting/0", token=garbled)).code == 401


@pytest.mark.gen_test
async def test_delete_checks_the_token_before_the_row(api, instruments, admin_token, user_token) -> None:
    """§5.5 with §3.3: fresh JWT, then admin, then the row."""
    await api.post("/v4/webhook", webhook("LNT"))
    stale_admin = make_token("admin", True, fresh=False)
    reply = await api.delete("/v4/signal/1", token=stale_admin)
    assert (reply.code, reply.text) == (401, '{"error":"fresh_token_required","message":"The token is not fresh."}\n')
    reply = await api.delete("/v4/signal/99", token=user_token)
    assert (reply.code, reply.json) == (401, {"message": "'admin' privilege required."})
    reply = await api.delete("/v4/signal/99", token=admin_token)
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    assert count() == 1


@pytest.mark.gen_test
async def test_oversize_bodies_are_413_and_logged(api, app, instruments) -> None:
    """A.2/A.3: a body over the cap is a 413 JSON answer; the delivery log still records it, without the body, which
    was refused unread for its declared length."""
    big = webhook("LNT", order_comment="x" * (64 * 1024))
    reply = await api.post("/v4/webhook", big)
    assert (reply.code, reply.json) == (413, {"message": "the request body is larger than 65536 bytes."})
    reply = await api.put("/v4/signal/updateorder", order("y" * (64 * 1024), 1, 1, 1))
    assert reply.code == 413
    await api.put("/v4/webhook", webhook("LNT", rowid=5))
    assert count() == 0
    await app.ctx.store.write(lambda: None)  # the log rows are queued before this: the writer is FIFO
    rows = list(DeliveryLog.select().order_by(DeliveryLog.id))
    assert [(r.method, r.route, r.status) for r in rows] == [
        ("POST", "/v4/webhook", 413), ("PUT", "/v4/signal/updateorder", 413), ("PUT", "/v4/webhook", 404)]
    assert rows[0].size == len(json.dumps(big)) and rows[0].content_type == "application/json"
    assert [(r.body, r.message) for r in rows[:2]] == [(None, "the request body is larger than 65536 bytes.")] * 2
    assert '"passphrase": "***"' in rows[2].body and "webhook\"" not in rows[2].body


def multipart(boundary: str, **fields: str) -> str:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    return "".join(parts) + f"--{boundary}--\r\n"


@pytest.mark.gen_test(timeout=30)
async def test_delivery_log_redacts_the_passphrase_of_every_body_the_webhook_accepts(api, app, instruments) -> None:
    """A.2: multipart and percent-encoded forms are accepted (§3.1) - their passphrase must not reach the log."""
    fields = {"ticker": "LNT", "order_action": "buy", "order_contracts": "1"}
    sent = [
        (multipart("XyZ", passphrase="webhook", **fields), "multipart/form-data; boundary=XyZ", 200),
        (multipart("XyZ", passphrase="s3cret-guess", **fields), "multipart/form-data; boundary=XyZ", 401),
        ("pass%70hrase=webhook&ticker=LNT&order_action=buy&order_contracts=1",
         "application/x-www-form-urlencoded", 200),
        ("pass%70hrase=web%68ook&ticker=LNT&order_action=buy&order_contracts=1",
         "application/x-www-form-urlencoded", 200),
        ("passphrase=s3cret+guess&ticker=LNT", "application/x-www-form-urlencoded", 400),
        # a one-letter guess is not hidden everywhere it occurs (the row would be unreadable); its field still is
        (multipart("XyZ", passphrase="e", **fields), "multipart/form-data; boundary=XyZ", 401),
    ]
    for raw, content_type, status in sent:
        assert (await api.call("POST", "/v4/webhook", raw=raw, content_type=content_type)).code == status, raw
    await app.ctx.store.write(lambda: None)  # the log rows are queued before this: the writer is FIFO
    bodies = [r.body for r in DeliveryLog.select().order_by(DeliveryLog.id)]
    assert bodies[0] == multipart("XyZ", passphrase="***", **fields)
    assert bodies[1] == multipart("XyZ", passphrase="***", **fields)
    assert bodies[2] == "pass%70hrase=***&ticker=LNT&order_action=buy&order_contracts=1"
    assert bodies[3] == "pass%70hrase=***&ticker=LNT&order_action=buy&order_contracts=1"
    assert bodies[4] == "passphrase=***&ticker=LNT"
    assert bodies[5] == multipart("XyZ", passphrase="e", **fields).replace('"\r\n\r\ne\r\n', '"\r\n\r\n***\r\n', 1)
    for body in bodies:
        assert "webhook" not in body and "s3cret" not in body and "web%68ook" not in body


@pytest.mark.gen_test(timeout=30)
async def test_only_the_whole_passphrase_is_accepted(api, instruments) -> None:
    """A leading part of the passphrase, or the passphrase with more after it, is wrong: a compare of only the
    first len(given) or len(configured) characters would let ``w`` or ``webhook!`` in (issue 14, survivor 1)."""
    for given in ("w", "web", "webhoo", "webhook!", "webhookwebhook", "Webhook"):
        reply = await api.post("/v4/webhook", webhook("LNT", passphrase=given))
        assert (reply.code, reply.json) == (401, {"message": "incorrect passphrase."}), given
        reply = await api.put("/v4/signal/order", order("A", 100, 1, 1, passphrase=given))
        assert (reply.code, reply.json) == (401, NESTED_WRONG), given
    assert count() == 0
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
