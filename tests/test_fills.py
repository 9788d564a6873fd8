"""SPEC §6.5 and every §6.6 sequence, step by step, on the pure fill function; A.4 idempotence."""

from __future__ import annotations

from typing import Any

import pytest

from pairs.errors import Rejected
from pairs.fills import OrderUpdate, apply_order_update, leg_matches, slip_money


def pair_signal(action: str = "buy", order_price: float | None = 1, contracts: int = 100, hedge: float = 3,
                ticker1: str = "A", ticker2: str = "B") -> dict[str, Any]:
    """Setup A: signal ``A-3*B`` after the bridge's PUT set order ids 100 and 101."""
    return {"ticker": f"{ticker1}-{hedge}*{ticker2}", "order_action": action, "order_contracts": contracts,
            "order_price": order_price, "order_status": "waiting", "ticker_type": "pair", "ticker1": ticker1,
            "ticker2": ticker2, "hedge_param": float(hedge), "order_id1": 100, "order_id2": 101, "price1": None,
            "price2": None, "fill_price": None, "slip": None, "status_msg": None}


def single_signal(action: str = "buy", order_price: float | None = 1, contracts: int = 100,
                  ticker1: str = "A") -> dict[str, Any]:
    return {"ticker": ticker1, "order_action": action, "order_contracts": contracts, "order_price": order_price,
            "order_status": "waiting", "ticker_type": "single", "ticker1": ticker1, "ticker2": None,
            "hedge_param": None, "order_id1": 100, "order_id2": None, "price1": None, "price2": None,
            "fill_price": None, "slip": None, "status_msg": None}


def fill(symbol: str, order_id: int, price: float, qty: float, **flags: Any) -> OrderUpdate:
    return OrderUpdate(order_id, symbol, price, qty, **flags)


KEYS = ("order_status", "status_msg", "price1", "price2", "fill_price", "slip")


def run(row: dict[str, Any], steps: list[tuple[OrderUpdate, tuple]]) -> dict[str, Any]:
    """Apply each update; after each, compare (status, status_msg, price1, price2, fill_price, slip)."""
    for number, (update, expected) in enumerate(steps, 1):
        row = apply_order_update(row, update)
        assert tuple(row[k] for k in KEYS) == expected, f"step {number}: {update}"
        assert apply_order_update(row, update) == row, f"step {number} applied twice differs (A.4)"
    return row


def test_table_6_6_rows_1_to_4() -> None:
    run(pair_signal(), [
        (fill("A", 100, 41.45, 90), ("filled(...)", "remained(A): 10.0", 41.45, None, None, None)),
        (fill("B", 101, 15.05, 270), ("part.filled", "remained(B): 30.0", 41.45, 15.05, -3.7, 4.7)),
        (fill("B", 101, 15.05, 300), ("filled", "", 41.45, 15.05, -3.7, 4.7)),
        (fill("B", 101, 99, 300), ("filled", "", 41.45, 15.05, -3.7, 4.7)),  # after filled: no change
    ])


def test_leg_2_first_variant() -> None:
    """A.4: leg 2's remainder comes from leg 2's quantity only (the original showed remained(B): 210.0, then
    200.0: leg 1's 90 and 100 compared with leg 2's 300)."""
    run(pair_signal(), [
        (fill("B", 101, 15.05, 270), ("filled(...)", "remained(B): 30.0", None, 15.05, None, None)),
        (fill("A", 100, 41.45, 90), ("part.filled", "remained(B): 30.0", 41.45, 15.05, -3.7, 4.7)),
        (fill("A", 100, 41.45, 100), ("part.filled", "remained(B): 30.0", 41.45, 15.05, -3.7, 4.7)),
        (fill("B", 101, 15.05, 300), ("filled", "", 41.45, 15.05, -3.7, 4.7)),
    ])


# Issue 9 item 20: a fill already applied changes nothing, whatever came between; each row is one order of the
# same fills, and the expected columns are those of leg 1 then leg 2 (§6.6 rows 1-2), worked out by hand.
LEG1_90, LEG1_100 = fill("A", 100, 41.45, 90), fill("A", 100, 41.45, 100)
LEG2_270, LEG2_300 = fill("B", 101, 15.05, 270), fill("B", 101, 15.05, 300)
PART_FILLED_30 = ("part.filled", "remained(B): 30.0", 41.45, 15.05, -3.7, 4.7)
FILLED = ("filled", "", 41.45, 15.05, -3.7, 4.7)


