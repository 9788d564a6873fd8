"""The access a row of handlers/routes.py declares is the access the server enforces, row by row over HTTP."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from conftest import make_token

from handlers.routes import (
    ADMIN,
    FRESH_TOKEN,
    LOGIN,
    OPTIONAL_TOKEN,
    PUBLIC,
    REFRESH_TOKEN,
    ROUTES,
    SESSION,
    TABLE,
    TOKEN,
)
from pairs import auth, messages

TOKEN_MISSING = {"error": auth.TOKEN_MISSING[0], "message": auth.TOKEN_MISSING[1]}
NOT_FRESH = {"error": auth.TOKEN_NOT_FRESH[0], "message": auth.TOKEN_NOT_FRESH[1]}
NEEDS_A_TOKEN = (TOKEN, FRESH_TOKEN, ADMIN, REFRESH_TOKEN)
STREAMS = ("/events",)  # an answer that never ends by itself
XSRF = "0123456789abcdef0123456789abcdef"
FORM_XSRF = {"Cookie": f"_xsrf={XSRF}", "X-XSRFToken": XSRF}  # what the pages' forms send


def concrete(template: str) -> str:
    return re.sub(r"{\w+}", "1", template)


def rows(*levels):
    return [row for row in ROUTES if row.access in levels and row.path not in STREAMS]


@pytest.mark.gen_test(timeout=120)
async def test_each_row_is_refused_or_served_anonymously_as_its_access_says(api):
    problems = []
    for row in rows(*NEEDS_A_TOKEN, PUBLIC, OPTIONAL_TOKEN, LOGIN):
        path = concrete(row.path)
        reply = await api.call(row.method, path, headers=FORM_XSRF)
        if row.access in NEEDS_A_TOKEN:
            ok = (reply.code, reply.json) == (401, TOKEN_MISSING)
        elif row.access is LOGIN:
            ok = reply.code == 302 and reply.headers["Location"] == "/login?" + urllib.parse.urlencode({"next": path})
        else:
            ok = reply.code != 401
        if not ok:
            problems.append((row.method, path, row.access, reply))
    assert problems == []


@pytest.mark.gen_test(timeout=120)
async def test_a_bad_token_is_a_401_where_a_token_is_read_and_ignored_on_public_rows(api):
    problems = []
    for row in rows(PUBLIC, OPTIONAL_TOKEN, *NEEDS_A_TOKEN):
        if row.method != "GET":
            continue  # a public write (login) would answer its own 400 for the empty body
        reply = await api.call(row.method, concrete(row.path), token="not-a-jwt")
        if (reply.code == 401) is (row.access is PUBLIC):
            problems.append((row.path, row.access, reply))
    assert problems == []


@pytest.mark.gen_test(timeout=120)
async def test_fresh_and_admin_rows_refuse_a_stale_token_and_admin_rows_a_user(api, store):
    stale, user = make_token("admin", True, fresh=False), make_token("user1", False, True)
    problems = []
    for row in rows(FRESH_TOKEN, ADMIN):
        path = concrete(row.path)
        reply = await api.call(row.method, path, token=stale)
        if (reply.code, reply.json) != (401, NOT_FRESH):
            problems.append((row.method, path, "stale", reply))
        reply = await api.call(row.method, path, token=user)  # an empty body: a 400 once the token is accepted
        expected = (401, {"message": messages.NOT_ADMIN}) if row.access is ADMIN else (400, reply.json)
        if (reply.code, reply.json) != expected:
            problems.append((row.method, path, "user", reply))
    assert problems == []


@pytest.mark.gen_test
async def test_the_refresh_route_takes_no_access_token(api, store):
    (row,) = rows(REFRESH_TOKEN)
    reply = await api.call(row.method, row.path, token=make_token("admin", True))
    assert reply.code == 401 and reply.json["error"] == auth.TOKEN_INVALID[0]


def test_the_delivery_log_and_the_bridge_read_the_table():
    assert TABLE.passphrase_paths == ("/v4/webhook", "/v4/signal/order", "/v4/signal/updateorder", "/v4/ticker/pnl",
                                      "/v4/ticker/updatepnl", "/v4/pnl", "/v4/regpnl")
    assert TABLE.bridge_writes == {
        ("PUT", "/v4/signal/order"), ("PUT", "/v4/signal/updateorder"), ("PUT", "/v4/ticker/pnl"),
        ("PUT", "/v4/ticker/updatepnl"), ("PUT", "/v4/pnl"), ("POST", "/v4/pnl"), ("PUT", "/v4/regpnl"),
        ("POST", "/v4/regpnl"), ("PUT", "/v4/webhook")}  # not POST /v4/webhook: TradingView's
    assert {row.access for row in ROUTES if row.is_page} == {SESSION, LOGIN}
