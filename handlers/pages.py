"""The dashboard: HTML pages (SPEC §7 with A.5), the page login/logout with the session cookie, the delivery log.

Pages read through ``pairs.dashboard`` (bounded, NULL-safe queries) and render Tornado templates (autoescaped).
The pages' own writes go to the /v4 API from static JavaScript with the session cookie and the XSRF token.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Sequence
from typing import Any

import tornado.web

from handlers.api_users import verify_login
from handlers.base import SESSION_COOKIE, ApiError, BaseHandler, Identity
from pairs import (
    bridge,
    continuity,
    dashboard,
    jobs,
    lifecycle,
    live,
    market,
    messages,
    push,
    research,
    signals,
    users,
    vocab,
)
from pairs.args import ABSENT, Arg
from pairs.db import utcnow
from pairs.db.urls import DatabaseUnavailable
from pairs.errors import NotFound, Rejected

TABS = (("/dashboard", "DASHBOARD"), ("/list", "LIST"), ("/positions", "POSITIONS"), ("/watchlist", "WATCHLIST"),
        ("/screener", "SCREENER"))
MAX_SESSION_MINUTES = 30 * 24 * 60  # the signed cookie itself is accepted for 31 days
SETUP_LIST_ROWS = 15

# The pages' query and form arguments, declared like the API's and read by the same parser (pairs.args): bad input
# is a 400 page, never a 500.  Dates and the list's paging key stay lenient text, as in the original (§7.4: an
# invalid date means today).
BEFORE = Arg("before", "int", description="paging: the rowid to continue below (the 'older' link)")
LOGIN_PAGE_ARGS = (Arg("next", "str", default=dashboard.DEFAULT_PAGE, description="where to go after the login"),
                   Arg("message", "str", default=""))
LOGIN_FORM_ARGS = (Arg("username", "str", default=""), Arg("password", "str", default=""),
                   Arg("next", "str", default=dashboard.DEFAULT_PAGE, description="where to go after the login"),
                   Arg("expire", "int", default=dashboard.DEFAULT_EXPIRE,
                       description=f"session minutes, 1 to {MAX_SESSION_MINUTES} (else one week)"))
DASHBOARD_ARGS = (BEFORE,)
DAY_ARGS = (Arg("start_date", "str", default="", description="YYYY-MM-DD (invalid: today)"),
            Arg("end_date", "str", default="", description="YYYY-MM-DD (invalid: today)"))
LIST_ARGS = (Arg("tradetype", "str", default="pair", description="pair or ticker"),
             Arg("ticker_webhook", "str", default="", description="a pair name T1-T2 or a ticker symbol"),
             *DAY_ARGS, Arg("before", "str", default="", description="paging: YYYY-MM-DDTHH:MM:SS~rowid"))
SETUP_ARGS = (Arg("tab", "str", default="signals", description="signals, pairs or tickers"),
              Arg("msg", "str", default=""),
              *(Arg(name, "str", default="") for name in ("tradeaction", "tradepair", "tradecontracts",
                                                          "tradeprice")),
              BEFORE, Arg("signal", "int", description="a signal's rowid to edit"),
              Arg("pair", "str", default=""), Arg("ticker", "str", default=""))
NOTICE_ARGS = (Arg("msg", "str", default="", description="the one-line outcome of Update Now"),)
YAHOO_SYMBOL_ARGS = (Arg("symbol", "str", default=""), Arg("yahoo_symbol", "str", default=""))
NOTIFY_TEST_ARGS: tuple[Arg, ...] = ()  # the button's form carries only its XSRF token
NOTIFICATION_ROWS = 20  # the DELIVERY LOG page's NOTIFICATIONS section
DELIVERY_ARGS = (Arg("route", "str", default=""), Arg("status", "str", default="", description="2xx, 4xx, 5xx or a code"),
                 *DAY_ARGS, BEFORE)


# what each page refreshes itself on (pairs.live, static/live.js)
LIVE_TOPICS = {"/dashboard": live.SIGNALS, "/positions": f"{live.SIGNALS},{live.POSITIONS},{live.PRICES}",
               "/watchlist": live.PRICES}


class PageHandler(BaseHandler):
    """HTML instead of JSON, and the XSRF token required on every form post (also the login form: login CSRF).

    A page's query or form arguments are its row's table (handlers/routes.py), read by ``arguments()``."""

    def get_current_user(self) -> Identity | None:
        return self.identity(required=False)

    def get_template_namespace(self) -> dict[str, Any]:
        # every template, also an included one or a Template module, names the stored values the same way
        return {**super().get_template_namespace(), "vocab": vocab, "status_class": dashboard.status_class}

    def check_xsrf_cookie(self) -> None:
        tornado.web.RequestHandler.check_xsrf_cookie(self)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        text = ""
        if isinstance(exc, DatabaseUnavailable):  # logged by log_exception; the page says "try again"
            exc, status_code = self.unavailable(), 503
            self.set_status(503)
        if isinstance(exc, ApiError):
            for name, value in exc.headers.items():
                self.set_header(name, value)
            text = error_text(exc)
        elif isinstance(exc, (Rejected, NotFound)):
            text = str(exc)
        elif status_code == 403:
            text = messages.CSRF_FAILED + " Reload the page and try again."
        elif status_code == 404:
            text = messages.URL_NOT_FOUND
        elif status_code >= 500:
            text = messages.INTERNAL_ERROR
        else:
            text = self._reason
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self._current_user = None  # the error page reads nothing: the user or the database may be what failed
        self.render("error.html", **{**self._common("", reads=False), "title": "ERROR", "status": status_code,
                                     "text": text})

    # ----------------------------------------------------------------------------------------------- helpers
    def args(self, spec: Sequence[Arg]) -> dict[str, Any]:
        """As the API's, but a JSON ``null`` (the body is read as JSON whatever its type) is the page's default."""
        values = super().args(spec)
        return {a.name: a.default if values[a.name] is None and a.default is not ABSENT else values[a.name]
                for a in spec}

    @property
    def zone(self) -> dt.tzinfo:
        return dashboard.display_zone(self.ctx.settings.display_timezone)

    def _session_expires(self) -> int | None:
        session = self.session_id()
        expiry = users.session_expiry(session) if session else None
        return int(expiry.replace(tzinfo=dt.UTC).timestamp()) if expiry else None

    def now(self) -> dt.datetime:
        """The time the pages show ages and "today" against (naive UTC); a test passes its own clock as the
        application's ``now`` setting, so no page test depends on the wall clock."""
        return self.settings.get("now", utcnow)()

    def _common(self, tab: str, reads: bool = True) -> dict[str, Any]:
        """What the header and every template use; ``reads=False`` for error pages: no user, no database."""
        now = self.now()
        user = self.current_user if reads else None
        seen = bridge.last_seen() if reads else None
        return {
            "title": "", "tab": tab, "tabs": TABS, "live_topics": LIVE_TOPICS.get(tab, ""), "now": now, "user": user,
            "zone": self.zone,
            "zone_name": self.ctx.settings.display_timezone,
            "session_expires": self._session_expires() if user else None,
            "bridge_seen": dashboard.format_local(seen, self.zone) if seen else ("never" if reads else "?"),
            "bridge_minutes": dashboard.minutes_since(seen, now),
            "xsrf": self.xsrf_token.decode("ascii"), "page_url": page_url, "fmt": dashboard.fmt,
            "money": dashboard.money, "account_currency": self.ctx.settings.account_currency, "sign_class": dashboard.sign_class, "urlencode": urllib.parse.urlencode,
            "format_local": dashboard.format_local, "minutes_since": dashboard.minutes_since,
            "open_findings": continuity.open_count() if user else None,
            "pvalue_warns": research.pvalue_warns,
        }

    def page(self, template: str, tab: str, **values: Any) -> None:
        self.render(template, **{**self._common(tab), **values})

    def charts(self, views: list[dashboard.PairView]) -> dict[str, dict[str, Any]]:
        """Each pair's spread chart, with the configured SMA window."""
        window = self.ctx.settings.sma_window
        return {v.pair.name: dashboard.pair_chart(v.pair, window=window) for v in views}


