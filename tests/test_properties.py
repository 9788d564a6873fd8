"""Properties that tables cannot enumerate (Hypothesis; the deterministic profile is registered in conftest.py).

- Fills: the bridge re-sends every cumulative fill all day, in any order. Any sequence of a pair's fills, each
  repeated any number of times, ends in the row of the same fills once each in leg order (SPEC A.4), as long as each
  leg fills at one price (A.4 says why); and no fill changes a row that is ``filled``.
- Equation: generated tickers and hedges come back out of the parser as written; no text makes it raise.
- Arguments: the shared parser answers every generated query string and body with values or a 4xx error.
"""

from __future__ import annotations

import json
import math
import string
import urllib.parse
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from handlers.routes import ROUTES
from pairs.args import ArgError, BodyError, parse_args, parse_body, parse_count
from pairs.equation import Equation, check_status, parse_equation
from pairs.fills import OrderUpdate, apply_order_update
from pairs.vocab import OrderStatus

# ---------------------------------------------------------------------------------------------------------------
# Fills

PRICES = st.sampled_from([0.0, 1.0, 15.05, 41.45]) | st.integers(1, 100_000).map(lambda cents: cents / 100)


@st.composite
def pair_signals(draw: st.DrawFn) -> dict[str, Any]:
    return {"ticker": "A-B", "order_action": draw(st.sampled_from(["buy", "sell"])),
            "order_contracts": draw(st.integers(0, 1000)), "order_price": draw(st.none() | PRICES),
            "order_status": draw(st.sampled_from(["waiting", "created", "rerouted"])), "ticker_type": "pair",
            "ticker1": "A", "ticker2": "B", "hedge_param": draw(st.sampled_from([None, 0.0, 0.5, 0.75, 1.0, 3.0])
                                                                | st.integers(1, 1000).map(lambda h: h / 100)),
            "order_id1": 100, "order_id2": 101, "price1": None, "price2": None, "fill_price": None, "slip": None,
            "status_msg": None}


def expected_quantity(row: dict[str, Any], leg: int) -> int:
    hedge = 1.0 if row["hedge_param"] is None else row["hedge_param"]
    return row["order_contracts"] if leg == 1 else math.floor(row["order_contracts"] * hedge)


@st.composite
def leg_fills(draw: st.DrawFn, row: dict[str, Any], leg: int) -> list[OrderUpdate]:
    """One leg's cumulative fills as the bridge reports them over a day: rising quantities (halves too), one price."""
    price = draw(PRICES)
    most = 2 * expected_quantity(row, leg) + 4
    quantities = draw(st.lists(st.integers(0, most), unique=True, max_size=3))
    return [OrderUpdate(99 + leg, "AB"[leg - 1], price, halves / 2) for halves in sorted(quantities)]


def apply_all(row: dict[str, Any], updates: list[OrderUpdate]) -> dict[str, Any]:
    for update in updates:
        row = apply_order_update(row, update)
    return row


@given(st.data())
def test_fills_in_any_order_and_repeated_end_as_once_each_in_leg_order(data: st.DataObject) -> None:
    row = data.draw(pair_signals(), "signal")
    in_leg_order = data.draw(leg_fills(row, 1), "leg 1") + data.draw(leg_fills(row, 2), "leg 2")
    repeats = data.draw(st.lists(st.sampled_from(in_leg_order), max_size=8), "repeats") if in_leg_order else []
    sent = data.draw(st.permutations(in_leg_order + repeats), "as sent")
    assert apply_all(row, sent) == apply_all(row, in_leg_order)


@given(st.data())
def test_no_fill_changes_a_filled_row(data: st.DataObject) -> None:
    row = {**data.draw(pair_signals(), "signal"), "order_status": OrderStatus.FILLED,
           "price1": data.draw(PRICES), "price2": data.draw(PRICES), "status_msg": data.draw(st.sampled_from(
               ["", "remained(B): 30.0", "remained(A): 0.0", None]))}
    updates = data.draw(st.lists(st.builds(OrderUpdate, st.sampled_from([100, 101, 7]), st.sampled_from("ABC"),
                                           PRICES, st.integers(0, 2000).map(lambda n: n / 2)), max_size=5))
    assert apply_all(row, updates) == row


# ---------------------------------------------------------------------------------------------------------------
# Equation: a leg as TradingView writes it -> (the raw symbol the tickers table holds, its info, the IB spelling)

