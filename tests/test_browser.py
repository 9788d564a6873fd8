"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

Each test saves screenshots under test-output/ (gitignored).  Console errors fail the test, so a script or a
style blocked by the CSP, or a failing fetch, cannot go unnoticed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import CHROMIUM

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"


class Tab:
    """One browser page plus what the test needs around it: screenshots, dialogs accepted, console errors kept."""

    def __init__(self, page, base_url: str, name: str):
        self.page = page
        self.base = base_url
        self.name = name
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self._dialog)

    async def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.accept()

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def login(self, next_path: str, username: str = "admin", password: str = "password") -> None:
        """Through the login form, as a user does; lands on ``next_path``."""
        await self.goto(f"/login?next={next_path}")
        await self.page.fill("input[name=username]", username)
        await self.page.fill("input[name=password]", password)
        async with self.page.expect_navigation():
            await self.page.click("#login-form button[type=submit]")

    async def shot(self, step: str) -> None:
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / f"{self.name}-{step}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        assert path.read_bytes().startswith(b"\x89PNG"), path

    async def notice(self) -> str:
        return (await self.page.locator("#notice").text_content() or "").strip()

    async def save(self, form: str) -> None:
        """Each setup form has one Save button (issue 13); a success reloads the page with the notice."""
        async with self.page.expect_navigation():
            await self.page.locator(f"{form} button.send", has_text="Save").click()


async def launch(chromium):
    playwright = await chromium().start()
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    return playwright, browser