def error_text(exc: ApiError) -> str:
    """The message of an API error as one line: ``{"message": "x"}`` -> x, ``{"message": {"f": "x"}}`` -> x."""
    body = exc.body.get("message") if isinstance(exc.body, dict) else exc.body
    if isinstance(body, dict) and len(body) == 1:
        body = next(iter(body.values()))
    return body if isinstance(body, str) else json.dumps(body)


def page_url(path: str, query: dict[str, Any], **changes: Any) -> str:
    """``path`` with the query of this page, some values changed (None drops a key)."""
    merged = {**query, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "")}
    return path + ("?" + urllib.parse.urlencode(kept) if kept else "")


class RootHandler(PageHandler):
    def get(self) -> None:
        self.redirect("/dashboard")


class LoginPageHandler(PageHandler):
    def get(self) -> None:
        args = self.arguments()
        self.page("login.html", "", title="LOGIN", message=args["message"],
                  next_url=dashboard.login_redirect(args["next"]), expire=dashboard.DEFAULT_EXPIRE,
                  choices=dashboard.EXPIRE_CHOICES, username="")

    async def post(self) -> None:
        # every argument is checked before anything is written: a bad one leaves no session behind
        args = self.arguments()
        username, password = args["username"], args["password"]
        next_url = dashboard.login_redirect(args["next"])
        expire = args["expire"] if 0 < args["expire"] <= MAX_SESSION_MINUTES else dashboard.DEFAULT_EXPIRE
        try:
            await verify_login(self, username, password)
        except ApiError as exc:
            self.set_status(exc.status_code)
            for name, value in exc.headers.items():
                self.set_header(name, value)
            self.page("login.html", "", title="LOGIN", message=error_text(exc), next_url=next_url, expire=expire,
                      choices=dashboard.EXPIRE_CHOICES, username=username)
            return
        old = self.session_id()
        if old:
            await self.ctx.store.write(users.end_session_tx, old)
        session = await self.ctx.store.write(users.new_session_tx, username, expire)
        expires = utcnow() + dt.timedelta(minutes=expire)
        self.set_signed_cookie(SESSION_COOKIE, session, expires_days=None, expires=expires, httponly=True,
                               samesite="Lax")  # Secure under HTTPS: BaseHandler.set_cookie
        self.redirect(next_url)


