"""``make demo``: a short, true trading day on a throwaway database, so that every page shows something at once.

The demo talks to a running pairs over HTTP like its real clients do: the admin registers the instruments with the
API, TradingView posts its alerts, the pairs-ibkr bridge polls the waiting list, puts each signal back as
``created`` with its order ids and reports its fills (the bridge's own request shapes, tests/test_bridge_replay.py),
and the account PNL is pushed.  Only the price run is not an HTTP call: it runs in the server (``run_prices``),
ignoring the exchange session, on the prices in ``data-demo/``.  Plain Python (urllib), no Tornado.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pairs.config import INSTALLED, PROJECT_DIR
from pairs.vocab import Activity, OrderStatus

DEMO_DB = "demo.db"
# data-demo/prices in a checkout, inside this package when installed (pyproject.toml)
DEMO_PRICES = Path(__file__).resolve().parent / "demo_prices" if INSTALLED else PROJECT_DIR / "data-demo" / "prices"
WAITING = f"/v4/signals/status/{OrderStatus.WAITING}/0"

# symbol: (primary exchange, active) - every ticker passive: a pair only trades when neither leg is an active ticker
PASSIVE = Activity.PASSIVE
TICKERS = {"PEP": ("NASDAQ", PASSIVE), "KO": ("NYSE", PASSIVE), "EWC": ("ARCA", PASSIVE), "EWA": ("ARCA", PASSIVE),
           "BF A": ("NYSE", PASSIVE), "BF B": ("NYSE", PASSIVE)}
# name: (hedge, status) - one active pair, one on the watchlist, one passive
PAIRS = {"PEP-KO": (2.8, Activity.ACTIVE), "EWC-EWA": (2.0, Activity.WATCHLIST), "BF A-BF B": (1.0, PASSIVE)}


@dataclasses.dataclass(frozen=True)
class Alert:
    """One TradingView alert of the day, and what the bridge does with it (fills: symbol -> (price, quantity))."""

    minutes_ago: int
    ticker: str
    action: str
    contracts: int
    price: float
    before: tuple[str, int]
    after: tuple[str, int]
    comment: str
    order_ids: tuple[int, int] | None = None
    fills: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)


DAY = (
    Alert(170, "NASDAQ:PEP-2.8*NYSE:KO", "sell", 10, 3.10, ("flat", 0), ("short", 10), "Enter Short",
          (1001, 1002), {"PEP": (183.40, 10.0), "KO": (64.45, 28.0)}),
    Alert(110, "NASDAQ:PEP-2.8*NYSE:KO", "buy", 10, 2.55, ("short", 10), ("flat", 0), "Exit Short",
          (1003, 1004), {"PEP": (183.22, 10.0), "KO": (64.50, 28.0)}),
    Alert(75, "AMEX:EWC-2*AMEX:EWA", "buy", 100, 1.40, ("flat", 0), ("long", 100), "Enter Long"),  # watchlist
    Alert(40, "NYSE:XOM", "buy", 5, 112.30, ("flat", 0), ("long", 5), "Enter Long"),  # not registered
    Alert(25, "NASDAQ:PEP-2.8*NYSE:KO", "sell", 10, 3.05, ("flat", 0), ("short", 10), "Enter Short",
          (1005, 1006), {"PEP": (183.35, 10.0), "KO": (64.40, 28.0)}),
    Alert(5, "NASDAQ:PEP-2.8*NYSE:KO", "buy", 10, 2.40, ("short", 10), ("flat", 0), "Exit Short"),  # waiting
)
# the bridge's position push after the fills: symbol -> (position, average cost, unrealized PNL)
POSITIONS = {"PEP": (-10.0, 183.35, -2.2), "KO": (28.0, 64.40, 2.52)}
ACCOUNT = {"AvailableFunds": 48210.55, "BuyingPower": 192842.2, "DailyPnL": 41.3, "GrossPositionValue": 3636.7,
           "MaintMarginReq": 909.2, "NetLiquidation": 50262.18, "RealizedPnL": 41.3, "UnrealizedPnL": 0.32}


def demo_database_url(data_dir: str) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / DEMO_DB}"


def remove_demo_database(data_dir: str) -> None:
    """Running the demo again starts from scratch."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (Path(data_dir) / (DEMO_DB + suffix)).unlink(missing_ok=True)