LETTERS = st.text(string.ascii_uppercase, min_size=1, max_size=5)
CURRENCIES = st.text(string.ascii_uppercase, min_size=3, max_size=3)


@st.composite
def legs(draw: st.DrawFn) -> tuple[str, SimpleNamespace, str]:
    kind = draw(st.sampled_from(["stock", "class share", "fx", "fx dotted", "crypto", "crypto dotted"]))
    if kind == "stock":
        raw = draw(LETTERS)
        return raw, SimpleNamespace(sectype="STK", currency="USD", active=1), raw
    if kind == "class share":
        base, share = draw(LETTERS), draw(st.sampled_from("ABCK"))
        return f"{base}.{share}", SimpleNamespace(sectype="STK", currency="USD", active=1), f"{base} {share}"
    if kind.startswith("fx"):
        base, quote = draw(CURRENCIES), draw(CURRENCIES)
        raw = f"{base}.{quote}" if kind == "fx dotted" else base + quote
        return raw, SimpleNamespace(sectype="CASH", currency=quote, active=1), f"{base}.{quote}"
    base, quote = draw(st.text(string.ascii_uppercase, min_size=2, max_size=5)), draw(CURRENCIES)
    raw = f"{base}.{quote}" if kind == "crypto dotted" else base + quote
    return raw, SimpleNamespace(sectype="CRYPTO", currency=quote, active=1), f"{base}.{quote}"


EXCHANGES = st.sampled_from(["", "NYSE:", "NASDAQ:", "AMEX:", "FX:", "BINANCE:", "FX_IDC:"])
HEDGES = st.sampled_from(["2", "0.7", "1.25", ".5", "10", "0", "1.0"]) | st.decimals(
    "0.0001", "1000", places=4).map(lambda d: format(d.normalize(), "f"))


@given(legs(), legs(), EXCHANGES, EXCHANGES, st.none() | HEDGES, st.booleans())
def test_parsed_legs_and_hedge_reproduce_the_equation(leg1, leg2, exchange1, exchange2, hedge, hedge_first) -> None:
    (raw1, info1, symbol1), (raw2, info2, symbol2) = leg1, leg2
    second = exchange2 + raw2
    if hedge is not None:
        second = f"{hedge}*{second}" if hedge_first else f"{second}*{hedge}"
    parsed = parse_equation(f"{exchange1}{raw1}-{second}", {raw1: info1, raw2: info2}.get)
    assert parsed == Equation(True, {"ticker_type": "pair", "ticker1": symbol1, "ticker2": symbol2,
                                     "hedge_param": 1.0 if hedge is None else float(hedge)}, None, raw1)
    single = parse_equation(exchange1 + raw1, {raw1: info1}.get)
    assert single == Equation(True, {"ticker_type": "single", "ticker1": symbol1}, None, raw1)


TICKER_INFOS = st.none() | st.builds(SimpleNamespace, sectype=st.sampled_from(["STK", "CASH", "CRYPTO", None, ""]),
                                     currency=st.none() | st.text(max_size=4), active=st.sampled_from([1, 0, -1, None]))
PAIR_INFOS = st.none() | st.builds(SimpleNamespace, hedge=st.none() | st.floats(allow_nan=True),
                                   status=st.sampled_from([1, 0, -1, None]))
EQUATION_TEXT = st.text(alphabet=st.sampled_from(list("ABCXYZabc.:*-+ 0123456789eE_/#é\x00")), max_size=40) | st.text()


@given(EQUATION_TEXT, st.functions(like=lambda raw: None, returns=TICKER_INFOS, pure=True),
       st.functions(like=lambda name: None, returns=PAIR_INFOS, pure=True), st.booleans())
def test_no_text_makes_the_parser_or_the_status_check_raise(text, find_ticker, find_pair, bypass) -> None:
    parsed = parse_equation(text, find_ticker)
    assert isinstance(parsed, Equation) and (parsed.failure is None) is parsed.ok
    fields = {"ticker_type": None, "ticker1": None, "ticker2": None, "hedge_param": None, **parsed.fields}
    check = check_status(fields["ticker_type"], fields["ticker1"], fields["ticker2"], fields["hedge_param"],
                         find_ticker, find_pair, parsed.registered_symbol1)
    assert check.ok is (check.order_status is None)


# ---------------------------------------------------------------------------------------------------------------
# Arguments: every declared table of the API, fed what a client could send

