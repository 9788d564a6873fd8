"""The dashboard pages over HTTP: anonymous vs logged-in views, the session cookie, XSRF, escaping, NULL rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import statistics
import threading
import urllib.parse
from pathlib import Path

import pytest

from pairs import bridge, dashboard, jobs, market, messages
from pairs.config import parse_networks
from pairs.db import Account, DeliveryLog, Pair, Signal, SimpleSession, Ticker

STATIC = Path(__file__).resolve().parent.parent / "static"
# The pages' clock in every test here (naive UTC): noon in US/Pacific, the display zone of the "today" tests, so
# no age or "today" depends on when the suite runs (the application's ``now`` setting, handlers/pages.py).
NOW = dt.datetime(2026, 11, 24, 20, 0, 0)


@pytest.fixture
def app(settings, store):
    from handlers.app import make_app

    application = make_app(settings, store, now=lambda: NOW)
    yield application
    application.ctx.executor.shutdown(wait=True)


class Browser:
    """Cookies across requests, as a browser keeps them (the test client does not)."""

    def __init__(self, api):
        self.api = api
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def _absorb(self, reply) -> None:
        for header in reply.headers.get_list("Set-Cookie"):
            self.set_cookie_headers.append(header)
            name, _, value = header.split(";", 1)[0].partition("=")
            if "Max-Age=0" in header or value in ("", '""'):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def _headers(self, extra=None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    async def get(self, path: str):
        reply = await self.api.get(path, headers=self._headers())
        self._absorb(reply)
        return reply

    async def form(self, path: str, fields: dict[str, str]):
        reply = await self.api.call("POST", path, raw=urllib.parse.urlencode(fields), headers=self._headers(),
                                    content_type="application/x-www-form-urlencoded")
        self._absorb(reply)
        return reply

    async def call(self, method: str, path: str, body=None, xsrf: bool = True):
        headers = {"X-XSRFToken": self.cookies["_xsrf"]} if xsrf else {}
        reply = await self.api.call(method, path, body, headers=self._headers(headers))
        self._absorb(reply)
        return reply

    async def login(self, username: str = "admin", password: str = "password", expire: int = 60):
        await self.get("/login")
        return await self.form("/login", {"username": username, "password": password, "expire": str(expire),
                                          "_xsrf": self.cookies["_xsrf"], "next": "/dashboard"})


def rows_of(html: str, table_id: str) -> int:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return len(re.findall(r"<tr data-", table))


def add_signals(store, count: int, **values) -> None:
    base = {"timestamp": NOW, "ticker": "LNT-1.25*FTS", "order_action": "buy", "order_contracts": 100,
            "order_price": 1.5, "order_status": "waiting", "ticker_type": "pair", "ticker1": "LNT", "ticker2": "FTS",
            "hedge_param": 1.25}
    store.write_sync(lambda: Signal.insert_many([{**base, **values}] * count).execute())


# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_root_redirects_to_the_dashboard(api):
    reply = await api.get("/")
    assert reply.code == 302
    assert reply.headers["Location"] == "/dashboard"


@pytest.mark.gen_test
async def test_pages_carry_the_security_headers_and_no_inline_script(api, store):
    for path in ("/dashboard", "/list", "/positions", "/watchlist", "/login"):
        reply = await api.get(path)
        assert reply.code == 200, path
        assert reply.headers["Content-Type"].startswith("text/html")
        csp = reply.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert "Referrer-Policy" in reply.headers
        assert re.search(r"<script>|<script [^>]*>[^<]", reply.text) is None, "inline script on " + path
        assert " style=" not in reply.text and "<style" not in reply.text, "inline style on " + path
        assert re.search(r'(src|href)="(https?:)?//', reply.text) is None, "a resource from elsewhere on " + path
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        assert "localStorage" not in text and "sessionStorage" not in text, script.name
        assert re.search(r"https?://(?!www\.w3\.org/2000/svg)", text) is None, script.name  # only SVG's namespace


@pytest.mark.gen_test
async def test_dashboard_shows_5_rows_anonymously_and_20_with_paging_when_logged_in(api, store):
    add_signals(store, 30)
    anonymous = await api.get("/dashboard")
    assert rows_of(anonymous.text, "signals") == 5
    assert "Login to see more rows!" in anonymous.text
    assert 'id="older"' not in anonymous.text

    browser = Browser(api)
    assert (await browser.login()).code == 302
    page = await browser.get("/dashboard")
    assert rows_of(page.text, "signals") == 20
    assert "Login to see more rows!" not in page.text
    older = re.search(r'href="/dashboard\?before=(\d+)"', page.text)
    assert older
    second = await browser.get(f"/dashboard?before={older.group(1)}")
    assert rows_of(second.text, "signals") == 10
    assert 'id="older"' not in second.text


@pytest.mark.gen_test
async def test_login_sets_a_signed_httponly_samesite_cookie_and_logout_ends_the_session(api, store):
    browser = Browser(api)
    reply = await browser.login(expire=30)
    assert reply.code == 302 and reply.headers["Location"] == "/dashboard"
    cookie = next(h for h in browser.set_cookie_headers if h.startswith("pairs_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure under HTTPS
    page = await browser.get("/dashboard")
    assert 'id="countdown" data-expires="' in page.text and "admin" in page.text
    expires = int(re.search(r'data-expires="(\d+)"', page.text).group(1))
    assert 29 * 60 <= expires - dt.datetime.now(dt.UTC).timestamp() <= 31 * 60

    session = browser.cookies["pairs_session"]
    out = await browser.form("/logout", {"_xsrf": browser.cookies["_xsrf"]})
    assert out.code == 302
    assert "pairs_session" not in browser.cookies
    # the old cookie is dead on the server too, not only forgotten by the browser
    replay = await api.get("/setup", headers={"Cookie": f"pairs_session={session}"})
    assert replay.code == 302 and replay.headers["Location"].startswith("/login?")


@pytest.mark.gen_test
async def test_login_form_offers_the_expire_choices_with_one_week_preselected(api, store):
    page = (await api.get("/login")).text
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]+)</option>', page)
    assert [(label, int(value)) for value, _, label in options] == [
        ("1m", 1), ("3m", 3), ("5m", 5), ("10m", 10), ("20m", 20), ("30m", 30), ("1h", 60), ("2h", 120),
        ("4h", 240), ("8h", 480), ("12h", 720), ("1d", 1440), ("2d", 2880), ("1w", 10080)]
    assert [label for _, selected, label in options if selected] == ["1w"]


@pytest.mark.gen_test
async def test_login_failures_render_the_form_again(api, store):
    browser = Browser(api)
    bad = await browser.login(password="wrong")
    assert bad.code == 401
    assert messages.BAD_LOGIN in bad.text and 'id="login-form"' in bad.text
    assert "pairs_session" not in browser.cookies
    forged = await api.call("POST", "/login", raw="username=admin&password=password",
                            content_type="application/x-www-form-urlencoded")
    assert forged.code == 403 and forged.headers["Content-Type"].startswith("text/html")
    assert "pairs_session" not in forged.headers.get("Set-Cookie", "")


@pytest.mark.gen_test
async def test_login_redirects_only_to_local_paths(api, store):
    browser = Browser(api)
    await browser.get("/login")
    for target, expected in (("/setup?tab=pairs", "/setup?tab=pairs"), ("//evil.example/", "/dashboard"),
                             ("https://evil.example/", "/dashboard"), ("/\\evil.example", "/dashboard")):
        reply = await browser.form("/login", {"username": "admin", "password": "password", "next": target,
                                              "_xsrf": browser.cookies["_xsrf"]})
        assert reply.headers["Location"] == expected


@pytest.mark.gen_test
async def test_login_never_redirects_to_another_site_nor_fails_after_writing_a_session(api, store):
    browser = Browser(api)
    page = await browser.get("/login?next=/%09/evil.example")  # %09 is a tab once decoded: /<tab>/evil.example
    assert page.code == 200 and 'value="/dashboard"' in page.text
    await browser.login()
    for target in ("/\t/evil.example", "/\n/evil.example", "/\r\nSet-Cookie: a=b", "/\\evil.example", "/ /x"):
        sessions = SimpleSession.select().count()
        reply = await browser.form("/login", {"username": "admin", "password": "password", "next": target,
                                              "_xsrf": browser.cookies["_xsrf"]})
        assert (reply.code, reply.headers["Location"]) == (302, "/dashboard"), target
        assert SimpleSession.select().count() == sessions  # the new session replaced the old one: nothing stray
    # bad arguments are refused before anything is written
    sessions = SimpleSession.select().count()
    for expire in ("²", "9" * 5000, "1.5", "abc"):
        reply = await browser.form("/login", {"username": "admin", "password": "password", "expire": expire,
                                              "_xsrf": browser.cookies["_xsrf"]})
        assert reply.code == 400 and reply.headers["Content-Type"].startswith("text/html"), (expire, reply)
        assert SimpleSession.select().count() == sessions
    reply = await browser.form("/login", {"username": "admin", "password": "password", "expire": "999999999",
                                          "_xsrf": browser.cookies["_xsrf"]})  # out of the choices: one week
    assert reply.code == 302


@pytest.mark.gen_test
async def test_pages_render_every_time_the_api_accepted(api, store):
    """0001-01-01 00:00:00Z is a valid webhook timestamp; in US/Pacific it is the year 0, which Python cannot show."""
    for stamp in ("0001-01-01 00:00:00Z", "9999-12-31 23:59:59Z"):
        reply = await api.post("/v4/webhook", {"passphrase": "webhook", "ticker": "LNT-1.25*FTS", "timestamp": stamp,
                                               "order_action": "buy", "order_contracts": 1, "order_price": 1})
        assert reply.code in (200, 201), reply
        reply = await api.post("/v4/pnl", {"passphrase": "webhook", "timestamp": stamp, "NetLiquidation": 1})
        assert reply.code == 201, reply
    browser = Browser(api)
    for logged_in in (False, True):
        if logged_in:
            await browser.login()
        for path in ("/dashboard", "/list?ticker_webhook=LNT-FTS&start_date=0001-01-01&end_date=9999-12-31",
                     "/positions", "/setup", "/setup?signal=1", "/deliveries"):
            reply = await browser.get(path)
            assert reply.code in (200, 302), (path, logged_in, reply)
            assert reply.code == 200 or not logged_in
    reply = await browser.get("/dashboard")
    assert "0001-01-01 00:00:00" in reply.text and "9999-12-31" in reply.text


@pytest.mark.gen_test
async def test_dates_and_paging_keys_at_the_edge_of_the_calendar(api, store):
    add_signals(store, 3)
    browser = Browser(api)
    days = "start_date=9999-12-31&end_date=9999-12-31"
    assert (await browser.get(f"/list?{days}")).code == 200  # anonymous
    assert (await browser.get(f"/list?ticker_webhook=LNT-FTS&{days}")).code == 200
    assert (await browser.get("/list?end_date=9999-12-31")).code == 200
    assert (await browser.get("/list?start_date=0001-01-01")).code == 200
    await browser.login()
    for path in ("/deliveries?end_date=9999-12-31", f"/deliveries?{days}", "/deliveries?start_date=0001-01-01",
                 "/deliveries?status=%C2%B2", "/deliveries?status=" + "9" * 5000,
                 "/list?ticker_webhook=LNT-FTS&before=2026-01-01T00:00:00~99999999999999999999",
                 "/list?ticker_webhook=LNT-FTS&end_date=9999-12-31"):
        reply = await browser.get(path)
        assert reply.code == 200, (path, reply)
    for path in ("/dashboard?before=" + "9" * 5000, "/setup?signal=%C2%B2", "/deliveries?before=abc"):
        reply = await browser.get(path)
        assert reply.code == 400 and reply.headers["Content-Type"].startswith("text/html"), (path, reply)


@pytest.mark.gen_test
async def test_cookie_writes_need_the_xsrf_token(api, store):
    browser = Browser(api)
    await browser.login()
    body = {"symbol": "LNT"}
    forged = await browser.call("POST", "/v4/ticker", body, xsrf=False)
    assert forged.code == 403
    assert forged.json == {"message": messages.CSRF_FAILED}
    assert Ticker.select().count() == 0
    ok = await browser.call("POST", "/v4/ticker", body)
    assert ok.code == 201 and ok.json == {"message": "'ticker' created successfully."}
    assert Ticker.get().symbol == "LNT"


@pytest.mark.gen_test
async def test_webhook_text_is_rendered_as_text(api, store):
    posted = await api.post("/v4/webhook", {"passphrase": "webhook", "ticker": "<b>LNT</b>", "order_action": "buy",
                                            "order_contracts": 1, "order_comment": "<script>alert('x')</script>",
                                            "error_msg": '"><img src=x onerror=alert(1)>'})
    assert posted.code in (200, 201)
    page = await api.get("/dashboard")
    assert "<script>alert" not in page.text and "<b>LNT" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert re.search(r'title="[^"<>]* \| &quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;"', page.text)


@pytest.mark.gen_test
async def test_status_colours_elapsed_minutes_slip_and_today(api, store):
    now = NOW
    add_signals(store, 1, order_status="waiting", timestamp=now - dt.timedelta(minutes=7))
    add_signals(store, 1, order_status="filled", fill_price=1.52, slip=0.02, order_contracts=100,
                timestamp=now - dt.timedelta(days=400))
    add_signals(store, 1, order_status="critical err", status_msg="insufficient funds")
    page = (await api.get("/dashboard")).text
    assert '<td class="status st-waiting">waiting (7 min)</td>' in page
    assert '<td class="status st-filled">filled</td>' in page
    assert '<td class="num">0.020 | $2.00</td>' in page
    assert 'class="status st-error" title="insufficient funds">critical err</td>' in page
    assert page.count('class="time today"') == 2  # the row of 400 days ago is not "today" (the year counts)
    legend = page.split('<p class="legend">', 1)[1].split("</p>", 1)[0]
    for klass, label in (("st-waiting", "waiting"), ("st-canceled", "canceled"), ("st-error", "error"),
                         ("st-created", "created"), ("st-filled", "filled")):
        assert f'<span class="{klass}">{label}</span>' in legend


@pytest.mark.gen_test
async def test_null_rows_never_break_a_page(api, store):
    store.write_sync(lambda: Signal.insert(rowid=1, timestamp=None).execute())
    store.write_sync(lambda: Pair.insert(name="A-B", ticker1="A", ticker2="B", hedge=None, status=1).execute())
    store.write_sync(lambda: Pair.insert(name="A-C", ticker1="A", ticker2="C", hedge=2.0, status=-1, std=0,
                                         sma_dist=None).execute())
    store.write_sync(lambda: Ticker.insert(symbol="A", active=1, active_pos=None, active_pnl=None,
                                           active_cost=None).execute())
    store.write_sync(lambda: Account.insert(timestamp=None).execute())
    browser = Browser(api)
    await browser.login()
    for path in ("/dashboard", "/list?ticker_webhook=A-B", "/positions", "/watchlist", "/setup?signal=1",
                 "/setup?tab=pairs&pair=A-B", "/setup?tab=tickers&ticker=A", "/deliveries"):
        reply = await browser.get(path)
        assert reply.code == 200, (path, reply.text[:300])
    positions = (await browser.get("/positions")).text
    assert "A-?*B" in positions and "no ticker row for this leg" in positions


@pytest.mark.gen_test
async def test_list_filters_by_pair_and_days_with_average_slips(api, store):
    now = NOW
    add_signals(store, 1, order_action="buy", slip=0.02)
    add_signals(store, 1, order_action="buy", slip=0.04)
    add_signals(store, 1, order_action="sell", slip=0.0)
    add_signals(store, 1, order_action="sell", slip=0.5, timestamp=now - dt.timedelta(days=10))
    add_signals(store, 1, order_action="buy", slip=9.0, ticker1="X", ticker2="Y")
    empty = await api.get("/list")
    assert rows_of(empty.text, "signals") == 0 and 'id="slip-all"></td>' in empty.text
    page = (await api.get("/list?tradetype=pair&ticker_webhook=LNT-FTS")).text
    assert rows_of(page, "signals") == 3
    assert 'id="slip-buy">0.03000<' in page and 'id="slip-sell">0.00000<' in page and 'id="slip-all">0.02000<' in page
    start = (now - dt.timedelta(days=12)).date().isoformat()
    wide = (await api.get(f"/list?ticker_webhook=LNT-FTS&start_date={start}&end_date=2099-01-01")).text
    assert rows_of(wide, "signals") == 4 and 'id="slip-sell">0.25000<' in wide
    none = (await api.get("/list?ticker_webhook=NOPE")).text
    assert 'id="slip-buy">?<' in none and 'id="slip-all">?<' in none


@pytest.mark.gen_test
async def test_list_by_ticker_shows_only_that_tickers_single_signals(api, store):
    add_signals(store, 2, ticker="LNT", ticker_type="single", ticker1="LNT", ticker2=None, hedge_param=None,
                order_price=12345.678, slip=0.1)
    add_signals(store, 1)  # the pair LNT-FTS: not a single LNT signal
    add_signals(store, 1, ticker="FTS", ticker_type="single", ticker1="FTS", ticker2=None)
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/list?tradetype=ticker&ticker_webhook=LNT")).text
    assert rows_of(page, "signals") == 2
    assert re.findall(r'<td class="ticker">([^<]*)</td>', page) == ["LNT", "LNT"]
    assert page.count('<td class="num">12,345.68</td>') == 2  # the list shows prices with 2 decimals
    assert 'id="slip-all">0.10000<' in page and 'value="ticker" checked' in page


@pytest.mark.gen_test(timeout=30)
async def test_webhooks_are_answered_while_the_list_page_averages_a_long_window(api, store, monkeypatch):
    averaging, release = threading.Event(), threading.Event()
    real = dashboard.average_slips

    def slow_average(*args):
        averaging.set()
        if not release.wait(20):
            raise AssertionError("the test never released the average")
        return real(*args)

    monkeypatch.setattr(dashboard, "average_slips", slow_average)
    add_signals(store, 1, slip=0.5)
    page = asyncio.ensure_future(api.get("/list?ticker_webhook=LNT-FTS"))
    try:
        assert await asyncio.get_running_loop().run_in_executor(None, averaging.wait, 10)
        reply = await api.post("/v4/webhook", {"passphrase": "webhook", "ticker": "LNT", "order_action": "buy",
                                               "order_contracts": 1, "order_price": 1.0})
        assert reply.code in (200, 201) and not page.done()
    finally:
        release.set()
    assert 'id="slip-all">0.50000<' in (await page).text


@pytest.mark.gen_test
async def test_list_caps_anonymous_rows(api, store):
    add_signals(store, 8)
    anonymous = (await api.get("/list?ticker_webhook=LNT-FTS")).text
    assert rows_of(anonymous, "signals") == 5 and "Login to see more rows!" in anonymous
    browser = Browser(api)
    await browser.login()
    assert rows_of((await browser.get("/list?ticker_webhook=LNT-FTS")).text, "signals") == 8


@pytest.mark.gen_test
async def test_positions_show_legs_sums_distance_and_hedge_check(api, store):
    def setup():
        Ticker.insert_many([
            {"symbol": "LNT", "active": 0, "active_pos": 100, "active_pnl": 50.0, "active_cost": 60.0},
            {"symbol": "FTS", "active": 0, "active_pos": -125, "active_pnl": -20.0, "active_cost": 40.0},
            {"symbol": "AAA", "active": 1, "active_pos": -3, "active_pnl": -1.5, "active_cost": 10.0},
        ]).execute()
        Pair.insert(name="LNT-FTS", ticker1="LNT", ticker2="FTS", hedge=1.25, status=1, contracts=100,
                    act_price=10.0, sma=12.0, sma_dist=2.0, std=0.8).execute()
        Account.insert(timestamp=NOW, NetLiquidation=100000.0, DailyPnL=-12.0).execute()
    store.write_sync(setup)
    anonymous = (await api.get("/positions")).text
    assert "Login to see PNL details" in anonymous and 'id="account"' not in anonymous
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/positions")).text
    row = page.split('data-pair="LNT-FTS"', 1)[1].split("</tr>", 1)[0]
    assert "LNT-1.25*FTS" in row
    assert 'title="avg: $10.000 | act: $10.300">$30.00</td>' in row
    assert '<td class="num dist-plus">$200.00</td>' in row
    assert '<td class="num z2">2.50</td>' in row
    assert '<td class="check ">ok</td>' in row
    assert "tradeaction=close&amp;tradepair=LNT-FTS&amp;tradecontracts=100&amp;tradeprice=10.3" in row
    assert 'id="account"' in page and "C$100,000.00" in page and "-C$12.00" in page
    assert re.search(r"Last PNL Update: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(0 min ago\)", page)
    account = page.split('id="account"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", account)[-2:] == ["$200.00", "C$100,200.00"]  # ΣDistanceSMA, Ceiling
    assert "<th>&Sigma;DistanceSMA (US$)</th>" in account and 'id="ceiling-note"' in page  # US$ added to C$: said
    assert "AAA" in page.split('id="singles"', 1)[1]
    assert "no stored prices yet" in page


@pytest.mark.gen_test
async def test_watchlist_marks_new_positions_and_caps_anonymous(api, store):
    store.write_sync(lambda: Pair.insert_many([
        {"name": f"A{i}-B{i}", "ticker1": f"A{i}", "ticker2": f"B{i}", "hedge": 1.0, "status": -1, "contracts": 10,
         "act_price": 1.0, "sma": 2.0, "sma_dist": 1.0 + i, "std": 0.5} for i in range(7)]).execute())
    anonymous = (await api.get("/watchlist")).text
    assert rows_of(anonymous, "watchlist") == 5 and "Login to update!" in anonymous
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/watchlist")).text
    assert rows_of(page, "watchlist") == 7 and 'id="update-now"' in page
    assert page.count('class="new"') == 7
    assert "tradeaction=buy&amp;tradepair=A0-B0&amp;tradecontracts=10&amp;tradeprice=1.0" in page


@pytest.mark.gen_test
async def test_setup_needs_login_and_prefills_a_quick_trade(api, store):
    reply = await api.get("/setup")
    assert reply.code == 302 and reply.headers["Location"] == "/login?next=%2Fsetup"
    store.write_sync(lambda: Pair.insert(name="LNT-FTS", ticker1="LNT", ticker2="FTS", hedge=1.25, status=1,
                                         contracts=100).execute())
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/setup?tradeaction=revert&tradepair=LNT-FTS&tradecontracts=-40&tradeprice=1.5")).text
    assert 'value="LNT-FTS" data-ticker1="LNT" data-ticker2="FTS" data-hedge="1.25" data-status="1" selected' in page
    assert 'name="order_contracts" inputmode="numeric" pattern="\\d+" value="80"' in page
    assert 'name="mar_pos_size" inputmode="numeric" value="40"' in page
    assert "<option selected>buy</option>" in page


@pytest.mark.gen_test
async def test_setup_sets_a_tickers_yahoo_symbol_with_the_xsrf_token(api, store):
    store.write_sync(lambda: Ticker.insert(symbol="RCI B", sectype="STK", active=0).execute())
    browser = Browser(api)
    anonymous = await browser.form("/setup/yahoo-symbol", {"symbol": "RCI B", "yahoo_symbol": "X",
                                                           "_xsrf": browser.cookies.get("_xsrf", "")})
    assert anonymous.code == 403  # no _xsrf cookie yet: nothing is even read
    await browser.get("/login")
    anonymous = await browser.form("/setup/yahoo-symbol", {"symbol": "RCI B", "yahoo_symbol": "X",
                                                           "_xsrf": browser.cookies["_xsrf"]})
    assert anonymous.code == 302 and anonymous.headers["Location"].startswith("/login?")
    await browser.login()
    page = (await browser.get("/setup?tab=tickers&ticker=RCI+B")).text
    assert 'name="yahoo_symbol" value="" placeholder="RCI-B"' in page and '<b id="yahoo-used">RCI-B</b>' in page

    def yahoo() -> str | None:
        return Ticker.get(Ticker.symbol == "RCI B").yahoo_symbol

    forged = await browser.form("/setup/yahoo-symbol", {"symbol": "RCI B", "yahoo_symbol": "EVIL"})
    assert forged.code == 403 and yahoo() is None
    for typed, stored, notice in (("rci-b.to", "RCI-B.TO", "Yahoo symbol of RCI B: RCI-B.TO"),
                                  ("RCI B.TO", "RCI-B.TO", messages.BAD_YAHOO_SYMBOL),
                                  ("", None, "Yahoo symbol of RCI B: the rule")):
        reply = await browser.form("/setup/yahoo-symbol", {"symbol": "RCI B", "yahoo_symbol": typed,
                                                           "_xsrf": browser.cookies["_xsrf"]})
        assert reply.code == 302 and yahoo() == stored, typed
        assert reply.headers["Location"] == "/setup?" + urllib.parse.urlencode(
            {"tab": "tickers", "ticker": "RCI B", "msg": notice})
    missing = await browser.form("/setup/yahoo-symbol", {"symbol": "NOPE", "yahoo_symbol": "X",
                                                         "_xsrf": browser.cookies["_xsrf"]})
    assert urllib.parse.parse_qs(missing.headers["Location"].split("?", 1)[1])["msg"] == [messages.NOT_FOUND]


@pytest.mark.gen_test
async def test_delivery_log_page_filters_and_bridge_last_seen(api, store):
    now = NOW
    rows = [
        {"received": now - dt.timedelta(minutes=30), "peer": "1.2.3.4", "method": "POST", "route": "/v4/webhook",
         "content_type": "text/plain", "size": 10, "status": 200, "body": '{"ticker": "<script>x</script>"}'},
        {"received": now - dt.timedelta(minutes=3), "peer": "5.6.7.8", "method": "PUT", "route": "/v4/signal/order",
         "content_type": "application/json", "size": 20, "status": 404, "body": '{"passphrase": "***"}'},
        {"received": now - dt.timedelta(minutes=1), "peer": "1.2.3.4", "method": "POST", "route": "/v4/webhook",
         "content_type": "application/json", "size": 10, "status": 401, "body": "{}"},
    ]
    store.write_sync(lambda: DeliveryLog.insert_many(rows).execute())
    store.write_sync(bridge.remember_tx, rows[1]["received"])  # what the server keeps for the bridge's PUT
    assert (await api.get("/deliveries")).code == 302
    header = (await api.get("/dashboard")).text
    assert re.search(r"bridge last seen: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(3 min ago\)", header)
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/deliveries")).text
    assert rows_of_plain(page) == 3 and "&lt;script&gt;x&lt;/script&gt;" in page
    assert rows_of_plain((await browser.get("/deliveries?route=/v4/webhook")).text) == 2
    assert rows_of_plain((await browser.get("/deliveries?status=4xx")).text) == 2
    assert rows_of_plain((await browser.get("/deliveries?status=401&route=/v4/webhook")).text) == 1
    old = (now - dt.timedelta(days=3)).date().isoformat()
    assert rows_of_plain((await browser.get(f"/deliveries?start_date={old}&end_date={old}")).text) == 0


def rows_of_plain(html: str) -> int:
    table = html.split('id="deliveries"', 1)[1].split("</table>", 1)[0]
    return table.count('<td class="num">', 0) // 2  # id and size cells


@pytest.mark.gen_test
async def test_page_errors_are_html(api, store):
    reply = await api.get("/dashboard", headers={"Authorization": "Bearer not-a-token"})
    assert reply.code == 401
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "The token is invalid." in reply.text


@pytest.mark.gen_test
async def test_charts_and_job_runs_come_from_the_stored_prices(api, store):
    now = NOW
    bars = [{"symbol": s, "interval": market.DAILY, "time": dt.datetime(2026, 1, 1) + dt.timedelta(days=i),
             "close": c + (i % 5)} for i in range(25) for s, c in (("KO", 60.0), ("PEP", 150.0))]

    def setup():
        market.PriceBar.insert_many(bars).execute()
        Pair.insert_many([
            {"name": "KO-PEP", "ticker1": "KO", "ticker2": "PEP", "hedge": 0.4, "status": -1, "contracts": 10, "stale": 0},
            {"name": "X-Y", "ticker1": "X", "ticker2": "Y", "hedge": 1.0, "status": -1, "contracts": 10, "stale": 1},
        ]).execute()
        jobs.JobRun.insert(job=jobs.WATCHLIST, started=now - dt.timedelta(minutes=4),
                           finished=now - dt.timedelta(minutes=4), pairs=2, updated=1,
                           failed='{"X-Y": "no prices for X"}').execute()
    store.write_sync(setup)
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/watchlist")).text
    charts = re.findall(r'<figure class="chart" data-chart="([^"]*)">', page)
    assert len(charts) == 2
    first = charts[0].replace("&quot;", '"')
    assert first.startswith('{"pair": "KO-PEP", "points": [{"t": "2026-01-01", "spread": 0.0, "sma": null')
    assert page.count("no stored prices yet") == 1  # X-Y has no bars
    assert re.search(r'Last Price Update: [\d-]+ [\d:]+ \(4 min ago\), <span class="warn" '
                     r'title="X-Y: no prices for X">1 failed</span>', page)
    assert page.count('class="stale"') == 1


@pytest.mark.gen_test
async def test_charts_use_the_configured_sma_window(api, app, store):
    app.ctx.settings.sma_window = 5
    closes = {"KO": [60.0, 61.0, 63.0, 62.0, 60.5, 61.5, 64.0, 62.5], "PEP": [150.0, 151.0, 149.0, 152.0, 150.5,
                                                                            148.0, 151.5, 150.0]}
    bars = [{"symbol": symbol, "interval": market.DAILY, "time": dt.datetime(2026, 1, 1) + dt.timedelta(days=i),
             "close": close} for symbol, values in closes.items() for i, close in enumerate(values)]

    def setup():
        market.PriceBar.insert_many(bars).execute()
        Pair.insert(name="KO-PEP", ticker1="KO", ticker2="PEP", hedge=0.4, status=1, contracts=10).execute()
    store.write_sync(setup)
    page = (await api.get("/positions")).text
    assert "KO-0.4*PEP spread, SMA5 &plusmn;1/&plusmn;2 std" in page
    chart = json.loads(re.search(r'data-chart="([^"]*)"', page).group(1).replace("&quot;", '"'))
    spreads = [ko - 0.4 * pep for ko, pep in zip(closes["KO"], closes["PEP"], strict=True)]
    assert [p["sma"] is None for p in chart["points"]] == [True] * 4 + [False] * 4
    assert chart["points"][-1]["sma"] == round(statistics.fmean(spreads[-5:]), 5)
    assert chart["points"][-1]["std"] == round(statistics.stdev(spreads[-5:]), 5)


@pytest.mark.gen_test
async def test_positions_show_each_runs_time_pairs_and_failures(api, app, store):
    now = NOW
    store.write_sync(jobs.record_run_tx, jobs.RunOutcome(
        job=jobs.PRICES, started=now - dt.timedelta(minutes=12), finished=now - dt.timedelta(minutes=11), pairs=3,
        updated=2, failed={"EWA-ZZZ": "no prices for ZZZ"}))
    store.write_sync(jobs.record_run_tx, jobs.RunOutcome(
        job=jobs.EMAIL, started=now - dt.timedelta(minutes=2), finished=now - dt.timedelta(minutes=2), pairs=1,
        failed={"smtp": "ConnectionRefusedError: [Errno 111] Connection refused"}, message="not sent"))
    anonymous = (await api.get("/positions")).text
    assert re.search(r'Last SMA Update: [\d-]+ [\d:]+ \(11 min ago\), <span class="warn" '
                     r'title="EWA-ZZZ: no prices for ZZZ">1 failed</span>', anonymous)
    assert 'id="runs"' not in anonymous
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/positions")).text
    table = page.split('id="runs"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</tr>", table, re.DOTALL)
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", "<td>" + row) for row in rows]
    zone = dashboard.display_zone(app.ctx.settings.display_timezone)
    assert cells == [
        ["email", dashboard.format_local(now - dt.timedelta(minutes=2), zone),
         dashboard.format_local(now - dt.timedelta(minutes=2), zone), "1", "0",
         "smtp: ConnectionRefusedError: [Errno 111] Connection refused", "not sent"],
        ["prices", dashboard.format_local(now - dt.timedelta(minutes=12), zone),
         dashboard.format_local(now - dt.timedelta(minutes=11), zone), "3", "2", "EWA-ZZZ: no prices for ZZZ", ""],
    ]


@pytest.mark.gen_test
async def test_list_pages_newest_first_by_time(api, store):
    now = NOW.replace(hour=12)
    late = now + dt.timedelta(hours=1)
    add_signals(store, 1, timestamp=late, order_comment="late arrival, low rowid")
    store.write_sync(lambda: Signal.insert_many([
        {"timestamp": now - dt.timedelta(seconds=i), "ticker": "T", "order_action": "buy", "ticker_type": "pair",
         "ticker1": "LNT", "ticker2": "FTS", "order_comment": f"n{i}"} for i in range(60)]).execute())
    browser = Browser(api)
    await browser.login()
    day = now.date().isoformat()
    first = (await browser.get(f"/list?ticker_webhook=LNT-FTS&start_date={day}&end_date={day}")).text
    comments = re.findall(r'<td class="comment">([^<]*)</td>', first)
    assert len(comments) == 50 and comments[:3] == ["late arrival, low rowid", "n0", "n1"]
    older = re.search(r'href="(/list\?[^"]*before=[^"]*)" id="older"', first).group(1).replace("&amp;", "&")
    second = (await browser.get(older)).text
    assert re.findall(r'<td class="comment">([^<]*)</td>', second) == [f"n{i}" for i in range(49, 60)]
    assert 'id="older"' not in second
    assert (await browser.get("/list?ticker_webhook=LNT-FTS&before=garbage")).code == 200


@pytest.mark.gen_test
async def test_session_and_xsrf_cookies_are_secure_behind_a_trusted_https_proxy(api, app, store):
    plain = Browser(api)
    await plain.get("/login")
    xsrf = next(h for h in plain.set_cookie_headers if h.startswith("_xsrf="))
    assert "Secure" not in xsrf and "SameSite=Lax" in xsrf  # plain HTTP: a Secure cookie would never come back

    app.ctx.trusted_proxies = parse_networks("127.0.0.1", "test")
    https = {"X-Forwarded-Proto": "https"}
    form = await api.get("/login", headers=https)
    xsrf = next(h for h in form.headers.get_list("Set-Cookie") if h.startswith("_xsrf="))
    assert "Secure" in xsrf and "SameSite=Lax" in xsrf
    token = xsrf.split(";", 1)[0].split("=", 1)[1]
    reply = await api.call("POST", "/login", raw=urllib.parse.urlencode(
        {"username": "admin", "password": "password", "_xsrf": token}),
        content_type="application/x-www-form-urlencoded", headers={"Cookie": f"_xsrf={token}", **https})
    cookie = next(h for h in reply.headers.get_list("Set-Cookie") if h.startswith("pairs_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.gen_test
async def test_times_are_shown_in_the_configured_zone(api, app, store):
    add_signals(store, 1, timestamp=dt.datetime(2026, 7, 1, 12, 0, 0))
    app.ctx.settings.display_timezone = "Europe/Berlin"
    page = (await api.get("/dashboard")).text
    assert '<td class="time">2026-07-01 14:00:00</td>' in page and "times in Europe/Berlin" in page
    app.ctx.settings.display_timezone = "Mars/Olympus"
    page = (await api.get("/dashboard")).text
    assert '<td class="time">2026-07-01 12:00:00</td>' in page


@pytest.mark.gen_test
async def test_a_database_failure_is_an_html_500_page(api, app, store, monkeypatch):
    def broken(*args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(dashboard, "recent_signals", broken)
    reply = await api.get("/dashboard")
    assert reply.code == 500 and reply.headers["Content-Type"].startswith("text/html")
    assert messages.INTERNAL_ERROR in reply.text and "database went away" not in reply.text


# ---------------------------------------------------------------------------------------------------------------
# issue 9: dashboard sessions end with a password change; nobody elsewhere can lock the dashboard login


@pytest.mark.gen_test
async def test_a_password_change_ends_the_users_dashboard_sessions(api, store, admin_token):
    """Issue 9 item 4: the session of a user whose password an admin reset kept working."""
    user1, admin = Browser(api), Browser(api)
    assert (await user1.login("user1")).code == 302
    assert (await admin.login("admin")).code == 302
    assert (await user1.get("/setup")).code == 200
    reply = await api.put("/v4/user", {"username": "user1", "password": "a new password"}, token=admin_token)
    assert reply.code == 200
    dead = await user1.get("/setup")
    assert dead.code == 302 and dead.headers["Location"].startswith("/login?")
    assert (await admin.get("/setup")).code == 200  # another user's session goes on
    assert (await user1.login("user1", "a new password")).code == 302


@pytest.mark.gen_test
async def test_failures_from_other_addresses_never_lock_the_dashboard_login(app, api, store):
    """Issue 9 item 6, on the dashboard's form: per (username, address) and per address, never per username."""
    app.ctx.trusted_proxies = parse_networks("127.0.0.1", "test")
    app.ctx.throttle.slowdown = 0.01
    browser = Browser(api)
    await browser.get("/login")

    async def form_login(password: str, address: str):
        fields = {"username": "admin", "password": password, "expire": "60", "_xsrf": browser.cookies["_xsrf"],
                  "next": "/dashboard"}
        return await api.call("POST", "/login", raw=urllib.parse.urlencode(fields),
                              headers={"Cookie": f"_xsrf={browser.cookies['_xsrf']}", "X-Forwarded-For": address},
                              content_type="application/x-www-form-urlencoded")

    for n in range(5):
        for _ in range(5):
            assert (await form_login("guess", f"203.0.113.{n}")).code == 401
        assert (await form_login("password", f"203.0.113.{n}")).code == 429
    reply = await form_login("password", "198.51.100.9")
    assert reply.code == 302 and reply.headers["Location"] == "/dashboard"
