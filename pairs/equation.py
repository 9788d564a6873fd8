"""The webhook's ticker equation ("splitticker", SPEC §6.1) and the registration/status check (§6.2 with A.4).

Both are pure: the ticker and pair tables are reached through lookup functions the caller passes in, so the
§6.3/§6.4 tables are plain table-driven tests.  The original's quirks are kept on purpose (they are visible in
stored data and in its tests): a number anywhere in the first leg fails it, trailing digits of the second leg are
a hedge, every occurrence of the hedge's text is removed from the leg, more than two legs derive nothing.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any, Protocol

from pairs.vocab import OrderStatus, StatusMessage, is_tradable

NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+")


class TickerInfo(Protocol):
    """What the parser needs of a ``tickers`` row (a ``store.Ticker`` fits)."""

    sectype: str | None
    currency: str | None
    active: int | None


class PairInfo(Protocol):
    hedge: float | None
    status: int | None


TickerLookup = Callable[[str], "TickerInfo | None"]
PairLookup = Callable[[str], "PairInfo | None"]


@dataclasses.dataclass(frozen=True)
class Leg:
    symbol: str  # IB spelling, "" when the raw symbol is not a registered ticker
    raw: str  # the spelling the leg was looked up with (TradingView's, e.g. BF.A, BTCUSD)
    number: str | None  # the first number found in the leg's text
    ok: bool
    currency_mismatch: bool = False


@dataclasses.dataclass(frozen=True)
class Equation:
    """What parsing derived.  ``fields`` holds exactly the columns to overwrite (none for more than two legs)."""

    ok: bool
    fields: dict[str, Any]
    failure: str | None = None  # status_msg on failure
    registered_symbol1: str | None = None  # leg 1's spelling in the tickers table (A.4 status check)


def parse_leg(text: str, lookup: TickerLookup) -> Leg:
    """§6.1 step 2 for one side of the equation."""
    found = NUMBER.search(text)
    number = found.group(0) if found else None
    if number is not None:
        text = text.replace(number, "")
    raw = text.replace("*", "").rsplit(":", 1)[-1]
    ticker = lookup(raw)
    if ticker is None:
        return Leg("", raw, number, ok=False)
    if ticker.sectype == "CASH":
        symbol = raw[:3] + "." + raw[-3:]
        mismatch = raw[-3:] != ticker.currency
        return Leg(symbol, raw, number, ok=not mismatch, currency_mismatch=mismatch)
    if ticker.sectype == "CRYPTO":
        quote = raw[-3:]
        base = raw[:len(raw.replace(".", "")) - 3]
        mismatch = quote != ticker.currency
        return Leg(base + "." + quote, raw, number, ok=not mismatch, currency_mismatch=mismatch)
    if "." in raw:
        return Leg(raw.replace(".", " "), raw, number, ok=True)
    return Leg("".join(ch for ch in raw if ch.isalnum()), raw, number, ok=True)


def parse_equation(ticker: str, lookup: TickerLookup) -> Equation:
    """§6.1: ``NYSE:LNT-1.25*NYSE:FTS`` -> pair LNT/FTS with hedge 1.25, and every quirk of the original.

    ``fields['hedge_param']`` is a float (A.4: always a number); the original's text form ("1.25", or 1 when
    implicit) only ever reached the PUT answer, which A.4 turns into a number too.
    """
    parts = ticker.split("-")
    if len(parts) > 2:
        return Equation(False, {}, StatusMessage.PROBLEMATIC_TICKER)
    leg1 = parse_leg(parts[0], lookup)
    ok = leg1.ok and leg1.number is None
    mismatch = leg1.currency_mismatch
    fields: dict[str, Any] = {"ticker_type": "single", "ticker1": leg1.symbol}
    if len(parts) == 2:
        leg2 = parse_leg(parts[1], lookup)
        hedge = 1.0 if leg2.number is None else float(leg2.number)
        if not math.isfinite(hedge):  # a 400-digit "hedge": no number JSON could carry
            hedge, ok = None, False
        ok = ok and leg2.ok
        mismatch = mismatch or leg2.currency_mismatch
        fields.update(ticker_type="pair", ticker2=leg2.symbol, hedge_param=hedge)
    failure = None if ok else (StatusMessage.CURRENCY_MISMATCH if mismatch else StatusMessage.PROBLEMATIC_TICKER)
    return Equation(ok, fields, failure, leg1.raw if leg1.symbol else None)


@dataclasses.dataclass(frozen=True)
class StatusCheck:
    ok: bool
    order_status: str | None = None  # set on failure
    status_msg: str | None = None


def check_status(ticker_type: str | None, ticker1: str | None, ticker2: str | None, hedge_param: Any,
                 find_ticker: TickerLookup, find_pair: PairLookup,
                 registered_symbol1: str | None = None) -> StatusCheck:
    """§6.2 with A.4: is the signal's instrument registered and actively traded?

    A.4: a single ticker is also found under the spelling it was registered with (``BF.A`` for ``BF A``), and a
    ticker trades by the same rule as a pair (``vocab.is_tradable``): a watchlist ticker is as passive as a
    watchlist pair.
    """
    if ticker_type == "pair":
        pair = find_pair(f"{ticker1}-{ticker2}") if ticker1 is not None and ticker2 is not None else None
        if pair is None:
            return StatusCheck(False, OrderStatus.ERROR, StatusMessage.UNKNOWN_TICKER)
        if not is_tradable(pair.status):
            return StatusCheck(False, OrderStatus.CANCELED, StatusMessage.PASSIVE_TICKER)
        if hedge_param is None or pair.hedge is None or float(hedge_param) != float(pair.hedge):
            return StatusCheck(False, OrderStatus.CANCELED, StatusMessage.WRONG_HEDGE)
        return StatusCheck(True)
    found = find_ticker(ticker1) if ticker1 is not None else None
    if found is None and registered_symbol1:
        found = find_ticker(registered_symbol1)
    if found is None:
        return StatusCheck(False, OrderStatus.ERROR, StatusMessage.UNKNOWN_TICKER)
    if not is_tradable(found.active):
        return StatusCheck(False, OrderStatus.CANCELED, StatusMessage.PASSIVE_TICKER)
    return StatusCheck(True)