@pytest.mark.parametrize("sequence, expected", [
    ([LEG1_90, LEG2_270, LEG1_90], PART_FILLED_30),  # the sequence: leg 1 again after leg 2
    ([LEG1_90, LEG2_270, LEG1_90, LEG2_270, LEG1_90], PART_FILLED_30),
    ([LEG2_270, LEG1_90, LEG2_270, LEG1_90], PART_FILLED_30),
    ([LEG1_90, LEG2_270, LEG1_100], PART_FILLED_30),  # leg 1 complete: leg 2 still lacks 30
    ([LEG1_100, LEG1_90, LEG2_270], PART_FILLED_30),  # leg 1's older fill, re-sent late
    ([LEG2_300, LEG2_270, LEG1_90], FILLED),  # leg 2's older fill, re-sent late, before leg 1
    ([LEG2_300, LEG1_90], FILLED),
    ([LEG1_90, LEG2_300, LEG2_270, LEG1_100], FILLED),
])
def test_a_fill_already_applied_changes_nothing(sequence: list[OrderUpdate], expected: tuple) -> None:
    row = pair_signal()
    for update in sequence:
        row = apply_order_update(row, update)
    assert tuple(row[k] for k in KEYS) == expected


@pytest.mark.parametrize("status_msg, shown", [
    ("remained(A): 10.0", "leg 1's"), (None, "no"), ("", "no"), ("remained(B): many", "an unreadable"),
])
def test_leg_1_after_leg_2_without_its_remainder_waits_for_leg_2(status_msg: str | None, shown: str) -> None:
    """Both prices, but the row shows no leg-2 remainder (a row the bridge rewrote with PUT /v4/webhook): leg 1's
    quantity decides nothing about leg 2, so the row stays filled(...) with leg 1's own remainder."""
    start = {**pair_signal(), "order_status": "created", "price2": 15.05, "status_msg": status_msg}
    row = apply_order_update(start, LEG1_90)
    assert tuple(row[k] for k in KEYS) == ("filled(...)", "remained(A): 10.0", 41.45, 15.05, -3.7, 4.7), shown


def test_single_older_fill_re_sent_late_changes_nothing() -> None:
    row = run(single_signal(), [(fill("A", 100, 2.5, 90), ("part.filled", "remained: 10.0", 2.5, None, 2.5, -1.5))])
    assert apply_order_update(row, fill("A", 100, 2.4, 80)) == row


def test_sell_pair_order_price_1() -> None:
    run(pair_signal(action="sell"), [
        (fill("A", 100, 3, 100), ("filled(...)", "remained(A): 0.0", 3, None, None, None)),
        (fill("B", 101, 1, 300), ("filled", "", 3, 1, 0.0, -1.0)),
    ])


def test_sell_pair_order_price_2() -> None:
    row = run(pair_signal(action="sell", order_price=2), [
        (fill("A", 100, 50, 100), ("filled(...)", "remained(A): 0.0", 50, None, None, None)),
        (fill("B", 101, 16, 300), ("filled", "", 50, 16, 2.0, 0.0)),
    ])
    assert str(row["slip"]) == "0.0"  # not "-0.0"


def test_single_buy() -> None:
    run(single_signal(), [
        (fill("A", 100, 2.5, 90), ("part.filled", "remained: 10.0", 2.5, None, 2.5, -1.5)),
        (fill("A", 100, 3, 100), ("filled", "", 3, None, 3, -2.0)),
    ])


def test_single_sell_order_price_100() -> None:
    run(single_signal(action="sell", order_price=100), [
        (fill("A", 100, 99, 100), ("filled", "", 99, None, 99, -1.0)),
    ])


def test_single_contracts_10_order_price_20() -> None:
    run(single_signal(contracts=10, order_price=20, ticker1="C"), [
        (fill("C", 100, 20.5, 4), ("part.filled", "remained: 6.0", 20.5, None, 20.5, -0.5)),
        (fill("C", 100, 20.25, 10), ("filled", "", 20.25, None, 20.25, -0.25)),
    ])


