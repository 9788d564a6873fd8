"""/v4/openapi.json describes every route the Application serves, from the handlers' own tables; /docs shows it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import tornado.web
from test_browser import Tab, launch

from handlers import api_tickers, api_users, openapi, pages, routes
from handlers.base import BaseHandler
from handlers.routes import ADMIN, PUBLIC, ROUTES, Route, RouteTable
from pairs.config import PROJECT_DIR

METHODS = ("get", "post", "put", "delete", "patch")


def concrete_paths(pattern: str) -> list[str]:
    """Every literal spelling of a route pattern: aliases ``(?:a|b)`` expanded, path parameters as ``sample``."""
    pattern = pattern.rstrip("$").replace(r"\.", ".")
    pattern = pattern.replace("([^/]+)", "sample")
    parts = re.split(r"\((?:\?:)?([\w|/.\-]+)\)", pattern)
    choices = [[p] if i % 2 == 0 else p.split("|") for i, p in enumerate(parts)]
    paths = ["".join(c) for c in itertools.product(*choices)]
    for path in paths:
        assert re.fullmatch(r"[\w/.\-]+", path), f"cannot expand the route pattern {pattern!r}; teach this test"
    return paths


def sample_path(template: str) -> str:
    return re.sub(r"{\w+}", "sample", template)


def served_methods(handler: type) -> set[str]:
    return {m for m in METHODS if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)}


def resolve(app: tornado.web.Application, path: str) -> type | None:
    """The handler class the Application routes ``path`` to (the first matching rule, as Tornado does)."""
    for rule in app.wildcard_router.rules:
        if rule.matcher.regex.match(path):
            return rule.target
    return None


def serves(app: tornado.web.Application, method: str, path: str) -> bool:
    handler = resolve(app, sample_path(path))
    return handler is not None and method in served_methods(handler)


def documented(document: dict, path: str, method: str) -> bool:
    for template, operations in document["paths"].items():
        if method in operations and re.fullmatch(re.sub(r"{\w+}", "[^/]+", template), path):
            return True
    return False


def route_problems(app: tornado.web.Application, rows: tuple[Route, ...]) -> list[str]:
    """Each URL rule's handler methods and its rows, method for method; each row's paths reach its handler."""
    problems = []
    for rule in app.wildcard_router.rules:
        if not issubclass(rule.target, BaseHandler):
            continue  # the static files
        served = served_methods(rule.target)
        by_method = {m.lower() for m in rule.target_kwargs["rows"]}
        problems += [f"{rule.target.__name__}.{m} has no row" for m in sorted(served - by_method)]
        problems += [f"a row names {m.upper()} of {rule.target.__name__}, which has no {m}"
                     for m in sorted(by_method - served)]
    for row in rows:
        for path in (row.path, *row.aliases):
            if resolve(app, sample_path(path)) is not row.handler:
                problems.append(f"{row.method} {path} is routed to another handler (put its row earlier)")
    return problems


def test_every_handler_method_has_a_row_and_every_row_a_method(app):
    assert route_problems(app, ROUTES) == []


class _Extra(BaseHandler):
    def get(self) -> None:
        self.send({})

    def patch(self) -> None:
        self.send({})


def test_the_route_check_finds_a_method_without_a_row_and_a_row_without_a_method():
    rows = (Route("GET", "/extra", _Extra, PUBLIC), Route("DELETE", "/extra", _Extra, ADMIN))
    app = tornado.web.Application(RouteTable(rows).url_rules())
    assert route_problems(app, rows) == ["_Extra.patch has no row", "a row names DELETE of _Extra, which has no delete"]
    with pytest.raises(ValueError):  # one pattern, two handlers
        RouteTable((*rows, Route("PUT", "/extra", api_tickers.TickerHandler, PUBLIC))).url_rules()
    shadowed = (Route("GET", "/{name}", _Extra, PUBLIC), Route("PUT", "/extra", api_tickers.TickerHandler, PUBLIC))
    app = tornado.web.Application(RouteTable(shadowed).url_rules())
    assert "PUT /extra is routed to another handler (put its row earlier)" in route_problems(app, shadowed)


def test_an_inherited_method_is_served_under_the_row_of_the_class_that_defines_it(app):
    rows = next(r.target_kwargs["rows"] for r in app.wildcard_router.rules if r.target.__name__ == "OrderHandler")
    assert {m: (row.path, row.access) for m, row in rows.items()} == {
        "PUT": ("/v4/signal/order", routes.PASSPHRASE), "GET": ("/v4/signal/{rowid}", PUBLIC),
        "DELETE": ("/v4/signal/{rowid}", ADMIN)}


def test_the_webhook_is_the_first_rule(app):
    first = next(r for r in app.wildcard_router.rules if issubclass(r.target, BaseHandler))
    assert first.matcher.regex.pattern == "/v4/webhook$"


def test_every_api_route_and_method_of_the_application_is_documented(app):
    document = openapi.build_document(ROUTES)
    missing = []
    for rule in app.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern
        if not pattern.lstrip("(?:").startswith(("/v4/", "/healthz")):
            continue
        for path in concrete_paths(pattern):
            for method in sorted(served_methods(rule.target)):
                if not documented(document, path, method):
                    missing.append(f"{method.upper()} {path} ({rule.target.__name__})")
    assert missing == [], "give these rows of handlers/routes.py a tag"


def test_every_documented_operation_is_served(app):
    document = openapi.build_document(ROUTES)
    for template, operations in document["paths"].items():
        for method in operations:
            assert serves(app, method, template), f"{method} {template}"
    declared = {(row.method.lower(), row.path) for row in ROUTES if row.tag}
    listed = {(m, p) for p, ops in document["paths"].items() for m in ops if not ops[m].get("deprecated")}
    assert listed <= declared


def test_legacy_aliases_are_documented_as_deprecated(app):
    paths = openapi.build_document(ROUTES)["paths"]
    assert paths["/v4/ticker/updatepnl"]["put"]["deprecated"] is True
    assert paths["/v4/regpnl"]["post"]["deprecated"] is True and paths["/v4/regpnl"]["put"]["deprecated"] is True
    assert "deprecated" not in paths["/v4/ticker/pnl"]["put"]


def test_request_bodies_come_from_the_handlers_arg_tables(app):
    paths = openapi.build_document(ROUTES)["paths"]
    ticker = paths["/v4/ticker"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert list(ticker["properties"]) == [a.name for a in api_tickers.TICKER_ARGS]
    assert ticker["required"] == ["symbol"]
    assert ticker["properties"]["symbol"] == {"type": "string", "maxLength": 40,
                                              "description": "'symbol' cannot be empty!"}
    assert ticker["properties"]["sectype"]["default"] == "STK"
    assert ticker["properties"]["active"]["type"] == "integer"
    assert ticker["properties"]["update_pnl"]["type"] == "boolean"
    login = paths["/v4/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert list(login["properties"]) == [a.name for a in api_users.LOGIN_ARGS]
    assert login["properties"]["expire"]["default"] == 10


def test_the_pages_description_covers_every_page_route_from_its_arg_tables(app):
    """The pages are HTML, so not in the API's document; the fuzz run reads their own description instead."""
    paths = {sample_path(p): ops for p, ops in openapi.build_pages_document(ROUTES)["paths"].items()}
    for rule in app.wildcard_router.rules:
        if issubclass(rule.target, pages.PageHandler):
            for path in concrete_paths(rule.matcher.regex.pattern):
                assert served_methods(rule.target) == set(paths[path]), path
    listing = paths["/list"]["get"]["parameters"]
    assert [p["name"] for p in listing] == [a.name for a in pages.LIST_ARGS]
    assert {p["in"] for p in listing} == {"query"}
    login = paths["/login"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert list(login["properties"]) == ["_xsrf", *(a.name for a in pages.LOGIN_FORM_ARGS)]
    assert login["properties"]["expire"]["type"] == "integer" and login["required"] == ["_xsrf"]
    assert set(paths["/dashboard"]["get"]["responses"]) == {"200", "302", "400", "401", "413"}
    assert not any(p.startswith("/v4/") for p in paths)
    assert not any(p in openapi.build_document(ROUTES)["paths"] for p in paths)


def test_security_schemes_and_requirements(app):
    document = openapi.build_document(ROUTES)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerJWT"] == {**schemes["bearerJWT"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["sessionCookie"]["in"] == "cookie" and schemes["sessionCookie"]["name"] == "pairs_session"
    assert schemes["xsrfToken"]["in"] == "header"
    paths = document["paths"]
    assert paths["/v4/ticker"]["post"]["security"] == [{"bearerJWT": []}, {"sessionCookie": [], "xsrfToken": []}]
    assert paths["/v4/ticker/pnl"]["put"]["security"] == [{"webhookPassphrase": []}]
    assert paths["/v4/tickers/{number_of_items}"]["get"]["security"] == []
    assert paths["/v4/pnls/{number_of_items}"]["get"]["security"][0] == {}  # optional: anonymous allowed
    assert set(paths["/v4/login"]["post"]["responses"]) == {"200", "400", "401", "413", "429"}



@pytest.mark.gen_test
async def test_documented_errors_are_the_ones_each_access_gives(api, store):
    """A wrong passphrase answers the row's own status (400 on the ticker PNL route, as the original); a GET has no
    XSRF check to fail; only a token route's 401 may be a token error."""
    paths = openapi.build_document(ROUTES)["paths"]
    pnl = paths["/v4/ticker/pnl"]["put"]["responses"]
    reply = await api.put("/v4/ticker/pnl", {"passphrase": "wrong", "symbol": "LNT"})
    assert str(reply.code) in pnl and "401" not in pnl
    assert paths["/v4/webhook"]["post"]["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Message"}
    assert "403" not in paths["/v4/screener"]["get"]["responses"]
    assert {"401", "403"} <= set(paths["/v4/screener"]["post"]["responses"])


def test_response_schemas_follow_the_json_key_order_of_the_models(app):
    schemas = openapi.build_document(ROUTES)["components"]["schemas"]
    assert list(schemas["Ticker"]["properties"]) == ["symbol", "sectype", "xch", "prixch", "currency", "order_type",
                                                     "active", "active_pos", "active_pnl", "active_cost"]
    assert schemas["Ticker"]["properties"]["symbol"] == {"type": "string"}
    assert schemas["Ticker"]["properties"]["active_pos"] == {"type": ["number", "null"]}
    assert list(schemas["Account"]["properties"])[:2] == ["rowid", "timestamp"]


def test_answers_with_the_bridges_signals_key_are_described(app):
    paths = openapi.build_document(ROUTES)["paths"]
    with_signals = {"$ref": "#/components/schemas/MessageWithSignals"}
    for path in ("/v4/signals/{number_of_items}", "/v4/signals/status/{order_status}/{number_of_items}",
                 "/v4/signals/ticker/{ticker_name}/{number_of_items}"):
        assert paths[path]["get"]["responses"]["500"]["content"]["application/json"]["schema"] == with_signals
    pnl = paths["/v4/pnl/{rowid}"]["get"]["responses"]
    assert pnl["404"]["content"]["application/json"]["schema"] == with_signals
    assert pnl["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AccountItem"}
    assert paths["/v4/pnl/{rowid}"]["delete"]["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Message"}


@pytest.mark.gen_test
async def test_openapi_json_route(api):
    reply = await api.get("/v4/openapi.json")
    assert reply.code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json["openapi"] == "3.1.0"
    assert "/v4/login" in reply.json["paths"]


@pytest.mark.gen_test
async def test_docs_page_uses_only_local_files_and_no_inline_script(api):
    reply = await api.get("/docs")
    assert reply.code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=UTF-8"
    csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'self';" in csp
    html = reply.text
    assert "http://" not in html and "https://" not in html
    assert re.findall(r"<script\b[^>]*>\s*</script>", html) == re.findall(r"<script\b[^>]*>[^<]*</script>", html)
    assert "style=" not in html and "onclick" not in html
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        served = await api.get(asset)
        assert served.code == 200, asset
    assert len(re.findall(r'(?:src|href)="(/static/docs/[^"?]+)', html)) == 2
    script = (Path(PROJECT_DIR) / "static/docs/docs.js").read_text()
    assert "innerHTML" not in script and "eval(" not in script and "http" not in script


@pytest.mark.gen_test(timeout=120)
async def test_docs_page_renders_every_operation_in_chromium(chromium, app, http_server, base_url, store):
    playwright, browser = await launch(chromium)
    try:
        tab = Tab(await browser.new_page(), base_url, f"docs-{store.db.__class__.__name__}")
        await tab.goto("/docs")
        await tab.page.wait_for_selector("section.op")
        document = openapi.build_document(ROUTES)
        operations = sum(len(methods) for methods in document["paths"].values())
        assert await tab.page.locator("section.op").count() == operations
        assert await tab.page.locator("nav#toc a").count() == operations
        login = tab.page.locator("section#post_v4_login")
        await login.locator("header").click()
        details = login.locator(".details")
        assert await details.is_visible()
        body_fields = await details.locator("table").nth(0).locator("td.mono:first-child").all_text_contents()
        assert [f.replace(" required", "") for f in body_fields] == [a.name for a in api_users.LOGIN_ARGS]
        await tab.shot("login-operation")
        assert tab.errors == []  # nothing blocked by the CSP, no failing fetch
    finally:
        await browser.close()
        await playwright.stop()
