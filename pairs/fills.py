"""Order updates from the broker bridge: cancel, partial cancel, fills -> fill price, slip, status (SPEC §6.5).

``apply_order_update`` is pure: it takes the signal's columns and one update message and returns the columns
after the update.  The caller runs it inside one writer transaction (read, apply, write), so two legs reported at
the same moment are serialized and neither price is lost (A.4).  Applying the same message twice gives the same
row as applying it once, which makes the bridge's all-day re-sends harmless.

The §6.6 sequences are reproduced exactly, including the original's comparison of the *current* message's
quantity with leg 2's expected quantity whichever leg reported (SPEC A.4 requires those outputs).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from pairs import messages
from pairs.errors import Rejected

FILLED = "filled"
LEG_FILLED = "filled(...)"
PART_FILLED = "part.filled"
CANCELED = "canceled"
MULTIPLE_ACTIVE_ORDERS = "multiple active orders"
NUMBER_TOO_LARGE = "the fill gives a price or quantity too large to store."


@dataclasses.dataclass(frozen=True)
class OrderUpdate:
    order_id: int
    symbol: str
    price: float
    filled_qty: float
    cancel: bool = False
    partial: bool = False
    order_contracts: int | None = None


def leg_matches(leg: str | None, symbol: str) -> bool:
    """Whether a fill for ``symbol`` is one of ``leg``: the same name, or, as the bridge names FX and crypto fills by
    IB's ``contract.symbol`` (the base currency), ``USD`` for the leg ``USD.CAD`` and ``BTC`` for ``BTC.USD``. Stock
    legs have no dot (``BF B``), so for them only the same name matches."""
    if not leg or not symbol:
        return False
    if leg == symbol:
        return True
    base, dot, _ = leg.partition(".")
    return bool(dot) and "." not in symbol and base == symbol


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise Rejected(NUMBER_TOO_LARGE)
    return value + 0.0  # -0.0 -> 0.0: "slip 0.0", never "-0.0"


def apply_order_update(row: Mapping[str, Any], update: OrderUpdate) -> dict[str, Any]:
    """The signal's columns after ``update`` (§6.5); raises Rejected for a partial without a quantity."""
    new = dict(row)
    if update.cancel:
        new.update(order_status=CANCELED, status_msg=MULTIPLE_ACTIVE_ORDERS)
        return new
    if update.partial:
        if not update.order_contracts:
            raise Rejected(messages.PARTIAL_WITHOUT_QTY)
        old = row.get("order_contracts") or 0
        if row.get("order_status") == PART_FILLED and old == update.order_contracts:
            return new  # this partial was applied already: a re-sent message changes nothing
        new.update(order_contracts=update.order_contracts, order_status=PART_FILLED,
                   status_msg=f"canceled amount: {old - update.order_contracts}")
        return new
    if row.get("order_status") == FILLED:
        return new
    contracts = row.get("order_contracts") or 0
    filled_qty = float(update.filled_qty)  # a float as in the original: "remained: 6.0"
    if row.get("order_id1") == update.order_id and leg_matches(row.get("ticker1"), update.symbol):
        new.update(price1=update.price, order_status=LEG_FILLED,
                   status_msg=f"remained({row.get('ticker1')}): {math.floor(contracts) - filled_qty}")
    if row.get("order_id2") == update.order_id and leg_matches(row.get("ticker2"), update.symbol):
        new.update(price2=update.price, order_status=LEG_FILLED)
    if new.get("ticker_type") == "pair":
        if new.get("price1") and new.get("price2"):  # 0.0 counts as not filled, as in the original
            hedge = new.get("hedge_param")
            hedge = 1.0 if hedge is None else hedge
            fill_price = round(_finite(new["price1"] - hedge * new["price2"]), 4)
            expected2 = math.floor(_finite(contracts * hedge))
            if expected2 > filled_qty:
                new.update(order_status=PART_FILLED,
                           status_msg=f"remained({new.get('ticker2')}): {expected2 - filled_qty}")
            else:
                new.update(order_status=FILLED, status_msg="")
            _set_fill(new, fill_price)
    elif new.get("price1"):
        fill_price = new["price1"]
        if contracts > filled_qty:
            new.update(order_status=PART_FILLED, status_msg=f"remained: {contracts - filled_qty}")
        else:
            new.update(order_status=FILLED, status_msg="")
        _set_fill(new, fill_price)
    return new


def _set_fill(new: dict[str, Any], fill_price: float) -> None:
    """fill_price, and slip when the signal has a price (otherwise slip stays as it is)."""
    new["fill_price"] = _finite(fill_price)
    if new.get("order_price") is not None:
        slip = round(_finite(new["order_price"] - fill_price), 4)
        new["slip"] = _finite(slip if new.get("order_action") == "buy" else -slip)