@pytest.mark.gen_test(timeout=120)
async def test_trader_day_in_the_browser(chromium, app, http_server, base_url, store):
    playwright, browser = await launch(chromium)
    try:
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        tab = Tab(await context.new_page(), base_url, f"trader-{store.db.__class__.__name__}")
        page = tab.page

        # log in from the login form; the session cookie is HttpOnly, so scripts cannot see it
        await tab.login("/setup")
        assert page.url.endswith("/setup")
        assert "pairs_session" not in await page.evaluate("document.cookie")
        assert (await page.locator("#countdown").text_content()).startswith("6d 23h")

        # two tickers (typed lower-case: the form upper-cases them) and a pair
        for symbol in ("lnt", "fts"):
            await tab.goto("/setup?tab=tickers")
            await page.fill("#add-ticker input[name=symbol]", symbol)
            await tab.save("#add-ticker")
            assert await tab.notice() == "'ticker' created successfully. | Code: 201"
        await tab.shot("1-tickers")
        await tab.goto("/setup?tab=pairs")
        await page.select_option("#add-pair select[name=ticker1]", "LNT")
        await page.select_option("#add-pair select[name=ticker2]", "FTS")
        await page.fill("#add-pair input[name=hedge]", "1.25")
        await page.fill("#add-pair input[name=contracts]", "100")
        await tab.save("#add-pair")
        assert await tab.notice() == "'pair' created successfully. | Code: 201"
        async with page.expect_navigation():
            await page.locator("#pair-list a", has_text="LNT-FTS").click()
        await page.check("#update-pair input[name=status][value='1']")
        await tab.save("#update-pair")
        assert await tab.notice() == "Updated LNT-FTS | Code: 200"
        await tab.shot("2-pairs")

        # the webhook simulator builds TradingView's JSON and posts it
        await tab.goto("/setup?tab=signals")
        await page.select_option("#sim-pair", "LNT-FTS")
        await page.fill("#simulator input[name=order_contracts]", "100")
        await page.fill("#simulator input[name=order_price]", "1.5")
        await page.select_option("#simulator select[name=mar_pos]", "long")
        await page.fill("#simulator input[name=mar_pos_size]", "100")
        await page.fill("#simulator input[name=passphrase]", "webhook")
        built = await page.locator("#sim-json").text_content()  # the folded preview follows the form
        assert '"ticker": "LNT-1.25*FTS"' in built and '"order_comment": "Long(manual)"' in built
        assert '"passphrase": "***"' in built
        async with page.expect_navigation():
            await page.click("#sim-post")
        assert await tab.notice() == "'signal' created successfully. | Code: 200"
        await tab.shot("3-simulator")

        # the dashboard shows it, waiting (white) with its age
        await tab.goto("/dashboard")
        row = page.locator("#signals tbody tr").first
        assert await row.locator("td.ticker").text_content() == "LNT-1.25*FTS"
        status = row.locator("td.status")
        assert "st-waiting" in await status.get_attribute("class")
        assert (await status.text_content()).startswith("waiting (0 min)")
        assert await status.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
        assert "today" in await row.locator("td.time").get_attribute("class")
        await tab.shot("4-dashboard-waiting")

        # the signal editor: the bridge's work done by hand (filled, with its fill price and slip)
        await tab.goto("/setup?tab=signals")
        async with page.expect_navigation():
            await page.locator("#signal-list a").first.click()
        await page.select_option("#editor select[name=order_status]", "filled")
        await page.fill("#editor input[name=fill_price]", "1.52")
        await page.fill("#editor input[name=slip]", "0.02")
        await page.fill("#editor input[name=passphrase]", "webhook")
        await tab.save("#editor")
        rowid = await page.locator("#editor input[name=rowid]").input_value()
        assert await tab.notice() == f"Updated order #{rowid} | Code: 200"
        await tab.shot("5-editor")
        await tab.goto("/dashboard")
        status = page.locator("#signals tbody tr").first.locator("td.status")
        assert await status.text_content() == "filled"
        assert await status.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(111, 207, 111)"
        assert await page.locator("#signals tbody tr").first.locator("td").nth(9).text_content() == "0.020 | $2.00"

        # the list page for the pair and a date range: the average slip
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        await tab.goto("/list")
        await page.select_option("#ticker_webhook", "LNT-FTS")
        assert await page.locator("#status-dot").get_attribute("title") == "active"
        await page.fill("input[name=start_date]", yesterday)
        await page.fill("input[name=end_date]", tomorrow)
        async with page.expect_navigation():
            await page.click("#list-filter button[type=submit]")
        assert await page.locator("#slip-buy").text_content() == "0.02000"
        assert await page.locator("#slip-all").text_content() == "0.02000"
        assert await page.locator("#slip-sell").text_content() == "?"
        assert await page.locator("#signals tbody tr[data-rowid]").count() == 1
        await tab.shot("6-list")

        # delete it (the confirm dialog is accepted), then log out
        await tab.goto(f"/setup?tab=signals&signal={rowid}")
        async with page.expect_navigation():
            await page.click("#delete-signal")
        assert tab.dialogs == ["Do you want to delete selected signal?"]
        assert await tab.notice() == "'signal' deleted successfully. | Code: 200"
        assert await page.locator("#signal-list li.empty").count() == 1

        # a ticker put on the watchlist, the pair deleted
        await tab.goto("/setup?tab=tickers&ticker=FTS")
        await page.check("#update-ticker input[name=active][value='-1']")
        await tab.save("#update-ticker")
        assert await tab.notice() == "Updated FTS | Code: 200"
        assert "st-1" in await page.locator("#ticker-list li", has_text="FTS").locator(":scope > .dot").get_attribute("class")
        # FTS trades in Toronto: the price job must ask Yahoo for FTS.TO, which no spelling rule can know
        assert await page.locator("#yahoo-used").text_content() == "FTS"
        await page.fill("#yahoo-symbol input[name=yahoo_symbol]", "fts.to")
        async with page.expect_navigation():
            await page.click("#yahoo-symbol button[type=submit]")
        assert await tab.notice() == "Yahoo symbol of FTS: FTS.TO"
        assert await page.locator("#yahoo-used").text_content() == "FTS.TO"
        await tab.shot("7-ticker")
        await tab.goto("/setup?tab=pairs&pair=LNT-FTS")
        async with page.expect_navigation():
            await page.locator("#update-pair button.danger").click()
        assert await tab.notice() == "'pair' deleted successfully. | Code: 200"
        assert await page.locator("#pair-list li.empty").count() == 1
        await tab.shot("7-instruments")

        # the delivery log has the simulated webhook and the editor's PUT, passphrases redacted
        await tab.goto("/deliveries?route=/v4/webhook")
        bodies = await page.locator("#deliveries code.body").all_text_contents()
        assert len(bodies) == 2 and all('"passphrase": "***"' in b for b in bodies)
        assert "webhook\"" not in " ".join(bodies)
        await tab.shot("7-deliveries")
        async with page.expect_navigation():
            await page.click("#logout")
        assert await page.locator("#login").is_visible()
        await tab.goto("/setup")
        assert "/login?next=" in page.url
        await tab.shot("8-logged-out")
        assert tab.errors == []
    finally:
        await browser.close()
        await playwright.stop()


