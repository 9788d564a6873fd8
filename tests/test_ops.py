"""GET /healthz and the structured request log."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from handlers import ops
from pairs import __version__, bridge, jobs
from pairs.db import Ticker, utcnow
from pairs.db.settings import get_setting


@pytest.mark.gen_test
async def test_healthz_reports_database_jobs_bridge_and_version(api, store):
    reply = await api.get("/healthz")
    assert reply.code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.json
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["database"] == {"ok": True, "backend": "sqlite" if store.is_sqlite else "postgresql"}
    assert body["price_job"] is None  # no price job has run yet
    assert body["bridge"] == {"last_seen": None}


@pytest.mark.gen_test
async def test_healthz_bridge_time_is_the_bridges_latest_request(api, store):
    before = utcnow()
    tradingview = await api.post("/v4/webhook", {"passphrase": "wrong", "ticker": "AAPL", "order_action": "buy",
                                                 "order_contracts": 1})
    assert tradingview.code == 401
    await store.write(lambda: None)
    assert (await api.get("/healthz")).json["bridge"] == {"last_seen": None}  # TradingView is not the bridge
    # refused requests on the bridge's routes may come from anyone: they do not show the bridge alive
    refused = [await api.put("/v4/pnl", {"passphrase": "wrong", "rowid": 0}), await api.put("/v4/signal/order"),
               await api.put("/v4/ticker/pnl", {"passphrase": "wrong", "symbol": "AAPL"}),
               await api.put("/v4/ticker/pnl", {"passphrase": "webhook", "symbol": "NONE"})]
    assert [r.code for r in refused] == [401, 400, 400, 404]
    await store.write(lambda: None)  # the delivery rows were queued before this write: they are committed now
    assert (await api.get("/healthz")).json["bridge"] == {"last_seen": None}
    store.write_sync(lambda: Ticker.create(symbol="AAPL", active=1))
    reply = await api.put("/v4/ticker/pnl", {"passphrase": "webhook", "symbol": "AAPL", "active_pos": 5})
    assert reply.code == 200
    await store.write(lambda: None)
    last_seen = (await api.get("/healthz")).json["bridge"]["last_seen"]
    assert last_seen is not None and last_seen >= before.strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.gen_test
async def test_the_bridges_anonymous_poll_of_the_waiting_list_is_its_heartbeat(api, store, user_token):
    # a logged-in reader of the list, or of another status, is not the bridge
    for path, token in (("/v4/signals/status/waiting/0", user_token), ("/v4/signals/status/filled/0", None)):
        reply = await api.get(path, token=token)
        assert reply.code == 200 and reply.json == {"signals": []}
    await store.write(lambda: None)
    assert (await api.get("/healthz")).json["bridge"] == {"last_seen": None}

    before = utcnow()
    reply = await api.get("/v4/signals/status/waiting/0")  # what pairs-ibkr sends every 10 s
    assert (reply.code, reply.json) == (200, {"signals": []})
    await store.write(lambda: None)  # the poll's row was queued as the answer went out: it is committed now
    polled = get_setting(bridge.SEEN_KEY)
    assert polled is not None and polled >= before.strftime("%Y-%m-%d %H:%M:%S")
    assert (await api.get("/healthz")).json["bridge"] == {"last_seen": polled}

    # the next polls of the same minute are not written again; a later write of the bridge moves the time on
    store.write_sync(bridge.remember_tx, dt.datetime(2026, 1, 2, 3, 4, 5))
    assert (await api.get("/v4/signals/status/rerouted/0")).code == 200
    await store.write(lambda: None)
    assert get_setting(bridge.SEEN_KEY) == "2026-01-02 03:04:05"
    store.write_sync(lambda: Ticker.create(symbol="HELD", active=1))
    reply = await api.put("/v4/ticker/pnl", {"passphrase": "webhook", "symbol": "HELD"})
    assert reply.code == 200
    await store.write(lambda: None)
    assert (await api.get("/healthz")).json["bridge"]["last_seen"] >= polled


@pytest.mark.gen_test
async def test_healthz_shows_the_newest_price_job_run_and_its_outcome(api, store):
    def run(job: str, day: int, updated: int, failed: dict) -> jobs.RunOutcome:
        started = dt.datetime(2026, 11, day, 21, 0, 0)
        return jobs.RunOutcome(job, started, started + dt.timedelta(seconds=3), 2, updated, failed)

    await store.write(jobs.record_run_tx, run(jobs.PRICES, 23, 2, {}))
    await store.write(jobs.record_run_tx, run(jobs.PRICES, 24, 1, {"XYZ-ABC": "no prices for XYZ"}))
    await store.write(jobs.record_run_tx, run(jobs.EMAIL, 25, 0, {}))  # another job: not the price job
    job = (await api.get("/healthz")).json["price_job"]
    assert job == {"job": "prices", "started": "2026-11-24 21:00:00", "finished": "2026-11-24 21:00:03", "pairs": 2,
                   "updated": 1, "failed": {"XYZ-ABC": "no prices for XYZ"}, "message": "", "outcome": "partial"}


def test_price_job_outcomes():
    base = {"finished": "2026-11-24 21:00:03", "updated": 0, "failed": {}}
    assert ops.price_job_outcome(base) == "ok"
    assert ops.price_job_outcome({**base, "failed": {"A-B": "x"}}) == "failed"
    assert ops.price_job_outcome({**base, "failed": {"A-B": "x"}, "updated": 3}) == "partial"
    assert ops.price_job_outcome({**base, "finished": None}) == "running"


@pytest.mark.gen_test
async def test_healthz_is_503_when_the_database_is_gone(api, store):
    if store.is_sqlite:
        store.db.init("/nonexistent-dir/for/sure/pairs.db")  # every new connection now fails
    else:
        store.db.init("pairs_no_such_database")
    reply = await api.get("/healthz")
    assert reply.code == 503
    assert reply.json["status"] == "unavailable"
    assert reply.json["database"]["ok"] is False
    assert reply.json["version"] == __version__


def test_query_secrets_are_masked():
    assert ops.redacted_query("passphrase=hunter2&symbol=AAPL") == "passphrase=***&symbol=AAPL"
    assert ops.redacted_query("refresh_token=abc&access_token=def&x=1") == "refresh_token=***&access_token=***&x=1"
    assert ops.redacted_query("password=p&_xsrf=q&api_key=r") == "password=***&_xsrf=***&api_key=***"


@pytest.mark.gen_test
async def test_request_log_line_has_fields_and_no_secrets(api, caplog):
    caplog.set_level(logging.DEBUG, logger="pairs.access")
    token = "eyJhbGciOiJIUzI1NiJ9.secret-token-value.sig"
    await api.put("/v4/ticker/pnl?passphrase=query-secret&symbol=AAPL",
                  {"passphrase": "body-secret", "symbol": "AAPL", "password": "pw-secret"},
                  headers={"Authorization": f"Bearer {token}", "Cookie": "pairs_session=cookie-secret"})
    await api.post("/v4/login", {"username": "admin", "password": "login-secret"})
    await api.get("/healthz")
    lines = [r for r in caplog.records if r.name == "pairs.access"]
    assert len(lines) == 3
    put, login, health = lines
    assert put.levelno == logging.WARNING  # a 4xx
    # the whole line, field by field; the request's time is pinned only as a number (its value is bench/'s business)
    assert re.fullmatch(r'method=PUT route=/v4/ticker/pnl status=400 duration_ms=\d+(\.\d+)? peer=127\.0\.0\.1 '
                        r'query="passphrase=\*\*\*&symbol=AAPL"', put.getMessage()), put.getMessage()
    assert login.getMessage().startswith("method=POST route=/v4/login status=401 ")
    assert health.levelno == logging.DEBUG and "status=200" in health.getMessage()
    text = caplog.text
    for secret in ("query-secret", "body-secret", "pw-secret", "login-secret", "secret-token-value",
                   "cookie-secret", "Bearer"):
        assert secret not in text


def test_request_fields_of_a_handler_without_peer_resolution():
    class FakeRequest:
        method, path, query, remote_ip = "GET", "/v4/tickers/0", "", "10.0.0.9"

        def request_time(self) -> float:
            return 0.0125

    class FakeHandler:
        request = FakeRequest()

        def __init__(self, status: int):
            self.status = status

        def get_status(self) -> int:
            return self.status

    assert ops.request_fields(FakeHandler(200)) == {"method": "GET", "route": "/v4/tickers/0", "status": 200,
                                                     "duration_ms": 12.5, "peer": "10.0.0.9"}
