"""Order updates from the broker bridge: cancel, partial cancel, fills -> fill price, slip, status (SPEC §6.5).

``apply_order_update`` is pure: it takes the signal's columns and one update message and returns the columns
after the update.  The caller runs it inside one writer transaction (read, apply, write), so two legs reported at
the same moment are serialized and neither price is lost (A.4).  A fill already applied changes nothing, in any
order: the bridge re-sends every cumulative fill all day, so a re-sent or older fill must leave the row as it is.

The §6.6 leg-1-first sequences are reproduced exactly. Unlike the original, a remainder is computed only from the
quantity of the leg it names (A.4): leg 1's quantity is never compared with leg 2's expectation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from pairs import messages
from pairs.errors import Rejected
from pairs.vocab import SINGLE_REMAINDER, OrderStatus, StatusMessage, canceled_amount, remainder_label

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
        new.update(order_status=OrderStatus.CANCELED, status_msg=StatusMessage.MULTIPLE_ACTIVE_ORDERS)
        return new
    if update.partial:
        if not update.order_contracts:
            raise Rejected(messages.PARTIAL_WITHOUT_QTY)
        old = row.get("order_contracts") or 0
        if row.get("order_status") == OrderStatus.PART_FILLED and old == update.order_contracts:
            return new  # this partial was applied already: a re-sent message changes nothing
        new.update(order_contracts=update.order_contracts, order_status=OrderStatus.PART_FILLED,
                   status_msg=canceled_amount(old - update.order_contracts))
        return new
    if row.get("order_status") == OrderStatus.FILLED:
        return new
    for leg in (1, 2):  # both are checked against the row as it was, as in the original
        if row.get(f"order_id{leg}") == update.order_id and leg_matches(row.get(f"ticker{leg}"), update.symbol):
            _record_fill(new, leg, update)
    return new


def slip_money(slip: float | None, contracts: float | None) -> float | None:
    """A fill's slip in money: the slip per unit times the contracts (None when either is unknown)."""
    if slip is None or contracts is None:
        return None
    return slip * contracts


def settles(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether an update filled the signal, wholly or partly with its remainder canceled, or moved such a fill
    (a later cumulative fill): the moments a trader wants to hear of.  A re-sent fill changes nothing: False."""
    return (after.get("order_status") in (OrderStatus.FILLED, OrderStatus.PART_FILLED) and after.get("fill_price") is not None
            and (after.get("order_status"), after.get("fill_price")) != (before.get("order_status"),
                                                                         before.get("fill_price")))


def expected_quantity(row: Mapping[str, Any], leg: int) -> int:
    """What the leg should fill: the signal's contracts for leg 1, ``floor(contracts * hedge)`` for leg 2."""
    contracts = row.get("order_contracts") or 0
    if leg == 1:
        return math.floor(contracts)
    return math.floor(_finite(contracts * hedge(row)))


def hedge(row: Mapping[str, Any]) -> float:
    """The signal's hedge ratio; none means 1 (§6.5)."""
    value = row.get("hedge_param")
    return 1.0 if value is None else value


def _shown_remainder(row: Mapping[str, Any], label: str) -> float | None:
    """The remainder that ``status_msg`` shows under ``label`` (``remained(B): ``), or None when it shows none."""
    text = row.get("status_msg")
    if not isinstance(text, str) or not text.startswith(label):
        return None
    try:
        return float(text[len(label):])
    except ValueError:
        return None


def _record_fill(new: dict[str, Any], leg: int, update: OrderUpdate) -> None:
    """One leg's cumulative fill. A remainder is only ever computed from the quantity of the leg it names: the
    row keeps no quantities, so ``status_msg`` is where leg 2's remainder waits for leg 1's price (A.4)."""
    pair = new.get("ticker_type") == "pair"
    label = remainder_label(new.get(f"ticker{leg}")) if pair else SINGLE_REMAINDER
    leg2_label = remainder_label(new.get("ticker2"))
    remainder = expected_quantity(new, leg) - float(update.filled_qty)  # a float as in the original: "6.0"
    shown = _shown_remainder(new, label)
    if shown is not None and remainder > shown:
        return  # an older cumulative fill of this leg than one already applied, re-sent late: it changes nothing
    new[f"price{leg}"] = update.price
    new["order_status"] = OrderStatus.LEG_FILLED
    if not (pair and leg == 1 and _shown_remainder(new, leg2_label) is not None):
        new["status_msg"] = f"{remainder_label(new.get(f'ticker{leg}'))}{remainder}"
    if pair:
        if new.get("price1") and new.get("price2"):  # 0.0 counts as not filled, as in the original
            _set_fill(new, round(_finite(new["price1"] - hedge(new) * new["price2"]), 4))
            _settle(new, leg2_label, _shown_remainder(new, leg2_label))
    elif new.get("price1"):
        _set_fill(new, new["price1"])
        _settle(new, SINGLE_REMAINDER, remainder)


def _settle(new: dict[str, Any], label: str, remainder: float | None) -> None:
    """part.filled while the deciding leg has a remainder, else filled; unknown (None): stays filled(...)."""
    if remainder is None:
        return
    if remainder > 0:
        new.update(order_status=OrderStatus.PART_FILLED, status_msg=f"{label}{remainder}")
    else:
        new.update(order_status=OrderStatus.FILLED, status_msg=StatusMessage.NONE)


def buys(action: Any) -> bool:
    """Whether an order buys: ``order_action`` is free text and only an exact ``buy`` is special (SPEC §6.5)."""
    return action == "buy"


def _set_fill(new: dict[str, Any], fill_price: float) -> None:
    """fill_price, and slip when the signal has a price (otherwise slip stays as it is)."""
    new["fill_price"] = _finite(fill_price)
    if new.get("order_price") is not None:
        slip = round(_finite(new["order_price"] - fill_price), 4)
        new["slip"] = _finite(slip if buys(new.get("order_action")) else -slip)