@pytest.mark.gen_test(timeout=120)
async def test_webhook_script_comment_stays_text_in_the_browser(chromium, app, base_url, store, api):
    reply = await api.post("/v4/webhook", {"passphrase": "webhook", "ticker": "LNT", "order_action": "buy",
                                           "order_contracts": 1, "order_price": 1.0,
                                           "order_comment": "<script>alert('pwned')</script><b>bold</b>"})
    assert reply.code in (200, 201)
    playwright, browser = await launch(chromium)
    try:
        tab = Tab(await browser.new_page(), base_url, f"xss-{store.db.__class__.__name__}")
        await tab.goto("/dashboard")
        cell = tab.page.locator("#signals tbody tr").first.locator("td.comment")
        assert await cell.text_content() == "<script>alert('pwned')</script><b>bold</b>"
        assert await cell.locator("b").count() == 0
        assert tab.dialogs == []
        await tab.shot("dashboard")
        assert tab.errors == []
    finally:
        await browser.close()
        await playwright.stop()


@pytest.mark.gen_test(timeout=120)
async def test_positions_and_watchlist_charts_in_the_browser(chromium, app, http_server, base_url, store):
    import math

    from pairs import market
    from pairs.db import Account, Pair, Ticker, utcnow

    days = [dt.datetime(2026, 7, 1) + dt.timedelta(days=i) for i in range(90)]
    bars = []
    for i, day in enumerate(days):
        pep = 150 + 6 * math.sin(i / 9)
        bars.append({"symbol": "PEP", "interval": market.DAILY, "time": day, "close": pep})
        bars.append({"symbol": "KO", "interval": market.DAILY, "time": day,
                     "close": 0.4 * pep + 1.5 * math.sin(i / 4) + 0.02 * i})

    def setup():
        market.PriceBar.insert_many(bars).execute()
        Ticker.insert_many([
            {"symbol": "KO", "active": 0, "active_pos": 200, "active_pnl": 35.0, "active_cost": 61.2},
            {"symbol": "PEP", "active": 0, "active_pos": -80, "active_pnl": -12.0, "active_cost": 150.1},
        ]).execute()
        Pair.insert_many([
            {"name": "KO-PEP", "ticker1": "KO", "ticker2": "PEP", "hedge": 0.4, "status": 1, "contracts": 200,
             "act_price": 2.1, "sma": 1.2, "sma_dist": -0.9, "std": 0.6},
            {"name": "EWA-EWC", "ticker1": "EWA", "ticker2": "EWC", "hedge": 0.9, "status": -1, "contracts": 100,
             "act_price": 1.0, "sma": 2.0, "sma_dist": 1.0, "std": 0.4},
        ]).execute()
        Account.insert(timestamp=utcnow(), NetLiquidation=125000.0, DailyPnL=310.0, RealizedPnL=0.0,
                       UnrealizedPnL=-45.5, GrossPositionValue=24000.0, AvailableFunds=80000.0).execute()
    store.write_sync(setup)

    playwright, browser = await launch(chromium)
    try:
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        tab = Tab(await context.new_page(), base_url, f"charts-{store.db.__class__.__name__}")
        page = tab.page
        await tab.login("/positions")
        # drawn by Lightweight Charts (canvas): the figure's data has the spread, SMA and std of every day
        chart = page.locator("figure.chart .spread-lwc")
        assert await chart.count() == 1
        await chart.locator("canvas").first.wait_for()
        data = json.loads(await page.locator("figure.chart").get_attribute("data-chart"))
        assert len(data["points"]) == 90 and data["points"][-1]["sma"] is not None
        assert await page.locator("#positions td.check").first.text_content() == "ok"
        await tab.shot("positions")
        await tab.goto("/watchlist")
        assert await page.locator("figure.chart .spread-lwc").count() == 0
        assert await page.locator("figure.chart .chart-empty").text_content() == "no stored prices yet"
        assert (await page.locator("#last-run").text_content()).strip() == "Last Price Update: never"
        await tab.shot("watchlist")

        # "Update Now" posts (with the XSRF token) and the watchlist run fetches and stores the pair's prices
        app.ctx.extras["price_source"] = market.CsvFolderSource(Path(__file__).parent / "fixtures" / "prices")
        async with page.expect_navigation():
            await page.click("#update-now")
        assert page.url.split("?")[0].endswith("/watchlist")
        assert await tab.notice() == "1 of 1 pairs updated."  # the outcome of the run, in one line
        assert (await page.locator("#last-run").text_content()).endswith("(0 min ago)")
        await page.locator("figure.chart .spread-lwc canvas").first.wait_for()
        assert await page.locator("#watchlist td.num.z0, #watchlist td.num.z1, #watchlist td.num.z15, "
                                  "#watchlist td.num.z2").count() == 1
        await tab.shot("watchlist-updated")
        assert tab.errors == []
    finally:
        await browser.close()
        await playwright.stop()