SPECS = [row.args for row in ROUTES if row.args and row.tag]  # the API's tables
NAMES = sorted({arg.name for spec in SPECS for arg in spec} | {"x", ""})
TIMESTAMPS = st.sampled_from(["0001-01-01 00:00:00+05:00", "9999-12-31 23:59:59-01:00"]) | st.builds(  # the edges
    "{}{}".format, st.sampled_from(["0001-01-01 00:00:00", "9999-12-31 23:59:59"]) | st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format, st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
    st.integers(0, 24), st.integers(0, 60), st.integers(0, 60)),
    st.sampled_from(["", "Z", "+05:00", "-01:00", "+23:59", "-2400", ".5", ".123456789+01:00"]))
HUGE_NUMBERS = st.builds(lambda digits, count, sign: sign + digits * count, st.sampled_from("091"),
                         st.sampled_from([10, 11, 400, 4300, 4301, 5000]), st.sampled_from(["", "+", "-"]))
TEXT = (st.text(alphabet=st.sampled_from(list("0123456789.+-eE:TZ tfalsyno\x00é\ud800[]{}\"'\\,")), max_size=30)
        | st.text() | TIMESTAMPS | HUGE_NUMBERS)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(10**20, 10**4000) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
PASS = "surrogatepass"  # a lone surrogate goes out as the bytes a broken client would send
CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "", "APPLICATION/X-WWW-FORM-URLENCODED; a=b"])


EDGES = {"str": TEXT, "int": HUGE_NUMBERS | st.integers(), "float": HUGE_NUMBERS | st.floats(),
         "bool": st.sampled_from(["yes", "NO", " true ", "2", 2, 0.0, "", "tru"]), "datetime": TIMESTAMPS}
VALID = {"str": "x", "int": 1, "float": 1.5, "bool": True, "datetime": "2026-11-29 12:00:00"}


@st.composite
def requests(draw: st.DrawFn) -> tuple[Any, str, bytes, str]:
    """A route's table, and a query string and body for it: every declared argument with a valid value, some of
    them (and some other keys) replaced by anything a client could send, sent in the query, as JSON or as a form."""
    spec = draw(st.sampled_from(SPECS))
    names = st.sampled_from([arg.name for arg in spec]) | st.sampled_from(NAMES) | TEXT
    values: dict[str, Any] = {}
    for arg in spec:  # mostly valid, so that a later argument is reached too
        kind = draw(st.sampled_from(["valid"] * 6 + ["edge"] * 3 + ["any"]))
        values[arg.name] = draw({"valid": st.just(VALID[arg.type]), "edge": EDGES[arg.type], "any": JSON_VALUES}[kind])
    values.update(draw(st.dictionaries(names, JSON_VALUES, max_size=2)))
    in_query = draw(st.dictionaries(names, TEXT, max_size=4))
    query = "&".join(f"{urllib.parse.quote(k, errors=PASS)}={urllib.parse.quote(v, safe='', errors=PASS)}"
                     for k, v in in_query.items())
    text = json.dumps(values, ensure_ascii=draw(st.booleans()), allow_nan=True)
    body = draw(st.sampled_from([
        text.encode("utf-8", PASS), text.encode("utf-8", PASS),
        urllib.parse.urlencode({k: str(v) for k, v in values.items()}, errors=PASS).encode("utf-8", PASS),
        text[:len(text) // 2].encode("utf-8", PASS),
        b"[" * 3000, b'{"a":' * 3000,
        b'{"%s": %s}' % (draw(names).encode("utf-8", PASS), draw(HUGE_NUMBERS).encode()),
        draw(st.binary(max_size=60)),
    ]))
    return spec, draw(st.sampled_from([query, query.replace("%", "%%"), query + "&&=&a"])), body, draw(CONTENT_TYPES)


@given(requests())
def test_the_shared_parser_answers_every_request_with_values_or_a_4xx(request: tuple) -> None:
    """As handlers/base.py merges them: the query string's lists, then the body's values over them."""
    spec, query, body, content_type = request
    try:
        merged: dict[str, Any] = dict(urllib.parse.parse_qs(query, keep_blank_values=True, errors="strict"))
        merged.update(parse_body(body, content_type))
        parsed = parse_args(spec, merged)
    except (ArgError, BodyError, UnicodeDecodeError):  # each answered 400 by handlers/base.py
        return
    assert list(parsed) == [arg.name for arg in spec]


@given(TEXT)
def test_a_list_count_is_a_number_or_a_4xx(text: str) -> None:
    try:
        count = parse_count(text)
    except ArgError:
        return
    assert 0 <= count <= 10**9