def test_single_sell_at_20_filled_at_20_5() -> None:
    run(single_signal(action="sell", contracts=10, order_price=20), [
        (fill("A", 100, 20.5, 10), ("filled", "", 20.5, None, 20.5, 0.5)),
    ])


def test_single_without_order_price_keeps_slip_null() -> None:
    run(single_signal(order_price=None), [
        (fill("A", 100, 20.5, 100), ("filled", "", 20.5, None, 20.5, None)),
    ])


@pytest.mark.parametrize("action, slip", [("buy", -1.0), ("sell", 1.0)])
def test_order_price_0_is_a_price_and_gets_a_slip(action: str, slip: float) -> None:
    """A pair's spread can be 0.0 when the alert fires: §6.5 computes slip whenever order_price is not null, so a
    truthiness test would leave it null (issue 14, survivor 3)."""
    run(pair_signal(action=action, order_price=0.0), [
        (fill("A", 100, 10, 100), ("filled(...)", "remained(A): 0.0", 10, None, None, None)),
        (fill("B", 101, 3, 300), ("filled", "", 10, 3, 1.0, slip)),
    ])


def test_zero_price_leg_never_computes_fill_price() -> None:
    run(pair_signal(), [
        (fill("A", 100, 0, 100), ("filled(...)", "remained(A): 0.0", 0, None, None, None)),
        (fill("B", 101, 2, 300), ("filled(...)", "remained(B): 0.0", 0, 2, None, None)),  # A.4: leg 2's own
    ])


@pytest.mark.parametrize("flag", [True])
def test_cancel(flag: bool) -> None:
    for start in (pair_signal(), {**pair_signal(), "order_status": "filled"}):
        row = apply_order_update(start, fill("A", 100, 1, 1, cancel=flag))
        assert (row["order_status"], row["status_msg"]) == ("canceled", "multiple active orders")


@pytest.mark.parametrize("contracts", [None, 0])
def test_partial_without_quantity_is_refused(contracts: int | None) -> None:
    with pytest.raises(Rejected, match="^missing contract amount to update partial fill$"):
        apply_order_update(pair_signal(), fill("A", 100, 1, 1, partial=True, order_contracts=contracts))


def test_partial_with_quantity() -> None:
    update = fill("A", 100, 1, 1, partial=True, order_contracts=50)
    row = apply_order_update(pair_signal(), update)
    assert (row["order_contracts"], row["order_status"], row["status_msg"]) == (50, "part.filled",
                                                                                "canceled amount: 50")
    assert apply_order_update(row, update) == row  # re-sent: not "canceled amount: 0" (A.4)


def test_symbol_of_leg_1_with_the_id_of_leg_2_changes_nothing() -> None:
    start = pair_signal()
    assert apply_order_update(start, fill("A", 101, 5, 5)) == start


def test_readme_example_nmfc_roic() -> None:
    start = pair_signal(order_price=0.98, contracts=603, hedge=0.75, ticker1="NMFC", ticker2="ROIC")
    run(start, [
        (fill("NMFC", 100, 12.6, 603), ("filled(...)", "remained(NMFC): 0.0", 12.6, None, None, None)),
        (fill("ROIC", 101, 15.55, 100), ("part.filled", "remained(ROIC): 352.0", 12.6, 15.55, 0.9375, 0.0425)),
        (fill("ROIC", 101, 15.55, 452.5), ("filled", "", 12.6, 15.55, 0.9375, 0.0425)),
    ])


def test_fill_too_large_for_a_number_is_refused_without_change() -> None:
    row = apply_order_update(pair_signal(hedge=1e308), fill("A", 100, 1e308, 1))
    with pytest.raises(Rejected, match=r"^the fill gives a price or quantity too large to store\.$"):
        apply_order_update(row, fill("B", 101, -1e308, 1))


# Edges that `make mutate` found untested: each row pins one rule's boundary.
def test_no_contracts_count_as_0() -> None:
    run(pair_signal(contracts=None), [
        (fill("A", 100, 10, 0), ("filled(...)", "remained(A): 0.0", 10, None, None, None)),
        (fill("B", 101, 3, 0), ("filled", "", 10, 3, 1.0, 0.0)),
    ])


