"""The shared argument parser (SPEC §3.1 with A.3), table-driven."""

import datetime as dt

import pytest

from pairs import messages
from pairs.args import (
    NULL_TIMESTAMP,
    Arg,
    ArgError,
    BodyError,
    capped,
    parse_args,
    parse_body,
    parse_count,
    parse_timestamp,
)
from pairs.wire import format_timestamp

INT = (Arg("n", "int"),)
FLOAT = (Arg("x", "float"),)
BOOL = (Arg("b", "bool", default=False),)


@pytest.mark.parametrize("value, expected", [
    (5, 5), (5.0, 5), ("100", 100), ("5.0", 5), (" 7 ", 7), ("-3", -3), ([5], 5), (2**31 - 1, 2**31 - 1),
])
def test_int_accepts(value, expected):
    assert parse_args(INT, {"n": value}) == {"n": expected}


@pytest.mark.parametrize("value, text", [
    ("abc", "invalid literal for int() with base 10: 'abc'"),
    (1.7, "invalid literal for int() with base 10: 1.7"),
    ("1.5", "invalid literal for int() with base 10: '1.5'"),
    (True, "invalid literal for int() with base 10: True"),
    ({"a": 1}, "invalid literal for int() with base 10: {'a': 1}"),
    (2**31, "2147483648 is out of range (-2147483648 to 2147483647)"),
    ([1, 2], "expected one value, not a list of 2"),
    ("9" * 5000, f"{'9' * 20!r}... is out of range (-2147483648 to 2147483647)"),  # int() itself refuses 4,300+
    ("²", "invalid literal for int() with base 10: '²'"),  # str.isdigit() says yes, int() says no
])
def test_int_rejects(value, text):
    with pytest.raises(ArgError) as err:
        parse_args(INT, {"n": value})
    assert (err.value.field, err.value.message) == ("n", text)


@pytest.mark.parametrize("value, expected", [(1, 1.0), ("2.5", 2.5), (-0.5, -0.5), ("1e3", 1000.0)])
def test_float_accepts(value, expected):
    assert parse_args(FLOAT, {"x": value})["x"] == expected


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "abc", True, {}])
def test_float_rejects(value):
    with pytest.raises(ArgError):
        parse_args(FLOAT, {"x": value})


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (1, True), (0, False), ("true", True), ("FALSE", False), ("1", True),
    ("0", False), ("yes", True), ("No", False),
])
def test_bool(value, expected):
    assert parse_args(BOOL, {"b": value}) == {"b": expected}


@pytest.mark.parametrize("value", ["maybe", 2, "", {}])
def test_bool_rejects(value):
    with pytest.raises(ArgError):
        parse_args(BOOL, {"b": value})


def test_defaults_only_when_absent_and_not_converted():
    spec = (Arg("d", "float", default=-1), Arg("s", "str", default=""))
    assert parse_args(spec, {}) == {"d": -1, "s": ""}
    assert parse_args(spec, {"d": None, "s": None}) == {"d": None, "s": None}


@pytest.mark.parametrize("value", [None, [None]])
def test_a_null_is_the_default_where_the_arg_is_not_nullable(value):
    spec = (Arg("expire", "int", default=10, nullable=False), Arg("notes", "str", default="x"))
    assert parse_args(spec, {"expire": value, "notes": value}) == {"expire": 10, "notes": None}


def test_required_uses_help_for_missing_null_and_bad_type():
    spec = (Arg("order_contracts", "int", required=True, help=messages.empty("order_contracts")),)
    for values in ({}, {"order_contracts": None}, {"order_contracts": "x"}):
        with pytest.raises(ArgError) as err:
            parse_args(spec, values)
        assert err.value.message == "'order_contracts' cannot be empty!"


def test_first_failing_argument_in_declaration_order_wins():
    spec = (Arg("a", "int", required=True), Arg("b", "int", required=True))
    with pytest.raises(ArgError) as err:
        parse_args(spec, {"b": "x"})
    assert (err.value.field, err.value.message) == ("a", messages.MISSING)


def test_strings_numbers_become_text_and_length_is_capped():
    spec = (Arg("s", "str", max_length=3),)
    assert parse_args(spec, {"s": 12}) == {"s": "12"}
    with pytest.raises(ArgError) as err:
        parse_args(spec, {"s": "abcd"})
    assert err.value.message == "'s' cannot be longer than 3 characters."
    with pytest.raises(ArgError):
        parse_args(spec, {"s": "a\x00"})


