"""Continuity findings over HTTP on both databases: TradingView-shaped webhooks with one alert left out make exactly
one finding, shown on the pages, listed by /v4/continuity, mailed to a real SMTP server; the bridge sees nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from aiosmtpd.controller import Controller
from conftest import _free_port, make_token
from test_notify import Inbox, text
from test_pages import Browser

from pairs import messages
from pairs.db import Finding, Pair, Signal, Ticker, utcnow

CREATED = {"message": "'signal' created successfully."}


def alert(timestamp: dt.datetime, action: str, contracts: int, before: tuple, after: tuple) -> dict:
    """The README's alert template as TradingView fills it in for a pair strategy."""
    return {"passphrase": "webhook", "ticker": "NYSE:LNT-1.25*NYSE:FTS", "order_action": action,
            "order_contracts": contracts, "order_price": 2.5, "mar_pos": after[0], "mar_pos_size": after[1],
            "pre_mar_pos": before[0], "pre_mar_pos_size": before[1], "order_comment": "pairs strategy",
            "timestamp": timestamp.strftime("%Y-%m-%d %H:%M:%S")}


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def registered(store):
    def tx():
        for symbol in ("LNT", "FTS"):
            Ticker.create(symbol=symbol, sectype="STK", currency="USD", active=1)
        Pair.create(name="LNT-FTS", ticker1="LNT", ticker2="FTS", hedge=1.25, status=1)
    store.write_sync(tx)


async def post_sequence(api) -> list[int]:
    """Entry, [the exit is missing], short entry, short exit, within the last minute (younger than the e-mail's
    MAIL_WARN_AFTER_MIN: not yet stuck signals)."""
    start = utcnow() - dt.timedelta(seconds=60)
    sequence = [alert(start, "buy", 10, ("flat", 0), ("long", 10)),
                alert(start + dt.timedelta(seconds=40), "sell", 5, ("flat", 0), ("short", 5)),
                alert(start + dt.timedelta(seconds=60), "buy", 5, ("short", 5), ("flat", 0))]
    for body in sequence:
        reply = await api.post("/v4/webhook", body)
        assert (reply.code, reply.json) == (200, CREATED)  # answered exactly as without the check
    return [row.rowid for row in Signal.select().order_by(Signal.rowid)]


@pytest.mark.gen_test
async def test_a_missed_exit_is_one_finding_on_the_pages_in_the_api_and_in_the_mail(app, api, store, registered,
                                                                                     smtp):
    controller, inbox = smtp
    settings = app.ctx.settings
    settings.enable_email_notifications = True
    settings.mail_server, settings.mail_port = "127.0.0.1", controller.port
    settings.mail_use_ssl = settings.mail_use_tls = False
    settings.mail_recipient = "trader@example.org"

    rowids = await post_sequence(api)
    outcome = await app.ctx.jobs.continuity_alert
    assert outcome.updated == 1 and outcome.message == ("sent to trader@example.org: 0 signal(s), "
                                                        "1 gap/duplicate finding(s)")

    # the API
    assert (await api.get("/v4/continuity/0")).code == 401
    listed = await api.get("/v4/continuity/0", token=make_token("user1", is_admin=False))
    assert listed.code == 200 and listed.json["open"] == 1
    [finding] = listed.json["findings"]
    assert {k: v for k, v in finding.items() if k not in ("id", "found")} == {
        "signal_rowid": rowids[1], "previous_rowid": rowids[0], "kind": "gap", "name": "LNT-FTS",
        "expected_pos": "long", "expected_size": 10, "actual_pos": "flat", "actual_size": 0, "reviewed": False,
        "reviewed_by": None, "reviewed_at": None}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", finding["found"])

    # the mail
    [(_, recipients, mail)] = inbox.messages
    assert recipients == ["trader@example.org"]
    assert (f"gap #{rowids[1]} | LNT-FTS | gap after #{rowids[0]}: expected long 10 before this order, the alert "
            "says flat 0") in text(mail)
    assert Finding.get().notified is not None

    # the pages: the badge on the row, the open count in the header of a logged-in user
    browser = Browser(api)
    await browser.login()
    tip = f"gap after #{rowids[0]}: expected long 10 before this order, the alert says flat 0"
    for page in ("/dashboard", "/list?tradetype=pair&ticker_webhook=LNT-FTS", "/pair/LNT-FTS"):
        html = (await browser.get(page)).text
        row = html.split(f'<tr data-rowid="{rowids[1]}">', 1)[1].split("</tr>", 1)[0]
        assert f'<span class="badge gap" title="{tip}">gap</span>' in row, page
        assert f'data-finding="{finding["id"]}"' in row  # the admin's check mark
        assert html.count('class="badge ') == 1, page
        assert '1 open gap/dup</a>' in html
    anonymous = (await api.get("/dashboard")).text
    assert 'class="badge gap"' in anonymous and "open gap/dup" not in anonymous
    assert "review-finding" not in anonymous

    # an admin marks it reviewed: from the page (session cookie and XSRF token) or with a fresh admin token
    path = f"/v4/continuity/finding/{finding['id']}"
    assert (await browser.call("PUT", path, {"reviewed": True}, xsrf=False)).code == 403
    assert (await api.put(path, {}, token=make_token("user1", is_admin=False))).code == 401
    assert (await api.put(path, {}, token=make_token(fresh=False))).code == 401
    assert (await api.put("/v4/continuity/finding/999", {}, token=make_token())).json == {
        "message": messages.NOT_FOUND}
    reviewed = await browser.call("PUT", path, {"reviewed": True})
    assert reviewed.code == 200 and reviewed.json["reviewed"] is True and reviewed.json["reviewed_by"] == "admin"
    html = (await browser.get("/dashboard")).text
    assert "open gap/dup" not in html and 'class="badge gap reviewed"' in html and "review-finding" not in html
    reopened = await api.put(path, {"reviewed": False}, token=make_token())
    assert reopened.json["reviewed"] is False and reopened.json["reviewed_at"] is None
    assert (await api.get("/v4/continuity/5", token=make_token())).json["open"] == 1


