"""The shared argument parser's texts and edges (SPEC §3.1 with A.3), beyond test_args.py's tables: what a client
reads in each 400, and the boundaries of every rule. Written to kill the mutants `make mutate` found alive."""

from __future__ import annotations

import datetime as dt

import pytest

from pairs import messages
from pairs.args import ABSENT, Arg, ArgError, BodyError, parse_args, parse_body, parse_count


def answer(spec: tuple[Arg, ...], values: dict) -> dict | tuple[str, str]:
    """The parsed values, or (field, message) of the 400."""
    try:
        return parse_args(spec, values)
    except ArgError as exc:
        assert str(exc) == f"{exc.field}: {exc.message}"
        return exc.field, exc.message


@pytest.mark.parametrize("arg, value, expected", [
    (Arg("s"), {"a": 1}, ("s", "expected a string, not dict")),
    (Arg("s"), "a\x00b", ("s", "must not contain NUL characters")),
    (Arg("s"), "\ud800", ("s", "must be valid Unicode text")),
    (Arg("s"), 1.5, {"s": "1.5"}),
    (Arg("f", "float"), True, ("f", "could not convert string to float: True")),
    (Arg("f", "float"), "abc", ("f", "could not convert string to float: 'abc'")),
    (Arg("f", "float"), "1e999", ("f", "'1e999' is not a finite number")),
    (Arg("f", "float"), 10**400, ("f", f"could not convert string to float: {10**400!r}")),
    (Arg("b", "bool"), "maybe", ("b", "'maybe' is not a boolean; use true or false")),
    (Arg("i", "int"), -(2**31), {"i": -(2**31)}),
    (Arg("i", "int"), -(2**31) - 1, ("i", "-2147483649 is out of range (-2147483648 to 2147483647)")),
    (Arg("i", "int"), "100000000000", ("i", "'100000000000' is out of range (-2147483648 to 2147483647)")),
    (Arg("i", "int"), "1234567890123456789012345", ("i", "'12345678901234567890'... is out of range "
                                                          "(-2147483648 to 2147483647)")),  # never int()'d
    (Arg("t", "datetime"), "9999-12-31 23:59:59-01:00", ("t", messages.DATE_HELP)),  # past the calendar in UTC
    (Arg("t", "datetime"), "2026-01-02 03:04:05", {"t": dt.datetime(2026, 1, 2, 3, 4, 5)}),
    (Arg("t", "datetime"), "2026-01-02 03:04:05z", {"t": dt.datetime(2026, 1, 2, 3, 4, 5)}),
    (Arg("t", "datetime"), "2026-01-02 03:04:05+0530", {"t": dt.datetime(2026, 1, 1, 21, 34, 5)}),
    (Arg("t", "datetime"), "2026-01-02 03:04:05-23:59", {"t": dt.datetime(2026, 1, 3, 3, 3, 5)}),
    (Arg("t", "datetime"), "2026-01-02 03:04:05+24:00", ("t", messages.DATE_HELP)),
    (Arg("t", "datetime"), "2026-01-02 03:04:05+24:30", ("t", messages.DATE_HELP)),
    (Arg("t", "datetime"), "None", {"t": None}),
    # ASCII digits only (A.3): Python's int(), float() and \d also read other scripts' digits and "_" separators
    (Arg("i", "int"), "\u0661\u0662", ("i", "invalid literal for int() with base 10: '\u0661\u0662'")),
    (Arg("i", "int"), "1_000", ("i", "invalid literal for int() with base 10: '1_000'")),
    (Arg("f", "float"), "\u0661\u0662", ("f", "could not convert string to float: '\u0661\u0662'")),
    (Arg("f", "float"), "1_000.5", ("f", "could not convert string to float: '1_000.5'")),
    (Arg("t", "datetime"), "\u0662\u0660\u0662\u0666-01-02 03:04:05", ("t", messages.DATE_HELP)),
])
def test_converter_texts_and_edges(arg: Arg, value: object, expected: object) -> None:
    assert answer((arg,), {arg.name: value}) == expected


def test_every_error_names_its_field() -> None:
    spec = (Arg("a", required=True), Arg("b", required=True), Arg("c", max_length=3))
    assert answer(spec, {}) == ("a", messages.MISSING)
    assert answer(spec, {"a": "x", "b": None}) == ("b", messages.MISSING)
    assert answer(spec, {"a": "x", "b": "y", "c": "abcd"}) == ("c", "'c' cannot be longer than 3 characters.")
    assert answer(spec, {"a": "x", "b": "y", "c": "abc"}) == {"a": "x", "b": "y", "c": "abc"}
    assert answer((Arg("t", "datetime", required=True),), {"t": "None"}) == ("t", messages.MISSING)


def test_an_absent_argument_is_its_default_or_none() -> None:
    assert answer((Arg("a"), Arg("b", "int", default=7)), {}) == {"a": None, "b": 7}
    assert repr(ABSENT) == "ABSENT"
    with pytest.raises(ValueError, match=r"^unknown argument type 'decimal'$"):
        Arg("x", "decimal")


@pytest.mark.parametrize("raw, content_type, expected", [
    (b"a=1&a=2&b=&c=3", "application/x-www-form-urlencoded", {"a": ["1", "2"], "b": "", "c": "3"}),
    (b"a=1", "application/x-www-form-urlencoded;charset=utf-8", {"a": "1"}),
    (b"a=1", "Application/X-WWW-Form-Urlencoded; charset=utf-8; x=y", {"a": "1"}),
    (b'  {"a": 1}', "application/x-www-form-urlencoded", {"a": 1}),  # curl -d '{...}': JSON after all
    (b'{"a": 1}', "multipart/form-data; boundary=x", {}),  # Tornado reads multipart
    (b'{"a": 1}', "Multipart/Form-Data; boundary=x", {}),
    (b'{"a": 1}', None, {"a": 1}),
    (b' \n ', "application/json", {}),
])
def test_parse_body(raw: bytes, content_type: str | None, expected: dict) -> None:
    assert parse_body(raw, content_type) == expected


@pytest.mark.parametrize("raw, content_type, message", [
    (b"[1]", "application/x-www-form-urlencoded", messages.BODY_NOT_OBJECT),  # a list is JSON, never a form
    (b"a=\xff", "application/x-www-form-urlencoded", messages.BAD_REQUEST),
    (b'{"a": NaN}', "application/json", messages.BAD_REQUEST),
    (b'{"a": ', "text/plain", messages.BAD_REQUEST),
])
def test_parse_body_refuses(raw: bytes, content_type: str, message: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_body(raw, content_type)
    assert str(caught.value) == message


@pytest.mark.parametrize("text, expected", [
    ("0", 0), (" 5 ", 5), ("0000000000000000005", 5), ("1000000000", 10**9), ("1000000001", 10**9),
    ("9999999999", 10**9), ("9" * 5000, 10**9),
])
def test_parse_count(text: str, expected: int) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["-1", "1.0", "", "x", "1e3", "\u0661\u0662", "\uff15"])  # Arabic-Indic, fullwidth
def test_parse_count_refuses(text: str) -> None:
    with pytest.raises(ArgError) as caught:
        parse_count(text)
    assert (caught.value.field, caught.value.message) == (
        "number_of_items", "'number_of_items' must be a whole number >= 0 (0 means all).")
    with pytest.raises(ArgError) as caught:
        parse_count(text, "number_of_users")
    assert caught.value.field == "number_of_users"
