"""Jobs say why they did nothing (issue 13): the closed session and when it opens, no pair to run, an unreachable
price source; the page shows the outcome as a one-line notice, the command line says what to do."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pytest

import server
from handlers.maintenance import job_control
from pairs import jobs, market
from pairs.config import load_settings
from pairs.db import Store
from tests.signal_fixtures import add_instruments

SETTINGS = load_settings(None, environ={})
SATURDAY_NOON_UTC = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
MONDAY_6AM_EASTERN = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)
MONDAY_5PM_EASTERN = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("now", "opens"), [
    (SATURDAY_NOON_UTC, "2026-11-30 09:10"),  # the weekend: Monday, 20 minutes before 09:30
    (MONDAY_6AM_EASTERN, "2026-11-30 09:10"),  # the same morning
    (MONDAY_5PM_EASTERN, "2026-12-01 09:10"),  # after the close: the next day
])
def test_next_session_open(now, opens):
    assert f"{jobs.next_session_open(now, SETTINGS):%Y-%m-%d %H:%M}" == opens
    assert jobs.closed_notice(now, SETTINGS) == (
        f"Not updated: the exchange session is closed; it opens {jobs.next_session_open(now, SETTINGS):%a} "
        f"{opens} US/Eastern. The watchlist can be updated at any time.")


def _outcome(job=jobs.PRICES, pairs=2, updated=0, failed=None, priced=0):
    return jobs.RunOutcome(job=job, started=SATURDAY_NOON_UTC, pairs=pairs, updated=updated, failed=failed or {},
                           symbols_priced=priced)


@pytest.mark.parametrize(("outcome", "source", "notice"), [
    (_outcome(pairs=0), "yahoo", "0 pairs: no pair is active. Activate one on SETUP (a pair trades only when it is "
                                 "active and neither leg is an active ticker)."),
    (_outcome(job=jobs.WATCHLIST, pairs=0), "yahoo",
     "0 pairs: no pair is on the watchlist. Give one the status watchlist on SETUP."),
    (_outcome(failed={"A-B": "no prices for A", "C-D": "no prices for C"}), "yahoo",
     "Not updated: could not reach Yahoo for any of the 2 pairs' legs. Check it, then try again."),
    (_outcome(failed={"A-B": "no prices for A"}), "csv:/srv/prices",
     "Not updated: found no prices in /srv/prices for any of the 2 pairs' legs. Check it, then try again."),
    (_outcome(updated=1, failed={"C-D": "no prices for C"}, priced=2), "yahoo",
     "1 of 2 pairs updated; 1 failed: C-D: no prices for C."),
    (_outcome(updated=0, failed={"A-B": "statistics failed: x", "C-D": "statistics failed: y"}, priced=4), "yahoo",
     "0 of 2 pairs updated; 2 failed: A-B: statistics failed: x; C-D: statistics failed: y."),
    (_outcome(updated=2, priced=4), "yahoo", "2 of 2 pairs updated."),
])
def test_run_notice(outcome, source, notice):
    assert jobs.run_notice(outcome, source) == notice


def _notice(reply) -> str:
    assert reply.code == 302
    location = urllib.parse.urlsplit(reply.headers["Location"])
    return urllib.parse.parse_qs(location.query)["msg"][0]


@pytest.mark.gen_test
async def test_update_now_outside_the_session_says_when_it_opens(app, api, admin_token):
    job_control(app.ctx).now = lambda: SATURDAY_NOON_UTC
    reply = await api.get("/sma", token=admin_token)
    assert reply.headers["Location"].startswith("/positions?msg=")
    notice = _notice(reply)
    assert notice == jobs.closed_notice(SATURDAY_NOON_UTC, app.ctx.settings)
    page = await api.get("/positions?" + urllib.parse.urlencode({"msg": notice}))
    assert f'<p class="flash notice" id="notice">{notice}</p>' in page.text


@pytest.mark.gen_test
async def test_update_now_on_the_watchlist_says_yahoo_was_unreachable(app, api, admin_token, store, tmp_path):
    store.write_sync(add_instruments, {}, {"EWA-EWC": (2.0, -1)})
    app.ctx.extras["price_source"] = market.CsvFolderSource(tmp_path)  # answers nothing, like Yahoo offline
    assert _notice(await api.get("/update_watchlist", token=admin_token)) == (
        "Not updated: could not reach Yahoo for any of the 1 pairs' legs. Check it, then try again.")


@pytest.mark.gen_test
async def test_update_now_without_a_watchlist_pair_says_so(app, api, admin_token):
    assert _notice(await api.get("/update_watchlist", token=admin_token)) == (
        "0 pairs: no pair is on the watchlist. Give one the status watchlist on SETUP.")


def test_refresh_prices_with_no_active_pair_says_what_to_do(sqlite_url, capsys, monkeypatch):
    store = Store(sqlite_url)
    store.open()  # an empty registry
    store.close()
    monkeypatch.setattr(server, "configure_logging", lambda level: None)
    code = server.main(["--database-url", sqlite_url, "refresh-prices", "--once"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out == ("prices: 0 pairs, 0 updated, 0 stale\n0 pairs: no pair is active. Activate one on SETUP (a pair "
                   "trades only when it is active and neither leg is an active ticker).\n")
