"""Request arguments: one declared table per route, interpreted here (SPEC §3.1 with A.3).

A route declares a tuple of ``Arg``; ``parse_args`` turns the merged request values (JSON body over form body over
query string) into a dict in declaration order, or raises ``ArgError`` for the first failing argument, carrying the
field name and the original's message text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from pairs import messages

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # the columns are INTEGER: 32 bits on PostgreSQL


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclasses.dataclass(frozen=True)
class Arg:
    name: str
    type: str = "str"  # str | int | float | bool | datetime
    required: bool = False
    default: Any = ABSENT
    help: str | None = None
    max_length: int | None = None
    description: str = ""
    nullable: bool = True  # False: a JSON null counts as absent (the default), for a value the route computes with

    def __post_init__(self) -> None:
        if self.type not in CONVERTERS:
            raise ValueError(f"unknown argument type {self.type!r}")


class ArgError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class BodyError(ValueError):
    """The body as a whole is unusable (not JSON, not an object); ``detail`` says where, when it can."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail


# ---------------------------------------------------------------------------------------------------------------
# Converters: value -> converted value, or ValueError with the text to show when the Arg has no help text.


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)):
        text = str(value)
    else:
        raise ValueError(f"expected a string, not {type(value).__name__}")
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no database can store it
        raise ValueError("must be valid Unicode text") from None
    return text


_INT_TEXT = re.compile(r"[+-]?[0-9]+(\.0*)?")  # ASCII digits (A.3): int() also reads "١٢" and "1_0"
_INT_DIGITS_MAX = 12  # more digits than any INTEGER has: out of range, and never handed to int() (whose 4,300-digit
# limit raises its own error)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"invalid literal for int() with base 10: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"invalid literal for int() with base 10: {value!r}")
        number = int(value)
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        digits = value.strip().split(".")[0]
        if len(digits.lstrip("+-").lstrip("0")) > _INT_DIGITS_MAX:
            raise ValueError(f"{value[:20]!r}... is out of range ({INT_MIN} to {INT_MAX})")
        number = int(digits)
    else:
        raise ValueError(f"invalid literal for int() with base 10: {value!r}")
    if not INT_MIN <= number <= INT_MAX:
        raise ValueError(f"{value!r} is out of range ({INT_MIN} to {INT_MAX})")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
            isinstance(value, str) and (not value.isascii() or "_" in value)):  # float() reads "١٢" and "1_0" too
        raise ValueError(f"could not convert string to float: {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"could not convert string to float: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean; use true or false")


_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|z|[+-]\d{2}:?\d{2})?", re.ASCII
)


NULL_TIMESTAMP = "None"  # how a NULL timestamp is emitted (wire.format_timestamp), as the original did


def parse_timestamp(value: Any) -> dt.datetime:
    """``YYYY-MM-DD HH:MM:SS`` with optional fraction, ``T`` and ``Z``/``±HH:MM`` -> naive UTC, whole seconds."""
    if not isinstance(value, str):
        raise ValueError(messages.DATE_HELP)
    match = _DATETIME.fullmatch(value.strip())
    if not match:
        raise ValueError(messages.DATE_HELP)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        stamp = dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise ValueError(messages.DATE_HELP) from None
    zone = match.group(8)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset >= dt.timedelta(hours=24):
            raise ValueError(messages.DATE_HELP)
        try:
            stamp -= sign * offset
        except OverflowError:  # 9999-12-31 23:59:59-01:00 or 0001-01-01 00:00:00+05:00: outside the calendar in UTC
            raise ValueError(messages.DATE_HELP) from None
    return stamp


def _to_timestamp(value: Any) -> dt.datetime | None:
    """A timestamp argument; the text ``None`` is null: it is what a NULL timestamp reads as in our answers, and the
    bridge echoes every field back as it received it (A.1.2), so that echo must not be refused."""
    if value == NULL_TIMESTAMP:
        return None
    return parse_timestamp(value)


CONVERTERS = {"str": _to_str, "int": _to_int, "float": _to_float, "bool": _to_bool, "datetime": _to_timestamp}