class LogoutPageHandler(PageHandler):
    async def post(self) -> None:
        session = self.session_id()
        if session:
            await self.ctx.store.write(users.end_session_tx, session)
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/dashboard")


class DashboardHandler(PageHandler):
    def get(self) -> None:
        user = self.current_user
        before = self.arguments()["before"]
        limit = dashboard.DASHBOARD_ROWS[0 if user else 1]
        result = dashboard.recent_signals(limit, before if user else None)
        now = self.now()
        rows = dashboard.signal_rows(result.rows, now, self.zone)
        self.page("dashboard.html", "/dashboard", title="DASHBOARD", rows=rows,
                  older=result.older if user else None, paged=before is not None)


class ListHandler(PageHandler):
    async def get(self) -> None:
        user = self.current_user
        args = self.arguments()
        tradetype = "ticker" if args["tradetype"] == "ticker" else "pair"
        selected = args["ticker_webhook"].strip()
        now = self.now()
        start, end, since, until = dashboard.day_window(
            dashboard.parse_day(args["start_date"]), dashboard.parse_day(args["end_date"]), self.zone, now)
        rows: list = []
        slips: dict[str, str] = {}
        timings = None
        older = None
        if selected:
            before = dashboard.parse_history_key(args["before"]) if user else None
            result = dashboard.history(selected, since, until, dashboard.LIST_ROWS[0 if user else 1], before)
            rows = dashboard.signal_rows(result.rows, now, self.zone, price_decimals=2)
            older = result.older if user else None
            # AVG over the whole window reads every signal of the pair in it (a year of one pair of 1,000,000
            # signals: ~0.6 s on SQLite): off the IOLoop, so webhooks are answered meanwhile
            averages = await self.ctx.run(self.ctx.store.read_in_thread, dashboard.average_slips, selected,
                                          since, until)
            slips = {k: dashboard.slip_average_text(v) for k, v in averages.items()}
            if user:
                timings = await self.ctx.run(self.ctx.store.read_in_thread, dashboard.latency_aggregates,
                                             selected, since, until)
        options = ([(p.name, p.status) for p in dashboard.pair_names()] if tradetype == "pair"
                   else [(t.symbol, t.active) for t in dashboard.ticker_symbols()])
        query = {"tradetype": tradetype, "ticker_webhook": selected, "start_date": start.isoformat(),
                 "end_date": end.isoformat()}
        self.page("list.html", "/list", title="LIST SIGNALS", rows=rows, slips=slips, older=older, query=query,
                  options=options, selected=selected, tradetype=tradetype, start=start, end=end, timings=timings,
                  duration=lifecycle.duration_text)


