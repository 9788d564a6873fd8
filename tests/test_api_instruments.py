"""Tickers (§5.6), ticker PNL (§5.7), pairs (§5.8) and account PNL (§5.9) through HTTP, with A.3/A.4."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import make_token

from pairs.db import Account, DeliveryLog, Pair, Ticker

TICKER_X = {"symbol": "X", "sectype": "STK", "xch": "SMART", "prixch": "NYSE", "currency": "USD",
            "order_type": "RELATIVE", "active": 0, "active_pos": 0.0, "active_pnl": 0.0, "active_cost": 0.0}
NOT_ADMIN = '{"message": "\'admin\' privilege required."}\n'


# ---------------------------------------------------------------------------------------------------------------
# tickers


@pytest.mark.gen_test
async def test_ticker_create_read_list_delete(api, admin_token, user_token):
    reply = await api.post("/v4/ticker", {"symbol": "X", "_csrf_token": "t"}, token=user_token)
    assert (reply.code, reply.text) == (201, '{"message": "\'ticker\' created successfully."}\n')
    reply = await api.get("/v4/ticker/X")
    assert reply.code == 200
    assert reply.text == ('{"symbol": "X", "sectype": "STK", "xch": "SMART", "prixch": "NYSE", "currency": "USD", '
                          '"order_type": "RELATIVE", "active": 0, "active_pos": 0.0, "active_pnl": 0.0, '
                          '"active_cost": 0.0}\n')
    reply = await api.post("/v4/ticker", {"symbol": "X"}, token=user_token)
    assert (reply.code, reply.json) == (400, {"message": "'ticker' with that name already exists."})
    await api.post("/v4/ticker", {"symbol": "BF.A", "active": -1, "active_pos": "3", "active_cost": 1.5},
                   token=user_token)
    reply = await api.get("/v4/tickers/0")
    assert [t["symbol"] for t in reply.json["tickers"]] == ["BF.A", "X"]
    assert reply.json["tickers"][0]["active_pos"] == 3.0 and reply.json["tickers"][0]["active"] == -1
    assert [t["symbol"] for t in (await api.get("/v4/tickers/1")).json["tickers"]] == ["BF.A"]
    assert (await api.get("/v4/ticker/x")).code == 404  # case-sensitive
    reply = await api.get("/v4/ticker/nope")
    assert (reply.code, reply.text) == (404, '{"message": "item not found."}\n')
    reply = await api.delete("/v4/ticker/X", token=user_token)
    assert (reply.code, reply.text) == (401, NOT_ADMIN)
    reply = await api.delete("/v4/ticker/X", token=admin_token)
    assert (reply.code, reply.json) == (200, {"message": "'ticker' deleted successfully."})
    assert (await api.delete("/v4/ticker/X", token=admin_token)).json == {"message": "item not found."}
    assert (await api.get("/v4/ticker/BF.A")).json["symbol"] == "BF.A"


@pytest.mark.gen_test
async def test_ticker_put_updates_or_creates(api, user_token):
    reply = await api.put("/v4/ticker", {"symbol": "X", "xch": "ARCA"}, token=user_token)
    assert (reply.code, reply.json) == (201, {"message": "'ticker' created successfully."})
    # omitted descriptive fields reset to defaults; PNL untouched unless update_pnl
    reply = await api.put("/v4/ticker", {"symbol": "X", "active": 1, "active_pos": 9}, token=user_token)
    assert (reply.code, reply.json) == (200, {**TICKER_X, "active": 1})
    reply = await api.put("/v4/ticker", {"symbol": "X", "update_pnl": "false", "active_pos": 9}, token=user_token)
    assert reply.json["active_pos"] == 0.0  # A.3: "false" is false
    reply = await api.put("/v4/ticker", {"symbol": "X", "update_pnl": True, "active_pos": 9, "active_pnl": -2},
                          token=user_token)
    assert reply.json == {**TICKER_X, "active_pos": 9.0, "active_pnl": -2.0, "active_cost": 0.0}


@pytest.mark.gen_test
async def test_ticker_put_answers_float_columns_as_floats(api, user_token):
    """update_pnl with omitted PNL fields stores the defaults; the answer shows them as GET does (0.0, not 0)."""
    await api.post("/v4/ticker", {"symbol": "X", "active_pos": 5}, token=user_token)
    reply = await api.put("/v4/ticker", {"symbol": "X", "update_pnl": True}, token=user_token)
    expected = ('{"symbol": "X", "sectype": "STK", "xch": "SMART", "prixch": "NYSE", "currency": "USD", '
                '"order_type": "RELATIVE", "active": 0, "active_pos": 0.0, "active_pnl": 0.0, "active_cost": 0.0}\n')
    assert (reply.code, reply.text) == (200, expected)
    assert (await api.get("/v4/ticker/X")).text == expected


@pytest.mark.gen_test
async def test_ticker_and_pair_activation_exclude_each_other(api, user_token):
    await api.post("/v4/pair", {"ticker1": "AA", "ticker2": "BB", "hedge": 1, "contracts": 1, "status": 1},
                   token=user_token)
    reply = await api.post("/v4/ticker", {"symbol": "AA", "active": 1}, token=user_token)
    assert (reply.code, reply.json) == (400, {"message": " ticker is already active in a pair!"})
    reply = await api.put("/v4/ticker", {"symbol": "BB", "active": 1}, token=user_token)
    assert (reply.code, reply.json) == (400, {"message": " ticker is already active in a pair!"})
    assert (await api.post("/v4/ticker", {"symbol": "AA", "active": -1}, token=user_token)).code == 201
    assert (await api.post("/v4/ticker", {"symbol": "CC", "active": 1}, token=user_token)).code == 201
    reply = await api.post("/v4/pair", {"ticker1": "CC", "ticker2": "DD", "hedge": 1, "contracts": 1, "status": 1},
                           token=user_token)
    assert (reply.code, reply.json) == (400, {"message": " one of the tickers is already active!"})
    reply = await api.post("/v4/pair", {"ticker1": "CC", "ticker2": "DD", "hedge": 1, "contracts": 1, "status": 0},
                           token=user_token)
    assert reply.code == 201
    reply = await api.put("/v4/pair", {"name": "CC-DD", "ticker1": "CC", "ticker2": "DD", "hedge": 1,
                                       "contracts": 1, "status": 1}, token=user_token)
    assert (reply.code, reply.json) == (400, {"message": " one of the tickers is already active!"})


@pytest.mark.gen_test
async def test_pair_put_checks_the_legs_of_the_stored_pair_not_the_body_tickers(api, user_token, store):
    """PUT never writes ticker1/ticker2: decoys in the body must not activate a pair whose leg is an active ticker."""
    assert (await api.post("/v4/ticker", {"symbol": "KO", "active": 1}, token=user_token)).code == 201
    assert (await api.post("/v4/pair", {"ticker1": "KO", "ticker2": "PEP", "hedge": 1, "contracts": 1},
                           token=user_token)).code == 201
    reply = await api.put("/v4/pair", {"name": "KO-PEP", "ticker1": "DECOY1", "ticker2": "DECOY2", "hedge": 1,
                                       "contracts": 1, "status": 1}, token=user_token)
    assert (reply.code, reply.json) == (400, {"message": " one of the tickers is already active!"})
    assert Pair.get(Pair.name == "KO-PEP").status == 0
    reply = await api.put("/v4/pair", {"name": "KO-PEP", "ticker1": "DECOY1", "ticker2": "DECOY2", "hedge": 2,
                                       "contracts": 1, "status": -1}, token=user_token)
    assert (reply.code, reply.json["status"], reply.json["ticker1"]) == (200, -1, "KO")


@pytest.mark.gen_test
async def test_ticker_writes_need_a_fresh_token(api):
    stale = make_token("user1", False, fresh=False)
    for method in ("POST", "PUT"):
        reply = await api.call(method, "/v4/ticker", {"symbol": "X"}, token=stale)
        assert (reply.code, reply.json["error"]) == (401, "fresh_token_required")
        reply = await api.call(method, "/v4/ticker", {"symbol": "X"})
        assert (reply.code, reply.json["error"]) == (401, "authorization_required")


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/v4/ticker/pnl", "/v4/ticker/updatepnl"])
async def test_ticker_pnl_push(api, user_token, path):
    await api.post("/v4/ticker", {"symbol": "X"}, token=user_token)
    reply = await api.put(path, {"passphrase": "webhook", "symbol": "X", "active_pos": 3})
    assert reply.code == 200
    assert reply.json == {**TICKER_X, "active_pos": 3.0, "active_pnl": None, "active_cost": None}
    reply = await api.put(path, {"passphrase": "webhook", "symbol": "X", "active_pos": "-2", "active_pnl": 1.5,
                                 "active_cost": 10})
    assert reply.json == {**TICKER_X, "active_pos": -2.0, "active_pnl": 1.5, "active_cost": 10.0}
    reply = await api.put(path, {"passphrase": "wrong", "symbol": "X", "active_pos": 1})
    assert (reply.code, reply.text) == (400, '{"message": "incorrect passphrase."}\n')
    reply = await api.put(path, {"passphrase": None, "symbol": "X"})
    assert (reply.code, reply.json) == (400, {"message": {"passphrase": "'passphrase' cannot be empty!"}})
    reply = await api.put(path, {"passphrase": "webhook"})
    assert (reply.code, reply.json) == (400, {"message": {"symbol": "'symbol' cannot be empty!"}})
    reply = await api.put(path, {"passphrase": "webhook", "symbol": "NOPE", "active_pos": 1})
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    assert (await api.get("/v4/ticker/X")).json["active_pos"] == -2.0
    # passphrase routes need no XSRF token even with a session cookie present
    reply = await api.put(path, {"passphrase": "webhook", "symbol": "X", "active_pos": 7},
                          headers={"Cookie": "pairs_session=whatever"})
    assert reply.code == 200


# ---------------------------------------------------------------------------------------------------------------
# pairs


PAIR = {"name": "AA-BB", "ticker1": "AA", "ticker2": "BB", "hedge": 1.5, "status": 0, "notes": "n1",
        "contracts": 10, "act_price": 0.0, "sma": 0.0, "sma_dist": 0.0, "std": 0.0}


def original_pair(body: dict) -> dict:
    """The original's keys, which come first and in order; the price job's statistics may follow them."""
    assert list(body)[:len(PAIR)] == list(PAIR)
    return {key: body[key] for key in PAIR}


@pytest.mark.gen_test
async def test_pair_create_read_update_delete(api, admin_token, user_token, store):
    reply = await api.post("/v4/pair", {"name": "ignored", "ticker1": "AA", "ticker2": "BB", "hedge": 1.5,
                                        "contracts": 10, "notes": "n1"}, token=user_token)
    assert (reply.code, reply.text) == (201, '{"message": "\'pair\' created successfully."}\n')
    reply = await api.get("/v4/pair/AA-BB")
    assert reply.text.startswith('{"name": "AA-BB", "ticker1": "AA", "ticker2": "BB", "hedge": 1.5, "status": 0, '
                                 '"notes": "n1", "contracts": 10, "act_price": 0.0, "sma": 0.0, "sma_dist": 0.0, '
                                 '"std": 0.0')
    reply = await api.get("/v4/pair/ignored")
    assert (reply.code, reply.text) == (404, '{"message": "Item not found"}\n')
    reply = await api.post("/v4/pair", {"ticker1": "AA", "ticker2": "BB", "hedge": 2, "contracts": 1},
                           token=user_token)
    assert (reply.code, reply.json) == (400, {"message": "'pair' with that name already exists."})
    reply = await api.post("/v4/pair", {"ticker1": "A-A", "ticker2": "BB", "hedge": 2, "contracts": 1},
                           token=user_token)
    assert (reply.code, reply.json) == (400, {"message": "problematic ticker!"})
    # the job's computed fields survive a PUT that omits them (A.4)
    store.write_sync(lambda: Pair.update(act_price=1.25, sma=2.5, sma_dist=1.25, std=0.3333333333333333)
                     .where(Pair.name == "AA-BB").execute())
    reply = await api.put("/v4/pair", {"name": "AA-BB", "ticker1": "ZZ", "ticker2": "YY", "hedge": 2,
                                       "contracts": 5, "status": -1}, token=user_token)
    assert reply.code == 200
    assert original_pair(reply.json) == {**PAIR, "hedge": 2.0, "status": -1, "notes": None, "contracts": 5, "act_price": 1.25,
                          "sma": 2.5, "sma_dist": 1.25, "std": 0.3333333333333333}
    reply = await api.put("/v4/pair", {"name": "AA-BB", "ticker1": "AA", "ticker2": "BB", "hedge": 2,
                                       "contracts": 5, "sma": 9, "notes": "x"}, token=user_token)
    assert original_pair(reply.json) == {**PAIR, "hedge": 2.0, "notes": "x", "contracts": 5, "act_price": 1.25, "sma": 9.0,
                          "sma_dist": 1.25, "std": 0.3333333333333333}
    reply = await api.put("/v4/pair", {"name": "NO-PE", "ticker1": "AA", "ticker2": "BB", "hedge": 2,
                                       "contracts": 5}, token=user_token)
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    reply = await api.put("/v4/pair", {"ticker1": "AA", "ticker2": "BB", "hedge": 2, "contracts": 5},
                          token=user_token)
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    await api.post("/v4/pair", {"ticker1": "CC", "ticker2": "DD", "hedge": 0.5, "contracts": 2}, token=user_token)
    assert [p["name"] for p in (await api.get("/v4/pairs/0")).json["pairs"]] == ["CC-DD", "AA-BB"]
    assert [p["name"] for p in (await api.get("/v4/pairs/1")).json["pairs"]] == ["CC-DD"]
    assert (await api.delete("/v4/pair/AA-BB", token=user_token)).text == NOT_ADMIN
    reply = await api.delete("/v4/pair/AA-BB", token=admin_token)
    assert (reply.code, reply.json) == (200, {"message": "'pair' deleted successfully."})
    reply = await api.delete("/v4/pair/AA-BB", token=admin_token)
    assert (reply.code, reply.json) == (404, {"message": "item not found."})


@pytest.mark.gen_test
@pytest.mark.parametrize("body, field", [
    ({}, "ticker1"),
    ({"ticker1": "AA"}, "ticker2"),
    ({"ticker1": "AA", "ticker2": "BB"}, "hedge"),
    ({"ticker1": "AA", "ticker2": "BB", "hedge": "x"}, "hedge"),
    ({"ticker1": "AA", "ticker2": "BB", "hedge": 1}, "contracts"),
    ({"ticker1": "AA", "ticker2": "BB", "hedge": 1, "contracts": 1.5}, "contracts"),
])
async def test_pair_required_fields(api, user_token, body, field):
    for method in ("POST", "PUT"):
        reply = await api.call(method, "/v4/pair", body, token=user_token)
        assert (reply.code, reply.json) == (400, {"message": {field: f"'{field}' cannot be empty!"}})


@pytest.mark.gen_test
async def test_pair_hedge_keeps_double_precision(api, user_token):
    await api.post("/v4/pair", {"ticker1": "AA", "ticker2": "BB", "hedge": 1.2345678901234, "contracts": 1},
                   token=user_token)
    assert (await api.get("/v4/pair/AA-BB")).json["hedge"] == 1.2345678901234


# ---------------------------------------------------------------------------------------------------------------
# account PNL


PNL_NULLS = {"AvailableFunds": None, "BuyingPower": None, "DailyPnL": -1.0, "GrossPositionValue": None,
             "MaintMarginReq": None, "NetLiquidation": None, "RealizedPnL": -1.0, "UnrealizedPnL": -1.0}


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/v4/pnl", "/v4/regpnl"])
async def test_pnl_post_list_put_delete(api, admin_token, user_token, store, path):
    reply = await api.post(path, {"passphrase": "webhook", "AvailableFunds": 1, "NetLiquidation": 2,
                                  "_csrf_token": "<t>"})
    assert (reply.code, reply.text) == (201, '{"message": "\'record\' created successfully."}\n')
    reply = await api.post(path, {"passphrase": "webhook", "timestamp": "2022-05-27T00:24:17.5+02:00",
                                  "BuyingPower": "7.5"})
    assert reply.code == 201
    rows = (await api.get("/v4/pnls/0")).json
    assert list(rows) == ["pnls", "notoken_limit"] and rows["notoken_limit"] == 5
    first, second = rows["pnls"][1], rows["pnls"][0]
    assert list(first) == ["rowid", "timestamp", *PNL_NULLS]
    assert {k: first[k] for k in PNL_NULLS} == {**PNL_NULLS, "AvailableFunds": 1.0, "NetLiquidation": 2.0}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs(dt.datetime.strptime(first["timestamp"], "%Y-%m-%d %H:%M:%S") - now) < dt.timedelta(minutes=1)
    assert second["timestamp"] == "2022-05-26 22:24:17" and second["BuyingPower"] == 7.5
    rowid = first["rowid"]
    # the record, then the newest record in "signals" (what the bridge reads there: test_bridge_account_pnl_loop)
    assert (await api.get(f"/v4/pnl/{rowid}")).json == {**first, "signals": [second]}

    # PUT: full replacement, except that an omitted timestamp keeps the stored one (A.4)
    reply = await api.put(path, {"passphrase": "webhook", "rowid": rowid, "AvailableFunds": 5, "_csrf_token": "t"})
    assert reply.code == 200
    assert reply.text == (f'{{"rowid": {rowid}, "timestamp": "{first["timestamp"]}", "AvailableFunds": 5.0, '
                          '"BuyingPower": null, "DailyPnL": -1, "GrossPositionValue": null, "MaintMarginReq": null, '
                          '"NetLiquidation": null, "RealizedPnL": -1, "UnrealizedPnL": -1}\n')
    stored = (await api.get(f"/v4/pnl/{rowid}")).json
    assert stored == {**first, "AvailableFunds": 5.0, "NetLiquidation": None, "signals": [second]}
    reply = await api.put(path, {"passphrase": "webhook", "rowid": rowid, "timestamp": None, "DailyPnL": 3})
    assert reply.json["timestamp"] == first["timestamp"] and reply.json["DailyPnL"] == 3.0
    reply = await api.put(path, {"passphrase": "webhook", "rowid": rowid, "timestamp": "2023-01-02 03:04:05"})
    assert (await api.get(f"/v4/pnl/{rowid}")).json["timestamp"] == "2023-01-02 03:04:05"

    reply = await api.put(path, {"passphrase": "webhook", "rowid": 99999})
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    reply = await api.put(path, {"passphrase": "webhook", "rowid": -1})
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    reply = await api.post(path, {"passphrase": "nope"})
    assert (reply.code, reply.text) == (401, '{"message": "incorrect passphrase."}\n')
    reply = await api.put(path, {"passphrase": "nope", "rowid": rowid})
    assert (reply.code, reply.text) == (401, '{"message": {"passphrase": "incorrect passphrase."}}\n')
    reply = await api.post(path, {"passphrase": "webhook", "timestamp": "27/05/2022"})
    assert (reply.code, reply.json) == (400, {"message": {"timestamp": "date format should be %Y-%m-%d %H:%M:%S."}})

    assert (await api.delete(f"/v4/pnl/{rowid}", token=user_token)).text == NOT_ADMIN
    reply = await api.delete(f"/v4/pnl/{rowid}", token=admin_token)
    assert (reply.code, reply.json) == (200, {"message": "'pnl' deleted successfully."})
    for bad in (rowid, "abc", "-1", "99999999999999"):
        assert (await api.delete(f"/v4/pnl/{bad}", token=admin_token)).json == {"message": "item not found."}
        reply = await api.get(f"/v4/pnl/{bad}")
        assert (reply.code, reply.json) == (404, {"message": "item not found.", "signals": [second]})


BRIDGE_ACCOUNT = {"AvailableFunds": 91234.0, "BuyingPower": 364936.0, "GrossPositionValue": 20110.0,
                  "MaintMarginReq": 4523.0, "NetLiquidation": 101250.0}


@pytest.mark.gen_test
async def test_bridge_account_pnl_loop(api, store):
    """pairs-ibkr's acc_summary.py, request for request: post_acc_pnl POSTs a snapshot to /v4/regpnl (expects 201);
    update_acc_pnl GETs /v4/pnl/1, reads ``json()["signals"]`` (a KeyError there ends its loop of fill, position and
    account updates for good), and when the list is not empty PUTs the new values to /v4/regpnl with no rowid
    (expects 200) -- meaning the most recent record."""
    # before the first snapshot: no record, and still a list to read
    reply = await api.get("/v4/pnl/1")
    assert (reply.code, reply.json) == (404, {"message": "item not found.", "signals": []})
    reply = await api.put("/v4/regpnl", {"passphrase": "webhook", **BRIDGE_ACCOUNT})  # no newest record to replace
    assert (reply.code, reply.json) == (404, {"message": "item not found."})
    assert Account.select().count() == 0

    reply = await api.post("/v4/regpnl", {"passphrase": "webhook", **BRIDGE_ACCOUNT})
    assert reply.code == 201
    reply = await api.post("/v4/regpnl", {"passphrase": "webhook", **BRIDGE_ACCOUNT, "DailyPnL": 150.5,
                                          "RealizedPnL": 0.0, "UnrealizedPnL": 1320.4})
    assert reply.code == 201
    newest = (await api.get("/v4/pnls/1")).json["pnls"][0]

    reply = await api.get("/v4/pnl/1")
    assert reply.code == 200
    assert reply.json["signals"] == [newest]
    assert reply.json["rowid"] == 1 and reply.json["DailyPnL"] == -1.0  # the record of the path, as in v4.1

    update = {**BRIDGE_ACCOUNT, "NetLiquidation": 101777.0, "DailyPnL": 677.5, "RealizedPnL": 12.0,
              "UnrealizedPnL": 1800.1}
    reply = await api.put("/v4/regpnl", {"passphrase": "webhook", **update})
    assert reply.code == 200
    assert reply.json == {"rowid": newest["rowid"], "timestamp": newest["timestamp"], **update}
    assert (await api.get(f"/v4/pnl/{newest['rowid']}")).json == {
        **newest, **update, "signals": [{**newest, **update}]}
    assert (await api.get("/v4/pnl/1")).json["NetLiquidation"] == 101250.0  # the older record is untouched


@pytest.mark.gen_test
async def test_pnl_list_anonymous_cap(api, store, user_token):
    store.write_sync(lambda: [Account.create(NetLiquidation=i) for i in range(8)])
    cases = {"0": 5, "00": 5, "3": 3, "5": 5, "7": 5, "100": 5}
    for text, expected in cases.items():
        reply = await api.get(f"/v4/pnls/{text}")
        assert (text, len(reply.json["pnls"])) == (text, expected)
    assert [r["NetLiquidation"] for r in (await api.get("/v4/pnls/2")).json["pnls"]] == [7.0, 6.0]
    assert len((await api.get("/v4/pnls/0", token=user_token)).json["pnls"]) == 8
    assert len((await api.get("/v4/pnls/7", token=user_token)).json["pnls"]) == 7
    # a header that is not Bearer is anonymous (optional JWT, §3.5)
    assert len((await api.get("/v4/pnls/0", headers={"Authorization": "Token x"})).json["pnls"]) == 5
    for bad in ("-1", "abc", "1.5", "%20"):
        reply = await api.get(f"/v4/pnls/{bad}")
        assert reply.code == 400, bad
        assert list(reply.json["message"]) == ["number_of_items"]


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/v4/tickers/{}", "/v4/pairs/{}"])
async def test_other_lists_reject_bad_counts(api, path):
    for bad in ("-1", "abc", "1e3"):
        reply = await api.get(path.format(bad))
        assert (reply.code, list(reply.json["message"])) == (400, ["number_of_items"])
    assert (await api.get(path.format("00"))).code == 200


@pytest.mark.gen_test
async def test_passphrase_routes_are_recorded_in_the_delivery_log(api, store):
    await api.put("/v4/ticker/updatepnl", {"passphrase": "wrong-secret", "symbol": "X"})
    await api.post("/v4/regpnl", raw=b"passphrase=webhook&NetLiquidation=5",
                   content_type="application/x-www-form-urlencoded")
    await api.put("/v4/pnl", raw=b"[1]")
    await store.write(lambda: None)  # the log is written after the answer; the writer keeps the order
    rows = [(r.method, r.route, r.status, r.content_type, r.size, r.body, r.peer)
            for r in DeliveryLog.select().order_by(DeliveryLog.id)]
    assert rows == [
        ("PUT", "/v4/ticker/updatepnl", 400, "application/json", 45,
         '{"passphrase": "***", "symbol": "X"}', "127.0.0.1"),
        ("POST", "/v4/regpnl", 201, "application/x-www-form-urlencoded", 35,
         "passphrase=***&NetLiquidation=5", "127.0.0.1"),
        ("PUT", "/v4/pnl", 400, "application/json", 3, "[1]", "127.0.0.1"),
    ]
    assert "wrong-secret" not in str(rows) and "webhook" not in str(rows)


# ---------------------------------------------------------------------------------------------------------------
# conformance audit: processing order (§3.3), parsing (§3.1 with A.3), precedence of the §5.6/§5.8 checks


MISSING_TOKEN = '{"error":"authorization_required","message":"Request does not contain an access token."}\n'
NOT_FRESH = '{"error":"fresh_token_required","message":"The token is not fresh."}\n'
BAD_JSON = ('{"message": "The browser (or proxy) sent a request that this server could not understand.", '
            '"detail": "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"}\n')


@pytest.mark.gen_test
@pytest.mark.parametrize("method, path", [("POST", "/v4/ticker"), ("PUT", "/v4/ticker"), ("POST", "/v4/pair"),
                                          ("PUT", "/v4/pair")])
async def test_token_is_checked_before_the_body(api, method, path):
    for raw in ("not json", "{", "[1, 2]", '{"symbol": null, "ticker1": null}'):
        reply = await api.call(method, path, raw=raw)
        assert (reply.code, reply.text) == (401, MISSING_TOKEN), raw
        reply = await api.call(method, path, raw=raw, token=make_token("user1", False, fresh=False))
        assert (reply.code, reply.text) == (401, NOT_FRESH), raw
    reply = await api.call(method, path, raw="{", token=make_token("user1", False))
    assert (reply.code, reply.text) == (400, BAD_JSON)
    reply = await api.call(method, path, raw="[1, 2]", token=make_token("user1", False))
    assert (reply.code, reply.json) == (400, {"message": "the request body must be a JSON object."})


@pytest.mark.gen_test
@pytest.mark.parametrize("kind, path", [("ticker", "/v4/ticker/X"), ("pair", "/v4/pair/AA-BB"), ("pnl", "/v4/pnl/1")])
async def test_deletes_need_a_fresh_admin_token(api, store, kind, path):
    store.write_sync(lambda: (Ticker.create(symbol="X"), Pair.create(name="AA-BB", ticker1="AA", ticker2="BB",
                                                                        hedge=1, contracts=1),
                              Account.create(NetLiquidation=1)))
    cases = [(None, MISSING_TOKEN), (make_token("admin", fresh=False), NOT_FRESH),
             (make_token("user1", False), NOT_ADMIN), (make_token("admin", fresh=False, kind="refresh"),
                                                       '{"error":"token_invalid","message":"The token is invalid."}\n')]
    for token, text in cases:
        reply = await api.delete(path, token=token)
        assert (reply.code, reply.text) == (401, text)
    assert (Ticker.select().count(), Pair.select().count(), Account.select().count()) == (1, 1, 1)
    reply = await api.delete(path, token=make_token("admin"))
    assert (reply.code, reply.text) == (200, f'{{"message": "\'{kind}\' deleted successfully."}}\n')


@pytest.mark.gen_test
async def test_passphrase_routes_read_the_body_first_then_the_passphrase(api, store):
    store.write_sync(lambda: (Ticker.create(symbol="X", active_pos=0.0), Account.create(NetLiquidation=1)))
    # a bad field wins over a wrong passphrase (§3.3 step 4)
    reply = await api.put("/v4/ticker/pnl", {"passphrase": "wrong", "symbol": "X", "active_pos": "abc"})
    assert (reply.code, reply.text) == (400, '{"message": {"active_pos": "could not convert string to float: \'abc\'"}}\n')
    reply = await api.post("/v4/pnl", {"passphrase": "wrong", "timestamp": "yesterday"})
    assert (reply.code, reply.json) == (400, {"message": {"timestamp": "date format should be %Y-%m-%d %H:%M:%S."}})
    # a wrong passphrase wins over an unknown row
    reply = await api.put("/v4/ticker/pnl", {"passphrase": "wrong", "symbol": "NOPE"})
    assert (reply.code, reply.text) == (400, '{"message": "incorrect passphrase."}\n')
    reply = await api.put("/v4/pnl", {"passphrase": "wrong", "rowid": 99999})
    assert (reply.code, reply.text) == (401, '{"message": {"passphrase": "incorrect passphrase."}}\n')
    # the passphrase is compared as sent: not trimmed, not case-folded (§9)
    for given in (" webhook", "webhook ", "WEBHOOK", "webhook\n"):
        reply = await api.post("/v4/pnl", {"passphrase": given})
        assert (reply.code, reply.text) == (401, '{"message": "incorrect passphrase."}\n'), given
    assert Account.select().count() == 1
    assert Ticker.get(Ticker.symbol == "X").active_pos == 0.0


@pytest.mark.gen_test
async def test_bridge_spellings_on_the_ticker_and_account_pnl_routes(api, store):
    """A.1.2/A.3: text/plain with a trailing newline, one-element lists, integral floats and digit strings."""
    store.write_sync(lambda: Ticker.create(symbol="X"))
    raw = '{"passphrase": ["webhook"], "symbol": ["X"], "active_pos": "5.0", "active_pnl": [-1], "active_cost": 2}\n'
    reply = await api.put("/v4/ticker/updatepnl", raw=raw, content_type="text/plain")
    assert reply.code == 200
    assert list(reply.json)[-3:] == ["active_pos", "active_pnl", "active_cost"]
    assert (reply.json["symbol"], *list(reply.json.values())[-3:]) == ("X", 5.0, -1.0, 2.0)
    reply = await api.call("POST", "/v4/regpnl", raw='{"passphrase": "webhook", "NetLiquidation": 100}\n',
                           content_type="text/plain")
    assert reply.code == 201
    rowid = Account.get().rowid
    for given in (float(rowid), str(rowid), f"{rowid}.0", [rowid]):
        reply = await api.put("/v4/regpnl", {"passphrase": "webhook", "rowid": given, "NetLiquidation": 7})
        assert (reply.code, reply.json["rowid"], reply.json["NetLiquidation"]) == (200, rowid, 7.0), given


@pytest.mark.gen_test
async def test_arguments_without_help_answer_the_conversion_text(api, user_token):
    cases = [
        ("POST", "/v4/ticker", {"symbol": "X", "active": "abc"}, "active", "invalid literal for int() with base 10: 'abc'"),
        ("POST", "/v4/ticker", {"symbol": "X", "active_pos": "abc"}, "active_pos",
         "could not convert string to float: 'abc'"),
        ("POST", "/v4/pair", {"ticker1": "A", "ticker2": "B", "hedge": 1, "contracts": 1, "status": "x"}, "status",
         "invalid literal for int() with base 10: 'x'"),
        ("POST", "/v4/pnl", {"passphrase": "webhook", "AvailableFunds": "abc"}, "AvailableFunds",
         "could not convert string to float: 'abc'"),
        ("PUT", "/v4/pnl", {"passphrase": "webhook", "rowid": "abc"}, "rowid",
         "invalid literal for int() with base 10: 'abc'"),
        ("PUT", "/v4/ticker/pnl", {"passphrase": "webhook"}, "symbol", "'symbol' cannot be empty!"),
    ]
    for method, path, body, field, text in cases:
        reply = await api.call(method, path, body, token=user_token)
        assert (reply.code, reply.json) == (400, {"message": {field: text}}), (path, body)


@pytest.mark.gen_test
async def test_only_the_first_failing_argument_is_reported(api, user_token):
    reply = await api.post("/v4/ticker", {"active": "abc", "active_pos": "x"}, token=user_token)
    assert reply.json == {"message": {"symbol": "'symbol' cannot be empty!"}}
    reply = await api.post("/v4/ticker", {"symbol": "X", "active_pnl": "x", "active": "abc"}, token=user_token)
    assert reply.json == {"message": {"active": "invalid literal for int() with base 10: 'abc'"}}
    reply = await api.post("/v4/pnl", {"passphrase": None, "rowid": "x"})
    assert reply.json == {"message": {"passphrase": "'passphrase' cannot be empty!"}}


@pytest.mark.gen_test
async def test_json_wins_over_the_query_string_and_strings_are_not_trimmed(api, user_token):
    reply = await api.post("/v4/ticker?symbol=FROMQUERY&xch=ARCA", {"symbol": " X "}, token=user_token)
    assert reply.code == 201
    assert (await api.get("/v4/ticker/FROMQUERY")).code == 404
    stored = (await api.get("/v4/ticker/%20X%20")).json
    assert (stored["symbol"], stored["xch"]) == (" X ", "ARCA")  # the query string fills what JSON leaves out
    assert (await api.get("/v4/ticker/X")).code == 404


@pytest.mark.gen_test
async def test_bool_texts_for_update_pnl(api, user_token):
    """A.3 (§10.3.1 fixed): booleans are JSON booleans, 1/0 and true/false/1/0/yes/no in any case."""
    await api.post("/v4/ticker", {"symbol": "X"}, token=user_token)
    expected = 0.0
    for n, (text, updated) in enumerate((("YES", True), ("No", False), ("1", True), ("0", False), (1, True),
                                         ("False", False), ("TRUE", True), (0, False)), start=1):
        reply = await api.put("/v4/ticker", {"symbol": "X", "update_pnl": text, "active_pos": n}, token=user_token)
        expected = float(n) if updated else expected
        assert (reply.code, reply.json["active_pos"]) == (200, expected), text


@pytest.mark.gen_test
async def test_ticker_and_pair_lists_are_not_capped_for_anonymous_callers(api, store):
    store.write_sync(lambda: [(Ticker.create(symbol=f"T{n}"), Pair.create(name=f"T{n}-U", ticker1=f"T{n}",
                                                                           ticker2="U", hedge=1, contracts=1))
                              for n in range(7)])
    tickers = (await api.get("/v4/tickers/0")).json["tickers"]
    assert [t["symbol"] for t in tickers] == [f"T{n}" for n in range(6, -1, -1)]
    assert len((await api.get("/v4/pairs/0")).json["pairs"]) == 7
    assert len((await api.get("/v4/pairs/6")).json["pairs"]) == 6
    assert list((await api.get("/v4/pairs/0")).json) == ["pairs"] and list((await api.get("/v4/tickers/0")).json) == [
        "tickers"]


@pytest.mark.gen_test
async def test_which_ticker_and_pair_rule_wins(api, user_token):
    """§5.6/§5.8: the order of the checks decides the message when several apply."""
    await api.post("/v4/ticker", {"symbol": "ON", "active": 1}, token=user_token)
    await api.post("/v4/pair", {"ticker1": "P1", "ticker2": "P2", "hedge": 1, "contracts": 1, "status": 1},
                   token=user_token)
    await api.post("/v4/ticker", {"symbol": "P1", "active": 0}, token=user_token)
    # ticker POST: an existing symbol wins over "active in a pair"
    reply = await api.post("/v4/ticker", {"symbol": "P1", "active": 1}, token=user_token)
    assert reply.json == {"message": "'ticker' with that name already exists."}
    # pair POST: the active check (1) wins over the dash (2) and over an existing name (4); the dash over the name
    reply = await api.post("/v4/pair", {"ticker1": "ON", "ticker2": "Z-Z", "hedge": 1, "contracts": 1, "status": 1},
                           token=user_token)
    assert reply.json == {"message": " one of the tickers is already active!"}
    await api.post("/v4/pair", {"ticker1": "ON", "ticker2": "Q", "hedge": 1, "contracts": 1}, token=user_token)
    reply = await api.post("/v4/pair", {"ticker1": "ON", "ticker2": "Q", "hedge": 1, "contracts": 1, "status": 1},
                           token=user_token)
    assert reply.json == {"message": " one of the tickers is already active!"}
    reply = await api.post("/v4/pair", {"ticker1": "A-", "ticker2": "B", "hedge": 1, "contracts": 1},
                           token=user_token)
    assert reply.json == {"message": "problematic ticker!"}
    # pair PUT: the active check uses the body's tickers and comes before the lookup
    reply = await api.put("/v4/pair", {"name": "NO-PE", "ticker1": "ON", "ticker2": "Q", "hedge": 1, "contracts": 1,
                                       "status": 1}, token=user_token)
    assert (reply.code, reply.json) == (400, {"message": " one of the tickers is already active!"})
    # watchlist values (-1) take part in neither check
    assert (await api.put("/v4/ticker", {"symbol": "P2", "active": -1}, token=user_token)).code == 201
    reply = await api.put("/v4/pair", {"name": "ON-Q", "ticker1": "ON", "ticker2": "Q", "hedge": 1, "contracts": 1,
                                       "status": -1}, token=user_token)
    assert (reply.code, reply.json["status"]) == (200, -1)


@pytest.mark.gen_test
async def test_pnl_and_ticker_pnl_need_no_xsrf_token_with_a_session_cookie(app, api, store):
    from test_http import session_cookie  # a real dashboard session: XSRF would apply to a cookie-authenticated write

    store.write_sync(lambda: Ticker.create(symbol="X"))
    headers = {"Cookie": session_cookie(app, store)}
    for method, path in (("POST", "/v4/pnl"), ("POST", "/v4/regpnl")):
        reply = await api.call(method, path, {"passphrase": "webhook", "NetLiquidation": 1}, headers=headers)
        assert reply.code == 201, path
    rowid = Account.select().first().rowid
    for path in ("/v4/pnl", "/v4/regpnl"):
        reply = await api.put(path, {"passphrase": "webhook", "rowid": rowid}, headers=headers)
        assert reply.code == 200, path
    reply = await api.put("/v4/ticker/pnl", {"passphrase": "webhook", "symbol": "X"}, headers=headers)
    assert reply.code == 200
