"""Live and mobile dashboard in Debian's Chromium (issue 13): a row appears without a reload, a dropped event
stream reconnects, and every page fits a phone's 390 px without sideways scrolling (screenshots in test-output/)."""

from __future__ import annotations

import pytest
from test_browser import Tab, launch

from tests.signal_fixtures import add_instruments, webhook

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, {"A": ("STK", "USD", 0), "B": ("STK", "USD", 0)}, {"A-B": (2.0, 1)})


@pytest.mark.gen_test(timeout=120)
async def test_a_new_signal_appears_without_a_reload_and_after_a_dropped_stream(
        chromium, app, http_server, base_url, store, api, instruments):
    playwright, browser = await launch(chromium)
    try:
        tab = Tab(await browser.new_page(viewport=PHONE), base_url, f"live-{store.db.__class__.__name__}")
        page = tab.page
        await tab.goto("/dashboard")
        await page.wait_for_selector("body[data-live=open]")
        await page.evaluate("window.sameDocument = true")
        assert await page.locator("#signals td.empty").text_content() == "no signals yet"

        assert (await api.post("/v4/webhook", webhook("A-2*B", order_comment="first live"))).code == 200
        await page.wait_for_selector("#signals td.comment:text('first live')")
        assert await page.evaluate("window.sameDocument") is True  # the row came in, the page was not reloaded
        assert await page.locator("#signals tbody tr").count() == 1
        await tab.shot("row-arrived")

        await http_server.close_all_connections()  # the server drops the stream; EventSource tries again
        await page.wait_for_selector("body[data-live=reconnecting]")
        await page.wait_for_selector("body[data-live=open]", timeout=20000)
        assert (await api.post("/v4/webhook", webhook("A-2*B", order_comment="after reconnect"))).code == 200
        await page.wait_for_selector("#signals td.comment:text('after reconnect')")
        assert await page.locator("#signals tbody tr").count() == 2
        assert await page.evaluate("window.sameDocument") is True
        assert tab.errors == [] or all("/events" in e or "ERR_" in e for e in tab.errors)
    finally:
        await browser.close()
        await playwright.stop()


@pytest.mark.gen_test(timeout=180)
async def test_every_page_fits_a_phone(chromium, app, http_server, base_url, store, api, instruments):
    for n in range(12):
        await api.post("/v4/webhook", webhook("A-2*B", order_comment=f"a longer comment for the phone layout {n}"))
    playwright, browser = await launch(chromium)
    try:
        context = await browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
        tab = Tab(await context.new_page(), base_url, f"phone-{store.db.__class__.__name__}")
        page = tab.page
        await tab.login("/dashboard")
        for path in ("/dashboard", "/list?tradetype=pair&ticker_webhook=A-B", "/positions", "/watchlist",
                     "/deliveries", "/setup", "/screener", "/pair/A-B", "/docs"):
            await tab.goto(path)
            if path == "/docs":
                await page.wait_for_selector("section.op")  # drawn by docs.js from /v4/openapi.json
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} scrolls sideways: {width} px"
            small = await page.evaluate("""() => [...document.querySelectorAll('main button, header button, '
                + 'header a.button, main a.button')].filter(b => b.offsetParent && b.getBoundingClientRect().height < 40)
                .map(b => b.textContent.trim())""")
            assert small == [], f"{path}: buttons too small to tap: {small}"
            await tab.shot(path.strip("/").split("?")[0].replace("/", "-") or "root")
        assert tab.errors == []
    finally:
        await browser.close()
        await playwright.stop()


@pytest.mark.gen_test(timeout=120)
async def test_docs_show_an_example_request_and_answer(chromium, app, http_server, base_url, store):
    playwright, browser = await launch(chromium)
    try:
        tab = Tab(await browser.new_page(), base_url, f"docs-{store.db.__class__.__name__}")
        page = tab.page
        await tab.goto("/docs")
        webhook = page.locator("section.op#post_v4_webhook")
        await webhook.locator("header").click()
        examples = webhook.locator(".example")
        assert await examples.locator("h4").all_text_contents() == ["Example request", "Example answer (200)"]
        request, answer = await examples.locator("pre").all_text_contents()
        assert '"ticker": "NYSE:LNT-1.25*NYSE:FTS"' in request and '"order_action": "buy"' in request
        assert '"message": "\'signal\' created successfully."' in answer
        assert await page.locator("a.back").get_attribute("href") == "/dashboard"
        await tab.shot("docs-webhook")
        assert tab.errors == []
    finally:
        await browser.close()
        await playwright.stop()
