"""A.2: bad input to any route of the foundation gets a 4xx JSON answer, never a 5xx, and changes no row.

Each write route has a valid base body; every case replaces one field by a bad value (or breaks the body as a
whole) and the answer must name that field.  Path segments of the read and delete routes get bad values too.
The whole database is compared before and after each route's cases.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from conftest import make_token

from pairs import messages, users
from pairs.db import Account, Pair, RevokedToken, Setting, Signal, SimpleSession, Ticker, User

SNAPSHOT_MODELS = (Signal, Ticker, Pair, Account, User, SimpleSession, RevokedToken, Setting)

# raw JSON texts of bad values by declared type; strings with a length limit also get one character too many
BAD_BY_TYPE = {
    "str": ['{"a": 1}', "[1, 2]", '"nul\\u0000char"', "[]", '"lone \\ud800 surrogate"'],
    "int": ['"abc"', "1.5", '"1.5"', "true", "9223372036854775808", "1e400", '{"a": 1}', "[1, 2]", '"\\u0000"',
            "2147483648", "-2147483649"],
    "float": ['"abc"', '"NaN"', '"inf"', "1e400", "-1e400", "true", '{"a": 1}', "[1, 2]", "[]"],
    "bool": ['"maybe"', "2", '""', '{"a": 1}', "[true, false]"],
    "datetime": ['"27/05/2022"', '"2022-13-01 00:00:00"', "1653611057", '"2022-05-27 25:00:00"', '"\\u0000"'],
}
# whole-body breakage: (raw body, content type)
# bodies without the required fields: every write route below has at least one
EMPTY_BODIES = [
    (b"", "application/json"),
    (b"  \r\n ", "text/plain"),
    (b"", "application/x-www-form-urlencoded"),
    (b"{}", "application/json"),
]
BROKEN_BODIES = [
    (b"[1, 2]", "application/json"),
    (b"[]", "application/json"),
    (b"42", "application/json"),
    (b'"text"', "application/json"),
    (b"null", "application/json"),
    (b"{", "application/json"),
    (b"{'single': 'quotes'}", "text/plain"),
    (b'{"symbol": "\xff\xfe"}', "application/json"),
    (b'{"a": NaN}', "application/json"),
    (b'{"a": Infinity}', "text/plain"),
    (b"\xff" * 10, "text/plain"),
    (b"[" * 100000, "application/json"),
    (b"x" * (64 * 1024 + 1), "application/json"),
    (json.dumps({"symbol": "x" * (64 * 1024)}).encode(), "application/json"),
]


def snapshot() -> dict[str, list]:
    out = {}
    for model in SNAPSHOT_MODELS:
        fields = model._meta.sorted_fields
        out[model._meta.table_name] = [tuple(getattr(row, f.name) for f in fields)
                                       for row in model.select().order_by(*model._meta.get_primary_keys())]
    return out


def seed(store) -> None:
    def rows():
        Ticker.create(symbol="X", sectype="STK", xch="SMART", prixch="NYSE", currency="USD", order_type="RELATIVE",
                      active=0, active_pos=1.0, active_pnl=2.0, active_cost=3.0)
        Pair.create(name="AA-BB", ticker1="AA", ticker2="BB", hedge=1.5, status=0, notes="n", contracts=10,
                    act_price=1.0, sma=2.0, sma_dist=1.0, std=0.5)
        Account.create(AvailableFunds=1.0, NetLiquidation=2.0, DailyPnL=-1.0)
    store.write_sync(rows)
    store.write_sync(users.new_session_tx, "admin", 10)


# route -> (method, path, token kind, base body, {field: type}, max lengths)
ADMIN, USER = "admin", "user"
WRITE_ROUTES: dict[str, tuple[str, str, str | None, dict[str, Any], dict[str, str], dict[str, int]]] = {
    "login": ("POST", "/v4/login", None, {"username": "admin", "password": "wrong"},
              {"username": "str", "password": "str", "expire": "int"}, {"username": 80, "password": 72}),
    "user-post": ("POST", "/v4/user", ADMIN, {"username": "newbie", "password": "pw"},
                  {"username": "str", "password": "str", "expire": "int", "is_admin": "bool"},
                  {"username": 80, "password": 72}),
    "user-put": ("PUT", "/v4/user", ADMIN, {"username": "user1", "password": "pw2"},
                 {"username": "str", "password": "str", "expire": "int", "is_admin": "bool"},
                 {"username": 80, "password": 72}),
    "ticker-post": ("POST", "/v4/ticker", USER, {"symbol": "NEW"},
                    {"symbol": "str", "sectype": "str", "xch": "str", "prixch": "str", "currency": "str",
                     "order_type": "str", "active": "int", "update_pnl": "bool", "active_pos": "float",
                     "active_pnl": "float", "active_cost": "float"},
                    {"symbol": 40, "sectype": 20, "xch": 40, "prixch": 40, "currency": 20, "order_type": 20}),
    "ticker-put": ("PUT", "/v4/ticker", USER, {"symbol": "X", "update_pnl": True},
                   {"symbol": "str", "sectype": "str", "xch": "str", "prixch": "str", "currency": "str",
                    "order_type": "str", "active": "int", "update_pnl": "bool", "active_pos": "float",
                    "active_pnl": "float", "active_cost": "float"},
                   {"symbol": 40, "sectype": 20, "xch": 40, "prixch": 40, "currency": 20, "order_type": 20}),
    "ticker-pnl": ("PUT", "/v4/ticker/pnl", None, {"passphrase": "webhook", "symbol": "X", "active_pos": 5},
                   {"passphrase": "str", "symbol": "str", "active_pos": "float", "active_pnl": "float",
                    "active_cost": "float"}, {"symbol": 40}),
    "ticker-updatepnl": ("PUT", "/v4/ticker/updatepnl", None, {"passphrase": "webhook", "symbol": "X"},
                         {"passphrase": "str", "symbol": "str", "active_pos": "float", "active_pnl": "float",
                          "active_cost": "float"}, {"symbol": 40}),
    "pair-post": ("POST", "/v4/pair", USER, {"ticker1": "CC", "ticker2": "DD", "hedge": 1, "contracts": 1},
                  {"name": "str", "ticker1": "str", "ticker2": "str", "hedge": "float", "status": "int",
                   "notes": "str", "contracts": "int", "act_price": "float", "sma": "float", "sma_dist": "float",
                   "std": "float"}, {"ticker1": 51, "ticker2": 51}),
    "pair-put": ("PUT", "/v4/pair", USER, {"name": "AA-BB", "ticker1": "AA", "ticker2": "BB", "hedge": 2,
                                          "contracts": 3},
                 {"name": "str", "ticker1": "str", "ticker2": "str", "hedge": "float", "status": "int",
                  "notes": "str", "contracts": "int", "act_price": "float", "sma": "float", "sma_dist": "float",
                  "std": "float"}, {"name": 81, "ticker1": 51, "ticker2": 51}),
    **{f"{name}-{method.lower()}": (method, path, None, {"passphrase": "webhook", "rowid": 1, "AvailableFunds": 9},
                                    {"passphrase": "str", "rowid": "int", "timestamp": "datetime",
                                     "AvailableFunds": "float", "BuyingPower": "float", "DailyPnL": "float",
                                     "GrossPositionValue": "float", "MaintMarginReq": "float",
                                     "NetLiquidation": "float", "RealizedPnL": "float", "UnrealizedPnL": "float"},
                                    {})
       for name, path in (("pnl", "/v4/pnl"), ("regpnl", "/v4/regpnl")) for method in ("POST", "PUT")},
}
EXTRA_BAD = {  # values that are well-typed but outside the field's domain
    "ticker-post": [("active", "5")], "ticker-put": [("active", "-2")],
    "pair-post": [("status", "2")], "pair-put": [("status", "7")],
}


def field_cases(types: dict[str, str], limits: dict[str, int], base: dict[str, Any], route: str):
    # pair PUT: a missing or null name finds no pair (404, as in the original)
    required = {k for k in base if k not in ("update_pnl", "rowid", "AvailableFunds", "active_pos", "name")}
    for field, kind in types.items():
        bad = list(BAD_BY_TYPE[kind])
        if field in required:
            bad.append("null")
        if field in limits:
            bad.append(json.dumps("é" * (limits[field] + 1)))
        for raw in bad:
            yield field, raw
    yield from EXTRA_BAD.get(route, [])


def body_with(base: dict[str, Any], field: str, raw: str) -> bytes:
    parts = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in base.items() if k != field]
    parts.append(f"{json.dumps(field)}: {raw}")
    return ("{" + ", ".join(parts) + "}").encode()


def token_for(kind: str | None) -> str | None:
    if kind == ADMIN:
        return make_token("admin", True)
    if kind == USER:
        return make_token("user1", False)
    return None


@pytest.mark.gen_test(timeout=120)
@pytest.mark.parametrize("route", sorted(WRITE_ROUTES))
async def test_bad_bodies_change_nothing(api, store, route):
    method, path, token_kind, base, types, limits = WRITE_ROUTES[route]
    seed(store)
    before = snapshot()
    token = token_for(token_kind)
    problems = []
    for field, raw in field_cases(types, limits, base, route):
        for ctype in ("application/json", "text/plain"):
            reply = await api.call(method, path, raw=body_with(base, field, raw), token=token, content_type=ctype)
            message = (reply.json or {}).get("message")
            named = isinstance(message, dict) and list(message) == [field]
            if field == "password" and route != "login" and raw.startswith('"é'):
                named = message == {"password": "'password' cannot be longer than 72 bytes."}
            if reply.code != 400 or not named:
                problems.append((field, raw[:40], ctype, reply.code, reply.text[:120]))
    for raw, ctype in (*EMPTY_BODIES, *BROKEN_BODIES):
        reply = await api.call(method, path, raw=raw, token=token, content_type=ctype)
        expected = 413 if len(raw) > 64 * 1024 else 400
        if reply.code != expected or not isinstance((reply.json or {}).get("message"), (str, dict)):
            problems.append(("<body>", raw[:40], ctype, reply.code, reply.text[:120]))
    # invalid UTF-8 or NUL in the query string is bad input as well
    every_key = ("passphrase", "username", "password", "symbol", "ticker1", "ticker2", "hedge", "contracts")
    for bad in ("%ff", "%00", "%C0%AF"):
        query = "?" + "&".join(f"{key}={bad}" for key in every_key)
        reply = await api.call(method, path + query, raw=b"", token=token)
        if reply.code != 400:
            problems.append(("<query>", query, "", reply.code, reply.text[:120]))
    assert problems == [], "\n".join(map(repr, problems))
    assert snapshot() == before


@pytest.mark.gen_test(timeout=120)
async def test_a_bad_logout_body_revokes_nothing(api, store):
    seed(store)
    before = snapshot()
    token = make_token("admin")
    for raw, ctype in BROKEN_BODIES:
        reply = await api.call("POST", "/v4/logout", raw=raw, token=token, content_type=ctype)
        assert reply.code in (400, 413), (raw[:40], reply)
    reply = await api.call("POST", "/v4/logout", raw=b'{"refresh_token": "\\u0000"}', token=token)
    assert reply.code == 400
    assert snapshot() == before
    assert (await api.post("/v4/ticker", {"symbol": "STILL"}, token=token)).code == 201


BAD_SEGMENTS = ["%00", "%ff", "-1", "1.5", "abc", "9" * 30, "9" * 5000, "x" * 5000, "%20", "0x10", "%E2%80%AE",
                "%C2%B2"]  # ² : a digit to str.isdigit(), not to int()
PATH_ROUTES = [
    ("GET", "/v4/signals/{}", None), ("GET", "/v4/signals/status/filled/{}", None),
    ("GET", "/v4/signals/status/waiting/{}", USER),  # anonymously it is the bridge's poll: a valid count is a heartbeat
    ("GET", "/v4/users/{}", ADMIN), ("GET", "/v4/user/{}", ADMIN), ("DELETE", "/v4/user/{}", ADMIN),
    ("GET", "/v4/tickers/{}", None), ("GET", "/v4/ticker/{}", None), ("DELETE", "/v4/ticker/{}", ADMIN),
    ("GET", "/v4/pairs/{}", None), ("GET", "/v4/pair/{}", None), ("DELETE", "/v4/pair/{}", ADMIN),
    ("GET", "/v4/pnls/{}", None), ("GET", "/v4/pnls/{}", USER), ("GET", "/v4/pnl/{}", None),
    ("DELETE", "/v4/pnl/{}", ADMIN),
]


@pytest.mark.gen_test(timeout=120)
async def test_bad_path_segments_change_nothing(api, store):
    seed(store)
    before = snapshot()
    problems = []
    for method, pattern, token_kind in PATH_ROUTES:
        for segment in BAD_SEGMENTS:
            reply = await api.call(method, pattern.format(segment), token=token_for(token_kind))
            ok = reply.code in (400, 404) and isinstance(reply.json, dict) and "message" in reply.json
            if method == "GET" and "s/" in pattern and segment not in ("-1", "1.5", "abc", "%20", "0x10",
                                                                      "%E2%80%AE", "%00", "%ff"):
                ok = reply.code in (200, 400, 404)  # a long run of digits is a (huge) count: all rows
            if not ok:
                problems.append((method, pattern, segment[:20], reply.code, reply.text[:120]))
    assert problems == [], "\n".join(map(repr, problems))
    assert snapshot() == before


EDGE_TIMESTAMPS = ["9999-12-31 23:59:59-01:00", "0001-01-01 00:00:00+05:00"]  # valid text, outside UTC's calendar
TIMESTAMP_ROUTES = [("POST", "/v4/webhook"), ("PUT", "/v4/webhook"), ("POST", "/v4/pnl"), ("PUT", "/v4/pnl")]


@pytest.mark.gen_test(timeout=60)
async def test_timestamps_at_the_edge_of_the_calendar_are_a_field_error(api, store):
    """The date is parsed before the passphrase is checked: a wrong passphrase gets the same 400."""
    seed(store)
    before = snapshot()
    problems = []
    base = {"ticker": "AA-1.5*BB", "order_action": "buy", "order_contracts": 1, "rowid": 1, "AvailableFunds": 9}
    for method, path in TIMESTAMP_ROUTES:
        for passphrase in ("webhook", "wrong"):
            for stamp in EDGE_TIMESTAMPS:
                as_json = await api.call(method, path, {**base, "passphrase": passphrase, "timestamp": stamp})
                query = "?" + urllib.parse.urlencode({**base, "passphrase": passphrase, "timestamp": stamp})
                as_query = await api.call(method, path + query, raw=b"")
                for where, reply in (("json", as_json), ("query", as_query)):
                    if (reply.code, reply.json) != (400, {"message": {"timestamp": messages.DATE_HELP}}):
                        problems.append((method, path, passphrase, stamp, where, reply.code, reply.text[:120]))
    assert problems == [], "\n".join(map(repr, problems))
    assert snapshot() == before


# ---------------------------------------------------------------------------------------------------------------
# The dashboard's query and form routes: the same parser, so bad input is a 400 page (HTML), never a 5xx


BAD_QUERY_BY_TYPE = {  # raw, already percent-encoded query values
    "str": ["%00", "%ff", "%ED%A0%80", "x" * 5000, "%C2%B2", "9999-12-31", "0001-01-01", "9999-12-31.5",
            "2026-01-01T00:00:00~99999999999999999999", "2026-01-01T00:00:00~" + "9" * 5000, "%0A", "/%09/evil"],
    "int": ["abc", "1.5x", "9" * 5000, "%C2%B2", "2147483648", "-2147483649", "%00", "%ff", "", "0x10"],
}
XSRF = "0123456789abcdef0123456789abcdef"


def page_routes() -> list[tuple[str, str, tuple]]:
    """Every page route (without a path parameter) and method with its declared arguments, from the route table."""
    from handlers.routes import ROUTES

    return [(row.method, row.path, tuple(row.args)) for row in ROUTES if row.is_page and "{" not in row.path]


@pytest.mark.gen_test(timeout=180)
async def test_bad_page_arguments_are_a_400_page_and_change_nothing(api, app, store):
    import tornado.web

    seed(store)
    session = store.write_sync(users.new_session_tx, "admin", 10)
    cookie = "pairs_session=" + tornado.web.create_signed_value(app.settings["cookie_secret"], "pairs_session",
                                                                 session).decode()
    before = snapshot()
    problems = []
    routes = [r for r in page_routes() if r[1] != "/logout"]  # logout ends the session on purpose
    assert {(m, p) for m, p, args in routes if args} >= {("GET", "/login"), ("POST", "/login"), ("GET", "/list"),
                                                          ("GET", "/setup"), ("GET", "/deliveries")}
    for method, path, args in routes:
        for arg in (*args, None):
            values = BAD_QUERY_BY_TYPE[arg.type] if arg else ["1"]
            for raw in values:
                for logged_in in (False, True):
                    headers = {"Cookie": f"_xsrf={XSRF}" + (f"; {cookie}" if logged_in else "")}
                    # the login form with a wrong password: a failure, throttled after a few, never a session
                    form = "username=admin&password=wrong&" if path == "/login" else ""
                    query = f"{arg.name if arg else 'unknown'}={raw}"
                    if method == "GET":
                        reply = await api.call("GET", f"{path}?{query}", headers=headers)
                    else:
                        reply = await api.call("POST", path, raw=f"{form}_xsrf={XSRF}&{query}", headers=headers,
                                               content_type="application/x-www-form-urlencoded")
                    html = reply.headers.get("Content-Type", "").startswith("text/html")
                    allowed = {200, 302, 400} | ({401, 429} if path == "/login" and method == "POST" else set())
                    refused = arg is not None and arg.type == "int" or raw in ("%00", "%ff", "%ED%A0%80")
                    # a page that needs a login sends the anonymous visitor to the login form before reading more
                    to_login = reply.code == 302 and reply.headers.get("Location", "").startswith("/login?")
                    if reply.code not in allowed or not html or (refused and reply.code != 400 and not to_login):
                        problems.append((method, path, arg and arg.name, raw[:30], logged_in, reply.code,
                                         reply.text[:100]))
        # a repeated argument is one value too many
        if args:
            reply = await api.call(method, f"{path}?{args[0].name}=1&{args[0].name}=2",
                                   raw=f"_xsrf={XSRF}" if method == "POST" else None,
                                   headers={"Cookie": f"_xsrf={XSRF}; {cookie}"},
                                   content_type="application/x-www-form-urlencoded")
            if reply.code != 400:
                problems.append((method, path, args[0].name, "repeated", True, reply.code, reply.text[:100]))
    assert problems == [], "\n".join(map(repr, problems))
    assert snapshot() == before


@pytest.mark.gen_test
async def test_a_null_login_expire_is_the_default_not_a_500(api, store):
    """Found by the fuzz run once failed logins no longer stopped it: expire null reached the token arithmetic."""
    for expire in (None, [None]):
        reply = await api.post("/v4/login", {"username": "admin", "password": "password", "expire": expire})
        assert (reply.code, reply.json["expire"]) == (200, 10), reply
