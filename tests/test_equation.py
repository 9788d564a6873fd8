"""SPEC §6.3 (parsing) and §6.2 with A.4 (status check), row for row."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pairs.equation import check_status, parse_equation

UNCHANGED = object()


def ticker(sectype: str = "STK", currency: str = "USD", active: int | None = 1) -> SimpleNamespace:
    return SimpleNamespace(sectype=sectype, currency=currency, active=active)


# The fixture of the original model test (§6.3).
TICKERS = {
    "LNT": ticker(), "FTS": ticker(), "BF.A": ticker(), "BF.B": ticker(),
    "USD.CAD": ticker("CASH", "CAD"), "EUR.USD": ticker("CASH", "USD"), "EUR.JPY": ticker("CASH", "EUR"),
    "BTCUSD": ticker("CRYPTO"), "SHIBUSD": ticker("CRYPTO"), "RRPUSD": ticker("CRYPTO", "BTC"),
}
# The extra tickers of the "additional observed cases".
EXTRA = {**TICKERS, "USDCAD": ticker("CASH", "CAD"), "BTC.USD": ticker("CRYPTO"), "ETH.USD": ticker("CRYPTO"),
         "BRK.B": ticker(), "SPY": ticker()}

P, E = "problematic ticker!", "currency mismatch!"

# ticker, ok, ticker_type, ticker1, ticker2, hedge_param, status_msg on failure  (None = not derived)
TABLE_6_3 = [
    ("NYSE:LNT", True, "single", "LNT", None, None, None),
    ("NYSE:BF.A", True, "single", "BF A", None, None, None),
    ("NYSE:LNT-NYSE:FTS*2.2", True, "pair", "LNT", "FTS", "2.2", None),
    ("NYSE:LNT-1.25*NYSE:FTS", True, "pair", "LNT", "FTS", "1.25", None),
    ("LNT-1.25*NYSE:FTS", True, "pair", "LNT", "FTS", "1.25", None),
    ("NYSE:LNT-NYSE:FTS", True, "pair", "LNT", "FTS", 1, None),
    ("BF.A-0.7*NYSE:BF.B", True, "pair", "BF A", "BF B", "0.7", None),
    ("0.7*NYSE:BF.A", False, "single", "BF A", None, None, P),
    ("NYSE:LNT*2-NYSE:FTS", False, "pair", "LNT", "FTS", 1, P),
    ("NYSE:LNT-NYSE:FTS/3", False, "pair", "LNT", "", "3", P),
    ("1.3*NYSE:LNT-NYSE:FTS*2.2", False, "pair", "LNT", "FTS", "2.2", P),
    ("LNT.#-3*FTS", False, "pair", "", "FTS", "3", P),
    ("LNT-3*FTS-2*FTS", False, UNCHANGED, UNCHANGED, UNCHANGED, UNCHANGED, P),
    ("USD.CAD", True, "single", "USD.CAD", None, None, None),
    ("USD.CAD-EUR.USD", True, "pair", "USD.CAD", "EUR.USD", 1, None),
    ("USDCAD", False, "single", "", None, None, P),
    ("EUR.JPY", False, "single", "EUR.JPY", None, None, E),
    ("USDJPY-USD.CAD", False, "pair", "", "USD.CAD", 1, P),
    ("USDJPY-EUR.JPY", False, "pair", "", "EUR.JPY", 1, E),
    ("BTCUSD", True, "single", "BTC.USD", None, None, None),
    ("BTCUSD-SHIBUSD", True, "pair", "BTC.USD", "SHIB.USD", 1, None),
    ("RRPUSD", False, "single", "RRP.USD", None, None, E),
    ("BTCUSD-RPEUR", False, "pair", "BTC.USD", "", 1, P),
    ("BTCUSD-RRPUSD", False, "pair", "BTC.USD", "RRP.USD", 1, E),
]

TABLE_6_3_EXTRA = [
    ("USDCAD", True, "single", "USD.CAD", None, None, None),
    ("FX:USDCAD", True, "single", "USD.CAD", None, None, None),
    ("BTC.USD", True, "single", "BTC.USD", None, None, None),
    ("ETH.USD-0.5*BTC.USD", True, "pair", "ETH.USD", "BTC.USD", "0.5", None),
    ("NYSE:LNT-0*NYSE:FTS", True, "pair", "LNT", "FTS", "0", None),
    ("LNT-FTS", True, "pair", "LNT", "FTS", 1, None),
    ("LNT-1*FTS", True, "pair", "LNT", "FTS", "1", None),
    ("LNT-1.0*FTS", True, "pair", "LNT", "FTS", "1.0", None),
    ("LNT-.5*FTS", True, "pair", "LNT", "FTS", ".5", None),
    ("LNT-2.5FTS", True, "pair", "LNT", "FTS", "2.5", None),
    ("LNT-FTS2", True, "pair", "LNT", "FTS", "2", None),
    # §6.1 quirk: every occurrence of the hedge's text leaves the leg, not only the first (issue 14, survivor 4)
    ("LNT-2*FTS2", True, "pair", "LNT", "FTS", "2", None),
    ("LNT-1.5*FTS1.5", True, "pair", "LNT", "FTS", "1.5", None),
    ("LNT-3*3FTS", True, "pair", "LNT", "FTS", "3", None),
    ("BRK.B", True, "single", "BRK B", None, None, None),
    ("BRK.B-1.5*LNT", True, "pair", "BRK B", "LNT", "1.5", None),
    ("spy", False, "single", "", None, None, P),
    ("LNT-", False, "pair", "LNT", "", 1, P),
    ("-LNT", False, "pair", "", "LNT", 1, P),
    ("", False, "single", "", None, None, P),
    ("LNT - 1.5*FTS", False, "pair", "", "", "1.5", P),
    ("LNT-1.5*FTS*2", False, "pair", "LNT", "", "1.5", P),
    ("LNT-FTS*+2", False, "pair", "LNT", "", "2", P),
    ("LNT-1e3*FTS", False, "pair", "LNT", "", "1", P),
    ("AMEX:SPY", True, "single", "SPY", None, None, None),
]


def check_row(tickers: dict, row: tuple) -> None:
    text, ok, ticker_type, ticker1, ticker2, hedge, failure = row
    parsed = parse_equation(text, tickers.get)
    assert parsed.ok is ok
    assert parsed.failure == failure
    if ticker_type is UNCHANGED:
        assert parsed.fields == {}  # more than two legs: nothing is derived, the body's values stay
        return
    expected = {"ticker_type": ticker_type, "ticker1": ticker1}
    if ticker_type == "pair":
        expected.update(ticker2=ticker2, hedge_param=float(hedge))  # A.4: the hedge is always a number
    assert parsed.fields == expected


@pytest.mark.parametrize("row", TABLE_6_3, ids=[r[0] for r in TABLE_6_3])
def test_table_6_3(row: tuple) -> None:
    check_row(TICKERS, row)


@pytest.mark.parametrize("row", TABLE_6_3_EXTRA, ids=[r[0] or "empty" for r in TABLE_6_3_EXTRA])
def test_table_6_3_additional_cases(row: tuple) -> None:
    check_row(EXTRA, row)


def test_lookup_is_case_sensitive_and_by_raw_symbol() -> None:
    asked: list[str] = []
    parse_equation("NYSE:LNT-2*AMEX:FTS", lambda s: asked.append(s) or TICKERS.get(s))
    assert asked == ["LNT", "FTS"]


def test_a_hedge_too_large_for_a_number_fails_instead_of_storing_infinity() -> None:
    parsed = parse_equation("LNT-" + "9" * 400 + "*FTS", TICKERS.get)
    assert parsed.ok is False
    assert parsed.fields["hedge_param"] is None
    assert parsed.failure == P


# ---------------------------------------------------------------------------------------------------------------
# §6.2 with A.4


STATUS_TICKERS = {"LNT": ticker(active=1), "FTS": ticker(active=0), "BF.A": ticker(active=1),
                  "WTCH": ticker(active=-1), "NULL": ticker(active=None), "BTCUSD": ticker("CRYPTO", active=1),
                  "OLD2": ticker(active=2)}
PAIRS = {"LNT-FTS": SimpleNamespace(hedge=1.25, status=1), "LNT-BF A": SimpleNamespace(hedge=None, status=1), "BF A-BF B": SimpleNamespace(hedge=0.7, status=0),
         "BTC.USD-SHIB.USD": SimpleNamespace(hedge=1.0, status=-1), "OLD-TWO": SimpleNamespace(hedge=1.0, status=2)}


@pytest.mark.parametrize("ticker_type, t1, t2, hedge, registered, expected", [
    ("pair", "LNT", "FTS", 1.25, "LNT", (True, None, None)),
    ("pair", "LNT", "FTS", 1.3, "LNT", (False, "canceled", "wrong hedge")),
    ("pair", "LNT", "FTS", 1, "LNT", (False, "canceled", "wrong hedge")),
    ("pair", "BF A", "BF B", 0.7, "BF.A", (False, "canceled", "passive ticker")),
    ("pair", "BTC.USD", "SHIB.USD", 1, "BTCUSD", (False, "canceled", "passive ticker")),
    ("pair", "X", "Y", 1, None, (False, "error", "unknown ticker")),
    ("pair", None, None, None, None, (False, "error", "unknown ticker")),
    ("pair", "LNT", "FTS", None, "LNT", (False, "canceled", "wrong hedge")),  # no hedge in the signal
    ("pair", "LNT", "BF A", 1, "LNT", (False, "canceled", "wrong hedge")),  # no hedge in the pairs table
    ("single", "LNT", None, None, "FTS", (True, None, None)),  # found as written: the registered name is a fallback
    ("single", "LNT", None, None, "LNT", (True, None, None)),
    ("single", "FTS", None, None, "FTS", (False, "canceled", "passive ticker")),
    ("single", "NULL", None, None, "NULL", (False, "canceled", "passive ticker")),
    # A.4: a watchlist ticker is not tradable
    ("single", "WTCH", None, None, "WTCH", (False, "canceled", "passive ticker")),
    # one rule for tickers and pairs (vocab.is_tradable): a value the API refuses (an old database's 2) does not trade
    ("single", "OLD2", None, None, "OLD2", (False, "canceled", "passive ticker")),
    ("pair", "OLD", "TWO", 1.0, "OLD", (False, "canceled", "passive ticker")),
    # A.4: found under the spelling it was registered with
    ("single", "BF A", None, None, "BF.A", (True, None, None)),
    ("single", "BTC.USD", None, None, "BTCUSD", (True, None, None)),
    ("single", "", None, None, None, (False, "error", "unknown ticker")),
    (None, None, None, None, None, (False, "error", "unknown ticker")),
    (None, "LNT", None, None, None, (True, None, None)),
])
def test_status_check(ticker_type, t1, t2, hedge, registered, expected) -> None:
    check = check_status(ticker_type, t1, t2, hedge, STATUS_TICKERS.get, PAIRS.get, registered)
    assert (check.ok, check.order_status, check.status_msg) == expected


def refusing_none(table: dict):
    """A lookup that fails the test when asked for a missing name (the caller must not look up None)."""
    def lookup(name):
        assert name is not None and "None" not in name, f"looked up {name!r}"
        return table.get(name)
    return lookup


@pytest.mark.parametrize("ticker_type, t1, t2", [("pair", None, "FTS"), ("pair", "LNT", None), ("single", None, None)])
def test_status_check_never_looks_up_a_missing_leg(ticker_type, t1, t2) -> None:
    check = check_status(ticker_type, t1, t2, 1.25, refusing_none(STATUS_TICKERS), refusing_none(PAIRS))
    assert (check.ok, check.order_status, check.status_msg) == (False, "error", "unknown ticker")


@pytest.mark.parametrize("text, registered", [
    ("NYSE:LNT", "LNT"), ("NYSE:BF.A-0.7*BF.B", "BF.A"), ("USDCAD", "USDCAD"), ("FX:USD.CAD", "USD.CAD"),
    ("BTCUSD-SHIBUSD", "BTCUSD"), ("BTC.USD", "BTC.USD"), ("spy", None), ("0.7*LNT", "LNT"), ("", None),
])
def test_leg_1_spelling_for_the_status_check(text: str, registered: str | None) -> None:
    """A.4: leg 1's spelling in the tickers table, for the status check's fallback (None when leg 1 is unknown)."""
    assert parse_equation(text, EXTRA.get).registered_symbol1 == registered


@pytest.mark.parametrize("text, ticker2, hedge", [
    ("LNT-2*USD.CAD", "USD.CAD", 2.0), ("LNT-BTCUSD*0.5", "BTC.USD", 0.5), ("LNT-X:NYSE:FTS", "FTS", 1.0),
])
def test_hedge_and_exchange_on_every_kind_of_leg_2(text: str, ticker2: str, hedge: float) -> None:
    parsed = parse_equation(text, EXTRA.get)
    assert (parsed.ok, parsed.fields["ticker2"], parsed.fields["hedge_param"]) == (True, ticker2, hedge)
