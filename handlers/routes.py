"""Every URL of pairs in one table: method, path, handler, arguments, who may call it, and what the API's
description says of it.

Everything else is built from ``ROUTES``: Tornado's URL rules (``TABLE.url_rules()``, in the table's order, so the
webhook, the hot route, is matched by the first rule), ``/v4/openapi.json`` and the pages' description
(handlers/openapi.py), the access each request must have (``BaseHandler._admit`` before the method,
``BaseHandler.arguments()`` for a passphrase), the routes the delivery log records (every request to a rule with a
passphrase row) and the bridge's writes that show it alive (``by_bridge``).

To add a route: write the handler's method, then add one row here, before any row whose path would also match
(Tornado takes the first matching rule); ``tests/test_openapi.py`` fails while a handler method has no row or a row
names a method its handler lacks.  A row of an API route with a ``tag`` is in ``/v4/openapi.json``; a page's row
(access ``SESSION``, ``LOGIN`` or ``ADMIN_PAGE``) is in the pages' description; a row without either (``/docs``, ``/events``,
``/sma``) is served but described in neither.  A handler that inherits a method (``OrderHandler`` from
``SignalItemHandler``) serves it under the row of the class that defines it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import tornado.web

from handlers import (
    api_continuity,
    api_pairs,
    api_pnl,
    api_signals,
    api_tickers,
    api_users,
    live,
    maintenance,
    ops,
    pages,
    research,
)
from handlers.base import Access
from pairs.args import Arg

# by name, not by the enum's order: a member added in the middle must not shift an ADMIN row to another level
PUBLIC, OPTIONAL_TOKEN, PASSPHRASE = Access.PUBLIC, Access.OPTIONAL_TOKEN, Access.PASSPHRASE
TOKEN, FRESH_TOKEN, ADMIN, REFRESH_TOKEN = Access.TOKEN, Access.FRESH_TOKEN, Access.ADMIN, Access.REFRESH_TOKEN
SESSION, LOGIN, ADMIN_PAGE = Access.SESSION, Access.LOGIN, Access.ADMIN_PAGE

# how the original answered a wrong passphrase on each route: (status, as a field error {"passphrase": ...})
FLAT, NESTED, AS_BAD_INPUT = (401, False), (401, True), (400, False)


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    path: str  # the OpenAPI template: /v4/ticker/{symbol}; {name} is one path segment, passed to the method
    handler: type[tornado.web.RequestHandler]
    access: Access
    summary: str = ""
    tag: str = ""  # the API description's group; none: not in /v4/openapi.json
    args: Sequence[Arg] = ()  # the body's (a GET's: the query's) arguments: BaseHandler.arguments() parses them
    ok: dict[int, str] = dataclasses.field(default_factory=lambda: {200: "Message"})  # status -> schema name
    errors: tuple[int, ...] = ()  # beyond those implied by access, arguments and path parameters
    error_schemas: dict[int, str] = dataclasses.field(default_factory=dict)  # an error answer that is not Message
    aliases: tuple[str, ...] = ()  # legacy paths served by the same handler (documented as deprecated)
    description: str = ""
    by_bridge: bool = False  # only the broker bridge makes this request: an accepted one shows it alive
    wrong_passphrase: tuple[int, bool] = FLAT
    pattern: str = ""  # the Tornado regex, when it is not the one of the path and its aliases

    @property
    def regex(self) -> str:
        if self.pattern:
            return self.pattern
        paths = [re.sub(r"{\w+}", "([^/]+)", p.replace(".", r"\.")) for p in (self.path, *self.aliases)]
        return paths[0] if len(paths) == 1 else "(?:" + "|".join(paths) + ")"

    @property
    def is_page(self) -> bool:
        return self.access in (SESSION, LOGIN, ADMIN_PAGE)


ROUTES: tuple[Route, ...] = (
    # signals (SPEC §5.1-5.5): the webhook first
    Route("POST", "/v4/webhook", api_signals.WebhookHandler, PASSPHRASE, "Register a signal (TradingView alert)",
          "signals", api_signals.WEBHOOK_POST_ARGS, {200: "Message", 201: "Message"}, (403,),
          description="TradingView sends `text/plain` when the alert message is not strict JSON; the body is read "
                      "as JSON whatever the Content-Type. 201 means recorded but not tradable (unknown, passive or "
                      "problematic ticker)."),
    Route("PUT", "/v4/webhook", api_signals.WebhookHandler, PASSPHRASE, "Replace a signal (the bridge's echo)",
          "signals", api_signals.WEBHOOK_ARGS, {200: "SignalWithoutTimestamp"}, (403, 404), by_bridge=True,
          wrong_passphrase=NESTED),
    Route("PUT", "/v4/signal/order", api_signals.OrderHandler, PASSPHRASE, "Order or fill update by broker order id",
          "signals", api_signals.ORDER_ARGS, {200: "SignalWithoutTimestamp"}, (404,),
          aliases=("/v4/signal/updateorder",), by_bridge=True, wrong_passphrase=NESTED,
          pattern=r"/v4/signal/(order|updateorder)"),  # captured: GET and DELETE fall through to the rowid's rows
    Route("GET", "/v4/signals/status/{order_status}/{number_of_items}", api_signals.SignalStatusListHandler,
          OPTIONAL_TOKEN, "Signals with a status", "signals", ok={200: "SignalStatusList"}, errors=(500,),
          error_schemas={500: "MessageWithSignals"},
          description="The bridge polls `/v4/signals/status/waiting/0` anonymously (capped at 20)."),
    Route("GET", "/v4/signals/ticker/{ticker_name}/{number_of_items}", api_signals.SignalTickerListHandler,
          OPTIONAL_TOKEN, "Signals of a ticker", "signals", ok={200: "SignalStatusList"}, errors=(500,),
          error_schemas={500: "MessageWithSignals"}),
    Route("GET", "/v4/signals/{number_of_items}", api_signals.SignalListHandler, OPTIONAL_TOKEN, "Latest signals",
          "signals", ok={200: "SignalList"}, errors=(500,), error_schemas={500: "MessageWithSignals"}),
    Route("GET", "/v4/signal/{rowid}", api_signals.SignalItemHandler, PUBLIC, "One signal", "signals",
          ok={200: "Signal"}),
    Route("DELETE", "/v4/signal/{rowid}", api_signals.SignalItemHandler, ADMIN, "Delete a signal", "signals"),
    # users and tokens (SPEC §4)
    Route("POST", "/v4/login", api_users.LoginHandler, PUBLIC, "Log in: access and refresh tokens", "users",
          api_users.LOGIN_ARGS, {200: "Tokens"}, (401, 429)),
    Route("POST", "/v4/refresh", api_users.RefreshHandler, REFRESH_TOKEN,
          "New tokens for a refresh token, which is spent (it works once)", "users", ok={200: "RefreshedTokens"}),
    Route("POST", "/v4/logout", api_users.LogoutHandler, TOKEN,
          "Revoke the access token and every token of its login (its refresh token too)", "users",
          api_users.LOGOUT_ARGS),
    Route("POST", "/v4/user", api_users.UserHandler, ADMIN, "Create a user", "users", api_users.USER_ARGS,
          {201: "Message"}),
    Route("PUT", "/v4/user", api_users.UserHandler, ADMIN, "Create a user or change its password (and admin flag)",
          "users", api_users.USER_ARGS, {200: "Username", 201: "Message"}),
    Route("GET", "/v4/users/{number_of_users}", api_users.UserListHandler, ADMIN, "List users", "users",
          ok={200: "UserList"}),
    Route("GET", "/v4/user/{username}", api_users.UserItemHandler, ADMIN, "One user", "users", ok={200: "Username"}),
    Route("DELETE", "/v4/user/{username}", api_users.UserItemHandler, ADMIN, "Delete a user (not the last admin)",
          "users"),
    # tickers (SPEC §5.6, 5.7)
    Route("POST", "/v4/ticker", api_tickers.TickerHandler, FRESH_TOKEN, "Register a ticker", "tickers",
          api_tickers.TICKER_ARGS, {201: "Message"}),
    Route("PUT", "/v4/ticker", api_tickers.TickerHandler, FRESH_TOKEN, "Create or replace a ticker", "tickers",
          api_tickers.TICKER_ARGS, {200: "Ticker", 201: "Message"}),
    Route("PUT", "/v4/ticker/pnl", api_tickers.TickerPnlHandler, PASSPHRASE,
          "Position and PNL of a ticker (from the bridge)", "tickers", api_tickers.TICKER_PNL_ARGS, {200: "Ticker"},
          (404,), aliases=("/v4/ticker/updatepnl",), by_bridge=True, wrong_passphrase=AS_BAD_INPUT),
    Route("GET", "/v4/tickers/{number_of_items}", api_tickers.TickerListHandler, PUBLIC, "List tickers", "tickers",
          ok={200: "TickerList"}),
    Route("GET", "/v4/ticker/{symbol}", api_tickers.TickerItemHandler, PUBLIC, "One ticker", "tickers",
          ok={200: "Ticker"}),
    Route("DELETE", "/v4/ticker/{symbol}", api_tickers.TickerItemHandler, ADMIN, "Delete a ticker", "tickers"),
    # pairs (SPEC §5.8)
    Route("POST", "/v4/pair", api_pairs.PairHandler, FRESH_TOKEN, "Register a pair (its name is always ticker1-ticker2)",
          "pairs", api_pairs.PAIR_POST_ARGS, {201: "Message"}),
    Route("PUT", "/v4/pair", api_pairs.PairHandler, FRESH_TOKEN,
          "Update a pair (omitted statistics keep their stored values)", "pairs", api_pairs.PAIR_PUT_ARGS,
          {200: "Pair"}, (404,)),
    Route("GET", "/v4/pairs/{number_of_items}", api_pairs.PairListHandler, PUBLIC, "List pairs", "pairs",
          ok={200: "PairList"}),
    Route("GET", "/v4/pair/{name}", api_pairs.PairItemHandler, PUBLIC, "One pair", "pairs", ok={200: "Pair"}),
    Route("DELETE", "/v4/pair/{name}", api_pairs.PairItemHandler, ADMIN, "Delete a pair", "pairs"),
    # account PNL (SPEC §5.9)
    Route("POST", "/v4/pnl", api_pnl.PnlHandler, PASSPHRASE, "Record an account PNL snapshot", "pnl",
          api_pnl.PNL_ARGS, {201: "Message"}, aliases=("/v4/regpnl",), by_bridge=True),
    Route("PUT", "/v4/pnl", api_pnl.PnlHandler, PASSPHRASE, "Replace an account PNL snapshot", "pnl",
          api_pnl.PNL_ARGS, {200: "AccountEcho"}, (404,), aliases=("/v4/regpnl",), by_bridge=True,
          wrong_passphrase=NESTED),
    Route("GET", "/v4/pnls/{number_of_items}", api_pnl.PnlListHandler, OPTIONAL_TOKEN,
          "Latest account PNL snapshots", "pnl", ok={200: "PnlList"}),
    Route("GET", "/v4/pnl/{rowid}", api_pnl.PnlItemHandler, PUBLIC,
          "One account PNL snapshot (and the newest one in signals)", "pnl", ok={200: "AccountItem"},
          error_schemas={404: "MessageWithSignals"}),
    Route("DELETE", "/v4/pnl/{rowid}", api_pnl.PnlItemHandler, ADMIN, "Delete an account PNL snapshot", "pnl"),
    # operations
    Route("GET", "/healthz", ops.HealthHandler, PUBLIC,
          "Health: database, last price job, last bridge contact, version", "operations",
          ok={200: "Health", 503: "Health"}),
    Route("GET", "/v4/openapi.json", ops.OpenApiHandler, PUBLIC, "This document", "operations",
          ok={200: "OpenAPI"}),
    Route("GET", "/docs", ops.DocsHandler, PUBLIC, "The API's description, rendered", pattern=r"/docs/?"),
    # the dashboard's pages (SPEC §7): HTML, described on their own (handlers/openapi.py)
    Route("GET", "/", pages.RootHandler, SESSION, "To the dashboard"),
    Route("GET", "/login", pages.LoginPageHandler, SESSION, "The login form", args=pages.LOGIN_PAGE_ARGS),
    Route("POST", "/login", pages.LoginPageHandler, SESSION, "Log in: the session cookie",
          args=pages.LOGIN_FORM_ARGS),
    Route("POST", "/logout", pages.LogoutPageHandler, SESSION, "End the session"),
    Route("GET", "/dashboard", pages.DashboardHandler, SESSION, "DASHBOARD: the latest signals",
          args=pages.DASHBOARD_ARGS),
    Route("GET", "/list", pages.ListHandler, SESSION, "LIST: a pair's or ticker's signals by day",
          args=pages.LIST_ARGS),
    Route("GET", "/positions", pages.PositionsHandler, SESSION, "POSITIONS: the active pairs and tickers",
          args=pages.NOTICE_ARGS),
    Route("GET", "/watchlist", pages.WatchlistHandler, SESSION, "WATCHLIST: the watchlist pairs",
          args=pages.NOTICE_ARGS),
    Route("GET", "/setup", pages.SetupHandler, LOGIN, "SETUP: signals, pairs and tickers", args=pages.SETUP_ARGS),
    Route("POST", "/setup/yahoo-symbol", pages.YahooSymbolHandler, LOGIN, "A ticker's Yahoo spelling",
          args=pages.YAHOO_SYMBOL_ARGS),
    Route("POST", "/setup/notify-test", pages.NotifyTestHandler, ADMIN_PAGE,
          "SETUP's Send test: one message to every push channel, then SETUP says how each went",
          args=pages.NOTIFY_TEST_ARGS),
    Route("GET", "/signal/{rowid}", pages.SignalPageHandler, LOGIN, "SIGNAL: one signal's timeline, latencies and slip"),
    Route("GET", "/deliveries", pages.DeliveryLogHandler, LOGIN, "DELIVERY LOG: the passphrase routes' requests",
          args=pages.DELIVERY_ARGS),
    # the price job now (SPEC §7.9 with A.5): GET with a token, POST from the dashboard
    Route("GET", "/sma", maintenance.SmaHandler, TOKEN, "The active pairs' price run, then POSITIONS"),
    Route("POST", "/sma", maintenance.SmaHandler, TOKEN, "The active pairs' price run, then POSITIONS"),
    Route("GET", "/update_watchlist", maintenance.UpdateWatchlistHandler, TOKEN,
          "The watchlist pairs' price run, then WATCHLIST"),
    Route("POST", "/update_watchlist", maintenance.UpdateWatchlistHandler, TOKEN,
          "The watchlist pairs' price run, then WATCHLIST"),
    # continuity of strategy alerts (issue 16, SPEC A.7)
    Route("PUT", "/v4/continuity/finding/{rowid}", api_continuity.FindingItemHandler, ADMIN,
          "Mark a finding reviewed (or open again)", "continuity", api_continuity.REVIEW_ARGS, {200: "Finding"}),
    Route("GET", "/v4/continuity/{number_of_items}", api_continuity.FindingListHandler, TOKEN,
          "Gap and duplicate findings, newest first", "continuity", ok={200: "FindingList"},
          description="A gap: an alert's position before its order is not the previous alert's position after it. "
                      "A duplicate: the same order again within `[SERVER] DUPLICATE_WINDOW_SEC`. `open` counts the "
                      "findings not yet reviewed."),
    Route("GET", "/events", live.EventStreamHandler, PUBLIC, "Server-sent events: what changed, for open pages"),
    # pair research (SPEC A.8)
    Route("GET", "/v4/screener", research.ScreenerApiHandler, TOKEN,
          "The latest screener run's pairs, best first, and the run in progress", "research",
          research.SCREENER_GET_ARGS, {200: "Screener"},
          description="`running` is null when no run is in progress."),
    Route("POST", "/v4/screener", research.ScreenerApiHandler, ADMIN, "Start a screener run (one at a time)",
          "research", ok={202: "ScreenerStarted"}, errors=(409,),
          description="Answers at once with the run's id in job_runs; the run goes on in the background. 409 while "
                      "another run is in progress."),
    Route("GET", "/screener", research.ScreenerPageHandler, LOGIN, "SCREENER: the latest run's best pairs"),
    Route("GET", "/pair/{name}", research.PairPageHandler, SESSION, "PAIR: one pair's chart and statistics"),
)


class RouteTable:
    """What the Application and the handlers read from the rows."""

    def __init__(self, rows: Sequence[Route]):
        self.rows = tuple(rows)
        self.passphrase_paths = tuple(dict.fromkeys(  # the delivery log page's route filter, in the table's order
            p for row in self.rows if row.access is PASSPHRASE for p in (row.path, *row.aliases)))
        self.bridge_writes = frozenset((row.method, p) for row in self.rows if row.by_bridge
                                       for p in (row.path, *row.aliases))

    def url_rules(self) -> list[tornado.web.URLSpec]:
        """One rule per pattern, in the table's order, each given its rows by method (``BaseHandler.initialize``)."""
        rules: dict[str, tuple[type, dict[str, Route]]] = {}
        for row in self.rows:
            handler, by_method = rules.setdefault(row.regex, (row.handler, {}))
            if handler is not row.handler or row.method in by_method:
                raise ValueError(f"{row.method} {row.path}: its pattern is already another handler's or row's")
            by_method[row.method] = row
        out = []
        for pattern, (handler, by_method) in rules.items():
            for base in handler.__mro__[1:]:  # an inherited method keeps the row of the class that defines it
                for row in self.rows:
                    if row.handler is base:
                        by_method.setdefault(row.method, row)
            passphrase = any(row.access is PASSPHRASE for row in by_method.values())
            out.append(tornado.web.URLSpec(pattern, handler, {"rows": by_method, "passphrase_route": passphrase}))
        return out


TABLE = RouteTable(ROUTES)
