"""JSON shapes: rows as the wire shows them, in the key order of SPEC Part 2."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

import peewee
from peewee import Model

from pairs.db.models import Account, Pair, Signal, Ticker

SIGNAL_KEYS = (
    "rowid", "timestamp", "ticker", "order_action", "order_contracts", "order_price", "mar_pos", "mar_pos_size",
    "pre_mar_pos", "pre_mar_pos_size", "order_comment", "order_status", "ticker_type", "ticker1", "ticker2",
    "hedge_param", "order_id1", "order_id2", "price1", "price2", "fill_price", "slip", "error_msg", "status_msg",
)

TICKER_KEYS = ("symbol", "sectype", "xch", "prixch", "currency", "order_type", "active", "active_pos", "active_pnl",
               "active_cost")

PAIR_KEYS = ("name", "ticker1", "ticker2", "hedge", "status", "notes", "contracts", "act_price", "sma", "sma_dist",
             "std")

ACCOUNT_KEYS = ("rowid", "timestamp", "AvailableFunds", "BuyingPower", "DailyPnL", "GrossPositionValue",
                "MaintMarginReq", "NetLiquidation", "RealizedPnL", "UnrealizedPnL")


def format_timestamp(value: dt.datetime | None) -> str:
    """SPEC A.3: always ``YYYY-MM-DD HH:MM:SS``; a NULL left by the original reads ``"None"`` as it did there."""
    if value is None:
        return "None"
    if isinstance(value, str):  # a row written by another program in a format peewee did not parse
        return value[:19]
    return value.strftime("%Y-%m-%d %H:%M:%S")


@functools.cache
def _float_columns(model: type[Model]) -> frozenset[str]:
    return frozenset(name for name, field in model._meta.fields.items() if isinstance(field, peewee.FloatField))


def row_json(row: Model, keys: Iterable[str]) -> dict[str, Any]:
    """A row as the original shows it: a float column is a JSON float (``0.0``) even when the value in memory is
    a parser default such as the integer ``0`` (the original answered from the row reloaded after the commit)."""
    floats = _float_columns(type(row))
    out: dict[str, Any] = {}
    for key in keys:
        value = getattr(row, key)
        if key == "timestamp":
            value = format_timestamp(value)
        elif type(value) is int and key in floats:
            value = float(value)
        out[key] = value
    return out


def signal_json(row: Signal, with_timestamp: bool = True) -> dict[str, Any]:
    keys = SIGNAL_KEYS if with_timestamp else tuple(k for k in SIGNAL_KEYS if k != "timestamp")
    return row_json(row, keys)


def ticker_json(row: Ticker) -> dict[str, Any]:
    return row_json(row, TICKER_KEYS)


def pair_json(row: Pair) -> dict[str, Any]:
    """The original keys in their order, then the statistics of the price job (null until computed)."""
    out = row_json(row, PAIR_KEYS)
    out["zscore"] = row.zscore
    out["hedge_ols"] = row.hedge_ols
    out["coint_pvalue"] = row.coint_pvalue
    out["stats_updated"] = None if row.stats_updated is None else format_timestamp(row.stats_updated)
    out["stale"] = bool(row.stale)
    out["half_life"] = row.half_life
    out["spread_adf_pvalue"] = row.spread_adf_pvalue
    out["corr"] = row.corr
    return out


def account_json(row: Account) -> dict[str, Any]:
    return row_json(row, ACCOUNT_KEYS)