class Client:
    """JSON over HTTP, as the bridge and Postman send it; any answer but the expected status stops the demo."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        if status not in expect:
            raise RuntimeError(f"demo: {method} {path} answered {status}: {text[:300]!r}")
        return json.loads(text) if text else None


def _stamp(now: dt.datetime, minutes_ago: int) -> str:
    return (now - dt.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S")


def register(client: Client, username: str, password: str) -> None:
    client.token = client.call("POST", "/v4/login", {"username": username, "password": password,
                                                     "expire": 10})["access_token"]
    for symbol, (exchange, active) in TICKERS.items():
        client.call("POST", "/v4/ticker", {"symbol": symbol, "sectype": "STK", "xch": "SMART", "prixch": exchange,
                                           "currency": "USD", "active": active})
    for name, (hedge, status) in PAIRS.items():
        first, second = name.split("-")
        client.call("POST", "/v4/pair", {"ticker1": first, "ticker2": second, "hedge": hedge, "contracts": 10,
                                         "status": status})
    client.token = None  # TradingView and the bridge carry no token


def trade_day(client: Client, passphrase: str, now: dt.datetime) -> list[int]:
    """TradingView's alerts and the bridge's answers to them; returns the signals' rowids in order."""
    rowids = []
    for alert in DAY:
        client.call("POST", "/v4/webhook", {
            "passphrase": passphrase, "timestamp": _stamp(now, alert.minutes_ago), "ticker": alert.ticker,
            "order_action": alert.action, "order_contracts": alert.contracts, "order_price": alert.price,
            "mar_pos": alert.after[0], "mar_pos_size": alert.after[1], "pre_mar_pos": alert.before[0],
            "pre_mar_pos_size": alert.before[1], "order_comment": alert.comment})
        newest = client.call("GET", "/v4/signals/1")["signals"][0]
        rowids.append(newest["rowid"])
        waiting = client.call("GET", WAITING)["signals"]  # the bridge's poll
        if alert.order_ids is None or not any(s["rowid"] == newest["rowid"] for s in waiting):
            continue
        echo = dict(newest, passphrase=passphrase, order_status=OrderStatus.CREATED, status_msg="", error_msg="",
                    order_id1=alert.order_ids[0], order_id2=alert.order_ids[1])
        client.call("PUT", "/v4/webhook", echo)
        for (symbol, (price, quantity)), order_id in zip(alert.fills.items(), alert.order_ids, strict=True):
            client.call("PUT", "/v4/signal/updateorder", {"passphrase": passphrase, "price": price,
                                                          "order_id": str(order_id), "symbol": symbol,
                                                          "filled_qty": quantity})
    for symbol, (position, cost, pnl) in POSITIONS.items():
        client.call("PUT", "/v4/ticker/pnl", {"passphrase": passphrase, "symbol": symbol, "active_pos": position,
                                              "active_cost": cost, "active_pnl": pnl})
    client.call("POST", "/v4/pnl", dict(ACCOUNT, passphrase=passphrase, timestamp=_stamp(now, 5)))
    return rowids


def run(base_url: str, username: str, password: str, passphrase: str, run_prices: Callable[[], None],
        now: dt.datetime | None = None, say: Callable[[str], None] = print) -> list[int]:
    """The whole demo against a running server: registry, prices and statistics, then the day."""
    client = Client(base_url)
    say(f"demo: registering {len(TICKERS)} tickers and {len(PAIRS)} pairs")
    register(client, username, password)
    say("demo: loading data-demo/ prices and computing the pairs' statistics")
    run_prices()
    say(f"demo: replaying a day of {len(DAY)} TradingView alerts, the bridge's orders and fills")
    rowids = trade_day(client, passphrase, now or dt.datetime.now(dt.UTC))
    say(f"demo ready: open {base_url}/dashboard and log in as {username!r}")
    return rowids