def test_no_hedge_counts_as_1() -> None:
    run({**pair_signal(contracts=10), "hedge_param": None}, [
        (fill("B", 101, 3, 4), ("filled(...)", "remained(B): 6.0", None, 3, None, None)),
        (fill("A", 100, 10, 10), ("part.filled", "remained(B): 6.0", 10, 3, 7.0, -6.0)),
    ])


def test_fill_price_and_slip_have_4_decimals() -> None:
    run(pair_signal(hedge=1, order_price=1), [
        (fill("A", 100, 10.00003, 100), ("filled(...)", "remained(A): 0.0", 10.00003, None, None, None)),
        (fill("B", 101, 5, 100), ("filled", "", 10.00003, 5, 5.0, -4.0)),
    ])
    run(single_signal(order_price=1), [(fill("A", 100, 2.00003, 100), ("filled", "", 2.00003, None, 2.00003,
                                                                       -1.0))])


def test_half_a_contract_left_is_part_filled() -> None:
    run(single_signal(contracts=10), [(fill("A", 100, 2, 9.5), ("part.filled", "remained: 0.5", 2, None, 2, -1.0))])


def test_partial_on_a_row_without_contracts_and_on_a_part_filled_row() -> None:
    update = fill("A", 100, 1, 1, partial=True, order_contracts=50)
    row = apply_order_update({**pair_signal(), "order_contracts": None}, update)
    assert (row["order_contracts"], row["status_msg"]) == (50, "canceled amount: -50")
    part_filled = apply_order_update(single_signal(), fill("A", 100, 2.5, 90))
    assert part_filled["order_status"] == "part.filled"
    row = apply_order_update(part_filled, update)
    assert (row["order_contracts"], row["status_msg"]) == (50, "canceled amount: 50")


@pytest.mark.parametrize("leg, symbol, matches", [
    ("LNT", "LNT", True),
    ("BF B", "BF B", True),  # class shares: IB's symbol is the leg
    ("USD.CAD", "USD.CAD", True),
    ("USD.CAD", "USD", True),  # the bridge's FX fill: contract.symbol is the base currency
    ("BTC.USD", "BTC", True),  # crypto the same
    ("USD.CAD", "CAD", False),  # the quote currency is not the contract
    ("USD.CAD", "usd", False),
    ("USD.CAD", "US", False),
    ("USD.CAD", "USD.JPY", False),
    ("USD", "USD.CAD", False),
    ("BF B", "BF", False),  # a stock leg matches only its own name
    ("ETH.USD.P", "ETH", True),  # the base is what comes before the first dot
    ("LNT", "", False),
    (None, "LNT", False),
    ("", "", False),
])
def test_leg_matches(leg, symbol, matches) -> None:
    assert leg_matches(leg, symbol) is matches


def test_fx_pair_filled_by_the_bridges_base_currency_symbols() -> None:
    """USD.CAD-EUR.USD: the bridge reports the legs as "USD" and "EUR" (IB's contract.symbol)."""
    start = pair_signal(order_price=0.5, contracts=10, hedge=1, ticker1="USD.CAD", ticker2="EUR.USD")
    run(start, [
        (fill("USD", 100, 1.37, 10), ("filled(...)", "remained(USD.CAD): 0.0", 1.37, None, None, None)),
        (fill("CAD", 101, 9, 10), ("filled(...)", "remained(USD.CAD): 0.0", 1.37, None, None, None)),  # no leg
        (fill("EUR", 101, 1.05, 10), ("filled", "", 1.37, 1.05, 0.32, 0.18)),
    ])


@pytest.mark.parametrize(("slip", "contracts", "money"), [(-0.2, 10, -2.0), (0.05, 300, 15.0), (0.0, 10, 0.0)])
def test_slip_in_money_is_slip_times_contracts(slip, contracts, money):
    assert slip_money(slip, contracts) == pytest.approx(money)


def test_slip_in_money_is_unknown_without_a_slip_or_contracts():
    assert slip_money(None, 10) is None and slip_money(0.1, None) is None
