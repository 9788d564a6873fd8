"""What the dashboard pages show: bounded queries and the display rules of SPEC §7 (with Part A).

No Tornado here.  Every query is limited (the pages page through data with a ``before`` rowid, never loading a
whole table), and every rule tolerates NULLs left by the original or by partial updates (SPEC §10.2-5/6).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import math
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

import peewee
from peewee import fn

from pairs import continuity, fills, jobs, lifecycle, market, signals, stats
from pairs.args import CONVERTERS
from pairs.db import Account, DeliveryLog, Pair, PriceBar, Signal, Ticker
from pairs.vocab import Activity, OrderStatus, is_tradable, tradable

log = logging.getLogger("pairs.dashboard")

# rows per page: (logged in, anonymous), SPEC §7.3-7.6
DASHBOARD_ROWS = (20, 5)
LIST_ROWS = (50, 5)
POSITION_ROWS = (20, 3)
WATCHLIST_ROWS = (40, 5)
DELIVERY_ROWS = 50
SELECT_OPTIONS_MAX = 1000  # pairs/tickers offered in a select; these tables are small by nature

# the §7.1 expire choices of the login form, in minutes
EXPIRE_CHOICES = (("1m", 1), ("3m", 3), ("5m", 5), ("10m", 10), ("20m", 20), ("30m", 30), ("1h", 60), ("2h", 120),
                  ("4h", 240), ("8h", 480), ("12h", 720), ("1d", 1440), ("2d", 2880), ("1w", 10080))
DEFAULT_EXPIRE = 10080

DEFAULT_PAGE = "/dashboard"
_URL_TEXT = re.compile(r"[!-~]+")  # printable ASCII: no control character, no space, nothing a browser re-reads


def login_redirect(target: str | None) -> str:
    """Where a login sends the browser: ``target`` when it is a path on this site, else the dashboard.

    Browsers drop tabs and newlines from a URL and read ``\\`` as ``/``, so ``/\\t/evil.example`` and
    ``/\\evil.example`` both mean ``//evil.example``, another site; a newline would also split the header.  So a
    path here is printable ASCII (anything else arrives percent-encoded) without ``\\`` and not starting ``//``.
    """
    if (not target or not target.startswith("/") or not _URL_TEXT.fullmatch(target) or "\\" in target
            or target.startswith("//")):
        return DEFAULT_PAGE
    return target


# ---------------------------------------------------------------------------------------------------------------
# Time


@functools.lru_cache(maxsize=8)
def display_zone(name: str) -> dt.tzinfo:
    """The configured display time zone; an unknown name falls back to UTC (with one warning in the log)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("unknown display time zone %r; showing UTC", name)
        return dt.UTC


def local_time(stamp: Any, zone: dt.tzinfo) -> dt.datetime | None:
    """A stored naive-UTC timestamp in the display zone; None for NULL, text peewee could not parse, or a time the
    zone cannot show (0001-01-01 00:00 UTC is in the year 0 in US/Pacific: the API accepts it, a page must show it)."""
    if not isinstance(stamp, dt.datetime):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    try:
        return stamp.astimezone(zone)
    except OverflowError:
        return None


def format_local(stamp: Any, zone: dt.tzinfo) -> str:
    local = local_time(stamp, zone)
    if local is None:
        return "" if stamp is None else str(stamp)[:19]
    return local.strftime("%Y-%m-%d %H:%M:%S")


def format_local_ms(stamp: Any, zone: dt.tzinfo) -> str:
    """An event's time in the display zone, to the millisecond."""
    local = local_time(stamp, zone)
    if local is None:
        return format_local(stamp, zone)
    return lifecycle.format_ms(local)