# ---------------------------------------------------------------------------------------------------------------


def parse_args(spec: Sequence[Arg], values: Mapping[str, Any]) -> dict[str, Any]:
    """Declared arguments from ``values``; the first failing one raises ArgError (SPEC §3.1 order)."""
    out: dict[str, Any] = {}
    for arg in spec:
        if arg.name not in values:
            if arg.required:
                raise ArgError(arg.name, arg.help or messages.MISSING)
            out[arg.name] = None if arg.default is ABSENT else arg.default
            continue
        value = values[arg.name]
        if isinstance(value, list):
            if len(value) != 1:  # an empty list is no value, not a null: the caller sent something odd
                raise ArgError(arg.name, arg.help or f"expected one value, not a list of {len(value)}")
            value = value[0]
        if value is None:
            if arg.required:
                raise ArgError(arg.name, arg.help or messages.MISSING)
            out[arg.name] = None if arg.nullable or arg.default is ABSENT else arg.default
            continue
        try:
            converted = CONVERTERS[arg.type](value)
        except ValueError as exc:
            raise ArgError(arg.name, arg.help or str(exc)) from None
        if converted is None and arg.required:
            raise ArgError(arg.name, arg.help or messages.MISSING)
        if arg.max_length is not None and isinstance(converted, str) and len(converted) > arg.max_length:
            raise ArgError(arg.name, f"'{arg.name}' cannot be longer than {arg.max_length} characters.")
        out[arg.name] = converted
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# json.loads(raw, parse_constant=...) builds a decoder on every call: this one is built once and reads the bytes as
# json.loads does (the encoding detected, surrogates passed through).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _json_loads(raw: bytes) -> Any:
    return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))


def is_multipart(content_type: str) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower().startswith("multipart/")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The body's values: JSON whatever the Content-Type (A.3), or a form; raises BodyError."""
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    looks_json = raw.lstrip()[:1] in (b"{", b"[")
    if ctype == "application/x-www-form-urlencoded" and not looks_json:  # curl -d '{...}' sends this type
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BodyError(messages.BAD_REQUEST) from None
        try:  # strict: ``%ff`` is refused, not replaced, as in the query string (a mangled value must not be stored)
            fields = urllib.parse.parse_qs(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise BodyError(messages.BAD_REQUEST) from None
        return {k: v if len(v) > 1 else v[0] for k, v in fields.items()}
    if is_multipart(ctype):
        return {}  # read by the handler's form arguments (Tornado parses multipart)
    text = raw.strip()
    if not text:
        return {}
    try:
        body = _json_loads(text)
    except json.JSONDecodeError as exc:  # e.g. a TradingView placeholder left unsubstituted: {{strategy...}}
        raise BodyError(messages.BAD_REQUEST, messages.INVALID_JSON.format(
            line=exc.lineno, column=exc.colno, reason=exc.msg)) from None
    except ValueError as exc:  # NaN, Infinity
        raise BodyError(messages.BAD_REQUEST, str(exc)) from None
    except RecursionError:
        raise BodyError(messages.BAD_REQUEST, messages.JSON_TOO_DEEP) from None
    if not isinstance(body, dict):
        raise BodyError(messages.BODY_NOT_OBJECT)
    return body


def parse_count(text: str, field: str = "number_of_items") -> int:
    """A list route's ``number_of_items``: an integer >= 0, 0 meaning all (A.3)."""
    stripped = text.strip()
    if not re.fullmatch(r"[0-9]+", stripped):  # not \d: int() would read "١٢" (Arabic-Indic) as 12
        raise ArgError(field, f"'{field}' must be a whole number >= 0 (0 means all).")
    significant = stripped.lstrip("0")
    return min(int(significant or "0"), 10**9) if len(significant) <= 10 else 10**9  # never int() of 5,000 digits


def capped(count: int, limit: int | None) -> int:
    """Anonymous cap (SPEC §5.4 with A.3): 0 means the cap, otherwise the smaller; no cap -> count (0 = all)."""
    if limit is None:
        return count
    return limit if count == 0 else min(count, limit)
