"""Prices: where they come from (Yahoo or a CSV folder), how IB symbols map to Yahoo's, and the stored bars.

A price source answers ``fetch({leg symbol: yahoo symbol}, interval)`` with ``{leg symbol: bars}`` for the symbols
it has data for; a symbol it has nothing for is simply absent ("no data"), whatever the reason.  Bars are a
DataFrame indexed by naive time with the columns ``Open High Low Close Volume``:

* daily bars (``1d``) are indexed by the session date at 00:00 (the exchange's calendar day, no time zone);
* intraday bars (``5m``) are indexed by naive UTC.

Every bar fetched is kept in ``price_bars``, so pages, charts and statistics read the database and never download.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from peewee import fn

from pairs.config import ConfigError
from pairs.db import PriceBar, Ticker
from pairs.lazy import LazyModule

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported when a price job first runs, not at start-up

log = logging.getLogger("pairs.market")

DAILY = "1d"
INTRADAY = "5m"
INTERVALS = (DAILY, INTRADAY)
BAR_COLUMNS = ("Open", "High", "Low", "Close", "Volume")

INTRADAY_KEEP_DAYS = 14  # 5-minute bars kept in the database

# How much history one run asks Yahoo for: enough daily bars for the longest statistics window, and a few days
# of 5-minute bars so that a run before the open still finds the last close.
YAHOO_PERIOD = {DAILY: "1y", INTRADAY: "5d"}

# Base currencies of the crypto pairs the bridge trades (PAXOS); other `AAA.BBB` symbols are currency pairs.
CRYPTO_BASES = frozenset({"BTC", "ETH", "LTC", "BCH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "LINK", "DOT", "MATIC"})


# ---------------------------------------------------------------------------------------------------------------
# Symbols


def yahoo_symbol(symbol: str, sectype: str | None = None, override: str | None = None) -> str:
    """The Yahoo spelling of a leg symbol stored in IB spelling.

    ``BF B`` -> ``BF-B`` (class shares; ``BF.B`` too), ``USD.CAD`` -> ``USDCAD=X`` (currencies),
    ``BTC.USD`` -> ``BTC-USD`` (crypto, by base currency or ``sectype`` CRYPTO).  ``override`` (the ticker's
    ``yahoo_symbol`` column) wins over the rule for anything the rule gets wrong.
    """
    if override and override.strip():
        return override.strip()
    text = symbol.strip().upper()
    kind = (sectype or "").strip().upper()
    currency_pair = re.fullmatch(r"([A-Z]{3,5})\.([A-Z]{3})", text)
    if currency_pair:
        base, quote = currency_pair.groups()
        if kind == "CRYPTO" or base in CRYPTO_BASES:
            return f"{base}-{quote}"
        if kind in ("", "CASH") and len(base) == 3:
            return f"{base}{quote}=X"
    return re.sub(r"[ .]+", "-", text)


YAHOO_OVERRIDE_MAX = 40  # the column's width
_YAHOO_OVERRIDE = re.compile(r"[A-Z0-9.\-=^&]+")


def yahoo_override(text: str) -> str | None:
    """A ticker's ``yahoo_symbol`` override as typed -> as stored (upper case; "" means back to the rule), or None
    when it cannot be a Yahoo symbol (letters, digits and ``. - = ^ &``, at most 40)."""
    value = text.strip().upper()
    if not value:
        return ""
    return value if len(value) <= YAHOO_OVERRIDE_MAX and _YAHOO_OVERRIDE.fullmatch(value) else None


def yahoo_symbols(symbols: Iterable[str]) -> dict[str, str]:
    """Leg symbol -> Yahoo symbol, using each ticker's sectype and ``yahoo_symbol`` override when it is known."""
    wanted = sorted(set(symbols))
    known = {t.symbol: t for t in Ticker.select().where(Ticker.symbol.in_(wanted))} if wanted else {}
    out = {}
    for symbol in wanted:
        ticker = known.get(symbol)
        out[symbol] = yahoo_symbol(symbol, ticker and ticker.sectype, ticker and ticker.yahoo_symbol)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Sources


class PriceSource(Protocol):
    def fetch(self, symbols: Mapping[str, str], interval: str) -> dict[str, pd.DataFrame]:
        """Bars for ``{leg symbol: yahoo symbol}``; symbols without data are left out."""


