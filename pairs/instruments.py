"""Tickers, pairs and account PNL records: their rules (SPEC §5.6–5.9).

Functions named ``*_tx`` change rows: run them through ``Store.write`` so that each check and its write are one
serialized step (no two concurrent creates of the same name, no activation racing another).
"""

from __future__ import annotations

from typing import Any

import peewee

from pairs import messages
from pairs.db import Account, Pair, Ticker, utcnow
from pairs.errors import NotFound, Rejected
from pairs.vocab import is_tradable, tradable

TICKER_DESCRIPTIVE = ("sectype", "xch", "prixch", "currency", "order_type", "active")
TICKER_PNL = ("active_pos", "active_pnl", "active_cost")
PAIR_COMPUTED = ("act_price", "sma", "sma_dist", "std")
ACCOUNT_VALUES = ("AvailableFunds", "BuyingPower", "DailyPnL", "GrossPositionValue", "MaintMarginReq",
                  "NetLiquidation", "RealizedPnL", "UnrealizedPnL")


def newest_first(query: peewee.ModelSelect, model: type[peewee.Model], limit: int) -> list:
    """rowid descending; ``limit`` 0 means all (SPEC §2.7)."""
    query = query.order_by(model.rowid.desc())
    return list(query.limit(limit) if limit else query)


# ---------------------------------------------------------------------------------------------------------------
# Mutual exclusion (SPEC §5.8): a symbol is not active as a single ticker and in an active pair at once.


def ticker_in_active_pair(symbol: str) -> bool:
    return Pair.select().where(tradable(Pair.status) & ((Pair.ticker1 == symbol) | (Pair.ticker2 == symbol))).exists()


def any_ticker_active(*symbols: str) -> bool:
    return Ticker.select().where(tradable(Ticker.active) & Ticker.symbol.in_(symbols)).exists()


# ---------------------------------------------------------------------------------------------------------------
# Tickers


def find_ticker(symbol: str) -> Ticker | None:
    return Ticker.get_or_none(Ticker.symbol == symbol)


def create_ticker_tx(values: dict[str, Any]) -> None:
    if find_ticker(values["symbol"]):
        raise Rejected(messages.TICKER_EXISTS)
    if is_tradable(values["active"]) and ticker_in_active_pair(values["symbol"]):
        raise Rejected(messages.TICKER_ACTIVE_IN_PAIR)
    fields = ("symbol", *TICKER_DESCRIPTIVE, *TICKER_PNL)
    Ticker.create(**{k: values[k] for k in fields})


def put_ticker_tx(values: dict[str, Any]) -> Ticker | None:
    """Update (returns the stored ticker) or create (returns None), as PUT /v4/ticker does."""
    if is_tradable(values["active"]) and ticker_in_active_pair(values["symbol"]):
        raise Rejected(messages.TICKER_ACTIVE_IN_PAIR)
    ticker = find_ticker(values["symbol"])
    if ticker is None:
        create_ticker_tx(values)
        return None
    for key in TICKER_DESCRIPTIVE:
        setattr(ticker, key, values[key])
    if values["update_pnl"]:
        for key in TICKER_PNL:
            setattr(ticker, key, values[key])
    ticker.save()
    return ticker


def set_ticker_pnl_tx(symbol: str, values: dict[str, Any]) -> Ticker:
    ticker = find_ticker(symbol)
    if ticker is None:
        raise NotFound()
    for key in TICKER_PNL:
        setattr(ticker, key, values.get(key))
    ticker.save()
    return ticker


def delete_ticker_tx(symbol: str) -> None:
    if not Ticker.delete().where(Ticker.symbol == symbol).execute():
        raise NotFound()


# ---------------------------------------------------------------------------------------------------------------
# Pairs


def pair_name(ticker1: str, ticker2: str) -> str:
    return f"{ticker1}-{ticker2}"


def find_pair(name: str) -> Pair | None:
    return Pair.get_or_none(Pair.name == name)


def create_pair_tx(values: dict[str, Any]) -> None:
    t1, t2 = values["ticker1"], values["ticker2"]
    if is_tradable(values["status"]) and any_ticker_active(t1, t2):
        raise Rejected(messages.PAIR_TICKER_ACTIVE)
    if "-" in t1 or "-" in t2:
        raise Rejected(messages.PROBLEMATIC_TICKER)
    name = pair_name(t1, t2)
    if find_pair(name):
        raise Rejected(messages.PAIR_EXISTS)
    Pair.create(name=name, ticker1=t1, ticker2=t2, hedge=values["hedge"], status=values["status"],
                notes=values["notes"], contracts=values["contracts"],
                **{k: values[k] if values[k] is not None else 0.0 for k in PAIR_COMPUTED})


def update_pair_tx(values: dict[str, Any]) -> Pair:
    """PUT /v4/pair: full replacement, except that omitted computed fields keep their stored values (A.4)."""
    if is_tradable(values["status"]) and any_ticker_active(values["ticker1"], values["ticker2"]):
        raise Rejected(messages.PAIR_TICKER_ACTIVE)
    pair = find_pair(values["name"]) if values.get("name") is not None else None
    if pair is None:
        raise NotFound()
    # the stored legs are the name's, not the body's tickers (which PUT never writes): a body with decoy tickers
    # must not activate a pair whose own leg is an active ticker
    if is_tradable(values["status"]) and any_ticker_active(pair.ticker1, pair.ticker2):
        raise Rejected(messages.PAIR_TICKER_ACTIVE)
    for key in ("hedge", "status", "notes", "contracts"):
        setattr(pair, key, values[key])
    for key in PAIR_COMPUTED:
        if values.get(key) is not None:
            setattr(pair, key, values[key])
    pair.save()
    return pair


def delete_pair_tx(name: str) -> None:
    if not Pair.delete().where(Pair.name == name).execute():
        raise NotFound()


# ---------------------------------------------------------------------------------------------------------------
# Account PNL records


def find_account(rowid: Any) -> Account | None:
    number = parse_rowid(rowid)
    return None if number is None else Account.get_or_none(Account.rowid == number)


def newest_account() -> Account | None:
    return Account.select().order_by(Account.rowid.desc()).first()


def create_account_tx(values: dict[str, Any]) -> Account:
    return Account.create(timestamp=values.get("timestamp") or utcnow(),
                          **{k: values[k] for k in ACCOUNT_VALUES})


def replace_account_tx(values: dict[str, Any]) -> Account:
    """PUT /v4/pnl: every column from the body; an omitted or null timestamp keeps the stored one (A.4).

    rowid 0 (or omitted), which no row has, means the newest record: the pairs-ibkr bridge updates "the most recent
    account PNL record" that way, with no rowid in its body.
    """
    row = newest_account() if values["rowid"] == 0 else find_account(values["rowid"])
    if row is None:
        raise NotFound()
    for key in ACCOUNT_VALUES:
        setattr(row, key, values[key])
    if values.get("timestamp") is not None:
        row.timestamp = values["timestamp"]
    row.save()
    return row


def delete_account_tx(rowid: Any) -> None:
    number = parse_rowid(rowid)
    if number is None or not Account.delete().where(Account.rowid == number).execute():
        raise NotFound()


def parse_rowid(value: Any) -> int | None:
    """A path's rowid: digits within the INTEGER range, else None (answered 404, never a database error)."""
    text = str(value).strip()
    # isascii: "²" is a digit to isdigit() but not to int()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > 2**31 - 1:
        return None
    return int(text)