def format_local_offset(stamp: Any, zone: dt.tzinfo) -> str:
    """The signal editor's timestamp: display-zone time with its offset (``2026-11-29 04:02:58-08:00``), which the
    API reads back as the same UTC moment (A.3)."""
    local = local_time(stamp, zone)
    if local is None:
        return format_local(stamp, zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def minutes_since(stamp: Any, now: dt.datetime) -> int | None:
    """Whole minutes from a naive-UTC ``stamp`` to naive-UTC ``now`` (SPEC §7.3 ``round(Δ/60)``)."""
    if not isinstance(stamp, dt.datetime):
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return round((now - stamp).total_seconds() / 60)


def parse_day(text: str | None) -> dt.date | None:
    """``YYYY-MM-DD`` (anything after a ``.`` dropped, as the original did); None when missing or invalid."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text.split(".", 1)[0].strip())
    except ValueError:
        return None


def day_window(start: dt.date | None, end: dt.date | None, zone: dt.tzinfo,
               now: dt.datetime) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    """(start day, end day, from, until): whole days in the display zone as naive UTC, ``from <= ts < until``.

    A missing or invalid date means today (in the display zone); a reversed range is put in order.
    """
    today = now.replace(tzinfo=dt.UTC).astimezone(zone).date()
    start = start or today
    end = end or (max(today, start))
    if end < start:
        start, end = end, start

    def utc_midnight(day: dt.date) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        try:
            return local.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # the first or last day of the calendar, east or west of UTC: the window is open there
            return dt.datetime.min if day.year == dt.MINYEAR else dt.datetime.max

    until = utc_midnight(end + dt.timedelta(days=1)) if end < dt.date.max else dt.datetime.max
    return start, end, utc_midnight(start), until


# ---------------------------------------------------------------------------------------------------------------
# Formatting


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def fmt(value: Any, spec: str, prefix: str = "") -> str:
    """``format(value, spec)`` for numbers, "" for NULL or anything else."""
    number = _number(value)
    return "" if number is None else prefix + format(number, spec)


def money(value: Any, prefix: str = "$") -> str:
    """One format for every amount (issue 13): ``$1,234.50`` / ``-$3.00``, the sign in front of the currency."""
    number = _number(value)
    if number is None:
        return ""
    text = format(abs(number), ",.2f")
    return ("-" if text.strip("0.,") and number < 0 else "") + prefix + text


def sign_class(value: Any) -> str:
    number = _number(value)
    if not number:
        return ""
    return "neg" if number < 0 else "pos"


def status_class(status: Any) -> str:
    """The colour rule of SPEC §7.3, substring based, first match wins."""
    if not isinstance(status, str):
        return ""
    if "err" in status:
        return "st-error"
    if OrderStatus.CREATED in status:
        return "st-created"
    if "cancel" in status:
        return "st-canceled"
    if OrderStatus.WAITING in status or OrderStatus.REROUTED in status:
        return "st-waiting"
    if "part." in status:
        return "st-partial"
    if OrderStatus.FILLED in status:
        return "st-filled"
    return ""


def slip_text(sig: Signal) -> str:
    """``slip | money`` (``0.020 | $2.00``, ``-0.160 | -$16.00``) when both prices exist; blank otherwise."""
    if _number(sig.fill_price) is None or _number(sig.order_price) is None or _number(sig.slip) is None:
        return ""
    text = format(sig.slip, ".3f")
    contracts = _number(sig.order_contracts)
    if contracts is None:
        return text
    return f"{text} | {money(fills.slip_money(sig.slip, contracts))}"


@dataclasses.dataclass(frozen=True)
class SignalRow:
    rowid: int
    time: str
    today: bool
    ticker: str
    comment: str
    action: str
    quantity: str
    price: str
    status: str
    status_class: str
    status_tip: str
    elapsed: int | None
    fill_price: str
    slip: str
    finding: Badge | None = None
    pair: str = ""  # the name of the signal's pair (its page is /pair/<name>); "" for a single-ticker signal


@dataclasses.dataclass(frozen=True)
class Badge:
    """A continuity finding on its signal's row: ``gap`` or ``dup``, what was expected in the tooltip."""

    id: int
    label: str
    tip: str
    reviewed: bool


def badges(rowids: Iterable[int]) -> dict[int, Badge]:
    return {rowid: Badge(row.id, "dup" if row.kind == continuity.DUPLICATE else "gap", continuity.describe(row),
                         bool(row.reviewed)) for rowid, row in continuity.findings_of(rowids).items()}


def signal_rows(signals: Sequence[Signal], now: dt.datetime, zone: dt.tzinfo,
                price_decimals: int = 3) -> list[SignalRow]:
    """The rows of a page, each with its continuity badge (one query for the page)."""
    found = badges(sig.rowid for sig in signals)
    return [signal_row(sig, now, zone, price_decimals, found.get(sig.rowid)) for sig in signals]


def signal_row(sig: Signal, now: dt.datetime, zone: dt.tzinfo, price_decimals: int = 3,
               finding: Badge | None = None) -> SignalRow:
    """One table row of the dashboard/list pages; ``now`` is naive UTC."""
    status = sig.order_status if isinstance(sig.order_status, str) else ""
    klass = status_class(status)
    local = local_time(sig.timestamp, zone)
    today = local is not None and local.date() == now.replace(tzinfo=dt.UTC).astimezone(zone).date()
    elapsed = minutes_since(sig.timestamp, now) if klass in ("st-created", "st-waiting") else None
    tip = " | ".join(t for t in (sig.status_msg, sig.error_msg) if isinstance(t, str) and t)
    return SignalRow(
        rowid=sig.rowid,
        time=format_local(sig.timestamp, zone),
        today=today,
        ticker=sig.ticker or "",
        comment=sig.order_comment or "",
        action=sig.order_action or "",
        quantity=fmt(sig.order_contracts, ","),
        price=fmt(sig.order_price, f",.{price_decimals}f"),
        status=status,
        status_class=klass,
        status_tip=tip,
        elapsed=elapsed,
        fill_price=fmt(sig.fill_price, f",.{price_decimals}f"),  # the same decimals as the order price
        slip=slip_text(sig),
        finding=finding,
        pair=f"{sig.ticker1}-{sig.ticker2}" if sig.ticker_type == "pair" and sig.ticker1 and sig.ticker2 else "",
    )


# ---------------------------------------------------------------------------------------------------------------
# Signals


@dataclasses.dataclass
class Page:
    rows: list
    older: int | None  # the ``before`` value of the next (older) page, None at the end


def _page(query: peewee.ModelSelect, key: peewee.Field, limit: int, before: int | None) -> Page:
    """Keyset paging, newest first: cost depends on the page size, not on the table size."""
    if before is not None:
        query = query.where(key < before)
    rows = list(query.order_by(key.desc()).limit(limit + 1))
    older = getattr(rows[limit - 1], key.name) if len(rows) > limit else None
    return Page(rows[:limit], older)


def recent_signals(limit: int, before: int | None = None) -> Page:
    return _page(Signal.select(), Signal.rowid, limit, before)


def history(ticker_webhook: str, since: dt.datetime, until: dt.datetime, limit: int,
            before: tuple[dt.datetime, int] | None = None) -> Page:
    """The selection's signals in ``[since, until)``, newest first by time.

    Ordered (and paged) by (timestamp, rowid), so the timestamp index yields the rows in order and a page costs
    its own size however wide the window; ``Page.older`` is a ``history_key``.
    """
    where = signals.selection(ticker_webhook) & (Signal.timestamp >= since) & (Signal.timestamp < until)
    if before is not None:
        stamp, rowid = before
        where &= (Signal.timestamp <= stamp) & ((Signal.timestamp < stamp) | (Signal.rowid < rowid))
    query = Signal.select().where(where).order_by(Signal.timestamp.desc(), Signal.rowid.desc()).limit(limit + 1)
    rows = list(query)
    return Page(rows[:limit], history_key(rows[limit - 1]) if len(rows) > limit else None)


def history_key(sig: Signal) -> str:
    return f"{sig.timestamp:%Y-%m-%dT%H:%M:%S}~{sig.rowid}"


def parse_history_key(text: str | None) -> tuple[dt.datetime, int] | None:
    """``YYYY-MM-DDTHH:MM:SS~rowid`` -> (timestamp, rowid); None for anything else, a rowid outside INTEGER too."""
    stamp, _, rowid = (text or "").partition("~")
    try:
        return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S"), CONVERTERS["int"](rowid)
    except ValueError:
        return None


def average_slips(ticker_webhook: str, since: dt.datetime, until: dt.datetime) -> dict[str, float | None]:
    """AVG(slip) for buys, sells and all of the selection and window; None when there is nothing to average."""
    where = signals.selection(ticker_webhook) & (Signal.timestamp >= since) & (Signal.timestamp < until)
    buy = fn.AVG(peewee.Case(None, [(Signal.order_action == "buy", Signal.slip)], None))
    sell = fn.AVG(peewee.Case(None, [(Signal.order_action == "sell", Signal.slip)], None))
    row = Signal.select(buy.alias("buy"), sell.alias("sell"), fn.AVG(Signal.slip).alias("all")).where(where).dicts()
    values = row.get() or {}
    return {k: (float(values[k]) if values.get(k) is not None else None) for k in ("buy", "sell", "all")}


def latency_aggregates(ticker_webhook: str, since: dt.datetime,
                       until: dt.datetime) -> tuple[list[lifecycle.Aggregate], dict[str, Any]]:
    """p50/p90 of each latency and the average slip per leg of the selection and window (pairs.lifecycle)."""
    where = signals.selection(ticker_webhook) & (Signal.timestamp >= since) & (Signal.timestamp < until)
    return lifecycle.aggregates(where)


def slip_average_text(value: float | None) -> str:
    """5 decimals; ``?`` only when there is nothing to average (SPEC §10.3-16)."""
    return "?" if value is None else f"{value:.5f}"


# ---------------------------------------------------------------------------------------------------------------
# Instruments


def pair_names(limit: int = SELECT_OPTIONS_MAX) -> list[Pair]:
    return list(Pair.select().order_by(fn.LOWER(Pair.name)).limit(limit))


def ticker_symbols(limit: int = SELECT_OPTIONS_MAX) -> list[Ticker]:
    return list(Ticker.select().order_by(Ticker.symbol).limit(limit))


def latest_account() -> Account | None:
    return Account.select().order_by(Account.rowid.desc()).first()


def _legs(pairs: Sequence[Pair]) -> dict[str, Ticker]:
    symbols = {s for p in pairs for s in (p.ticker1, p.ticker2) if s}
    if not symbols:
        return {}
    return {t.symbol: t for t in Ticker.select().where(Ticker.symbol.in_(list(symbols)))}


def _f(value: Any) -> float:
    """NULL (or NaN) counts as 0 in position arithmetic: a leg without a pushed position holds nothing."""
    number = _number(value)
    return 0.0 if number is None else float(number)


@dataclasses.dataclass
class Leg:
    symbol: str
    known: bool
    pos: float
    pnl: float
    cost: float

    @classmethod
    def of(cls, symbol: str | None, ticker: Ticker | None) -> Leg:
        if ticker is None:
            return cls(symbol or "", False, 0.0, 0.0, 0.0)
        return cls(ticker.symbol, True, _f(ticker.active_pos), _f(ticker.active_pnl), _f(ticker.active_cost))


@dataclasses.dataclass
class PairView:
    pair: Pair
    label: str
    leg1: Leg
    leg2: Leg
    sum_pnl: float
    avg_price: float
    act_price: float | None  # average entry of the open position including its PNL, when a position is open
    dist_sma: float  # money
    dist_sma_class: str
    dist_std: float | None
    std_class: str
    check: str
    check_class: str
    flat: bool
    actions: list[tuple[str, dict[str, Any]]]


def hedge_check(pos1: float, pos2: float, hedge: float) -> tuple[str, str]:
    """The positions page's "check" column (SPEC §7.5): does leg 2 hold ``hedge`` × leg 1?"""
    if pos1:
        ratio = round(abs(pos2 / pos1), 2)
        if ratio == round(hedge, 2):
            return "ok", ""
        off = abs(round(abs(pos2 / pos1 / hedge), 3) - 1) if hedge else 1
        return f"hedge={ratio}", "warn" if off >= 0.05 else "caution"
    if abs(pos2) > 2:
        return "2nd pair", "warn"
    if pos2 == 0:
        return "ok", ""
    return "2nd pair", "caution"


def std_class(distance: float | None) -> str:
    if distance is None:
        return ""
    if distance >= 2:
        return "z2"
    if distance >= 1.5:
        return "z15"
    if distance >= 1.0:
        return "z1"
    return "z0"


def pair_view(pair: Pair, legs: dict[str, Ticker]) -> PairView:
    leg1, leg2 = Leg.of(pair.ticker1, legs.get(pair.ticker1)), Leg.of(pair.ticker2, legs.get(pair.ticker2))
    hedge, sma_dist, std = _f(pair.hedge), _f(pair.sma_dist), _f(pair.std)
    contracts, act, sma = _f(pair.contracts), _f(pair.act_price), _f(pair.sma)
    sum_pnl = leg1.pnl + leg2.pnl
    avg = leg1.cost - hedge * leg2.cost
    entry = avg + sum_pnl / leg1.pos if leg1.pos else None
    if leg1.pos:
        dist = leg1.pos * sma_dist
        dist_class = "dist-plus" if int(leg1.pos) * sma_dist > 0 else "dist-minus"
    else:
        dist = contracts * abs(sma_dist)
        dist_class = "dist-big" if dist > 100 else ""
    dist_std = abs(sma_dist / std) if std else None
    check, check_class = hedge_check(leg1.pos, leg2.pos, hedge)
    if leg1.pos:
        trade = {"tradepair": pair.name, "tradecontracts": _int_text(leg1.pos),
                 "tradeprice": round(entry, 3) if entry is not None else ""}
        actions = [("close", {"tradeaction": "close", **trade}), ("revert", {"tradeaction": "revert", **trade})]
    else:
        side = "buy" if act < sma else "sell"
        actions = [(side, {"tradeaction": side, "tradepair": pair.name, "tradecontracts": _int_text(contracts),
                           "tradeprice": act})]
    return PairView(
        pair=pair, label=f"{pair.ticker1 or ''}-{_hedge_text(pair.hedge)}*{pair.ticker2 or ''}", leg1=leg1, leg2=leg2,
        sum_pnl=sum_pnl, avg_price=avg, act_price=entry, dist_sma=dist, dist_sma_class=dist_class,
        dist_std=dist_std, std_class=std_class(dist_std), check=check, check_class=check_class,
        flat=leg1.pos == 0 and leg2.pos == 0, actions=actions,
    )


def _int_text(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _hedge_text(hedge: Any) -> str:
    number = _number(hedge)
    if number is None:
        return "?"
    return f"{number:g}"


def pairs_with_status(status: Activity, limit: int) -> list[PairView]:
    pairs = list(Pair.select().where(Pair.status == status).order_by(fn.LOWER(Pair.name)).limit(limit))
    legs = _legs(pairs)
    return [pair_view(p, legs) for p in pairs]


def active_tickers(limit: int) -> list[Ticker]:
    return list(Ticker.select().where(tradable(Ticker.active)).order_by(Ticker.symbol).limit(limit))


def sum_distance_sma(views: Iterable[PairView]) -> float:
    """Σ sma_dist × leg-1 position over the active pairs shown (SPEC §7.5 ``sum_act_sma``)."""
    return sum(_f(v.pair.sma_dist) * v.leg1.pos for v in views if is_tradable(v.pair.status) and _f(v.pair.sma_dist))


# ---------------------------------------------------------------------------------------------------------------
# Quick trades (SPEC §7.7): the setup page's webhook simulator prefilled from a positions/watchlist link.


def quick_trade(action: str | None, contracts: Any, price: Any) -> dict[str, Any]:
    """Simulator fields for ``close``/``revert``/``buy``/``sell`` of N contracts at P; {} for anything else."""
    try:
        n = float(contracts)
    except (TypeError, ValueError):
        return {}
    if not math.isfinite(n):
        return {}
    size = abs(int(n))
    fields: dict[str, Any] = {"order_price": price if price not in (None, "") else ""}
    if action == "close":
        fields.update(order_action="sell" if n > 0 else "buy", pre_mar_pos="long" if n > 0 else "short",
                      order_contracts=size, mar_pos="flat", mar_pos_size=0, pre_mar_pos_size=size)
    elif action == "revert":
        fields.update(order_action="sell" if n > 0 else "buy", pre_mar_pos="long" if n > 0 else "short",
                      mar_pos="short" if n > 0 else "long", order_contracts=2 * size, mar_pos_size=size,
                      pre_mar_pos_size=size)
    elif action in ("buy", "sell"):
        fields.update(order_action=action, pre_mar_pos="flat", order_contracts=size,
                      mar_pos="long" if action == "buy" else "short", mar_pos_size=size, pre_mar_pos_size=0)
    else:
        return {}
    return fields


# ---------------------------------------------------------------------------------------------------------------
# Delivery log (A.2)


STATUS_FILTERS = {"2xx": (200, 300), "4xx": (400, 500), "5xx": (500, 600)}


def deliveries(route: str | None, status: str | None, since: dt.datetime | None, until: dt.datetime | None,
               limit: int, before: int | None = None) -> Page:
    query = DeliveryLog.select()
    if route:
        query = query.where(DeliveryLog.route == route)
    if status in STATUS_FILTERS:
        low, high = STATUS_FILTERS[status]
        query = query.where((DeliveryLog.status >= low) & (DeliveryLog.status < high))
    elif status:
        try:
            query = query.where(DeliveryLog.status == CONVERTERS["int"](status))
        except ValueError:  # neither a class nor a status code: no filter, as for an unknown class
            pass
    if since is not None:
        query = query.where(DeliveryLog.received >= since)
    if until is not None:
        query = query.where(DeliveryLog.received < until)
    return _page(query, DeliveryLog.id, limit, before)


# ---------------------------------------------------------------------------------------------------------------
# Spread chart: the daily spread of stored closes with its SMA and sample std over ``[SMA] SMA_WINDOW`` days, by the
# price job's own rules (pairs.stats), in plain Python: a page view never loads pandas.

CHART_DAYS = 120


def daily_closes(symbol: str, limit: int) -> list[tuple[dt.date, float]]:
    """The newest ``limit`` stored daily closes of a leg symbol, oldest first (the price job stores them)."""
    query = (PriceBar.select(PriceBar.time, PriceBar.close)
             .where((PriceBar.symbol == symbol) & (PriceBar.interval == market.DAILY))
             .order_by(PriceBar.time.desc()).limit(limit).tuples())
    return [(time.date() if isinstance(time, dt.datetime) else dt.date.fromisoformat(str(time)[:10]), close)
            for time, close in reversed(list(query)) if _number(close) is not None]


def spread_series(closes1: Sequence[tuple[dt.date, float]], closes2: Sequence[tuple[dt.date, float]],
                  hedge: float, window: int = stats.SMA_WINDOW) -> list[dict[str, Any]]:
    """Points ``{"t": "YYYY-MM-DD", "spread", "sma", "std"}`` on the days both legs closed; sma/std None until
    ``window`` days are there."""
    points: list[dict[str, Any]] = []
    spreads: list[float] = []
    for day, value in stats.spread(dict(closes1), dict(closes2), hedge).items():
        spreads.append(value)
        sma, std = stats.moving_stats(spreads, window) if len(spreads) >= window else (None, None)
        points.append({"t": day.isoformat(), "spread": round(value, 5), "sma": sma, "std": std})
    return points


def pair_chart(pair: Pair, days: int = CHART_DAYS, window: int = stats.SMA_WINDOW) -> dict[str, Any]:
    """What a pair's chart draws; ``points`` is empty when no prices are stored (yet)."""
    hedge = _number(pair.hedge)
    points: list[dict[str, Any]] = []
    if pair.ticker1 and pair.ticker2 and hedge is not None:
        wanted = days + window
        points = spread_series(daily_closes(pair.ticker1, wanted), daily_closes(pair.ticker2, wanted), hedge, window)
    return {"pair": pair.name, "points": points[-days:]}


def last_run(job: str) -> dict[str, Any] | None:
    """The newest run of a price job (``jobs.PRICES`` or ``jobs.WATCHLIST``), as ``jobs.last_runs`` shapes it."""
    runs = jobs.last_runs(1, job)
    return runs[0] if runs else None
