"""The writer design under concurrent writers: checks and writes are one serialized step, nothing is lost,
no race becomes a 5xx (SPEC 10.2.8), on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import collections

import pytest
import tornado.httpclient
from conftest import Api

from pairs.db import Account, Pair, Ticker, User

WRITERS = 50


@pytest.fixture
def wide_api(app, http_server, base_url):
    """A client that really opens WRITERS connections at once (the default one queues beyond 10)."""
    client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=WRITERS * 2)
    yield Api(client, base_url)
    client.close()


def tally(replies) -> collections.Counter:
    return collections.Counter((r.code, r.text) for r in replies)


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_creates_of_one_ticker(wide_api, admin_token):
    replies = await asyncio.gather(*(wide_api.post("/v4/ticker", {"symbol": "SAME", "active_pos": i},
                                                   token=admin_token) for i in range(WRITERS)))
    assert tally(replies) == {
        (201, '{"message": "\'ticker\' created successfully."}\n'): 1,
        (400, '{"message": "\'ticker\' with that name already exists."}\n'): WRITERS - 1,
    }
    assert Ticker.select().where(Ticker.symbol == "SAME").count() == 1


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_creates_of_one_pair_and_one_user(wide_api, admin_token):
    pair = {"ticker1": "AA", "ticker2": "BB", "hedge": 1, "contracts": 1}
    user = {"username": "twin", "password": "pw"}
    replies = await asyncio.gather(*(wide_api.post("/v4/pair", pair, token=admin_token) for _ in range(WRITERS)),
                                   *(wide_api.post("/v4/user", user, token=admin_token) for _ in range(20)))
    assert tally(replies[:WRITERS]) == {
        (201, '{"message": "\'pair\' created successfully."}\n'): 1,
        (400, '{"message": "\'pair\' with that name already exists."}\n'): WRITERS - 1,
    }
    assert tally(replies[WRITERS:]) == {
        (201, '{"message": "\'user\' created successfully."}\n'): 1,
        (400, '{"message": "\'username\' already exists."}\n'): 19,
    }
    assert Pair.select().count() == 1 and User.select().where(User.username == "twin").count() == 1


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_activations_cannot_both_win(wide_api, admin_token):
    """A ticker and a pair with that ticker activated at the same moment: exactly one of them becomes active."""
    await wide_api.post("/v4/ticker", {"symbol": "AA"}, token=admin_token)
    await wide_api.post("/v4/pair", {"ticker1": "AA", "ticker2": "BB", "hedge": 1, "contracts": 1},
                        token=admin_token)
    for _ in range(10):
        ticker_on, pair_on = await asyncio.gather(
            wide_api.put("/v4/ticker", {"symbol": "AA", "active": 1}, token=admin_token),
            wide_api.put("/v4/pair", {"name": "AA-BB", "ticker1": "AA", "ticker2": "BB", "hedge": 1,
                                      "contracts": 1, "status": 1}, token=admin_token))
        assert sorted([ticker_on.code, pair_on.code]) == [200, 400]
        assert not (Ticker.get(Ticker.symbol == "AA").active == 1 and Pair.get(Pair.name == "AA-BB").status == 1)
        await asyncio.gather(  # switch both off again for the next round
            wide_api.put("/v4/ticker", {"symbol": "AA", "active": 0}, token=admin_token),
            wide_api.put("/v4/pair", {"name": "AA-BB", "ticker1": "AA", "ticker2": "BB", "hedge": 1,
                                      "contracts": 1, "status": 0}, token=admin_token))


@pytest.mark.gen_test(timeout=60)
async def test_concurrent_pnl_records_are_all_kept(wide_api):
    replies = await asyncio.gather(*(wide_api.post("/v4/pnl", {"passphrase": "webhook", "NetLiquidation": i})
                                     for i in range(WRITERS)))
    assert {r.code for r in replies} == {201}
    assert sorted(a.NetLiquidation for a in Account.select()) == [float(i) for i in range(WRITERS)]
    assert len({a.rowid for a in Account.select()}) == WRITERS


@pytest.mark.gen_test(timeout=60)
async def test_reads_during_writes_see_whole_rows(wide_api, admin_token):
    await wide_api.post("/v4/ticker", {"symbol": "X"}, token=admin_token)
    pushes = [wide_api.put("/v4/ticker/pnl", {"passphrase": "webhook", "symbol": "X", "active_pos": i,
                                              "active_pnl": i, "active_cost": i}) for i in range(WRITERS)]
    reads = [wide_api.get("/v4/ticker/X") for _ in range(WRITERS)]
    replies = await asyncio.gather(*pushes, *reads)
    assert {r.code for r in replies} == {200}
    for reply in replies:  # the three fields are written together: never a mix of two pushes
        assert reply.json["active_pos"] == reply.json["active_pnl"] == reply.json["active_cost"]