class PositionsHandler(PageHandler):
    def get(self) -> None:
        user = self.current_user
        limit = dashboard.POSITION_ROWS[0 if user else 1]
        views = dashboard.pairs_with_status(vocab.Activity.ACTIVE, limit)
        pnl = dashboard.latest_account() if user else None
        total = dashboard.sum_distance_sma(views)
        self.page("positions.html", "/positions", title="POSITIONS", views=views, notice=self.arguments()["msg"],
                  tickers=dashboard.active_tickers(limit), pnl=pnl, sum_dist=total,
                  pnl_minutes=dashboard.minutes_since(pnl.timestamp, self.now()) if pnl else None,
                  charts=self.charts(views), sma_window=self.ctx.settings.sma_window,
                  run=dashboard.last_run(jobs.PRICES), runs=jobs.last_runs(5) if user else [])


class WatchlistHandler(PageHandler):
    def get(self) -> None:
        user = self.current_user
        views = dashboard.pairs_with_status(vocab.Activity.WATCHLIST, dashboard.WATCHLIST_ROWS[0 if user else 1])
        self.page("watchlist.html", "/watchlist", title="WATCHLIST", views=views, notice=self.arguments()["msg"],
                  charts=self.charts(views), sma_window=self.ctx.settings.sma_window,
                  run=dashboard.last_run(jobs.WATCHLIST))


class SetupHandler(PageHandler):
    async def get(self) -> None:
        user = self.current_user
        args = self.arguments()
        tab = args["tab"] if args["tab"] in ("signals", "pairs", "tickers") else "signals"
        values: dict[str, Any] = {"setup_tab": tab, "notice": args["msg"]}
        trade = {k: args[k] for k in ("tradeaction", "tradepair", "tradecontracts", "tradeprice")}
        values["trade"] = trade
        values["prefill"] = dashboard.quick_trade(trade["tradeaction"], trade["tradecontracts"],
                                                  trade["tradeprice"])
        values["pairs"] = dashboard.pair_names()
        values["tickers"] = dashboard.ticker_symbols()
        before = args["before"]
        result = dashboard.recent_signals(SETUP_LIST_ROWS, before)
        values["signals"] = result.rows
        values["older"] = result.older
        values["paged"] = before is not None
        rowid = args["signal"]
        values["signal"] = signals.find_signal(rowid) if rowid is not None else None
        values["signal_missing"] = rowid is not None and values["signal"] is None
        name = args["pair"]
        values["pair"] = next((p for p in values["pairs"] if p.name == name), None) if name else None
        symbol = args["ticker"]
        values["ticker"] = next((t for t in values["tickers"] if t.symbol == symbol), None) if symbol else None
        ticker = values["ticker"]
        values["yahoo_rule"] = market.yahoo_symbol(ticker.symbol, ticker.sectype) if ticker else ""
        values["yahoo_used"] = market.yahoo_symbol(ticker.symbol, ticker.sectype, ticker.yahoo_symbol) if ticker else ""
        values["statuses"] = vocab.EDITABLE
        values["editor_timestamp"] = lambda stamp: dashboard.format_local_offset(stamp, self.zone)
        values["active_tickers"] = {t.symbol for t in values["tickers"] if vocab.is_tradable(t.active)}
        urls = self.ctx.settings.notify_urls
        # Apprise reads the URLs to mask their secrets; its first import is slow: in the executor
        values["channels"] = await self.ctx.run(push.channel_names, urls) if user.is_admin and urls else ()
        self.page("setup.html", "/setup", title="SETUP", **values)


