"""The screener and a pair's page in Debian's Chromium (issue 12): run the screener from its page on the CSV
fixtures, add the best pair to the watchlist, open its page.  Screenshots go to test-output/ (gitignored)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from test_browser import Tab, launch

from pairs import market
from pairs.db import Signal, Ticker

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
SIGNAL_DAYS = ((dt.datetime(2026, 9, 14, 15, 0), "sell", 0.9, 0.88), (dt.datetime(2026, 10, 27, 15, 0), "buy", -0.6,
                                                                       None))


@pytest.mark.gen_test(timeout=180)
async def test_screener_to_watchlist_to_pair_page(chromium, app, http_server, base_url, store):
    app.ctx.settings.screener_min_obs = 60
    app.ctx.extras["price_source"] = market.CsvFolderSource(FIXTURES)
    await store.write(lambda: Ticker.insert_many([{"symbol": s, "active": 0} for s in
                                                  ("BF A", "BF B", "EWA", "EWC", "KO", "PEP")]).execute())

    playwright, browser = await launch(chromium)
    try:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = Tab(await context.new_page(), base_url, f"research-{store.db.__class__.__name__}")
        page = tab.page
        await tab.login("/screener")
        assert page.url.endswith("/screener")
        assert await page.locator("#screener-run").text_content() == "no screener run yet"

        # Run now: progress, then the page reloads with the results, best (lowest p-value) first
        async with page.expect_navigation(timeout=60000):
            await page.click("#screener-run-now")
        rows = page.locator("#screener tbody tr[data-name]")
        assert await rows.count() == 15
        assert await rows.first.get_attribute("data-name") == "BF B-BF A"
        assert "6 symbols, 15 pairs tested" in await page.locator("#screener-run").text_content()
        await tab.shot("1-screener")

        # sortable: p-value descending puts the worst pair first, ascending brings the best back
        header = page.locator("#screener th", has_text="p-value")
        await header.click()
        await header.click()
        assert await rows.first.get_attribute("data-name") == "EWC-EWA"
        await header.click()
        assert await rows.first.get_attribute("data-name") == "BF B-BF A"

        # Add to watchlist on the best pair
        await rows.first.locator("button.add-watchlist").click()
        added = rows.first.locator("a.added")
        await added.wait_for()
        assert await added.text_content() == "added to watchlist"
        await tab.shot("2-added")

        # the pair's signals, then its statistics from a watchlist run ("Update Now")
        def signals():
            for stamp, action, price, fill in SIGNAL_DAYS:
                Signal.create(timestamp=stamp, ticker="BF B-0.9795*BF A", order_action=action, order_contracts=100,
                              order_price=price, fill_price=fill, ticker_type="pair", ticker1="BF B",
                              ticker2="BF A", order_status="filled" if fill else "waiting")
        await store.write(signals)
        await tab.goto("/watchlist")
        async with page.expect_navigation():
            await page.click("#update-now")
        link = page.locator("#watchlist a.pair-link", has_text="BF B-0.9795*BF A")
        async with page.expect_navigation():
            await link.click()
        assert page.url.endswith("/pair/BF%20B-BF%20A")
        await page.locator("#pair-chart canvas").first.wait_for()
        assert await page.locator("#pair-chart canvas").count() >= 2
        assert (await page.locator("#pair-stats tr[data-key=hedge] td").text_content()) == "0.9795"
        assert re.fullmatch(r"[0-9.]+", await page.locator("#pair-stats tr[data-key=half_life] td").text_content())
        assert await page.locator("#signals tbody tr[data-rowid]").count() == 2

        # hovering a day shows its values
        box = await page.locator("#pair-chart").bounding_box()
        await page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 150)
        legend = await page.locator("#chart-legend").text_content()
        assert re.match(r"2026-\d\d-\d\d  spread -?[0-9.]+  SMA ", legend), legend
        await tab.shot("3-pair-page")

        # what an anonymous visitor sees: the chart and the statistics, no signals
        anonymous = Tab(await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page(),
                        base_url, f"research-anonymous-{store.db.__class__.__name__}")
        await anonymous.goto("/pair/BF%20B-BF%20A")
        await anonymous.page.locator("#pair-chart canvas").first.wait_for()
        assert await anonymous.page.locator("#signals").count() == 0
        await anonymous.shot("4-pair-page")
        assert tab.errors == [] and anonymous.errors == []
    finally:
        await browser.close()
        await playwright.stop()