def normalize_bars(frame: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Index and columns as described in the module docstring; rows without a usable Close dropped."""
    if frame is None or frame.empty or "Close" not in frame.columns:
        return pd.DataFrame(columns=list(BAR_COLUMNS), index=pd.DatetimeIndex([], name="time"))
    out = frame.reindex(columns=list(BAR_COLUMNS)).astype("float64")
    out.columns = pd.Index(BAR_COLUMNS)  # without yfinance's "Price" level name
    index = pd.DatetimeIndex(pd.to_datetime(out.index))
    if interval == DAILY:
        index = index.tz_localize(None) if index.tz is not None else index  # the exchange's own calendar day
        index = index.normalize()
    elif index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    out.index = index.rename("time")
    out = out[out["Close"].notna() & out["Close"].map(math.isfinite)]
    out = out[~out.index.duplicated(keep="last")].sort_index()
    return out


class CsvFolderSource:
    """``<SYMBOL>_1d.csv`` / ``<SYMBOL>_5m.csv`` in one folder (SYMBOL as stored in the pair's leg).

    Columns ``Datetime,Open,High,Low,Close,Volume`` with ISO timestamps carrying their UTC offset.  A missing or
    unreadable file is "no data" for that symbol.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, symbol: str, interval: str) -> Path | None:
        """The symbol's file, or None when its name is not one file name in the folder (any logged-in user chooses
        a pair's tickers: ``../secret/leak`` or ``/etc/x`` must not read another folder's file)."""
        name = f"{symbol}_{interval}.csv"
        if "/" in name or "\\" in name or "\x00" in name:
            return None
        return self.folder / name

    def fetch(self, symbols: Mapping[str, str], interval: str) -> dict[str, pd.DataFrame]:
        out = {}
        for symbol in symbols:
            path = self.path(symbol, interval)
            if path is None or not path.is_file():
                continue
            try:
                raw = pd.read_csv(path)
                stamps = raw.pop("Datetime").astype(str)
                if interval == DAILY:  # the date as written: the exchange's calendar day
                    raw.index = pd.to_datetime(stamps.str[:10], format="%Y-%m-%d")
                else:
                    raw.index = pd.to_datetime(stamps, utc=True, format="ISO8601")
                bars = normalize_bars(raw, interval)
            except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
                log.warning("price file %s is unreadable: %s", path, exc)
                continue
            if not bars.empty:
                out[symbol] = bars
        return out


class _YahooErrors(logging.Handler):
    """yfinance's ``download`` never raises: it logs ``['SYM', ...]: Error(...)``.  Collect those lines."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @property
    def rate_limited(self) -> bool:
        return any("Rate limit" in line or "Too Many Requests" in line for line in self.lines)


class YahooSource:
    """Yahoo Finance through yfinance: one batched ``download`` per interval for every symbol of a run.

    ``download`` is ``yfinance.download`` unless a test passes its own; ``sleep`` waits between retries.  An
    empty frame or a missing column means no data; any exception means no data for the symbols of that call.
    """

    _lock = threading.Lock()  # the yfinance logger is shared: one download at a time reads its errors

    def __init__(self, download: Callable[..., pd.DataFrame] | None = None, retries: int = 3,
                 backoff_sec: float = 2.0, sleep: Callable[[float], Any] | None = None,
                 cache_dir: str | os.PathLike | None = None):
        self._download = download
        self.cache_dir = cache_dir
        self.retries = retries
        self.backoff_sec = backoff_sec
        self.sleep = sleep or threading.Event().wait

    def download(self) -> Callable[..., pd.DataFrame]:
        if self._download is None:
            import yfinance  # 1 s to import; only the Yahoo source needs it

            if self.cache_dir is not None:  # its cookie and time-zone caches beside our data, not in $HOME
                yfinance.set_tz_cache_location(str(self.cache_dir))  # all its caches, despite the name
            self._download = yfinance.download
        return self._download

    def fetch(self, symbols: Mapping[str, str], interval: str) -> dict[str, pd.DataFrame]:
        wanted = dict(symbols)
        out: dict[str, pd.DataFrame] = {}
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_sec * 2 ** (attempt - 1)
                log.warning("Yahoo rate limit: retrying %d symbol(s) in %.0f s", len(wanted), delay)
                self.sleep(delay)
            got, rate_limited = self._fetch_once(wanted, interval)
            out.update(got)
            wanted = {leg: yahoo for leg, yahoo in wanted.items() if leg not in got}
            if not wanted or not rate_limited:
                break
        return out

    def _fetch_once(self, symbols: Mapping[str, str], interval: str) -> tuple[dict[str, pd.DataFrame], bool]:
        """(bars per leg symbol, whether Yahoo rate-limited any of them)."""
        yahoo_names = sorted(set(symbols.values()))
        if not yahoo_names:
            return {}, False
        errors = _YahooErrors()
        yf_log = logging.getLogger("yfinance")
        with self._lock:
            yf_log.addHandler(errors)
            try:
                frame = self.download()(yahoo_names, period=YAHOO_PERIOD[interval], interval=interval,
                                        group_by="column", auto_adjust=False, progress=False, threads=True,
                                        multi_level_index=True)
            except Exception as exc:  # noqa: BLE001 - a failed download is "no data", the run goes on
                if type(exc).__name__ == "YFRateLimitError":
                    return {}, True
                log.warning("Yahoo download of %s failed: %s", ", ".join(yahoo_names), exc)
                return {}, False
            finally:
                yf_log.removeHandler(errors)
        got = {}
        for leg, yahoo in symbols.items():
            bars = normalize_bars(_one_symbol(frame, yahoo), interval)
            if not bars.empty:
                got[leg] = bars
        return got, errors.rate_limited


def _one_symbol(frame: pd.DataFrame | None, yahoo: str) -> pd.DataFrame | None:
    """The ``(Price, Ticker)`` columns of one ticker from ``download``'s result, or None."""
    if frame is None or frame.empty:
        return None
    if isinstance(frame.columns, pd.MultiIndex):
        for level in range(frame.columns.nlevels):
            if yahoo in frame.columns.get_level_values(level):
                return frame.xs(yahoo, axis=1, level=level)
        return None
    return frame  # a single ticker without the multi-level index


def make_price_source(spec: str, base_dir: str | os.PathLike | None = None,
                      cache_dir: str | os.PathLike | None = None) -> PriceSource:
    """``yahoo`` or ``csv:PATH`` (``[SMA] PRICE_SOURCE``); a relative PATH is relative to ``base_dir`` or cwd.

    ``cache_dir``: where yfinance keeps its caches (the server passes ``DATA_DIR/yfinance``).
    """
    text = (spec or "yahoo").strip()
    if text.lower() == "yahoo":
        return YahooSource(cache_dir=cache_dir)
    if text.lower().startswith("csv:"):
        folder = Path(text[4:].strip()).expanduser()
        if not folder.is_absolute() and base_dir is not None:
            folder = Path(base_dir) / folder
        if not folder.is_dir():
            raise ConfigError(f"[SMA] PRICE_SOURCE names the folder {str(folder)!r}, which does not exist")
        return CsvFolderSource(folder)
    raise ConfigError(f"[SMA] PRICE_SOURCE must be 'yahoo' or 'csv:PATH', not {spec!r}")


# ---------------------------------------------------------------------------------------------------------------
# Stored bars


def changed_bars(symbol: str, interval: str, bars: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``bars`` that are new or differ from the stored ones (read on the calling thread).

    A run re-fetches a year of daily bars, but usually only the latest bar changed: writing just the difference
    keeps the writer's transactions small, while a revised history (a split) is still written in full.
    """
    stored = load_bars(symbol, interval)
    fresh = bars.reindex(columns=list(BAR_COLUMNS))
    known = stored.reindex(fresh.index)
    same = ((fresh.fillna(-1.0) - known.fillna(-1.0)).abs() < 1e-9).all(axis=1) & known["Close"].notna()
    rows = []
    for values in fresh[~same].itertuples():
        rows.append({"symbol": symbol, "interval": interval, "time": values.Index.to_pydatetime(),
                     "open": _finite(values.Open), "high": _finite(values.High), "low": _finite(values.Low),
                     "close": float(values.Close), "volume": _finite(values.Volume)})
    return rows


def store_bars_tx(rows: list[dict[str, Any]]) -> int:
    """Insert or refresh bars (run through the writer); returns how many rows were written."""
    for start in range(0, len(rows), 500):
        (PriceBar.insert_many(rows[start:start + 500])
         .on_conflict(conflict_target=[PriceBar.symbol, PriceBar.interval, PriceBar.time],
                      preserve=[PriceBar.open, PriceBar.high, PriceBar.low, PriceBar.close, PriceBar.volume])
         .execute())
    return len(rows)


def prune_intraday_tx(keep_days: int = INTRADAY_KEEP_DAYS) -> int:
    """Drop 5-minute bars more than ``keep_days`` older than the newest one (only the latest price is used);
    daily bars are all kept.  Measured from the data, not the clock, so replayed or fixture prices stay."""
    newest = PriceBar.select(fn.MAX(PriceBar.time)).where(PriceBar.interval == INTRADAY).scalar()
    if newest is None:
        return 0
    if isinstance(newest, str):  # SQLite hands an aggregate back as text
        newest = dt.datetime.fromisoformat(newest)
    before = newest - dt.timedelta(days=keep_days)
    return PriceBar.delete().where((PriceBar.interval == INTRADAY) & (PriceBar.time < before)).execute()


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def load_bars(symbol: str, interval: str) -> pd.DataFrame:
    """Stored bars of one symbol, oldest first, in the shape the sources return."""
    rows = list(PriceBar.select(PriceBar.time, PriceBar.open, PriceBar.high, PriceBar.low, PriceBar.close,
                                PriceBar.volume)
                .where((PriceBar.symbol == symbol) & (PriceBar.interval == interval))
                .order_by(PriceBar.time).tuples())
    return pd.DataFrame([r[1:] for r in rows], columns=list(BAR_COLUMNS), dtype="float64",
                        index=pd.DatetimeIndex([r[0] for r in rows], name="time"))


def load_closes(symbol: str, interval: str) -> pd.Series:
    """Stored closes of one symbol, oldest first, indexed by time."""
    rows = list(PriceBar.select(PriceBar.time, PriceBar.close)
                .where((PriceBar.symbol == symbol) & (PriceBar.interval == interval))
                .order_by(PriceBar.time).tuples())
    return pd.Series([r[1] for r in rows], index=pd.DatetimeIndex([r[0] for r in rows], name="time"),
                     dtype="float64", name=symbol)
