"""The dashboard: HTML pages (SPEC §7 with A.5), the page login/logout with the session cookie, the delivery log.

Pages read through ``pairs.dashboard`` (bounded, NULL-safe queries) and render Tornado templates (autoescaped).
The pages' own writes go to the /v4 API from static JavaScript with the session cookie and the XSRF token.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from typing import Any

import tornado.web

from handlers.api_users import verify_login
from handlers.base import SESSION_COOKIE, ApiError, BaseHandler, Identity
from pairs import bridge, continuity, dashboard, jobs, live, market, messages, research, signals, users
from pairs.errors import NotFound, Rejected
from pairs.store import DatabaseUnavailable, utcnow

TABS = (("/dashboard", "DASHBOARD"), ("/list", "LIST"), ("/positions", "POSITIONS"), ("/watchlist", "WATCHLIST"),
        ("/screener", "SCREENER"))
MAX_SESSION_MINUTES = 30 * 24 * 60  # the signed cookie itself is accepted for 31 days
SETUP_LIST_ROWS = 15
SIGNAL_STATUSES = ("waiting", "rerouted", "created", "canceled", "filled", "part.filled", "critical err", "error")


# what each page refreshes itself on (pairs.live, static/live.js)
LIVE_TOPICS = {"/dashboard": live.SIGNALS, "/positions": f"{live.SIGNALS},{live.POSITIONS},{live.PRICES}",
               "/watchlist": live.PRICES}


class PageHandler(BaseHandler):
    """HTML instead of JSON, and the XSRF token required on every form post (also the login form: login CSRF)."""

    def get_current_user(self) -> Identity | None:
        return self.identity(required=False)

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
    def int_arg(self, name: str) -> int | None:
        text = self.get_query_argument(name, "").strip()
        return int(text) if text.isdigit() and len(text) < 10 else None

    @property
    def zone(self) -> dt.tzinfo:
        return dashboard.display_zone(self.ctx.settings.display_timezone)

    def _session_expires(self) -> int | None:
        session = self.get_signed_cookie(SESSION_COOKIE, max_age_days=31)
        expiry = users.session_expiry(session.decode("utf-8", "replace")) if session else None
        return int(expiry.replace(tzinfo=dt.UTC).timestamp()) if expiry else None

    def _common(self, tab: str, reads: bool = True) -> dict[str, Any]:
        """What the header and every template use; ``reads=False`` for error pages: no user, no database."""
        now = utcnow()
        user = self.current_user if reads else None
        seen = bridge.last_seen() if reads else None
        return {
            "title": "", "tab": tab, "tabs": TABS, "live_topics": LIVE_TOPICS.get(tab, ""), "now": now, "user": user, "zone": self.zone,
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

    def require_login(self) -> Identity | None:
        """The logged-in user; otherwise a redirect to the login form (the caller returns)."""
        if self.current_user is None:
            self.redirect("/login?" + urllib.parse.urlencode({"next": self.request.uri}))
        return self.current_user


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


def safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, no ``//`` or ``/\\`` (an open redirect otherwise)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/dashboard"
    return target


class RootHandler(PageHandler):
    def get(self) -> None:
        self.redirect("/dashboard")


class LoginPageHandler(PageHandler):
    def get(self) -> None:
        self.page("login.html", "", title="LOGIN", message=self.get_query_argument("message", ""),
                  next_url=safe_next(self.get_query_argument("next", None)), expire=dashboard.DEFAULT_EXPIRE,
                  choices=dashboard.EXPIRE_CHOICES, username="")

    async def post(self) -> None:
        username = self.get_body_argument("username", "")
        password = self.get_body_argument("password", "")
        next_url = safe_next(self.get_body_argument("next", None))
        text = self.get_body_argument("expire", "").strip()
        expire = int(text) if text.isdigit() and 0 < int(text) <= MAX_SESSION_MINUTES else dashboard.DEFAULT_EXPIRE
        try:
            await verify_login(self, username, password)
        except ApiError as exc:
            self.set_status(exc.status_code)
            for name, value in exc.headers.items():
                self.set_header(name, value)
            self.page("login.html", "", title="LOGIN", message=error_text(exc), next_url=next_url, expire=expire,
                      choices=dashboard.EXPIRE_CHOICES, username=username)
            return
        old = self.get_signed_cookie(SESSION_COOKIE, max_age_days=31)
        if old:
            await self.ctx.store.write(users.end_session_tx, old.decode("utf-8", "replace"))
        session = await self.ctx.store.write(users.new_session_tx, username, expire)
        expires = utcnow() + dt.timedelta(minutes=expire)
        self.set_signed_cookie(SESSION_COOKIE, session, expires_days=None, expires=expires, httponly=True,
                               samesite="Lax")  # Secure under HTTPS: BaseHandler.set_cookie
        self.redirect(next_url)


class LogoutPageHandler(PageHandler):
    async def post(self) -> None:
        session = self.get_signed_cookie(SESSION_COOKIE, max_age_days=31)
        if session:
            await self.ctx.store.write(users.end_session_tx, session.decode("utf-8", "replace"))
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/dashboard")


class DashboardHandler(PageHandler):
    def get(self) -> None:
        user = self.current_user
        limit = dashboard.DASHBOARD_ROWS[0 if user else 1]
        result = dashboard.recent_signals(limit, self.int_arg("before") if user else None)
        now = utcnow()
        rows = dashboard.signal_rows(result.rows, now, self.zone)
        self.page("dashboard.html", "/dashboard", title="DASHBOARD", rows=rows,
                  older=result.older if user else None, paged=self.int_arg("before") is not None)


class ListHandler(PageHandler):
    async def get(self) -> None:
        user = self.current_user
        tradetype = "ticker" if self.get_query_argument("tradetype", "pair") == "ticker" else "pair"
        selected = self.get_query_argument("ticker_webhook", "").strip()
        now = utcnow()
        start, end, since, until = dashboard.day_window(
            dashboard.parse_day(self.get_query_argument("start_date", None)),
            dashboard.parse_day(self.get_query_argument("end_date", None)), self.zone, now)
        rows: list = []
        slips: dict[str, str] = {}
        older = None
        if selected:
            before = dashboard.parse_history_key(self.get_query_argument("before", "")) if user else None
            result = dashboard.history(selected, since, until, dashboard.LIST_ROWS[0 if user else 1], before)
            rows = dashboard.signal_rows(result.rows, now, self.zone, price_decimals=2)
            older = result.older if user else None
            # AVG over the whole window reads every signal of the pair in it (a year of one pair of 1,000,000
            # signals: ~0.6 s on SQLite): off the IOLoop, so webhooks are answered meanwhile
            averages = await self.ctx.run(self.ctx.store.read_in_thread, dashboard.average_slips, selected,
                                          since, until)
            slips = {k: dashboard.slip_average_text(v) for k, v in averages.items()}
        options = ([(p.name, p.status) for p in dashboard.pair_names()] if tradetype == "pair"
                   else [(t.symbol, t.active) for t in dashboard.ticker_symbols()])
        query = {"tradetype": tradetype, "ticker_webhook": selected, "start_date": start.isoformat(),
                 "end_date": end.isoformat()}
        self.page("list.html", "/list", title="LIST SIGNALS", rows=rows, slips=slips, older=older, query=query,
                  options=options, selected=selected, tradetype=tradetype, start=start, end=end)


class PositionsHandler(PageHandler):
    def get(self) -> None:
        user = self.current_user
        limit = dashboard.POSITION_ROWS[0 if user else 1]
        views = dashboard.pairs_with_status(1, limit)
        pnl = dashboard.latest_account() if user else None
        total = dashboard.sum_distance_sma(views)
        self.page("positions.html", "/positions", title="POSITIONS", views=views, notice=self.get_query_argument("msg", ""),
                  tickers=dashboard.active_tickers(limit), pnl=pnl, sum_dist=total,
                  pnl_minutes=dashboard.minutes_since(pnl.timestamp, utcnow()) if pnl else None,
                  charts=self.charts(views), sma_window=self.ctx.settings.sma_window,
                  run=dashboard.last_run(jobs.PRICES), runs=jobs.last_runs(5) if user else [])


class WatchlistHandler(PageHandler):
    def get(self) -> None:
        user = self.current_user
        views = dashboard.pairs_with_status(-1, dashboard.WATCHLIST_ROWS[0 if user else 1])
        self.page("watchlist.html", "/watchlist", title="WATCHLIST", views=views, notice=self.get_query_argument("msg", ""),
                  charts=self.charts(views), sma_window=self.ctx.settings.sma_window,
                  run=dashboard.last_run(jobs.WATCHLIST))


class SetupHandler(PageHandler):
    def get(self) -> None:
        if self.require_login() is None:
            return
        tab = self.get_query_argument("tab", "signals")
        tab = tab if tab in ("signals", "pairs", "tickers") else "signals"
        values: dict[str, Any] = {"setup_tab": tab, "notice": self.get_query_argument("msg", "")}
        trade = {k: self.get_query_argument(k, "") for k in ("tradeaction", "tradepair", "tradecontracts",
                                                              "tradeprice")}
        values["trade"] = trade
        values["prefill"] = dashboard.quick_trade(trade["tradeaction"], trade["tradecontracts"],
                                                  trade["tradeprice"])
        values["pairs"] = dashboard.pair_names()
        values["tickers"] = dashboard.ticker_symbols()
        before = self.int_arg("before")
        result = dashboard.recent_signals(SETUP_LIST_ROWS, before)
        values["signals"] = result.rows
        values["older"] = result.older
        values["paged"] = before is not None
        rowid = self.int_arg("signal")
        values["signal"] = signals.find_signal(rowid) if rowid is not None else None
        values["signal_missing"] = rowid is not None and values["signal"] is None
        name = self.get_query_argument("pair", "")
        values["pair"] = next((p for p in values["pairs"] if p.name == name), None) if name else None
        symbol = self.get_query_argument("ticker", "")
        values["ticker"] = next((t for t in values["tickers"] if t.symbol == symbol), None) if symbol else None
        ticker = values["ticker"]
        values["yahoo_rule"] = market.yahoo_symbol(ticker.symbol, ticker.sectype) if ticker else ""
        values["yahoo_used"] = market.yahoo_symbol(ticker.symbol, ticker.sectype, ticker.yahoo_symbol) if ticker else ""
        values["statuses"] = SIGNAL_STATUSES
        values["status_class"] = dashboard.status_class
        values["editor_timestamp"] = lambda stamp: dashboard.format_local_offset(stamp, self.zone)
        values["active_tickers"] = {t.symbol for t in values["tickers"] if t.active == 1}
        self.page("setup.html", "/setup", title="SETUP", **values)


class YahooSymbolHandler(PageHandler):
    """The setup page's override of a ticker's Yahoo spelling (what the price job fetches; "" = the rule)."""

    async def post(self) -> None:
        if self.require_login() is None:
            return
        symbol = self.get_body_argument("symbol", "")
        override = market.yahoo_override(self.get_body_argument("yahoo_symbol", ""))
        if override is None:
            notice = messages.BAD_YAHOO_SYMBOL
        elif await self.ctx.store.write(jobs.set_yahoo_symbol_tx, symbol, override):
            notice = f"Yahoo symbol of {symbol}: {override or 'the rule'}"
        else:
            notice = messages.NOT_FOUND
        self.redirect("/setup?" + urllib.parse.urlencode({"tab": "tickers", "ticker": symbol, "msg": notice}))


class DeliveryLogHandler(PageHandler):
    def get(self) -> None:
        if self.require_login() is None:
            return
        route = self.get_query_argument("route", "")
        status = self.get_query_argument("status", "").strip()
        start_text = self.get_query_argument("start_date", "")
        end_text = self.get_query_argument("end_date", "")
        start, end = dashboard.parse_day(start_text), dashboard.parse_day(end_text)
        since = until = None
        if start or end:
            start, end, since, until = dashboard.day_window(start, end, self.zone, utcnow())
        result = dashboard.deliveries(route or None, status or None, since, until, dashboard.DELIVERY_ROWS,
                                      self.int_arg("before"))
        query = {"route": route, "status": status, "start_date": start.isoformat() if start else "",
                 "end_date": end.isoformat() if end else ""}
        self.page("deliveries.html", "/deliveries", title="DELIVERY LOG", rows=result.rows, older=result.older,
                  query=query, routes=dashboard.PASSPHRASE_ROUTES, status_filters=dashboard.STATUS_FILTERS,
                  paged=self.int_arg("before") is not None)


ROUTES = [
    (r"/", RootHandler),
    (r"/login", LoginPageHandler),
    (r"/logout", LogoutPageHandler),
    (r"/dashboard", DashboardHandler),
    (r"/list", ListHandler),
    (r"/positions", PositionsHandler),
    (r"/watchlist", WatchlistHandler),
    (r"/setup", SetupHandler),
    (r"/setup/yahoo-symbol", YahooSymbolHandler),
    (r"/deliveries", DeliveryLogHandler),
]
