"""The pair page, the SCREENER page and the statistics on POSITIONS / WATCHLIST over HTTP (issue 12)."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from pathlib import Path

import pytest

from pairs import jobs, market, research, screener
from pairs.db import Pair, Signal
from tests.test_jobs import FIXTURES, TUESDAY_3PM_NEW_YORK
from tests.test_pages import Browser
from tests.test_screener import add_tickers_tx, run_once

STATIC = Path(__file__).resolve().parent.parent / "static"
# npm pack lightweight-charts@5.2.1 -> package/dist/lightweight-charts.standalone.production.js (README: Pair research)
LIGHTWEIGHT_CHARTS = ("vendor/lightweight-charts/lightweight-charts.standalone.production.js",
                      "e21cc5caa0226ef30bd8549c50b9ef926615f2a4ee6b4e486353477a55f598cf")

SIGNALS = [  # day, action, price, fill price
    (dt.datetime(2026, 10, 5, 15, 0), "buy", -0.4, -0.38),
    (dt.datetime(2026, 10, 20, 15, 0), "sell", 0.6, None),
    (dt.datetime(2026, 11, 10, 16, 0), "buy", -0.2, -0.25),
]


def setup_pairs_tx() -> None:
    Pair.insert_many([
        {"name": "BF A-BF B", "ticker1": "BF A", "ticker2": "BF B", "hedge": 1.0, "status": -1, "contracts": 100},
        {"name": "EWA-EWC", "ticker1": "EWA", "ticker2": "EWC", "hedge": 0.6, "status": -1, "contracts": 100},
        {"name": "KO-PEP", "ticker1": "KO", "ticker2": "PEP", "hedge": 0.36, "status": 1, "contracts": 100},
    ]).execute()
    for stamp, action, price, fill in SIGNALS:
        Signal.create(timestamp=stamp, ticker="BF A-BF B", order_action=action, order_contracts=100,
                      order_price=price, fill_price=fill, slip=None if fill is None else round(price - fill, 4),
                      order_status="filled" if fill is not None else "waiting", ticker_type="pair",
                      ticker1="BF A", ticker2="BF B", hedge_param=1.0)


@pytest.fixture
def research_db(store, settings):
    store.write_sync(setup_pairs_tx)
    source = market.CsvFolderSource(FIXTURES)
    jobs.run_price_job(store, source, settings, jobs.WATCHLIST, TUESDAY_3PM_NEW_YORK)
    jobs.run_price_job(store, source, settings, jobs.PRICES, TUESDAY_3PM_NEW_YORK)
    return store


def chart_of(page: str) -> dict:
    raw = re.search(r'id="pair-chart" class="pair-chart" data-chart="([^"]*)"', page).group(1)
    return json.loads(html.unescape(raw))


def stat(page: str, key: str) -> tuple[str, str]:
    cell = re.search(rf'<tr data-key="{key}"><th>[^<]*</th><td class="([^"]*)"[^>]*>([^<]*)</td>', page)
    return cell.group(1), cell.group(2)


def test_the_vendored_chart_library_is_the_pinned_build():
    path, sha256 = LIGHTWEIGHT_CHARTS
    body = (STATIC / path).read_bytes()
    assert hashlib.sha256(body).hexdigest() == sha256
    assert b"TradingView Lightweight Charts\xe2\x84\xa2 v5.2.1" in body[:200]
    assert "Apache License" in (STATIC / "vendor/lightweight-charts/LICENSE").read_text()


@pytest.mark.gen_test(timeout=60)
async def test_the_pair_page_shows_chart_statistics_and_signals_to_a_logged_in_user(api, app, research_db):
    app.ctx.settings.chart_days = 60
    browser = Browser(api)
    await browser.login()
    reply = await browser.get("/pair/BF%20A-BF%20B")
    assert reply.code == 200
    page = reply.text
    chart = chart_of(page)
    pair = Pair.get(Pair.name == "BF A-BF B")
    assert (chart["pair"], chart["entry_z"], chart["exit_z"]) == ("BF A-BF B", 2.0, 0.5)
    assert len(chart["points"]) == 60 and chart["points"][-1]["t"] == "2026-11-24"
    last = chart["points"][-1]
    assert last["z"] == round((last["spread"] - last["sma"]) / last["std"], 4)
    # markers on the signal days inside the chart, buys and sells told apart, with price and fill price
    assert chart["markers"] == [
        {"t": "2026-10-05", "action": "buy", "price": -0.4, "fill_price": -0.38},
        {"t": "2026-10-20", "action": "sell", "price": 0.6, "fill_price": None},
        {"t": "2026-11-10", "action": "buy", "price": -0.2, "fill_price": -0.25}]
    assert stat(page, "hedge") == ("num", "1")
    drift = research.hedge_drift_pct(pair.hedge, pair.hedge_ols)
    assert stat(page, "hedge_ols") == ("num" + (" warn" if abs(drift) > 10 else ""),
                                       f"{pair.hedge_ols:.4f} ({drift:+.1f} %)")
    assert stat(page, "coint_pvalue") == ("num", f"{pair.coint_pvalue:.4f}")  # cointegrated: not flagged
    assert stat(page, "spread_adf_pvalue")[1] == f"{pair.spread_adf_pvalue:.4f}"
    assert stat(page, "half_life") == ("num", f"{pair.half_life:.2f}")
    assert stat(page, "corr") == ("num", f"{pair.corr:.3f}")
    assert stat(page, "zscore") == ("num", f"{pair.zscore:+.2f}")
    assert stat(page, "stale") == ("num", "no")
    # recent signals with fill price and slip in money, the average slip, the link to LIST
    signals = page.split('id="signals"', 1)[1].split("</table>", 1)[0]
    assert signals.count("<tr data-rowid=") == 3
    assert "0.050 | $5.00" in signals and "-0.020 | -$2.00" in signals  # money sign first (issue 13)
    assert re.search(r'id="slip-all">0\.01500<', page) and re.search(r'id="slip-sell">\?<', page)
    assert 'href="/list?tradetype=pair&amp;ticker_webhook=BF+A-BF+B"' in page
    assert "Lightweight Charts" in page and "https://www.tradingview.com/" in page


@pytest.mark.gen_test(timeout=60)
async def test_anonymous_visitors_see_the_chart_and_statistics_but_no_signals(api, research_db):
    reply = await api.get("/pair/EWA-EWC")
    assert reply.code == 200
    page = reply.text
    chart = chart_of(page)
    assert len(chart["points"]) == 90 and chart["markers"] == []  # 90 days of bars
    assert [p["z"] is None for p in chart["points"]] == [True] * 19 + [False] * 71  # the SMA from the 20th day
    assert stat(page, "coint_pvalue")[0] == "num warn"  # independent walks: p > 0.05 is flagged
    assert 'id="signals"' not in page and "slip-all" not in page and "/list?" not in page
    assert "Login to see the pair" in page
    assert (await api.get("/pair/BF%20A-BF%20B")).code == 200
    assert "markers" in chart and chart_of((await api.get("/pair/BF%20A-BF%20B")).text)["markers"] == []
    missing = await api.get("/pair/NO-SUCH")
    assert missing.code == 404 and missing.headers["Content-Type"].startswith("text/html")


@pytest.mark.gen_test(timeout=60)
async def test_positions_and_watchlist_show_signed_z_pvalue_half_life_and_link_the_pair_page(api, research_db):
    browser = Browser(api)
    await browser.login()
    watch = (await browser.get("/watchlist")).text
    for name in ("BF A-BF B", "EWA-EWC"):
        pair = Pair.get(Pair.name == name)
        row = watch.split(f'<tr data-pair="{name}">', 1)[1].split("</tr>", 1)[0]
        assert f'href="/pair/{name.replace(" ", "%20")}" class="pair-link"' in row
        assert f'<td class="num">{pair.zscore:+.2f}</td>' in row  # signed
        warn = ' warn' if pair.coint_pvalue > 0.05 else ''
        assert f'<td class="num{warn}"' in row and f">{pair.coint_pvalue:.3f}</td>" in row
        assert f'<td class="num">{pair.half_life:.1f}</td>' in row
    assert "p &gt; 0.05" in watch.split('<tr data-pair="EWA-EWC">', 1)[1].split("</tr>", 1)[0]
    positions = (await browser.get("/positions")).text
    row = positions.split('<tr data-pair="KO-PEP">', 1)[1].split("</tr>", 1)[0]
    assert 'href="/pair/KO-PEP"' in row and f"{Pair.get(Pair.name == 'KO-PEP').zscore:+.2f}" in row
    listing = (await browser.get("/list?tradetype=pair&ticker_webhook=KO-PEP")).text
    assert 'href="/pair/KO-PEP" class="pair-link" id="pair-page-link"' in listing
    dashboard_page = (await browser.get("/dashboard")).text
    assert dashboard_page.count('<td class="ticker"><a href="/pair/BF%20A-BF%20B" class="pair-link">BF A-BF B</a>') == 3
    setup = (await browser.get("/setup?tab=pairs")).text
    assert 'href="/pair/BF%20A-BF%20B" class="pair-link"' in setup


@pytest.mark.gen_test(timeout=60)
async def test_the_screener_page_lists_the_run_and_offers_add_to_watchlist(api, app, store, settings):
    settings.screener_min_obs = 60
    assert (await api.get("/screener")).code == 302  # login first
    store.write_sync(add_tickers_tx)
    store.write_sync(lambda: Pair.create(name="PEP-KO", ticker1="PEP", ticker2="KO", hedge=2.7, status=-1,
                                         contracts=1))
    run_once(store, settings)
    browser = Browser(api)
    await browser.login("user1")
    page = (await browser.get("/screener")).text
    assert "only an admin can start a run" in page and 'id="screener-run-now"' not in page
    table = page.split('id="screener"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr data-name=") == 15
    best = screener.latest(1)["pairs"][0]
    assert (best["ticker1"], best["ticker2"]) == ("BF B", "BF A")
    first = table.split("<tr data-name=", 2)[1]
    assert first.startswith('"BF B-BF A"')
    assert f'data-hedge="{round(best["hedge"], 4)}"' in first and 'data-contracts="1"' in first
    assert 'class="add-watchlist"' in first
    # registered the other way round: said so, no button
    ko = table.split('<tr data-name="PEP-KO">', 1)[1].split("</tr>", 1)[0]
    assert "already registered" in ko and "add-watchlist" not in ko

    admin = Browser(api)
    await admin.login()
    page = (await admin.get("/screener")).text
    assert 'id="screener-run-now"' in page
    # the button's request: POST /v4/pair with the session cookie, the XSRF token and the row's values
    added = await admin.call("POST", "/v4/pair", {"ticker1": "BF B", "ticker2": "BF A",
                                                  "hedge": round(best["hedge"], 4), "status": -1, "contracts": 1})
    assert added.code == 201
    pair = Pair.get(Pair.name == "BF B-BF A")
    assert (pair.hedge, pair.status) == (round(best["hedge"], 4), -1)
    again = await admin.call("POST", "/v4/pair", {"ticker1": "BF B", "ticker2": "BF A", "hedge": 1.0,
                                                  "status": -1, "contracts": 1})
    assert again.code == 400 and "already exists" in again.json["message"]
    page = (await admin.get("/screener")).text
    row = page.split('<tr data-name="BF B-BF A">', 1)[1].split("</tr>", 1)[0]
    assert 'href="/pair/BF%20B-BF%20A" class="registered">already registered' in row