@pytest.mark.gen_test
async def test_deleting_a_signal_deletes_the_findings_about_it_not_those_naming_it_previous(api, store, registered):
    first, second, _ = await post_sequence(api)
    (finding,) = Finding.select()
    assert (finding.signal, finding.previous) == (second, first)
    admin = make_token("admin", True, True)
    assert (await api.delete(f"/v4/signal/{first}", token=admin)).code == 200
    assert Finding.select().count() == 1  # the later alert's gap is still a fact
    assert (await api.delete(f"/v4/signal/{second}", token=admin)).code == 200
    assert Finding.select().count() == 0
    assert (await api.get("/v4/continuity/0", token=make_token())).json["open"] == 0


@pytest.mark.gen_test
async def test_the_bridge_reads_the_same_bytes_with_and_without_a_finding(api, store, registered):
    rowids = await post_sequence(api)
    assert Finding.select().count() == 1

    async def bridge_view() -> list[bytes]:
        paths = ["/v4/signals/status/waiting/0", "/v4/signals/0", "/v4/signals/ticker/LNT-FTS/0",
                 *(f"/v4/signal/{rowid}" for rowid in rowids)]
        return [(await api.get(path)).text.encode() for path in paths]

    with_finding = await bridge_view()
    store.write_sync(lambda: Finding.delete().execute())
    assert await bridge_view() == with_finding
    assert {row.order_status for row in Signal.select()} == {"waiting"}


@pytest.mark.gen_test
async def test_no_mail_for_findings_when_continuity_alerts_are_off(app, api, store, registered, smtp):
    controller, inbox = smtp
    settings = app.ctx.settings
    settings.enable_email_notifications = True
    settings.continuity_alerts = False
    settings.mail_server, settings.mail_port = "127.0.0.1", controller.port
    settings.mail_use_ssl = settings.mail_use_tls = False
    await post_sequence(api)
    assert app.ctx.jobs.continuity_alert is None  # the findings go nowhere: no check is even started
    assert inbox.messages == [] and Finding.get().notified is None


@pytest.mark.gen_test(timeout=120)
async def test_an_admin_reviews_a_finding_from_the_dashboard_in_the_browser(chromium, app, http_server, base_url,
                                                                           api, store, registered):
    from test_browser import Tab, launch

    rowids = await post_sequence(api)
    playwright, browser = await launch(chromium)
    try:
        tab = Tab(await browser.new_page(), base_url, f"continuity-{store.db.__class__.__name__}")
        page = tab.page
        await tab.login("/dashboard")
        badge = page.locator(f'tr[data-rowid="{rowids[1]}"] span.badge')
        assert await badge.text_content() == "gap"
        assert "expected long 10 before this order, the alert says flat 0" in await badge.get_attribute("title")
        assert (await page.locator("#open-findings").text_content()).strip() == "1 open gap/dup"
        await tab.shot("1-gap")
        async with page.expect_navigation():
            await page.locator(f'tr[data-rowid="{rowids[1]}"] button.review-finding').click()
        assert await page.locator("span.badge.gap.reviewed").count() == 1
        assert await page.locator("#open-findings").count() == 0
        assert await page.locator("button.review-finding").count() == 0
        await tab.shot("2-reviewed")
        assert tab.errors == []
        assert Finding.get().reviewed_by == "admin"
    finally:
        await browser.close()
        await playwright.stop()