class NotifyTestHandler(PageHandler):
    """SETUP's "Send test" (admin): one message to every push channel now, then the page says how each went."""

    async def post(self) -> None:
        self.arguments()
        running = push.service(self.ctx.store, self.ctx.settings)
        if running is None:
            notice = "No notification channel: set [NOTIFY] URLS or PAIRS_NOTIFY_URLS."
        else:
            sent = await self.ctx.run(running.send_test)
            notice = "Test: " + "; ".join(f"{d.channel} {d.outcome}" + (f" ({d.error})" if d.error else "")
                                          for d in sent)
        self.redirect("/setup?" + urllib.parse.urlencode({"msg": notice}))


class YahooSymbolHandler(PageHandler):
    """The setup page's override of a ticker's Yahoo spelling (what the price job fetches; "" = the rule)."""

    async def post(self) -> None:
        args = self.arguments()
        symbol = args["symbol"]
        override = market.yahoo_override(args["yahoo_symbol"])
        if override is None:
            notice = messages.BAD_YAHOO_SYMBOL
        elif await self.ctx.store.write(jobs.set_yahoo_symbol_tx, symbol, override):
            notice = f"Yahoo symbol of {symbol}: {override or 'the rule'}"
        else:
            notice = messages.NOT_FOUND
        self.redirect("/setup?" + urllib.parse.urlencode({"tab": "tickers", "ticker": symbol, "msg": notice}))


class SignalPageHandler(PageHandler):
    """One signal's timeline (pairs.lifecycle): its events with the gaps between them, latencies, slip per leg."""

    def get(self, rowid: str) -> None:
        row = signals.find_signal(rowid)
        if row is None:
            raise tornado.web.HTTPError(404)
        self.page("signal.html", "", title=f"SIGNAL #{row.rowid}", sig=row,
                  rows=dashboard.signal_rows([row], self.now(), self.zone), duration=lifecycle.duration_text,
                  format_ms=lambda stamp: dashboard.format_local_ms(stamp, self.zone),
                  describe=lifecycle.describe, **lifecycle.signal_view(row))


class DeliveryLogHandler(PageHandler):
    def get(self) -> None:
        args = self.arguments()
        route = args["route"]
        status = args["status"].strip()
        start, end = dashboard.parse_day(args["start_date"]), dashboard.parse_day(args["end_date"])
        since = until = None
        if start or end:
            start, end, since, until = dashboard.day_window(start, end, self.zone, self.now())
        result = dashboard.deliveries(route or None, status or None, since, until, dashboard.DELIVERY_ROWS,
                                      args["before"])
        query = {"route": route, "status": status, "start_date": start.isoformat() if start else "",
                 "end_date": end.isoformat() if end else ""}
        self.page("deliveries.html", "/deliveries", title="DELIVERY LOG", rows=result.rows, older=result.older,
                  query=query, routes=self.application.route_table.passphrase_paths, status_filters=dashboard.STATUS_FILTERS,
                  paged=args["before"] is not None, notifications=push.latest_records(NOTIFICATION_ROWS))