@pytest.mark.parametrize("text, expected", [
    ("2022-05-27 00:24:17", dt.datetime(2022, 5, 27, 0, 24, 17)),
    ("2022-05-27 00:24:17.123456", dt.datetime(2022, 5, 27, 0, 24, 17)),
    ("2022-05-27T00:24:17Z", dt.datetime(2022, 5, 27, 0, 24, 17)),
    ("2022-05-27T02:24:17+02:00", dt.datetime(2022, 5, 27, 0, 24, 17)),
    ("2022-05-26 20:24:17-0400", dt.datetime(2022, 5, 27, 0, 24, 17)),
])
def test_timestamps_become_naive_utc(text, expected):
    assert parse_timestamp(text) == expected


def test_the_text_none_is_a_null_timestamp():
    """A NULL timestamp is emitted as "None" (as the original did); the bridge echoes it back (A.1.2)."""
    assert format_timestamp(None) == NULL_TIMESTAMP == "None"
    spec = (Arg("timestamp", "datetime", help=messages.DATE_HELP),)
    assert parse_args(spec, {"timestamp": "None"}) == {"timestamp": None}
    required = (Arg("timestamp", "datetime", required=True, help=messages.DATE_HELP),)
    with pytest.raises(ArgError, match="date format should be"):
        parse_args(required, {"timestamp": "None"})
    for other in ("none", "NULL", "null", ""):
        with pytest.raises(ArgError, match="date format should be"):
            parse_args(spec, {"timestamp": other})


@pytest.mark.parametrize("text", ["2022-05-27", "27/05/2022 00:00:00", "2022-13-01 00:00:00", "x", 5,
                                  "9999-12-31 23:59:59-01:00", "0001-01-01 00:00:00+05:00"])  # not in UTC's calendar
def test_bad_timestamps(text):
    with pytest.raises(ValueError, match="date format should be"):
        parse_timestamp(text)


@pytest.mark.parametrize("raw, ctype, expected", [
    (b'{"a": 1}', "application/json", {"a": 1}),
    (b'{"a": 1}\n', "text/plain", {"a": 1}),
    (b"  ", "application/json", {}),
    (b"a=1&b=2", "application/x-www-form-urlencoded", {"a": "1", "b": "2"}),
    (b'{"a": 1}', "application/x-www-form-urlencoded", {"a": 1}),
])
def test_body(raw, ctype, expected):
    assert parse_body(raw, ctype) == expected


@pytest.mark.parametrize("raw, text", [
    (b"{bad", messages.BAD_REQUEST), (b"[1, 2]", messages.BODY_NOT_OBJECT), (b"5", messages.BODY_NOT_OBJECT),
    (b'{"a": NaN}', messages.BAD_REQUEST), (b"\xff\xfe", messages.BAD_REQUEST),
])
def test_bad_body(raw, text):
    with pytest.raises(BodyError, match=text.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_body(raw, "application/json")


@pytest.mark.parametrize("raw, detail", [
    (b'{"order_contracts": {{strategy.order.contracts}}}', "invalid JSON at line 1 column 22: Expecting property "
     "name enclosed in double quotes"),
    (b'{\n  "ticker": "LNT",\n  "order_price": \n}', "invalid JSON at line 4 column 1: Expecting value"),
    (b'{"a": NaN}', "NaN is not valid JSON"),
    (b"[" * 5000 + b"]" * 5000, "the JSON is nested too deeply to read"),
    (b"[1, 2]", None),
])
def test_a_bad_body_says_what_was_wrong(raw, detail):
    """A.3: the original's message stays; ``detail`` says where the JSON broke (a TradingView placeholder left as
    it was, a value missing)."""
    with pytest.raises(BodyError) as caught:
        parse_body(raw, "text/plain")
    assert caught.value.detail == detail
    if detail is not None:  # malformed JSON keeps the original's wire text, whatever the detail
        assert str(caught.value) == messages.BAD_REQUEST


@pytest.mark.parametrize("raw", [b"a=%ff", b"a=%ED%A0%80", b"a=1&b=%C0%AF", b"\xff=1"])
def test_a_form_body_with_invalid_utf8_is_refused_not_mangled(raw):
    with pytest.raises(BodyError, match=r"The browser \(or proxy\)"):
        parse_body(raw, "application/x-www-form-urlencoded")


@pytest.mark.parametrize("text, limit, expected", [
    ("0", 5, 5), ("00", 5, 5), ("3", 5, 3), ("100", 5, 5), ("0", None, 0), ("100", None, 100), ("0", 20, 20),
    ("9" * 5000, None, 10**9), ("9" * 5000, 20, 20), ("0" * 5000 + "7", None, 7),  # never int() of 5,000 digits
])
def test_counts_and_anonymous_caps(text, limit, expected):
    assert capped(parse_count(text), limit) == expected


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", ""])
def test_bad_counts(text):
    with pytest.raises(ArgError):
        parse_count(text)


@pytest.mark.parametrize("value", ["a\x00b", "lone \ud800 surrogate", {"a": 1}, [1, 2], []])
def test_str_rejects(value):
    with pytest.raises(ArgError):
        parse_args((Arg("s", "str"),), {"s": value})
