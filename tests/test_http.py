"""What every answer shares: JSON 404/405, CORS preflight, HEAD, security headers, XSRF only for cookie auth."""

from __future__ import annotations

import types

import pytest
import tornado.web

from pairs import users
from pairs.config import parse_networks
from pairs.db import DeliveryLog, Ticker

NOT_FOUND_URL = ('{"message": "The requested URL was not found on the server. If you entered the URL manually '
                 'please check your spelling and try again."}\n')
NOT_ALLOWED = '{"message": "The method is not allowed for the requested URL."}\n'
CSRF = '{"message": "CSRF token missing or incorrect."}\n'


@pytest.mark.gen_test
@pytest.mark.parametrize("method, path", [
    ("GET", "/v4/nothing"), ("POST", "/v4/nothing"), ("GET", "/v4"), ("GET", "/v4/tickers"),
    ("GET", "/v4/ticker/a/b"), ("DELETE", "/nope"), ("PUT", "/v4/users"),
])
async def test_unknown_urls_answer_json_404(api, method, path):
    reply = await api.call(method, path)
    assert (reply.code, reply.text) == (404, NOT_FOUND_URL)
    assert reply.headers["Content-Type"] == "application/json"


@pytest.mark.gen_test
@pytest.mark.parametrize("method, path", [
    ("DELETE", "/v4/tickers/0"), ("POST", "/v4/pairs/0"), ("PUT", "/v4/pnls/0"), ("GET", "/v4/login"),
    ("GET", "/v4/ticker"), ("DELETE", "/v4/pair"), ("GET", "/v4/pnl"), ("POST", "/v4/ticker/pnl"),
    ("PATCH", "/v4/ticker"), ("GET", "/v4/logout"), ("PUT", "/v4/users/0"), ("POST", "/v4/ticker/X"),
])
async def test_known_urls_with_other_methods_answer_json_405(api, admin_token, method, path):
    reply = await api.call(method, path, token=admin_token)
    assert (reply.code, reply.text) == (405, NOT_ALLOWED)


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/v4/ticker", "/v4/webhook-nope", "/v4/pnls/0", "/v4/login"])
async def test_cors_preflight(app, api, path):
    app.ctx.cors_origins = {"*"}  # opened on purpose: [SERVER] CORS_ORIGINS = *
    reply = await api.call("OPTIONS", path, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    if path == "/v4/webhook-nope":
        assert reply.code == 404
        return
    assert reply.code == 204 and reply.text == ""
    assert reply.headers["Access-Control-Allow-Origin"] == "https://example.org"
    assert reply.headers["Access-Control-Allow-Methods"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    assert reply.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "Access-Control-Allow-Credentials" not in reply.headers


@pytest.mark.gen_test
async def test_no_cross_origin_access_by_default(api):
    """A page on another site must not read the account through the visitor's browser."""
    for method, path in (("GET", "/v4/pnl/1"), ("GET", "/v4/signals/0"), ("OPTIONS", "/v4/pnl/1")):
        reply = await api.call(method, path, headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "GET"})
        assert "Access-Control-Allow-Origin" not in reply.headers, (method, path)
    assert "Access-Control-Allow-Origin" not in (await api.get("/v4/tickers/0")).headers


@pytest.mark.gen_test
async def test_cors_on_ordinary_answers(app, api):
    app.ctx.cors_origins = {"*"}
    reply = await api.get("/v4/tickers/0", headers={"Origin": "https://a.example"})
    assert reply.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert reply.headers["Vary"] == "Origin"
    assert (await api.get("/v4/tickers/0")).headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.gen_test
async def test_head_on_get_routes(api, store):
    store.write_sync(lambda: Ticker.create(symbol="X", active=0))
    get = await api.get("/v4/ticker/X")
    head = await api.call("HEAD", "/v4/ticker/X")
    assert (head.code, head.text) == (200, "")
    assert head.headers["Content-Type"] == "application/json"
    assert head.headers["Content-Length"] == str(len(get.text.encode()))
    assert (await api.call("HEAD", "/v4/ticker/nope")).code == 404
    assert (await api.call("HEAD", "/v4/tickers/0")).code == 200
    assert (await api.call("HEAD", "/v4/pnls/abc")).code == 400
    assert (await api.call("HEAD", "/v4/login")).code == 405


@pytest.mark.gen_test
@pytest.mark.parametrize("method, path", [("GET", "/v4/tickers/0"), ("GET", "/v4/nothing"),
                                          ("POST", "/v4/login"), ("PUT", "/v4/pnl")])
async def test_security_headers_on_every_answer(api, method, path):
    reply = await api.call(method, path, {})
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "http" not in csp and "nonce" not in csp
    assert "Strict-Transport-Security" not in reply.headers  # plain HTTP here; HSTS only under HTTPS


@pytest.mark.gen_test
async def test_csrf_token_in_bodies_is_ignored_and_not_needed_with_a_header(api, admin_token):
    reply = await api.post("/v4/ticker", {"symbol": "X", "_csrf_token": "stale"}, token=admin_token)
    assert reply.code == 201
    reply = await api.post("/v4/pnl", {"passphrase": "webhook", "_csrf_token": "stale"})
    assert reply.code == 201


# ---------------------------------------------------------------------------------------------------------------
# the dashboard's session cookie authenticates too, and then XSRF applies


def session_cookie(app, store, username: str = "admin") -> str:
    value = store.write_sync(users.new_session_tx, username, 10)
    signed = tornado.web.create_signed_value(app.settings["cookie_secret"], "pairs_session", value)
    return "pairs_session=" + signed.decode()


XSRF = "0123456789abcdef0123456789abcdef"


@pytest.mark.gen_test
@pytest.mark.parametrize("method, path, body, ok", [
    ("POST", "/v4/ticker", {"symbol": "X"}, 201),
    ("PUT", "/v4/ticker", {"symbol": "Y"}, 201),
    ("POST", "/v4/pair", {"ticker1": "A", "ticker2": "B", "hedge": 1, "contracts": 1}, 201),
    ("POST", "/v4/user", {"username": "u", "password": "p"}, 201),
    ("DELETE", "/v4/user/user1", None, 200),
    ("POST", "/v4/logout", {}, 200),
])
async def test_cookie_authenticated_writes_need_the_xsrf_token(app, store, api, method, path, body, ok):
    cookie = session_cookie(app, store)
    reply = await api.call(method, path, body, headers={"Cookie": cookie})
    assert (reply.code, reply.text) == (403, CSRF)
    reply = await api.call(method, path, body, headers={"Cookie": f"{cookie}; _xsrf={XSRF}",
                                                        "X-XSRFToken": "f" * 32})
    assert (reply.code, reply.text) == (403, CSRF)
    reply = await api.call(method, path, body, headers={"Cookie": f"{cookie}; _xsrf={XSRF}", "X-XSRFToken": XSRF})
    assert reply.code == ok, reply


@pytest.mark.gen_test
async def test_cookie_identity_follows_the_user_row(app, store, api):
    headers = {"Cookie": f"{session_cookie(app, store, 'user1')}; _xsrf={XSRF}", "X-XSRFToken": XSRF}
    reply = await api.get("/v4/users/0", headers=headers)
    assert (reply.code, reply.json) == (401, {"message": "'admin' privilege required."})
    assert len((await api.get("/v4/pnls/0", headers=headers)).json["pnls"]) == 0
    reply = await api.post("/v4/logout", {}, headers=headers)
    assert reply.code == 200
    # the session is gone on the server: the same cookie is anonymous now
    reply = await api.post("/v4/ticker", {"symbol": "Z"}, headers=headers)
    assert (reply.code, reply.json["error"]) == (401, "authorization_required")


@pytest.mark.gen_test
async def test_a_forged_session_cookie_is_anonymous(api):
    reply = await api.post("/v4/ticker", {"symbol": "X"},
                           headers={"Cookie": f"pairs_session=forged; _xsrf={XSRF}", "X-XSRFToken": XSRF})
    assert (reply.code, reply.json["error"]) == (401, "authorization_required")


# ---------------------------------------------------------------------------------------------------------------
# HTTPS behind a reverse proxy, configurable CORS


@pytest.mark.gen_test
async def test_https_redirect_is_opt_in_and_uses_308(app, api):
    assert (await api.get("/v4/tickers/0")).code == 200
    app.ctx.settings.force_https = True
    reply = await api.post("/v4/pnl", {"passphrase": "webhook"})
    assert reply.code == 308
    assert reply.headers["Location"].startswith("https://") and reply.headers["Location"].endswith(
        "/v4/pnl")
    # X-Forwarded-Proto counts only from a trusted proxy
    assert (await api.get("/v4/tickers/0", headers={"X-Forwarded-Proto": "https"})).code == 308
    app.ctx.trusted_proxies = parse_networks("127.0.0.1", "test")
    reply = await api.get("/v4/tickers/0", headers={"X-Forwarded-Proto": "https"})
    assert reply.code == 200
    assert reply.headers["Strict-Transport-Security"] == "max-age=31556926; includeSubDomains"


@pytest.mark.gen_test
async def test_failed_logins_count_per_forwarded_peer_behind_a_trusted_proxy(app, api):
    app.ctx.trusted_proxies = parse_networks("127.0.0.1", "test")
    for n in range(20):  # the per-address limit, whatever the usernames (A.5)
        reply = await api.post("/v4/login", {"username": f"u{n}", "password": "x"},
                               headers={"X-Forwarded-For": "203.0.113.7"})
        assert reply.code == 401
    blocked = await api.post("/v4/login", {"username": "admin", "password": "password"},
                             headers={"X-Forwarded-For": "203.0.113.7"})
    assert blocked.code == 429
    other = await api.post("/v4/login", {"username": "admin", "password": "password"},
                           headers={"X-Forwarded-For": "198.51.100.1"})
    assert other.code == 200


@pytest.mark.parametrize("socket_peer, forwarded, real_ip, expected", [
    ("127.0.0.1", None, "198.51.100.66", "127.0.0.1"),  # issue 9 item 22: X-Real-Ip is never believed
    ("127.0.0.1", "10.0.0.5", "198.51.100.66", "10.0.0.5"),  # every hop trusted: the left-most one
    ("127.0.0.1", "10.0.0.9, 10.0.0.5", None, "10.0.0.9"),
    ("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.0.0.5", None, "203.0.113.7"),  # right-most untrusted
    ("127.0.0.1", "203.0.113.7", None, "203.0.113.7"),
    ("203.0.113.9", "198.51.100.1", "198.51.100.2", "203.0.113.9"),  # not from a trusted proxy: the socket
])
def test_the_client_address_comes_from_x_forwarded_for_only(socket_peer, forwarded, real_ip, expected):
    from tornado.httputil import HTTPHeaders

    from handlers.base import resolve_peer

    headers = HTTPHeaders()
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    if real_ip is not None:
        headers["X-Real-Ip"] = real_ip
    request = types.SimpleNamespace(remote_ip=socket_peer, headers=headers)
    assert resolve_peer(request, parse_networks("127.0.0.1, 10.0.0.0/8", "test")) == expected


@pytest.mark.gen_test
async def test_x_real_ip_from_a_trusted_proxy_is_not_the_logged_peer(app, api):
    app.ctx.trusted_proxies = parse_networks("127.0.0.1", "test")
    await api.post("/v4/pnl", {"passphrase": "wrong"}, headers={"X-Real-Ip": "198.51.100.66"})
    await app.ctx.store.write(lambda: None)
    assert [row.peer for row in DeliveryLog.select()] == ["127.0.0.1"]


@pytest.mark.gen_test
async def test_cors_origins_can_be_restricted(app, api):
    app.ctx.cors_origins = {"https://trusted.example"}
    reply = await api.get("/v4/tickers/0", headers={"Origin": "https://trusted.example"})
    assert reply.headers["Access-Control-Allow-Origin"] == "https://trusted.example"
    reply = await api.get("/v4/tickers/0", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in reply.headers


# ---------------------------------------------------------------------------------------------------------------
# which error wins (§3.3): XSRF, then the HTTPS redirect, then the token, then admin, then the body


@pytest.mark.gen_test
async def test_the_xsrf_check_comes_before_token_admin_and_body(app, store, api):
    cookie = session_cookie(app, store, "user1")  # not an admin; XSRF applies because the cookie authenticates
    for method, path, raw in (("POST", "/v4/user", "not json"), ("DELETE", "/v4/user/admin", None),
                              ("POST", "/v4/ticker", "[1]"), ("PUT", "/v4/pair", "{")):
        reply = await api.call(method, path, raw=raw, headers={"Cookie": cookie})
        assert (reply.code, reply.text) == (403, CSRF), path
    app.ctx.settings.force_https = True
    reply = await api.call("POST", "/v4/user", raw="not json", headers={"Cookie": cookie})
    assert (reply.code, reply.text) == (403, CSRF)


@pytest.mark.gen_test
async def test_the_https_redirect_comes_before_the_token(app, api):
    app.ctx.settings.force_https = True
    for method, path in (("POST", "/v4/ticker"), ("GET", "/v4/users/0"), ("PUT", "/v4/ticker/pnl"),
                         ("POST", "/v4/login")):
        reply = await api.call(method, path, raw="not json")
        assert reply.code == 308, path
        assert reply.headers["Location"].startswith("https://") and reply.headers["Location"].endswith(path)
